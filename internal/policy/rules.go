package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Rules are an environment's governance, compiled from hugai.yaml's `policy` and frozen into
// each rollout: who holds which role, what a gate's quorum is, and how long an approval counts.
//
// The zero value is an open environment, as hugai was before roles: everyone who reaches the
// server may do everything. Naming approvers closes approving to them (everyone else deploys);
// naming any role closes the environment: who is named nowhere holds no role.
type Rules struct {
	// Environment is the environment the rules govern (a token scoped to another has no role);
	// Service names its service where rules of several are compared (the API's authorization).
	Environment string `json:"environment,omitempty"`
	Service     string `json:"service,omitempty"`
	// Roles lists the principals holding each role (policy.roles).
	Roles map[Role][]string `json:"roles,omitempty"`
	// Approvers (policy.approvers) hold the approver role.
	Approvers []string `json:"approvers,omitempty"`
	// Quorum groups (policy.quorum) each need approvals of their own members on every gate.
	Quorum []Group `json:"quorum,omitempty"`
	// ApprovalExpiry (policy.approvalExpiry): an approval older than this no longer counts.
	ApprovalExpiry time.Duration `json:"approvalExpiry,omitempty"`
	// CheckpointRoles (policy.checkpointRoles): the role that approves or signs off a checkpoint,
	// when it is not approver.
	CheckpointRoles map[string]Role `json:"checkpointRoles,omitempty"`
}

// Group is one party of a quorum: Count approvals from distinct members are needed.
type Group struct {
	Name  string   `json:"name"`
	From  []string `json:"from"`
	Count int      `json:"count"`
}

// declared reports whether the policy names any role: then who is named nowhere holds none.
func (r Rules) declared() bool {
	for _, ps := range r.Roles {
		if len(ps) > 0 {
			return true
		}
	}
	return false
}

// NamesApprovers reports whether the environment says who approves: then four-eyes is on unless
// policy.fourEyes is false.
func (r Rules) NamesApprovers() bool {
	return len(r.Approvers) > 0 || len(r.Roles[Approver]) > 0 || len(r.Quorum) > 0
}

// RoleOf is the role id holds here, and why, in words a refusal can quote.
func (r Rules) RoleOf(id Identity) (Role, string) {
	if id.Name == "" {
		return NoRole, "the request carries no identity"
	}
	if id.Environment != "" && r.Environment != "" && id.Environment != r.Environment {
		return NoRole, fmt.Sprintf("%s's token is for environment %s only", id.Name, id.Environment)
	}
	role, why := r.granted(id)
	if id.Ceiling != NoRole && role > id.Ceiling {
		return id.Ceiling, fmt.Sprintf("%s; the %s token used caps it at %s", why, tokenName(id), id.Ceiling)
	}
	return role, why
}

func tokenName(id Identity) string {
	if id.Token != "" {
		return fmt.Sprintf("%q", id.Token)
	}
	return "credential"
}

// granted is the highest role the policy gives id, before any token's cap.
func (r Rules) granted(id Identity) (Role, string) {
	if !r.declared() {
		switch {
		case len(r.Approvers) == 0:
			return Admin, fmt.Sprintf("%s holds admin: environment %s declares no roles or approvers (policy.roles)", id.Name, r.Environment)
		case MatchesAny(r.Approvers, id):
			return Approver, fmt.Sprintf("%s holds approver (policy.approvers)", id.Name)
		}
		return Deployer, fmt.Sprintf("%s holds deployer: not in policy.approvers, and environment %s declares no roles", id.Name, r.Environment)
	}
	best, from := NoRole, ""
	for role := Admin; role >= Viewer; role-- {
		if MatchesAny(r.Roles[role], id) {
			best, from = role, "policy.roles."+role.String()
			break
		}
	}
	if best < Approver && MatchesAny(r.Approvers, id) {
		best, from = Approver, "policy.approvers"
	}
	if best == NoRole {
		return NoRole, fmt.Sprintf("%s holds no role in %s (not named in policy.roles)", id.Name, r.Environment)
	}
	return best, fmt.Sprintf("%s holds %s (%s)", id.Name, best, from)
}

// Require decides whether id may do action (in words: "abort a rollout"), which needs role need.
func (r Rules) Require(id Identity, need Role, action string) Decision {
	have, why := r.RoleOf(id)
	if have >= need {
		return Allow(RuleRole, why)
	}
	return Deny(RuleRole, fmt.Sprintf("%s may not %s in %s: that needs the %s role, and %s", orAnon(id), action, r.env(), need, why))
}

func (r Rules) env() string {
	if r.Environment == "" {
		return "this environment"
	}
	return r.Environment
}

func orAnon(id Identity) string {
	if id.Name == "" {
		return "an anonymous caller"
	}
	return id.Name
}

