//go:build e2e && kube

package kubernetes

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/hugai-dev/hugai/internal/eventually"
	"github.com/hugai-dev/hugai/internal/target"
)

// The cases the conformance suite cannot state for every target: what lands in the cluster
// object by object, replica ratio, the scale-down delay. One API server for all.
func TestKubernetes(t *testing.T) {
	cl := startCluster(t)
	t.Run("ObjectsAsWritten", func(t *testing.T) { testObjectsAsWritten(t, newWorld(t, cl, httpRoute)) })
	t.Run("NoHeaderRulesWithoutSecret", func(t *testing.T) {
		w := newWorld(t, cl, httpRoute)
		w.opts.RouteSecret = ""
		testNoHeaderRules(t, w)
	})
	t.Run("ManualEditUndone", func(t *testing.T) { testManualEdit(t, newWorld(t, cl, httpRoute)) })
	t.Run("ReplicaRatio", func(t *testing.T) { testReplicaRatio(t, newWorld(t, cl, noRouter)) })
	t.Run("ScaleDownDelay", func(t *testing.T) { testScaleDownDelay(t, newWorld(t, cl, httpRoute)) })
}

func waitReady(t *testing.T, tg *Target, v string, n int) {
	t.Helper()
	eventually.True(t, 15*time.Second, v+" ready", func() bool {
		st, err := tg.Status(context.Background())
		return err == nil && st.Revisions[v].Ready == n
	})
}

func deploy(t *testing.T, tg *Target, v string, n int) {
	t.Helper()
	if err := tg.Deploy(context.Background(), target.Revision{Version: v}, n); err != nil {
		t.Fatalf("deploy %s x%d: %v", v, n, err)
	}
}

func routeTo(t *testing.T, tg *Target, r target.Routing) {
	t.Helper()
	if err := tg.Route(context.Background(), r); err != nil {
		t.Fatalf("route %+v: %v", r, err)
	}
}

