package cli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/server/servertest"
)

const testPlan = `apiVersion: hugai.io/v1
kind: DeploymentPlan
metadata:
  name: demo-v2
spec:
  service: demo
  version: v2
  environment: production
  strategy:
    type: canary
    canary:
      steps:
      - setWeight: 20
        pause: {duration: 30s}
      - setWeight: 100
      analysis:
        templates:
        - templateName: success-rate
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExecuteStartsThePlanAsWritten(t *testing.T) {
	s := startServer(t)
	planFile := writeFile(t, "deployment-plan.yaml", testPlan)
	code, out, errOut := run(t, "deploy", "execute", "--plan", planFile, "--require-approval", "--monitor-health",
		"--auto-rollback-on-failure", "--detach", "--server", s.socket())
	if code != 0 {
		t.Fatalf("execute: exit %d\n%s", code, errOut)
	}
	id := <-s.Started()
	if out != id+"\n" {
		t.Fatalf("--detach printed %q, want the ID alone", out)
	}
	calls := s.StartCalls()
	if len(calls) != 1 {
		t.Fatalf("%d starts", len(calls))
	}
	req := calls[0].Req
	if string(req.Plan) != testPlan || req.PlanFile != planFile || !req.RequireApproval || req.NoAutoRollback {
		t.Fatalf("start request %+v", req)
	}
	if calls[0].Actor != currentUserName(t) {
		t.Errorf("started by %q", calls[0].Actor)
	}
	// The engine made of it what was asked: v2 of demo to production, behind an approval.
	v := s.WaitFor(id, "the approval asked for", servertest.Phase("AwaitingApproval"))
	if v.Version != "v2" || v.Service != "demo" || v.Environment != "production" || v.CreatedBy != currentUserName(t) {
		t.Fatalf("rollout %+v", v)
	}
	s.Do(id, "alice", api.Command{Kind: rollout.CommandAbort})
	if code, _, errOut := run(t, "deploy", "execute", "--plan", planFile, "--no-auto-rollback", "--detach", "--server", s.socket()); code != 0 {
		t.Fatalf("execute --no-auto-rollback failed: %s", errOut)
	}
	if req := s.StartCalls()[1].Req; !req.NoAutoRollback || req.RequireApproval {
		t.Errorf("--no-auto-rollback sent %+v", req)
	}
}

func TestExecuteExitsWithTheResult(t *testing.T) {
	for _, tc := range []struct {
		phase string
		code  int
		// setUp prepares the server; act drives the started rollout to its end.
		setUp func(s *testServer)
		act   func(s *testServer, id string)
		args  []string
	}{
		{"Succeeded", 0, func(*testServer) {}, func(s *testServer, id string) { s.Judged(id) }, nil},
		{"RolledBack", 3, func(s *testServer) {
			s.Release("production", "v1")
			s.Target("production").SetStartFailed("v2", "exec ./demo: no such file")
		}, func(*testServer, string) {}, nil},
		{"Aborted", 4, func(*testServer) {}, func(s *testServer, id string) {
			s.WaitFor(id, "the gate", servertest.Phase("AwaitingApproval"))
			s.Do(id, "bob", api.Command{Kind: rollout.CommandReject})
		}, []string{"--require-approval"}},
		{"Failed", 1, func(s *testServer) {
			// The previous version cannot come back: the rollback itself fails at its deadline.
			s.Release("production", "v1")
			s.Target("production").SetReady("v1", false)
			s.Target("production").SetStartFailed("v2", "exec ./demo: no such file")
		}, func(s *testServer, id string) {
			s.WaitFor(id, "the rollback", servertest.Phase("RollingBack"))
			s.Clock.Add(time.Minute)
		}, nil},
	} {
		t.Run(tc.phase, func(t *testing.T) {
			s := startServer(t)
			tc.setUp(s)
			planFile := writeFile(t, "plan.yaml", testPlan)
			type result struct {
				code     int
				out, err string
			}
			res := make(chan result, 1)
			go func() {
				code, out, errOut := run(t, append([]string{"deploy", "execute", "--plan", planFile, "--server", s.socket()}, tc.args...)...)
				res <- result{code, out, errOut}
			}()
			id := <-s.Started()
			tc.act(s, id)
			r := <-res
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, tc.code, r.out, r.err)
			}
			if first, _, _ := strings.Cut(r.out, "\n"); first != id {
				t.Fatalf("first line %q, want the rollout ID", first)
			}
			if !strings.Contains(r.out, "phase="+tc.phase) {
				t.Errorf("output does not show the end:\n%s", r.out)
			}
		})
	}
}

func TestBadInputStartsNothing(t *testing.T) {
	s := startServer(t)
	svcFile := writeFile(t, "hugai.yaml", demoServiceFile(t))
	badPlan := writeFile(t, "bad.yaml", strings.Replace(testPlan, "setWeight: 20", "setWeight: 140", 1))
	unknown := writeFile(t, "unknown.yaml", strings.Replace(testPlan, "success-rate", "succes-rate", 1))
	goodPlan := writeFile(t, "good.yaml", testPlan)
	noVersion := writeFile(t, "nov.yaml", strings.Replace(testPlan, "  version: v2\n", "", 1))
	canary := func(extra ...string) []string {
		return append([]string{"deploy", "canary", "-f", svcFile, "--environment", "production", "--version", "v2", "--server", s.socket()}, extra...)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"plan out of range", []string{"deploy", "execute", "--plan", badPlan, "--server", s.socket()}, "bad.yaml:13: spec.strategy.canary.steps[0].setWeight"},
		{"unknown template", []string{"deploy", "execute", "--plan", unknown, "--server", s.socket()}, `unknown analysis template "succes-rate"`},
		{"missing plan", []string{"deploy", "execute", "--plan", "/nonexistent/plan.yaml", "--server", s.socket()}, "no such file"},
		{"no version", []string{"deploy", "execute", "--plan", noVersion, "--server", s.socket()}, "spec.version is missing"},
		{"version conflict", []string{"deploy", "execute", "--plan", goodPlan, "--version", "v3", "--server", s.socket()}, "--version v3"},
		{"split not increasing", canary("--traffic-split", "5,50,25,100"), "must increase"},
		{"split not ending at 100", canary("--traffic-split", "5,25,50"), "last weight must be 100"},
		{"split out of range", canary("--traffic-split", "0,100"), "not within 1..100"},
		{"split not a number", canary("--traffic-split", "5,x,100"), "not a number"},
		{"bad criteria", canary("--success-criteria", "error_rate<1%,latency_p95<<2s"), "col "},
		{"bad interval", canary("--health-check-interval", "2"), "--health-check-interval"},
		{"unknown environment", []string{"deploy", "canary", "-f", svcFile, "--environment", "prod", "--version", "v2", "--server", s.socket()}, "prod"},
	} {
		code, _, errOut := run(t, tc.args...)
		if code != ExitBadInput || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d %q, want 2 mentioning %q", tc.name, code, errOut, tc.want)
		}
	}
	if n := len(s.StartCalls()); n != 0 {
		t.Fatalf("bad input started %d rollouts", n)
	}
}

func TestCanaryBuildsFlaggerSteps(t *testing.T) {
	// The server serves the service file the command plans against: the plan it sends names the
	// demo's health check and smoke test, which a server without them refuses.
	s := &testServer{servertest.NewHarness(t, demoServiceFile(t))}
	svcFile := writeFile(t, "hugai.yaml", demoServiceFile(t))
	code, out, errOut := run(t, "deploy", "canary", "-f", svcFile, "--environment", "production", "--version", "v2",
		"--traffic-split", "5,25,50,100", "--health-check-interval", "2m", "--success-criteria", "error_rate<1%,latency_p95<2s",
		"--detach", "--server", s.socket())
	if code != 0 || out != <-s.Started()+"\n" {
		t.Fatalf("canary: exit %d %q\n%s", code, out, errOut)
	}
	req := s.StartCalls()[0].Req
	if req.Service != "demo" || req.Version != "v2" || req.Environment != "production" {
		t.Errorf("request names %s %s %s", req.Service, req.Version, req.Environment)
	}
	p, _, err := plan.ParsePlan("sent", req.Plan)
	if err != nil {
		t.Fatalf("the plan sent does not parse: %v\n%s", err, req.Plan)
	}
	if p.Spec.SuccessCriteria != "error_rate<1%,latency_p95<2s" || p.Spec.Strategy.Type != plan.StrategyCanary {
		t.Errorf("spec %+v", p.Spec)
	}
	var got []string
	for _, st := range p.Spec.Strategy.Canary.Steps {
		switch {
		case st.SetWeight != nil:
			got = append(got, "w"+strconv.Itoa(*st.SetWeight))
		case st.Pause != nil && st.Pause.Duration != nil:
			got = append(got, "p"+st.Pause.Duration.Duration.String())
		case st.Approval != nil:
			got = append(got, "approval")
		}
	}
	want := "w5 p2m w25 p2m w50 p2m w100"
	if strings.Join(got, " ") != want {
		t.Fatalf("steps %v, want %s", got, want)
	}
}

func TestSplitStepsKeepsThePolicysApproval(t *testing.T) {
	approval := &plan.ApprovalStep{Approvers: []string{"alice"}, Count: 1}
	steps := splitSteps([]int{10, 100}, time.Minute, []plan.CanaryStep{{SetWeight: new(int)}, {Approval: approval}})
	if len(steps) != 4 || steps[2].Approval != approval || steps[3].SetWeight == nil || *steps[3].SetWeight != 100 {
		t.Fatalf("steps %+v: want weight, pause, approval, 100", steps)
	}
}

// --monitor-health and --auto-rollback-on-failure confirm the plan and send nothing; only their
// explicit =false (and --no-auto-rollback) override it.
func TestConfirmingFlagsNeverOverrideThePlan(t *testing.T) {
	s := startServer(t)
	planFile := writeFile(t, "plan.yaml", testPlan)
	for _, tc := range []struct {
		args                     []string
		noMonitoring, noRollback bool
	}{
		{nil, false, false},
		{[]string{"--monitor-health", "--auto-rollback-on-failure"}, false, false},
		{[]string{"--monitor-health=false"}, true, false},
		{[]string{"--auto-rollback-on-failure=false"}, false, true},
		{[]string{"--no-auto-rollback"}, false, true},
	} {
		args := append([]string{"deploy", "execute", "--plan", planFile, "--detach", "--server", s.socket()}, tc.args...)
		if code, _, errOut := run(t, args...); code != 0 {
			t.Fatalf("%v: exit %d %s", tc.args, code, errOut)
		}
		calls := s.StartCalls()
		req := calls[len(calls)-1].Req
		if req.NoMonitoring != tc.noMonitoring || req.NoAutoRollback != tc.noRollback {
			t.Errorf("%v: sent noMonitoring %v noAutoRollback %v", tc.args, req.NoMonitoring, req.NoAutoRollback)
		}
		s.Do(<-s.Started(), "alice", api.Command{Kind: rollout.CommandAbort})
	}
}
