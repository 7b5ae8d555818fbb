package policy

import (
	"strings"
	"testing"
	"time"
)

var (
	alice   = Identity{Name: "alice", Via: ViaUnix, Groups: []string{"ops"}}
	bob     = Identity{Name: "bob", Via: ViaUnix}
	carol   = Identity{Name: "carol", Email: "carol@company.com", Groups: []string{"security-team@company.com"}}
	root    = Identity{Name: "root", Via: ViaUnix, Groups: []string{"root"}}
	ciToken = Identity{Name: "ci", Via: ViaToken, Token: "ci", Ceiling: Deployer}
)

func TestRoleOf(t *testing.T) {
	closed := Rules{Environment: "production",
		Roles: map[Role][]string{
			Viewer:   {Anyone},
			Deployer: {"group:ops", "token:ci"},
			Approver: {"security-team@company.com"},
			Admin:    {"user:dave"},
		},
		Approvers: []string{"bob"},
	}
	cases := []struct {
		name  string
		rules Rules
		id    Identity
		want  Role
		why   string
	}{
		{"open: everyone is admin", Rules{Environment: "staging"}, root, Admin, "declares no roles or approvers"},
		{"approvers only: an approver", Rules{Approvers: []string{"alice"}}, alice, Approver, "policy.approvers"},
		{"approvers only: others deploy", Rules{Approvers: []string{"alice"}}, root, Deployer, "not in policy.approvers"},
		{"approvers by e-mail, any case", Rules{Approvers: []string{"Carol@Company.com"}}, carol, Approver, "policy.approvers"},
		{"approvers by group address", Rules{Approvers: []string{"security-team@company.com"}}, carol, Approver, "policy.approvers"},
		{"closed: anyone views", closed, root, Viewer, "policy.roles.viewer"},
		{"closed: a group deploys", closed, alice, Deployer, "policy.roles.deployer"},
		{"closed: approvers imply approver", closed, bob, Approver, "policy.approvers"},
		{"closed: user: prefix", closed, Identity{Name: "dave"}, Admin, "policy.roles.admin"},
		{"closed: group: prefix is not a user", closed, Identity{Name: "ops"}, Viewer, "policy.roles.viewer"},
		{"closed: token subject", closed, ciToken, Deployer, "policy.roles.deployer"},
		{"closed: token: prefix needs a token", closed, Identity{Name: "x", Token: "ci"}, Viewer, ""},
		{"closed: nobody named", Rules{Roles: map[Role][]string{Admin: {"dave"}}}, root, NoRole, "not named in policy.roles"},
		{"no identity", Rules{}, Identity{}, NoRole, "no identity"},
		{"a token caps the role", Rules{}, Identity{Name: "dave", Via: ViaToken, Token: "t", Ceiling: Viewer}, Viewer, `"t" token used caps it at viewer`},
		{"a token for another environment", Rules{Environment: "production"}, Identity{Name: "dave", Via: ViaToken, Environment: "staging"}, NoRole, "for environment staging only"},
		{"a token for this environment", Rules{Environment: "production"}, Identity{Name: "dave", Via: ViaToken, Environment: "production"}, Admin, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, why := tc.rules.RoleOf(tc.id)
			if got != tc.want || !strings.Contains(why, tc.why) {
				t.Errorf("RoleOf(%+v) = %s (%s), want %s (…%s…)", tc.id, got, why, tc.want, tc.why)
			}
		})
	}
}

func TestRequire(t *testing.T) {
	r := Rules{Environment: "production", Roles: map[Role][]string{Viewer: {"root"}, Deployer: {"alice"}}}
	if d := r.Require(alice, Deployer, "abort a rollout"); !d.Allowed {
		t.Errorf("a deployer may abort: %+v", d)
	}
	d := r.Require(root, Deployer, "abort a rollout")
	if d.Allowed || d.Rule != RuleRole {
		t.Fatalf("a viewer may not abort: %+v", d)
	}
	want := "root may not abort a rollout in production: that needs the deployer role, and root holds viewer (policy.roles.viewer)"
	if d.Reason != want {
		t.Errorf("reason\n got %q\nwant %q", d.Reason, want)
	}
	if err := d.Err(); err == nil || !strings.HasPrefix(err.Error(), "denied (role): root may not") {
		t.Errorf("Err() = %v", err)
	}
	if r.Require(alice, Admin, "x").Err() == nil {
		t.Error("a deployer is not an admin")
	}
}

