//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/loadgen"
)

// A candidate whose p95 is past the criterion is rolled back by itself, all traffic back on v1.
func TestSlowCanaryRollsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startServer()
	e.deployFirst("v1")
	load := e.steadyLoad(150)

	r := e.canary("v4")
	if r.code != 3 {
		t.Fatalf("slow canary: exit %d, want 3\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	st := e.status(firstLine(r.stdout))
	if st.Phase != "RolledBack" || st.Weights["v1"] != 100 || st.Weights["v4"] != 0 {
		t.Fatalf("after the slow canary: %s %v", st.Phase, st.Weights)
	}
	if !strings.Contains(st.Message, "latency_p95") {
		t.Errorf("the rollback must say why (latency_p95): %q", st.Message)
	}
	waitFor(t, 15*time.Second, "v4 stopped", func() bool { return len(e.replicas("v4")) == 0 })
	if len(e.replicas("v1")) == 0 {
		t.Error("v1, the stable version, is not running after the rollback")
	}
	sum := load.Stop()
	t.Logf("load: %s", sum)
	checkOnlyCandidateFailed(t, sum, "v4")
	if c := sum.ByVersion["v4"]; c.OK+c.Errors == 0 {
		t.Error("the slow candidate got no traffic at all: the canary did not run")
	}
}

// A candidate that crash-loops is rolled back for that reason, not left to the analysis.
func TestCrashLoopingCandidateRollsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startServer()
	e.deployFirst("v1")
	load := e.load(100)

	r := e.canary("v5")
	if r.code != 3 {
		t.Fatalf("crash-looping canary: exit %d, want 3\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	st := e.status(firstLine(r.stdout))
	// Whichever notices first rolls it back: the crash loop itself, or the errors its dying
	// replicas cause in a judged window (a rollback trigger or the success criteria).
	if st.Phase != "RolledBack" || (st.Reason != "crash-loop" && st.Reason != "trigger" && st.Reason != "analysis") {
		t.Errorf("phase %s reason %q, want RolledBack for its crash loop or its errors (message %q)", st.Phase, st.Reason, st.Message)
	}
	if st.Weights["v1"] != 100 || st.Weights["v5"] != 0 {
		t.Errorf("weights after the rollback: %v", st.Weights)
	}
	waitFor(t, 15*time.Second, "v5 stopped", func() bool { return len(e.replicas("v5")) == 0 })
	sum := load.Stop()
	t.Logf("load: %s", sum)
	checkOnlyCandidateFailed(t, sum, "v5")
}

// A candidate that never becomes ready hits the progress deadline and never sees a request.
func TestNeverReadyCandidateRollsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startServer()
	e.deployFirst("v1")
	load := e.load(100)

	start := time.Now()
	r := e.canary("v6")
	if r.code != 3 {
		t.Fatalf("never-ready canary: exit %d, want 3\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("rolled back after %s (progressDeadline 10s)", time.Since(start).Round(100*time.Millisecond))
	st := e.status(firstLine(r.stdout))
	if st.Phase != "RolledBack" || st.Reason != "progress-deadline" {
		t.Errorf("phase %s reason %q, want RolledBack progress-deadline (message %q)", st.Phase, st.Reason, st.Message)
	}
	if st.Weights["v1"] != 100 || st.Weights["v6"] != 0 {
		t.Errorf("weights after the rollback: %v", st.Weights)
	}
	waitFor(t, 15*time.Second, "v6 stopped", func() bool { return len(e.replicas("v6")) == 0 })
	sum := load.Stop()
	t.Logf("load: %s", sum)
	checkOnlyCandidateFailed(t, sum, "v6")
	if c, ok := sum.ByVersion["v6"]; ok {
		t.Errorf("v6 never became ready but answered %d requests (%d 5xx)", c.OK+c.Errors, c.Errors)
	}
	if sum.ByVersion["v1"].OK == 0 {
		t.Error("v1 answered nothing: the load did not run")
	}
}

// An approval gate holds the command; approve from another process lets it go on, reject aborts.
func TestApprovalApproveAndReject(t *testing.T) {
	t.Parallel()
	me := osUser(t)
	e := newEnv(t, approvalPolicy(me, "20s"))
	e.startServer()
	e.deployFirst("v1")
	// Once approved, the canary is judged on real traffic: no data would never pass.
	e.load(100)

	c := e.hugaiStart(e.canaryArgs("v2", "--require-approval")...)
	done := background(c)
	st := e.waitForRollout("v2", 15*time.Second, "v2 awaiting approval", func(r api.Rollout) bool {
		return r.Phase == "AwaitingApproval"
	})
	st = e.status(st.ID)
	if st.Phase != "AwaitingApproval" || st.Approval == nil || !slices.Contains(st.Approval.Approvers, me) || st.Approval.Needed != 1 {
		t.Fatalf("deploy status must show the pending approval with its approvers: %s %+v", st.Phase, st.Approval)
	}
	select {
	case r := <-done:
		t.Fatalf("the canary command did not wait for the approval: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	case <-time.After(time.Second):
	}
	if n := len(e.replicas("v2")); n != 0 {
		t.Errorf("%d v2 processes run before the approval", n)
	}
	if r := e.hugai("deploy", "approve", st.ID, "--comment", "ok"); r.code != 0 {
		t.Fatalf("approve: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r := waitResult(t, c, done, 60*time.Second)
	if r.code != 0 {
		t.Fatalf("approved canary: exit %d, want 0\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if id := firstLine(r.stdout); id != st.ID {
		t.Errorf("the command printed %q first, want the rollout ID %q", id, st.ID)
	}
	if st := e.status(st.ID); st.Phase != "Succeeded" || st.Weights["v2"] != 100 {
		t.Errorf("after the approval: %s %v", st.Phase, st.Weights)
	}
	approved := false
	for _, ev := range e.auditLog() {
		if ev.Subject == "rollout/"+st.ID && ev.Type == "rollout.approved" {
			approved = true
			if ev.Actor != me || !strings.Contains(string(ev.Payload), `"ok"`) {
				t.Errorf("the approval is recorded as actor %q payload %s, want actor %q with the comment", ev.Actor, ev.Payload, me)
			}
		}
	}
	if !approved {
		t.Error("no rollout.approved event in the audit log")
	}

	// Reject: the waiting command ends Aborted (exit 4), the candidate never started.
	c = e.hugaiStart(e.canaryArgs("v1", "--require-approval")...)
	done = background(c)
	st = e.waitForRollout("v1", 15*time.Second, "v1 awaiting approval", func(r api.Rollout) bool {
		return r.Phase == "AwaitingApproval" && r.PreviousVersion == "v2"
	})
	if r := e.hugai("deploy", "reject", st.ID, "--comment", "not now"); r.code != 0 {
		t.Fatalf("reject: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = waitResult(t, c, done, 30*time.Second)
	if r.code != 4 {
		t.Fatalf("rejected canary: exit %d, want 4\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if st := e.status(st.ID); st.Phase != "Aborted" || st.Reason != "rejected" || st.Weights["v2"] != 100 {
		t.Errorf("after the rejection: %s %q %v", st.Phase, st.Reason, st.Weights)
	}
	waitFor(t, 15*time.Second, "v1 stopped", func() bool { return len(e.replicas("v1")) == 0 })
	if r := e.hugai("audit", "verify", "--data-dir", e.dataDir); r.code != 0 {
		t.Fatalf("audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// Nobody approves within the policy's approvalTimeout: the command exits 4, nothing was started.
func TestApprovalTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, approvalPolicy(osUser(t), "3s"))
	e.startServer()
	e.deployFirst("v1")

	start := time.Now()
	r := e.canary("v2", "--require-approval")
	if r.code != 4 {
		t.Fatalf("unapproved canary: exit %d, want 4\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if d := time.Since(start); d < 3*time.Second || d > 15*time.Second {
		t.Errorf("the command ended after %s with an approvalTimeout of 3s", d)
	}
	st := e.status(firstLine(r.stdout))
	if st.Phase != "Aborted" || st.Reason != "approval-timeout" || st.Weights["v1"] != 100 {
		t.Errorf("after the timeout: %s %q %v", st.Phase, st.Reason, st.Weights)
	}
	if n := len(e.replicas("v2")); n != 0 {
		t.Errorf("%d v2 processes run after an approval that never came", n)
	}
}

// The README flow: `deploy plan` writes deployment-plan.yaml, `deploy execute` runs it unchanged.
func TestPlanThenExecute(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startServer()
	e.deployFirst("v1")
	// The plan starts at 5%: 200 req/s gives the canary about 30 requests per 3 s window, well over
	// the 10 minimumSamples even when a loaded machine sends fewer (with too few, every window
	// would be Inconclusive, never a pass).
	load := e.load(200)

	r := e.hugai("deploy", "plan", "--environment", "production", "--strategy", "canary", "--version", "v2",
		"--analyze-impact", "--generate-rollback")
	if r.code != 0 {
		t.Fatalf("deploy plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = e.hugai("deploy", "execute", "--plan", filepath.Join(e.dir, "deployment-plan.yaml"),
		"--monitor-health", "--auto-rollback-on-failure")
	if r.code != 0 {
		t.Fatalf("deploy execute: exit %d, want 0\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	st := e.status(firstLine(r.stdout))
	if st.Phase != "Succeeded" || st.Version != "v2" || st.Weights["v2"] != 100 || len(st.Weights) != 1 {
		t.Fatalf("after execute: %s %s %v", st.Phase, st.Version, st.Weights)
	}
	waitFor(t, 15*time.Second, "v1 stopped", func() bool { return len(e.replicas("v1")) == 0 })
	sum := load.Stop()
	t.Logf("load: %s", sum)
	checkOnlyCandidateFailed(t, sum, "")
}

// ---- helpers shared by this package's scenarios ----

func (e *env) canaryArgs(version string, extra ...string) []string {
	return append([]string{"deploy", "canary", "-f", e.file, "--environment", "production", "--version", version,
		"--traffic-split", "20,50,100", "--health-check-interval", "3s"}, extra...)
}

// deployFirst makes version the first release.
// deployFirst deploys the first release. Like every rollout it is judged on enough requests at
// full traffic before it succeeds, so it runs under traffic of its own (the proxy holds requests
// until the first version is ready), not counted by the scenario's load.
func (e *env) deployFirst(version string) {
	e.t.Helper()
	warm := loadgen.Start(context.Background(), "http://"+e.listen+"/", 50)
	defer warm.Stop()
	if r := e.canary(version); r.code != 0 {
		e.t.Fatalf("first deploy of %s: exit %d\n%s\n%s", version, r.code, r.stdout, r.stderr)
	}
}

// background waits for c in a goroutine: the test can then tell a command that still waits from one
// that ended, without reading its output while it is being written.
func background(c *running) <-chan result {
	ch := make(chan result, 1)
	go func() { ch <- c.wait() }()
	return ch
}

// waitResult waits for a command started with background; past d it is killed and the test fails.
func waitResult(t *testing.T, c *running, done <-chan result, d time.Duration) result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(d):
		_ = c.cmd.Process.Kill()
		r := <-done
		t.Fatalf("%v did not end within %s\n%s\n%s", c.cmd.Args[1:], d, r.stdout, r.stderr)
		return r
	}
}

// rollouts is `deploy list -o json`.
func (e *env) rollouts() []api.Rollout {
	e.t.Helper()
	r := e.hugai("deploy", "list", "-o", "json")
	if r.code != 0 {
		e.t.Fatalf("deploy list: %d %s", r.code, r.stderr)
	}
	var rs []api.Rollout
	if err := json.Unmarshal([]byte(r.stdout), &rs); err != nil {
		e.t.Fatalf("deploy list: %v\n%s", err, r.stdout)
	}
	return rs
}

// waitForRollout polls the newest rollout of version until cond holds.
func (e *env) waitForRollout(version string, d time.Duration, what string, cond func(api.Rollout) bool) api.Rollout {
	e.t.Helper()
	var found api.Rollout
	waitFor(e.t, d, what, func() bool {
		for _, r := range e.rollouts() { // newest first
			if r.Version == version {
				found = r
				return cond(r)
			}
		}
		return false
	})
	return found
}

// auditEvent is a row of `audit log -o json`.
type auditEvent struct {
	Seq     int64           `json:"seq"`
	Subject string          `json:"subject"`
	Type    string          `json:"type"`
	Actor   string          `json:"actor"`
	Payload json.RawMessage `json:"payload"`
}

func (e *env) auditLog() []auditEvent {
	e.t.Helper()
	r := e.hugai("audit", "log", "--data-dir", e.dataDir, "-o", "json")
	if r.code != 0 {
		e.t.Fatalf("audit log: %d %s", r.code, r.stderr)
	}
	var evs []auditEvent
	if err := json.Unmarshal([]byte(r.stdout), &evs); err != nil {
		e.t.Fatalf("audit log: %v\n%s", err, r.stdout)
	}
	return evs
}

// checkOnlyCandidateFailed: no request failed without a version, and only candidate answered 5xx.
func checkOnlyCandidateFailed(t *testing.T, sum loadgen.Summary, candidate string) {
	t.Helper()
	if sum.Failed != 0 {
		t.Errorf("%d requests failed that no candidate failed: %v", sum.Failed, sum.Reasons)
	}
	for v, c := range sum.ByVersion {
		if v != candidate && c.Errors != 0 {
			t.Errorf("%s answered %d 5xx: only the candidate may fail", v, c.Errors)
		}
	}
}

// approvalPolicy is the production environment's policy, indented to sit under `production:`.
// The scenarios start and approve as the one OS user running the tests, so they turn four-eyes
// (on by default where approvers are named) off on purpose; internal/engine's governance tests
// prove four-eyes itself.
func approvalPolicy(approver, timeout string) string {
	return fmt.Sprintf("      policy:\n        approvers: [%s, someone]\n        fourEyes: false\n        approvalTimeout: %s\n", approver, timeout)
}

func osUser(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}
