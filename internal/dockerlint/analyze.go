package dockerlint

import (
	"cmp"
	"slices"
)

// Finding is one rule firing at one line.
type Finding struct {
	File     string   `json:"file"`
	Line     int      `json:"line"`
	RuleID   string   `json:"rule"`
	Severity Severity `json:"severity"`
	Group    Group    `json:"group,omitempty"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix"`
}

// Options say which rules run and how their findings are rated.
type Options struct {
	// Groups selects rule groups; empty means all. HG000 always runs.
	Groups []Group
	// Config ignores and re-rates rules (.hugai-docker.yaml); nil changes nothing.
	Config *Config
}

// Analyze runs the selected rules over a parsed Dockerfile and returns the findings by line,
// then rule ID, less those ignored by the config or an inline `# hugai-ignore=ID`.
func Analyze(f *File, opts Options) []Finding {
	var out []Finding
	for _, r := range Rules() {
		if r.Group != "" && len(opts.Groups) > 0 && !slices.Contains(opts.Groups, r.Group) {
			continue
		}
		if opts.Config != nil && opts.Config.ignored(r.ID) {
			continue
		}
		sev := r.Severity
		if opts.Config != nil {
			if s, ok := opts.Config.Severity[r.ID]; ok {
				sev = s
			}
		}
		r.check(f, func(line int, msg string) {
			if slices.Contains(f.ignoredAt(line), r.ID) {
				return
			}
			out = append(out, Finding{File: f.Name, Line: line, RuleID: r.ID, Severity: sev, Group: r.Group, Message: msg, Fix: r.Fix})
		})
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.RuleID, b.RuleID))
	})
	return out
}

// AtOrAbove counts the findings at threshold or worse; a threshold of None counts none, so
// `--fail-on none` never fails.
func AtOrAbove(fs []Finding, threshold Severity) int {
	if threshold == None {
		return 0
	}
	n := 0
	for _, f := range fs {
		if f.Severity >= threshold {
			n++
		}
	}
	return n
}
