package engine

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/metric"
	"github.com/hugai-dev/hugai/internal/notify"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/policy"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/sqlite"
	"github.com/hugai-dev/hugai/internal/target"
	"github.com/hugai-dev/hugai/internal/target/fake"
)

// fakeClock is moved by the test alone; safe to read from the engine's goroutines.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recorder is a notifier that keeps what it was told.
type recorder struct {
	mu     sync.Mutex
	events []notify.Event
}

func (r *recorder) Notify(_ context.Context, e notify.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) phases() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]string{}
	for _, e := range r.events {
		out[e.Phase] = e.Severity
	}
	return out
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

const svcYAML = `apiVersion: hugai.io/v1
kind: Service
metadata: {name: demo}
spec:
  target: {type: local, local: {command: ["./demo"], listen: "127.0.0.1:1", replicas: 2}}
  database: {rollback: ["./migrate", "down"]}
  environments:
    production:
      successCriteria: error_rate<1%
      analysis: {interval: 10s, minimumSamples: 20}
    staging:
      successCriteria: error_rate<1%
      analysis: {interval: 10s, minimumSamples: 20}
`

const canaryPlan = `apiVersion: hugai.io/v1
kind: DeploymentPlan
spec:
  service: demo
  environment: production
  strategy:
    type: canary
    canary:
      steps:
      - {setWeight: 20, pause: {duration: 30s}}
      - {setWeight: 50, pause: {duration: 30s}}
      - setWeight: 100
`

// world is what outlives an engine: the store's file, each environment's target, the clock, and
// the people told about rollouts.
type world struct {
	t       *testing.T
	told    recorder
	dbPath  string
	clock   Clock
	fake    *fakeClock // the clock, when it is fake
	target  *fake.Target
	targets map[string]*fake.Target // by environment; production's is target
	errPct  atomic.Value            // float64: the candidate's error rate, in percent
	dbRuns  atomic.Int32            // database rollbacks run
	tick    time.Duration
	logf    func(string, ...any)
	// notifier replaces told when set; serviceYAML replaces svcYAML.
	notifier    Notifier
	serviceYAML string
	prodTarget  target.Target // wraps production's target when set
	finished    func(context.Context, string)
	observer    Observer
}

func newWorld(t *testing.T) *world {
	fc := &fakeClock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	w := &world{t: t, dbPath: filepath.Join(t.TempDir(), "hugai.db"), clock: fc, fake: fc,
		targets: map[string]*fake.Target{"production": fake.New(), "staging": fake.New()}, logf: t.Logf}
	w.target = w.targets["production"]
	w.errPct.Store(0.0)
	return w
}

// engine starts an engine on the world's store and targets, as a server (re)start does.
func (w *world) engine() (*Engine, *envRuntime, store.Store) {
	w.t.Helper()
	e, st := w.newEngine()
	rt, err := e.runtime(context.Background(), "demo", "production")
	if err != nil {
		w.t.Fatal(err)
	}
	return e, rt, st
}

func (w *world) newEngine() (*Engine, store.Store) {
	w.t.Helper()
	st, err := sqlite.Open(w.dbPath)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { st.Close() })
	yaml := svcYAML
	if w.serviceYAML != "" {
		yaml = w.serviceYAML
	}
	svc, err := plan.ParseService("hugai.yaml", []byte(yaml))
	if err != nil {
		w.t.Fatal(err)
	}
	metrics := metric.Func(func(_ context.Context, q metric.Query) (analysis.Value, error) {
		return analysis.Value{Value: w.errPct.Load().(float64), Samples: 100}, nil
	})
	var n Notifier = &w.told
	if w.notifier != nil {
		n = w.notifier
	}
	e := New(Config{Store: st, Clock: w.clock, Tick: w.tick, Logf: w.logf, Notifiers: map[string]Notifier{"demo": n}, Finished: w.finished, Observer: w.observer,
		Services: []*ServiceFile{{Path: "hugai.yaml", Data: []byte(yaml), Service: svc}},
		NewRuntime: func(_ context.Context, _ *ServiceFile, env *plan.Env) (*Runtime, error) {
			var t target.Target = w.targets[env.Name]
			if env.Name == "production" && w.prodTarget != nil {
				t = w.prodTarget
			}
			return &Runtime{Target: t, Metrics: metrics, DatabaseRollback: func(context.Context) (bool, string) {
				w.dbRuns.Add(1)
				return true, "migrated down"
			}}, nil
		}})
	if err := e.Recover(context.Background()); err != nil {
		w.t.Fatal(err)
	}
	return e, st
}

