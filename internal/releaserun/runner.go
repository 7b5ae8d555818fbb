// Package releaserun runs releases through their stages on the server (`hugai release
// execute`): it asks the pure stages.Step what to do, persists each decision with its audit
// events before acting on it, and acts through the engine — a stage's rollout is an ordinary
// rollout, started, followed and rolled back as `hugai deploy` does. Runs are kept in the store,
// so a server that restarts (even after kill -9) picks every unfinished run up where it stopped.
package releaserun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/engine"
	"github.com/hugai-dev/hugai/internal/release/stages"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
)

// Rollouts is the engine as the runner uses it: the same calls the API makes for `hugai deploy`.
type Rollouts interface {
	Start(ctx context.Context, actor string, req api.StartRequest) (api.Rollout, error)
	List(ctx context.Context, f api.ListFilter) ([]api.Rollout, error)
	Do(ctx context.Context, id, actor string, cmd api.Command) (api.Rollout, error)
	Wait(ctx context.Context, id string, afterRevision int64) (api.Rollout, error)
	RunCheck(ctx context.Context, service, env, name string) (passed bool, output string, err error)
	Info() api.ServerInfo
}

// Store is where releases and their runs are kept.
type Store interface {
	store.ReleaseStore
	store.ReleaseRunStore
}

// Config wires a runner.
type Config struct {
	Store    Store
	Rollouts Rollouts
	Services []*engine.ServiceFile
	Clock    engine.Clock
	Logf     func(format string, args ...any)
	// FollowPoll bounds one wait for a stage's rollout to change (default 10 s), so a run notices
	// shutdown without waiting for its rollout.
	FollowPoll time.Duration
	// Retry is the pause after a failed read or write of the store (default 1 s).
	Retry time.Duration
}

// Runner runs every release run of a server.
type Runner struct {
	cfg Config

	// execMu makes Execute's check for a run of the same service and its insert one step.
	execMu sync.Mutex

	mu      sync.Mutex
	changed chan struct{}   // closed and replaced whenever a run changes
	queue   []string        // runs to start driving
	driving map[string]bool // runs a goroutine drives
	kick    chan struct{}
}

// New makes a runner; Run starts it.
func New(cfg Config) *Runner {
	if cfg.Clock == nil {
		cfg.Clock = engine.SystemClock{}
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.FollowPoll <= 0 {
		cfg.FollowPoll = 10 * time.Second
	}
	if cfg.Retry <= 0 {
		cfg.Retry = time.Second
	}
	return &Runner{cfg: cfg, changed: make(chan struct{}), driving: map[string]bool{}, kick: make(chan struct{}, 1)}
}

// schema is the version of document this binary writes; a newer one is refused, not misread.
const schema = 1

// document is what the store keeps of a run: the stages and plans frozen when it started, and its
// state.
type document struct {
	Schema int          `json:"schema"`
	Spec   stages.Spec  `json:"spec"`
	Plans  []stagePlan  `json:"plans"` // the DeploymentPlan each stage's rollout runs, as the release holds it
	State  stages.State `json:"state"`
}

type stagePlan struct {
	Environment string `json:"environment"`
	YAML        string `json:"yaml"`
}

func (d *document) plan(env string) []byte {
	for _, p := range d.Plans {
		if p.Environment == env {
			return []byte(p.YAML)
		}
	}
	return nil
}

func decode(r store.ReleaseRun) (document, error) {
	var d document
	if err := json.Unmarshal(r.Document, &d); err != nil {
		return d, fmt.Errorf("release run %s: read: %w", r.ID, err)
	}
	if d.Schema > schema {
		return d, fmt.Errorf("release run %s: schema %d is newer than this hugai's %d", r.ID, d.Schema, schema)
	}
	return d, nil
}

// Run drives every unfinished run, and each new one, until ctx ends; then it waits for them to
// stop (each stops between two actions: its progress is in the store).
func (r *Runner) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	active, err := r.cfg.Store.ReleaseRuns(ctx, store.ReleaseRunFilter{Active: true})
	if err != nil {
		return fmt.Errorf("resume release runs: %w", err)
	}
	for _, run := range active {
		r.enqueue(run.ID)
	}
	for {
		r.mu.Lock()
		queue := r.queue
		r.queue = nil
		for _, id := range queue {
			if r.driving[id] {
				continue
			}
			r.driving[id] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.drive(ctx, id)
				r.mu.Lock()
				delete(r.driving, id)
				r.mu.Unlock()
			}()
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-r.kick:
		}
	}
}

