package dockerlint

import (
	"fmt"
	"io"
)

// Report is what `hugai analyze docker` prints as JSON or YAML.
type Report struct {
	Files    []string       `json:"files"`
	Findings []Finding      `json:"findings"`
	Summary  map[string]int `json:"summary"` // findings per severity name
}

// NewReport gathers the findings of several files.
func NewReport(files []string, fs []Finding) Report {
	sum := map[string]int{"error": 0, "warning": 0, "info": 0, "style": 0}
	for _, f := range fs {
		sum[f.Severity.String()]++
	}
	if fs == nil {
		fs = []Finding{}
	}
	return Report{Files: files, Findings: fs, Summary: sum}
}

// WriteText writes one line per finding, `file:line: ID severity: message`, and its fix.
func WriteText(w io.Writer, r Report) error {
	for _, f := range r.Findings {
		if _, err := fmt.Fprintf(w, "%s:%d: %s %s: %s\n    fix: %s\n", f.File, f.Line, f.RuleID, f.Severity, f.Message, f.Fix); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%d file(s): %d error, %d warning, %d info, %d style\n", len(r.Files),
		r.Summary["error"], r.Summary["warning"], r.Summary["info"], r.Summary["style"])
	return err
}
