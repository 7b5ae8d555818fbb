package targettest

// The world-state half: what a target does to where versions run and to the router, read back
// through Status and through Instance.Routes (the router's own copy), with no request sent.

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/target"
)

// nonZero is w without its zero weights: a version the router names with weight 0 and one it
// does not name at all receive the same traffic.
func nonZero(w map[string]int) map[string]int {
	out := map[string]int{}
	for v, x := range w {
		if x != 0 {
			out[v] = x
		}
	}
	return out
}

// waitRoutes waits until the router holds routes for which cond is true.
func waitRoutes(t *testing.T, h Harness, in Instance, what string, cond func(target.Routing) bool) target.Routing {
	t.Helper()
	var last target.Routing
	waitFor(t, h, "the router to hold "+what, func() (bool, string) {
		r, err := in.Routes(context.Background())
		if err != nil {
			return false, err.Error()
		}
		last = r
		return cond(r), fmt.Sprintf("%+v", r)
	})
	return last
}

// waitWeights waits until the router splits traffic as want (zero weights aside).
func waitWeights(t *testing.T, h Harness, in Instance, want map[string]int) target.Routing {
	t.Helper()
	return waitRoutes(t, h, in, fmt.Sprintf("weights %v", want), func(r target.Routing) bool {
		return maps.Equal(nonZero(r.Weights), nonZero(want))
	})
}

// checkWeights checks the weight Status reports for each version of want.
func checkWeights(t *testing.T, in Instance, want map[string]int) {
	t.Helper()
	st := status(t, in)
	for v, w := range want {
		if got := st.Revisions[v].Weight; got != w {
			t.Fatalf("status weight of %s = %d, want %d (status %+v)", v, got, w, st.Revisions)
		}
	}
}

func stateRouteAll(t *testing.T, h Harness, in Instance) {
	g1 := h.Good(1)
	deployReady(t, h, in, g1, 2)
	route(t, h, in, target.Routing{Weights: map[string]int{g1.Version: 100}, Stable: g1.Version})
	r := waitWeights(t, h, in, map[string]int{g1.Version: 100})
	if r.Stable != g1.Version {
		t.Fatalf("router's stable route reaches %q, want %s", r.Stable, g1.Version)
	}
	st := status(t, in)
	if rs := st.Revisions[g1.Version]; rs.Weight != 100 || rs.Ready != 2 || rs.Desired != 2 {
		t.Fatalf("status of %s = %+v, want weight 100, 2 desired and ready", g1.Version, rs)
	}
	if st.Routing.Stable != g1.Version {
		t.Fatalf("status routing = %+v, want stable %s", st.Routing, g1.Version)
	}
}

// stateWeights moves a canary's weight as a canary rollout does, then back to nothing.
func stateWeights(t *testing.T, h Harness, in Instance) {
	g1, g2 := h.Good(1), h.Good(2)
	deployReady(t, h, in, g1, 1)
	deployReady(t, h, in, g2, 1)
	for _, cw := range []int{0, 20, 50, 100, 0} {
		w := map[string]int{g1.Version: 100 - cw, g2.Version: cw}
		route(t, h, in, target.Routing{Weights: w, Stable: g1.Version, Canary: g2.Version})
		r := waitWeights(t, h, in, w)
		if r.Stable != g1.Version || r.Canary != g2.Version {
			t.Fatalf("at %d%% the router's stable and canary routes reach %q and %q, want %s and %s", cw, r.Stable, r.Canary, g1.Version, g2.Version)
		}
		checkWeights(t, in, w)
	}
}

func stateDeployIdempotent(t *testing.T, h Harness, in Instance) {
	g1 := h.Good(1)
	deployReady(t, h, in, g1, 2)
	route(t, h, in, target.Routing{Weights: map[string]int{g1.Version: 100}, Stable: g1.Version})
	for range 3 {
		if err := in.Target.Deploy(ctxFor(t, h), g1, 2); err != nil {
			t.Fatalf("deploy again: %v", err)
		}
	}
	st := status(t, in)
	rs := st.Revisions[g1.Version]
	if rs.Desired != 2 || rs.Running != 2 || rs.Ready != 2 || rs.Restarts != 0 || len(st.Revisions) != 1 {
		t.Fatalf("after deploying 4 times: %+v (all: %v), want 2 running and ready, no restarts", rs, st.Revisions)
	}
	waitWeights(t, h, in, map[string]int{g1.Version: 100})
}

