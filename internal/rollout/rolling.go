package rollout

// Rolling replaces the R replicas of the old version in batches, never running more than
// R+maxSurge replicas nor having fewer than R-maxUnavailable ready (defaults 1 and 0):
//
//	batch    Step asks for OldReplicas = min(old, R-maxUnavailable-newReady) and NewReplicas =
//	         min(R, R+maxSurge-OldReplicas): old replicas leave only as new ones are ready;
//	ready    every new replica of the batch ready (within the progress deadline, not crashing):
//	         BatchReadyAt is set and the batch is held until an analysis window at it passes,
//	         like a canary pause (no data is never a pass);
//	weights  per version, in proportion to its ready replicas (State.NewReady/OldReady, capped at
//	         what is asked), so each replica serves an equal share; a version asked for no replica
//	         gets no traffic;
//	done     NewReplicas = R and OldReplicas = 0, judged → Promoting → Verifying → Succeeded;
//	failure  analysis, a trigger, crash loop, deadline → RollingBack: the old version back to R
//	         replicas with all traffic, the new ones stopped; the proxy holds requests (HoldTimeout)
//	         while no old replica is ready. RolledBack once the old version is ready again.
//
// The old version is not kept through the watch: a rolling update is chosen not to need twice
// the capacity, so a rollback from Verifying starts the old replicas again, under the hold.

import (
	"fmt"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/plan"
)

func (s *Spec) compileRolling(p *plan.DeploymentPlan) error {
	r := max(s.Replicas, 1)
	s.MaxSurge, s.MaxUnavailable = 1, 0
	if ro := p.Spec.Strategy.Rolling; ro != nil {
		if ro.MaxSurge != nil {
			s.MaxSurge = ro.MaxSurge.Resolve(r, true)
		}
		if ro.MaxUnavailable != nil {
			s.MaxUnavailable = ro.MaxUnavailable.Resolve(r, false)
		}
	}
	if s.MaxSurge == 0 && s.MaxUnavailable == 0 {
		return fmt.Errorf("rolling: maxSurge and maxUnavailable are both 0 for %d replicas: nothing could ever be replaced", r)
	}
	s.MaxUnavailable = min(s.MaxUnavailable, r)
	// Held requests while the old version comes back after a late failure.
	s.HoldTimeout = plan.DefaultHoldTimeout
	return nil
}

// startRolling begins with every old replica and no new one; the first batch is asked at once.
func (p *stepper) startRolling() {
	s := &p.s
	s.OldReplicas, s.NewReplicas = max(p.spec.Replicas, 1), 0
	p.startCandidate()
	if s.Stable != "" {
		p.nextBatch()
	}
}

func (p *stepper) nextBatch() {
	s := &p.s
	r := max(p.spec.Replicas, 1)
	s.OldReplicas = max(0, min(s.OldReplicas, r-p.spec.MaxUnavailable-s.NewReplicas))
	s.NewReplicas = min(r, r+max(p.spec.MaxSurge, 0)-s.OldReplicas)
	s.Batch++
	s.BatchReadyAt = nil
	s.StepStartedAt = p.now
	s.StepTally = analysis.Tally{}
	p.emit("rollout.batch", "", map[string]any{"batch": s.Batch, "new": s.NewReplicas, "old": s.OldReplicas})
}

// rolling is one tick of a rolling update under way.
func (p *stepper) rolling() {
	s := &p.s
	c := p.obs.Candidate
	switch {
	case c.StartFailed != "":
		p.fail(ReasonStartFailed, "the candidate cannot start: "+c.StartFailed)
		return
	case c.CrashLooping:
		p.fail(ReasonCrashLoop, fmt.Sprintf("%s is crash-looping", s.Candidate))
		return
	}
	s.NewReady, s.OldReady = min(c.Ready, s.NewReplicas), min(p.obs.Stable.Ready, s.OldReplicas)
	p.consumeWindow()
	if s.Phase != Progressing {
		return
	}
	if w := rollingWeight(*s); w != s.Weight {
		s.Weight = w
		p.emit("rollout.weight", "", map[string]any{"version": s.Candidate, "weight": w, "newReady": s.NewReady, "oldReady": s.OldReady})
	}
	if s.BatchReadyAt == nil {
		if c.Ready < s.NewReplicas {
			deadline := s.StepStartedAt.Add(p.spec.ProgressDeadline)
			if !p.now.Before(deadline) {
				p.fail(ReasonProgressDeadline, fmt.Sprintf("batch %d: %s not ready within the progress deadline %s (%d/%d ready)", s.Batch, s.Candidate, p.spec.ProgressDeadline, c.Ready, s.NewReplicas))
				return
			}
			p.wake(min(notReadyPoll, deadline.Sub(p.now)))
			return
		}
		t := p.now
		s.BatchReadyAt, s.ReadyAt = &t, &t
		s.StepTally = analysis.Tally{}
		p.newSpan()
		if s.AnalysisFrom == nil && p.spec.Interval > 0 {
			s.AnalysisFrom = &t
		}
		p.emit("rollout.ready", "", map[string]any{"version": s.Candidate, "replicas": c.Ready, "batch": s.Batch})
	}
	// Held until a look over this batch passed: the span starts when the batch is ready.
	if !p.spanJudged(*s.BatchReadyAt, fmt.Sprintf("batch %d", s.Batch)) {
		return
	}
	if s.NewReplicas >= max(p.spec.Replicas, 1) && s.OldReplicas == 0 {
		p.succeed(fmt.Sprintf("all %d replicas replaced in %d batches", s.NewReplicas, s.Batch))
		return
	}
	p.nextBatch()
	p.wake(0)
}

// rollingWeight shares traffic by ready replicas, so every ready replica gets an equal share.
func rollingWeight(s State) int {
	n, o := min(s.NewReady, s.NewReplicas), min(s.OldReady, s.OldReplicas)
	switch {
	case s.OldReplicas == 0:
		return 100
	case n+o == 0:
		return s.Weight
	}
	return (100*n + (n+o)/2) / (n + o)
}

func desiredRolling(spec Spec, st State, d *DesiredState, onlyStable func()) {
	r := max(spec.Replicas, 1)
	switch st.Phase {
	case Pending, AwaitingApproval, Progressing, Paused, Promoting:
		if st.DeployedAt == nil {
			onlyStable()
			return
		}
		if st.OldReplicas > 0 {
			d.Replicas[st.Stable] = st.OldReplicas
		}
		if st.NewReplicas > 0 {
			d.Replicas[st.Candidate] = st.NewReplicas
		}
		d.Canary = st.Candidate
		w := rollingWeight(st)
		if st.NewReplicas == 0 {
			w = 0
		}
		d.Weights[st.Candidate] = w
		d.Weights[st.Stable] = 100 - w
	case Verifying, Succeeded:
		d.Replicas[st.Candidate] = r
		d.Weights[st.Candidate] = 100
		d.Stable = st.Candidate
	default: // RollingBack, RolledBack, Aborted, Failed
		onlyStable()
	}
}
