package rollout

// Blue-green runs the new version (green) beside the old (blue), both with every replica, and
// moves traffic only once green has been judged. It compiles to steps the canary machinery runs:
//
//	[smokeTest]          green ready (health checks) and, when the service has one, its smoke
//	                     test passed; green gets no user traffic, only the preview route
//	                     (DesiredState.Preview); a failure → RollingBack, green never served;
//	[pause, indefinite]  autoPromotion false: Paused (reason awaiting-promotion) until promote;
//	setWeight 100        switch instant; or, switch gradual, setWeight s + pause(interval) for
//	                     each of SwitchSteps (default 25, 50, 100), each weight judged;
//	pause(validation)    the validation period (default 4 analysis intervals) at 100%, judged on
//	                     the success criteria; a failure → RollingBack: all traffic back to blue
//	                     at once, blue never stopped.
//
// Then the watch (verify.go) lasts max(monitoring duration, scaleDownDelay): blue stays up at
// weight 0 so a switch back is instant, and is stopped when the rollout reaches Succeeded. So
// Succeeded means "validated and blue scaled down"; no clock is needed in Desired.
//
// The smoke test is run by the engine: Step sets State.SmokeRequestedAt, Desired says
// RunSmokeTest with its SmokeTestID, the engine runs it once for that ID and reports
// Observation.SmokeTest with the same ID on a later tick.

import (
	"fmt"
	"strings"

	"github.com/hugai-dev/hugai/internal/plan"
)

// DefaultSwitchSteps are the weights of a gradual switch when the plan names none.
var DefaultSwitchSteps = []int{25, 50, 100}

func (s *Spec) compileBlueGreen(p *plan.DeploymentPlan, smokeTest bool) error {
	bg := p.Spec.Strategy.BlueGreen
	if bg == nil {
		bg = &plan.BlueGreenStrategy{}
	}
	validation := 4 * s.Interval
	if bg.ValidationPeriod != nil {
		validation = bg.ValidationPeriod.Duration
	}
	s.ScaleDownDelay = plan.DefaultScaleDownDelay
	if bg.ScaleDownDelay != nil {
		s.ScaleDownDelay = bg.ScaleDownDelay.Duration
	}
	if bg.AutoSwitchBack != nil && !*bg.AutoSwitchBack {
		s.AutoRollback = false
	}
	if smokeTest {
		s.SmokeTest = true
		s.Steps = append(s.Steps, StepSpec{Kind: KindSmokeTest})
	}
	if bg.AutoPromotion != nil && !*bg.AutoPromotion {
		s.Steps = append(s.Steps, StepSpec{Kind: KindPause, Indefinite: true, Reason: ReasonAwaitingPromotion})
	}
	switch bg.Switch {
	case "", plan.SwitchInstant:
		s.Steps = append(s.Steps, StepSpec{Kind: KindSetWeight, Weight: 100})
	case plan.SwitchGradual:
		steps := bg.SwitchSteps
		if len(steps) == 0 {
			steps = DefaultSwitchSteps
		}
		prev := 0
		for _, w := range steps {
			if w <= prev || w > 100 {
				return fmt.Errorf("blueGreen switchSteps %v: want weights rising to at most 100", steps)
			}
			prev = w
			s.Steps = append(s.Steps, StepSpec{Kind: KindSetWeight, Weight: w})
			if w < 100 {
				s.Steps = append(s.Steps, StepSpec{Kind: KindPause, Duration: s.Interval})
			}
		}
		if prev != 100 {
			s.Steps = append(s.Steps, StepSpec{Kind: KindSetWeight, Weight: 100})
		}
	default:
		return fmt.Errorf("blueGreen switch %q (known: %s, %s)", bg.Switch, plan.SwitchInstant, plan.SwitchGradual)
	}
	if validation > 0 {
		s.Steps = append(s.Steps, StepSpec{Kind: KindPause, Duration: validation})
	}
	return nil
}

// smokeTest runs the smoke step: it reports whether the step passed, failing the rollout when
// the test failed or never reported.
func (p *stepper) smokeTest() bool {
	s := &p.s
	if !p.ready() {
		p.wake(notReadyPoll)
		return false
	}
	if s.SmokeRequestedAt == nil {
		t := p.now
		s.SmokeRequestedAt = &t
		p.emit("rollout.smokeTest", "", map[string]any{"version": s.Candidate, "id": SmokeTestID(t)})
		p.wake(notReadyPoll)
		return false
	}
	id := SmokeTestID(*s.SmokeRequestedAt)
	if r := p.obs.SmokeTest; r != nil && r.ID == id {
		res := *r
		s.Smoke = &res
		s.SmokeRequestedAt = nil
		p.emit("rollout.smokeTestResult", "", map[string]any{"version": s.Candidate, "id": id, "passed": r.Passed, "output": lastLines(r.Output, 20)})
		if !r.Passed {
			p.fail(ReasonSmokeTest, fmt.Sprintf("smoke test of %s failed: %s", s.Candidate, lastLines(r.Output, 3)))
			return false
		}
		return true
	}
	if p.spec.ProgressDeadline > 0 {
		deadline := s.SmokeRequestedAt.Add(p.spec.ProgressDeadline)
		if !p.now.Before(deadline) {
			s.SmokeRequestedAt = nil
			p.fail(ReasonSmokeTest, fmt.Sprintf("no smoke test result for %s within the progress deadline %s", s.Candidate, p.spec.ProgressDeadline))
			return false
		}
		p.wake(min(notReadyPoll, deadline.Sub(p.now)))
		return false
	}
	p.wake(notReadyPoll)
	return false
}

// lastLines keeps the end of a command's output, where the reason for a failure usually is.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
