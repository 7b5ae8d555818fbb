package policy

// The rules a decision is made by, named in every refusal so that a person knows what to change.
const (
	RuleRole      = "role"      // the identity's role is too low
	RuleApprovers = "approvers" // the gate names its approvers, and not this one
	RuleFourEyes  = "four-eyes" // the starter may not approve
	RuleFreeze    = "freeze"    // a freeze window is open
	RuleQuorum    = "quorum"    // not enough approvals, or not from every group
	RuleExpiry    = "expiry"    // an approval grew too old to count
)

// Decision is the policy's answer: allowed or not, by which rule, and why in words for people.
type Decision struct {
	Allowed bool   `json:"allowed"`
	Rule    string `json:"rule"`
	Reason  string `json:"reason"`
	// Override is set when the decision allows by overriding a rule (an admin's freeze
	// override): the caller must audit it.
	Override bool `json:"override,omitempty"`
}

// Allow and Deny build decisions.
func Allow(rule, reason string) Decision { return Decision{Allowed: true, Rule: rule, Reason: reason} }
func Deny(rule, reason string) Decision  { return Decision{Rule: rule, Reason: reason} }

// Err is nil when the decision allows, else a *Denied carrying it.
func (d Decision) Err() error {
	if d.Allowed {
		return nil
	}
	return &Denied{Rule: d.Rule, Reason: d.Reason}
}

// Denied is a refusal by the policy. Its message is the reason, prefixed with the rule.
type Denied struct {
	Rule   string
	Reason string
}

func (e *Denied) Error() string { return "denied (" + e.Rule + "): " + e.Reason }
