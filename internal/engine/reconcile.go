package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/notify"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/target"
)

// reconcile is one tick of a service environment: step its active rollout (if any), persist, then
// drive the target to what the state wants. It returns how soon it wants to run again.
func (e *Engine) reconcile(ctx context.Context, rt *envRuntime) (time.Duration, error) {
	status, err := rt.rt.Target.Status(ctx)
	if err != nil {
		return e.cfg.Tick, fmt.Errorf("target status: %w", err)
	}
	desired, next, err := e.step(ctx, rt, status)
	if err != nil {
		return next, err
	}
	// Driving the target happens outside the state lock: stopping a version waits for its grace
	// period, and a person's command must not wait for that.
	return next, e.apply(ctx, rt, status, desired)
}

// step steps the environment's active rollout and commits what changed, under the environment's
// state lock; it returns what the target must now be driven to.
func (e *Engine) step(ctx context.Context, rt *envRuntime, status target.Status) (rollout.DesiredState, time.Duration, error) {
	rt.state.Lock()
	defer rt.state.Unlock()
	service, envName := rt.svc.Service.Metadata.Name, rt.env.Name
	next := e.cfg.Tick
	var desired rollout.DesiredState
	active, err := e.cfg.Store.Rollouts(ctx, store.Filter{Service: service, Environment: envName, Active: true, Limit: 1})
	if err != nil {
		return desired, next, err
	}
	if len(active) > 0 {
		r := active[0]
		spec, st, err := decodeState(r)
		if bad, ok := asInvalid(err); ok {
			if err := e.failInvalid(ctx, r, bad); err != nil {
				return desired, next, err
			}
			// Failed, like a rollback that failed: the last release is what runs.
			desired, err = e.releaseDesired(ctx, rt)
			return desired, next, err
		}
		if err != nil {
			return desired, next, err
		}
		obs := observe(status, st)
		obs.Window = e.measure(ctx, rt, service, spec, st)
		want := rollout.Desired(spec, st)
		obs.SmokeTest = rt.result(want.RunSmokeTest, want.SmokeTestID)
		obs.Database = rt.result(want.RunDatabaseRollback, want.DatabaseRollbackID)
		obs.Run = rt.result(want.Run != "", want.RunID)
		now := e.cfg.Clock.Now()
		nst, events, requeue := rollout.Step(spec, st, obs, now)
		if len(events) > 0 || obs.Window != nil {
			if _, err := e.commit(ctx, r, spec, nst, events, obs.Window, nil); err != nil {
				return desired, next, err
			}
			e.broadcast()
			e.notify(ctx, r, spec, st, nst)
		}
		next = min(next, requeue)
		desired = rollout.Desired(spec, nst)
		if desired.RunSmokeTest {
			preview := desired.Preview != ""
			e.startRun(ctx, rt, desired.SmokeTestID, func(ctx context.Context) (bool, string) {
				if rt.rt.SmokeTest == nil {
					return true, "no smoke test in the service file"
				}
				return rt.rt.SmokeTest(ctx, preview)
			})
		}
		if name := desired.Run; name != "" {
			e.startRun(ctx, rt, desired.RunID, func(ctx context.Context) (bool, string) {
				if rt.rt.Run == nil {
					return false, "this server cannot run " + name
				}
				return rt.rt.Run(ctx, name)
			})
		}
		if desired.RunDatabaseRollback {
			e.startRun(ctx, rt, desired.DatabaseRollbackID, func(ctx context.Context) (bool, string) {
				if rt.rt.DatabaseRollback == nil {
					return false, "no database.rollback command in the service file"
				}
				return rt.rt.DatabaseRollback(ctx)
			})
		}
	} else {
		desired, err = e.releaseDesired(ctx, rt)
		if err != nil {
			return desired, next, err
		}
	}
	return desired, next, nil
}

// releaseDesired is what runs with no rollout under way: the last release, at full traffic.
func (e *Engine) releaseDesired(ctx context.Context, rt *envRuntime) (rollout.DesiredState, error) {
	d := rollout.DesiredState{Replicas: map[string]int{}, Weights: map[string]int{}}
	rels, err := e.cfg.Store.Releases(ctx, rt.svc.Service.Metadata.Name, rt.env.Name, 1)
	if err != nil {
		return d, err
	}
	if len(rels) > 0 {
		v := rels[0].Version
		d.Replicas[v] = replicas(rt)
		d.Weights[v] = 100
		d.Stable = v
	}
	return d, nil
}

