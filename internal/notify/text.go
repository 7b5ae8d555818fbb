package notify

import (
	"strings"
	"unicode/utf8"
)

// headline is a short title: "web production: Succeeded".
func headline(e Event) string {
	where := e.Service
	if e.Environment != "" {
		where += " " + e.Environment
	}
	if e.Phase == "" {
		return where
	}
	return where + ": " + e.Phase
}

// summary is one line with what happened: "web production: rollout r-1 of 1.2.0 RolledBack (error rate 3%)".
func summary(e Event) string {
	var b strings.Builder
	b.WriteString(e.Service)
	if e.Environment != "" {
		b.WriteString(" " + e.Environment)
	}
	b.WriteString(": rollout")
	if e.RolloutID != "" {
		b.WriteString(" " + e.RolloutID)
	}
	if e.Version != "" {
		b.WriteString(" of " + e.Version)
	}
	if e.Phase != "" {
		b.WriteString(" " + e.Phase)
	}
	if e.Reason != "" {
		b.WriteString(" (" + e.Reason + ")")
	}
	return oneLine(b.String())
}

// detail is the message, or the reason when there is no message.
func detail(e Event) string {
	if e.Message != "" {
		return e.Message
	}
	return e.Reason
}

// oneLine folds line breaks, which must not reach a header or a one-line summary.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// truncate cuts s to at most n characters (runes), marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
