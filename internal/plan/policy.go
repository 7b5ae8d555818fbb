package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hugai-dev/hugai/internal/policy"
)

// Rules compiles the environment's policy into the rules the engine and the state machine decide
// by. The policy has been validated: an unknown role name here is a bug, reported as an error.
func (p Policy) Rules(env string) (policy.Rules, error) {
	r := policy.Rules{Environment: env, Approvers: slices.Clone(p.Approvers)}
	if p.Roles != nil {
		r.Roles = map[policy.Role][]string{}
		for role, ps := range map[policy.Role][]string{policy.Viewer: p.Roles.Viewer, policy.Deployer: p.Roles.Deployer,
			policy.Approver: p.Roles.Approver, policy.Admin: p.Roles.Admin} {
			if len(ps) > 0 {
				r.Roles[role] = slices.Clone(ps)
			}
		}
	}
	for _, g := range p.Quorum {
		r.Quorum = append(r.Quorum, policy.Group{Name: g.Name, From: slices.Clone(g.From), Count: max(g.Count, 1)})
	}
	if p.ApprovalExpiry != nil {
		r.ApprovalExpiry = p.ApprovalExpiry.Duration
	}
	for _, name := range sortedKeys(p.CheckpointRoles) {
		role, err := policy.ParseRole(p.CheckpointRoles[name])
		if err != nil {
			return policy.Rules{}, fmt.Errorf("environment %s: policy.checkpointRoles.%s: %w", env, name, err)
		}
		if r.CheckpointRoles == nil {
			r.CheckpointRoles = map[string]policy.Role{}
		}
		r.CheckpointRoles[name] = role
	}
	return r, nil
}

// FourEyesOn is whether four-eyes holds in the environment, and why, for the plan and the audit:
// on by default wherever the environment names approvers, policy.fourEyes deciding when set.
func (p Policy) FourEyesOn(env string) (bool, string) {
	r, _ := p.Rules(env)
	switch {
	case p.FourEyes != nil && *p.FourEyes:
		return true, "policy.fourEyes is true: whoever started a rollout may not approve it"
	case p.FourEyes != nil:
		return false, "policy.fourEyes is false: whoever started a rollout may approve it too"
	case r.NamesApprovers():
		return true, "on by default, as the environment names approvers: whoever started a rollout may not approve it"
	}
	return false, "off: the environment names no approvers (set policy.fourEyes: true to turn it on)"
}

// governance checks policy's roles, quorum and checkpoint roles (policy() checks the rest).
func (c *checker) governance(p string, pol *Policy) {
	principals := func(field string, ps []string) {
		for i, v := range ps {
			if why := policy.ValidPrincipal(v); why != "" {
				c.errorf(fmt.Sprintf("%s[%d]", field, i), "%q %s", v, why)
			}
		}
	}
	if r := pol.Roles; r != nil {
		principals(p+".roles.viewer", r.Viewer)
		principals(p+".roles.deployer", r.Deployer)
		principals(p+".roles.approver", r.Approver)
		principals(p+".roles.admin", r.Admin)
	}
	principals(p+".approvers", pol.Approvers)
	seen := map[string]bool{}
	for i, g := range pol.Quorum {
		gp := fmt.Sprintf("%s.quorum[%d]", p, i)
		switch {
		case g.Name == "":
			c.errorf(gp+".name", "missing: the group's name, as refusals and the live view say it")
		case seen[g.Name]:
			c.errorf(gp+".name", "%q is named twice", g.Name)
		}
		seen[g.Name] = true
		if len(g.From) == 0 {
			c.errorf(gp+".from", "missing: who belongs to the group")
		}
		principals(gp+".from", g.From)
		if g.Count < 0 {
			c.errorf(gp+".count", "must not be negative")
		}
	}
	c.positive(p+".approvalExpiry", pol.ApprovalExpiry)
	for _, name := range sortedKeys(pol.CheckpointRoles) {
		if _, err := policy.ParseRole(pol.CheckpointRoles[name]); err != nil {
			c.errorf(p+".checkpointRoles."+name, "%v", err)
		}
	}
	if pol.FourEyes != nil && *pol.FourEyes && pol.Roles == nil && len(pol.Approvers) == 1 && len(pol.Quorum) == 0 {
		c.warnf(p+".fourEyes", "one approver (%s) and four-eyes: a rollout %s starts can be approved by no one", strings.Join(pol.Approvers, ""), pol.Approvers[0])
	}
}
