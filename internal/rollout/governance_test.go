package rollout

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/policy"
)

func withPolicy(pol plan.Policy) *plan.Service {
	svc := honourService()
	e := svc.Spec.Environments["production"]
	e.Policy = &pol
	svc.Spec.Environments["production"] = e
	return svc
}

func TestFourEyesDefaultsOnWithApprovers(t *testing.T) {
	no, yes := false, true
	cases := []struct {
		name string
		pol  plan.Policy
		want bool
		why  string
	}{
		{"no approvers: off", plan.Policy{}, false, "names no approvers"},
		{"approvers: on", plan.Policy{Approvers: []string{"alice"}}, true, "on by default"},
		{"roles.approver: on", plan.Policy{Roles: &plan.Roles{Approver: []string{"alice"}}}, true, "on by default"},
		{"a quorum: on", plan.Policy{Quorum: []plan.QuorumGroup{{Name: "s", From: []string{"a"}}}}, true, "on by default"},
		{"approvers, fourEyes false: off", plan.Policy{Approvers: []string{"alice"}, FourEyes: &no}, false, "policy.fourEyes is false"},
		{"no approvers, fourEyes true: on", plan.Policy{FourEyes: &yes}, true, "policy.fourEyes is true"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := compilePlan(t, canaryPlan(nil), withPolicy(tc.pol), Options{})
			if spec.FourEyes != tc.want || !strings.Contains(spec.FourEyesWhy, tc.why) {
				t.Errorf("FourEyes %t (%s), want %t (…%s…)", spec.FourEyes, spec.FourEyesWhy, tc.want, tc.why)
			}
		})
	}
}

func TestPolicyIsFrozenIntoTheSpec(t *testing.T) {
	exp := plan.Duration{Duration: 20 * time.Minute}
	spec := compilePlan(t, canaryPlan(func(s *plan.PlanSpec) {
		s.Governance = &plan.Governance{Checkpoints: []plan.Checkpoint{{Name: "security-review", Required: true}, {Name: "ux-review"}}}
	}), withPolicy(plan.Policy{
		Roles:           &plan.Roles{Deployer: []string{"alice"}, Admin: []string{"dave"}},
		Approvers:       []string{"bob"},
		ApprovalExpiry:  &exp,
		Quorum:          []plan.QuorumGroup{{Name: "security", From: []string{"carol"}}},
		CheckpointRoles: map[string]string{"security-review": "admin", "ux-review": "deployer"},
	}), Options{})
	p := spec.Policy
	if p.Environment != "production" || !slices.Equal(p.Roles[policy.Admin], []string{"dave"}) || p.ApprovalExpiry != 20*time.Minute || p.Quorum[0].Count != 1 {
		t.Fatalf("rules %+v", p)
	}
	if len(spec.Gates) != 1 || spec.Gates[0].Role != policy.Admin {
		t.Fatalf("the security-review gate needs admin: %+v", spec.Gates)
	}
	if cp, _ := spec.signOffCheckpoint("ux-review"); cp.Role != policy.Deployer {
		t.Fatalf("ux-review sign-off role %v", cp.Role)
	}
}

// gatedSpec is a canary with one start gate under rules.
func gatedSpec(t *testing.T, rules policy.Rules, fourEyes bool) Spec {
	spec := canarySpec(t, w(5), pause(time.Minute), w(100))
	spec.Gates = []Gate{{Name: "production-approval", Count: 1, Timeout: 2 * time.Hour}}
	spec.Policy, spec.FourEyes = rules, fourEyes
	return spec
}

