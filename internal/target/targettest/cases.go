package targettest

import (
	"context"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/target"
)

func testRouteAll(t *testing.T, h Harness, in Instance) {
	g1 := h.Good(1)
	deployReady(t, h, in, g1, 2)
	route(t, h, in, target.Routing{Weights: map[string]int{g1.Version: 100}, Stable: g1.Version})
	waitServing(t, h, in, g1.Version, nil)
	got := count(t, h, in, 40, nil)
	if got[g1.Version] != 40 {
		t.Fatalf("answers by version = %v, want all 40 by %s", got, g1.Version)
	}
	st, err := in.Target.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rs := st.Revisions[g1.Version]; rs.Weight != 100 || rs.Ready != 2 {
		t.Fatalf("status of %s = %+v, want weight 100 and 2 ready", g1.Version, rs)
	}
}

func testWeightedSplit(t *testing.T, h Harness, in Instance) {
	g1, g2 := h.Good(1), h.Good(2)
	deployReady(t, h, in, g1, 1)
	deployReady(t, h, in, g2, 1)
	route(t, h, in, target.Routing{Weights: map[string]int{g1.Version: 80, g2.Version: 20}, Stable: g1.Version, Canary: g2.Version})
	waitServing(t, h, in, g2.Version, http.Header{"X-Hugai-Route": {"canary"}})
	const n = 400
	got := count(t, h, in, n, nil)
	if got[g1.Version]+got[g2.Version] != n {
		t.Fatalf("answers by version = %v, want only %s and %s", got, g1.Version, g2.Version)
	}
	// 20% of 400 is 80 with a standard deviation of 8: ±32 is four of them.
	share := float64(got[g2.Version]) / n
	if math.Abs(share-0.2) > 0.08 {
		t.Fatalf("canary share = %.3f (%v), want 0.20 ± 0.08", share, got)
	}
}

func testHeaderRoute(t *testing.T, h Harness, in Instance) {
	g1, g2 := h.Good(1), h.Good(2)
	deployReady(t, h, in, g1, 1)
	deployReady(t, h, in, g2, 1)
	route(t, h, in, target.Routing{Weights: map[string]int{g1.Version: 100}, Stable: g1.Version, Canary: g2.Version})
	canary := http.Header{"X-Hugai-Route": {"canary"}}
	waitServing(t, h, in, g2.Version, canary)
	if got := count(t, h, in, 30, canary); got[g2.Version] != 30 {
		t.Fatalf("with X-Hugai-Route: canary, answers = %v, want all by %s", got, g2.Version)
	}
	if got := count(t, h, in, 30, nil); got[g1.Version] != 30 {
		t.Fatalf("without the header, answers = %v, want all by %s (canary has weight 0)", got, g1.Version)
	}
}

func testDeployIdempotent(t *testing.T, h Harness, in Instance) {
	g1 := h.Good(1)
	deployReady(t, h, in, g1, 2)
	route(t, h, in, target.Routing{Weights: map[string]int{g1.Version: 100}})
	waitServing(t, h, in, g1.Version, nil)
	for range 3 {
		if err := in.Target.Deploy(ctxFor(t, h), g1, 2); err != nil {
			t.Fatalf("deploy again: %v", err)
		}
	}
	got := count(t, h, in, 20, nil)
	st, err := in.Target.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rs := st.Revisions[g1.Version]
	if rs.Desired != 2 || rs.Running != 2 || rs.Ready != 2 || rs.Restarts != 0 || len(st.Revisions) != 1 {
		t.Fatalf("after deploying 4 times: %+v (all: %v), want 2 running and ready, no restarts", rs, st.Revisions)
	}
	if got[g1.Version] != 20 {
		t.Fatalf("answers = %v", got)
	}
}