// Gate is what an approval is asked of: its name, the principals it names (none: any approver)
// and the role it needs (NoRole: approver).
type Gate struct {
	Name      string
	Approvers []string
	Role      Role
}

// ApprovalRole is the role a checkpoint's approval or sign-off needs.
func (r Rules) ApprovalRole(checkpoint string) Role {
	if role, ok := r.CheckpointRoles[checkpoint]; ok && role != NoRole {
		return role
	}
	return Approver
}

// MayApprove decides whether id may approve (or reject) g of a rollout startedBy started. With
// fourEyes the starter may not. Approving twice is not a policy matter: the caller refuses it.
func (r Rules) MayApprove(id Identity, g Gate, startedBy string, fourEyes bool) Decision {
	return r.MayApproveOf(id, g, fourEyes, startedBy, "")
}

// MayApproveOf is MayApprove knowing also who made the rollout's plan (plannedBy, "" when the
// plan does not say): with fourEyes neither the starter nor the planner may approve.
func (r Rules) MayApproveOf(id Identity, g Gate, fourEyes bool, startedBy, plannedBy string) Decision {
	need := g.Role
	if need == NoRole {
		need = Approver
	}
	named := len(g.Approvers) > 0 && MatchesAny(g.Approvers, id)
	have, why := r.RoleOf(id)
	// Where no roles are declared, the plan's own approvers for a gate may approve it: the plan
	// was reviewed, and nothing else says who approves.
	if have < need && !(named && !r.declared() && need <= Approver && (id.Ceiling == NoRole || id.Ceiling >= need)) {
		return Deny(RuleRole, fmt.Sprintf("%s may not approve %s in %s: that needs the %s role, and %s", orAnon(id), g.Name, r.env(), need, why))
	}
	if len(g.Approvers) > 0 && !named {
		return Deny(RuleApprovers, fmt.Sprintf("%s is not an approver of %s (approvers: %s)", id.Name, g.Name, strings.Join(g.Approvers, ", ")))
	}
	if fourEyes && startedBy != "" && same(startedBy, id.Name) {
		return Deny(RuleFourEyes, fmt.Sprintf("%s started this rollout and may not approve %s (four-eyes: policy.fourEyes; another approver must)", id.Name, g.Name))
	}
	if fourEyes && plannedBy != "" && (same(plannedBy, id.Name) || id.Email != "" && same(plannedBy, id.Email)) {
		return Deny(RuleFourEyes, fmt.Sprintf("%s made this rollout's plan and may not approve %s (four-eyes: policy.fourEyes; another approver must)", plannedBy, g.Name))
	}
	return Allow(RuleRole, why)
}

// GroupsOf names the quorum groups id belongs to: recorded with an approval, so that the quorum
// is counted from what was true when it was given.
func (r Rules) GroupsOf(id Identity) []string {
	var out []string
	for _, g := range r.Quorum {
		if MatchesAny(g.From, id) {
			out = append(out, g.Name)
		}
	}
	return out
}

// Required is the number of distinct approvals a gate asking for count needs under the rules:
// never fewer than the quorum groups' counts together.
func (r Rules) Required(count int) int {
	sum := 0
	for _, g := range r.Quorum {
		sum += max(g.Count, 1)
	}
	return max(count, sum, 1)
}

// Check says what is wrong with the rules as written, each problem naming its field.
func (r Rules) Check() []string {
	var errs []string
	principals := func(field string, ps []string) {
		for i, p := range ps {
			if why := ValidPrincipal(p); why != "" {
				errs = append(errs, fmt.Sprintf("%s[%d]: %q %s", field, i, p, why))
			}
		}
	}
	for _, role := range []Role{Viewer, Deployer, Approver, Admin} {
		principals("roles."+role.String(), r.Roles[role])
	}
	principals("approvers", r.Approvers)
	seen := map[string]bool{}
	for i, g := range r.Quorum {
		f := fmt.Sprintf("quorum[%d]", i)
		if g.Name == "" {
			errs = append(errs, f+".name: missing")
		} else if seen[g.Name] {
			errs = append(errs, fmt.Sprintf("%s.name: %q is named twice", f, g.Name))
		}
		seen[g.Name] = true
		if len(g.From) == 0 {
			errs = append(errs, f+".from: missing: who belongs to the group")
		}
		principals(f+".from", g.From)
		if g.Count < 0 {
			errs = append(errs, f+".count: must not be negative")
		}
	}
	if r.ApprovalExpiry < 0 {
		errs = append(errs, "approvalExpiry: must not be negative")
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range r.CheckpointRoles {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range names {
		if r.CheckpointRoles[k] < Viewer {
			errs = append(errs, fmt.Sprintf("checkpointRoles.%s: want one of %s", k, strings.Join(RoleNames, ", ")))
		}
	}
	return errs
}
