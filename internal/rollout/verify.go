package rollout

// The watch after promotion. Whatever the strategy, once the candidate serves all traffic the
// rollout is Verifying for Spec.MonitorDuration (blue-green: at least its ScaleDownDelay): the
// previous version keeps running at weight 0 (except for recreate, where the two cannot run side
// by side), windows keep being measured, the success criteria are judged and the rollback
// triggers are armed. A criterion that fails or a trigger that holds → RollingBack to the
// previous version, at once since it is still running; a quiet watch → Succeeded, and the
// previous version is stopped. A first deploy has nothing to go back to and is not watched.
//
// Triggers are measured in the same windows as the criteria: Due appends them to the conditions,
// and Step tells the two apart by the condition's canonical text (Measurement.Condition), so the
// engine measures one list as it always has. A trigger fires only on a Successful measurement,
// one whose condition held over at least minimumSamples requests: an Inconclusive or Error one
// never fires.

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/plan"
)

// compileWatch reads the watch's length and the plan's rollback triggers. A plan with no
// triggers gets none: they are not derived from the success criteria.
func (s *Spec) compileWatch(p *plan.DeploymentPlan, env *plan.Env) error {
	s.MonitorDuration = env.MonitorDuration
	if m := p.Spec.Monitoring; m != nil {
		if m.Duration != nil {
			s.MonitorDuration = m.Duration.Duration
		}
		if m.Enabled != nil && !*m.Enabled {
			s.MonitorDuration = 0
		}
	}
	rb := p.Spec.Rollback
	if rb == nil {
		return nil
	}
	for i, t := range rb.Triggers {
		var c criteria.Condition
		var err error
		switch {
		case t.ErrorRateThreshold != nil:
			// A bare number is a percentage: 1.0 is one percent, as the criteria language reads it.
			c, err = criteria.Trigger("error_rate", ">", strconv.FormatFloat(*t.ErrorRateThreshold, 'g', -1, 64))
		case t.LatencyThreshold != nil:
			c, err = criteria.Trigger("latency_p95", ">", strconv.FormatInt(t.LatencyThreshold.Milliseconds(), 10)+"ms")
		case t.CustomMetricThreshold != nil:
			m := t.CustomMetricThreshold
			c, err = criteria.Trigger(m.Metric, m.Comparison, strconv.FormatFloat(m.Threshold, 'g', -1, 64))
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("rollback trigger %d: %w", i, err)
		}
		s.Triggers = append(s.Triggers, c)
	}
	return nil
}

// watchFor is how long the rollout stays Verifying after promotion.
func (s Spec) watchFor() time.Duration {
	return max(s.MonitorDuration, s.ScaleDownDelay)
}

// isTrigger reports whether a measurement judged a trigger rather than a criterion.
// A condition that is both (nonsense: it would have to hold and fire) is read as a criterion.
func (s Spec) isTrigger(m analysis.Measurement) bool {
	for _, c := range s.Criteria {
		if c.String() == m.Condition {
			return false
		}
	}
	for _, c := range s.Triggers {
		if c.String() == m.Condition {
			return true
		}
	}
	return false
}

// splitTriggers separates a window's criteria from its triggers: a trigger's Successful
// measurement is a firing, so it must never be counted as a passed window.
func (s Spec) splitTriggers(ms []analysis.Measurement) (crit, trig []analysis.Measurement) {
	for _, m := range ms {
		if s.isTrigger(m) {
			trig = append(trig, m)
		} else {
			crit = append(crit, m)
		}
	}
	return crit, trig
}

// fired returns the message of the first trigger that held on enough samples, or "".
func fired(trig []analysis.Measurement) string {
	for _, m := range trig {
		if m.Phase == analysis.Successful {
			return "rollback trigger " + m.Condition + " fired: " + m.Message
		}
	}
	return ""
}