func testRemove(t *testing.T, h Harness, in Instance) {
	g1, g2 := h.Good(1), h.Good(2)
	deployReady(t, h, in, g1, 1)
	deployReady(t, h, in, g2, 1)
	route(t, h, in, target.Routing{Weights: map[string]int{g1.Version: 100}, Stable: g1.Version})
	waitServing(t, h, in, g1.Version, nil)
	if err := in.Target.Remove(ctxFor(t, h), g1); err == nil {
		t.Fatalf("remove of %s with 100%% of traffic succeeded, want an error", g1.Version)
	}
	route(t, h, in, target.Routing{Weights: map[string]int{g2.Version: 100}, Stable: g2.Version})
	waitServing(t, h, in, g2.Version, nil)

	// Load through the front door while g1 goes: no request may fail.
	var failed, sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, status, err := in.Do(context.Background(), nil)
			sent.Add(1)
			if err != nil || status != http.StatusOK {
				failed.Add(1)
			}
		}
	}()
	err := in.Target.Remove(ctxFor(t, h), g1)
	if err == nil {
		err = in.Target.Remove(ctxFor(t, h), g1) // idempotent
	}
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("remove after routing away: %v", err)
	}
	st, err := in.Target.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rs, ok := st.Revisions[g1.Version]; ok {
		t.Fatalf("%s still in status after remove: %+v", g1.Version, rs)
	}
	if f := failed.Load(); f != 0 {
		t.Fatalf("%d of %d requests failed during remove", f, sent.Load())
	}
	if got := count(t, h, in, 20, nil); got[g2.Version] != 20 {
		t.Fatalf("answers after remove = %v", got)
	}
}

func testNeverReady(t *testing.T, h Harness, in Instance) {
	g1, bad := h.Good(1), h.NeverReady()
	deployReady(t, h, in, g1, 1)
	if err := in.Target.Deploy(ctxFor(t, h), bad, 1); err != nil {
		t.Fatalf("deploy %s: %v", bad.Version, err)
	}
	r := target.Routing{Weights: map[string]int{g1.Version: 100}, Stable: g1.Version, Canary: bad.Version}
	route(t, h, in, r)
	waitRevision(t, h, in, bad.Version, "running", func(rs target.RevisionStatus) bool { return rs.Running == 1 })
	got := count(t, h, in, 20, nil)
	canary := http.Header{"X-Hugai-Route": {"canary"}}
	// Watch for a while (the process is up and probed meanwhile), routing again half-way so the
	// router is given the endpoints as they are now. The router may tag its own 503 with the
	// version it picked; what must not happen is an answer from the replica.
	for i := range 2 {
		if i == 1 {
			route(t, h, in, r)
		}
		for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); {
			v, status, err := in.Do(ctxFor(t, h), canary)
			if err == nil && status == http.StatusOK {
				got[v]++
			}
		}
	}
	st, err := in.Target.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rs := st.Revisions[bad.Version]; rs.Ready != 0 || rs.Running != 1 {
		t.Fatalf("status of %s = %+v, want running 1, ready 0", bad.Version, rs)
	}
	if got[bad.Version] != 0 {
		t.Fatalf("%s answered %d requests though never ready (answers %v)", bad.Version, got[bad.Version], got)
	}
}

func testScale(t *testing.T, h Harness, in Instance) {
	g1 := h.Good(1)
	deployReady(t, h, in, g1, 1)
	route(t, h, in, target.Routing{Weights: map[string]int{g1.Version: 100}})
	waitServing(t, h, in, g1.Version, nil)
	deployReady(t, h, in, g1, 3)
	count(t, h, in, 20, nil)
	if err := in.Target.Deploy(ctxFor(t, h), g1, 1); err != nil {
		t.Fatalf("scale down: %v", err)
	}
	waitRevision(t, h, in, g1.Version, "1 ready", readyN(1))
	if got := count(t, h, in, 20, nil); got[g1.Version] != 20 {
		t.Fatalf("answers after scale-down = %v", got)
	}
}