// testObjectsAsWritten reads back, with no help from the target, what it wrote: the candidate
// Deployment made from the template, the HTTPRoute's backends and header rules (the user's own
// rule untouched), the per-version Services, and the user's Deployment never written.
func testObjectsAsWritten(t *testing.T, w *world) {
	ctx := context.Background()
	var user appsv1.Deployment
	if err := w.c.Get(ctx, key(w.ns, "demo"), &user); err != nil {
		t.Fatal(err)
	}
	tg := w.target(t)
	deploy(t, tg, "v1.0.0", 2)
	deploy(t, tg, "v1.1.0", 1)
	routeTo(t, tg, target.Routing{Weights: map[string]int{"v1.0.0": 80, "v1.1.0": 20}, Stable: "v1.0.0", Canary: "v1.1.0"})

	var d appsv1.Deployment
	if err := w.c.Get(ctx, key(w.ns, tg.deploymentName("v1.1.0")), &d); err != nil {
		t.Fatalf("candidate deployment: %v", err)
	}
	c := d.Spec.Template.Spec.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if c.Image != "registry.example/demo:v1.1.0" || env["APP_VERSION"] != "v1.1.0" || env["LOG_LEVEL"] != "info" {
		t.Fatalf("candidate container = image %s env %v, want the version's image, APP_VERSION and the template's LOG_LEVEL", c.Image, env)
	}
	rev := d.Labels[LabelRevision]
	if d.Labels[LabelManagedBy] != "hugai" || d.Labels[LabelService] != "demo" || rev == "" || d.Annotations[AnnotationVersion] != "v1.1.0" ||
		d.Spec.Selector.MatchLabels["app"] != "demo" || d.Spec.Selector.MatchLabels[LabelRevision] != rev || d.Spec.Template.Labels[LabelRevision] != rev {
		t.Fatalf("candidate labels %v, annotations %v, selector %v: want hugai's labels and the revision in selector and pods", d.Labels, d.Annotations, d.Spec.Selector.MatchLabels)
	}
	var after appsv1.Deployment
	if err := w.c.Get(ctx, key(w.ns, "demo"), &after); err != nil {
		t.Fatal(err)
	}
	// Its status is the (fake) controller's to write; its spec and metadata are the user's.
	if after.Generation != user.Generation || !maps.Equal(after.Labels, user.Labels) || !maps.Equal(after.Annotations, user.Annotations) {
		t.Fatalf("the user's Deployment was written: generation %d -> %d, labels %v -> %v, annotations %v -> %v",
			user.Generation, after.Generation, user.Labels, after.Labels, user.Annotations, after.Annotations)
	}

	var hr gatewayv1.HTTPRoute
	if err := w.c.Get(ctx, key(w.ns, "demo"), &hr); err != nil {
		t.Fatal(err)
	}
	names := func(r gatewayv1.HTTPRouteRule) map[string]int32 {
		m := map[string]int32{}
		for _, b := range r.BackendRefs {
			m[string(b.Name)] = *b.Weight
		}
		return m
	}
	svc1, svc2 := tg.serviceName("v1.0.0"), tg.serviceName("v1.1.0")
	rules := hr.Spec.Rules
	if len(rules) != 4 {
		t.Fatalf("httproute rules = %d (%+v), want docs, the service's, hugai-stable and hugai-canary", len(rules), rules)
	}
	if *rules[0].Name != "docs" || string(rules[0].BackendRefs[0].Name) != "docs" {
		t.Fatalf("the user's docs rule changed: %+v", rules[0])
	}
	if got := names(rules[1]); len(got) != 2 || got[svc1] != 80 || got[svc2] != 20 || *rules[1].Matches[0].Path.Value != "/" {
		t.Fatalf("the service's rule = %+v (backends %v), want %s 80 and %s 20 on /", rules[1], got, svc1, svc2)
	}
	for i, want := range map[int]struct{ name, value, svc string }{2: {"hugai-stable", "stable", svc1}, 3: {"hugai-canary", "canary", svc2}} {
		r := rules[i]
		h := r.Matches[0].Headers
		if string(*r.Name) != want.name || len(h) != 2 || h[0].Name != RouteHeader || h[0].Value != want.value ||
			h[1].Name != RouteSecretHeader || h[1].Value != "let-me-in" || string(r.BackendRefs[0].Name) != want.svc || *r.Matches[0].Path.Value != "/" {
			t.Fatalf("rule %d = %+v, want %s: %s: %s and the secret on / to %s", i, r, want.name, RouteHeader, want.value, want.svc)
		}
		if f := r.Filters; len(f) != 1 || f[0].RequestHeaderModifier == nil || !slices.Equal(f[0].RequestHeaderModifier.Remove, []string{RouteHeader, RouteSecretHeader}) {
			t.Fatalf("rule %d filters = %+v, want both headers removed before the version", i, f)
		}
	}
	var s corev1.Service
	if err := w.c.Get(ctx, key(w.ns, svc2), &s); err != nil {
		t.Fatalf("per-version service: %v", err)
	}
	if s.Spec.Selector[LabelRevision] != rev || s.Spec.Selector["app"] != "demo" || s.Spec.Ports[0].Port != 80 || s.Spec.Ports[0].TargetPort.IntValue() != 8080 {
		t.Fatalf("service %s = selector %v ports %+v, want the revision's pods on the user's ports", svc2, s.Spec.Selector, s.Spec.Ports)
	}

	// A version string no label can hold still gets valid names, and exactly its version back.
	odd := "1.2.0+build.7/EXP"
	deploy(t, tg, odd, 1)
	waitReady(t, tg, odd, 1)
	st, err := tg.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Revisions[odd]; !ok {
		t.Fatalf("status lacks %q: %v", odd, st.Revisions)
	}
}