func (r *Runner) enqueue(id string) {
	r.mu.Lock()
	r.queue = append(r.queue, id)
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *Runner) broadcast() {
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// drive steps one run to its end, or until ctx ends.
func (r *Runner) drive(ctx context.Context, id string) {
	var obs stages.Observation
	seen := map[string]int64{} // the revision of each rollout last seen, for Wait
	for ctx.Err() == nil {
		run, err := r.cfg.Store.ReleaseRun(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			r.cfg.Logf("release run %s: gone from the store", id)
			return
		}
		if err != nil {
			r.cfg.Logf("release run %s: %v", id, err)
			sleep(ctx, r.cfg.Retry)
			continue
		}
		doc, err := decode(run)
		if err != nil {
			r.failUnreadable(ctx, run, err)
			return
		}
		now := r.cfg.Clock.Now().UTC()
		st, events, act := stages.Step(doc.Spec, doc.State, obs, now)
		obs = stages.Observation{}
		if len(events) > 0 || !sameState(doc.State, st) {
			doc.State = st
			if err := r.write(ctx, &run, doc, events, now); err != nil {
				// A conflict or a failed write: read again and decide again; the observation is
				// lost, and the action it came from is asked for again, which is safe.
				r.cfg.Logf("release run %s: %v", id, err)
				sleep(ctx, r.cfg.Retry)
				continue
			}
		}
		if act.Kind == stages.ActNone {
			return
		}
		o, ok := r.act(ctx, run, doc, act, seen)
		if !ok {
			continue // ctx ended, or nothing new: decide again
		}
		obs = o
	}
}

// failUnreadable ends a run whose stored document this binary cannot read (corrupt, or written
// by a newer hugai): Failed, audited, no longer active, so the service can be released again; the
// document is kept as it is for whoever investigates.
func (r *Runner) failUnreadable(ctx context.Context, run store.ReleaseRun, cause error) {
	r.cfg.Logf("%v: the run is failed and its document kept as it is", cause)
	now := r.cfg.Clock.Now().UTC()
	from := run.Phase
	run.Phase, run.Active, run.UpdatedAt = string(stages.Failed), false, now
	payload, _ := json.Marshal(map[string]any{"from": from, "to": run.Phase, "reason": "invalid-state", "message": cause.Error()})
	if _, err := r.cfg.Store.UpdateReleaseRun(ctx, run, []audit.Event{{Type: "release.phase", Actor: "hugai", Time: now, Payload: payload}}); err != nil {
		r.cfg.Logf("release run %s: %v", run.ID, err)
		return
	}
	r.broadcast()
}

func sameState(a, b stages.State) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// write persists a run's new state and its audit events in one transaction.
func (r *Runner) write(ctx context.Context, run *store.ReleaseRun, doc document, events []stages.Event, now time.Time) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	run.Document, run.Phase, run.Active, run.UpdatedAt = b, string(doc.State.Phase), !doc.State.Phase.Terminal(), now
	evs, err := auditEvents(events, now)
	if err != nil {
		return err
	}
	rev, err := r.cfg.Store.UpdateReleaseRun(ctx, *run, evs)
	if err != nil {
		return err
	}
	run.Revision = rev
	r.broadcast()
	return nil
}

func auditEvents(events []stages.Event, now time.Time) ([]audit.Event, error) {
	var out []audit.Event
	for _, e := range events {
		payload, err := json.Marshal(e.Payload)
		if err != nil {
			return nil, err
		}
		out = append(out, audit.Event{Type: e.Type, Actor: "hugai", Time: now, Payload: payload})
	}
	return out, nil
}

