package dockerlint

import (
	"fmt"
	"slices"
	"strings"
)

// The rules are written from public descriptions of Dockerfile good practice (Docker's own
// "Best practices for writing Dockerfiles", buildkit's build checks, and the public rule titles
// of linters such as hadolint, dockle and trivy's config checks). hadolint is GPL: none of its
// code is used or copied here, and the IDs, messages and logic are hugai's own.

// Severity ranks a finding; the order matters for --fail-on.
type Severity int

// Severities from the least to the most severe; None is only a --fail-on threshold.
const (
	None Severity = iota
	Style
	Info
	Warning
	Error
)

var severityNames = map[Severity]string{None: "none", Style: "style", Info: "info", Warning: "warning", Error: "error"}

func (s Severity) String() string { return severityNames[s] }

// MarshalText writes the severity's name, so JSON and YAML carry "warning", not 3.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ParseSeverity reads a severity name; "none" is accepted only when allowNone (a threshold).
func ParseSeverity(s string, allowNone bool) (Severity, error) {
	for sev, name := range severityNames {
		if strings.EqualFold(s, name) && (sev != None || allowNone) {
			return sev, nil
		}
	}
	want := "error, warning, info or style"
	if allowNone {
		want = "error, warning, info, style or none"
	}
	return None, fmt.Errorf("severity %q: want %s", s, want)
}

// Group is a family of rules a flag selects (--security-scan, --size-optimization,
// --optimize-layers, --best-practices).
type Group string

// The groups, each named by the flag that selects it.
const (
	Security     Group = "security"
	Size         Group = "size"
	Layers       Group = "layers"
	BestPractice Group = "best-practice"
)

// Groups lists every group, in the order the docs show them.
var Groups = []Group{Security, Size, Layers, BestPractice}

// Rule is one check: what it looks for, how bad it is by default, and how to fix what it finds.
type Rule struct {
	ID       string
	Group    Group
	Severity Severity
	Title    string
	// Description says what fires the rule and what does not, for docs/docker.md and SARIF help.
	Description string
	// Fix is the concrete change, printed with every finding.
	Fix   string
	check func(f *File, emit func(line int, msg string))
}

// invalidRule reports instructions buildkit reads but cannot type; it belongs to no group and
// always runs, since a build would fail on them.
var invalidRule = Rule{
	ID: "HG000", Severity: Error, Title: "Instruction buildkit refuses",
	Description: "An instruction with an unknown keyword, a bad flag or missing arguments: `docker build` fails on it.",
	Fix:         "Correct the instruction as the message says.",
	check: func(f *File, emit func(int, string)) {
		for _, in := range f.invalid {
			emit(in.line, in.err.Error())
		}
	},
}

// Rules returns every rule, HG000 first, then by ID.
func Rules() []Rule {
	rs := append([]Rule{invalidRule}, ruleTable()...)
	slices.SortFunc(rs, func(a, b Rule) int { return strings.Compare(a.ID, b.ID) })
	return rs
}

// RuleByID finds a rule.
func RuleByID(id string) (Rule, bool) {
	for _, r := range Rules() {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}