// testManualEdit: someone edits the HTTPRoute by hand mid-rollout. Status reports the weights
// as the router holds them, so the engine sees the drift; routing again restores them.
func testManualEdit(t *testing.T, w *world) {
	ctx := context.Background()
	tg := w.target(t)
	deploy(t, tg, "a", 1)
	deploy(t, tg, "b", 1)
	want := target.Routing{Weights: map[string]int{"a": 75, "b": 25}, Stable: "a", Canary: "b"}
	routeTo(t, tg, want)
	var hr gatewayv1.HTTPRoute
	if err := w.c.Get(ctx, key(w.ns, "demo"), &hr); err != nil {
		t.Fatal(err)
	}
	for i, b := range hr.Spec.Rules[1].BackendRefs {
		hr.Spec.Rules[1].BackendRefs[i].Weight = ptr(int32(map[string]int32{tg.serviceName("a"): 0, tg.serviceName("b"): 100}[string(b.Name)]))
	}
	if err := w.c.Update(ctx, &hr); err != nil {
		t.Fatal(err)
	}
	st, err := tg.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Routing.Weights["b"] != 100 || st.Revisions["b"].Weight != 100 {
		t.Fatalf("after the edit status says %v / %+v, want b at 100 as the HTTPRoute has it", st.Routing.Weights, st.Revisions["b"])
	}
	routeTo(t, tg, want)
	if st, _ = tg.Status(ctx); st.Revisions["a"].Weight != 75 || st.Revisions["b"].Weight != 25 {
		t.Fatalf("after routing again: %+v", st.Revisions)
	}
}

// testReplicaRatio: with no router, weights become replica counts, and the weight reported is
// the real share of ready pods, not the one asked for.
func testReplicaRatio(t *testing.T, w *world) {
	ctx := context.Background()
	tg := w.target(t)
	deploy(t, tg, "stable", 4)
	routeTo(t, tg, target.Routing{Weights: map[string]int{"stable": 100}, Stable: "stable"})
	deploy(t, tg, "canary", 4)
	replicas := func(v string) int32 {
		var d appsv1.Deployment
		if err := w.c.Get(ctx, key(w.ns, tg.deploymentName(v)), &d); err != nil {
			t.Fatal(err)
		}
		return *d.Spec.Replicas
	}
	for _, c := range []struct {
		canary       int
		wantS, wantC int32
		shareC       int
	}{
		{5, 4, 1, 20},
		{25, 3, 1, 25},
		{50, 2, 2, 50},
		{100, 0, 4, 100}, // promoted past: the stable's pods would still take a share

	} {
		r := target.Routing{Weights: map[string]int{"stable": 100 - c.canary, "canary": c.canary}, Stable: "stable", Canary: "canary"}
		if c.canary == 100 {
			r.Weights = map[string]int{"stable": 0, "canary": 100}
		}
		routeTo(t, tg, r)
		if s, cn := replicas("stable"), replicas("canary"); s != c.wantS || cn != c.wantC {
			t.Fatalf("at %d%%: replicas stable %d canary %d, want %d and %d", c.canary, s, cn, c.wantS, c.wantC)
		}
		var st target.Status
		eventually.True(t, 15*time.Second, "shares settle", func() bool {
			var err error
			st, err = tg.Status(ctx)
			return err == nil && st.Revisions["canary"].Weight == c.shareC && st.Revisions["canary"].Running == int(c.wantC) && st.Revisions["stable"].Running == int(c.wantS)
		})
		// A version whose whole share of pods is ready is reported ready at full size: the
		// engine asks a canary to be ready before the step that gives it the rest.
		if st.Revisions["canary"].Ready != 4 || (c.wantS > 0 && st.Revisions["stable"].Ready != 4) {
			t.Fatalf("at %d%%: ready canary %d stable %d, want 4 each (their shares all ready)", c.canary, st.Revisions["canary"].Ready, st.Revisions["stable"].Ready)
		}
		if st.Revisions["canary"].Weight != c.shareC || st.Revisions["canary"].Desired != 4 || (c.canary < 100 && st.Revisions["stable"].Desired != 4) {
			t.Fatalf("at %d%%: status %+v, want the canary's real share %d%% and 4 desired each", c.canary, st.Revisions, c.shareC)
		}
		if st.Routing.Weights["canary"] != c.canary {
			t.Fatalf("at %d%%: status routing %v, want the weights asked for (the engine compares them)", c.canary, st.Routing.Weights)
		}
	}
	if err := tg.Remove(ctx, target.Revision{Version: "stable"}); err != nil {
		t.Fatal(err)
	}
	if replicas("canary") != 4 {
		t.Fatalf("canary at 100%% runs %d replicas, want 4", replicas("canary"))
	}
}

