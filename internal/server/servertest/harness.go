package servertest

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/engine"
	"github.com/hugai-dev/hugai/internal/metric"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/policy"
	"github.com/hugai-dev/hugai/internal/server"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/sqlite"
	"github.com/hugai-dev/hugai/internal/target/fake"
)

// ServiceYAML is the service a Harness serves unless told otherwise: demo, in production and
// staging, judged on error_rate in 5 s windows, with no watch after promotion.
const ServiceYAML = `apiVersion: hugai.io/v1
kind: Service
metadata: {name: demo}
spec:
  target: {type: local, local: {command: ["./demo"], listen: "127.0.0.1:1", replicas: 2}}
  environments:
    production:
      successCriteria: error_rate<1%
      analysis: {interval: 5s, minimumSamples: 20}
    staging:
      successCriteria: error_rate<1%
      analysis: {interval: 5s, minimumSamples: 20}
`

// Harness is the real engine on a SQLite store in a temp dir and the fake target, served by the
// real API on a real unix socket: `hugai server` without processes. Time is a Clock the test
// moves, so a rollout waits at a pause until the test says the pause is over; the loop still
// runs on its own, as the server's does.
type Harness struct {
	*Recorder
	Engine *engine.Engine
	Store  store.Store
	Clock  *Clock

	t       testing.TB
	dir     string
	srv     *Server
	targets map[string]*fake.Target

	mu     sync.Mutex
	errPct map[string]float64 // by version
}

// NewHarness starts an engine serving serviceYAML ("" for ServiceYAML) and stops it when the test ends.
func NewHarness(t testing.TB, serviceYAML string) *Harness {
	t.Helper()
	if serviceYAML == "" {
		serviceYAML = ServiceYAML
	}
	dir := t.TempDir()
	svc, err := plan.ParseService("hugai.yaml", []byte(serviceYAML))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(dir, "hugai.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &Harness{Store: st, Clock: &Clock{t: time.Now().UTC().Truncate(time.Second)}, t: t, dir: dir,
		targets: map[string]*fake.Target{}, errPct: map[string]float64{}}
	for _, env := range svc.EnvironmentNames() {
		h.targets[env] = fake.New()
	}
	metrics := metric.Func(func(_ context.Context, q metric.Query) (analysis.Value, error) {
		h.mu.Lock()
		pct := h.errPct[q.Version]
		h.mu.Unlock()
		v := analysis.Value{Samples: 500}
		switch q.Metric {
		case "error_rate":
			v.Value = pct
		case "success_rate":
			v.Value = 100 - pct
		case "latency_mean", "latency_p50", "latency_p90", "latency_p95", "latency_p99":
			v.Value = 0.05
		}
		return v, nil
	})
	h.Engine = engine.New(engine.Config{
		Store: st, Clock: h.Clock, Tick: 10 * time.Millisecond, Logf: t.Logf,
		Services: []*engine.ServiceFile{{Path: filepath.Join(dir, "hugai.yaml"), Data: []byte(serviceYAML), Service: svc}},
		NewRuntime: func(_ context.Context, _ *engine.ServiceFile, env *plan.Env) (*engine.Runtime, error) {
			tg, ok := h.targets[env.Name]
			if !ok {
				return nil, fmt.Errorf("no environment %s", env.Name)
			}
			return &engine.Runtime{Target: tg, Metrics: metrics}, nil
		},
		// PID 0: the harness has no process of its own for `server stop` to wait for.
		Version: "test", DataDir: dir,
	})
	if err := h.Engine.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.Engine.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	h.Recorder = NewRecorder(h.Engine)
	h.srv = Serve(t, h.Recorder, dir)
	return h
}

// Socket is the API's socket.
func (h *Harness) Socket() string { return h.srv.Socket }

// Server is the API server, for tests that stop it.
func (h *Harness) Server() *Server { return h.srv }

// Restart serves the same engine on the same path again, as a server started again after a kill
// would (its rollouts carried on meanwhile).
func (h *Harness) Restart(t testing.TB) {
	t.Helper()
	h.srv = Serve(t, h.Recorder, h.dir)
}

// Target is the environment's fake target.
func (h *Harness) Target(env string) *fake.Target { return h.targets[env] }

// SetErrorRate makes every window of version measure pct percent of errors (0 by default).
func (h *Harness) SetErrorRate(version string, pct float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errPct[version] = pct
}

// Begin starts a rollout behind the recorder's back (it is not one of StartCalls).
func (h *Harness) Begin(actor string, req api.StartRequest) api.Rollout {
	h.t.Helper()
	r, err := h.Engine.Start(context.Background(), policy.User(actor), req)
	if err != nil {
		h.t.Fatalf("start %s: %v", req.Version, err)
	}
	return r
}

