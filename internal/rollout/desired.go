package rollout

// Desired is the one place where a state becomes what must run and where traffic goes. The
// engine drives the target to it on every tick, so it must be a function of (spec, state) alone:
// a restart recomputes the same answer.

import "github.com/hugai-dev/hugai/internal/plan"

// Desired is what must run and where traffic goes for the rollout's state.
func Desired(spec Spec, st State) DesiredState {
	r := max(spec.Replicas, 1)
	d := DesiredState{Replicas: map[string]int{}, Weights: map[string]int{}, Stable: st.Stable, HoldTimeout: spec.HoldTimeout}
	onlyStable := func() {
		if st.Stable != "" {
			d.Replicas[st.Stable] = r
			d.Weights[st.Stable] = 100
		}
	}
	if st.RollbackAt != nil && (st.Phase == RollingBack || st.Phase == AwaitingApproval) {
		desiredRollback(spec, st, &d)
		return d
	}
	if st.Stable == "" && d.HoldTimeout == 0 {
		// A first deploy: requests wait for the first version rather than fail.
		d.HoldTimeout = plan.DefaultHoldTimeout
	}
	if st.RunIndex < len(spec.Runs) && !st.Phase.Terminal() {
		// The commands run before anything is deployed: what ran before keeps running.
		onlyStable()
		if st.Phase == Progressing && st.RunRequestedAt != nil {
			d.Run, d.RunID = spec.Runs[st.RunIndex].Name, RunID(st.RunIndex, *st.RunRequestedAt)
		}
		return d
	}
	if (st.Phase == Progressing || st.Phase == Verifying) && st.SmokeRequestedAt != nil {
		d.RunSmokeTest, d.SmokeTestID = true, SmokeTestID(*st.SmokeRequestedAt)
		if st.Phase == Progressing && st.Weight == 0 {
			// Before any traffic moves the smoke test reaches the candidate alone.
			d.Preview = st.Candidate
		}
	}
	switch spec.Strategy {
	case plan.StrategyRecreate:
		desiredRecreate(spec, st, &d, onlyStable)
		return d
	case plan.StrategyRolling:
		if st.Stable != "" {
			desiredRolling(spec, st, &d, onlyStable)
			return d
		}
	}
	switch st.Phase {
	case Pending, AwaitingApproval, Progressing, Paused, Promoting:
		if st.DeployedAt == nil {
			onlyStable()
			return d
		}
		d.Replicas[st.Candidate] = r
		d.Canary = st.Candidate
		if spec.Strategy == plan.StrategyBlueGreen {
			d.Preview = st.Candidate
		}
		if st.Stable == "" {
			d.Weights[st.Candidate] = 100
			return d
		}
		d.Replicas[st.Stable] = r
		d.Weights[st.Stable] = 100 - st.Weight
		d.Weights[st.Candidate] = st.Weight
	case Verifying:
		d.Replicas[st.Candidate] = r
		d.Weights[st.Candidate] = 100
		d.Stable = st.Candidate
		// The previous version stays up, out of rotation, so a rollback is a routing change.
		if st.Stable != "" {
			d.Replicas[st.Stable] = r
			d.Weights[st.Stable] = 0
		}
	case Succeeded:
		d.Replicas[st.Candidate] = r
		d.Weights[st.Candidate] = 100
		d.Stable = st.Candidate
	default: // RollingBack, RolledBack, Aborted, Failed
		onlyStable()
	}
	return d
}
