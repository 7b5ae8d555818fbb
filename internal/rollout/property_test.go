package rollout

import (
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/plan"
	"pgregory.net/rapid"
)

// anySpec draws a rollout of any strategy, with or without a watch and triggers.
func anySpec(t *testing.T, rt *rapid.T) Spec {
	no := false
	var spec Spec
	switch rapid.SampledFrom([]string{"canary", "recreate", "blueGreen", "blueGreenGradual", "blueGreenManual", "rolling", "rollingUnavailable"}).Draw(rt, "strategy") {
	case "canary":
		spec = canarySpec(t, w(5), pause(time.Minute), w(25), StepSpec{Kind: KindApproval, Gate: &Gate{Name: "g", Count: 1, Timeout: 10 * time.Minute}}, w(50), pause(2*time.Minute), w(100))
	case "recreate":
		spec = recreateSpec(t)
	case "blueGreen":
		spec = blueGreenSpec(t, plan.BlueGreenStrategy{}, true)
	case "blueGreenGradual":
		spec = blueGreenSpec(t, plan.BlueGreenStrategy{Switch: plan.SwitchGradual}, false)
	case "blueGreenManual":
		spec = blueGreenSpec(t, plan.BlueGreenStrategy{AutoPromotion: &no}, true)
	case "rolling":
		spec = rollingSpec(t, 4, 1, 0)
	case "rollingUnavailable":
		spec = rollingSpec(t, 3, 2, 1)
	}
	if rapid.Bool().Draw(rt, "watch") {
		spec.MonitorDuration = 3 * time.Minute
		c, err := criteria.Trigger("error_rate", ">", "10")
		if err != nil {
			t.Fatal(err)
		}
		spec.Triggers = []criteria.Condition{c}
	}
	return spec
}

// For any strategy and any sequence of observations and commands: weights stay within 0..100
// and add up to 100, every phase change is audited, a terminal rollout never changes, once rolled
// back or aborted no traffic is meant for the candidate, and each strategy keeps its promise
// about what runs together.
func TestStepProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		spec := anySpec(t, rt)
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
			s.smokeFails = rapid.IntRange(0, 5).Draw(rt, "smokeFails") == 0
			obs := s.observe()
			if kind := rapid.SampledFrom([]string{"", "", "", "", "approve", "reject", "promote", "abort", "resume", "rollback"}).Draw(rt, "cmd"); kind != "" {
				c := Command{Kind: CommandKind(kind), Actor: "alice", Full: rapid.Bool().Draw(rt, "full")}
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
			case Verifying, Succeeded:
				if d.Weights[next.Candidate] != 100 {
					rt.Fatalf("%s: the candidate does not serve all traffic: %+v", next.Phase, d)
				}
			}
			if next.Phase == RolledBack && next.Stable != "" && d.Weights[next.Stable] != 100 {
				rt.Fatalf("rolled back without the previous version serving: %+v", d)
			}
			// What each strategy promises about what runs together.
			switch spec.Strategy {
			case plan.StrategyRecreate:
				if next.Phase != RollingBack && d.Replicas[next.Stable] > 0 && d.Replicas[next.Candidate] > 0 {
					rt.Fatalf("%s: recreate runs both versions: %+v", next.Phase, d)
				}
			case plan.StrategyRolling:
				if n := d.Replicas[next.Stable] + d.Replicas[next.Candidate]; next.Stable != "" && n > spec.Replicas+spec.MaxSurge {
					rt.Fatalf("%s: rolling asks %d replicas: %+v", next.Phase, n, d)
				}
			case plan.StrategyBlueGreen:
				if next.Stable != "" && next.Smoke == nil && spec.SmokeTest && d.Weights[next.Candidate] > 0 && next.Phase != Verifying && next.Phase != Succeeded {
					rt.Fatalf("%s: green serves before its smoke test: %+v", next.Phase, d)
				}
			}
			for id, n := range s.smokeRuns {
				if n > 1 {
					rt.Fatalf("smoke test %s ran %d times", id, n)
				}
			}
			s.st = next
			s.now = s.now.Add(time.Duration(rapid.IntRange(1, 20).Draw(rt, "dt")) * time.Second)
		}
	})
}