func stateRemove(t *testing.T, h Harness, in Instance) {
	g1, g2 := h.Good(1), h.Good(2)
	deployReady(t, h, in, g1, 1)
	deployReady(t, h, in, g2, 1)
	route(t, h, in, target.Routing{Weights: map[string]int{g1.Version: 100}, Stable: g1.Version})
	if err := in.Target.Remove(ctxFor(t, h), g1); err == nil {
		t.Fatalf("remove of %s with 100%% of traffic succeeded, want an error", g1.Version)
	}
	if rs := status(t, in).Revisions[g1.Version]; rs.Ready != 1 {
		t.Fatalf("a refused remove changed %s: %+v", g1.Version, rs)
	}
	route(t, h, in, target.Routing{Weights: map[string]int{g2.Version: 100}, Stable: g2.Version})
	for i := range 2 { // the second time: idempotent
		if err := in.Target.Remove(ctxFor(t, h), g1); err != nil {
			t.Fatalf("remove %d after routing away: %v", i+1, err)
		}
	}
	st := status(t, in)
	if rs, ok := st.Revisions[g1.Version]; ok {
		t.Fatalf("%s still in status after remove: %+v", g1.Version, rs)
	}
	if rs := st.Revisions[g2.Version]; rs.Ready != 1 || rs.Weight != 100 {
		t.Fatalf("status of %s after removing %s = %+v, want 1 ready, weight 100", g2.Version, g1.Version, rs)
	}
	r := waitWeights(t, h, in, map[string]int{g2.Version: 100})
	if _, named := r.Weights[g1.Version]; named || r.Stable == g1.Version || r.Canary == g1.Version || r.Preview == g1.Version {
		t.Fatalf("the router still names removed %s: %+v", g1.Version, r)
	}
}

func stateNeverReady(t *testing.T, h Harness, in Instance) {
	g1, bad := h.Good(1), h.NeverReady()
	deployReady(t, h, in, g1, 1)
	if err := in.Target.Deploy(ctxFor(t, h), bad, 1); err != nil {
		t.Fatalf("deploy %s: %v", bad.Version, err)
	}
	route(t, h, in, target.Routing{Weights: map[string]int{g1.Version: 100}, Stable: g1.Version, Canary: bad.Version})
	waitRevision(t, h, in, bad.Version, "running", func(rs target.RevisionStatus) bool { return rs.Running == 1 })
	// Running, and for a while it stays not ready (the probe keeps failing).
	time.Sleep(time.Second)
	if rs := status(t, in).Revisions[bad.Version]; rs.Ready != 0 || rs.Running != 1 || rs.Desired != 1 || rs.StartFailed != "" {
		t.Fatalf("status of %s = %+v, want desired and running 1, ready 0, started", bad.Version, rs)
	}
}

func testCrashLoop(t *testing.T, h Harness, in Instance) {
	bad := h.CrashLoop()
	if err := in.Target.Deploy(ctxFor(t, h), bad, 1); err != nil {
		t.Fatalf("deploy %s: %v", bad.Version, err)
	}
	waitRevision(t, h, in, bad.Version, "crash-looping with 3 restarts", func(rs target.RevisionStatus) bool {
		return rs.CrashLooping && rs.Restarts >= 3
	})
}

// testMissing: a version that cannot start at all. A target that can tell at once (a command
// that is not there) refuses the Deploy; one that learns it from the world (an image the node
// cannot pull) accepts it. Either way Status says why it does not start, and nothing runs.
func testMissing(t *testing.T, h Harness, in Instance) {
	m := h.Missing()
	err := in.Target.Deploy(ctxFor(t, h), m, 2)
	rs := waitRevision(t, h, in, m.Version, "reported as unable to start", func(rs target.RevisionStatus) bool { return rs.StartFailed != "" })
	if rs.Running != 0 || rs.Ready != 0 {
		t.Fatalf("status of %s = %+v, want nothing running", m.Version, rs)
	}
	t.Logf("deploy of %s: %v; status: %s", m.Version, err, rs.StartFailed)
}

func stateScale(t *testing.T, h Harness, in Instance) {
	g1 := h.Good(1)
	deployReady(t, h, in, g1, 1)
	route(t, h, in, target.Routing{Weights: map[string]int{g1.Version: 100}, Stable: g1.Version})
	deployReady(t, h, in, g1, 3)
	deployReady(t, h, in, g1, 1)
	if rs := status(t, in).Revisions[g1.Version]; rs.Weight != 100 || rs.Restarts != 0 {
		t.Fatalf("status of %s after scaling up and down = %+v, want weight 100, no restarts", g1.Version, rs)
	}
}

// statePreview is blue-green: green beside blue with no user traffic, reached by the preview
// route, then the switch.
func statePreview(t *testing.T, h Harness, in Instance) {
	blue, green := h.Good(1), h.Good(2)
	deployReady(t, h, in, blue, 1)
	deployReady(t, h, in, green, 1)
	route(t, h, in, target.Routing{
		Weights: map[string]int{blue.Version: 100, green.Version: 0},
		Stable:  blue.Version, Preview: green.Version,
	})
	r := waitWeights(t, h, in, map[string]int{blue.Version: 100})
	if r.Preview != green.Version || r.Stable != blue.Version {
		t.Fatalf("router's preview and stable routes reach %q and %q, want %s and %s", r.Preview, r.Stable, green.Version, blue.Version)
	}
	st := status(t, in)
	if rs := st.Revisions[green.Version]; rs.Ready != 1 || rs.Desired != 1 || rs.Weight != 0 {
		t.Fatalf("status of green %s = %+v, want 1 desired and ready, weight 0", green.Version, rs)
	}
	if st.Routing.Preview != green.Version || st.Routing.Stable != blue.Version {
		t.Fatalf("status routing = %+v, want stable %s and preview %s", st.Routing, blue.Version, green.Version)
	}

	route(t, h, in, target.Routing{Weights: map[string]int{green.Version: 100, blue.Version: 0}, Stable: green.Version})
	r = waitWeights(t, h, in, map[string]int{green.Version: 100})
	if r.Preview != "" || r.Stable != green.Version {
		t.Fatalf("after the switch the router's preview and stable routes reach %q and %q, want none and %s", r.Preview, r.Stable, green.Version)
	}
	checkWeights(t, in, map[string]int{green.Version: 100, blue.Version: 0})
}

