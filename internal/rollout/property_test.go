package rollout

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/plan"
	"pgregory.net/rapid"
)

// variants are the strategies the property test drives, with the shapes that take different
// paths (a gradual or manual blue-green switch, a rolling update allowed to go below capacity).
var variants = []string{"canary", "recreate", "blueGreen", "blueGreenGradual", "blueGreenManual", "rolling", "rollingUnavailable"}

// reachable is, per variant, every phase a rollout of it can enter, so the generator must be seen
// to reach each one (Pending is where every rollout starts; none enters it). Each is reachable by
// every variant: AwaitingApproval by a start gate (and the database rollback's gate), Paused by a
// failure with automatic rollback off (and inconclusive windows, an indefinite pause), Promoting
// and Verifying by a promotion with a watch, Failed by a rollback whose previous version does not
// come back, whose database step fails or is rejected, or whose verification smoke test fails.
var reachable = map[string][]Phase{
	"canary":             {AwaitingApproval, Progressing, Paused, Promoting, Verifying, Succeeded, RollingBack, RolledBack, Aborted, Failed},
	"recreate":           {AwaitingApproval, Progressing, Paused, Promoting, Verifying, Succeeded, RollingBack, RolledBack, Aborted, Failed},
	"blueGreen":          {AwaitingApproval, Progressing, Paused, Promoting, Verifying, Succeeded, RollingBack, RolledBack, Aborted, Failed},
	"blueGreenGradual":   {AwaitingApproval, Progressing, Paused, Promoting, Verifying, Succeeded, RollingBack, RolledBack, Aborted, Failed},
	"blueGreenManual":    {AwaitingApproval, Progressing, Paused, Promoting, Verifying, Succeeded, RollingBack, RolledBack, Aborted, Failed},
	"rolling":            {AwaitingApproval, Progressing, Paused, Promoting, Verifying, Succeeded, RollingBack, RolledBack, Aborted, Failed},
	"rollingUnavailable": {AwaitingApproval, Progressing, Paused, Promoting, Verifying, Succeeded, RollingBack, RolledBack, Aborted, Failed},
}

// minShare is the share of a variant's runs that must reach each of its phases: enough that a
// phase is exercised many times per run of the test, not once by luck. The rarest (Failed, Paused)
// are reached in 5 to 15% of a variant's 300 runs; a 2% floor (6 runs) is about four standard
// deviations below the least of them, so the check does not flake.
const minShare = 0.02

// rounds of rapid.Check per variant (each -rapid.checks runs, 100 by default).
const rounds = 3

// variantSpec is a rollout of the variant, compiled as Compile would.
func variantSpec(t *testing.T, variant string) Spec {
	no := false
	switch variant {
	case "canary":
		return canarySpec(t, w(5), pause(time.Minute), w(25), StepSpec{Kind: KindApproval, Gate: &Gate{Name: "g", Count: 1, Timeout: 10 * time.Minute}}, w(50), pause(2*time.Minute), w(100))
	case "recreate":
		return recreateSpec(t)
	case "blueGreen":
		return blueGreenSpec(t, plan.BlueGreenStrategy{}, true)
	case "blueGreenGradual":
		return blueGreenSpec(t, plan.BlueGreenStrategy{Switch: plan.SwitchGradual}, false)
	case "blueGreenManual":
		return blueGreenSpec(t, plan.BlueGreenStrategy{AutoPromotion: &no}, true)
	case "rolling":
		return rollingSpec(t, 4, 1, 0)
	case "rollingUnavailable":
		return rollingSpec(t, 3, 2, 1)
	}
	t.Fatalf("unknown variant %s", variant)
	return Spec{}
}

// percent is a uniform draw from 0..99. rapid's IntRange leans hard towards small numbers (good
// for finding edge cases, bad for a probability); a Bool is one fair bit.
var percent = rapid.Custom(func(rt *rapid.T) int {
	v := 0
	for range 7 {
		v <<= 1
		if rapid.Bool().Draw(rt, "bit") {
			v |= 1
		}
	}
	return v * 100 / 128
})

// chance is true in pct percent of draws; it shrinks towards false, the uneventful case.
func chance(rt *rapid.T, pct int, label string) bool {
	return pct > 0 && percent.Draw(rt, label) >= 100-pct
}

