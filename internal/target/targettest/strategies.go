package targettest

// Cases for what blue-green, rolling and recreate ask of a target, in the order the engine's apply
// drives it (internal/engine/reconcile.go: Deploy, then Route, then Remove).

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/target"
)

// result is one request of a load.
type result struct {
	start, end time.Time
	version    string
	status     int
	err        error
}

func (r result) failed() bool { return r.err != nil || r.status != http.StatusOK }

func (r result) String() string {
	if r.err != nil {
		return fmt.Sprintf("error after %s: %v", r.end.Sub(r.start).Round(time.Millisecond), r.err)
	}
	return fmt.Sprintf("%d from %q after %s", r.status, r.version, r.end.Sub(r.start).Round(time.Millisecond))
}

// load sends requests through the front door from a few workers, each at most one per interval,
// until stop; every answer is recorded.
type load struct {
	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	mu   sync.Mutex
	res  []result
}

// startLoad starts workers sending requests with header, each bounded by reqTimeout (above any
// hold the case sets, so that a held request is answered, not abandoned). A case that fails
// before Stop has it stopped by the test's cleanup, before the target's.
func startLoad(t *testing.T, in Instance, workers int, interval, reqTimeout time.Duration, header http.Header) *load {
	l := &load{stop: make(chan struct{})}
	t.Cleanup(func() { l.Stop() })
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), reqTimeout)
				r := result{start: time.Now()}
				r.version, r.status, r.err = in.Do(ctx, header)
				r.end = time.Now()
				cancel()
				l.mu.Lock()
				l.res = append(l.res, r)
				l.mu.Unlock()
				if d := interval - r.end.Sub(r.start); d > 0 {
					select {
					case <-l.stop:
						return
					case <-time.After(d):
					}
				}
			}
		}()
	}
	return l
}

// Stop ends the load, waits for the requests in flight and returns every result.
func (l *load) Stop() []result {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.res
}

// failures is the failed results, and a summary of the first few.
func failures(res []result) (int, string) {
	var n int
	var b strings.Builder
	for _, r := range res {
		if r.failed() {
			if n < 5 {
				fmt.Fprintf(&b, "\n\t%s", r)
			}
			n++
		}
	}
	return n, b.String()
}

func byVersion(res []result) map[string]int {
	m := map[string]int{}
	for _, r := range res {
		m[r.version]++
	}
	return m
}

func status(t *testing.T, in Instance) target.Status {
	t.Helper()
	st, err := in.Target.Status(context.Background())
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	return st
}

// checkShare counts n requests and checks that v answered share of them, within four standard
// deviations, and that nothing but the versions in want answered.
func checkShare(t *testing.T, h Harness, in Instance, n int, v string, share float64, want ...string) {
	t.Helper()
	got := count(t, h, in, n, nil)
	sum := 0
	for _, w := range want {
		sum += got[w]
	}
	if sum != n {
		t.Fatalf("answers by version = %v, want only %v", got, want)
	}
	tol := 4 * math.Sqrt(share*(1-share)/float64(n))
	if s := float64(got[v]) / float64(n); math.Abs(s-share) > tol {
		t.Fatalf("share of %s = %.3f (%v), want %.2f ± %.3f", v, s, got, share, tol)
	}
}

// testPreview is blue-green before the switch: green runs beside blue with no user traffic and is
// reached with X-Hugai-Route: preview only.
func testPreview(t *testing.T, h Harness, in Instance) {
	blue, green := h.Good(1), h.Good(2)
	deployReady(t, h, in, blue, 1)
	deployReady(t, h, in, green, 1)
	route(t, h, in, target.Routing{
		Weights: map[string]int{blue.Version: 100, green.Version: 0},
		Stable:  blue.Version, Preview: green.Version,
	})
	preview := http.Header{"X-Hugai-Route": {"preview"}}
	waitServing(t, h, in, green.Version, preview)
	if got := count(t, h, in, 40, nil); got[blue.Version] != 40 {
		t.Fatalf("without the header, answers = %v, want all 40 by %s (green has weight 0)", got, blue.Version)
	}
	if got := count(t, h, in, 30, preview); got[green.Version] != 30 {
		t.Fatalf("with X-Hugai-Route: preview, answers = %v, want all 30 by %s", got, green.Version)
	}
	if got := count(t, h, in, 10, http.Header{"X-Hugai-Route": {"stable"}}); got[blue.Version] != 10 {
		t.Fatalf("with X-Hugai-Route: stable, answers = %v, want all 10 by %s", got, blue.Version)
	}
	st := status(t, in)
	if rs := st.Revisions[green.Version]; rs.Ready != 1 || rs.Desired != 1 || rs.Weight != 0 {
		t.Fatalf("status of green %s = %+v, want 1 desired and ready, weight 0", green.Version, rs)
	}
	if rs := st.Revisions[blue.Version]; rs.Ready != 1 || rs.Weight != 100 {
		t.Fatalf("status of blue %s = %+v, want 1 ready, weight 100", blue.Version, rs)
	}
	if st.Routing.Preview != green.Version || st.Routing.Stable != blue.Version {
		t.Fatalf("status routing = %+v, want stable %s and preview %s", st.Routing, blue.Version, green.Version)
	}
}

