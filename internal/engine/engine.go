// Package engine runs rollouts: on every tick it loads a rollout's state, observes the target and
// the metrics, calls the pure rollout.Step, persists the new state with its audit events in one
// transaction, and only then drives the target to what the state wants. Every action is
// idempotent and level-triggered, so a crash at any point is recovered by ticking again.
package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/metric"
	"github.com/hugai-dev/hugai/internal/notify"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/target"
)

// Clock is the engine's only source of time, so tests can drive it.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now() }

// Runtime is what the engine needs to run one service in one environment: the target it drives
// and the metric source that judges versions on it.
type Runtime struct {
	Target  target.Target
	Metrics metric.Provider
	// Check says whether a version can be started at all (its command exists): bad input, refused
	// before anything starts.
	Check func(version string) error
	// SmokeTest runs the service's smoke test against preview (true: the preview version alone)
	// or the live address. nil, or a service with no smoke test, passes.
	SmokeTest func(ctx context.Context, preview bool) (passed bool, output string)
	// DatabaseRollback runs the service file's database.rollback command.
	DatabaseRollback func(ctx context.Context) (passed bool, output string)
	// Run runs a command of a rollout's Spec.Runs by name: an automated checkpoint's command from
	// the service file, or database.migrate (rollout.RunMigrate).
	Run func(ctx context.Context, name string) (passed bool, output string)
}

// ServiceFile is a service file the server was given.
type ServiceFile struct {
	Path    string
	Data    []byte
	Service *plan.Service
}

// Config wires an engine.
type Config struct {
	Store    store.Store
	Services []*ServiceFile
	Clock    Clock
	// NewRuntime makes (or re-adopts) the runtime of a service's environment.
	NewRuntime func(ctx context.Context, svc *ServiceFile, env *plan.Env) (*Runtime, error)
	// Notifiers tell people about each service's rollouts (internal/notify's Fanout, from the
	// service file's notifications); a service without one notifies nobody.
	Notifiers map[string]Notifier
	// Tick bounds how long the engine sleeps between looks at a rollout.
	Tick time.Duration
	// Finished is called once a rollout has ended and its last state is committed (the server
	// signs its statement there, internal/attest); nil: nothing is.
	Finished func(ctx context.Context, rolloutID string)
	Logf     func(format string, args ...any)
	// Observer, when set, learns of every committed change (the server's metrics).
	Observer Observer

	// What the server says about itself (GET /api/v1/info).
	Version string
	PID     int
	DataDir string
	Started time.Time
}

// Notifier delivers an event about a rollout to people.
type Notifier interface {
	Notify(ctx context.Context, e notify.Event) error
}

// Engine runs every rollout of the services it was given.
type Engine struct {
	cfg Config

	mu       sync.Mutex
	runtimes map[string]*envRuntime
	changed  chan struct{}  // closed and replaced whenever a rollout changes
	added    chan struct{}  // a runtime was made: Run starts its goroutine
	running  sync.WaitGroup // the environments' goroutines, waited for when Run returns
	bg       sync.WaitGroup // notifications, smoke tests and database runs, waited for when Run returns
	bgMu     sync.Mutex     // guards stopped against bg.Add
	stopped  bool           // Run is waiting for bg: later work runs in its caller
}

// envRuntime is one service environment: its runtime and what the engine knows of it.
type envRuntime struct {
	key   string
	svc   *ServiceFile
	env   *plan.Env
	rt    *Runtime
	state sync.Mutex // one reader-stepper-committer of this environment's rollouts at a time

	wake chan struct{} // a command or a finished run: tick now
	// panics counts the ticks in a row that panicked, for the backoff; only the environment's
	// goroutine touches it.
	panics int

	runMu sync.Mutex
	runs  map[string]*rollout.RunResult // smoke tests and database rollbacks by request ID; nil: running
}

// New makes an engine; Run starts it.
func New(cfg Config) *Engine {
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 250 * time.Millisecond
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	return &Engine{
		cfg:      cfg,
		runtimes: map[string]*envRuntime{},
		changed:  make(chan struct{}),
		added:    make(chan struct{}, 1),
	}
}

func envKey(service, env string) string { return service + "/" + env }

// Recover brings back every service environment that has a release or an active rollout: the
// runtimes re-adopt their proxies and processes, and the loop carries on where it stopped.
func (e *Engine) Recover(ctx context.Context) error {
	seen := map[string]bool{}
	for _, sf := range e.cfg.Services {
		for _, envName := range envNames(sf.Service) {
			rels, err := e.cfg.Store.Releases(ctx, sf.Service.Metadata.Name, envName, 1)
			if err != nil {
				return fmt.Errorf("recover %s/%s: %w", sf.Service.Metadata.Name, envName, err)
			}
			active, err := e.cfg.Store.Rollouts(ctx, store.Filter{Service: sf.Service.Metadata.Name, Environment: envName, Active: true})
			if err != nil {
				return fmt.Errorf("recover %s/%s: %w", sf.Service.Metadata.Name, envName, err)
			}
			if len(rels) == 0 && len(active) == 0 {
				continue
			}
			key := envKey(sf.Service.Metadata.Name, envName)
			if seen[key] {
				continue
			}
			seen[key] = true
			if _, err := e.runtime(ctx, sf.Service.Metadata.Name, envName); err != nil {
				return err
			}
		}
	}
	return nil
}

