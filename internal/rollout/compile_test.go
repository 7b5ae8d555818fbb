package rollout

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/plan"
)

func testEnv(replicas int) *plan.Env {
	return &plan.Env{
		Name: "production", ProgressDeadline: plan.DefaultProgressDeadline,
		SuccessCriteria: plan.DefaultSuccessCriteria, AnalysisInterval: 30 * time.Second,
		MinimumSamples: plan.DefaultMinimumSamples, Method: plan.MethodThreshold,
		MonitorDuration: 2 * time.Minute,
		Target:          plan.Target{Local: &plan.LocalTarget{Replicas: replicas}},
	}
}

func smokeService() *plan.Service {
	return &plan.Service{Spec: plan.ServiceSpec{SmokeTest: []string{"true"}}}
}

func dur(d time.Duration) *plan.Duration { return &plan.Duration{Duration: d} }

func compile(t *testing.T, st plan.Strategy, o Options, edit func(*plan.PlanSpec)) Spec {
	t.Helper()
	p := &plan.DeploymentPlan{Spec: plan.PlanSpec{Strategy: st}}
	if edit != nil {
		edit(&p.Spec)
	}
	if o.Env == nil {
		o.Env = testEnv(4)
	}
	s, err := Compile(p, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func describe(steps []StepSpec) string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Describe())
	}
	return strings.Join(out, "; ")
}

func TestCompileEveryStrategy(t *testing.T) {
	rc := compile(t, plan.Strategy{Type: "recreate"}, Options{}, nil)
	if rc.HoldTimeout != 30*time.Second || describe(rc.Steps) != "setWeight 100%" {
		t.Fatalf("recreate: %+v", rc)
	}
	rc = compile(t, plan.Strategy{Type: "Recreate", Recreate: &plan.RecreateStrategy{HoldTimeout: dur(5 * time.Second)}}, Options{}, nil)
	if rc.HoldTimeout != 5*time.Second {
		t.Fatalf("recreate hold %s", rc.HoldTimeout)
	}

	yes, no := true, false
	bg := compile(t, plan.Strategy{Type: "blue-green", BlueGreen: &plan.BlueGreenStrategy{
		Switch: "gradual", ValidationPeriod: dur(10 * time.Minute), AutoPromotion: &no, AutoSwitchBack: &yes,
	}}, Options{Service: smokeService()}, nil)
	want := "smoke test; pause until promoted; setWeight 25%; pause 30s; setWeight 50%; pause 30s; setWeight 100%; pause 10m"
	if bg.Strategy != plan.StrategyBlueGreen || describe(bg.Steps) != want || !bg.SmokeTest || !bg.AutoRollback || bg.ScaleDownDelay != plan.DefaultScaleDownDelay {
		t.Fatalf("blue-green: %s %+v", describe(bg.Steps), bg)
	}
	if bg.Steps[1].Reason != ReasonAwaitingPromotion {
		t.Fatalf("pause reason %q", bg.Steps[1].Reason)
	}
	bg = compile(t, plan.Strategy{Type: "blueGreen", BlueGreen: &plan.BlueGreenStrategy{AutoSwitchBack: &no}}, Options{}, nil)
	if describe(bg.Steps) != "setWeight 100%; pause 2m" || bg.AutoRollback {
		t.Fatalf("blue-green instant: %s auto %v", describe(bg.Steps), bg.AutoRollback)
	}

	ro := compile(t, plan.Strategy{Type: "rolling"}, Options{}, nil)
	if ro.MaxSurge != 1 || ro.MaxUnavailable != 0 || ro.Replicas != 4 {
		t.Fatalf("rolling defaults: %+v", ro)
	}
	ro = compile(t, plan.Strategy{Type: "rolling", Rolling: &plan.RollingStrategy{
		MaxSurge: &plan.IntOrPercent{Value: 50, Percent: true}, MaxUnavailable: &plan.IntOrPercent{Value: 25, Percent: true},
	}}, Options{}, nil)
	if ro.MaxSurge != 2 || ro.MaxUnavailable != 1 {
		t.Fatalf("rolling 50%%/25%% of 4: %d %d", ro.MaxSurge, ro.MaxUnavailable)
	}
	_, err := Compile(&plan.DeploymentPlan{Spec: plan.PlanSpec{Strategy: plan.Strategy{Type: "rolling", Rolling: &plan.RollingStrategy{
		MaxSurge: &plan.IntOrPercent{}, MaxUnavailable: &plan.IntOrPercent{},
	}}}}, Options{Env: testEnv(4)})
	if err == nil {
		t.Fatal("maxSurge 0 and maxUnavailable 0 must be refused")
	}
}

func TestCompileWatchAndTriggers(t *testing.T) {
	s := compile(t, plan.Strategy{Type: "canary"}, Options{}, func(p *plan.PlanSpec) {
		rate, latency := 1.0, dur(2*time.Second)
		p.Monitoring = &plan.Monitoring{Duration: dur(10 * time.Minute)}
		p.Rollback = &plan.Rollback{Triggers: []plan.Trigger{
			{ErrorRateThreshold: &rate},
			{LatencyThreshold: latency},
			{CustomMetricThreshold: &plan.CustomMetricThreshold{Metric: "business_conversion_rate", Comparison: "less_than", Threshold: 95}},
		}}
	})
	var got []string
	for _, c := range s.Triggers {
		got = append(got, c.String())
	}
	if want := []string{"error_rate>1%", "latency_p95>2s", "business_conversion_rate<95"}; !slices.Equal(got, want) {
		t.Fatalf("triggers %v, want %v", got, want)
	}
	if s.MonitorDuration != 10*time.Minute {
		t.Fatalf("monitor %s", s.MonitorDuration)
	}
	// The environment's duration when the plan sets none; no triggers derived from criteria.
	s = compile(t, plan.Strategy{Type: "canary"}, Options{}, nil)
	if s.MonitorDuration != 2*time.Minute || len(s.Triggers) != 0 {
		t.Fatalf("env watch: %s %v", s.MonitorDuration, s.Triggers)
	}
	_, err := Compile(&plan.DeploymentPlan{Spec: plan.PlanSpec{Strategy: plan.Strategy{Type: "canary"}, Rollback: &plan.Rollback{Triggers: []plan.Trigger{
		{CustomMetricThreshold: &plan.CustomMetricThreshold{Metric: "x", Comparison: "sideways", Threshold: 1}},
	}}}}, Options{Env: testEnv(1)})
	if err == nil || !strings.Contains(err.Error(), "rollback trigger 0") {
		t.Fatalf("bad comparison: %v", err)
	}
}
