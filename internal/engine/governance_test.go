package engine

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/policy"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
)

// governedYAML is svcYAML with a closed production: named roles, a quorum of two and a weekend
// freeze in Berlin. Staging stays open.
const governedYAML = `apiVersion: hugai.io/v1
kind: Service
metadata: {name: demo}
spec:
  target: {type: local, local: {command: ["./demo"], listen: "127.0.0.1:1", replicas: 2}}
  environments:
    production:
      successCriteria: error_rate<1%
      analysis: {interval: 10s, minimumSamples: 20}
      policy:
        roles:
          viewer: ["*"]
          deployer: [alice]
          admin: [dave]
        approvers: [bob, carol, production-team@company.com]
        approvalsRequired: 2
        timezone: Europe/Berlin
        freezeWindows:
          - {name: weekend, start: "0 18 * * FRI", duration: 62h}
    staging:
      successCriteria: error_rate<1%
      analysis: {interval: 10s, minimumSamples: 20}
`

func unix(name string, groups ...string) policy.Identity {
	return policy.Identity{Name: name, Via: policy.ViaUnix, From: "uid:1", Groups: groups}
}

// wantDenied checks err is the API's refusal by rule, its message naming the rule and saying why.
func wantDenied(t *testing.T, err error, rule, reason string) {
	t.Helper()
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeDenied {
		t.Fatalf("got %v, want a refusal by %s", err, rule)
	}
	if !strings.HasPrefix(ae.Message, "denied by "+rule+": ") || !strings.Contains(ae.Message, reason) {
		t.Fatalf("message %q, want denied by %s: …%s…", ae.Message, rule, reason)
	}
}