func TestValidateAsksThePolicy(t *testing.T) {
	rules := policy.Rules{Environment: "production", Roles: map[policy.Role][]string{
		policy.Viewer: {"victor"}, policy.Deployer: {"alice", "dan"}, policy.Approver: {"bob", "carol"}, policy.Admin: {"dave"}}}
	spec := gatedSpec(t, rules, true)
	s := newSim(t, spec, "v1")
	s.st.StartedBy = "bob"
	s.tick(nil)
	if s.st.Phase != AwaitingApproval {
		t.Fatalf("phase %s", s.st.Phase)
	}
	cases := []struct {
		name string
		cmd  Command
		rule string // "": accepted
		msg  string
	}{
		{"a viewer may not abort", Command{Kind: CommandAbort, Actor: "victor"}, policy.RuleRole, "victor may not abort a rollout in production: that needs the deployer role, and victor holds viewer"},
		{"nobody named may not promote", Command{Kind: CommandPromote, Actor: "mallory"}, policy.RuleRole, "mallory holds no role"},
		{"a deployer may not approve", Command{Kind: CommandApprove, Actor: "alice"}, policy.RuleRole, "needs the approver role, and alice holds deployer"},
		{"a deployer may not reject", Command{Kind: CommandReject, Actor: "dan"}, policy.RuleRole, "needs the approver role"},
		{"the starter may not approve", Command{Kind: CommandApprove, Actor: "bob"}, policy.RuleFourEyes, "bob started this rollout and may not approve production-approval (four-eyes"},
		{"the starter may reject", Command{Kind: CommandReject, Actor: "bob"}, "", ""},
		{"another approver may", Command{Kind: CommandApprove, Actor: "carol"}, "", ""},
		{"an admin may", Command{Kind: CommandApprove, Actor: "dave"}, "", ""},
		{"a deployer may abort", Command{Kind: CommandAbort, Actor: "alice"}, "", ""},
		{"the whole identity is asked: a group named as approver", Command{Kind: CommandApprove, Actor: "x", Who: policy.Identity{Name: "x", Groups: []string{"carol"}}}, "", ""},
		{"the whole identity is asked: a name alone", Command{Kind: CommandApprove, Actor: "x", Who: policy.Identity{Name: "x", Groups: []string{"dan"}}}, policy.RuleRole, "x holds deployer"},
		{"a capped token", Command{Kind: CommandApprove, Actor: "carol", Who: policy.Identity{Name: "carol", Via: policy.ViaToken, Token: "ci", Ceiling: policy.Deployer}}, policy.RuleRole, `the "ci" token used caps it at deployer`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(spec, s.st, tc.cmd)
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ce *CommandError
			if !errors.As(err, &ce) || !ce.Denied || ce.Rule != tc.rule || !strings.Contains(ce.Msg, tc.msg) {
				t.Fatalf("got %#v, want denied by %s with …%s…", err, tc.rule, tc.msg)
			}
		})
	}
}

func TestQuorumOfTwoNeedsTwoDistinctApprovers(t *testing.T) {
	spec := gatedSpec(t, policy.Rules{}, false)
	spec.Gates[0].Count = 2
	s := newSim(t, spec, "v1")
	s.tick(nil)
	if !strings.Contains(s.st.Message, "waiting for 2 approval(s)") {
		t.Fatalf("message %q", s.st.Message)
	}
	s.tick(&Command{Kind: CommandApprove, Actor: "alice"})
	if s.st.Phase != AwaitingApproval {
		t.Fatalf("one approval of two passed the gate: %s", s.st.Phase)
	}
	var ce *CommandError
	if err := Validate(spec, s.st, Command{Kind: CommandApprove, Actor: "alice"}); !errors.As(err, &ce) || !ce.Conflict {
		t.Fatalf("alice approved twice: %v", err)
	}
	s.tick(&Command{Kind: CommandApprove, Actor: "bob"})
	if s.st.Phase != Progressing {
		t.Fatalf("two approvals did not pass the gate: %s", s.st.Phase)
	}
	passed := s.events[slices.IndexFunc(s.events, func(e Event) bool { return e.Type == "rollout.gatePassed" })]
	if got := passed.Payload["approvers"]; !slices.Equal(got.([]string), []string{"alice", "bob"}) {
		t.Fatalf("gatePassed approvers %v", got)
	}
}

