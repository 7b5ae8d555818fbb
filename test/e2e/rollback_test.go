package e2e

import (
	"encoding/json"
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
