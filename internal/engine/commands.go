package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/policy"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
)

// Start validates a plan and creates its rollout. Everything that can be refused is refused here,
// before anything starts: a bad plan, an unknown service, environment or template, a version
// whose command does not exist, a caller the environment's policy does not let deploy, a freeze
// window (unless an admin overrides it), a second rollout of the same environment.
func (e *Engine) Start(ctx context.Context, who policy.Identity, req api.StartRequest) (api.Rollout, error) {
	actor := who.Name
	name := req.PlanFile
	if name == "" {
		name = "plan"
	}
	run, err := plan.ParseRun(name, req.Plan)
	if err != nil {
		return api.Rollout{}, badInput("%v", err)
	}
	p := run.Plan
	fill := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	fill(&p.Spec.Service, req.Service)
	fill(&p.Spec.Version, req.Version)
	fill(&p.Spec.Environment, req.Environment)
	if p.Spec.Service == "" {
		if len(e.cfg.Services) != 1 {
			return api.Rollout{}, badInput("the plan names no service (spec.service) and this server runs %v: pass --service", e.serviceNames())
		}
		p.Spec.Service = e.cfg.Services[0].Service.Metadata.Name
	}
	sf := e.service(p.Spec.Service)
	if sf == nil {
		return api.Rollout{}, badInput("service %q is not served here (known: %v)", p.Spec.Service, e.serviceNames())
	}
	if p.Spec.Environment == "" {
		names := sf.Service.EnvironmentNames()
		if len(names) != 1 {
			return api.Rollout{}, badInput("the plan names no environment (spec.environment): pass --environment (one of %v)", names)
		}
		p.Spec.Environment = names[0]
	}
	if p.Spec.Version == "" {
		return api.Rollout{}, badInput("the plan names no version (spec.version): pass --version")
	}
	env, err := sf.Service.Env(p.Spec.Environment)
	if err != nil {
		return api.Rollout{}, badInput("%v", err)
	}
	if errs := plan.CheckAgainst(name, run.Positions, p, run.Rename, sf.Service, p.Spec.Environment); len(errs) > 0 {
		return api.Rollout{}, badInput("%v\n(checked against %s)", errs, sf.Path)
	}
	spec, err := rollout.Compile(p, rollout.Options{Service: sf.Service, Env: env, NoAutoRollback: req.NoAutoRollback,
		NoMonitoring: req.NoMonitoring, RequireApproval: req.RequireApproval})
	if err != nil {
		return api.Rollout{}, badInput("%s: %v", name, err)
	}
	overrides, err := e.admit(ctx, "service/"+p.Spec.Service+"/"+p.Spec.Environment, who, spec, env, req.OverrideFreeze, e.cfg.Clock.Now().UTC())
	if err != nil {
		return api.Rollout{}, err
	}
	rt, err := e.runtime(ctx, p.Spec.Service, p.Spec.Environment)
	if err != nil {
		return api.Rollout{}, err
	}
	if rt.rt.Check != nil {
		if err := rt.rt.Check(p.Spec.Version); err != nil {
			return api.Rollout{}, badInput("version %s: %v", p.Spec.Version, err)
		}
	}
	frozen, err := plan.Marshal(p)
	if err != nil {
		return api.Rollout{}, err
	}
	sum := sha256.Sum256(frozen)

	// One rollout per environment at a time: the check and the insert happen under the
	// environment's state lock, which every writer of its rollouts holds.
	rt.state.Lock()
	defer rt.state.Unlock()
	active, err := e.cfg.Store.Rollouts(ctx, store.Filter{Service: p.Spec.Service, Environment: p.Spec.Environment, Active: true, Limit: 1})
	if err != nil {
		return api.Rollout{}, err
	}
	if len(active) > 0 {
		return api.Rollout{}, conflict("rollout %s of %s to %s is still %s: wait for it, or abort it", active[0].ID, active[0].Service, active[0].Environment, active[0].Phase)
	}
	stable := ""
	rels, err := e.cfg.Store.Releases(ctx, p.Spec.Service, p.Spec.Environment, 1)
	if err != nil {
		return api.Rollout{}, err
	}
	if len(rels) > 0 {
		stable = rels[0].Version
	}
	if stable == p.Spec.Version {
		return api.Rollout{}, badInput("%s is already the stable version of %s in %s", stable, p.Spec.Service, p.Spec.Environment)
	}
	now := e.cfg.Clock.Now().UTC()
	st := rollout.New(stable, p.Spec.Version, now)
	st.StartedBy = actor
	st.PlannedBy = p.Metadata.Annotations[plan.AnnotationPlannedBy]
	state, err := encodeState(spec, st)
	if err != nil {
		return api.Rollout{}, err
	}
	r := store.Rollout{
		Service: p.Spec.Service, Environment: p.Spec.Environment, Version: p.Spec.Version, PreviousVersion: stable,
		Strategy: spec.Strategy, Phase: string(st.Phase), Plan: frozen, PlanSHA256: hex.EncodeToString(sum[:]),
		ServiceFile: sf.Data, State: state, CreatedBy: actor, CreatedAt: now, UpdatedAt: now,
	}
	payload, _ := json.Marshal(map[string]any{"version": p.Spec.Version, "previous": stable, "environment": p.Spec.Environment, "strategy": spec.Strategy, "planSHA256": r.PlanSHA256,
		"fourEyes": spec.FourEyes, "fourEyesWhy": spec.FourEyesWhy, "auth": authOf(who)})
	events := []audit.Event{{Type: "rollout.requested", Actor: actor, Time: now, Payload: payload}}
	for _, o := range overrides {
		o.Time = now
		events = append(events, o)
	}
	c, err := e.cfg.Store.Commit(ctx, store.Tx{Rollout: &r, Events: events})
	if err != nil {
		return api.Rollout{}, fmt.Errorf("create rollout: %w", err)
	}
	r.ID, r.Revision = c.RolloutID, c.Revision
	e.kick()
	e.broadcast()
	return e.view(ctx, r)
}