// drawSpec adds to the variant what a plan and a service file may: a watch with a trigger, a
// start gate, automatic rollback off, a database rollback step behind an approval, a smoke test
// verifying the rollback.
func drawSpec(t *testing.T, rt *rapid.T, variant string) Spec {
	spec := variantSpec(t, variant)
	if chance(rt, 60, "watch") {
		spec.MonitorDuration = 3 * time.Minute
		c, err := criteria.Trigger("error_rate", ">", "10")
		if err != nil {
			t.Fatal(err)
		}
		spec.Triggers = []criteria.Condition{c}
	}
	spec.AutoRollback = !chance(rt, 40, "noAutoRollback")
	if chance(rt, 25, "startGate") {
		spec.Gates = []Gate{{Name: "start", Count: 1, Timeout: 5 * time.Minute}}
	}
	if chance(rt, 30, "databaseRollback") {
		spec.DatabaseRollback = true
		spec.RollbackGate = Gate{Name: "database-rollback", Count: 1, Timeout: 10 * time.Minute}
		spec.RollbackSteps = append(append([]RollbackStepSpec{}, defaultRollbackSteps[:2]...),
			RollbackStepSpec{Name: "database", Action: plan.ActionDatabaseMigration, MaxDuration: 5 * time.Minute, RequiresApproval: true},
			defaultRollbackSteps[2])
	}
	spec.VerifySmoke = chance(rt, 30, "verifySmoke")
	return spec
}

// commands are what people may send; approve and resume are listed twice since they are what a
// person asked for usually sends.
var commands = []Command{
	{Kind: "approve", Actor: "alice"}, {Kind: "approve", Actor: "alice"}, {Kind: "reject", Actor: "bob"},
	{Kind: "promote", Actor: "alice"}, {Kind: "promote", Actor: "alice", Full: true}, {Kind: "abort", Actor: "alice"},
	{Kind: "resume", Actor: "alice"}, {Kind: "resume", Actor: "alice"},
	{Kind: "rollback", Actor: "alice"}, {Kind: "rollback", Actor: "alice", Emergency: true},
}

// drawCommand is a command now and then: often enough while the rollout waits for a person,
// rarely otherwise, so that most runs get far on their own. Only commands Validate accepts are
// drawn (Step's contract).
func drawCommand(rt *rapid.T, spec Spec, st State) *Command {
	pct := 2
	if st.Phase == AwaitingApproval || st.Phase == Paused {
		pct = 10
	}
	if !chance(rt, pct, "command?") {
		return nil
	}
	var valid []Command
	for _, c := range commands {
		if Validate(spec, st, c) == nil {
			valid = append(valid, c)
		}
	}
	if len(valid) == 0 {
		return nil
	}
	c := rapid.SampledFrom(valid).Draw(rt, "command")
	return &c
}

// For any strategy and any sequence of observations and commands: weights stay within 0..100
// and add up to 100, every phase change is audited, a terminal rollout never changes, once rolled
// back, aborted or failed no traffic is meant for the candidate, and each strategy keeps its
// promise about what runs together. Observations are mostly healthy and commands rare, so runs
// get far; the test then asserts that each variant reached each of its phases in a share of runs.
func TestStepProperties(t *testing.T) {
	for _, variant := range variants {
		t.Run(variant, func(t *testing.T) {
			if len(reachable[variant]) == 0 {
				t.Fatalf("no reachable phases listed for %s: its coverage would go unchecked", variant)
			}
			runs := 0
			reached := map[Phase]int{}
			for range rounds {
				rapid.Check(t, func(rt *rapid.T) {
					runs++
					for ph := range stepProperties(t, rt, variant) {
						reached[ph]++
					}
				})
			}
			if t.Failed() || runs < 100 {
				return // a property failed (rapid reran it shrinking), or too few runs to judge coverage
			}
			for _, ph := range reachable[variant] {
				if n := reached[ph]; float64(n) < minShare*float64(runs) {
					t.Errorf("%s reached %s in %d of %d runs, want at least %.0f%%: the generator no longer exercises it", variant, ph, n, runs, 100*minShare)
				}
			}
			t.Logf("%s: phases reached in %d runs: %v", variant, runs, reached)
		})
	}
}

