package policy

import (
	"fmt"
	"strings"
)

// Role is what an identity may do in an environment. Roles are ordered: each holds the rights of
// the ones below it.
type Role int

const (
	// NoRole may do nothing, not even look.
	NoRole Role = iota
	// Viewer may read rollouts, plans and the audit log.
	Viewer
	// Deployer may also start, promote, resume, abort and roll back rollouts.
	Deployer
	// Approver may also approve or reject gates and sign off checkpoints.
	Approver
	// Admin may also override a freeze window and manage tokens.
	Admin
)

// RoleNames are the roles as hugai.yaml and the CLI write them, lowest first.
var RoleNames = []string{"viewer", "deployer", "approver", "admin"}

func (r Role) String() string {
	if r <= NoRole || int(r) > len(RoleNames) {
		return "none"
	}
	return RoleNames[r-1]
}

// ParseRole reads a role name; anything else is an error listing the known ones.
func ParseRole(s string) (Role, error) {
	for i, n := range RoleNames {
		if strings.EqualFold(s, n) {
			return Role(i + 1), nil
		}
	}
	return NoRole, fmt.Errorf("role %q is unknown (known: %s)", s, strings.Join(RoleNames, ", "))
}

// MarshalText writes the role's name, so that frozen specs and JSON answers read as words.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a role's name ("none" too: a stored NoRole reads back).
func (r *Role) UnmarshalText(b []byte) error {
	if string(b) == "none" || len(b) == 0 {
		*r = NoRole
		return nil
	}
	v, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}
