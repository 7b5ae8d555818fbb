package rollout

import (
	"testing"
	"time"
)

// A candidate that crash-loops while the rollout waits (paused, or at an approval step) is rolled
// back even when an inconclusive window is judged in the same tick: the window must not turn the
// rollback back into a pause that keeps routing to the candidate. Found by TestStepProperties.
func TestCrashWhileWaitingRollsBackDespiteInconclusiveWindow(t *testing.T) {
	gate := StepSpec{Kind: KindApproval, Gate: &Gate{Name: "g", Count: 1, Timeout: time.Hour}}
	for name, steps := range map[string][]StepSpec{
		"paused":   {w(20), pause(time.Hour), w(100)},
		"approval": {w(20), gate, w(100)},
	} {
		t.Run(name, func(t *testing.T) {
			s := newSim(t, canarySpec(t, steps...), "v1")
			s.requests = 3 // too few to judge: every window is inconclusive
			if name == "paused" {
				s.runUntil(Paused, time.Hour)
			} else {
				s.runUntil(AwaitingApproval, time.Hour)
			}
			// Windows until the next one makes the verdict Inconclusive (or keeps it so); the
			// candidate crashes just as that one is judged.
			for s.st.Tally.ConsecutiveInconclusive < s.spec.Limits.InconclusiveLimit-1 {
				s.now, _ = NextDue(s.spec, s.st)
				s.tick(nil)
			}
			s.now, _ = NextDue(s.spec, s.st)
			s.crash = true
			s.tick(nil)
			if s.st.Phase != RollingBack || s.st.Reason != ReasonCrashLoop {
				t.Fatalf("phase %s (%s): %s", s.st.Phase, s.st.Reason, s.st.Message)
			}
			if d := Desired(s.spec, s.st); d.Weights["v2"] != 0 {
				t.Fatalf("a crash-looping candidate still gets traffic: %+v", d)
			}
		})
	}
}
