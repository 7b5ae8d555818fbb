//go:build e2e && kube

package kubernetes

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/hugai-dev/hugai/internal/target"
)

// userVirtualService is the user's VirtualService before hugai: a docs route to another service,
// the service's own route with a timeout and retries of the user's, and a tcp route, all of which
// hugai must leave as they are (but the service route's destinations).
func userVirtualService(ns string) *unstructured.Unstructured {
	vs := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "demo", "namespace": ns},
		"spec": map[string]any{
			"hosts":    []any{"demo.example.com"},
			"gateways": []any{"mesh", "edge"},
			"http": []any{
				map[string]any{
					"name":  "docs",
					"match": []any{map[string]any{"uri": map[string]any{"prefix": "/docs"}}},
					"route": []any{map[string]any{"destination": map[string]any{"host": "docs"}}},
				},
				map[string]any{
					"name":    "primary",
					"match":   []any{map[string]any{"uri": map[string]any{"prefix": "/"}}},
					"timeout": "5s",
					"retries": map[string]any{"attempts": int64(3), "perTryTimeout": "2s"},
					"route":   []any{map[string]any{"destination": map[string]any{"host": "demo", "port": map[string]any{"number": int64(80)}}}},
				},
			},
			"tcp": []any{map[string]any{
				"match": []any{map[string]any{"port": int64(9000)}},
				"route": []any{map[string]any{"destination": map[string]any{"host": "demo-admin." + ns + ".svc.cluster.local"}}},
			}},
		},
	}}
	vs.SetGroupVersionKind(virtualServiceGVK)
	return vs
}

// The Istio router's own cases: what lands in the VirtualService route by route, the user's
// routes and fields untouched, a route named in the options, a hand edit undone, adoption.
func TestIstio(t *testing.T) {
	cl := startCluster(t)
	t.Run("ObjectsAsWritten", func(t *testing.T) { testIstioObjects(t, newWorld(t, cl, istio)) })
	t.Run("NoHeaderRoutesWithoutSecret", func(t *testing.T) {
		w := newWorld(t, cl, istio)
		w.opts.RouteSecret = ""
		testIstioNoHeaderRoutes(t, w)
	})
	t.Run("NamedRoute", func(t *testing.T) { testIstioNamedRoute(t, newWorld(t, cl, istio)) })
	t.Run("ManualEditUndone", func(t *testing.T) { testIstioManualEdit(t, newWorld(t, cl, istio)) })
	t.Run("Adopted", func(t *testing.T) { testIstioAdopted(t, newWorld(t, cl, istio)) })
}

func (w *world) virtualService(t *testing.T) *unstructured.Unstructured {
	t.Helper()
	vs := &unstructured.Unstructured{}
	vs.SetGroupVersionKind(virtualServiceGVK)
	if err := w.c.Get(context.Background(), key(w.ns, "demo"), vs); err != nil {
		t.Fatalf("virtualservice: %v", err)
	}
	return vs
}