// testPartialReplicas is a rolling update at the target: two versions at partial replica counts
// share traffic by weight, replicas move from one to the other under load without a failed
// request, and a version scaled to nothing answers nothing.
func testPartialReplicas(t *testing.T, h Harness, in Instance) {
	a, b := h.Good(1), h.Good(2)
	deployReady(t, h, in, a, 3)
	deployReady(t, h, in, b, 1)
	route(t, h, in, target.Routing{Weights: map[string]int{a.Version: 75, b.Version: 25}, Stable: a.Version, Canary: b.Version})
	waitServing(t, h, in, b.Version, http.Header{"X-Hugai-Route": {"canary"}})
	checkShare(t, h, in, 400, b.Version, 0.25, a.Version, b.Version)

	// The next batch, as the engine applies it: the new version scaled up, the old one scaled down
	// while it still has its weight, then the weights moved.
	l := startLoad(t, in, 1, 5*time.Millisecond, 10*time.Second, nil)
	deployReady(t, h, in, b, 3)
	if err := in.Target.Deploy(ctxFor(t, h), a, 1); err != nil {
		t.Fatalf("scale %s to 1: %v", a.Version, err)
	}
	route(t, h, in, target.Routing{Weights: map[string]int{a.Version: 25, b.Version: 75}, Stable: a.Version, Canary: b.Version})
	waitRevision(t, h, in, a.Version, "1 ready", readyN(1))
	time.Sleep(300 * time.Millisecond)
	res := l.Stop()
	if n, first := failures(res); n != 0 {
		t.Fatalf("%d of %d requests failed while replicas moved from %s to %s:%s", n, len(res), a.Version, b.Version, first)
	}
	st := status(t, in)
	if rs := st.Revisions[a.Version]; rs.Desired != 1 || rs.Running != 1 || rs.Ready != 1 || rs.Weight != 25 {
		t.Fatalf("status of %s = %+v, want 1 desired, running and ready, weight 25", a.Version, rs)
	}
	if rs := st.Revisions[b.Version]; rs.Desired != 3 || rs.Running != 3 || rs.Ready != 3 || rs.Weight != 75 {
		t.Fatalf("status of %s = %+v, want 3 desired, running and ready, weight 75", b.Version, rs)
	}
	checkShare(t, h, in, 400, b.Version, 0.75, a.Version, b.Version)

	// The last batch: the old version loses its weight and its last replica. The engine removes a
	// version asked for no replica; a target given Deploy(v, 0) anyway may keep it in Status (with
	// nothing running) or drop it, but never routes to it.
	l = startLoad(t, in, 1, 5*time.Millisecond, 10*time.Second, nil)
	route(t, h, in, target.Routing{Weights: map[string]int{a.Version: 0, b.Version: 100}, Stable: a.Version, Canary: b.Version})
	if err := in.Target.Deploy(ctxFor(t, h), a, 0); err != nil {
		t.Fatalf("scale %s to 0: %v", a.Version, err)
	}
	rs := waitRevision(t, h, in, a.Version, "nothing running", readyN(0))
	time.Sleep(300 * time.Millisecond)
	res = l.Stop()
	if n, first := failures(res); n != 0 {
		t.Fatalf("%d of %d requests failed while %s went to 0 replicas:%s", n, len(res), a.Version, first)
	}
	if _, kept := status(t, in).Revisions[a.Version]; kept {
		t.Logf("%s at 0 replicas stays in status: %+v", a.Version, rs)
	} else {
		t.Logf("%s at 0 replicas left status", a.Version)
	}
	if rs.Weight != 0 {
		t.Fatalf("status of %s at 0 replicas = %+v, want weight 0", a.Version, rs)
	}
	if got := count(t, h, in, 40, nil); got[b.Version] != 40 {
		t.Fatalf("answers with %s at 0 replicas = %v, want all 40 by %s", a.Version, got, b.Version)
	}
	if err := in.Target.Remove(ctxFor(t, h), a); err != nil {
		t.Fatalf("remove %s at 0 replicas: %v", a.Version, err)
	}
	if rs, ok := status(t, in).Revisions[a.Version]; ok {
		t.Fatalf("%s still in status after remove: %+v", a.Version, rs)
	}
}

// holdGap is how long the recreate case leaves no version deployed, so that requests are held.
const holdGap = 500 * time.Millisecond

