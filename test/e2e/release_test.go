//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/eventually"
	"github.com/hugai-dev/hugai/internal/loadgen"
)

// releaseYAML is the demo service with a staging and a production environment, each behind its
// own proxy, and a two-stage release: staging (a pre-check, the smoke test after) then production.
// Each environment reads its versions from its own directory, so one release version can be a
// good build in staging and a bad one in production.
const releaseYAML = `apiVersion: hugai.io/v1
kind: Service
metadata:
  name: demo
spec:
  target:
    type: local
    local:
      command: ["%[1]s/{{.Version}}/demo", "--port", "{{.Port}}", "--version", "{{.Version}}"]
      replicas: 1
      listen: %[2]s
      admin: %[3]s
      gracePeriod: 3s
  smokeTest: ["%[4]s", "smoke", "{{.URL}}/smoke"]
  checkpoints:
    integration: ["sh", "-c", "echo \"integration $HUGAI_URL\" >> checks.log"]
    e2e: ["sh", "-c", "test ! -e fail-e2e || { echo e2e failed >&2; exit 1; }"]
  progressDeadline: 15s
  healthChecks:
    - name: ready
      path: /readyz
      interval: 500ms
      timeout: 500ms
      failureThreshold: 2
      successThreshold: 1
  environments:
    staging:
      target:
        local: {listen: %[5]s, admin: %[6]s, command: ["%[7]s/{{.Version}}/demo", "--port", "{{.Port}}", "--version", "{{.Version}}"]}
      successCriteria: error_rate<1%%,latency_p95<700ms
      analysis: {interval: 2s, minimumSamples: 10}
      monitoring: {duration: 2s}
      strategyByRisk: {low: canary, medium: canary, high: canary, critical: canary}
      policy: {requireApprovalFrom: critical}
    production:
      successCriteria: error_rate<1%%,latency_p95<700ms
      analysis: {interval: 2s, minimumSamples: 10}
      monitoring: {duration: 2s}
      strategyByRisk: {low: canary, medium: canary, high: canary, critical: canary}
      policy: {requireApprovalFrom: critical}
  release:
    stages:
      - name: staging
        environment: staging
        preChecks: [integration]
        validation: [smoke-test]
      - name: production
        environment: production
        validation: [smoke-test, integration, e2e]
`

// releaseEnv is a scenario with both environments serving v1 and a recorded release v1.0.0.
type releaseEnv struct {
	*env
	stagingListen       string
	prodLoad, stageLoad *loadgen.Run // steady traffic through each environment's proxy
}