func events(t *testing.T, st store.Store, typ string) []audit.Event {
	t.Helper()
	all, err := st.Events(context.Background(), store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for _, ev := range all {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func payload(t *testing.T, ev audit.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Payload, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGovernedEnvironment(t *testing.T) {
	w := newWorld(t)
	w.serviceYAML = governedYAML
	e, rt, st := w.engine()
	ctx := context.Background()
	start := func(who policy.Identity, version, override string) (api.Rollout, error) {
		return e.Start(ctx, who, api.StartRequest{Plan: []byte(canaryPlan), Version: version, RequireApproval: true, OverrideFreeze: override})
	}

	// A viewer may not start; the refusal is audited with who and how.
	_, err := start(unix("victor"), "v1", "")
	wantDenied(t, err, policy.RuleRole, "victor may not start a rollout in production: that needs the deployer role, and victor holds viewer (policy.roles.viewer)")
	denied := events(t, st, "policy.denied")
	if len(denied) != 1 || denied[0].Actor != "victor" || denied[0].Subject != "service/demo/production" {
		t.Fatalf("the refusal was not audited: %+v", denied)
	}
	if p := payload(t, denied[0]); p["rule"] != "role" || p["auth"].(map[string]any)["via"] != "unix" || p["auth"].(map[string]any)["from"] != "uid:1" {
		t.Fatalf("refusal payload %v", p)
	}

	// bob approves, so he may deploy too; four-eyes is on by default, as production names approvers.
	r, err := start(unix("bob"), "v1", "")
	if err != nil {
		t.Fatal(err)
	}
	v := w.run(e, rt, r.ID, 1)
	if v.Phase != "AwaitingApproval" || v.Approval == nil || v.Approval.Needed != 2 || !v.Approval.FourEyes || v.Approval.StartedBy != "bob" {
		t.Fatalf("waiting: %s %+v", v.Phase, v.Approval)
	}
	requested := events(t, st, "rollout.requested")
	if p := payload(t, requested[0]); p["fourEyes"] != true || !strings.Contains(p["fourEyesWhy"].(string), "on by default") {
		t.Fatalf("the request does not record four-eyes: %v", p)
	}

	approve := func(who policy.Identity) error {
		_, err := e.Do(ctx, r.ID, who, api.Command{Kind: rollout.CommandApprove, Comment: "checked"})
		return err
	}
	wantDenied(t, approve(unix("bob")), policy.RuleFourEyes, "bob started this rollout and may not approve production-approval (four-eyes")
	wantDenied(t, approve(unix("alice")), policy.RuleRole, "needs the approver role, and alice holds deployer")
	if err := approve(unix("carol")); err != nil {
		t.Fatal(err)
	}
	if v = w.run(e, rt, r.ID, 1); v.Phase != "AwaitingApproval" || v.Approval.Missing != "1 more approval(s) of 2" {
		t.Fatalf("one of two approvals passed the gate: %s %+v", v.Phase, v.Approval)
	}
	// The seed's approvers are group addresses: a member of production-team approves.
	if err := approve(policy.Identity{Name: "pat", Via: policy.ViaUnix, Groups: []string{"production-team@company.com"}}); err != nil {
		t.Fatal(err)
	}
	if v = w.run(e, rt, r.ID, 80); v.Phase != "Succeeded" {
		t.Fatalf("two approvals: %s (%s)", v.Phase, v.Message)
	}
	approved := events(t, st, "rollout.approved")
	if len(approved) != 2 || payload(t, approved[0])["auth"].(map[string]any)["via"] != "unix" {
		t.Fatalf("approvals do not record how their approver authenticated: %+v", approved)
	}
	if got := len(events(t, st, "policy.denied")); got != 3 {
		t.Fatalf("%d refusals audited, want 3", got)
	}

	// The weekend freeze: Saturday noon in Berlin.
	w.fake.Add(time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC).Sub(w.fake.Now()))
	_, err = start(unix("alice"), "v2", "")
	wantDenied(t, err, policy.RuleFreeze, `production is in the freeze window "weekend" (Sat 12:00 CET): nothing starts until it closes, unless an admin overrides it`)
	_, err = start(unix("alice"), "v2", "hotfix")
	wantDenied(t, err, policy.RuleFreeze, "only an admin may override it, and alice holds deployer")
	_, err = start(unix("dave"), "v2", "")
	wantDenied(t, err, policy.RuleFreeze, "unless an admin overrides it with a reason")
	if len(events(t, st, "policy.freezeOverridden")) != 0 {
		t.Fatal("an override was recorded before any was allowed")
	}
	r2, err := start(unix("dave"), "v2", "CVE-2026-4242: the fix cannot wait")
	if err != nil {
		t.Fatal(err)
	}
	over := events(t, st, "policy.freezeOverridden")
	if len(over) != 1 || over[0].Actor != "dave" || over[0].Subject != "rollout/"+r2.ID {
		t.Fatalf("the override is not audited on the rollout: %+v", over)
	}
	if p := payload(t, over[0]); p["reason"] != "CVE-2026-4242: the fix cannot wait" || !strings.Contains(p["decision"].(string), `freeze window "weekend"`) {
		t.Fatalf("override payload %v", p)
	}

	// Staging declares nothing: anyone may do anything there, as before.
	if _, err := e.Start(ctx, unix("victor"), api.StartRequest{Plan: []byte(canaryPlan), Version: "v1", Environment: "staging"}); err != nil {
		t.Fatalf("an open environment refused: %v", err)
	}
}

func TestFourEyesOffIsTheStartersChoice(t *testing.T) {
	w := newWorld(t)
	w.serviceYAML = strings.Replace(governedYAML, "        approvalsRequired: 2\n", "        fourEyes: false\n", 1)
	e, rt, st := w.engine()
	ctx := context.Background()
	r, err := e.Start(ctx, unix("bob"), api.StartRequest{Plan: []byte(canaryPlan), Version: "v1", RequireApproval: true})
	if err != nil {
		t.Fatal(err)
	}
	w.run(e, rt, r.ID, 1)
	if p := payload(t, events(t, st, "rollout.requested")[0]); p["fourEyes"] != false || !strings.Contains(p["fourEyesWhy"].(string), "policy.fourEyes is false") {
		t.Fatalf("the request does not record four-eyes off: %v", p)
	}
	// With four-eyes off the starter approves his own rollout, on purpose.
	if _, err := e.Do(ctx, r.ID, unix("bob"), api.Command{Kind: rollout.CommandApprove}); err != nil {
		t.Fatal(err)
	}
	if v := w.run(e, rt, r.ID, 80); v.Phase != "Succeeded" {
		t.Fatalf("%s (%s)", v.Phase, v.Message)
	}
}

func TestReleaseRollbackNeedsDeployer(t *testing.T) {
	w := newWorld(t)
	w.serviceYAML = governedYAML
	e, rt, _ := w.engine()
	ctx := context.Background()
	r, err := e.Start(ctx, unix("alice"), api.StartRequest{Plan: []byte(canaryPlan), Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if v := w.run(e, rt, r.ID, 80); v.Phase != "Succeeded" {
		t.Fatalf("%s", v.Phase)
	}
	_, err = e.Do(ctx, r.ID, unix("victor"), api.Command{Kind: rollout.CommandRollback})
	wantDenied(t, err, policy.RuleRole, "victor may not roll back a release in production")
	_, err = e.Do(ctx, r.ID, policy.Identity{Name: "alice", Via: policy.ViaToken, Token: "ro", Ceiling: policy.Viewer}, api.Command{Kind: rollout.CommandAbort})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeConflict {
		t.Fatalf("an abort of a finished rollout is a conflict before any role: %v", err)
	}
}

// The server signs a statement of every finished rollout: the engine calls Finished once per
// rollout, after its last state is committed, and Statement reads what it did.
func TestFinishedOncePerRollout(t *testing.T) {
	w := newWorld(t)
	var ended []string
	w.finished = func(_ context.Context, id string) { ended = append(ended, id) }
	e, rt, _ := w.engine()
	ctx := context.Background()
	r, err := e.Start(ctx, unix("alice"), api.StartRequest{Plan: []byte(canaryPlan), Version: "v1", RequireApproval: true})
	if err != nil {
		t.Fatal(err)
	}
	w.run(e, rt, r.ID, 1)
	if _, err := e.Statement(ctx, r.ID); err == nil {
		t.Fatal("a statement of a rollout still running")
	}
	if _, err := e.Do(ctx, r.ID, unix("bob"), api.Command{Kind: rollout.CommandApprove, Comment: "ok"}); err != nil {
		t.Fatal(err)
	}
	v := w.run(e, rt, r.ID, 80)
	w.run(e, rt, r.ID, 3) // more ticks of a finished rollout call nothing again
	if v.Phase != "Succeeded" || len(ended) != 1 || ended[0] != r.ID {
		t.Fatalf("%s: finished %v", v.Phase, ended)
	}
	s, err := e.Statement(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Predicate
	if p.PlanSHA256 != v.PlanSHA256 || p.StartedBy != "alice" || len(p.Approvals) != 1 || p.Approvals[0].Actor != "bob" ||
		len(p.Verdicts) == 0 || p.Verdicts[0].Metric != "error_rate" || p.Verdicts[0].Failed != 0 || p.FinishedAt.IsZero() || p.Audit.LastHash == "" {
		t.Fatalf("statement %+v", p)
	}
}