// testHold is recreate: all traffic is routed to the new version before it exists, the old one is
// removed, and the new one deployed; requests meanwhile are held and answered by the new version.
func testHold(t *testing.T, h Harness, in Instance) {
	a, b := h.Good(1), h.Good(2)
	const hold = 10 * time.Second
	deployReady(t, h, in, a, 1)
	route(t, h, in, target.Routing{Weights: map[string]int{a.Version: 100}, Stable: a.Version})
	waitServing(t, h, in, a.Version, nil)

	// A client timeout above the hold: a held request must be answered, not given up on.
	l := startLoad(t, in, 4, 20*time.Millisecond, hold+5*time.Second, nil)
	route(t, h, in, target.Routing{Weights: map[string]int{b.Version: 100}, Stable: a.Version, HoldTimeout: hold})
	if err := in.Target.Remove(ctxFor(t, h), a); err != nil {
		t.Fatalf("remove %s: %v", a.Version, err)
	}
	removed := time.Now()
	time.Sleep(holdGap)
	deployed := time.Now()
	deployReady(t, h, in, b, 1)
	waitServing(t, h, in, b.Version, nil)
	time.Sleep(200 * time.Millisecond)
	res := l.Stop()
	if n, first := failures(res); n != 0 {
		t.Fatalf("%d of %d requests failed during the recreate:%s", n, len(res), first)
	}
	held := 0
	for _, r := range res {
		if r.start.After(removed) && r.version != b.Version {
			t.Fatalf("a request sent after %s was removed was answered by %q, want %s (%s)", a.Version, r.version, b.Version, r)
		}
		// Sent before B was deployed, answered by B: held.
		if r.start.Before(deployed) && r.version == b.Version {
			held++
		}
	}
	if held == 0 {
		t.Fatalf("no request was held until %s was deployed (%d requests: %v)", b.Version, len(res), byVersion(res))
	}
	t.Logf("%d requests (%v), %d of them held until %s was deployed", len(res), byVersion(res), held, b.Version)
}

// testHoldExpires: a held request for a version that never becomes ready is answered 503 once
// the hold timeout passes, not sooner and not much later.
func testHoldExpires(t *testing.T, h Harness, in Instance) {
	bad := h.NeverReady()
	const hold = time.Second
	if err := in.Target.Deploy(ctxFor(t, h), bad, 1); err != nil {
		t.Fatalf("deploy %s: %v", bad.Version, err)
	}
	route(t, h, in, target.Routing{Weights: map[string]int{bad.Version: 100}, HoldTimeout: hold})
	waitRevision(t, h, in, bad.Version, "running", func(rs target.RevisionStatus) bool { return rs.Running == 1 })
	var wg sync.WaitGroup
	res := make([]result, 3)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), hold+10*time.Second)
			defer cancel()
			r := result{start: time.Now()}
			r.version, r.status, r.err = in.Do(ctx, nil)
			r.end = time.Now()
			res[i] = r
		}()
	}
	wg.Wait()
	for i, r := range res {
		took := r.end.Sub(r.start)
		if r.err != nil || r.status != http.StatusServiceUnavailable {
			t.Errorf("request %d: %s, want 503 after about %s", i, r, hold)
		} else if took < hold-100*time.Millisecond || took > hold+2*time.Second {
			t.Errorf("request %d: answered after %s, want about %s", i, took, hold)
		}
	}
}

// testSwitchBack is blue-green's switch and its switch back after a failure, under load: no
// request fails either way.
func testSwitchBack(t *testing.T, h Harness, in Instance) {
	blue, green := h.Good(1), h.Good(2)
	deployReady(t, h, in, blue, 1)
	deployReady(t, h, in, green, 1)
	route(t, h, in, target.Routing{Weights: map[string]int{blue.Version: 100, green.Version: 0}, Stable: blue.Version, Preview: green.Version})
	waitServing(t, h, in, blue.Version, nil)

	l := startLoad(t, in, 1, 5*time.Millisecond, 10*time.Second, nil)
	for _, sw := range []struct{ to, from target.Revision }{{green, blue}, {blue, green}} {
		route(t, h, in, target.Routing{Weights: map[string]int{sw.to.Version: 100, sw.from.Version: 0}, Stable: sw.to.Version})
		waitServing(t, h, in, sw.to.Version, nil)
		time.Sleep(300 * time.Millisecond)
	}
	res := l.Stop()
	if n, first := failures(res); n != 0 {
		t.Fatalf("%d of %d requests failed through the switch and the switch back:%s", n, len(res), first)
	}
	if got := byVersion(res); got[green.Version] == 0 {
		t.Fatalf("answers under load = %v: green %s never served, the switch did not happen", got, green.Version)
	}
	if got := count(t, h, in, 40, nil); got[blue.Version] != 40 {
		t.Fatalf("answers after the switch back = %v, want all 40 by %s", got, blue.Version)
	}
	st := status(t, in)
	if rs := st.Revisions[green.Version]; rs.Weight != 0 || rs.Ready != 1 {
		t.Fatalf("status of green %s after the switch back = %+v, want still ready, weight 0", green.Version, rs)
	}
}