func TestMayApprove(t *testing.T) {
	closed := Rules{Environment: "production", Roles: map[Role][]string{Deployer: {"alice", "root", "erin"}, Approver: {"bob", "carol@company.com"}, Admin: {"dave"}}}
	open := Rules{Environment: "production"}
	cases := []struct {
		name      string
		rules     Rules
		id        Identity
		gate      Gate
		startedBy string
		fourEyes  bool
		rule      string // "": allowed
		reason    string
	}{
		{"an approver", closed, bob, Gate{Name: "g"}, "alice", true, "", ""},
		{"an admin approves too", closed, Identity{Name: "dave"}, Gate{Name: "g"}, "alice", true, "", ""},
		{"a deployer may not", closed, root, Gate{Name: "g"}, "alice", true, RuleRole, "root may not approve g in production: that needs the approver role, and root holds deployer"},
		{"four-eyes: the starter may not", closed, bob, Gate{Name: "g"}, "bob", true, RuleFourEyes, "bob started this rollout and may not approve g (four-eyes"},
		{"four-eyes off: the starter may", closed, bob, Gate{Name: "g"}, "bob", false, "", ""},
		{"planner: whoever made the plan may not", closed, bob, Gate{Name: "g"}, "bob", true, RuleFourEyes, "bob made this rollout's plan and may not approve g"},
		{"planner: named by the approver's e-mail", closed, Identity{Name: "bob", Email: "bob@company.com"}, Gate{Name: "g"}, "Bob@company.com", true, RuleFourEyes, "made this rollout's plan"},
		{"planner: another approver may", closed, bob, Gate{Name: "g"}, "carol", true, "", ""},
		{"planner: four-eyes off, the planner may", closed, bob, Gate{Name: "g"}, "bob", false, "", ""},
		{"four-eyes: e-mail starter, any case", closed, Identity{Name: "carol@company.com"}, Gate{Name: "g"}, "CAROL@company.com", true, RuleFourEyes, ""},
		{"the gate's approvers: not named", closed, bob, Gate{Name: "g", Approvers: []string{"carol@company.com"}}, "alice", true, RuleApprovers, "bob is not an approver of g (approvers: carol@company.com)"},
		{"the gate's approvers: named by e-mail", closed, carol, Gate{Name: "g", Approvers: []string{"carol@company.com"}}, "alice", true, "", ""},
		{"the gate's approvers do not lift a declared role", closed, Identity{Name: "erin"}, Gate{Name: "g", Approvers: []string{"erin"}}, "alice", true, RuleRole, ""},
		{"open: the gate's approvers approve", Rules{Approvers: []string{"bob"}}, Identity{Name: "erin"}, Gate{Name: "g", Approvers: []string{"erin"}}, "alice", true, "", ""},
		{"open: anyone approves", open, root, Gate{Name: "g"}, "alice", false, "", ""},
		{"a checkpoint needing admin", closed, bob, Gate{Name: "security-review", Role: Admin}, "alice", true, RuleRole, "needs the admin role"},
		{"a checkpoint needing admin: an admin", closed, Identity{Name: "dave"}, Gate{Name: "security-review", Role: Admin}, "alice", true, "", ""},
		{"a deployer token of an approver", closed, Identity{Name: "bob", Via: ViaToken, Token: "ci", Ceiling: Deployer}, Gate{Name: "g"}, "alice", true, RuleRole, `"ci" token used caps it at deployer`},
		{"a viewer token of a named approver, open", Rules{Approvers: []string{"x"}}, Identity{Name: "erin", Via: ViaToken, Ceiling: Viewer}, Gate{Name: "g", Approvers: []string{"erin"}}, "alice", true, RuleRole, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.rules.MayApprove(tc.id, tc.gate, tc.startedBy, tc.fourEyes)
			if strings.HasPrefix(tc.name, "planner: ") {
				// These cases name the plan's maker where the others name the starter.
				d = tc.rules.MayApproveOf(tc.id, tc.gate, tc.fourEyes, "alice", tc.startedBy)
			}
			if tc.rule == "" {
				if !d.Allowed {
					t.Errorf("refused: %+v", d)
				}
				return
			}
			if d.Allowed || d.Rule != tc.rule || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("got %+v, want refused by %s with …%s…", d, tc.rule, tc.reason)
			}
		})
	}
}