// newReleaseEnv prepares the scenario: prodBuild is the demo release that v1.0.0 is in production
// (v2 good, v3 failing a fifth of its requests); staging always gets the good build.
func newReleaseEnv(t *testing.T, prodBuild string) *releaseEnv {
	t.Helper()
	e := newEnv(t, "")
	re := &releaseEnv{env: e, stagingListen: freeAddr(t)}
	prod, staging := filepath.Join(e.dir, "builds-production"), filepath.Join(e.dir, "builds-staging")
	for dir, builds := range map[string]map[string]string{
		prod:    {"v1": "v1", "v1.0.0": prodBuild},
		staging: {"v1": "v1", "v1.0.0": "v2"},
	} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for version, build := range builds {
			if err := os.Symlink(filepath.Join(built.releases, build), filepath.Join(dir, version)); err != nil {
				t.Fatal(err)
			}
		}
	}
	demo := filepath.Join(filepath.Dir(built.releases), "demo")
	content := fmt.Sprintf(releaseYAML, prod, e.listen, freeAddr(t), demo, re.stagingListen, freeAddr(t), staging)
	if err := os.WriteFile(e.file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	e.startServer()
	// Steady traffic from the start: every rollout, the first deploys' watch included, is judged
	// on requests.
	re.prodLoad = e.load(60)
	re.stageLoad = loadgen.Start(context.Background(), "http://"+re.stagingListen+"/", 60)
	t.Cleanup(func() { re.stageLoad.Stop() })
	for _, env := range []string{"staging", "production"} {
		if r := e.hugai("deploy", "canary", "-f", e.file, "--environment", env, "--version", "v1", "--traffic-split", "100"); r.code != 0 {
			t.Fatalf("first deploy to %s: exit %d\n%s\n%s", env, r.code, r.stdout, r.stderr)
		}
	}
	// The release: one feature commit, cut on a weekday morning so its risk is low.
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=Ada", "-c", "user.email=ada@example.com"}, args...)...)
		cmd.Dir = e.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(e.dir, "feature.txt"), []byte("a feature\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "feature.txt")
	git("commit", "-q", "-m", "feat: a feature")
	if r := e.hugai("release", "create", "-f", e.file, "--data-dir", e.dataDir, "--at", "2026-12-01T10:00:00Z"); r.code != 0 {
		t.Fatalf("release create: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	return re
}

// run is `release status VERSION -o json`.
func (re *releaseEnv) run(version string) api.ReleaseRun {
	re.t.Helper()
	r := re.hugai("release", "status", version, "-o", "json")
	if r.code != 0 {
		re.t.Fatalf("release status %s: %d %s", version, r.code, r.stderr)
	}
	var run api.ReleaseRun
	if err := json.Unmarshal([]byte(r.stdout), &run); err != nil {
		re.t.Fatalf("release status: %v\n%s", err, r.stdout)
	}
	return run
}

// stableOf is the version an environment serves, as the server reports it.
func (re *releaseEnv) stableOf(env string) string {
	re.t.Helper()
	r := re.hugai("deploy", "list", "-o", "json")
	if r.code != 0 {
		re.t.Fatalf("deploy list: %d %s", r.code, r.stderr)
	}
	var rs []api.Rollout
	if err := json.Unmarshal([]byte(r.stdout), &rs); err != nil {
		re.t.Fatal(err)
	}
	for _, ro := range rs { // newest first: the last that succeeded (or rolled back) decides
		switch {
		case ro.Environment != env:
		case ro.Strategy == "rollback" && (ro.Phase == "RolledBack" || ro.Phase == "Succeeded"):
			return ro.Version // a release's rollback brought ro.Version back
		case ro.Phase == "Succeeded":
			return ro.Version
		case ro.Phase == "RolledBack":
			return ro.PreviousVersion
		}
	}
	return ""
}

// rolloutsOf counts the rollouts of version per environment.
func (re *releaseEnv) rolloutsOf(version string) map[string]int {
	re.t.Helper()
	n := map[string]int{}
	for _, ro := range re.rollouts() {
		if ro.Version == version {
			n[ro.Environment]++
		}
	}
	return n
}

// auditTypes lists the audit log's release events in order.
func (re *releaseEnv) auditTypes(tag string) []string {
	re.t.Helper()
	r := re.hugai("audit", "export", "--data-dir", re.dataDir)
	if r.code != 0 {
		re.t.Fatalf("audit export: %d %s", r.code, r.stderr)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var ev struct {
			Subject string          `json:"subject"`
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Subject != "release/"+tag {
			continue
		}
		var p struct{ Stage, To string }
		_ = json.Unmarshal(ev.Payload, &p)
		switch ev.Type {
		case "release.stage":
			out = append(out, p.Stage+"→"+p.To)
		case "release.phase":
			out = append(out, "run→"+p.To)
		}
	}
	return out
}

func TestReleaseTwoStagesSucceed(t *testing.T) {
	t.Parallel()
	re := newReleaseEnv(t, "v2")
	before := re.stageLoad.Snapshot()

	r := re.hugai("release", "execute", "1.0.0")
	if r.code != 0 {
		t.Fatalf("release execute: exit %d, want 0\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	run := re.run("1.0.0")
	if firstLine(r.stdout) != run.ID || run.Phase != "Succeeded" || run.ExitCode != 0 {
		t.Fatalf("run %s (printed %s): %s %s", run.ID, firstLine(r.stdout), run.Phase, run.Message)
	}
	for _, s := range run.Stages {
		if s.Phase != "Succeeded" || s.RolloutID == "" || s.RolloutPhase != "Succeeded" {
			t.Errorf("stage %s: %s, rollout %s %s", s.Name, s.Phase, s.RolloutID, s.RolloutPhase)
		}
	}
	if got := [2]int{len(run.Stages[0].Checks), len(run.Stages[1].Checks)}; got != [2]int{2, 3} {
		t.Errorf("checks per stage: %v, want staging's pre-check and smoke test, production's smoke test, integration and e2e", got)
	}
	for _, env := range []string{"staging", "production"} {
		if v := re.stableOf(env); v != "v1.0.0" {
			t.Errorf("%s serves %q, want v1.0.0", env, v)
		}
	}
	// The staging rollout finished before the production one began: stages run one after the other.
	st, prod := re.status(run.Stages[0].RolloutID), re.status(run.Stages[1].RolloutID)
	if !st.UpdatedAt.Before(prod.CreatedAt) {
		t.Errorf("production's rollout began %s, before staging's ended %s", prod.CreatedAt, st.UpdatedAt)
	}
	// What the stages cost beside their rollouts: the run's time against the rollouts' own.
	total := run.FinishedAt.Sub(run.CreatedAt)
	rollouts := st.UpdatedAt.Sub(st.CreatedAt) + prod.UpdatedAt.Sub(prod.CreatedAt)
	t.Logf("release run %s; rollouts staging %s + production %s; checks and sequencing %s",
		total.Round(time.Millisecond), st.UpdatedAt.Sub(st.CreatedAt).Round(time.Millisecond),
		prod.UpdatedAt.Sub(prod.CreatedAt).Round(time.Millisecond), (total - rollouts).Round(time.Millisecond))
	b, _ := os.ReadFile(filepath.Join(re.dir, "checks.log"))
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 2 ||
		!strings.Contains(lines[0], re.stagingListen) || !strings.Contains(lines[1], re.listen) {
		t.Errorf("checks.log: %q: want the integration check run against staging, then production", b)
	}
	want := "run→Running staging→PreChecks staging→Deploying staging→Validating staging→Succeeded " +
		"production→PreChecks production→Deploying production→Validating production→Succeeded run→Succeeded"
	if got := strings.Join(re.auditTypes(run.Tag), " "); got != want {
		t.Errorf("audit trail:\n  %s\nwant\n  %s", got, want)
	}
	if r := re.hugai("audit", "verify", "--data-dir", re.dataDir); r.code != 0 {
		t.Errorf("audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if n := re.stageLoad.Snapshot().Failed - before.Failed; n != 0 {
		t.Errorf("%d requests to staging failed", n)
	}
	// status without --watch prints and exits 0; with --watch, an ended run's exit code.
	if r := re.hugai("release", "status", "v1.0.0"); r.code != 0 || !strings.Contains(r.stdout, "production") {
		t.Errorf("release status: %d\n%s", r.code, r.stdout)
	}
	if r := re.hugai("release", "status", "v1.0.0", "--watch"); r.code != 0 {
		t.Errorf("release status --watch of a succeeded run: exit %d", r.code)
	}
}

func TestReleaseBadProductionRollsBackProductionOnly(t *testing.T) {
	t.Parallel()
	re := newReleaseEnv(t, "v3") // v1.0.0 fails a fifth of its requests in production

	r := re.hugai("release", "execute", "v1.0.0")
	if r.code != 3 {
		t.Fatalf("release execute: exit %d, want 3 (a stage rolled back)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	run := re.run("1.0.0")
	if run.Phase != "RolledBack" || run.Reason != "rollout" {
		t.Errorf("run: %s (%s: %s), want RolledBack (rollout)", run.Phase, run.Reason, run.Message)
	}
	if s := run.Stages[0]; s.Phase != "Succeeded" {
		t.Errorf("staging: %s, want Succeeded", s.Phase)
	}
	if s := run.Stages[1]; s.Phase != "RolledBack" || s.RolloutPhase != "RolledBack" || len(s.Checks) != 0 {
		t.Errorf("production: %s, rollout %s, %d checks: want RolledBack, its rollout RolledBack, no validation", s.Phase, s.RolloutPhase, len(s.Checks))
	}
	if v := re.stableOf("staging"); v != "v1.0.0" {
		t.Errorf("staging serves %q, want v1.0.0 (only production rolls back)", v)
	}
	if v := re.stableOf("production"); v != "v1" {
		t.Errorf("production serves %q, want v1 again", v)
	}
	if got := re.auditTypes(run.Tag); len(got) == 0 || got[len(got)-1] != "run→RolledBack" {
		t.Errorf("audit trail ends %v, want run→RolledBack", got)
	}
	if r := re.hugai("release", "status", "1.0.0", "--watch"); r.code != 3 {
		t.Errorf("release status --watch of a rolled-back run: exit %d, want 3", r.code)
	}
}

// The check: production's rollout succeeds, its validation fails, and hugai rolls that
// stage back to the release before; staging keeps the new version.
func TestReleaseFailedValidationRollsBackTheStage(t *testing.T) {
	t.Parallel()
	re := newReleaseEnv(t, "v2")
	if err := os.WriteFile(filepath.Join(re.dir, "fail-e2e"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := re.hugai("release", "execute", "1.0.0")
	if r.code != 3 {
		t.Fatalf("release execute: exit %d, want 3\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	run := re.run("1.0.0")
	if run.Phase != "RolledBack" || run.Reason != "validation" {
		t.Errorf("run: %s (%s: %s), want RolledBack (validation)", run.Phase, run.Reason, run.Message)
	}
	prod := run.Stages[1]
	if prod.Phase != "RolledBack" || prod.RolloutPhase != "Succeeded" || prod.RollbackID == "" || prod.RollbackPhase != "RolledBack" {
		t.Errorf("production: %s, rollout %s %s, rollback %q %s", prod.Phase, prod.RolloutID, prod.RolloutPhase, prod.RollbackID, prod.RollbackPhase)
	}
	if n := len(prod.Checks); n != 3 || prod.Checks[2].Name != "e2e" || prod.Checks[2].Passed || !strings.Contains(prod.Checks[2].Output, "e2e failed") {
		t.Errorf("production's checks: %+v, want e2e last, failed, with its output", prod.Checks)
	}
	if v := re.stableOf("production"); v != "v1" {
		t.Errorf("production serves %q, want v1 again", v)
	}
	if v := re.stableOf("staging"); v != "v1.0.0" {
		t.Errorf("staging serves %q, want v1.0.0", v)
	}
	got := strings.Join(re.auditTypes(run.Tag), " ")
	if !strings.HasSuffix(got, "production→Validating production→RollingBack production→RolledBack run→RolledBack") {
		t.Errorf("audit trail: %s", got)
	}
}

// kill -9 of the server mid-release: the restarted server resumes the run where its store says
// it was, the executing command reconnects and exits 0, and no stage's rollout is started twice.
func TestReleaseSurvivesServerKill(t *testing.T) {
	t.Parallel()
	re := newReleaseEnv(t, "v2")

	c := re.hugaiStart("release", "execute", "1.0.0")
	done := background(c)
	var at api.ReleaseRun
	eventually.True(t, 90*time.Second, "production's rollout to be under way", func() bool {
		r := re.hugai("release", "status", "1.0.0", "-o", "json")
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &at) != nil {
			return false
		}
		return at.Terminal || at.Stages[1].RolloutID != ""
	})
	if at.Terminal {
		t.Fatalf("the run ended before the kill: %s %s", at.Phase, at.Message)
	}
	re.killServer()
	t.Logf("killed the server with production %s (rollout %s %s)", at.Stages[1].Phase, at.Stages[1].RolloutID, at.Stages[1].RolloutPhase)
	time.Sleep(2 * time.Second) // down a while: the command must wait, not fail
	select {
	case r := <-done:
		t.Fatalf("release execute ended while the server was down: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	default:
	}
	re.startServer()
	r := waitResult(t, c, done, 2*time.Minute)
	if r.code != 0 {
		t.Fatalf("release execute after the restart: exit %d, want 0\n%s\n%s\nserver log:\n%s", r.code, r.stdout, r.stderr, re.serverLog(2))
	}
	if !strings.Contains(r.stderr, "reconnect") {
		t.Errorf("the command did not say it reconnected:\n%s", r.stderr)
	}
	run := re.run("1.0.0")
	if run.Phase != "Succeeded" || run.ID != at.ID {
		t.Errorf("run %s: %s %s, want %s Succeeded", run.ID, run.Phase, run.Message, at.ID)
	}
	if n := re.rolloutsOf("v1.0.0"); n["staging"] != 1 || n["production"] != 1 {
		t.Errorf("rollouts of v1.0.0 per environment: %v, want one each", n)
	}
	if v := re.stableOf("production"); v != "v1.0.0" {
		t.Errorf("production serves %q, want v1.0.0", v)
	}
	if r := re.hugai("audit", "verify", "--data-dir", re.dataDir); r.code != 0 {
		t.Errorf("audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// Bad input is refused with exit 2 before anything starts.
func TestReleaseBadInput(t *testing.T) {
	t.Parallel()
	re := newReleaseEnv(t, "v2")
	before := len(re.rollouts())
	if r := re.hugai("release", "execute", "9.9.9"); r.code != 2 || !strings.Contains(r.stderr, "v1.0.0") {
		t.Errorf("an unknown release: exit %d, want 2 naming the recorded ones\n%s", r.code, r.stderr)
	}
	if r := re.hugai("release", "status", "1.0.0"); r.code != 2 {
		t.Errorf("status of a release never executed: exit %d, want 2\n%s", r.code, r.stderr)
	}
	// A stage naming an environment the service does not have: the file is refused with its
	// line, by validate and by the server, which then starts nothing.
	b, _ := os.ReadFile(re.file)
	bad := filepath.Join(re.dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(b), "environment: production", "environment: prod", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := re.hugai("validate", bad)
	if r.code != 2 || !strings.Contains(r.stderr, "bad.yaml:") || !strings.Contains(r.stderr, "spec.release.stages[1].environment") {
		t.Errorf("validate: exit %d, want 2 with file:line:field\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = re.hugai("server", "-f", bad, "--data-dir", filepath.Join(re.dir, "other"))
	if r.code != 2 || !strings.Contains(r.stderr, "spec.release.stages[1].environment") {
		t.Errorf("server with the bad file: exit %d, want 2\n%s", r.code, r.stderr)
	}
	if after := len(re.rollouts()); after != before {
		t.Errorf("%d rollouts after bad input, %d before", after, before)
	}
	if r := re.hugai("release", "execute", "1.0.0", "--detach"); r.code != 0 {
		t.Fatalf("execute --detach: %d %s", r.code, r.stderr)
	}
	// A second run of the same service while the first goes on is refused.
	if r := re.hugai("release", "execute", "1.0.0"); r.code != 1 || !strings.Contains(r.stderr, "still") {
		t.Errorf("a second run: exit %d, want 1 (conflict)\n%s", r.code, r.stderr)
	}
}
