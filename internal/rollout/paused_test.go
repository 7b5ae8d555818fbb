package rollout

import (
	"testing"
	"time"
)

// A candidate that crash-loops while the rollout waits (paused, or at an approval step) is rolled
// back even when a pending look is taken in the same tick: the window must not turn the
// rollback back into a pause that keeps routing to the candidate. Found by TestStepProperties.
func TestCrashWhileWaitingRollsBackDespiteInconclusiveWindow(t *testing.T) {
	gate := StepSpec{Kind: KindApproval, Gate: &Gate{Name: "g", Count: 1, Timeout: time.Hour}}
	for name, steps := range map[string][]StepSpec{
		"paused":   {w(20), pause(time.Hour), w(100)},
		"approval": {w(20), gate, w(100)},
	} {
		t.Run(name, func(t *testing.T) {
			s := newSim(t, canarySpec(t, steps...), "v1")
			s.requests = 3 // too few to judge: every look is pending
			if name == "paused" {
				s.run(2 * time.Minute) // into the hour-long pause at 20%
			} else {
				s.runUntil(AwaitingApproval, time.Hour)
			}
			// Looks go on while the rollout waits; the candidate crashes just as one is judged.
			for range 3 {
				s.now, _ = NextDue(s.spec, s.st)
				s.tick(nil)
			}
			if s.st.Tally.Pending == 0 {
				t.Fatalf("no pending look: %+v", s.st.Tally)
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