func TestQuorumOneFromEachGroup(t *testing.T) {
	rules := policy.Rules{Quorum: []policy.Group{
		{Name: "security", From: []string{"security-team@company.com"}, Count: 1},
		{Name: "production", From: []string{"production-team@company.com"}, Count: 1},
	}}
	spec := gatedSpec(t, rules, true)
	s := newSim(t, spec, "v1")
	s.st.StartedBy = "alice"
	s.tick(nil)
	if !strings.Contains(s.st.Message, "1 more from security; 1 more from production") {
		t.Fatalf("message %q", s.st.Message)
	}
	prod := func(name string) *Command {
		return &Command{Kind: CommandApprove, Actor: name, Who: policy.Identity{Name: name, Groups: []string{"production-team@company.com"}}}
	}
	s.tick(prod("pat"))
	s.tick(prod("pia"))
	if s.st.Phase != AwaitingApproval {
		t.Fatalf("two from production passed a gate that needs security too: %s", s.st.Phase)
	}
	if got := s.st.Approvals[0].Groups; !slices.Equal(got, []string{"production"}) {
		t.Fatalf("the approval records its groups: %v", got)
	}
	s.tick(&Command{Kind: CommandApprove, Actor: "sam", Who: policy.Identity{Name: "sam", Email: "sam@company.com", Groups: []string{"Security-Team@company.com"}}})
	if s.st.Phase != Progressing {
		t.Fatalf("one from each group did not pass: %s (%s)", s.st.Phase, s.st.Message)
	}
}

func TestApprovalExpiry(t *testing.T) {
	spec := gatedSpec(t, policy.Rules{ApprovalExpiry: 30 * time.Minute}, false)
	spec.Gates[0].Count = 2
	s := newSim(t, spec, "v1")
	s.tick(nil)
	s.tick(&Command{Kind: CommandApprove, Actor: "alice"})
	s.run(31 * time.Minute)
	if len(s.st.Approvals) != 0 || !slices.ContainsFunc(s.events, func(e Event) bool { return e.Type == "rollout.approvalExpired" && e.Payload["approver"] == "alice" }) {
		t.Fatalf("alice's approval did not expire: %+v", s.st.Approvals)
	}
	s.tick(&Command{Kind: CommandApprove, Actor: "bob"})
	if s.st.Phase != AwaitingApproval {
		t.Fatalf("an expired approval counted: %s", s.st.Phase)
	}
	s.tick(&Command{Kind: CommandApprove, Actor: "alice"})
	if s.st.Phase != Progressing {
		t.Fatalf("two fresh approvals did not pass: %s", s.st.Phase)
	}
}

func TestApprovalTimeoutSaysWhatWasMissing(t *testing.T) {
	spec := gatedSpec(t, policy.Rules{}, false)
	spec.Gates[0].Count = 2
	s := newSim(t, spec, "v1")
	s.tick(nil)
	s.tick(&Command{Kind: CommandApprove, Actor: "alice"})
	s.run(3 * time.Hour)
	if s.st.Phase != Aborted || s.st.Reason != ReasonApprovalTimeout || !strings.Contains(s.st.Message, "1 more approval(s) of 2") {
		t.Fatalf("%s %s %q", s.st.Phase, s.st.Reason, s.st.Message)
	}
}

func TestSignOffNeedsItsRole(t *testing.T) {
	spec := canarySpec(t, w(100))
	spec.Checkpoints = []CheckpointSpec{{Name: "ux-review", How: CheckpointSignOff, Role: policy.Admin}}
	spec.Policy = policy.Rules{Roles: map[policy.Role][]string{policy.Approver: {"bob"}, policy.Admin: {"dave"}}}
	st := New("v1", "v2", t0)
	var ce *CommandError
	if err := Validate(spec, st, Command{Kind: CommandApprove, Actor: "bob", Gate: "ux-review"}); !errors.As(err, &ce) || ce.Rule != policy.RuleRole {
		t.Fatalf("an approver signed off an admin's checkpoint: %v", err)
	}
	if err := Validate(spec, st, Command{Kind: CommandApprove, Actor: "dave", Gate: "ux-review"}); err != nil {
		t.Fatal(err)
	}
}
