package analysis

import (
	"fmt"
	"strings"
)

// Limits decide when a run of windows ends the analysis, with Argo Rollouts' meanings.
type Limits struct {
	// FailureLimit is how many failed windows are tolerated: one more fails the analysis. 0 (the
	// default) fails it at the first failed window; negative never does.
	FailureLimit int `json:"failureLimit"`
	// ConsecutiveErrorLimit is how many windows in a row whose query failed are tolerated: one more
	// fails the analysis. Negative never does.
	ConsecutiveErrorLimit int `json:"consecutiveErrorLimit"`
	// InconclusiveLimit is how many inconclusive windows in a row make the verdict Inconclusive, so
	// that a person decides. 0 (or negative) never does.
	InconclusiveLimit int `json:"inconclusiveLimit"`
}

// The defaults, as in Argo Rollouts and hugai.yaml.
const (
	DefaultFailureLimit          = 0
	DefaultConsecutiveErrorLimit = 4
	DefaultInconclusiveLimit     = 3
)

// DefaultLimits returns the limits an analysis has when its template sets none.
func DefaultLimits() Limits {
	return Limits{
		FailureLimit:          DefaultFailureLimit,
		ConsecutiveErrorLimit: DefaultConsecutiveErrorLimit,
		InconclusiveLimit:     DefaultInconclusiveLimit,
	}
}

// LimitsFrom applies a template's optional limits (nil: not set) over the defaults.
func LimitsFrom(failure, consecutiveError, inconclusive *int) Limits {
	l := DefaultLimits()
	if failure != nil {
		l.FailureLimit = *failure
	}
	if consecutiveError != nil {
		l.ConsecutiveErrorLimit = *consecutiveError
	}
	if inconclusive != nil {
		l.InconclusiveLimit = *inconclusive
	}
	return l
}

// Tally counts an analysis' windows by phase. It is all the analysis remembers between windows,
// and is persisted inside the rollout's state.
type Tally struct {
	Windows      int `json:"windows"`
	Successful   int `json:"successful"`
	Failed       int `json:"failed"`
	Inconclusive int `json:"inconclusive"`
	Errors       int `json:"errors"`
	// Pending counts the looks that decided nothing yet (too few requests so far); they neither
	// count toward a limit nor end a run.
	Pending int `json:"pending,omitempty"`
	// The current runs of errored and of inconclusive windows; any window of another phase ends a
	// run.
	ConsecutiveErrors       int `json:"consecutiveErrors"`
	ConsecutiveInconclusive int `json:"consecutiveInconclusive"`
}

// WindowPhase is the phase of one window from its measurements: Failed if any failed, else Error
// if any errored, else Inconclusive if any was inconclusive, else Successful. A window with no
// measurements is Inconclusive: nothing was shown to pass.
func WindowPhase(ms []Measurement) Phase {
	if len(ms) == 0 {
		return Inconclusive
	}
	var failed, errored, inconclusive, pending bool
	for _, m := range ms {
		switch m.Phase {
		case Failed:
			failed = true
		case Error:
			errored = true
		case Successful:
		case Pending:
			pending = true
		default: // Inconclusive, or anything unknown: not a pass
			inconclusive = true
		}
	}
	switch {
	case failed:
		return Failed
	case errored:
		return Error
	case inconclusive:
		return Inconclusive
	case pending:
		return Pending
	}
	return Successful
}

// Add counts one more window, judged by ms.
func (t Tally) Add(ms []Measurement) Tally {
	t.Windows++
	switch WindowPhase(ms) {
	case Successful:
		t.Successful++
		t.ConsecutiveErrors, t.ConsecutiveInconclusive = 0, 0
	case Failed:
		t.Failed++
		t.ConsecutiveErrors, t.ConsecutiveInconclusive = 0, 0
	case Error:
		t.Errors++
		t.ConsecutiveErrors++
		t.ConsecutiveInconclusive = 0
	case Pending:
		t.Pending++
	default:
		t.Inconclusive++
		t.ConsecutiveInconclusive++
		t.ConsecutiveErrors = 0
	}
	return t
}

// Verdict is where an analysis stands: Running, Successful, Failed or Inconclusive, and why.
type Verdict struct {
	Phase  Phase  `json:"phase"`
	Reason string `json:"reason"`
}

// Verdict returns Failed or Inconclusive once a limit is reached, else Running. It never returns
// Successful: only the caller knows when the analysis has run its course (its count of windows,
// or the end of its step), and then asks Complete.
func (t Tally) Verdict(l Limits) Verdict {
	switch {
	case l.FailureLimit >= 0 && t.Failed > l.FailureLimit:
		return Verdict{Failed, fmt.Sprintf("%s > failureLimit %d", count(t.Failed, "failed window"), l.FailureLimit)}
	case l.ConsecutiveErrorLimit >= 0 && t.ConsecutiveErrors > l.ConsecutiveErrorLimit:
		return Verdict{Failed, fmt.Sprintf("%s in a row > consecutiveErrorLimit %d", count(t.ConsecutiveErrors, "errored window"), l.ConsecutiveErrorLimit)}
	case l.InconclusiveLimit > 0 && t.ConsecutiveInconclusive >= l.InconclusiveLimit:
		return Verdict{Inconclusive, fmt.Sprintf("%s in a row reached inconclusiveLimit %d", count(t.ConsecutiveInconclusive, "inconclusive window"), l.InconclusiveLimit)}
	}
	return Verdict{Running, t.String()}
}

// Complete is the verdict of an analysis that has run its course: Failed or Inconclusive as
// Verdict says, else Successful if at least one window passed, and Inconclusive if none did (no
// data is never a pass).
func (t Tally) Complete(l Limits) Verdict {
	v := t.Verdict(l)
	if v.Phase != Running {
		return v
	}
	if t.Successful == 0 {
		return Verdict{Inconclusive, "no window passed: " + t.String()}
	}
	return Verdict{Successful, t.String()}
}

// String summarises the tally for people: "5 windows: 4 successful, 1 inconclusive".
func (t Tally) String() string {
	var parts []string
	for _, p := range []struct {
		n    int
		name string
	}{{t.Successful, "successful"}, {t.Failed, "failed"}, {t.Inconclusive, "inconclusive"}, {t.Errors, "errored"}, {t.Pending, "pending"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.name))
		}
	}
	s := count(t.Windows, "window")
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	return s
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