func TestApprovalRole(t *testing.T) {
	r := Rules{CheckpointRoles: map[string]Role{"security-review": Admin}}
	if r.ApprovalRole("security-review") != Admin || r.ApprovalRole("other") != Approver {
		t.Errorf("ApprovalRole: %v %v", r.ApprovalRole("security-review"), r.ApprovalRole("other"))
	}
}

func TestNamesApprovers(t *testing.T) {
	for _, tc := range []struct {
		r    Rules
		want bool
	}{
		{Rules{}, false},
		{Rules{Roles: map[Role][]string{Deployer: {"a"}}}, false},
		{Rules{Approvers: []string{"a"}}, true},
		{Rules{Roles: map[Role][]string{Approver: {"a"}}}, true},
		{Rules{Quorum: []Group{{Name: "s", From: []string{"a"}}}}, true},
	} {
		if got := tc.r.NamesApprovers(); got != tc.want {
			t.Errorf("%+v: NamesApprovers = %t", tc.r, got)
		}
	}
}

func TestCheck(t *testing.T) {
	r := Rules{
		Roles:           map[Role][]string{Admin: {"", " bob", "team:x", "group:"}},
		Approvers:       []string{"ok", "user:ok", "group:ok", "token:ok", "*", "a@b.c"},
		Quorum:          []Group{{Name: "s", From: []string{"a"}}, {Name: "s", Count: -1}, {From: []string{"b"}}},
		ApprovalExpiry:  -time.Second,
		CheckpointRoles: map[string]Role{"x": NoRole},
	}
	got := strings.Join(r.Check(), "\n")
	for _, want := range []string{
		`roles.admin[0]: "" is empty`, `roles.admin[1]: " bob" has leading or trailing spaces`,
		`roles.admin[2]: "team:x" has an unknown prefix team:`, `roles.admin[3]: "group:" names no one`,
		`quorum[1].name: "s" is named twice`, "quorum[1].from: missing", "quorum[1].count: must not be negative",
		"quorum[2].name: missing", "approvalExpiry: must not be negative", "checkpointRoles.x: want one of",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Check() misses %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "approvers[") {
		t.Errorf("a valid principal refused:\n%s", got)
	}
	if errs := (Rules{}).Check(); len(errs) != 0 {
		t.Errorf("the zero rules: %v", errs)
	}
}

func TestRoleText(t *testing.T) {
	for _, r := range []Role{NoRole, Viewer, Deployer, Approver, Admin} {
		b, _ := r.MarshalText()
		var back Role
		if err := back.UnmarshalText(b); err != nil || back != r {
			t.Errorf("%v: round trip %q -> %v, %v", r, b, back, err)
		}
	}
	if _, err := ParseRole("owner"); err == nil || !strings.Contains(err.Error(), "viewer, deployer, approver, admin") {
		t.Errorf("ParseRole(owner) = %v", err)
	}
	if r, err := ParseRole("Approver"); err != nil || r != Approver {
		t.Errorf("ParseRole(Approver) = %v, %v", r, err)
	}
}