// envNames lists the environments a service may run in: its declared ones, or any used before.
func envNames(s *plan.Service) []string {
	names := s.EnvironmentNames()
	if len(names) == 0 {
		return []string{"production", "staging"}
	}
	return names
}

// runtime returns the runtime of a service environment, making it on first use.
func (e *Engine) runtime(ctx context.Context, service, envName string) (*envRuntime, error) {
	key := envKey(service, envName)
	e.mu.Lock()
	rt, ok := e.runtimes[key]
	e.mu.Unlock()
	if ok {
		return rt, nil
	}
	sf := e.service(service)
	if sf == nil {
		return nil, badInput("service %q is not served here (known: %v)", service, e.serviceNames())
	}
	env, err := sf.Service.Env(envName)
	if err != nil {
		return nil, badInput("%v", err)
	}
	r, err := e.cfg.NewRuntime(ctx, sf, env)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", key, err)
	}
	rt = &envRuntime{key: key, svc: sf, env: env, rt: r, wake: make(chan struct{}, 1)}
	e.mu.Lock()
	if existing, ok := e.runtimes[key]; ok {
		e.mu.Unlock()
		return existing, nil
	}
	e.runtimes[key] = rt
	e.mu.Unlock()
	select {
	case e.added <- struct{}{}:
	default:
	}
	return rt, nil
}

func (e *Engine) service(name string) *ServiceFile {
	for _, sf := range e.cfg.Services {
		if sf.Service.Metadata.Name == name {
			return sf
		}
	}
	return nil
}

func (e *Engine) serviceNames() []string {
	var names []string
	for _, sf := range e.cfg.Services {
		names = append(names, sf.Service.Metadata.Name)
	}
	return names
}

// observe reads what the target sees of the rollout's versions.
func observe(st target.Status, s rollout.State) rollout.Observation {
	var obs rollout.Observation
	rev := func(v string) rollout.RevisionObs {
		rs, ok := st.Revisions[v]
		if !ok || v == "" {
			return rollout.RevisionObs{}
		}
		return rollout.RevisionObs{Present: true, Desired: rs.Desired, Ready: rs.Ready, CrashLooping: rs.CrashLooping, StartFailed: rs.StartFailed}
	}
	obs.Candidate = rev(s.Candidate)
	obs.Stable = rev(s.Stable)
	return obs
}

// measure takes the look Due asked for: the criteria over the span so far, the monitors over the
// look's own interval, and the comparison of the two versions second by second when the analysis
// is sequential. A failing read is an Error measurement, never a crash of the loop.
func (e *Engine) measure(ctx context.Context, rt *envRuntime, svc string, spec rollout.Spec, st rollout.State) *rollout.Window {
	l, ok := rollout.Due(spec, st, e.cfg.Clock.Now())
	if !ok {
		return nil
	}
	reader := func(from time.Time) func(string) analysis.Value {
		cache := map[string]analysis.Value{}
		return func(m string) analysis.Value {
			if v, ok := cache[m]; ok {
				return v
			}
			v, err := rt.rt.Metrics.Query(ctx, metric.Query{Service: svc, Version: st.Candidate, Metric: m, From: from, To: l.To})
			if err != nil {
				v = analysis.Value{Err: err.Error()}
			}
			cache[m] = v
			return v
		}
	}
	w := &rollout.Window{From: l.From, To: l.To, Since: l.Since, Measurements: analysis.JudgeWith(l.Conditions, reader(l.Since), spec.Rules(), l.Since, l.To)}
	recent := reader(l.From)
	for _, m := range spec.Monitors {
		kind, _ := criteria.MetricKind(m)
		w.Monitors = append(w.Monitors, analysis.Observe(m, kind, recent(m), l.From, l.To))
	}
	if l.Compare {
		cmp, ok := rt.rt.Metrics.(metric.Comparer)
		if !ok {
			w.PairsErr = "the metric source cannot compare two versions"
			return w
		}
		pairs, lats, err := cmp.Compare(ctx, metric.Comparison{Service: svc, Candidate: st.Candidate, Baseline: st.Stable,
			From: l.From, To: l.To, MaxLatencyRegression: spec.Sequential.MaxRegression.LatencyP95})
		if err != nil {
			w.PairsErr = err.Error()
			return w
		}
		w.Pairs, w.LatencyPairs = pairs, lats
	}
	return w
}

// errors

func badInput(format string, args ...any) error {
	return &api.Error{Code: api.CodeBadInput, Message: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf(format, args...)}
}

func notFound(id string) error {
	return &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("no rollout %q", id)}
}

// Info describes the server for GET /api/v1/info.
func (e *Engine) Info() api.ServerInfo {
	info := api.ServerInfo{Version: e.cfg.Version, PID: e.cfg.PID, DataDir: e.cfg.DataDir, Started: e.cfg.Started}
	for _, sf := range e.cfg.Services {
		for _, env := range envNames(sf.Service) {
			si := api.ServiceInfo{Name: sf.Service.Metadata.Name, File: sf.Path, Environment: env}
			if resolved, err := sf.Service.Env(env); err == nil && resolved.Target.Local != nil {
				si.Listen = resolved.Target.Local.Listen
			}
			if rels, err := e.cfg.Store.Releases(context.Background(), si.Name, env, 1); err == nil && len(rels) > 0 {
				si.Stable = rels[0].Version
			}
			info.Services = append(info.Services, si)
		}
	}
	return info
}