// Do sends a command behind the recorder's back.
func (h *Harness) Do(id, actor string, cmd api.Command) api.Rollout {
	h.t.Helper()
	r, err := h.Engine.Do(context.Background(), id, policy.User(actor), cmd)
	if err != nil {
		h.t.Fatalf("%s %s: %v", cmd.Kind, id, err)
	}
	return r
}

// Release deploys version to env as its first release and returns its rollout, Succeeded.
func (h *Harness) Release(env, version string) api.Rollout {
	h.t.Helper()
	r := h.Begin("alice", api.StartRequest{Plan: []byte(Plan("", env)), Version: version})
	return h.Judged(r.ID)
}

// Judged moves the clock window by window until the rollout, serving all traffic, is judged and
// Succeeded: no rollout succeeds before its criteria held on a window at full traffic.
func (h *Harness) Judged(id string) api.Rollout {
	h.t.Helper()
	for range 20 {
		v := h.WaitFor(id, "full traffic", func(v api.Rollout) bool { return v.Phase == "Verifying" || v.Terminal })
		if v.Terminal {
			if v.Phase != "Succeeded" {
				h.t.Fatalf("rollout %s ended %s %s %q", id, v.Phase, v.Reason, v.Message)
			}
			return v
		}
		h.Clock.Add(6 * time.Second) // one 5 s window, judged 1 s after it ends
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("rollout %s was never judged", id)
	return api.Rollout{}
}

// Plan is a canary of demo to env, one weight then all: "" for 20% and a pause of 30 s.
func Plan(steps, env string) string {
	if steps == "" {
		steps = "[{setWeight: 20, pause: {duration: 30s}}, {setWeight: 100}]"
	}
	return fmt.Sprintf("apiVersion: hugai.io/v1\nkind: DeploymentPlan\nspec:\n  service: demo\n  environment: %s\n  strategy: {type: canary, canary: {steps: %s}}\n", env, steps)
}

// WaitFor follows a rollout until cond holds; the timeout only turns a hang into a failure.
func (h *Harness) WaitFor(id, what string, cond func(api.Rollout) bool) api.Rollout {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rev int64 = -1
	for {
		v, err := h.Engine.Wait(ctx, id, rev)
		if err != nil {
			h.t.Fatal(err)
		}
		if cond(v) {
			return v
		}
		if ctx.Err() != nil {
			h.t.Fatalf("%s never happened: rollout %s is %s %s %q", what, id, v.Phase, v.Reason, v.Message)
		}
		rev = v.Revision
	}
}

// Phase is a WaitFor condition.
func Phase(p string) func(api.Rollout) bool {
	return func(v api.Rollout) bool { return v.Phase == p }
}

// Clock is the harness's time: it moves only when the test says.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock on.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var _ server.Engine = (*Recorder)(nil)

// StartCall is one Start the engine received through the API.
type StartCall struct {
	Actor string
	Who   policy.Identity
	Req   api.StartRequest
}

// CommandCall is one Do the engine received through the API.
type CommandCall struct {
	ID, Actor string
	Who       policy.Identity
	Cmd       api.Command
}

// Recorder passes every call to the engine it wraps and keeps what the API asked of it, so a test
// of a command sees what the command sent as well as what the engine made of it.
type Recorder struct {
	server.Engine

	mu       sync.Mutex
	starts   []StartCall
	commands []CommandCall
	started  chan string
}

// NewRecorder wraps e.
func NewRecorder(e server.Engine) *Recorder {
	return &Recorder{Engine: e, started: make(chan string, 100)}
}

// Start records the call, then starts.
func (r *Recorder) Start(ctx context.Context, who policy.Identity, req api.StartRequest) (api.Rollout, error) {
	r.mu.Lock()
	r.starts = append(r.starts, StartCall{Actor: who.Name, Who: who, Req: req})
	r.mu.Unlock()
	ro, err := r.Engine.Start(ctx, who, req)
	if err == nil {
		r.started <- ro.ID
	}
	return ro, err
}

// Do records the command, then applies it.
func (r *Recorder) Do(ctx context.Context, id string, who policy.Identity, cmd api.Command) (api.Rollout, error) {
	r.mu.Lock()
	r.commands = append(r.commands, CommandCall{ID: id, Actor: who.Name, Who: who, Cmd: cmd})
	r.mu.Unlock()
	return r.Engine.Do(ctx, id, who, cmd)
}

// Started delivers the ID of every rollout started through the API.
func (r *Recorder) Started() <-chan string { return r.started }

// StartCalls returns the Starts received, refused ones included.
func (r *Recorder) StartCalls() []StartCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.starts)
}

// Commands returns the commands received, refused ones included.
func (r *Recorder) Commands() []CommandCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.commands)
}
