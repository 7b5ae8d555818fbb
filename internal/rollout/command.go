package rollout

// CommandKind is what a person asks of a running rollout. The engine, the API and the CLI all use
// these constants, so a misspelt kind is a compile error rather than an "unknown command" at run time.
type CommandKind string

const (
	CommandApprove  CommandKind = "approve"
	CommandReject   CommandKind = "reject"
	CommandPromote  CommandKind = "promote"
	CommandAbort    CommandKind = "abort"
	CommandResume   CommandKind = "resume"
	CommandRollback CommandKind = "rollback"
)

// CommandKinds lists every kind, in the order the CLI documents them.
func CommandKinds() []CommandKind {
	return []CommandKind{CommandApprove, CommandReject, CommandPromote, CommandAbort, CommandResume, CommandRollback}
}

// Known reports whether k is one of CommandKinds.
func (k CommandKind) Known() bool {
	for _, c := range CommandKinds() {
		if c == k {
			return true
		}
	}
	return false
}

// Phases lists every phase a rollout can be in.
func Phases() []Phase {
	return []Phase{Pending, AwaitingApproval, Progressing, Paused, Promoting, Verifying, Succeeded, RollingBack, RolledBack, Aborted, Failed}
}

// TerminalPhases lists the phases Phase.Terminal accepts, for code that cannot call it (a store's
// query): one list, derived, so it cannot drift from Terminal.
func TerminalPhases() []Phase {
	var out []Phase
	for _, p := range Phases() {
		if p.Terminal() {
			out = append(out, p)
		}
	}
	return out
}

// Known reports whether p is one of Phases.
func (p Phase) Known() bool {
	for _, q := range Phases() {
		if q == p {
			return true
		}
	}
	return false
}
