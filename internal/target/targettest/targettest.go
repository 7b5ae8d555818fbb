// Package targettest is the conformance suite every target.Target adapter passes (local processes,
// Kubernetes): real requests through the adapter's front door, judged by X-Hugai-Version.
package targettest

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/target"
)

// Instance is one fresh target with nothing deployed, and its front door.
type Instance struct {
	Target target.Target
	// Do sends one request through the front door with the given headers and reports the version
	// that answered (X-Hugai-Version) and the status. It gives up when ctx ends, and on its own
	// no sooner than 15 s: the suite holds requests for up to 10 s.
	Do func(ctx context.Context, header http.Header) (version string, status int, err error)
}

// Harness adapts the suite to one target.
type Harness interface {
	// New returns a fresh target; it stops everything it started in t.Cleanup, even on failure.
	New(t *testing.T) Instance
	// Good returns the n-th (n ≥ 1) distinct revision that becomes ready and answers 200.
	Good(n int) target.Revision
	// NeverReady returns a revision whose processes run but never pass the readiness check.
	NeverReady() target.Revision
	// CrashLoop returns a revision whose processes exit soon after they start.
	CrashLoop() target.Revision
	// Missing returns a revision whose command or image does not exist.
	Missing() target.Revision
	// Timeout bounds every wait for the target to converge (readiness, restarts).
	Timeout() time.Duration
}

// Run runs the whole suite against h, each case on a fresh target.
func Run(t *testing.T, h Harness) {
	cases := []struct {
		name string
		fn   func(*testing.T, Harness, Instance)
	}{
		{"RouteAll", testRouteAll},
		{"WeightedSplit", testWeightedSplit},
		{"HeaderRoute", testHeaderRoute},
		{"DeployIdempotent", testDeployIdempotent},
		{"RemoveAfterRoutingAway", testRemove},
		{"NeverReady", testNeverReady},
		{"CrashLoop", testCrashLoop},
		{"MissingCommand", testMissing},
		{"Scale", testScale},
		{"Preview", testPreview},
		{"PartialReplicas", testPartialReplicas},
		{"Hold", testHold},
		{"HoldExpires", testHoldExpires},
		{"SwitchBack", testSwitchBack},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fn(t, h, h.New(t))
		})
	}
}

// ctxFor is a context ending with the test (or the harness timeout times four, whichever first).
func ctxFor(t *testing.T, h Harness) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 4*h.Timeout())
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or the harness timeout passes; the last reason is reported.
func waitFor(t *testing.T, h Harness, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(h.Timeout())
	var why string
	for {
		var ok bool
		ok, why = cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRevision waits until the revision's status satisfies cond.
func waitRevision(t *testing.T, h Harness, in Instance, v string, what string, cond func(target.RevisionStatus) bool) target.RevisionStatus {
	t.Helper()
	var last target.RevisionStatus
	waitFor(t, h, v+" "+what, func() (bool, string) {
		st, err := in.Target.Status(context.Background())
		if err != nil {
			return false, err.Error()
		}
		last = st.Revisions[v]
		return cond(last), fmt.Sprintf("%+v", last)
	})
	return last
}

func readyN(n int) func(target.RevisionStatus) bool {
	return func(rs target.RevisionStatus) bool { return rs.Running == n && rs.Ready == n && rs.Desired == n }
}

// deployReady deploys rev with n replicas and waits until all are ready.
func deployReady(t *testing.T, h Harness, in Instance, rev target.Revision, n int) {
	t.Helper()
	if err := in.Target.Deploy(ctxFor(t, h), rev, n); err != nil {
		t.Fatalf("deploy %s x%d: %v", rev.Version, n, err)
	}
	waitRevision(t, h, in, rev.Version, fmt.Sprintf("%d ready", n), readyN(n))
}

func route(t *testing.T, h Harness, in Instance, r target.Routing) {
	t.Helper()
	if err := in.Target.Route(ctxFor(t, h), r); err != nil {
		t.Fatalf("route %+v: %v", r, err)
	}
}

// count sends n requests and counts the answering versions; any failure or non-200 fails the test.
func count(t *testing.T, h Harness, in Instance, n int, header http.Header) map[string]int {
	t.Helper()
	ctx := ctxFor(t, h)
	got := map[string]int{}
	for i := range n {
		v, status, err := in.Do(ctx, header)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if status != http.StatusOK {
			t.Fatalf("request %d: status %d from %q", i, status, v)
		}
		got[v]++
	}
	return got
}

// waitServing waits until requests through the front door are answered by v: routes reach the
// router asynchronously on some targets.
func waitServing(t *testing.T, h Harness, in Instance, v string, header http.Header) {
	t.Helper()
	waitFor(t, h, "requests answered by "+v, func() (bool, string) {
		got, status, err := in.Do(context.Background(), header)
		if err != nil {
			return false, err.Error()
		}
		return got == v && status == http.StatusOK, fmt.Sprintf("answered by %q with %d", got, status)
	})
}
