// Package targettest is the conformance suite every target.Target adapter passes. It has two
// halves: RunState checks what a target does to the world (workloads created, scaled and removed;
// readiness, restarts and crash loops read back; routes written where the router reads them;
// adoption by a new Target after a restart), which every target must pass, the Kubernetes one
// against a real API server with no kubelet; RunTraffic sends real requests through the target's
// front door, judged by X-Hugai-Version (weights honoured, held requests on recreate), which needs
// a data plane that runs here. Run is both.
package targettest

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/target"
)

// Instance is one fresh target with nothing deployed, and the ways to look at its world.
type Instance struct {
	Target target.Target
	// Reopen abandons the current Target as a killed hugai would (what it started keeps running)
	// and returns a new one on the same world (data dir, namespace), which must adopt it all.
	Reopen func(t *testing.T) target.Target
	// Routes reads the routing as the router holds it (the proxy's table, the HTTPRoute), not as
	// the Target remembers it: the weight per version and the versions the stable, canary and
	// preview routes reach.
	Routes func(ctx context.Context) (target.Routing, error)
	// Do sends one request through the front door with the given headers and reports the version
	// that answered (X-Hugai-Version) and the status. It gives up when ctx ends, and on its own
	// no sooner than 15 s: the suite holds requests for up to 10 s. RunTraffic needs it; RunState
	// never sends a request.
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

type testCase struct {
	name string
	fn   func(*testing.T, Harness, Instance)
}

// stateCases need no traffic: each acts through the port and checks the world's state.
var stateCases = []testCase{
	{"RouteAll", stateRouteAll},
	{"Weights", stateWeights},
	{"DeployIdempotent", stateDeployIdempotent},
	{"RemoveAfterRoutingAway", stateRemove},
	{"NeverReady", stateNeverReady},
	{"CrashLoop", testCrashLoop},
	{"MissingCommand", testMissing},
	{"Scale", stateScale},
	{"Preview", statePreview},
	{"PartialReplicas", statePartialReplicas},
	{"Adopt", stateAdopt},
}

// trafficCases send requests through the front door.
var trafficCases = []testCase{
	{"RouteAll", testRouteAll},
	{"WeightedSplit", testWeightedSplit},
	{"HeaderRoute", testHeaderRoute},
	{"DeployIdempotent", testDeployIdempotent},
	{"RemoveAfterRoutingAway", testRemove},
	{"NeverReady", testNeverReady},
	{"Scale", testScale},
	{"Preview", testPreview},
	{"PartialReplicas", testPartialReplicas},
	{"Hold", testHold},
	{"HoldExpires", testHoldExpires},
	{"SwitchBack", testSwitchBack},
}

// Run runs both halves against h, each case on a fresh target.
func Run(t *testing.T, h Harness) {
	RunState(t, h)
	RunTraffic(t, h)
}

// RunState runs the world-state half: every target passes it.
func RunState(t *testing.T, h Harness) {
	t.Run("State", func(t *testing.T) {
		for _, c := range stateCases {
			t.Run(c.name, func(t *testing.T) {
				in := h.New(t)
				if in.Reopen == nil || in.Routes == nil {
					t.Fatal("the state half needs Instance.Reopen and Instance.Routes: the harness gives no way to see the world")
				}
				c.fn(t, h, in)
			})
		}
	})
}

// RunTraffic runs the traffic half. A harness without a front door fails it rather than skip:
// a target with no data plane here does not call it, and says why where it would.
func RunTraffic(t *testing.T, h Harness) {
	t.Run("Traffic", func(t *testing.T) {
		for _, c := range trafficCases {
			t.Run(c.name, func(t *testing.T) {
				in := h.New(t)
				if in.Do == nil {
					t.Fatal("the traffic half needs Instance.Do: the harness has no front door")
				}
				c.fn(t, h, in)
			})
		}
	})
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