// statePartialReplicas is a rolling update: replicas and weights move from one version to the
// other batch by batch, and the old version ends at no replica and is removed.
func statePartialReplicas(t *testing.T, h Harness, in Instance) {
	a, b := h.Good(1), h.Good(2)
	deployReady(t, h, in, a, 3)
	deployReady(t, h, in, b, 1)
	w := map[string]int{a.Version: 75, b.Version: 25}
	route(t, h, in, target.Routing{Weights: w, Stable: a.Version, Canary: b.Version})
	waitWeights(t, h, in, w)
	checkWeights(t, in, w)

	deployReady(t, h, in, b, 3)
	deployReady(t, h, in, a, 1)
	w = map[string]int{a.Version: 25, b.Version: 75}
	route(t, h, in, target.Routing{Weights: w, Stable: a.Version, Canary: b.Version})
	waitWeights(t, h, in, w)
	checkWeights(t, in, w)

	w = map[string]int{a.Version: 0, b.Version: 100}
	route(t, h, in, target.Routing{Weights: w, Stable: a.Version, Canary: b.Version})
	if err := in.Target.Deploy(ctxFor(t, h), a, 0); err != nil {
		t.Fatalf("scale %s to 0: %v", a.Version, err)
	}
	rs := waitRevision(t, h, in, a.Version, "nothing running", readyN(0))
	if rs.Weight != 0 {
		t.Fatalf("status of %s at 0 replicas = %+v, want weight 0", a.Version, rs)
	}
	waitWeights(t, h, in, w)
	if err := in.Target.Remove(ctxFor(t, h), a); err != nil {
		t.Fatalf("remove %s at 0 replicas: %v", a.Version, err)
	}
	if rs, ok := status(t, in).Revisions[a.Version]; ok {
		t.Fatalf("%s still in status after remove: %+v", a.Version, rs)
	}
}

// stateAdopt is a hugai restart mid-canary: a new Target on the same world reports what the old
// one left (revisions, readiness, routing) and carries on from it.
func stateAdopt(t *testing.T, h Harness, in Instance) {
	g1, g2 := h.Good(1), h.Good(2)
	deployReady(t, h, in, g1, 2)
	deployReady(t, h, in, g2, 1)
	w := map[string]int{g1.Version: 90, g2.Version: 10}
	route(t, h, in, target.Routing{Weights: w, Stable: g1.Version, Canary: g2.Version})
	waitWeights(t, h, in, w)

	in.Target = in.Reopen(t)
	st := status(t, in)
	if rs := st.Revisions[g1.Version]; rs.Desired != 2 || rs.Ready != 2 || rs.Weight != 90 {
		t.Fatalf("adopted status of %s = %+v, want 2 desired and ready, weight 90", g1.Version, rs)
	}
	if rs := st.Revisions[g2.Version]; rs.Desired != 1 || rs.Ready != 1 || rs.Weight != 10 {
		t.Fatalf("adopted status of %s = %+v, want 1 desired and ready, weight 10", g2.Version, rs)
	}
	if st.Routing.Stable != g1.Version || st.Routing.Canary != g2.Version || !maps.Equal(nonZero(st.Routing.Weights), w) {
		t.Fatalf("adopted routing = %+v, want stable %s, canary %s, weights %v", st.Routing, g1.Version, g2.Version, w)
	}
	if len(st.Revisions) != 2 {
		t.Fatalf("adopted revisions = %v, want only %s and %s", st.Revisions, g1.Version, g2.Version)
	}

	// The engine's next tick asks for the same again (nothing restarts), then promotes.
	if err := in.Target.Deploy(ctxFor(t, h), g1, 2); err != nil {
		t.Fatalf("deploy %s after adoption: %v", g1.Version, err)
	}
	if rs := status(t, in).Revisions[g1.Version]; rs.Running != 2 || rs.Ready != 2 || rs.Restarts != 0 {
		t.Fatalf("status of %s deployed again after adoption = %+v, want the same 2 replicas, no restarts", g1.Version, rs)
	}
	w = map[string]int{g1.Version: 0, g2.Version: 100}
	route(t, h, in, target.Routing{Weights: w, Stable: g2.Version})
	waitWeights(t, h, in, w)
	if err := in.Target.Remove(ctxFor(t, h), g1); err != nil {
		t.Fatalf("remove %s after adoption: %v", g1.Version, err)
	}
	st = status(t, in)
	if _, ok := st.Revisions[g1.Version]; ok || st.Revisions[g2.Version].Weight != 100 {
		t.Fatalf("after promoting on the adopted target: %+v", st.Revisions)
	}
}
