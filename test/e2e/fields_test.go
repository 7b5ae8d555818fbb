//go:build e2e

package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
)

// The seed's documents, as a user runs them: every field they set takes effect or is refused.

// seedDocs are the seed's DeploymentPlan and HugAIDeployment, in that order.
func seedDocs(t *testing.T) (deploymentPlan, hugaiDeployment string) {
	t.Helper()
	b, err := os.ReadFile("../../internal/plan/testdata/seed-plan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, d, ok := strings.Cut(string(b), "\n---\n")
	if !ok {
		t.Fatal("the seed file has no second document")
	}
	return p, d
}

// shortPauses makes the seed's minutes seconds, so a rollout fits in a test.
func shortPauses(s string) string {
	for _, m := range []string{"5m", "10m", "15m"} {
		s = strings.ReplaceAll(s, "duration: "+m, "duration: 3s")
		s = strings.ReplaceAll(s, "pause: "+m, "pause: 3s")
	}
	return s
}

func (e *env) writeFile(name, content string) string {
	e.t.Helper()
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// The seed's DeploymentPlan with rollback.automatic: false and its business-validation checkpoint
// required: the rollout waits for the checkpoint like an approval, and a failing canary pauses
// for a person instead of rolling back.
func TestSeedPlanAutomaticOffAndRequiredCheckpoint(t *testing.T) {
	t.Parallel()
	me := osUser(t)
	e := newEnv(t, "")
	e.startServer()
	e.deployFirst("v1")
	load := e.steadyLoad(150)

	p, _ := seedDocs(t)
	p = shortPauses(p)
	p = strings.ReplaceAll(p, "my-app", "demo")
	p = strings.ReplaceAll(p, `approvers: ["production-team@company.com"]`, "approvers: ["+me+"]")
	p = strings.Replace(p, "    - name: business-validation\n      required: false", "    - name: business-validation\n      required: true", 1)
	p += "\n  rollback:\n    automatic: false\n"
	planFile := e.writeFile("seed-plan.yaml", p)

	c := e.hugaiStart("deploy", "execute", "--plan", planFile, "--version", "v3")
	done := background(c)
	st := e.waitForRollout("v3", 20*time.Second, "the approval gate", func(r api.Rollout) bool {
		return r.Phase == "AwaitingApproval" && r.Approval != nil && r.Approval.Gate == "production-approval"
	})
	if st.Environment != "production" {
		t.Fatalf("metadata.namespace did not name the environment: %s", st.Environment)
	}
	if r := e.hugai("deploy", "approve", st.ID); r.code != 0 {
		t.Fatalf("approve: %d %s", r.code, r.stderr)
	}
	st = e.waitForRollout("v3", 20*time.Second, "the business-validation checkpoint", func(r api.Rollout) bool {
		return r.Phase == "AwaitingApproval" && r.Approval != nil && r.Approval.Gate == "business-validation"
	})
	if len(e.replicas("v3")) != 0 {
		t.Fatal("v3 started before its required checkpoint was signed off")
	}
	if r := e.hugai("deploy", "approve", st.ID, "--gate", "production-approval"); r.code == 0 {
		t.Fatal("an approval naming a gate already passed was accepted")
	}
	if r := e.hugai("deploy", "approve", st.ID, "--gate", "business-validation", "--comment", "numbers look right"); r.code != 0 {
		t.Fatalf("sign off: %d %s", r.code, r.stderr)
	}
	st = e.waitForRollout("v3", 60*time.Second, "a pause for a person", func(r api.Rollout) bool { return r.Phase == "Paused" || r.Terminal })
	if st.Phase != "Paused" || st.Reason != "analysis" || st.Weights["v3"] == 0 {
		t.Fatalf("with rollback.automatic false: %s %s %v (%s)", st.Phase, st.Reason, st.Weights, st.Message)
	}
	states := map[string]string{}
	for _, cp := range st.Checkpoints {
		states[cp.Name] = cp.State
	}
	if states["health-check"] != "passed" || states["business-validation"] != "passed" || states["performance-validation"] != "pending" {
		t.Errorf("checkpoints: %v", states)
	}
	if r := e.hugai("deploy", "rollback", st.ID, "--detach"); r.code != 0 {
		t.Fatalf("rollback: %d %s", r.code, r.stderr)
	}
	if r := waitResult(t, c, done, 60*time.Second); r.code != 3 {
		t.Fatalf("execute: exit %d, want 3\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	onlyFrom(t, load.Stop(), "v3")
}

// A recreate is judged like any other rollout: a version failing 20% of its requests is rolled
// back, not promoted the moment it is ready.
func TestRecreateOfABadVersionRollsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startServer()
	e.deployFirst("v1")
	load := e.steadyLoad(100)
	r := e.hugai(e.deployArgs("recreate", "v3")...)
	if r.code != 3 {
		t.Fatalf("recreate of v3: exit %d, want 3\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if st := e.status(firstLine(r.stdout)); st.Phase != "RolledBack" || st.Weights["v1"] != 100 {
		t.Fatalf("after the recreate: %s %s %v", st.Phase, st.Reason, st.Weights)
	}
	sum := load.Stop()
	t.Logf("load: %s", sum)
}

// The seed's HugAIDeployment: refused while it names metrics no provider measures (each named
// with its line); once they are removed it runs, its quality gates and approval honoured and its
// alerting routed to the channels it names.
func TestSeedHugAIDeploymentRuns(t *testing.T) {
	t.Parallel()
	var told atomic.Int32
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), "v2") {
			told.Add(1)
		}
	}))
	defer slack.Close()
	e := newEnv(t, "")
	svc, err := os.ReadFile(e.file)
	if err != nil {
		t.Fatal(err)
	}
	notifications := "  notifications:\n    - type: slack\n      webhookURL: " + slack.URL + "\n" +
		"    - type: email\n      smtp: 127.0.0.1:1\n      from: hugai@example.com\n      to: [oncall@example.com]\n      severity: critical\n"
	e.writeFile("hugai.yaml", strings.Replace(string(svc), "  environments:", notifications+"  environments:", 1))
	e.startServer()

	_, d := seedDocs(t)
	d = shortPauses(d)
	seed := e.writeFile("seed-deployment.yaml", d)
	r := e.hugai("validate", e.file, seed)
	if r.code != 2 || !strings.Contains(r.stderr, "seed-deployment.yaml:21: spec.monitoring.metrics[2]: metric business_kpi") ||
		!strings.Contains(r.stderr, "customMetricThreshold.metric: metric business_conversion_rate") {
		t.Fatalf("validate of the seed's HugAIDeployment: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := e.hugai("deploy", "execute", "--plan", seed, "--version", "v2"); r.code != 2 || !strings.Contains(r.stderr, "business_kpi") {
		t.Fatalf("execute with unmeasurable metrics: exit %d, want 2\n%s", r.code, r.stderr)
	}
	if rs := e.rollouts(); len(rs) != 0 {
		t.Fatalf("a refused plan started %d rollouts", len(rs))
	}

	e.deployFirst("v1")
	load := e.steadyLoad(150)
	d = strings.Replace(d, "      - \"business_kpi\"\n", "", 1)
	d = strings.Replace(d, "      - customMetricThreshold:\n          metric: \"business_conversion_rate\"\n          threshold: 95.0\n          comparison: \"less_than\"", "", 1)
	runnable := e.writeFile("seed-deployment-measurable.yaml", d)
	c := e.hugaiStart("deploy", "execute", "--plan", runnable, "--version", "v2")
	done := background(c)
	st := e.waitForRollout("v2", 20*time.Second, "the approval", func(r api.Rollout) bool { return r.Phase == "AwaitingApproval" })
	if r := e.hugai("deploy", "approve", st.ID); r.code != 0 {
		t.Fatalf("approve: %d %s", r.code, r.stderr)
	}
	if r := waitResult(t, c, done, 120*time.Second); r.code != 0 {
		t.Fatalf("execute: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	st = e.status(st.ID)
	states := map[string]string{}
	for _, cp := range st.Checkpoints {
		states[cp.Name] = cp.State
	}
	if st.Phase != "Succeeded" || states["security-scan"] != "passed" || states["health-check"] != "passed" || states["performance-test"] != "passed" {
		t.Fatalf("%s, checkpoints %v", st.Phase, states)
	}
	if b, err := os.ReadFile(filepath.Join(e.dir, "scans.log")); err != nil || strings.Count(string(b), "scanned") != 1 {
		t.Errorf("the security scan ran %q times (%v)", b, err)
	}
	var monitored []string
	for _, m := range st.Monitors {
		monitored = append(monitored, m.Metric)
	}
	if strings.Join(monitored, ",") != "latency_p95,error_rate" {
		t.Errorf("monitors %v", monitored)
	}
	waitFor(t, 10*time.Second, "the slack channel told of v2", func() bool { return told.Load() > 0 })
	onlyFrom(t, load.Stop(), "")
}