// act does what Step asked and says what came of it; ok false means nothing to tell (ctx ended,
// or a wait saw no change worth a Step).
func (r *Runner) act(ctx context.Context, run store.ReleaseRun, doc document, a stages.Action, seen map[string]int64) (stages.Observation, bool) {
	spec := doc.Spec
	stage := spec.Stages[a.Stage]
	ss := doc.State.Stages[a.Stage]
	actor := doc.State.StartedBy
	switch a.Kind {
	case stages.ActRunCheck:
		passed, out, err := r.cfg.Rollouts.RunCheck(ctx, spec.Service, stage.Environment, a.Check)
		if ctx.Err() != nil {
			return stages.Observation{}, false
		}
		if err != nil {
			passed, out = false, err.Error()
		}
		return stages.Observation{Check: &stages.CheckResult{Name: a.Check, Passed: passed, Output: out}}, true

	case stages.ActStartRollout:
		if id, ok := r.find(ctx, spec, stage.Environment, ss.RequestedAt, false); ok {
			return stages.Observation{Started: &stages.Started{ID: id}}, true
		}
		if r.stable(spec.Service, stage.Environment) == spec.Version {
			return stages.Observation{Started: &stages.Started{Already: true}}, true
		}
		req := api.StartRequest{Plan: doc.plan(stage.Environment), PlanFile: fmt.Sprintf("release %s, stage %s", spec.Tag, stage.Name),
			Service: spec.Service, Version: spec.Version, Environment: stage.Environment, RequireApproval: a.Approval}
		ro, err := r.cfg.Rollouts.Start(ctx, actor, req)
		if ctx.Err() != nil {
			return stages.Observation{}, false
		}
		if err != nil {
			return stages.Observation{Started: &stages.Started{Err: err.Error()}}, true
		}
		return stages.Observation{Started: &stages.Started{ID: ro.ID}}, true

	case stages.ActRollback:
		if id, ok := r.find(ctx, spec, stage.Environment, ss.RequestedAt, true); ok {
			return stages.Observation{Started: &stages.Started{ID: id}}, true
		}
		ro, err := r.cfg.Rollouts.Do(ctx, a.RolloutID, actor, api.Command{Kind: rollout.CommandRollback, Comment: fmt.Sprintf("release %s: %s", spec.Tag, ss.Message)})
		if ctx.Err() != nil {
			return stages.Observation{}, false
		}
		if err != nil {
			return stages.Observation{Started: &stages.Started{Err: err.Error()}}, true
		}
		return stages.Observation{Started: &stages.Started{ID: ro.ID}}, true

	case stages.ActFollow:
		wctx, cancel := context.WithTimeout(ctx, r.cfg.FollowPoll)
		ro, err := r.cfg.Rollouts.Wait(wctx, a.RolloutID, seen[a.RolloutID])
		timedOut := wctx.Err() != nil
		cancel()
		if ctx.Err() != nil || (err != nil && timedOut) {
			return stages.Observation{}, false // shutdown, or no news within the poll
		}
		if err != nil {
			r.cfg.Logf("release run %s: follow %s: %v", run.ID, a.RolloutID, err)
			sleep(ctx, r.cfg.Retry)
			return stages.Observation{}, false
		}
		seen[a.RolloutID] = ro.Revision
		return stages.Observation{Rollout: &stages.RolloutObs{ID: ro.ID, Phase: ro.Phase, Terminal: ro.Terminal, Reason: ro.Reason, Message: ro.Message}}, true
	}
	r.cfg.Logf("release run %s: unknown action %q", run.ID, a.Kind)
	sleep(ctx, r.cfg.Retry)
	return stages.Observation{}, false
}

// find looks for the rollout (or the rollback) of a stage that was asked for since requested: a
// runner killed between asking and recording the answer finds it here instead of starting a
// second one.
func (r *Runner) find(ctx context.Context, spec stages.Spec, env string, requested *time.Time, rollback bool) (string, bool) {
	if requested == nil {
		return "", false
	}
	rs, err := r.cfg.Rollouts.List(ctx, api.ListFilter{Service: spec.Service, Environment: env, Limit: 20})
	if err != nil {
		return "", false
	}
	// The store keeps microseconds: a rollout created in the same one as the request is its own.
	since := requested.Add(-time.Millisecond)
	for _, ro := range rs {
		if ro.CreatedAt.Before(since) {
			continue
		}
		if rollback && ro.Strategy == "rollback" && ro.PreviousVersion == spec.Version {
			return ro.ID, true
		}
		if !rollback && ro.Strategy != "rollback" && ro.Version == spec.Version {
			return ro.ID, true
		}
	}
	return "", false
}

// stable is the version an environment runs now, as the server reports it.
func (r *Runner) stable(service, env string) string {
	for _, s := range r.cfg.Rollouts.Info().Services {
		if s.Name == service && s.Environment == env {
			return s.Stable
		}
	}
	return ""
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
