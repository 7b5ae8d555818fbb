package rollout

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

// For any sequence of observations and commands: weights stay within 0..100 and add up to 100,
// every phase change is audited, a terminal rollout never changes, and once rolled back or aborted
// no traffic is meant for the candidate.
func TestStepProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		spec := canarySpec(t, w(5), pause(time.Minute), w(25), StepSpec{Kind: KindApproval, Gate: &Gate{Name: "g", Count: 1, Timeout: 10 * time.Minute}}, w(50), pause(2*time.Minute), w(100))
		spec.AutoRollback = rapid.Bool().Draw(rt, "autoRollback")
		if rapid.Bool().Draw(rt, "gate") {
			spec.Gates = []Gate{{Name: "start", Count: 1, Timeout: 5 * time.Minute}}
		}
		stable := rapid.SampledFrom([]string{"", "v1"}).Draw(rt, "stable")
		s := newSim(t, spec, stable)
		s.t = &testing.T{} // failures are reported through rt below
		for i := range rapid.IntRange(1, 400).Draw(rt, "ticks") {
			s.errorRate = rapid.SampledFrom([]float64{0, 0, 0, 0.5, 5, 30}).Draw(rt, "errorRate")
			s.requests = rapid.SampledFrom([]uint64{0, 5, 500, 500, 500}).Draw(rt, "requests")
			s.crash = rapid.IntRange(0, 50).Draw(rt, "crash") == 0
			obs := s.observe()
			if kind := rapid.SampledFrom([]string{"", "", "", "", "approve", "reject", "promote", "abort", "resume", "rollback"}).Draw(rt, "cmd"); kind != "" {
				c := Command{Kind: kind, Actor: "alice", Full: rapid.Bool().Draw(rt, "full")}
				if Validate(spec, s.st, c) == nil {
					obs.Command = &c
				}
			}
			prev := s.st
			next, evs, _ := Step(spec, s.st, obs, s.now)
			if prev.Phase.Terminal() && (next.Phase != prev.Phase || len(evs) > 0) {
				rt.Fatalf("tick %d: terminal %s changed to %s", i, prev.Phase, next.Phase)
			}
			if next.Phase != prev.Phase && !hasPhaseEvent(evs) {
				rt.Fatalf("tick %d: %s → %s without an audit event", i, prev.Phase, next.Phase)
			}
			d := Desired(spec, next)
			sum := 0
			for _, wt := range d.Weights {
				if wt < 0 || wt > 100 {
					rt.Fatalf("weight %d", wt)
				}
				sum += wt
			}
			if len(d.Weights) > 0 && sum != 100 {
				rt.Fatalf("weights %v", d.Weights)
			}
			switch next.Phase {
			case RollingBack, RolledBack, Aborted:
				if d.Weights[next.Candidate] != 0 || d.Replicas[next.Candidate] != 0 {
					rt.Fatalf("%s still routes to or runs the candidate: %+v", next.Phase, d)
				}
			}
			s.st = next
			s.now = s.now.Add(time.Duration(rapid.IntRange(1, 20).Draw(rt, "dt")) * time.Second)
		}
	})
}