func replicas(rt *envRuntime) int {
	if k := rt.env.Target.Kubernetes; rt.env.Target.Type == plan.TargetKubernetes && k != nil && k.Replicas > 0 {
		return k.Replicas
	}
	if l := rt.env.Target.Local; l != nil && l.Replicas > 0 {
		return l.Replicas
	}
	return 1
}

// apply drives the target to desired: start what must run, route, then stop what must not —
// routing first, so no request is sent to a version being stopped.
func (e *Engine) apply(ctx context.Context, rt *envRuntime, status target.Status, d rollout.DesiredState) error {
	var errs []error
	for v, n := range d.Replicas {
		if rs, ok := status.Revisions[v]; ok && rs.Desired == n {
			continue
		}
		if err := rt.rt.Target.Deploy(ctx, target.Revision{Version: v}, n); err != nil {
			errs = append(errs, fmt.Errorf("deploy %s: %w", v, err))
		}
	}
	routing := target.Routing{Weights: d.Weights, Stable: d.Stable, Canary: d.Canary, Preview: d.Preview, HoldTimeout: d.HoldTimeout, Cut: d.Cut}
	if !sameWeights(status.Routing, routing) {
		if err := rt.rt.Target.Route(ctx, routing); err != nil {
			return errors.Join(append(errs, fmt.Errorf("route: %w", err))...)
		}
	}
	for v := range status.Revisions {
		// A version traffic is routed to is not removed even with no replicas asked for: a
		// recreate routes to the new version before starting it, and the proxy holds meanwhile.
		if _, keep := d.Replicas[v]; !keep && d.Weights[v] == 0 {
			if err := rt.rt.Target.Remove(ctx, target.Revision{Version: v}); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", v, err))
			}
		}
	}
	return errors.Join(errs...)
}

func sameWeights(a, b target.Routing) bool {
	if a.Stable != b.Stable || a.Canary != b.Canary || a.Preview != b.Preview || a.HoldTimeout != b.HoldTimeout ||
		!slices.Equal(a.Cut, b.Cut) ||
		len(nonZero(a.Weights)) != len(nonZero(b.Weights)) {
		return false
	}
	for v, w := range nonZero(b.Weights) {
		if a.Weights[v] != w {
			return false
		}
	}
	return true
}

