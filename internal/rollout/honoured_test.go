package rollout

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/plan"
)

// The fields a plan carries take effect in the rollout: each test here failed before they did.

func compilePlan(t *testing.T, p *plan.DeploymentPlan, svc *plan.Service, o Options) Spec {
	t.Helper()
	if o.Env == nil {
		env, err := svc.Env("production")
		if err != nil {
			t.Fatal(err)
		}
		o.Env = env
	}
	o.Service = svc
	s, err := Compile(p, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func honourService() *plan.Service {
	return &plan.Service{
		Metadata: plan.Metadata{Name: "checkout"},
		Spec: plan.ServiceSpec{
			Target:       plan.Target{Type: plan.TargetLocal, Local: &plan.LocalTarget{Command: []string{"x"}, Replicas: 2, Listen: "127.0.0.1:1"}},
			HealthChecks: []plan.HealthCheck{{Path: "/readyz"}},
			SmokeTest:    []string{"true"},
			Database:     &plan.Database{Migrate: []string{"make", "up"}, Rollback: []string{"make", "down"}},
			Checkpoints:  map[string][]string{"security-scan": {"trivy", "fs", "."}},
			Environments: map[string]plan.Environment{"production": {
				SuccessCriteria: "error_rate<1%,latency_p95<2s",
				Analysis:        &plan.AnalysisSettings{Interval: &plan.Duration{Duration: 30 * time.Second}},
			}},
		},
	}
}

func canaryPlan(edit func(*plan.PlanSpec)) *plan.DeploymentPlan {
	five, hundred := 5, 100
	p := &plan.DeploymentPlan{Spec: plan.PlanSpec{Strategy: plan.Strategy{Type: "canary", Canary: &plan.CanaryStrategy{Steps: []plan.CanaryStep{
		{SetWeight: &five, Pause: &plan.Pause{Duration: &plan.Seconds{Duration: plan.D(time.Minute)}}},
		{SetWeight: &hundred},
	}}}}}
	if edit != nil {
		edit(&p.Spec)
	}
	return p
}

func TestRollbackAutomaticFalsePauses(t *testing.T) {
	no := false
	spec := compilePlan(t, canaryPlan(func(s *plan.PlanSpec) { s.Rollback = &plan.Rollback{Automatic: &no} }), honourService(), Options{})
	if spec.AutoRollback {
		t.Fatal("rollback.automatic: false compiled to automatic rollback")
	}
	s := newSim(t, spec, "v1")
	s.errorRate = 20
	s.runUntil(Paused, time.Hour)
	if s.st.Reason != ReasonAnalysis || !strings.Contains(s.st.Message, "automatic rollback is off") {
		t.Fatalf("paused for %s: %s", s.st.Reason, s.st.Message)
	}
	// The flag turns it off even when the plan says automatic, and says so.
	spec = compilePlan(t, canaryPlan(nil), honourService(), Options{NoAutoRollback: true})
	if spec.AutoRollback || len(spec.Overrides) != 1 || !strings.Contains(spec.Overrides[0], "--no-auto-rollback") {
		t.Fatalf("--no-auto-rollback: auto %v overrides %v", spec.AutoRollback, spec.Overrides)
	}
	// Left at its default the flag changes nothing: the plan's automatic rollback stays on.
	if spec := compilePlan(t, canaryPlan(nil), honourService(), Options{}); !spec.AutoRollback || len(spec.Overrides) != 0 {
		t.Fatalf("default: auto %v overrides %v", spec.AutoRollback, spec.Overrides)
	}
}

func TestMonitoringFlagAndPlan(t *testing.T) {
	yes, no := true, false
	watch := &plan.Duration{Duration: 10 * time.Minute}
	on := func(s *plan.PlanSpec) { s.Monitoring = &plan.Monitoring{Enabled: &yes, Duration: watch} }
	off := func(s *plan.PlanSpec) { s.Monitoring = &plan.Monitoring{Enabled: &no, Duration: watch} }
	if spec := compilePlan(t, canaryPlan(on), honourService(), Options{}); spec.MonitorDuration != 10*time.Minute {
		t.Fatalf("plan on, flag default: watch %s", spec.MonitorDuration)
	}
	spec := compilePlan(t, canaryPlan(on), honourService(), Options{NoMonitoring: true})
	if spec.MonitorDuration != 0 || len(spec.Overrides) != 1 || !strings.Contains(spec.Overrides[0], "--monitor-health=false") {
		t.Fatalf("plan on, --monitor-health=false: watch %s overrides %v", spec.MonitorDuration, spec.Overrides)
	}
	if spec := compilePlan(t, canaryPlan(off), honourService(), Options{}); spec.MonitorDuration != 0 {
		t.Fatalf("plan off: watch %s", spec.MonitorDuration)
	}
	// Without the watch the new version is still judged once at full traffic.
	s := newSim(t, spec, "v1")
	s.run(time.Hour)
	if s.st.Phase != Succeeded || !s.st.Judged {
		t.Fatalf("phase %s judged %v", s.st.Phase, s.st.Judged)
	}
}

func TestRequiredManualCheckpointWaitsBeforeTraffic(t *testing.T) {
	spec := compilePlan(t, canaryPlan(func(s *plan.PlanSpec) {
		s.Governance = &plan.Governance{Checkpoints: []plan.Checkpoint{
			{Name: "business-validation", Required: true},
			{Name: "ux-review"},
		}}
	}), honourService(), Options{})
	s := newSim(t, spec, "v1")
	s.runUntil(AwaitingApproval, time.Minute)
	if g := CurrentGate(s.spec, s.st); g.Name != "business-validation" {
		t.Fatalf("waits at %q", g.Name)
	}
	if d := Desired(s.spec, s.st); d.Replicas["v2"] != 0 || d.Weights["v1"] != 100 {
		t.Fatalf("something moved before the checkpoint: %+v", d)
	}
	// The optional one is signed off at any time and never waits.
	if err := Validate(s.spec, s.st, Command{Kind: "approve", Actor: "bob", Gate: "ux-review"}); err != nil {
		t.Fatal(err)
	}
	s.tick(&Command{Kind: "approve", Actor: "bob", Gate: "ux-review"})
	if len(s.st.SignOffs) != 1 || s.st.Phase != AwaitingApproval {
		t.Fatalf("sign-off: %+v phase %s", s.st.SignOffs, s.st.Phase)
	}
	if err := Validate(s.spec, s.st, Command{Kind: "approve", Actor: "alice", Gate: "other"}); err == nil {
		t.Fatal("an approval naming another gate was accepted")
	}
	s.tick(&Command{Kind: "approve", Actor: "alice", Gate: "business-validation"})
	s.run(time.Hour)
	if s.st.Phase != Succeeded {
		t.Fatalf("phase %s %s", s.st.Phase, s.st.Message)
	}
}

func TestSeedPlanAutomaticOffAndCheckpointPauseAtBoth(t *testing.T) {
	no := false
	spec := compilePlan(t, canaryPlan(func(s *plan.PlanSpec) {
		s.Rollback = &plan.Rollback{Automatic: &no}
		s.Governance = &plan.Governance{Checkpoints: []plan.Checkpoint{{Name: "business-validation", Required: true}}}
	}), honourService(), Options{})
	s := newSim(t, spec, "v1")
	s.errorRate = 20
	s.runUntil(AwaitingApproval, time.Minute)
	s.tick(&Command{Kind: "approve", Actor: "alice"})
	s.runUntil(Paused, time.Hour)
	if s.st.Reason != ReasonAnalysis {
		t.Fatalf("paused for %s", s.st.Reason)
	}
}

func TestCheckpointCommandsAndMigrateRunBeforeDeploy(t *testing.T) {
	migrating := func(s *plan.PlanSpec) {
		s.Governance = &plan.Governance{Checkpoints: []plan.Checkpoint{
			{Name: "database-migration-review", Required: true},
			{Name: "security-scan", Required: true, Automated: true},
		}}
		s.Rollback = &plan.Rollback{Steps: []plan.RollbackStep{{Name: "db", Action: plan.ActionDatabaseMigration}}}
	}
	spec := compilePlan(t, canaryPlan(migrating), honourService(), Options{})
	s := newSim(t, spec, "v1")
	s.runUntil(AwaitingApproval, time.Minute)
	if len(s.ran) != 0 {
		t.Fatalf("ran %v before the review", s.ran)
	}
	s.tick(&Command{Kind: "approve", Actor: "dba", Gate: "database-migration-review"})
	s.run(time.Hour)
	if s.st.Phase != Succeeded || !slices.Equal(s.ran, []string{"security-scan", RunMigrate}) {
		t.Fatalf("phase %s ran %v", s.st.Phase, s.ran)
	}
	// A failing scan stops the rollout before anything is deployed.
	s = newSim(t, spec, "v1")
	s.runFails["security-scan"] = true
	s.runUntil(AwaitingApproval, time.Minute)
	s.tick(&Command{Kind: "approve", Actor: "dba"})
	s.run(time.Hour)
	if s.st.Phase != Aborted || s.st.Reason != ReasonCheckpoint || s.maxWeight != 0 || slices.Contains(s.ran, RunMigrate) {
		t.Fatalf("phase %s (%s) weight %d ran %v", s.st.Phase, s.st.Reason, s.maxWeight, s.ran)
	}
	if _, ok := s.askedAt["v2"]; ok {
		t.Fatal("the candidate was started although its checkpoint failed")
	}
}

func TestUnknownAutomatedCheckpointRefused(t *testing.T) {
	p := canaryPlan(func(s *plan.PlanSpec) {
		s.Governance = &plan.Governance{Checkpoints: []plan.Checkpoint{{Name: "pen-test", Required: true, Automated: true}}}
	})
	env, _ := honourService().Env("production")
	if _, err := Compile(p, Options{Env: env, Service: honourService()}); err == nil || !strings.Contains(err.Error(), "pen-test") {
		t.Fatalf("err = %v", err)
	}
}

// A recreate of a version answering 30% of its requests with 500 is judged at full traffic and
// rolled back; before, it succeeded the second it was ready.
func TestRecreateIsJudgedBeforeSuccess(t *testing.T) {
	spec := compilePlan(t, &plan.DeploymentPlan{Spec: plan.PlanSpec{Strategy: plan.Strategy{Type: "recreate"}}}, honourService(), Options{})
	s := newSim(t, spec, "v1")
	s.errorRate = 30
	s.run(time.Hour)
	if s.st.Phase != RolledBack || s.st.Reason != ReasonAnalysis {
		t.Fatalf("phase %s reason %s: %s", s.st.Phase, s.st.Reason, s.st.Message)
	}
	// Too little traffic to judge it is never a success either.
	s = newSim(t, spec, "v1")
	s.requests = 3
	s.run(time.Hour)
	if s.st.Phase != Paused || s.st.Reason != ReasonInconclusive {
		t.Fatalf("thin traffic: phase %s reason %s", s.st.Phase, s.st.Reason)
	}
	// A person may accept it.
	s.tick(&Command{Kind: "promote", Actor: "alice"})
	if s.st.Phase != Succeeded {
		t.Fatalf("promote after the inconclusive watch: %s", s.st.Phase)
	}
}

func TestFirstDeployIsJudged(t *testing.T) {
	spec := compilePlan(t, canaryPlan(nil), honourService(), Options{})
	s := newSim(t, spec, "")
	s.run(time.Hour)
	if s.st.Phase != Succeeded || !s.st.Judged {
		t.Fatalf("good first deploy: %s judged %v", s.st.Phase, s.st.Judged)
	}
	s = newSim(t, spec, "")
	s.errorRate = 30
	s.run(time.Hour)
	if s.st.Phase != RolledBack {
		t.Fatalf("bad first deploy: %s %s", s.st.Phase, s.st.Message)
	}
	if d := Desired(s.spec, s.st); len(d.Replicas) != 0 || len(d.Weights) != 0 {
		t.Fatalf("a rolled-back first deploy leaves %+v", d)
	}
}

func TestSmokeCheckpointPerStrategy(t *testing.T) {
	smoke := func(s *plan.PlanSpec) {
		s.Governance = &plan.Governance{Checkpoints: []plan.Checkpoint{{Name: "smoke-test", Required: true, Automated: true}}}
	}
	// Canary: before the first weight, on the preview route.
	spec := compilePlan(t, canaryPlan(smoke), honourService(), Options{})
	if spec.Steps[0].Kind != KindSmokeTest {
		t.Fatalf("canary steps: %s", describe(spec.Steps))
	}
	spec.VerifySmoke = false // the sim's smoke test fails against every version
	s := newSim(t, spec, "v1")
	s.smokeFails = true
	s.run(time.Hour)
	if s.st.Phase != RolledBack || s.st.Reason != ReasonSmokeTest || s.maxWeight != 0 {
		t.Fatalf("canary: %s %s weight %d", s.st.Phase, s.st.Reason, s.maxWeight)
	}
	// Rolling: once the new version serves, before it succeeds.
	p := &plan.DeploymentPlan{Spec: plan.PlanSpec{Strategy: plan.Strategy{Type: "rolling"}}}
	smoke(&p.Spec)
	spec = compilePlan(t, p, honourService(), Options{})
	if !spec.SmokeInWatch {
		t.Fatal("rolling: no smoke test in the watch")
	}
	spec.VerifySmoke = false
	s = newSim(t, spec, "v1")
	s.smokeFails = true
	s.run(time.Hour)
	if s.st.Phase != RolledBack || s.st.Reason != ReasonSmokeTest {
		t.Fatalf("rolling: %s %s", s.st.Phase, s.st.Reason)
	}
}

func TestDatabaseRollbackApprovalUsesCurrentGate(t *testing.T) {
	spec := canarySpec(t, w(50), pause(time.Minute), w(100))
	spec.RollbackGate = Gate{Name: "database-rollback", Count: 1, Timeout: time.Hour}
	st := New("v1", "v2", t0)
	at := t0
	st.RollbackAt = &at
	st.Phase = AwaitingApproval
	if g := CurrentGate(spec, st); g.Name != "database-rollback" {
		t.Fatalf("gate %q", g.Name)
	}
}

func TestFourEyes(t *testing.T) {
	spec := canarySpec(t, w(100))
	spec.FourEyes = true
	spec.Gates = []Gate{{Name: "production-approval", Count: 1, Timeout: time.Hour}}
	st := New("v1", "v2", t0)
	st.StartedBy = "alice"
	st.Phase = AwaitingApproval
	at := t0
	st.WaitingSince = &at
	err := Validate(spec, st, Command{Kind: "approve", Actor: "alice"})
	if ce, ok := err.(*CommandError); !ok || !ce.Denied {
		t.Fatalf("the starter approved her own rollout: %v", err)
	}
	if err := Validate(spec, st, Command{Kind: "approve", Actor: "bob"}); err != nil {
		t.Fatal(err)
	}
}

func TestTemplateLimitsHonoured(t *testing.T) {
	two := 2
	p := canaryPlan(func(s *plan.PlanSpec) {
		s.AnalysisTemplates = []plan.AnalysisTemplate{{Name: "lenient", Metrics: []plan.AnalysisMetric{{Name: "errors", SuccessCondition: "error_rate<1%", FailureLimit: &two}}}}
		s.Strategy.Canary.Analysis = &plan.AnalysisRef{Templates: []plan.TemplateRef{{TemplateName: "lenient"}}}
	})
	spec := compilePlan(t, p, honourService(), Options{})
	if spec.Limits.FailureLimit != 2 {
		t.Fatalf("failureLimit %d", spec.Limits.FailureLimit)
	}
}

func TestCanaryScaleDownDelayKeepsStable(t *testing.T) {
	p := canaryPlan(func(s *plan.PlanSpec) { s.Strategy.Canary.ScaleDownDelaySeconds = 90 })
	spec := compilePlan(t, p, honourService(), Options{})
	if spec.watchFor() != 90*time.Second {
		t.Fatalf("watch %s", spec.watchFor())
	}
}

func TestMonitoringMetricsAreMeasured(t *testing.T) {
	spec := compilePlan(t, canaryPlan(func(s *plan.PlanSpec) {
		s.Monitoring = &plan.Monitoring{Metrics: []string{"throughput", "http_request_duration", "error_rate", "throughput"}}
	}), honourService(), Options{})
	if !slices.Equal(spec.Monitors, []string{"request_rate", "latency_p95", "error_rate"}) {
		t.Fatalf("monitors %v", spec.Monitors)
	}
	if spec := compilePlan(t, canaryPlan(func(s *plan.PlanSpec) {
		s.Monitoring = &plan.Monitoring{Metrics: []string{"throughput"}}
	}), honourService(), Options{NoMonitoring: true}); len(spec.Monitors) != 0 {
		t.Fatalf("--monitor-health=false still monitors %v", spec.Monitors)
	}
	// A window's monitor values are kept for the live view.
	st := New("v1", "v2", t0)
	at := t0
	st.AnalysisFrom, st.Phase = &at, Progressing
	w := &Window{From: t0, To: t0.Add(spec.Interval), Monitors: []analysis.Measurement{{Metric: "request_rate", Value: 95}}}
	next, _, _ := Step(spec, st, Observation{Window: w}, t0.Add(spec.Interval+time.Second))
	if len(next.Monitors) != 1 || next.Monitors[0].Value != 95 {
		t.Fatalf("monitors kept: %+v", next.Monitors)
	}
}