// run ticks the engine every second of fake time until the rollout is terminal or n ticks pass.
func (w *world) run(e *Engine, rt *envRuntime, id string, n int) api.Rollout {
	w.t.Helper()
	ctx := context.Background()
	for range n {
		if _, err := e.reconcile(ctx, rt); err != nil {
			w.t.Fatal(err)
		}
		e.bg.Wait() // the smoke tests and database runs the tick started report on the next one
		v, err := e.Get(ctx, id)
		if err != nil {
			w.t.Fatal(err)
		}
		if v.Terminal {
			return v
		}
		w.fake.Add(time.Second)
	}
	v, _ := e.Get(ctx, id)
	return v
}

func TestEngineCanaryAndRestart(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	e, rt, _ := w.engine()
	first, err := e.Start(ctx, policy.User("alice"), api.StartRequest{Plan: []byte(canaryPlan), Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if v := w.run(e, rt, first.ID, 60); v.Phase != "Succeeded" { // ready, then judged on one window at full traffic
		t.Fatalf("first deploy: %s", v.Phase)
	}

	second, err := e.Start(ctx, policy.User("alice"), api.StartRequest{Plan: []byte(canaryPlan), Version: "v2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Start(ctx, policy.User("bob"), api.StartRequest{Plan: []byte(canaryPlan), Version: "v3"}); err == nil {
		t.Fatal("a second rollout of the same environment must be refused while one runs")
	}
	v := w.run(e, rt, second.ID, 40) // into the second pause
	if v.Weights["v2"] != 50 {
		t.Fatalf("before the crash: %s %v", v.Phase, v.Weights)
	}

	// The server dies; a new one starts on the same store and finds the same processes.
	e2, rt2, st := w.engine()
	v = w.run(e2, rt2, second.ID, 100)
	if v.Phase != "Succeeded" || v.Weights["v2"] != 100 {
		t.Fatalf("after the restart: %s %v", v.Phase, v.Weights)
	}
	if _, err := e2.reconcile(ctx, rt2); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.target.Running()["v1"]; ok {
		t.Fatal("v1 still runs after v2 was promoted")
	}

	// No step was repeated or skipped across the restart.
	events, err := st.Events(ctx, store.EventFilter{Subject: "rollout/" + second.ID})
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	for _, ev := range events {
		if ev.Type == "rollout.step" {
			var p struct{ Index int }
			if err := json.Unmarshal(ev.Payload, &p); err != nil {
				t.Fatal(err)
			}
			steps = append(steps, p.Index)
		}
	}
	if len(steps) != 4 { // setWeight 20, pause, setWeight 50, pause, setWeight 100: four moves on
		t.Fatalf("step events %v: want 4", steps)
	}
	for i, s := range steps {
		if s != i+1 {
			t.Fatalf("step events %v: want 1, 2, 3, … each once", steps)
		}
	}
	if _, err := st.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestEngineRollsBackAndRefusesBadInput(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	e, rt, _ := w.engine()
	first, _ := e.Start(ctx, policy.User("alice"), api.StartRequest{Plan: []byte(canaryPlan), Version: "v1"})
	w.run(e, rt, first.ID, 60)

	w.errPct.Store(30.0)
	bad, err := e.Start(ctx, policy.User("alice"), api.StartRequest{Plan: []byte(canaryPlan), Version: "v3"})
	if err != nil {
		t.Fatal(err)
	}
	v := w.run(e, rt, bad.ID, 100)
	if v.Phase != "RolledBack" || v.ExitCode != 3 || v.Weights["v1"] != 100 {
		t.Fatalf("bad canary: %s exit %d %v", v.Phase, v.ExitCode, v.Weights)
	}
	if _, err := e.reconcile(ctx, rt); err != nil {
		t.Fatal(err)
	}
	if _, ok := w.target.Running()["v3"]; ok {
		t.Fatal("the rolled-back candidate still runs")
	}
	waitForPhase := func(phase, severity string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for w.told.phases()[phase] != severity {
			if time.Now().After(deadline) {
				t.Fatalf("no %s notification (%s): told %v", phase, severity, w.told.phases())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitForPhase("RollingBack", "warning")
	waitForPhase("RolledBack", "warning")

	for name, req := range map[string]api.StartRequest{
		"no version":      {Plan: []byte(canaryPlan)},
		"unknown env":     {Plan: []byte(canaryPlan), Version: "v4", Environment: "qa"},
		"stable again":    {Plan: []byte(canaryPlan), Version: "v1"},
		"broken plan":     {Plan: []byte("apiVersion: hugai.io/v1\nkind: DeploymentPlan\nspec: {strategy: {type: canery}}\n"), Version: "v4"},
		"unknown service": {Plan: []byte(canaryPlan), Version: "v4", Service: "nope"},
	} {
		_, err := e.Start(ctx, policy.User("alice"), req)
		var ae *api.Error
		if !asAPIError(err, &ae) || ae.Code != api.CodeBadInput {
			t.Errorf("%s: want bad input, got %v", name, err)
		}
	}
}

func asAPIError(err error, target **api.Error) bool {
	ae, ok := err.(*api.Error)
	if ok {
		*target = ae
	}
	return ok
}