// stepProperties drives one rollout of the variant and returns the phases it entered.
func stepProperties(t *testing.T, rt *rapid.T, variant string) map[Phase]bool {
	spec := drawSpec(t, rt, variant)
	stable := "v1"
	if chance(rt, 10, "firstDeploy") {
		stable = ""
	}
	s := newSim(t, spec, stable)
	// How this run's candidate and previous version behave, drawn once: mostly well.
	badPct := rapid.SampledFrom([]int{0, 0, 2, 10, 40}).Draw(rt, "badWindows%")
	quietPct := rapid.SampledFrom([]int{0, 0, 0, 20, 50}).Draw(rt, "quietWindows%")
	crashAt := -1
	if chance(rt, 10, "crashes") {
		crashAt = rapid.IntRange(0, 100).Draw(rt, "crashAt")
	}
	s.neverReady = chance(rt, 5, "neverReady")
	s.stableNeverBack = chance(rt, 25, "stableNeverBack")
	s.dbFails = chance(rt, 30, "dbFails")
	smokeFails := chance(rt, 15, "smokeFails")

	reached := map[Phase]bool{}
	after := 0 // ticks since the rollout became terminal: a terminal rollout is stepped again
	for i := 0; i < 400 && after < 3; i++ {
		s.errorRate, s.requests = 0, 500
		if chance(rt, badPct, "bad") {
			s.errorRate = rapid.SampledFrom([]float64{5, 30}).Draw(rt, "errorRate")
		}
		if chance(rt, quietPct, "quiet") {
			s.requests = rapid.SampledFrom([]uint64{0, 5}).Draw(rt, "requests")
		}
		s.crash = crashAt >= 0 && i >= crashAt
		s.smokeFails = smokeFails
		obs := s.observe()
		obs.Command = drawCommand(rt, spec, s.st)
		prev := s.st
		next, evs, _ := Step(spec, s.st, obs, s.now)
		for _, e := range evs {
			if e.Type == "rollout.phase" {
				reached[Phase(fmt.Sprint(e.Payload["to"]))] = true
			}
		}
		if prev.Phase.Terminal() {
			after++
			if next.Phase != prev.Phase || len(evs) > 0 {
				rt.Fatalf("tick %d: terminal %s changed to %s (%d events)", i, prev.Phase, next.Phase, len(evs))
			}
		}
		if next.Phase != prev.Phase && !hasPhaseEvent(evs) {
			rt.Fatalf("tick %d: %s → %s without an audit event", i, prev.Phase, next.Phase)
		}
		checkDesired(rt, spec, next)
		s.st = next
		s.now = s.now.Add(time.Duration(rapid.IntRange(1, 20).Draw(rt, "dt")) * time.Second)
	}
	return reached
}

// checkDesired checks what Desired asks for in state st against the promises every rollout and
// each strategy make.
func checkDesired(rt *rapid.T, spec Spec, st State) {
	d := Desired(spec, st)
	sum := 0
	for v, wt := range d.Weights {
		if wt < 0 || wt > 100 {
			rt.Fatalf("%s: weight %d for %s", st.Phase, wt, v)
		}
		sum += wt
	}
	if len(d.Weights) > 0 && sum != 100 {
		rt.Fatalf("%s: weights %v do not add up to 100", st.Phase, d.Weights)
	}
	for v, n := range d.Replicas {
		if n < 0 {
			rt.Fatalf("%s: %d replicas of %s", st.Phase, n, v)
		}
	}
	for _, v := range d.Cut {
		if d.Weights[v] != 0 {
			rt.Fatalf("%s: %s is cut and has weight %d: %+v", st.Phase, v, d.Weights[v], d)
		}
	}
	if st.Phase == RollingBack && st.Candidate != "" && st.Candidate != st.Stable && d.Weights[st.Candidate] == 0 &&
		!slices.Contains(d.Cut, st.Candidate) {
		rt.Fatalf("rolling back without cutting the candidate's open streams: %+v", d)
	}
	backing := st.RollbackAt != nil && !st.ReleaseRollback
	switch {
	case st.Phase == RollingBack, st.Phase == RolledBack, st.Phase == Aborted, st.Phase == Failed, backing:
		if d.Weights[st.Candidate] != 0 || d.Replicas[st.Candidate] != 0 {
			rt.Fatalf("%s (%s): still routes to or runs the candidate: %+v", st.Phase, st.Reason, d)
		}
	case st.Phase == Verifying, st.Phase == Succeeded:
		if d.Weights[st.Candidate] != 100 {
			rt.Fatalf("%s: the candidate does not serve all traffic: %+v", st.Phase, d)
		}
	}
	if st.Phase == RolledBack && st.Stable != "" && (d.Weights[st.Stable] != 100 || d.Replicas[st.Stable] != max(spec.Replicas, 1)) {
		rt.Fatalf("rolled back without the previous version serving at full strength: %+v", d)
	}
	// What each strategy promises about what runs together.
	switch spec.Strategy {
	case plan.StrategyRecreate:
		if st.Phase != RollingBack && d.Replicas[st.Stable] > 0 && d.Replicas[st.Candidate] > 0 {
			rt.Fatalf("%s: recreate runs both versions: %+v", st.Phase, d)
		}
	case plan.StrategyRolling:
		if n := d.Replicas[st.Stable] + d.Replicas[st.Candidate]; st.Stable != "" && n > spec.Replicas+spec.MaxSurge {
			rt.Fatalf("%s: rolling asks %d replicas: %+v", st.Phase, n, d)
		}
	case plan.StrategyBlueGreen:
		// Green serves users only once its smoke test passed (it may stay the last result seen).
		passed := st.Smoke != nil && st.Smoke.Passed
		if st.Stable != "" && spec.SmokeTest && !passed && d.Weights[st.Candidate] > 0 {
			rt.Fatalf("%s: green serves before its smoke test passed: %+v", st.Phase, d)
		}
	}
}