// succeed promotes the candidate: straight to Succeeded, or to the watch when there is one and a
// previous version to go back to.
func (p *stepper) succeed(why string) {
	s := &p.s
	s.Weight = 100
	p.setPhase(Promoting, "", why)
	p.emit("rollout.promoted", "", map[string]any{"version": s.Candidate, "previous": s.Stable})
	watch := p.watchLength()
	if watch <= 0 && !p.needsJudging() && !p.spec.SmokeInWatch {
		p.setPhase(Succeeded, "", fmt.Sprintf("%s serves all traffic", s.Candidate))
		return
	}
	if s.PromotedAt == nil {
		t := p.now
		s.PromotedAt = &t
	}
	if s.AnalysisFrom == nil && p.spec.Interval > 0 {
		// A strategy that judged no window before promotion (recreate, a first deploy) starts
		// them now.
		t := p.now
		s.AnalysisFrom = &t
	}
	s.StepTally = analysis.Tally{}
	p.newSpan()
	msg := fmt.Sprintf("%s serves all traffic; watching it for %s, %s kept for a rollback", s.Candidate, plan.D(watch), s.Stable)
	switch {
	case watch <= 0:
		msg = fmt.Sprintf("%s serves all traffic; judging it once on at least %d requests", s.Candidate, p.spec.MinimumSamples)
	case s.Stable == "" || p.spec.Strategy == plan.StrategyRecreate || p.spec.Strategy == plan.StrategyRolling:
		msg = fmt.Sprintf("%s serves all traffic; watching it for %s", s.Candidate, plan.D(watch))
	}
	p.setPhase(Verifying, "", msg)
	p.wake(max(s.PromotedAt.Add(watch).Sub(p.now), 0))
}

// watchLength is how long the watch lasts at least: none for a first deploy, which has nothing
// to go back to and is only judged.
func (p *stepper) watchLength() time.Duration {
	if p.s.Stable == "" {
		return 0
	}
	return p.spec.watchFor()
}

// needsJudging reports whether the new version still lacks the judgement at full traffic that
// every rollout needs before it may succeed.
func (p *stepper) needsJudging() bool {
	return len(p.spec.Criteria) > 0 && p.spec.Interval > 0 && !p.s.Judged
}

// watch is one tick of Verifying.
func (p *stepper) watch() {
	s := &p.s
	c := p.obs.Candidate
	switch {
	case c.CrashLooping:
		p.fail(ReasonCrashLoop, fmt.Sprintf("%s is crash-looping", s.Candidate))
		return
	case c.StartFailed != "":
		p.fail(ReasonStartFailed, "the candidate cannot start: "+c.StartFailed)
		return
	}
	p.consumeWindow()
	if s.Phase != Verifying {
		return
	}
	if s.PromotedAt == nil { // not reachable through succeed; a hand-edited state ends the watch
		p.setPhase(Succeeded, "", fmt.Sprintf("%s serves all traffic", s.Candidate))
		return
	}
	if p.spec.SmokeInWatch && s.Smoke == nil && !p.smokeTest() {
		return
	}
	end := s.PromotedAt.Add(p.watchLength())
	if p.now.Before(end) {
		p.wake(end.Sub(p.now))
		return
	}
	// The windows that ended within the watch are judged before it ends: a trigger in the last
	// minute of the watch still rolls back.
	measured := len(p.spec.Criteria)+len(p.spec.Triggers) > 0 && p.spec.Interval > 0
	if measured && s.AnalysisFrom != nil && !s.AnalysisFrom.Add(p.spec.Interval).After(end) {
		if t, ok := NextDue(p.spec, *s); ok {
			p.wake(t.Sub(p.now))
		}
		return
	}
	if p.needsJudging() {
		// No window at full traffic had enough samples yet: the watch goes on, up to the
		// progress deadline past its end, and then a person decides.
		deadline := end.Add(p.spec.ProgressDeadline)
		if !p.now.Before(deadline) {
			p.setPhase(Paused, ReasonInconclusive, fmt.Sprintf("%s was not judged: no window at full traffic had %d requests within %s of its promotion; resume to keep judging, promote to accept it, or roll back", s.Candidate, p.spec.MinimumSamples, plan.D(deadline.Sub(*s.PromotedAt))))
			return
		}
		if t, ok := NextDue(p.spec, *s); ok {
			p.wake(min(t.Sub(p.now), deadline.Sub(p.now)))
		}
		return
	}
	if p.watchLength() <= 0 {
		p.setPhase(Succeeded, "", fmt.Sprintf("%s serves all traffic; judged at full traffic", s.Candidate))
		return
	}
	p.setPhase(Succeeded, "", fmt.Sprintf("%s serves all traffic; watched %s quietly", s.Candidate, plan.D(p.spec.watchFor())))
}
