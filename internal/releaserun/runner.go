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
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/engine"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/release"
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

// Execute checks a release and its stages and starts a run. Everything that can be refused is
// refused here, before anything changes: an unknown release, a release without a plan for a
// stage's environment, a service file without stages, a plan that does not run against it, a run
// of the same service still going.
func (r *Runner) Execute(ctx context.Context, actor string, req api.ReleaseExecuteRequest) (api.ReleaseRun, error) {
	if req.Tag == "" {
		return api.ReleaseRun{}, badInput("no release named: pass its version, e.g. 1.3.0")
	}
	rec, err := r.cfg.Store.ReleaseRecord(ctx, req.Tag)
	if errors.Is(err, store.ErrNotFound) {
		return api.ReleaseRun{}, badInput("no release %s is recorded in this server's data dir%s", req.Tag, r.knownTags(ctx))
	}
	if err != nil {
		return api.ReleaseRun{}, err
	}
	var rel release.Release
	if err := json.Unmarshal(rec.Document, &rel); err != nil {
		return api.ReleaseRun{}, fmt.Errorf("read release %s: %w", req.Tag, err)
	}
	if len(rel.Environments) == 0 || rel.Environments[0].Plan == nil {
		return api.ReleaseRun{}, badInput("release %s holds no deployment plans (%s): create it with the service file", req.Tag, rel.PlansNote)
	}
	first := rel.Environments[0].Plan.Spec
	sf := r.service(first.Service)
	if sf == nil {
		return api.ReleaseRun{}, badInput("release %s is of service %q, which this server does not serve (it serves %s)", req.Tag, first.Service, strings.Join(r.serviceNames(), ", "))
	}
	spec, err := stages.Compile(sf.Service, req.Tag, first.Version)
	if err != nil {
		return api.ReleaseRun{}, badInput("%s: %v", sf.Path, err)
	}
	doc := document{Schema: schema, Spec: spec}
	for i, st := range spec.Stages {
		if _, err := sf.Service.Env(st.Environment); err != nil {
			return api.ReleaseRun{}, badInput("%s: spec.release.stages[%d].environment: %v", sf.Path, i, err)
		}
		ep := planFor(rel, st.Environment)
		if ep == nil {
			return api.ReleaseRun{}, badInput("release %s holds no plan for environment %s, which stage %s deploys to (it holds %s): cut a new release with this service file",
				req.Tag, st.Environment, st.Name, strings.Join(planEnvs(rel), ", "))
		}
		y, err := plan.Marshal(ep)
		if err != nil {
			return api.ReleaseRun{}, fmt.Errorf("release %s: write the plan of %s: %w", req.Tag, st.Environment, err)
		}
		name := fmt.Sprintf("release %s (%s)", req.Tag, st.Environment)
		run, err := plan.ParseRun(name, y)
		if err != nil {
			return api.ReleaseRun{}, badInput("%v", err)
		}
		if errs := plan.CheckAgainst(name, run.Positions, run.Plan, run.Rename, sf.Service, st.Environment); len(errs) > 0 {
			return api.ReleaseRun{}, badInput("stage %s: the release's plan cannot run against %s:\n%v", st.Name, sf.Path, errs)
		}
		doc.Plans = append(doc.Plans, stagePlan{Environment: st.Environment, YAML: string(y)})
	}
	r.execMu.Lock()
	defer r.execMu.Unlock()
	active, err := r.cfg.Store.ReleaseRuns(ctx, store.ReleaseRunFilter{Active: true})
	if err != nil {
		return api.ReleaseRun{}, err
	}
	for _, a := range active {
		if a.Service == spec.Service {
			return api.ReleaseRun{}, &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf("release run %s of %s (%s) is still %s: wait for it", a.ID, a.Tag, a.Service, a.Phase)}
		}
	}
	now := r.cfg.Clock.Now().UTC()
	doc.State = stages.New(spec, actor, now)
	b, err := json.Marshal(doc)
	if err != nil {
		return api.ReleaseRun{}, err
	}
	var names []string
	for _, st := range spec.Stages {
		names = append(names, st.Name+"→"+st.Environment)
	}
	payload, _ := json.Marshal(map[string]any{"service": spec.Service, "version": spec.Version, "stages": names})
	run, err := r.cfg.Store.CreateReleaseRun(ctx, store.ReleaseRun{Tag: req.Tag, Service: spec.Service, Phase: string(doc.State.Phase), Active: true,
		Document: b, CreatedBy: actor, CreatedAt: now, UpdatedAt: now}, []audit.Event{{Type: "release.executeRequested", Actor: actor, Time: now, Payload: payload}})
	if err != nil {
		return api.ReleaseRun{}, fmt.Errorf("start release %s: %w", req.Tag, err)
	}
	r.enqueue(run.ID)
	r.broadcast()
	return view(run), nil
}

