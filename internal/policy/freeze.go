package policy

import (
	"fmt"
	"strings"
	"time"
)

// Freeze decides whether id may start a rollout at `at`, given the environment's freeze windows
// (judged in loc). Inside a window only an admin may, and only with a reason (override): the
// decision then allows with rule RuleFreeze, and the caller audits the override.
func (r Rules) Freeze(ws []Window, at time.Time, loc *time.Location, id Identity, override string) (Decision, error) {
	name, ok, err := ActiveWindow(ws, at, loc)
	if err != nil {
		return Decision{}, err
	}
	if !ok {
		if strings.TrimSpace(override) != "" {
			return Allow(RuleRole, "no freeze window is open: the override is not needed"), nil
		}
		return Allow(RuleRole, "no freeze window is open"), nil
	}
	if loc == nil {
		loc = time.UTC
	}
	where := fmt.Sprintf("%s is in the freeze window %q (%s)", r.env(), name, at.In(loc).Format("Mon 15:04 MST"))
	if strings.TrimSpace(override) == "" {
		return Deny(RuleFreeze, where+": nothing starts until it closes, unless an admin overrides it with a reason (--override-freeze REASON)"), nil
	}
	have, why := r.RoleOf(id)
	if have < Admin {
		return Deny(RuleFreeze, fmt.Sprintf("%s: only an admin may override it, and %s", where, why)), nil
	}
	d := Allow(RuleFreeze, fmt.Sprintf("%s; overridden by %s: %s", where, id.Name, override))
	d.Override = true
	return d, nil
}