// field reads a path of the route as JSON, for comparisons that name what they expect.
func field(t *testing.T, obj any, path ...string) string {
	t.Helper()
	v := obj
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return "<none>"
		}
		v = m[p]
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func httpOf(t *testing.T, vs *unstructured.Unstructured) []map[string]any {
	t.Helper()
	rs, err := httpRoutes(vs)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func testIstioObjects(t *testing.T, w *world) {
	ctx := context.Background()
	before := w.virtualService(t)
	tg := w.target(t)
	deploy(t, tg, "v1.0.0", 2)
	deploy(t, tg, "v1.1.0", 1)
	routeTo(t, tg, target.Routing{Weights: map[string]int{"v1.0.0": 80, "v1.1.0": 20}, Stable: "v1.0.0", Canary: "v1.1.0"})

	vs := w.virtualService(t)
	for _, f := range [][]string{{"spec", "hosts"}, {"spec", "gateways"}, {"spec", "tcp"}} {
		if a, b := field(t, before.Object, f...), field(t, vs.Object, f...); a != b {
			t.Fatalf("the user's %v changed: %s -> %s", f, a, b)
		}
	}
	svc1, svc2 := tg.serviceName("v1.0.0"), tg.serviceName("v1.1.0")
	rs := httpOf(t, vs)
	names := []string{}
	for _, r := range rs {
		names = append(names, routeName(r))
	}
	// Istio takes the first route that matches: the header routes come before the weighted one.
	if want := []string{"docs", "hugai-stable", "hugai-canary", "primary"}; !slices.Equal(names, want) {
		t.Fatalf("http routes %v, want %v", names, want)
	}
	if a, b := field(t, httpOf(t, before)[0]), field(t, rs[0]); a != b {
		t.Fatalf("the user's docs route changed: %s -> %s", a, b)
	}
	primary := rs[3]
	if got, want := field(t, primary, "route"), `[{"destination":{"host":"`+svc1+`","port":{"number":80}},"weight":80},{"destination":{"host":"`+svc2+`","port":{"number":80}},"weight":20}]`; got != want {
		t.Fatalf("primary route destinations\n got %s\nwant %s", got, want)
	}
	for _, f := range []string{"match", "timeout", "retries"} {
		if a, b := field(t, httpOf(t, before)[1], f), field(t, primary, f); a != b {
			t.Fatalf("the user's %s of the primary route changed: %s -> %s", f, a, b)
		}
	}
	for i, want := range map[int]struct{ value, svc string }{1: {"stable", svc1}, 2: {"canary", svc2}} {
		r := rs[i]
		wantMatch := `[{"headers":{"x-hugai-route":{"exact":"` + want.value + `"},"x-hugai-route-secret":{"exact":"let-me-in"}},"uri":{"prefix":"/"}}]`
		if got := field(t, r, "match"); got != wantMatch {
			t.Fatalf("route %d match\n got %s\nwant %s (the primary route's, with the header and the secret)", i, got, wantMatch)
		}
		if got := field(t, r, "headers", "request", "remove"); got != `["x-hugai-route","x-hugai-route-secret"]` {
			t.Fatalf("route %d removes %s, want both headers removed before the version", i, got)
		}
		if ds := destinations(r); len(ds) != 1 || ds[0].host != want.svc {
			t.Fatalf("route %d destinations %+v, want %s alone", i, ds, want.svc)
		}
	}
	got, err := tg.Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (target.Routing{Weights: map[string]int{"v1.0.0": 80, "v1.1.0": 20}, Stable: "v1.0.0", Canary: "v1.1.0"}); !reflect.DeepEqual(got.Weights, want.Weights) || got.Stable != want.Stable || got.Canary != want.Canary {
		t.Fatalf("routes read back = %+v, want %+v", got, want)
	}

	// Promoted: the canary's header route goes, the stable one follows the new stable.
	routeTo(t, tg, target.Routing{Weights: map[string]int{"v1.1.0": 100}, Stable: "v1.1.0"})
	rs = httpOf(t, w.virtualService(t))
	if len(rs) != 3 || routeName(rs[1]) != "hugai-stable" || destinations(rs[1])[0].host != svc2 {
		t.Fatalf("after promotion routes = %v, want docs, hugai-stable to %s, primary", rs, svc2)
	}
	if ds := destinations(rs[2]); len(ds) != 1 || ds[0].host != svc2 || ds[0].weight != 100 {
		t.Fatalf("after promotion primary destinations = %+v, want %s at 100", ds, svc2)
	}
}

// testIstioNoHeaderRoutes: with no secret, nobody picks a version by header.
func testIstioNoHeaderRoutes(t *testing.T, w *world) {
	tg := w.target(t)
	deploy(t, tg, "a", 1)
	deploy(t, tg, "b", 1)
	routeTo(t, tg, target.Routing{Weights: map[string]int{"a": 90, "b": 10}, Stable: "a", Canary: "b"})
	rs := httpOf(t, w.virtualService(t))
	if len(rs) != 2 || routeName(rs[0]) != "docs" || routeName(rs[1]) != "primary" {
		t.Fatalf("http routes = %v, want only the user's two", rs)
	}
	r, err := tg.Routes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Stable != "" || r.Canary != "" || r.Weights["b"] != 10 || r.Weights["a"] != 90 {
		t.Fatalf("routes = %+v, want weights only", r)
	}
}

// testIstioNamedRoute: with routes named in the options, only those are driven, even when
// another route sends to the same Service (here the user's /internal route, kept on the user's
// Service), and a name that is not there is an error naming it.
func testIstioNamedRoute(t *testing.T, w *world) {
	ctx := context.Background()
	vs := w.virtualService(t)
	rs := httpOf(t, vs)
	internal := map[string]any{
		"name":  "internal",
		"match": []any{map[string]any{"uri": map[string]any{"prefix": "/internal"}}},
		"route": []any{map[string]any{"destination": map[string]any{"host": "demo." + w.ns + ".svc.cluster.local"}}},
	}
	all := []any{rs[0], internal, rs[1]}
	if err := unstructured.SetNestedSlice(vs.Object, all, "spec", "http"); err != nil {
		t.Fatal(err)
	}
	if err := w.c.Update(ctx, vs); err != nil {
		t.Fatal(err)
	}
	w.opts.VirtualServiceRoutes = []string{"primary"}
	tg := w.target(t)
	deploy(t, tg, "a", 1)
	deploy(t, tg, "b", 1)
	routeTo(t, tg, target.Routing{Weights: map[string]int{"a": 50, "b": 50}, Stable: "a"})
	rs = httpOf(t, w.virtualService(t))
	names := []string{}
	for _, r := range rs {
		names = append(names, routeName(r))
	}
	if want := []string{"docs", "internal", "hugai-stable", "primary"}; !slices.Equal(names, want) {
		t.Fatalf("http routes %v, want %v", names, want)
	}
	if got := field(t, rs[1], "route"); got != field(t, internal, "route") {
		t.Fatalf("the unnamed route was driven: %s", got)
	}
	if ds := destinations(rs[3]); len(ds) != 2 || ds[0].weight != 50 || ds[1].weight != 50 {
		t.Fatalf("primary destinations = %+v, want a and b at 50", ds)
	}

	w.opts.VirtualServiceRoutes = []string{"nope"}
	err := w.target(t).Route(ctx, target.Routing{Weights: map[string]int{"a": 100}})
	if err == nil || !strings.Contains(err.Error(), "no http route named nope") {
		t.Fatalf("route with a missing route name: %v, want an error naming it", err)
	}
}

// testIstioManualEdit: someone edits the VirtualService's weights by hand mid-rollout. Status
// reports them as the VirtualService holds them, so the engine sees the drift; routing again
// restores them.
func testIstioManualEdit(t *testing.T, w *world) {
	ctx := context.Background()
	tg := w.target(t)
	deploy(t, tg, "a", 1)
	deploy(t, tg, "b", 1)
	want := target.Routing{Weights: map[string]int{"a": 75, "b": 25}, Stable: "a", Canary: "b"}
	routeTo(t, tg, want)
	vs := w.virtualService(t)
	rs := httpOf(t, vs)
	primary := rs[len(rs)-1]
	for _, d := range primary["route"].([]any) {
		dm := d.(map[string]any)
		host := dm["destination"].(map[string]any)["host"].(string)
		dm["weight"] = map[string]int64{tg.serviceName("a"): 0, tg.serviceName("b"): 100}[host]
	}
	out := make([]any, len(rs))
	for i := range rs {
		out[i] = rs[i]
	}
	if err := unstructured.SetNestedSlice(vs.Object, out, "spec", "http"); err != nil {
		t.Fatal(err)
	}
	if err := w.c.Update(ctx, vs); err != nil {
		t.Fatal(err)
	}
	st, err := tg.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Routing.Weights["b"] != 100 || st.Revisions["b"].Weight != 100 || st.Revisions["a"].Weight != 0 {
		t.Fatalf("after the edit status says %v / %+v, want b at 100 as the VirtualService has it", st.Routing.Weights, st.Revisions)
	}
	routeTo(t, tg, want)
	if st, _ = tg.Status(ctx); st.Revisions["a"].Weight != 75 || st.Revisions["b"].Weight != 25 {
		t.Fatalf("after routing again: %+v", st.Revisions)
	}
}

// testIstioAdopted: a new Target (hugai restarted) reads the weights and header routes from the
// VirtualService and drives it on without duplicating hugai's routes or losing the user's.
func testIstioAdopted(t *testing.T, w *world) {
	ctx := context.Background()
	old := w.target(t)
	deploy(t, old, "a", 1)
	deploy(t, old, "b", 1)
	routeTo(t, old, target.Routing{Weights: map[string]int{"a": 95, "b": 5}, Stable: "a", Canary: "b"})

	tg := w.target(t)
	st, err := tg.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Revisions["a"].Weight != 95 || st.Revisions["b"].Weight != 5 || st.Routing.Stable != "a" || st.Routing.Canary != "b" {
		t.Fatalf("adopted status = %+v / %+v, want a 95, b 5, stable a, canary b", st.Revisions, st.Routing)
	}
	routeTo(t, tg, target.Routing{Weights: map[string]int{"a": 50, "b": 50}, Stable: "a", Canary: "b"})
	rs := httpOf(t, w.virtualService(t))
	names := []string{}
	for _, r := range rs {
		names = append(names, routeName(r))
	}
	if want := []string{"docs", "hugai-stable", "hugai-canary", "primary"}; !slices.Equal(names, want) {
		t.Fatalf("http routes after adoption %v, want %v", names, want)
	}
	r, err := tg.Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Weights["a"] != 50 || r.Weights["b"] != 50 {
		t.Fatalf("routes after adoption = %+v", r)
	}
}
