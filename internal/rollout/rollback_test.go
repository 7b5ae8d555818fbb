package rollout

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/plan"
)

// planSteps are the rollback steps `deploy plan` writes for a release that changed migrations.
func planSteps() []RollbackStepSpec {
	return []RollbackStepSpec{
		{Name: "traffic_routing", Action: plan.ActionRedirectTraffic, MaxDuration: 30 * time.Second},
		{Name: "instance_rollback", Action: plan.ActionDeployPrevious, MaxDuration: 5 * time.Minute},
		{Name: "database_rollback", Action: plan.ActionDatabaseMigration, MaxDuration: 2 * time.Minute, RequiresApproval: true},
		{Name: "verification", Action: plan.ActionVerify, MaxDuration: 3 * time.Minute},
	}
}

func rollbackSpec(t *testing.T) Spec {
	spec := canarySpec(t, w(10), pause(time.Minute), w(100))
	spec.RollbackSteps, spec.DatabaseRollback, spec.VerifySmoke = planSteps(), true, true
	spec.RollbackGate = Gate{Name: "database-rollback", Approvers: []string{"dba"}, Count: 1, Timeout: 10 * time.Minute}
	return spec
}

func rollbackOrder(evs []Event) []string {
	var order []string
	for _, e := range evs {
		if e.Type == "rollout.rollbackStep" && e.Payload["result"] == "passed" {
			order = append(order, e.Payload["name"].(string))
		}
	}
	return order
}

func TestRollbackRunsItsStepsInOrder(t *testing.T) {
	s := newSim(t, rollbackSpec(t), "v1")
	s.errorRate = 30
	s.run(10 * time.Minute)
	if s.st.Phase != AwaitingApproval || s.st.RollbackAt == nil {
		t.Fatalf("the database step must wait for an approval: %s", s.st.Phase)
	}
	if d := Desired(s.spec, s.st); d.Weights["v1"] != 100 || d.Replicas["v2"] != 0 {
		t.Fatalf("traffic and instances go back before anyone approves anything: %+v", d)
	}
	if err := Validate(s.spec, s.st, Command{Kind: "approve", Actor: "dev"}); err == nil {
		t.Fatal("only the gate's approvers may approve the database rollback")
	}
	s.tick(&Command{Kind: "approve", Actor: "dba"})
	s.run(10 * time.Minute)
	if s.st.Phase != RolledBack || s.st.Phase.ExitCode() != 3 {
		t.Fatalf("phase %s (%s)", s.st.Phase, s.st.Message)
	}
	got, _ := json.Marshal(rollbackOrder(s.events))
	if string(got) != `["traffic_routing","instance_rollback","database_rollback","verification"]` {
		t.Fatalf("rollback steps passed in order %s", got)
	}
	if len(s.dbRuns) != 1 || len(s.smokeRuns) != 1 {
		t.Fatalf("database ran %d times, smoke test %d times: want once each", len(s.dbRuns), len(s.smokeRuns))
	}
}

func TestEmergencyRollbackSkipsTheApproval(t *testing.T) {
	s := newSim(t, rollbackSpec(t), "v1")
	s.run(20 * time.Second)
	s.tick(&Command{Kind: "rollback", Actor: "oncall", Emergency: true})
	s.run(10 * time.Minute)
	if s.st.Phase != RolledBack || s.st.Reason != ReasonManual || len(s.dbRuns) != 1 {
		t.Fatalf("phase %s reason %s, database runs %d", s.st.Phase, s.st.Reason, len(s.dbRuns))
	}
}

func TestFailedRollbacks(t *testing.T) {
	cases := map[string]func(s *sim){
		"database fails":  func(s *sim) { s.dbFails = true },
		"smoke fails":     func(s *sim) { s.smokeFails = true },
		"previous broken": func(s *sim) { s.stableNeverBack = true },
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			spec := rollbackSpec(t)
			spec.Strategy = plan.StrategyRecreate // the previous version must come back
			spec.Steps = []StepSpec{{Kind: KindSetWeight, Weight: 100}}
			s := newSim(t, spec, "v1")
			s.neverReady = true
			breakIt(s)
			s.run(5 * time.Minute)
			if s.st.Phase == AwaitingApproval {
				s.tick(&Command{Kind: "approve", Actor: "dba"})
				s.run(10 * time.Minute)
			}
			if s.st.Phase != Failed || s.st.Phase.ExitCode() != 1 || s.st.Reason != ReasonRollbackFailed {
				t.Fatalf("phase %s reason %s (%s)", s.st.Phase, s.st.Reason, s.st.Message)
			}
		})
	}
	s := newSim(t, rollbackSpec(t), "v1")
	s.errorRate = 30
	s.run(10 * time.Minute)
	s.tick(&Command{Kind: "reject", Actor: "dba"})
	if s.st.Phase != Failed || s.st.Reason != ReasonDatabaseRejected {
		t.Fatalf("rejected database rollback: %s %s", s.st.Phase, s.st.Reason)
	}
}

// Rolling back a release that succeeded: its previous version was stopped, so it starts first
// while the current one keeps serving; then all traffic moves and the current one stops.
func TestReleaseRollback(t *testing.T) {
	spec := rollbackSpec(t)
	spec.RollbackSteps = spec.RollbackSteps[:2:2]
	spec.RollbackSteps = append(spec.RollbackSteps, planSteps()[3])
	s := newSim(t, spec, "")
	s.st = NewReleaseRollback("v1", "v2", false, t0)
	s.askedAt = map[string]time.Time{"v2": t0.Add(-time.Hour)}
	s.asked = map[string]int{"v2": 2}
	s.tick(nil)
	if d := Desired(s.spec, s.st); d.Weights["v2"] != 100 || d.Replicas["v1"] != 2 {
		t.Fatalf("while v1 starts, v2 keeps serving: %+v", d)
	}
	s.run(5 * time.Minute)
	if s.st.Phase != RolledBack {
		t.Fatalf("phase %s (%s)", s.st.Phase, s.st.Message)
	}
	if d := Desired(s.spec, s.st); d.Weights["v1"] != 100 || d.Replicas["v2"] != 0 {
		t.Fatalf("after the rollback: %+v", d)
	}
}
