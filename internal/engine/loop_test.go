package engine

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/notify"
	"github.com/hugai-dev/hugai/internal/policy"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/target"
)

// quietYAML is a service judged on one-second windows, so a pause ends soon after its time:
// once a window that ended within it has passed (and settled, a second later).
const quietYAML = `apiVersion: hugai.io/v1
kind: Service
metadata: {name: demo}
spec:
  target: {type: local, local: {command: ["./demo"], listen: "127.0.0.1:1"}}
  environments:
    production: {analysis: {interval: 1s}}
    staging: {analysis: {interval: 1s}}
`

const quickPlan = `apiVersion: hugai.io/v1
kind: DeploymentPlan
spec:
  service: demo
  environment: production
  strategy: {type: canary, canary: {steps: [{setWeight: 50}, {setWeight: 100}]}}
`

// running starts Run on a real clock and stops it (waiting for it) when the test ends.
func (w *world) running(tick time.Duration) (*Engine, store.Store, func() <-chan struct{}) {
	w.t.Helper()
	w.clock, w.fake, w.tick = SystemClock{}, nil, tick
	e, st := w.newEngine()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := e.Run(ctx); err != nil {
			w.t.Errorf("run: %v", err)
		}
	}()
	stop := func() <-chan struct{} { cancel(); return done }
	w.t.Cleanup(func() { <-stop() })
	return e, st, stop
}

// waitFor follows a rollout until cond holds; the timeout only turns a hang into a failure.
func waitFor(t *testing.T, e *Engine, id, what string, cond func(api.Rollout) bool) api.Rollout {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var rev int64 = -1
	for {
		v, err := e.Wait(ctx, id, rev)
		if err != nil {
			t.Fatal(err)
		}
		if cond(v) {
			return v
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: never happened; the rollout is %s %s %q", what, v.Phase, v.Reason, v.Message)
		}
		rev = v.Revision
	}
}

func phaseIs(p rollout.Phase) func(api.Rollout) bool {
	return func(v api.Rollout) bool { return v.Phase == string(p) }
}

