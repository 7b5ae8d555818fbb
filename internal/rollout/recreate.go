package rollout

// Recreate stops every replica of the old version, then starts the new one: for a service whose
// two versions cannot run side by side (a lock, a port, a schema). It moves:
//
//	Progressing, stopping — Desired runs nothing and routes 100% to the candidate, so the proxy
//	  holds new requests (up to HoldTimeout) while the old replicas drain and stop;
//	Progressing, starting — once the old version is gone (Observation.Stable.Present false):
//	  Desired = {candidate: R}, weights {candidate: 100}; held requests flow as soon as a replica
//	  is ready;
//	success — every replica ready → Promoting → Verifying (if a watch is set; the old version is
//	  NOT kept running, it could not run beside the new one) → Succeeded;
//	failure — not ready by the progress deadline, crash-looping, start failed, a trigger, a
//	  command → RollingBack: Desired = {stable: R}, weights {stable: 100} (held again until it is
//	  ready) → RolledBack once the candidate is gone and the old version ready again, or Failed
//	  if it is not ready again within the progress deadline.
//
// A first deploy has nothing to stop: it starts the candidate at once. The old version gets the
// progress deadline to stop; one that does not is a failure while it still serves.

import (
	"fmt"

	"github.com/hugai-dev/hugai/internal/plan"
)

func (s *Spec) compileRecreate(p *plan.DeploymentPlan) error {
	s.HoldTimeout = plan.DefaultHoldTimeout
	if r := p.Spec.Strategy.Recreate; r != nil && r.HoldTimeout != nil {
		s.HoldTimeout = r.HoldTimeout.Duration
	}
	// One step: all traffic to the candidate once it is ready. There is nothing to judge a
	// version against while it is the only one; the watch after promotion judges it.
	s.Steps = []StepSpec{{Kind: KindSetWeight, Weight: 100}}
	return nil
}

// stopStable begins a recreate: the old version is stopped before anything else.
func (p *stepper) stopStable() {
	p.s.StepStartedAt = p.now
	p.setPhase(Progressing, "", fmt.Sprintf("stopping %s before starting %s", p.s.Stable, p.s.Candidate))
	p.emit("rollout.stop", "", map[string]any{"version": p.s.Stable, "holdTimeout": p.spec.HoldTimeout.String()})
}

// stableStopped reports whether the old version is gone, starting the candidate when it is.
func (p *stepper) stableStopped() bool {
	s := &p.s
	if !p.obs.Stable.Present {
		p.emit("rollout.stopped", "", map[string]any{"version": s.Stable})
		p.startCandidate()
		return true
	}
	if p.spec.ProgressDeadline > 0 {
		deadline := s.StepStartedAt.Add(p.spec.ProgressDeadline)
		if !p.now.Before(deadline) {
			p.fail(ReasonProgressDeadline, fmt.Sprintf("%s did not stop within the progress deadline %s", s.Stable, p.spec.ProgressDeadline))
			return false
		}
		p.wake(min(notReadyPoll, deadline.Sub(p.now)))
		return false
	}
	p.wake(notReadyPoll)
	return false
}

// desiredRecreate never runs the two versions together, except while a rollback brings the old
// one back and the candidate drains.
func desiredRecreate(spec Spec, st State, d *DesiredState, onlyStable func()) {
	r := max(spec.Replicas, 1)
	switch st.Phase {
	case Pending, AwaitingApproval, Paused:
		// Before the stop (or paused during it, with automatic rollback off) the old one serves.
		if st.DeployedAt == nil {
			onlyStable()
			return
		}
		fallthrough
	case Progressing, Promoting, Verifying, Succeeded:
		// Stopping (DeployedAt nil) runs nothing; traffic already points at the candidate so the
		// proxy holds requests rather than sending them to replicas on their way out.
		if st.DeployedAt != nil {
			d.Replicas[st.Candidate] = r
		}
		d.Weights[st.Candidate] = 100
		if st.Phase == Verifying || st.Phase == Succeeded {
			d.Stable = st.Candidate
		}
	default: // RollingBack, RolledBack, Aborted, Failed
		onlyStable()
	}
}