// Do applies a person's command: checked, stepped and persisted under the environment's lock;
// the loop then drives the target.
func (e *Engine) Do(ctx context.Context, id string, who policy.Identity, cmd api.Command) (api.Rollout, error) {
	actor := who.Name
	r, err := e.load(ctx, id)
	if err != nil {
		return api.Rollout{}, err
	}
	rt, err := e.runtime(ctx, r.Service, r.Environment)
	if err != nil {
		return api.Rollout{}, err
	}
	rt.state.Lock()
	defer rt.state.Unlock()
	if r, err = e.load(ctx, id); err != nil { // again, under the lock
		return api.Rollout{}, err
	}
	spec, st, err := decodeState(r)
	if bad, ok := asInvalid(err); ok {
		if !rollout.Phase(r.Phase).Terminal() {
			if err := e.failInvalid(ctx, r, bad); err != nil {
				return api.Rollout{}, err
			}
		}
		return api.Rollout{}, conflict("%v: the rollout cannot take commands", bad)
	}
	if err != nil {
		return api.Rollout{}, err
	}
	if cmd.Kind == rollout.CommandRollback && st.Phase == rollout.Succeeded {
		if d := spec.Policy.Require(who, policy.Deployer, "roll back a release"); !d.Allowed {
			return api.Rollout{}, e.refuse(ctx, "rollout/"+r.ID, string(cmd.Kind), who, d.Rule, d.Reason)
		}
		return e.rollbackRelease(ctx, r, spec, st, who, cmd.Emergency)
	}
	c := rollout.Command{Kind: cmd.Kind, Actor: actor, Who: who, Gate: cmd.Gate, Comment: cmd.Comment, Full: cmd.Full, Emergency: cmd.Emergency}
	if err := rollout.Validate(spec, st, c); err != nil {
		var ce *rollout.CommandError
		if errors.As(err, &ce) {
			switch {
			case ce.Denied:
				return api.Rollout{}, e.commandDenied(ctx, r, who, cmd.Kind, err)
			case ce.Conflict:
				return api.Rollout{}, conflict("%s", ce.Msg)
			}
		}
		return api.Rollout{}, badInput("%v", err)
	}
	status, err := rt.rt.Target.Status(ctx)
	if err != nil {
		return api.Rollout{}, err
	}
	obs := observe(status, st)
	obs.Command = &c
	var approvals []store.Approval
	if c.Kind == rollout.CommandApprove || c.Kind == rollout.CommandReject {
		decision := "approved"
		if c.Kind == rollout.CommandReject {
			decision = "rejected"
		}
		gate := rollout.CurrentGate(spec, st).Name
		if c.Gate != "" {
			gate = c.Gate // Validate checked it is the current gate or an optional checkpoint
		}
		approvals = append(approvals, store.Approval{RolloutID: r.ID, Gate: gate, Actor: actor, Decision: decision, Comment: c.Comment, Time: e.cfg.Clock.Now().UTC()})
	}
	nst, events, _ := rollout.Step(spec, st, obs, e.cfg.Clock.Now())
	stamp(events, who)
	r, err = e.commit(ctx, r, spec, nst, events, nil, approvals)
	if err != nil {
		return api.Rollout{}, err
	}
	e.notify(ctx, r, spec, st, nst)
	e.kick()
	e.broadcast()
	return e.view(ctx, r)
}

