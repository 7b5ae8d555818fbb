//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
)

// releasePlan is a reviewed plan whose release changed migrations: its rollback has the database
// step, which waits for an approval unless the rollback is an emergency.
const releasePlan = `apiVersion: hugai.io/v1
kind: DeploymentPlan
spec:
  service: demo
  environment: production
  version: %s
  strategy:
    type: canary
    canary:
      steps:
      - {setWeight: 50, pause: {duration: 4s}}
      - setWeight: 100
  rollback:
    automatic: true
    steps:
    - {name: traffic_routing, action: redirect_traffic, maxDuration: 30s}
    - {name: instance_rollback, action: deploy_previous_version, maxDuration: 5m}
    - {name: database_rollback, action: apply_database_migrations, maxDuration: 2m, requiresApproval: true}
    - {name: verification, action: verify_rollback, maxDuration: 3m, checks: [health_check, smoke_test]}
`

func TestRollbackOfASucceededRelease(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	// The database step runs the service file's command: it leaves a mark we can look for.
	b, err := os.ReadFile(e.file)
	if err != nil {
		t.Fatal(err)
	}
	withDB := strings.Replace(string(b), "  smokeTest:", "  database:\n    migrate: [\"true\"]\n    rollback: [\"sh\", \"-c\", \"date >> db-rollbacks\"]\n  smokeTest:", 1)
	if err := os.WriteFile(e.file, []byte(withDB), 0o644); err != nil {
		t.Fatal(err)
	}
	e.startServer()
	e.deployFirst("v1")
	load := e.load(150)

	release := func(version string) string {
		p := filepath.Join(e.dir, "plan-"+version+".yaml")
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(releasePlan, "%s", version)), 0o644); err != nil {
			t.Fatal(err)
		}
		r := e.hugai("deploy", "execute", "--plan", p)
		if r.code != 0 {
			t.Fatalf("release %s: exit %d\n%s\n%s", version, r.code, r.stdout, r.stderr)
		}
		return firstLine(r.stdout)
	}
	rel := release("v2")

	// A rollback waits for the database approval — after traffic and instances are back.
	c := e.hugaiStart("deploy", "rollback", rel)
	done := background(c)
	st := e.waitForRollout("v1", 30*time.Second, "the rollback waiting for the database approval", func(r api.Rollout) bool {
		return r.Phase == "AwaitingApproval"
	})
	if st.Weights["v1"] != 100 || st.Approval == nil || st.Approval.Gate != "database-rollback" {
		t.Fatalf("while the database step waits: %s %v %+v", st.Phase, st.Weights, st.Approval)
	}
	waitFor(t, 20*time.Second, "v2 stopped before the database step", func() bool { return len(e.replicas("v2")) == 0 })
	if _, err := os.Stat(filepath.Join(e.dir, "db-rollbacks")); err == nil {
		t.Fatal("the database was rolled back before anyone approved")
	}
	if r := e.hugai("deploy", "approve", st.ID, "--comment", "schema rollback is safe"); r.code != 0 {
		t.Fatalf("approve: %d %s", r.code, r.stderr)
	}
	r := waitResult(t, c, done, 60*time.Second)
	if r.code != 3 {
		t.Fatalf("rollback: exit %d, want 3 (RolledBack)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if marks, _ := os.ReadFile(filepath.Join(e.dir, "db-rollbacks")); strings.Count(string(marks), "\n") != 1 {
		t.Fatalf("database.rollback ran %d times, want once", strings.Count(string(marks), "\n"))
	}
	order := rollbackOrder(t, e, st.ID)
	if got, _ := json.Marshal(order); string(got) != `["traffic_routing","instance_rollback","database_rollback","verification"]` {
		t.Fatalf("rollback steps in the audit log: %s", got)
	}

	// --emergency does not wait for the approval.
	rel = release("v2")
	r = e.hugai("deploy", "rollback", rel, "--emergency")
	if r.code != 3 {
		t.Fatalf("emergency rollback: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if marks, _ := os.ReadFile(filepath.Join(e.dir, "db-rollbacks")); strings.Count(string(marks), "\n") != 2 {
		t.Fatal("the emergency rollback did not roll the database back")
	}
	if st := e.status(firstLine(r.stdout)); st.Phase != "RolledBack" || st.Weights["v1"] != 100 {
		t.Fatalf("after the emergency rollback: %s %v", st.Phase, st.Weights)
	}
	onlyFrom(t, load.Stop(), "")
}

// rollbackOrder is the names of the rollback steps that passed, in audit-log order.
func rollbackOrder(t *testing.T, e *env, id string) []string {
	t.Helper()
	var order []string
	for _, ev := range e.auditLog() {
		if ev.Type != "rollout.rollbackStep" || ev.Subject != "rollout/"+id {
			continue
		}
		var p struct{ Name, Result string }
		if err := json.Unmarshal(ev.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if p.Result == "passed" {
			order = append(order, p.Name)
		}
	}
	return order
}

// A rollback whose verification fails ends in Failed (exit 1) and alerts: the previous version
// (v7) serves but fails the smoke test, and a webhook channel hears about it as critical.
func TestFailedVerificationAlerts(t *testing.T) {
	t.Parallel()
	alerts := make(chan map[string]any, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		if err := json.NewDecoder(r.Body).Decode(&ev); err == nil {
			alerts <- ev
		}
	}))
	defer hook.Close()

	e := newEnv(t, "")
	b, err := os.ReadFile(e.file)
	if err != nil {
		t.Fatal(err)
	}
	withHook := strings.Replace(string(b), "  smokeTest:", "  notifications:\n    - {type: webhook, url: \""+hook.URL+"/hugai\", severity: critical}\n  smokeTest:", 1)
	if err := os.WriteFile(e.file, []byte(withHook), 0o644); err != nil {
		t.Fatal(err)
	}
	e.startServer()
	e.deployFirst("v7") // a first release is not smoke-tested: v7 serves
	e.load(100)         // the canary is judged on real traffic
	if r := e.canary("v2"); r.code != 0 {
		t.Fatalf("canary v2: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	rollouts := e.rollouts()
	var rel string
	for _, r := range rollouts {
		if r.Version == "v2" && r.Phase == "Succeeded" {
			rel = r.ID
		}
	}
	r := e.hugai("deploy", "rollback", rel)
	if r.code != 1 {
		t.Fatalf("rollback to a version failing its smoke test: exit %d, want 1 (Failed)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	st := e.status(firstLine(r.stdout))
	if st.Phase != "Failed" || !strings.Contains(st.Message, "smoke test") {
		t.Fatalf("status: %s %s", st.Phase, st.Message)
	}
	select {
	case ev := <-alerts:
		if ev["phase"] != "Failed" || ev["severity"] != "critical" || ev["rolloutID"] != st.ID {
			t.Fatalf("alert: %v", ev)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no alert for the failed rollback")
	}
}