func nonZero(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// commit persists a rollout's new state with its audit events, measurements and approvals in one
// transaction — before anything is done about it. A succeeded rollout records its release in the
// same transaction.
func (e *Engine) commit(ctx context.Context, r store.Rollout, spec rollout.Spec, st rollout.State, events []rollout.Event, w *rollout.Window, approvals []store.Approval) (store.Rollout, error) {
	state, err := encodeState(spec, st)
	if err != nil {
		return r, err
	}
	var before rollout.State
	if e.cfg.Observer != nil && len(r.State) > 0 {
		_, before, _ = decodeState(r) // an unreadable old state observes as a new one
	}
	now := e.cfg.Clock.Now().UTC()
	r.State = state
	r.Phase = string(st.Phase)
	r.Reason = st.Reason
	r.UpdatedAt = now
	tx := store.Tx{Rollout: &r, Approvals: approvals}
	for _, ev := range events {
		payload, err := json.Marshal(ev.Payload)
		if err != nil {
			return r, err
		}
		tx.Events = append(tx.Events, audit.Event{Subject: "rollout/" + r.ID, Type: ev.Type, Actor: actorOr(ev.Actor), Time: now, Payload: payload})
	}
	if w != nil {
		for _, m := range w.Measurements {
			tx.Measurements = append(tx.Measurements, store.Measurement{
				RolloutID: r.ID, Step: st.StepIndex, Metric: m.Metric, Version: st.Candidate, Phase: string(m.Phase),
				Value: m.Value, Message: m.Message, StartedAt: m.From, FinishedAt: m.To,
			})
		}
	}
	switch {
	case st.Phase == rollout.Succeeded:
		tx.Release = &store.Release{Service: r.Service, Environment: r.Environment, Version: st.Candidate, RolloutID: r.ID, Time: now}
	case st.Phase == rollout.RolledBack && st.ReleaseRollback && st.Stable != "":
		// A release rolled back: the version before it is the release again.
		tx.Release = &store.Release{Service: r.Service, Environment: r.Environment, Version: st.Stable, RolloutID: r.ID, Time: now}
	}
	c, err := e.cfg.Store.Commit(ctx, tx)
	if err != nil {
		return r, fmt.Errorf("commit rollout %s: %w", r.ID, err)
	}
	r.Revision = c.Revision
	if e.cfg.Observer != nil {
		ch := Change{RolloutID: r.ID, Service: r.Service, Environment: r.Environment, Strategy: spec.Strategy, Before: before, After: st, At: now}
		if w != nil {
			ch.Measurements = w.Measurements
		}
		e.cfg.Observer.Committed(ch)
	}
	return r, nil
}

func actorOr(a string) string {
	if a == "" {
		return "hugai"
	}
	return a
}

// startRun runs a command the state asks for (a smoke test, the database rollback), once per
// request ID, off the tick: it may take seconds and the proxy's routes must not wait for it. A
// restarted engine runs a request again that it had not recorded a result for.
func (e *Engine) startRun(ctx context.Context, rt *envRuntime, id string, run func(context.Context) (bool, string)) {
	if id == "" {
		return
	}
	rt.runMu.Lock()
	if rt.runs == nil {
		rt.runs = map[string]*rollout.RunResult{}
	}
	_, seen := rt.runs[id]
	if !seen {
		rt.runs[id] = nil // running
	}
	rt.runMu.Unlock()
	if seen {
		return
	}
	e.background(func() {
		passed, output := run(ctx)
		rt.runMu.Lock()
		rt.runs[id] = &rollout.RunResult{ID: id, Passed: passed, Output: output, At: e.cfg.Clock.Now()}
		rt.runMu.Unlock()
		rt.kick()
	})
}

// result is the result of the run a state asks for, once it has one.
func (rt *envRuntime) result(wanted bool, id string) *rollout.RunResult {
	if !wanted {
		return nil
	}
	rt.runMu.Lock()
	defer rt.runMu.Unlock()
	return rt.runs[id]
}

// notifySeverity is who hears about which phase: a failed rollback is an incident, a rollback a
// warning, the rest information.
var notifySeverity = map[rollout.Phase]string{
	rollout.AwaitingApproval: "info",
	rollout.Succeeded:        "info",
	rollout.RollingBack:      "warning",
	rollout.RolledBack:       "warning",
	rollout.Aborted:          "warning",
	rollout.Failed:           "critical",
}

// notify tells the service's channels when a rollout enters a phase people care about. It runs
// after the commit and off the tick: a slow channel never holds a rollback back, and a failed
// delivery is logged, not retried forever.
func (e *Engine) notify(ctx context.Context, r store.Rollout, spec rollout.Spec, before, after rollout.State) {
	if before.Phase == after.Phase {
		return
	}
	if after.Phase.Terminal() && !before.Phase.Terminal() {
		e.finished(ctx, r.ID)
	}
	sev, ok := notifySeverity[after.Phase]
	if !ok || spec.AlertsOff {
		return
	}
	ev := notify.Event{
		Service: r.Service, Environment: r.Environment, RolloutID: r.ID, Version: after.Candidate,
		PreviousVersion: after.Stable, Phase: string(after.Phase), Reason: after.Reason, Message: after.Message,
		Severity: sev, Time: e.cfg.Clock.Now().UTC(),
	}
	if len(spec.AlertChannels) > 0 {
		// The plan names its channels: only those are told (by name, else by type).
		ev.Channels = []int{}
		if sf := e.service(r.Service); sf != nil {
			for _, name := range spec.AlertChannels {
				ev.Channels = append(ev.Channels, sf.Service.Channels(name)...)
			}
		}
	}
	e.send(ctx, r.Service, ev)
}

// notifyTimeout bounds one delivery: a shutdown waits for deliveries under way, not for ever.
const notifyTimeout = 30 * time.Second

// send delivers ev to the service's channels off the tick, tracked so that Run waits for it: a
// rollback's notification is not lost because the server was stopped just after it.
func (e *Engine) send(ctx context.Context, service string, ev notify.Event) {
	n := e.cfg.Notifiers[service]
	if n == nil {
		return
	}
	e.background(func() {
		// Not cancelled with the tick: a notification outlives the request that caused it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
		defer cancel()
		if err := n.Notify(ctx, ev); err != nil {
			e.cfg.Logf("notify %s %s: %v", ev.RolloutID, ev.Phase, err)
		}
	})
}