func planFor(rel release.Release, env string) *plan.DeploymentPlan {
	for _, ep := range rel.Environments {
		if ep.Environment == env {
			return ep.Plan
		}
	}
	return nil
}

func planEnvs(rel release.Release) []string {
	var out []string
	for _, ep := range rel.Environments {
		out = append(out, ep.Environment)
	}
	return out
}

func (r *Runner) knownTags(ctx context.Context) string {
	recs, err := r.cfg.Store.ReleaseRecords(ctx, "*", 10)
	if err != nil || len(recs) == 0 {
		return " (none is: cut one with 'hugai release create')"
	}
	var tags []string
	for _, rec := range recs {
		tags = append(tags, rec.Tag)
	}
	sort.Strings(tags)
	return " (recorded: " + strings.Join(tags, ", ") + ")"
}

func (r *Runner) service(name string) *engine.ServiceFile {
	for _, sf := range r.cfg.Services {
		if sf.Service.Metadata.Name == name {
			return sf
		}
	}
	return nil
}

func (r *Runner) serviceNames() []string {
	var out []string
	for _, sf := range r.cfg.Services {
		out = append(out, sf.Service.Metadata.Name)
	}
	return slices.Sorted(slices.Values(out))
}

// Get returns a run as the API shows it.
func (r *Runner) Get(ctx context.Context, id string) (api.ReleaseRun, error) {
	run, err := r.cfg.Store.ReleaseRun(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return api.ReleaseRun{}, &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("no release run %q", id)}
	}
	if err != nil {
		return api.ReleaseRun{}, err
	}
	return view(run), nil
}

// List returns runs newest first: of one release when tag is set.
func (r *Runner) List(ctx context.Context, tag string, limit int) ([]api.ReleaseRun, error) {
	runs, err := r.cfg.Store.ReleaseRuns(ctx, store.ReleaseRunFilter{Tag: tag, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := []api.ReleaseRun{}
	for _, run := range runs {
		out = append(out, view(run))
	}
	return out, nil
}

// Wait blocks until the run's revision passes afterRevision, or ctx ends (then it answers the run
// as it is).
func (r *Runner) Wait(ctx context.Context, id string, afterRevision int64) (api.ReleaseRun, error) {
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		v, err := r.Get(ctx, id)
		if err != nil || v.Revision > afterRevision {
			return v, err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return r.Get(context.WithoutCancel(ctx), id)
		}
	}
}

// view is a run as the API shows it; one whose document cannot be read shows what the store's
// columns say, and why.
func view(run store.ReleaseRun) api.ReleaseRun {
	doc, err := decode(run)
	if err != nil {
		v := api.ReleaseRun{ID: run.ID, Tag: run.Tag, Service: run.Service, Phase: run.Phase, Reason: "invalid-state", Message: err.Error(),
			Revision: run.Revision, CreatedBy: run.CreatedBy, CreatedAt: run.CreatedAt, UpdatedAt: run.UpdatedAt, Terminal: !run.Active}
		if v.Terminal {
			v.ExitCode = stages.Phase(run.Phase).ExitCode()
		}
		return v
	}
	st := doc.State
	v := api.ReleaseRun{ID: run.ID, Tag: run.Tag, Service: run.Service, Version: doc.Spec.Version, Phase: string(st.Phase),
		Reason: st.Reason, Message: st.Message, Current: st.Current, Revision: run.Revision, CreatedBy: run.CreatedBy,
		CreatedAt: run.CreatedAt, UpdatedAt: run.UpdatedAt, FinishedAt: st.FinishedAt, Terminal: st.Phase.Terminal()}
	if v.Terminal {
		v.ExitCode = st.Phase.ExitCode()
	}
	for i, ss := range st.Stages {
		s := api.ReleaseStage{StageState: ss}
		if i < len(doc.Spec.Stages) {
			sp := doc.Spec.Stages[i]
			s.PreChecks, s.Validation, s.Approval = sp.PreChecks, sp.Validation, sp.Approval
		}
		v.Stages = append(v.Stages, s)
	}
	return v
}

func badInput(format string, args ...any) error {
	return &api.Error{Code: api.CodeBadInput, Message: fmt.Sprintf(format, args...)}
}
