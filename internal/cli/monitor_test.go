package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
)

// monitor measures the current release with the plan that made it, and reports its triggers.
func TestMonitorCurrentRelease(t *testing.T) {
	s := startServer(t)
	code, out, errOut := run(t, "monitor", "--server", s.socket(), "--service", "demo", "-e", "production", "-o", "json")
	if code != 0 {
		t.Fatalf("monitor before any release: %d %s", code, errOut)
	}
	var m api.Monitor
	if err := json.Unmarshal([]byte(out), &m); err != nil || m.Version != "" {
		t.Fatalf("before any release: %v %+v", err, m)
	}

	s.Release("production", "v1")
	plan := "apiVersion: hugai.io/v1\nkind: DeploymentPlan\nspec:\n  service: demo\n  environment: production\n" +
		"  strategy: {type: canary, canary: {steps: [{setWeight: 100}]}}\n" +
		"  monitoring: {metrics: [throughput]}\n" +
		"  rollback: {triggers: [{errorRateThreshold: 5}]}\n"
	r := s.Begin("alice", api.StartRequest{Plan: []byte(plan), Version: "v2"})
	r = s.Judged(r.ID)

	code, out, errOut = run(t, "monitor", "--server", s.socket(), "--service", "demo", "-e", "production", "-o", "json")
	if code != 0 {
		t.Fatalf("monitor: %d %s", code, errOut)
	}
	m = api.Monitor{}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	if m.Version != "v2" || m.RolloutID != r.ID || !m.To.After(m.From) || len(m.Firing) != 0 {
		t.Fatalf("monitor after v2: %+v", m)
	}
	kinds := map[string][]string{}
	for _, v := range m.Values {
		kinds[v.Kind] = append(kinds[v.Kind], v.Metric+" "+v.Phase)
	}
	if got := strings.Join(kinds["performance"], ","); !strings.Contains(got, "error_rate Successful") || !strings.Contains(got, "latency_p95") {
		t.Errorf("performance %v", kinds["performance"])
	}
	if got := strings.Join(kinds["trigger"], ","); got != "error_rate Failed" {
		t.Errorf("a quiet trigger: %v", kinds["trigger"])
	}

	// The release degrades after its rollout ended: the trigger holds, monitor says so and exits 3,
	// and nothing is rolled back behind the user's back.
	s.SetErrorRate("v2", 40)
	code, out, _ = run(t, "monitor", "--server", s.socket(), "--service", "demo", "-e", "production", "--once")
	if code != ExitRolledBack || !strings.Contains(out, "FIRING") || !strings.Contains(out, "hugai deploy rollback "+r.ID) {
		t.Fatalf("a firing trigger: exit %d\n%s", code, out)
	}
	if v := s.Judged(r.ID); v.Phase != "Succeeded" {
		t.Errorf("monitor changed the rollout: %s", v.Phase)
	}

	code, _, errOut = run(t, "monitor", "--server", s.socket(), "--service", "demo", "-e", "prod")
	if code != 2 || !strings.Contains(errOut, "prod") {
		t.Errorf("unknown environment: %d %s", code, errOut)
	}
	code, _, errOut = run(t, "monitor", "--server", s.socket(), "--service", "demo", "-e", "production", "--every", "0s")
	if code != 2 || !strings.Contains(errOut, "--every") {
		t.Errorf("--every 0s: %d %s", code, errOut)
	}
}

func TestRenderMonitorGolden(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	m := api.Monitor{Service: "checkout", Environment: "production", Version: "v2", RolloutID: "checkout-7", ReleasedAt: t0,
		From: t0.Add(time.Hour), To: t0.Add(time.Hour + 30*time.Second),
		Health: api.Health{Desired: 2, Ready: 2, Restarts: 1},
		Values: []api.MonitorValue{
			{Kind: "performance", Metric: "error_rate", Condition: "error_rate<1%", Display: "0.4%", Phase: "Successful", Samples: 2800},
			{Kind: "performance", Metric: "request_rate", Display: "95rps", Phase: "Successful", Samples: 2800},
			{Kind: "metric", Metric: "checkout_conversion_rate", Display: "3.1", Phase: "Successful", Samples: 2800},
			{Kind: "trigger", Metric: "error_rate", Condition: "error_rate>5%", Display: "0.4%", Phase: "Failed", Samples: 2800},
			{Kind: "trigger", Metric: "latency_p95", Condition: "latency_p95>2s", Display: "2.4s", Phase: "Successful", Samples: 2800},
		},
		Firing: []string{"latency_p95>2s"},
	}
	got := renderMonitor(m)
	path := filepath.Join("testdata", "monitor.golden")
	if os.Getenv("HUGAI_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (HUGAI_UPDATE_GOLDEN=1 writes it)", err)
	}
	if got != string(want) {
		t.Errorf("monitor view differs from %s:\n%s", path, got)
	}
}
