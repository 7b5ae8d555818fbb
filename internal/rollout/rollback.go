package rollout

// The rollback manager: a rollback is a reverse rollout to the previous release, in order —
//
//	traffic    all traffic to the previous version, at once, never waiting for a person (when
//	           the previous version is not running, as after a promotion, it is started first
//	           and the current one keeps serving until it is ready);
//	instances  the rolled-back version stopped, the previous one at full strength;
//	database   only when the release changed migrations (the plan has the step): the service
//	           file's database.rollback command, after an approval unless the rollback is an
//	           emergency;
//	verify     health checks (the previous version ready) and the smoke test against it —
//
// each within its max duration, each audited. A step that fails or overruns ends in Failed
// (exit 1): the service is in a state a person must look at. The steps come from the plan's
// spec.rollback.steps; a plan without them gets traffic, instances and verification.

import (
	"fmt"
	"time"

	"github.com/hugai-dev/hugai/internal/plan"
)

// RollbackStepSpec is one compiled rollback step.
type RollbackStepSpec struct {
	Name             string        `json:"name"`
	Action           string        `json:"action"`
	MaxDuration      time.Duration `json:"maxDuration,omitempty"`
	RequiresApproval bool          `json:"requiresApproval,omitempty"`
}

// ReasonDatabaseRejected ends a rollback whose database step a person refused.
const ReasonDatabaseRejected = "database-rollback-rejected"

// RunResult is the outcome of a command the engine ran for a rollout (the database rollback).
type RunResult = SmokeResult

// DatabaseRollbackID names the database rollback requested at t.
func DatabaseRollbackID(t time.Time) string { return "db-" + t.UTC().Format(time.RFC3339Nano) }

func (s *Spec) compileRollback(p *plan.DeploymentPlan, env *plan.Env, database bool) {
	s.DatabaseRollback = database
	s.RollbackGate = gateOf("database-rollback", env.Policy.Approvers, env.Policy.ApprovalsRequired, nil, plan.DefaultApprovalTimeout)
	if env.Policy.ApprovalTimeout != nil {
		s.RollbackGate.Timeout = env.Policy.ApprovalTimeout.Duration
	}
	if r := p.Spec.Rollback; r != nil {
		for _, st := range r.Steps {
			rs := RollbackStepSpec{Name: st.Name, Action: st.Action, RequiresApproval: st.RequiresApproval}
			if st.MaxDuration != nil {
				rs.MaxDuration = st.MaxDuration.Duration
			}
			s.RollbackSteps = append(s.RollbackSteps, rs)
		}
	}
}

// defaultRollbackSteps are the steps of a plan that names none.
var defaultRollbackSteps = []RollbackStepSpec{
	{Name: "traffic_routing", Action: plan.ActionRedirectTraffic, MaxDuration: 30 * time.Second},
	{Name: "instance_rollback", Action: plan.ActionDeployPrevious, MaxDuration: 5 * time.Minute},
	{Name: "verification", Action: plan.ActionVerify, MaxDuration: 3 * time.Minute},
}

// RollbackPlan is the ordered steps a rollback of this spec runs.
func (s Spec) RollbackPlan() []RollbackStepSpec { return s.rollbackSteps() }

// rollbackSteps are the spec's rollback steps, or the defaults when it has none.
func (s Spec) rollbackSteps() []RollbackStepSpec {
	if len(s.RollbackSteps) == 0 {
		return defaultRollbackSteps
	}
	return s.RollbackSteps
}

// rollBack runs the rollback's steps in order; the phase stays RollingBack (AwaitingApproval
// while the database step waits for people) until the last step passes.
func (p *stepper) rollBack() {
	s := &p.s
	if s.RollbackAt == nil { // a state persisted before RollbackAt existed
		t := p.now
		s.RollbackAt = &t
	}
	if s.RollbackStepAt == nil {
		t := *s.RollbackAt
		s.RollbackStepAt = &t
		p.emitRollbackStep("started", "")
	}
	for s.RollbackStep < len(p.spec.rollbackSteps()) {
		step := p.spec.rollbackSteps()[s.RollbackStep]
		if step.MaxDuration > 0 && !p.now.Before(s.RollbackStepAt.Add(step.MaxDuration)) {
			p.rollbackFailed(fmt.Sprintf("rollback step %s did not finish within %s", step.Name, step.MaxDuration))
			return
		}
		done, failed := p.rollbackStep(step)
		if failed != "" {
			p.rollbackFailed(failed)
			return
		}
		if !done || s.Phase != RollingBack {
			if step.MaxDuration > 0 {
				p.wake(min(notReadyPoll, s.RollbackStepAt.Add(step.MaxDuration).Sub(p.now)))
			} else {
				p.wake(notReadyPoll)
			}
			return
		}
		p.emitRollbackStep("passed", "")
		s.RollbackStep++
		t := p.now
		s.RollbackStepAt = &t
		s.SmokeRequestedAt, s.Smoke = nil, nil
		if s.RollbackStep < len(p.spec.rollbackSteps()) {
			p.emitRollbackStep("started", "")
		}
	}
	p.setPhase(RolledBack, s.Reason, s.Message)
}

func (p *stepper) emitRollbackStep(result, detail string) {
	s := &p.s
	if s.RollbackStep >= len(p.spec.rollbackSteps()) {
		return
	}
	st := p.spec.rollbackSteps()[s.RollbackStep]
	payload := map[string]any{"index": s.RollbackStep, "name": st.Name, "action": st.Action, "result": result}
	if st.MaxDuration > 0 {
		payload["maxDuration"] = st.MaxDuration.String()
	}
	if detail != "" {
		payload["detail"] = detail
	}
	p.emit("rollout.rollbackStep", "", payload)
}