// testScaleDownDelay: a removed version leaves the routes and the status at once, keeps running
// for the delay (a rollback in that time takes it back warm), and goes after it.
func testScaleDownDelay(t *testing.T, w *world) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	w.opts.ScaleDownDelay = 30 * time.Second
	w.opts.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	tg := w.target(t)
	deploy(t, tg, "old", 2)
	deploy(t, tg, "new", 2)
	waitReady(t, tg, "old", 2)
	routeTo(t, tg, target.Routing{Weights: map[string]int{"old": 0, "new": 100}, Stable: "new"})
	exists := func(v string) bool {
		var d appsv1.Deployment
		err := w.c.Get(ctx, key(w.ns, tg.deploymentName(v)), &d)
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil && *d.Spec.Replicas == 2
	}
	remove := func() {
		if err := tg.Remove(ctx, target.Revision{Version: "old"}); err != nil {
			t.Fatal(err)
		}
	}
	remove()
	st, err := tg.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.Revisions["old"]; ok || !exists("old") {
		t.Fatalf("right after remove: status %v, deployment kept %v; want out of status, still running", st.Revisions, exists("old"))
	}
	if r, _ := tg.Routes(ctx); r.Weights["old"] != 0 || slices.Contains([]string{r.Stable, r.Canary, r.Preview}, "old") {
		t.Fatalf("removed version still a backend: %+v", r)
	}
	// A rollback within the delay takes it back as it is.
	advance(10 * time.Second)
	deploy(t, tg, "old", 2)
	if st, _ := tg.Status(ctx); st.Revisions["old"].Ready != 2 {
		t.Fatalf("taken back within the delay: %+v, want its 2 ready pods at once", st.Revisions["old"])
	}
	remove()
	advance(29 * time.Second)
	if _, _ = tg.Status(ctx); !exists("old") {
		t.Fatal("deleted before its delay (counted from the second remove) passed")
	}
	advance(2 * time.Second)
	if _, err := tg.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if exists("old") {
		t.Fatal("still there after the delay")
	}
	var s corev1.Service
	if err := w.c.Get(ctx, key(w.ns, tg.serviceName("old")), &s); !apierrors.IsNotFound(err) {
		t.Fatalf("its service after the delay: %v, want not found", err)
	}
}

func key(ns, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: ns, Name: name}
}

// testNoHeaderRules: with no secret, nobody picks a version by header: hugai writes no header
// rule (and takes away those a secret once had).
func testNoHeaderRules(t *testing.T, w *world) {
	ctx := context.Background()
	tg := w.target(t)
	deploy(t, tg, "a", 1)
	deploy(t, tg, "b", 1)
	routeTo(t, tg, target.Routing{Weights: map[string]int{"a": 90, "b": 10}, Stable: "a", Canary: "b", Preview: "b"})
	var hr gatewayv1.HTTPRoute
	if err := w.c.Get(ctx, key(w.ns, "demo"), &hr); err != nil {
		t.Fatal(err)
	}
	if len(hr.Spec.Rules) != 2 {
		t.Fatalf("httproute rules = %+v, want only the user's two (no header rule without a secret)", hr.Spec.Rules)
	}
	r, err := tg.Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Stable != "" || r.Canary != "" || r.Weights["b"] != 10 || r.Preview != "b" {
		t.Fatalf("routes = %+v, want weights only, and the preview Service (reached in the cluster, not by header)", r)
	}
}
