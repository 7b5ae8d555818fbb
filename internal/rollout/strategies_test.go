package rollout

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/plan"
)

func recreateSpec(t *testing.T) Spec {
	t.Helper()
	s := canarySpec(t, w(100))
	s.Strategy = plan.StrategyRecreate
	s.HoldTimeout = plan.DefaultHoldTimeout
	return s
}

// blueGreenSpec compiles a blue-green strategy the way Compile does, on canarySpec's settings.
func blueGreenSpec(t *testing.T, bg plan.BlueGreenStrategy, smoke bool) Spec {
	t.Helper()
	s := canarySpec(t)
	s.Strategy = plan.StrategyBlueGreen
	if err := s.compileBlueGreen(&plan.DeploymentPlan{Spec: plan.PlanSpec{Strategy: plan.Strategy{BlueGreen: &bg}}}, smoke); err != nil {
		t.Fatal(err)
	}
	return s
}

func trigger(t *testing.T, metric, cmp, threshold string) criteria.Condition {
	t.Helper()
	c, err := criteria.Trigger(metric, cmp, threshold)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runUntil ticks until the rollout reaches phase (or is terminal).
func (s *sim) runUntil(ph Phase, limit time.Duration) {
	s.t.Helper()
	end := s.now.Add(limit)
	for s.st.Phase != ph && !s.st.Phase.Terminal() && s.now.Before(end) {
		s.tick(nil)
		s.now = s.now.Add(time.Second)
	}
	if s.st.Phase != ph {
		s.t.Fatalf("wanted %s, got %s (%s) %s", ph, s.st.Phase, s.st.Reason, s.st.Message)
	}
}

func TestRecreateStopsThenStarts(t *testing.T) {
	s := newSim(t, recreateSpec(t), "v1")
	s.stopAfter = 2 * time.Second
	for !s.st.Phase.Terminal() && s.now.Before(t0.Add(time.Hour)) {
		s.tick(nil)
		d := Desired(s.spec, s.st)
		if d.Replicas["v1"] > 0 && d.Replicas["v2"] > 0 {
			t.Fatalf("%s: recreate runs both versions: %+v", s.st.Phase, d)
		}
		if d.HoldTimeout != 30*time.Second {
			t.Fatalf("hold timeout %s", d.HoldTimeout)
		}
		if s.st.DeployedAt != nil && s.revObs("v1").Present {
			t.Fatal("the candidate was started before the old version was gone")
		}
		s.now = s.now.Add(time.Second)
	}
	if s.st.Phase != Succeeded || s.st.Phase.ExitCode() != 0 {
		t.Fatalf("phase %s %s", s.st.Phase, s.st.Message)
	}
	// 2 s to stop and 3 s to start: requests wait that long, well within the hold timeout.
	if s.maxHeld == 0 || s.maxHeld > 10*time.Second {
		t.Fatalf("requests held %s", s.maxHeld)
	}
	if d := Desired(s.spec, s.st); d.Replicas["v2"] != 2 || d.Weights["v2"] != 100 || len(d.Replicas) != 1 {
		t.Fatalf("after success: %+v", d)
	}
}

func TestRecreateNotReadyRollsBack(t *testing.T) {
	s := newSim(t, recreateSpec(t), "v1")
	s.neverReady = true
	s.run(time.Hour)
	if s.st.Phase != RolledBack || s.st.Reason != ReasonProgressDeadline || s.st.Phase.ExitCode() != 3 {
		t.Fatalf("phase %s reason %s", s.st.Phase, s.st.Reason)
	}
	if d := Desired(s.spec, s.st); d.Replicas["v1"] != 2 || d.Weights["v1"] != 100 || d.Replicas["v2"] != 0 {
		t.Fatalf("after rollback: %+v", d)
	}
	if !s.revObs("v1").Present || s.revObs("v1").Ready != 2 {
		t.Fatal("RolledBack before the old version was ready again")
	}
}

func TestRecreateCrashLoopAndFailedRollback(t *testing.T) {
	s := newSim(t, recreateSpec(t), "v1")
	s.crash = true
	s.run(time.Hour)
	if s.st.Phase != RolledBack || s.st.Reason != ReasonCrashLoop {
		t.Fatalf("phase %s reason %s", s.st.Phase, s.st.Reason)
	}

	f := newSim(t, recreateSpec(t), "v1")
	f.neverReady, f.stableNeverBack = true, true
	f.run(time.Hour)
	if f.st.Phase != Failed || f.st.Reason != ReasonRollbackFailed || f.st.Phase.ExitCode() != 1 {
		t.Fatalf("phase %s reason %s", f.st.Phase, f.st.Reason)
	}
}

// Every strategy's first deploy just starts the candidate and gives it all traffic.
func TestFirstDeployEveryStrategy(t *testing.T) {
	for name, spec := range map[string]Spec{
		"recreate":  recreateSpec(t),
		"blueGreen": blueGreenSpec(t, plan.BlueGreenStrategy{Switch: plan.SwitchGradual}, true),
		"rolling":   rollingSpec(t, 4, 1, 0),
	} {
		t.Run(name, func(t *testing.T) {
			spec.MonitorDuration = 10 * time.Minute
			s := newSim(t, spec, "")
			s.run(time.Minute)
			if s.st.Phase != Succeeded || Desired(s.spec, s.st).Weights["v2"] != 100 {
				t.Fatalf("first deploy: %s %s", s.st.Phase, s.st.Message)
			}
		})
	}
}

func watchedSpec(t *testing.T) Spec {
	spec := canarySpec(t, w(20), pause(time.Minute), w(100))
	spec.MonitorDuration = 5 * time.Minute
	spec.Triggers = []criteria.Condition{trigger(t, "latency_p95", "greater_than", "500ms")}
	return spec
}

func TestQuietWatchSucceeds(t *testing.T) {
	s := newSim(t, watchedSpec(t), "v1")
	s.runUntil(Verifying, time.Hour)
	promoted := s.now
	d := Desired(s.spec, s.st)
	if d.Weights["v2"] != 100 || d.Weights["v1"] != 0 || d.Replicas["v1"] != 2 {
		t.Fatalf("verifying: %+v", d)
	}
	l, ok := Due(s.spec, s.st, s.now.Add(time.Minute))
	if !ok || !slices.Contains(l.Conditions, s.spec.Triggers[0]) || !l.To.After(l.From) {
		t.Fatalf("Due in Verifying: %v %v", l.Conditions, ok)
	}
	s.run(time.Hour)
	if s.st.Phase != Succeeded {
		t.Fatalf("phase %s %s", s.st.Phase, s.st.Message)
	}
	if got := s.now.Sub(promoted); got < 5*time.Minute || got > 5*time.Minute+40*time.Second {
		t.Fatalf("watched %s", got)
	}
	if d := Desired(s.spec, s.st); d.Replicas["v1"] != 0 {
		t.Fatalf("the previous version outlives the watch: %+v", d)
	}
}

func TestTriggerDuringWatchRollsBack(t *testing.T) {
	s := newSim(t, watchedSpec(t), "v1")
	s.runUntil(Verifying, time.Hour)
	s.latency = 0.9 // within the criteria (< 2 s), past the trigger (> 500 ms)
	s.run(time.Hour)
	if s.st.Phase != RolledBack || s.st.Reason != ReasonTrigger || s.st.Phase.ExitCode() != 3 {
		t.Fatalf("phase %s reason %s", s.st.Phase, s.st.Reason)
	}
	if !strings.Contains(s.st.Message, "latency_p95>500ms") {
		t.Fatalf("the message must name the trigger: %q", s.st.Message)
	}
	if d := Desired(s.spec, s.st); d.Weights["v2"] != 0 || d.Weights["v1"] != 100 {
		t.Fatalf("after rollback: %+v", d)
	}
}

// A trigger judged on too few requests is Inconclusive, and that never fires; nor does a version
// never judged on enough requests at full traffic succeed: it waits for a person.
func TestInconclusiveTriggerNeverFires(t *testing.T) {
	s := newSim(t, watchedSpec(t), "v1")
	s.runUntil(Verifying, time.Hour)
	s.latency, s.requests = 0.9, 3
	s.runUntil(Paused, time.Hour)
	if s.st.Phase != Paused || s.st.Reason != ReasonInconclusive {
		t.Fatalf("phase %s reason %s %s", s.st.Phase, s.st.Reason, s.st.Message)
	}
	// A passed trigger (latency under it) is not a passed window either.
	tally := analysis.Tally{}
	ms, trig := s.spec.splitTriggers([]analysis.Measurement{{Condition: "latency_p95>500ms", Phase: analysis.Successful}, {Condition: "error_rate<1%", Phase: analysis.Failed}})
	if len(trig) != 1 || tally.Add(ms).Failed != 1 {
		t.Fatalf("split: %v %v", ms, trig)
	}
}

// Triggers are armed before promotion too: a canary that trips one is rolled back at once.
func TestTriggerDuringCanary(t *testing.T) {
	s := newSim(t, watchedSpec(t), "v1")
	s.latency = 0.9
	s.run(time.Hour)
	if s.st.Phase != RolledBack || s.st.Reason != ReasonTrigger || s.maxWeight != 20 {
		t.Fatalf("phase %s reason %s max weight %d", s.st.Phase, s.st.Reason, s.maxWeight)
	}
}

func rollingSpec(t *testing.T, replicas, surge, unavailable int) Spec {
	t.Helper()
	s := canarySpec(t)
	s.Strategy = plan.StrategyRolling
	s.Replicas, s.MaxSurge, s.MaxUnavailable = replicas, surge, unavailable
	s.HoldTimeout = plan.DefaultHoldTimeout
	return s
}

func TestBlueGreenInstantWithSmokeTest(t *testing.T) {
	s := newSim(t, blueGreenSpec(t, plan.BlueGreenStrategy{}, true), "v1")
	sawPreview := false
	for !s.st.Phase.Terminal() && s.now.Before(t0.Add(time.Hour)) {
		s.tick(nil)
		d := Desired(s.spec, s.st)
		if s.st.Smoke == nil && d.Weights["v2"] > 0 {
			t.Fatal("green took user traffic before its smoke test passed")
		}
		if s.st.Phase != Succeeded && d.Replicas["v1"] != 2 {
			t.Fatalf("%s: blue not kept: %+v", s.st.Phase, d)
		}
		sawPreview = sawPreview || d.Preview == "v2" && d.Weights["v2"] == 0
		s.now = s.now.Add(time.Second)
	}
	if s.st.Phase != Succeeded || !sawPreview {
		t.Fatalf("phase %s %s, preview %v", s.st.Phase, s.st.Message, sawPreview)
	}
	if len(s.smokeRuns) != 1 || !s.st.Smoke.Passed {
		t.Fatalf("smoke runs %v", s.smokeRuns)
	}
	if !slices.Equal(s.weights, []int{0, 100}) {
		t.Fatalf("instant switch went through %v", s.weights)
	}
	// 4 intervals of validation, then scaleDownDelay with blue kept.
	if got := s.now.Sub(t0); got < 2*time.Minute+plan.DefaultScaleDownDelay {
		t.Fatalf("took %s", got)
	}
	if d := Desired(s.spec, s.st); d.Replicas["v1"] != 0 {
		t.Fatalf("blue not stopped: %+v", d)
	}
}

func TestBlueGreenGradual(t *testing.T) {
	s := newSim(t, blueGreenSpec(t, plan.BlueGreenStrategy{Switch: plan.SwitchGradual}, false), "v1")
	s.run(time.Hour)
	if s.st.Phase != Succeeded || !slices.Equal(s.weights, []int{0, 25, 50, 100}) {
		t.Fatalf("phase %s weights %v", s.st.Phase, s.weights)
	}
}

func TestBlueGreenSmokeTestFails(t *testing.T) {
	s := newSim(t, blueGreenSpec(t, plan.BlueGreenStrategy{}, true), "v1")
	s.smokeFails = true
	s.run(time.Hour)
	if s.st.Phase != RolledBack || s.st.Reason != ReasonSmokeTest || s.st.Phase.ExitCode() != 3 || s.maxWeight != 0 {
		t.Fatalf("phase %s reason %s max weight %d", s.st.Phase, s.st.Reason, s.maxWeight)
	}
	if !strings.Contains(s.st.Message, "POST /orders 500") || len(s.smokeRuns) != 1 {
		t.Fatalf("message %q runs %v", s.st.Message, s.smokeRuns)
	}
}

// Green that errors once switched is switched back within the validation period, and blue
// never stopped serving.
func TestBlueGreenFailsValidation(t *testing.T) {
	s := newSim(t, blueGreenSpec(t, plan.BlueGreenStrategy{}, false), "v1")
	s.errorRate = 20
	for !s.st.Phase.Terminal() && s.now.Before(t0.Add(time.Hour)) {
		s.tick(nil)
		if d := Desired(s.spec, s.st); d.Replicas["v1"] != 2 {
			t.Fatalf("%s: blue not kept: %+v", s.st.Phase, d)
		}
		s.now = s.now.Add(time.Second)
	}
	if s.st.Phase != RolledBack || s.st.Reason != ReasonAnalysis || s.maxWeight != 100 {
		t.Fatalf("phase %s reason %s max weight %d", s.st.Phase, s.st.Reason, s.maxWeight)
	}
	if got := s.now.Sub(t0); got > time.Minute {
		t.Fatalf("switched back after %s", got)
	}
}

func TestBlueGreenAwaitsPromotion(t *testing.T) {
	no := false
	s := newSim(t, blueGreenSpec(t, plan.BlueGreenStrategy{AutoPromotion: &no}, true), "v1")
	s.run(10 * time.Minute)
	if s.st.Phase != Paused || s.st.Reason != ReasonAwaitingPromotion || s.maxWeight != 0 || s.st.Smoke == nil {
		t.Fatalf("phase %s reason %s weight %d", s.st.Phase, s.st.Reason, s.maxWeight)
	}
	s.tick(&Command{Kind: "promote", Actor: "alice"})
	s.run(time.Hour)
	if s.st.Phase != Succeeded || len(s.smokeRuns) != 1 {
		t.Fatalf("phase %s, smoke runs %v", s.st.Phase, s.smokeRuns)
	}
}

// A result for another request (a smoke test the engine ran twice, or late) is not this one's.
func TestSmokeResultOfAnotherRequestIgnored(t *testing.T) {
	spec := blueGreenSpec(t, plan.BlueGreenStrategy{}, true)
	s := newSim(t, spec, "v1")
	s.smokeRuns["x"] = 0
	for range 10 {
		s.tick(nil)
		s.now = s.now.Add(time.Second)
	}
	if s.st.SmokeRequestedAt == nil && s.st.Smoke == nil {
		t.Fatal("no smoke test requested")
	}
	st := s.st
	st.Smoke, st.SmokeRequestedAt = nil, &t0
	next, _, _ := Step(spec, st, Observation{Candidate: RevisionObs{Present: true, Ready: 2}, SmokeTest: &SmokeResult{ID: "smoke-other", Passed: false}}, s.now)
	if next.Phase != Progressing || next.SmokeRequestedAt == nil {
		t.Fatalf("a stale result was taken: %s", next.Phase)
	}
}

func TestRollingReplacesInBatches(t *testing.T) {
	for _, c := range []struct {
		surge, unavailable, batches int
		weights                     []int
	}{
		// weights = new ready / all ready: 1 new of 5, then 1 of 4 as an old one leaves, ...
		{1, 0, 5, []int{0, 20, 25, 40, 50, 60, 75, 80, 100}},
		{1, 1, 3, []int{0, 40, 67, 80, 100}},
		{2, 0, 3, []int{0, 33, 50, 67, 100}},
	} {
		s := newSim(t, rollingSpec(t, 4, c.surge, c.unavailable), "v1")
		for !s.st.Phase.Terminal() && s.now.Before(t0.Add(time.Hour)) {
			s.tick(nil)
			d := Desired(s.spec, s.st)
			if n := d.Replicas["v1"] + d.Replicas["v2"]; n > 4+c.surge {
				t.Fatalf("%d replicas asked, more than 4+maxSurge: %+v", n, d)
			}
			// Old replicas leave only as new ones are ready.
			if ready := min(s.revObs("v1").Ready, d.Replicas["v1"]) + s.revObs("v2").Ready; s.st.Phase == Progressing && ready < 4-c.unavailable {
				t.Fatalf("surge %d unavailable %d: %d ready: %+v", c.surge, c.unavailable, ready, d)
			}
			s.now = s.now.Add(time.Second)
		}
		if s.st.Phase != Succeeded || s.st.Batch != c.batches || !slices.Equal(s.weights, c.weights) {
			t.Fatalf("surge %d unavailable %d: phase %s, %d batches, weights %v: %s", c.surge, c.unavailable, s.st.Phase, s.st.Batch, s.weights, s.st.Message)
		}
		if s.st.Tally.Successful < c.batches {
			t.Fatalf("%d windows passed for %d batches", s.st.Tally.Successful, c.batches)
		}
	}
}

func TestRollingBadRollsBack(t *testing.T) {
	s := newSim(t, rollingSpec(t, 4, 1, 0), "v1")
	s.errorRate = 20
	s.run(time.Hour)
	if s.st.Phase != RolledBack || s.st.Reason != ReasonAnalysis || s.st.Batch != 1 {
		t.Fatalf("phase %s reason %s batch %d", s.st.Phase, s.st.Reason, s.st.Batch)
	}
	if d := Desired(s.spec, s.st); d.Replicas["v1"] != 4 || d.Weights["v1"] != 100 || d.Replicas["v2"] != 0 {
		t.Fatalf("after rollback: %+v", d)
	}
}

// The watch after promotion works for every strategy: a trigger brings the previous version
// back; recreate and rolling, which never run both versions at full size, start it again.
func TestWatchEveryStrategy(t *testing.T) {
	for name, c := range map[string]struct {
		spec         Spec
		keepsBlue    bool
		readyAfterRB bool
	}{
		"canary":    {watchedSpec(t), true, false},
		"recreate":  {recreateSpec(t), false, true},
		"blueGreen": {blueGreenSpec(t, plan.BlueGreenStrategy{}, true), true, false},
		"rolling":   {rollingSpec(t, 3, 1, 0), false, true},
	} {
		t.Run(name, func(t *testing.T) {
			spec := c.spec
			spec.MonitorDuration = 5 * time.Minute
			spec.Triggers = []criteria.Condition{trigger(t, "latency_p95", ">", "500ms")}
			s := newSim(t, spec, "v1")
			s.runUntil(Verifying, time.Hour)
			if d := Desired(s.spec, s.st); (d.Replicas["v1"] > 0) != c.keepsBlue || d.Weights["v1"] != 0 {
				t.Fatalf("verifying: %+v", d)
			}
			s.latency = 0.8
			s.run(time.Hour)
			if s.st.Phase != RolledBack || s.st.Reason != ReasonTrigger || s.st.Phase.ExitCode() != 3 {
				t.Fatalf("phase %s reason %s %s", s.st.Phase, s.st.Reason, s.st.Message)
			}
			if o := s.revObs("v1"); c.readyAfterRB && o.Ready != spec.Replicas {
				t.Fatalf("RolledBack with %d/%d of v1 ready", o.Ready, spec.Replicas)
			}
			if d := Desired(s.spec, s.st); d.HoldTimeout == 0 && !c.keepsBlue {
				t.Fatal("a rollback that starts the old version again must hold requests")
			}
		})
	}
}

// An old version that does not stop fails the recreate while it still serves.
func TestRecreateOldVersionWillNotStop(t *testing.T) {
	s := newSim(t, recreateSpec(t), "v1")
	s.stopAfter = time.Hour
	s.run(time.Hour)
	if s.st.Phase != RolledBack || s.st.Reason != ReasonProgressDeadline || s.st.DeployedAt != nil {
		t.Fatalf("phase %s reason %s", s.st.Phase, s.st.Reason)
	}
}

// A person can roll back during the watch; the result is the same as a trigger's.
func TestManualRollbackDuringWatch(t *testing.T) {
	s := newSim(t, watchedSpec(t), "v1")
	s.runUntil(Verifying, time.Hour)
	if err := Validate(s.spec, s.st, Command{Kind: "promote", Actor: "alice"}); err == nil {
		t.Fatal("promote during the watch")
	}
	s.tick(&Command{Kind: "rollback", Actor: "alice"})
	s.run(time.Minute)
	if s.st.Phase != RolledBack || s.st.Reason != ReasonManual || s.st.Phase.ExitCode() != 3 {
		t.Fatalf("phase %s reason %s", s.st.Phase, s.st.Reason)
	}
}

// A batch whose replicas never become ready rolls back; the old version had kept serving.
func TestRollingBatchNotReady(t *testing.T) {
	s := newSim(t, rollingSpec(t, 4, 1, 0), "v1")
	s.neverReady = true
	s.run(time.Hour)
	if s.st.Phase != RolledBack || s.st.Reason != ReasonProgressDeadline || s.maxWeight != 0 {
		t.Fatalf("phase %s reason %s max weight %d", s.st.Phase, s.st.Reason, s.maxWeight)
	}
}

// A look taken late covers every whole interval it missed, from where the last one ended: no
// second is left out, none is measured twice, and the judge is back in step in one look.
func TestLateLookCoversTheIntervalsItMissed(t *testing.T) {
	s := newSim(t, watchedSpec(t), "v1")
	s.runUntil(Verifying, time.Hour)
	from := *s.st.AnalysisFrom
	iv, settle := s.spec.Interval, s.spec.Settle
	onTime, ok := Due(s.spec, s.st, from.Add(iv+settle))
	if !ok || !onTime.From.Equal(from) || onTime.To.Sub(onTime.From) != iv {
		t.Fatalf("on time: %v..%v %v, want one interval %s from %v", onTime.From, onTime.To, ok, iv, from)
	}
	late, ok := Due(s.spec, s.st, from.Add(7*iv+settle+iv/2))
	if !ok || !late.From.Equal(from) || late.To.Sub(late.From) != 7*iv {
		t.Fatalf("7.5 intervals late: %v..%v %v, want 7 whole intervals from %v", late.From, late.To, ok, from)
	}
	if _, ok := Due(s.spec, s.st, from.Add(iv+settle-time.Millisecond)); ok {
		t.Fatal("a look due before its interval (and the settle) is over")
	}
}