func (p *stepper) rollbackFailed(msg string) {
	p.emitRollbackStep("failed", msg)
	p.setPhase(Failed, ReasonRollbackFailed, msg)
}

// previousBack reports whether the previous version is running at full strength.
func (p *stepper) previousBack() bool {
	s := &p.s
	if s.Stable == "" {
		return true // a first release rolled back: nothing to bring back
	}
	if p.obs.Stable.Present && p.obs.Stable.Ready >= max(p.spec.Replicas, 1) {
		if s.PreviousReadyAt == nil {
			t := p.now
			s.PreviousReadyAt = &t
		}
		return true
	}
	return false
}

// rollbackStep does one step; failed is why the rollback failed, "" while all is well.
func (p *stepper) rollbackStep(step RollbackStepSpec) (done bool, failed string) {
	s := &p.s
	switch step.Action {
	case plan.ActionRedirectTraffic:
		// Desired routes everything to the previous version as soon as it is ready.
		return p.previousBack(), ""
	case plan.ActionDeployPrevious:
		return p.previousBack() && !p.obs.Candidate.Present, ""
	case plan.ActionDatabaseMigration:
		if !p.spec.DatabaseRollback {
			return false, "the release changed migrations but the service file has no spec.database.rollback command"
		}
		if step.RequiresApproval && !s.Emergency && !s.DatabaseApproved {
			if s.Phase != AwaitingApproval {
				p.waitApproval()
			}
			return false, ""
		}
		if s.DatabaseRequestedAt == nil {
			t := p.now
			s.DatabaseRequestedAt = &t
			p.emit("rollout.databaseRollback", "", map[string]any{"emergency": s.Emergency})
			return false, ""
		}
		r := p.obs.Database
		if r == nil || r.ID != DatabaseRollbackID(*s.DatabaseRequestedAt) {
			return false, ""
		}
		if !r.Passed {
			return false, "database rollback failed: " + r.Output
		}
		return true, ""
	case plan.ActionVerify:
		if !p.previousBack() {
			return false, ""
		}
		if !p.spec.VerifySmoke || s.Stable == "" {
			return true, ""
		}
		if s.SmokeRequestedAt == nil {
			t := p.now
			s.SmokeRequestedAt = &t
			return false, ""
		}
		r := p.obs.SmokeTest
		if r == nil || r.ID != SmokeTestID(*s.SmokeRequestedAt) {
			return false, ""
		}
		if !r.Passed {
			return false, "verification failed: the smoke test did not pass against " + s.Stable + ": " + r.Output
		}
		return true, ""
	}
	return true, ""
}

// rollbackGatePassed carries a rollback on once its database step is approved.
func (p *stepper) rollbackGatePassed() {
	p.s.DatabaseApproved = true
	// The step's max duration is for running it, not for the people deciding (the gate has its
	// own timeout).
	t := p.now
	p.s.RollbackStepAt = &t
	p.setPhase(RollingBack, p.s.Reason, p.s.Message)
	p.rollBack()
}

// NewReleaseRollback is the state of a rollback of a release that succeeded: current serves now
// and previous (stopped since) comes back, through the same ordered steps.
func NewReleaseRollback(previous, current string, emergency bool, now time.Time) State {
	t := now
	return State{
		Phase: RollingBack, Reason: ReasonManual, Message: fmt.Sprintf("rolling %s back to %s", current, previous),
		Stable: previous, Candidate: current, StartedAt: now, StepStartedAt: now, DeployedAt: &t,
		RollbackAt: &t, ReleaseRollback: true, Emergency: emergency, Weight: 100,
	}
}

// awaitRollbackApproval waits for the database step's approval; no answer in time fails the
// rollback (traffic and instances are already back: only the schema is left).
func (p *stepper) awaitRollbackApproval(g Gate) {
	s := &p.s
	if t := p.tally(g); t.Met {
		p.emit("rollout.gatePassed", "", map[string]any{"gate": g.Name, "approvals": len(t.Counted)})
		s.Approvals, s.WaitingSince = nil, nil
		p.rollbackGatePassed()
		return
	}
	deadline := s.WaitingSince.Add(g.Timeout)
	if !p.now.Before(deadline) {
		p.rollbackFailed(fmt.Sprintf("no approval of %s within %s: the schema is still the release's", g.Name, g.Timeout))
		return
	}
	p.wake(deadline.Sub(p.now))
}

// desiredRollback is what runs while a rollback moves: the previous version at full strength and
// all traffic on it — except while a promoted release's previous version is still starting, when
// the current one keeps serving so no request waits for it.
func desiredRollback(spec Spec, st State, d *DesiredState) {
	r := max(spec.Replicas, 1)
	// The candidate was judged bad: once it has no traffic, the router ends its open streams
	// (WebSockets) at once rather than letting them drain as it does for a version merely stopped.
	defer func() {
		if st.Candidate != "" && st.Candidate != st.Stable && d.Weights[st.Candidate] == 0 {
			d.Cut = []string{st.Candidate}
		}
	}()
	if st.Stable == "" {
		return
	}
	d.Replicas[st.Stable] = r
	if st.ReleaseRollback && st.PreviousReadyAt == nil {
		d.Replicas[st.Candidate] = r
		d.Weights[st.Candidate] = 100
		d.Weights[st.Stable] = 0
	} else {
		d.Weights[st.Stable] = 100
	}
	if st.Phase == RollingBack && st.SmokeRequestedAt != nil {
		d.RunSmokeTest, d.SmokeTestID = true, SmokeTestID(*st.SmokeRequestedAt)
	}
	if st.Phase == RollingBack && st.DatabaseRequestedAt != nil {
		d.RunDatabaseRollback, d.DatabaseRollbackID = true, DatabaseRollbackID(*st.DatabaseRequestedAt)
	}
}