func TestPanicInOneEnvironmentPausesOnlyIt(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.serviceYAML = quietYAML
	e, st, _ := w.running(20 * time.Millisecond)
	ctx := context.Background()
	for _, env := range []string{"production", "staging"} {
		r, err := e.Start(ctx, policy.User("alice"), api.StartRequest{Plan: []byte(quickPlan), Version: "v1", Environment: env})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, e, r.ID, "first deploy to "+env, phaseIs(rollout.Succeeded))
	}
	long := strings.Replace(quickPlan, "{setWeight: 50}", "{setWeight: 20}, {pause: {duration: 1h}}", 1)
	bad, err := e.Start(ctx, policy.User("alice"), api.StartRequest{Plan: []byte(long), Version: "v2"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, e, bad.ID, "the weight 20", func(v api.Rollout) bool { return v.Weights["v2"] == 20 && v.Phase == "Progressing" })

	w.target.Panic("a bug in an adapter")
	v := waitFor(t, e, bad.ID, "the pause for the panic", phaseIs(rollout.Paused))
	if v.Reason != rollout.ReasonInternalError || !strings.Contains(v.Message, "a bug in an adapter") {
		t.Fatalf("paused %s %q, want internal-error naming the panic", v.Reason, v.Message)
	}

	// The other environment, and the API, carry on meanwhile.
	good, err := e.Start(ctx, policy.User("alice"), api.StartRequest{Plan: []byte(quickPlan), Version: "v2", Environment: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, e, good.ID, "the staging rollout", phaseIs(rollout.Succeeded))
	time.Sleep(200 * time.Millisecond) // a few more panicking ticks, backing off

	events, err := st.Events(ctx, store.EventFilter{Subject: "rollout/" + bad.ID})
	if err != nil {
		t.Fatal(err)
	}
	recorded := 0
	for _, ev := range events {
		if ev.Type == "rollout.internalError" {
			recorded++
		}
	}
	if recorded != 1 {
		t.Fatalf("%d internalError events, want one for the run of panics", recorded)
	}

	// Fixed: the next try works, and a person resumes the rollout.
	w.target.Panic("")
	if _, err := e.Do(ctx, bad.ID, policy.User("bob"), api.Command{Kind: rollout.CommandResume}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, e, bad.ID, "resumed", phaseIs(rollout.Progressing))
	if _, err := e.Do(ctx, bad.ID, policy.User("bob"), api.Command{Kind: rollout.CommandPromote, Full: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, e, bad.ID, "promoted", phaseIs(rollout.Succeeded))
}

func TestBackoff(t *testing.T) {
	tick := 100 * time.Millisecond
	for n, want := range map[int]time.Duration{1: tick, 2: 2 * tick, 4: 8 * tick, 100: maxBackoff} {
		if got := backoff(tick, n); got != want {
			t.Errorf("backoff after %d panics: %s, want %s", n, got, want)
		}
	}
}

// countingTarget counts looks at the target: the number of ticks.
type countingTarget struct {
	target.Target
	looks atomic.Int64
}

func (c *countingTarget) Status(ctx context.Context) (target.Status, error) {
	c.looks.Add(1)
	return c.Target.Status(ctx)
}

// The loop sleeps until the time the Step asked for: a 3 s pause ends after 3 s (and the one
// window that judges its end, settled a second later), with an engine whose Tick is a minute,
// and without ticking in between.
func TestRequeueIsHonoured(t *testing.T) {
	w := newWorld(t)
	w.serviceYAML = quietYAML
	counter := &countingTarget{Target: w.target}
	w.prodTarget = counter
	e, _, _ := w.running(time.Minute)
	ctx := context.Background()
	first, err := e.Start(ctx, policy.User("alice"), api.StartRequest{Plan: []byte(quickPlan), Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, e, first.ID, "first deploy", phaseIs(rollout.Succeeded))

	paused := strings.Replace(quickPlan, "{setWeight: 50}", "{setWeight: 50}, {pause: {duration: 3s}}", 1)
	before := counter.looks.Load()
	start := time.Now()
	r, err := e.Start(ctx, policy.User("alice"), api.StartRequest{Plan: []byte(paused), Version: "v2"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, e, r.ID, "the end of the pause", phaseIs(rollout.Succeeded))
	took := time.Since(start)
	looks := counter.looks.Load() - before
	t.Logf("3s pause: done after %s, %d ticks", took, looks)
	// The upper bound only tells "slept until the requeue" from "slept a Tick" (a minute); a
	// loaded machine adds seconds to the pause and the look at full traffic that ends it.
	if took < 3*time.Second || took > 15*time.Second {
		t.Fatalf("a 3s pause took %s", took)
	}
	if looks > 20 {
		t.Fatalf("%d ticks during a 3s pause: the loop polls instead of sleeping until the requeue", looks)
	}
}

// blockingNotifier holds every delivery until released.
type blockingNotifier struct {
	got      chan notify.Event
	release  chan struct{}
	ctxAlive atomic.Bool
}

func (b *blockingNotifier) Notify(ctx context.Context, ev notify.Event) error {
	b.got <- ev
	<-b.release
	b.ctxAlive.Store(ctx.Err() == nil)
	return nil
}

// Shutdown waits for a notification under way, and does not cut it short.
func TestRunWaitsForInFlightNotifications(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.serviceYAML = quietYAML
	n := &blockingNotifier{got: make(chan notify.Event, 10), release: make(chan struct{})}
	w.notifier = n
	e, _, stop := w.running(20 * time.Millisecond)
	r, err := e.Start(context.Background(), policy.User("alice"), api.StartRequest{Plan: []byte(quickPlan), Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, e, r.ID, "first deploy", phaseIs(rollout.Succeeded))
	ev := <-n.got
	if ev.Phase != "Succeeded" {
		t.Fatalf("notified %s", ev.Phase)
	}
	done := stop()
	select {
	case <-done:
		t.Fatal("Run returned with a notification still being delivered")
	case <-time.After(300 * time.Millisecond):
	}
	close(n.release)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return once the notification was delivered")
	}
	if !n.ctxAlive.Load() {
		t.Fatal("the notification's context was cancelled by the shutdown")
	}
}