func (e *Engine) load(ctx context.Context, id string) (store.Rollout, error) {
	r, err := e.cfg.Store.Rollout(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return r, notFound(id)
	}
	return r, err
}

// Get returns the rollout as the API shows it.
func (e *Engine) Get(ctx context.Context, id string) (api.Rollout, error) {
	r, err := e.load(ctx, id)
	if err != nil {
		return api.Rollout{}, err
	}
	return e.view(ctx, r)
}

// List returns rollouts, newest first.
func (e *Engine) List(ctx context.Context, f api.ListFilter) ([]api.Rollout, error) {
	rs, err := e.cfg.Store.Rollouts(ctx, store.Filter{Service: f.Service, Environment: f.Environment, Active: f.Active, Limit: f.Limit})
	if err != nil {
		return nil, err
	}
	out := make([]api.Rollout, 0, len(rs))
	for _, r := range rs {
		v, err := e.view(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Wait blocks until the rollout's revision passes afterRevision, or ctx ends (then it answers the
// rollout as it is).
func (e *Engine) Wait(ctx context.Context, id string, afterRevision int64) (api.Rollout, error) {
	for {
		e.mu.Lock()
		ch := e.changed
		e.mu.Unlock()
		v, err := e.Get(ctx, id)
		if err != nil || v.Revision > afterRevision {
			return v, err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return e.Get(context.WithoutCancel(ctx), id)
		}
	}
}

// rollbackRelease rolls back a release that succeeded: a new rollout, of the same frozen plan and
// its rollback steps, that brings the release before it back. Only the environment's current
// release can be rolled back, and only while nothing else runs there. The caller holds the state lock.
func (e *Engine) rollbackRelease(ctx context.Context, r store.Rollout, spec rollout.Spec, st rollout.State, who policy.Identity, emergency bool) (api.Rollout, error) {
	actor := who.Name
	rels, err := e.cfg.Store.Releases(ctx, r.Service, r.Environment, 1)
	if err != nil {
		return api.Rollout{}, err
	}
	if len(rels) == 0 || rels[0].RolloutID != r.ID {
		current := "nothing"
		if len(rels) > 0 {
			current = fmt.Sprintf("%s (rollout %s)", rels[0].Version, rels[0].RolloutID)
		}
		return api.Rollout{}, conflict("%s is not the current release of %s in %s (that is %s)", r.ID, r.Service, r.Environment, current)
	}
	if st.Stable == "" {
		return api.Rollout{}, conflict("%s was the first release of %s in %s: there is nothing to roll back to", r.ID, r.Service, r.Environment)
	}
	active, err := e.cfg.Store.Rollouts(ctx, store.Filter{Service: r.Service, Environment: r.Environment, Active: true, Limit: 1})
	if err != nil {
		return api.Rollout{}, err
	}
	if len(active) > 0 {
		return api.Rollout{}, conflict("rollout %s is still %s in %s: abort it first", active[0].ID, active[0].Phase, r.Environment)
	}
	now := e.cfg.Clock.Now().UTC()
	nst := rollout.NewReleaseRollback(st.Stable, st.Candidate, emergency, now)
	state, err := encodeState(spec, nst)
	if err != nil {
		return api.Rollout{}, err
	}
	nr := store.Rollout{
		Service: r.Service, Environment: r.Environment, Version: st.Stable, PreviousVersion: st.Candidate,
		Strategy: "rollback", Phase: string(nst.Phase), Reason: nst.Reason, Plan: r.Plan, PlanSHA256: r.PlanSHA256,
		ServiceFile: r.ServiceFile, State: state, CreatedBy: actor, CreatedAt: now, UpdatedAt: now,
	}
	payload, _ := json.Marshal(map[string]any{"of": r.ID, "from": st.Candidate, "to": st.Stable, "emergency": emergency, "auth": authOf(who)})
	c, err := e.cfg.Store.Commit(ctx, store.Tx{Rollout: &nr, Events: []audit.Event{
		{Type: "rollout.requested", Actor: actor, Time: now, Payload: payload},
		{Subject: "rollout/" + r.ID, Type: "rollout.rollbackRequested", Actor: actor, Time: now, Payload: payload},
	}})
	if err != nil {
		return api.Rollout{}, fmt.Errorf("create rollback: %w", err)
	}
	nr.ID, nr.Revision = c.RolloutID, c.Revision
	e.kick()
	e.broadcast()
	return e.view(ctx, nr)
}
