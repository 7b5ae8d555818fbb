package release

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
)

// DefaultTemplate writes release notes the way release-please lays them out: a heading linking
// the comparison, then one section per group, each entry with its scope in bold, its references
// and its commit.
const DefaultTemplate = `## {{if .CompareURL}}[{{.Version}}]({{.CompareURL}}){{else}}{{.Version}}{{end}} ({{.Date}})
{{range .Sections}}
### {{.Title}}

{{range .Entries}}* {{if .Scope}}**{{.Scope}}:** {{end}}{{.Text}}{{range .Refs}} ({{if .URL}}[#{{.ID}}]({{.URL}}){{else}}#{{.ID}}{{end}}){{end}} ({{if .CommitURL}}[{{.ShortHash}}]({{.CommitURL}}){{else}}{{.ShortHash}}{{end}})
{{end}}{{end}}{{if .Contributors}}
### Contributors

{{range .Contributors}}* {{.Name}}{{if gt .Commits 1}} ({{.Commits}} commits){{end}}
{{end}}{{end}}`

// NotesData is what a notes template is given (docs/releases.md lists it).
type NotesData struct {
	Version      string        `json:"version"`
	Tag          string        `json:"tag"`
	PreviousTag  string        `json:"previousTag,omitempty"`
	Component    string        `json:"component,omitempty"`
	Date         string        `json:"date"` // YYYY-MM-DD, UTC
	Prerelease   bool          `json:"prerelease,omitempty"`
	CompareURL   string        `json:"compareURL,omitempty"`
	Sections     []Section     `json:"sections"`
	Contributors []Contributor `json:"contributors,omitempty"`
}

// The section titles, in the order notes list them.
const (
	SectionBreaking    = "⚠ BREAKING CHANGES"
	SectionFeatures    = "Features"
	SectionFixes       = "Bug Fixes"
	SectionPerformance = "Performance Improvements"
	SectionOther       = "Other Changes"
)

var sectionOrder = []string{SectionBreaking, SectionFeatures, SectionFixes, SectionPerformance, SectionOther}

// Section is one group of entries.
type Section struct {
	Title   string  `json:"title"`
	Entries []Entry `json:"entries"`
}

// Entry is one commit in the notes.
type Entry struct {
	Type      string `json:"type"`
	Scope     string `json:"scope,omitempty"`
	Text      string `json:"text"` // the description, or for a breaking change its note
	Hash      string `json:"hash"`
	ShortHash string `json:"shortHash"`
	CommitURL string `json:"commitURL,omitempty"`
	Refs      []Ref  `json:"refs,omitempty"`
	Author    string `json:"author"`
	Breaking  bool   `json:"breaking,omitempty"`
}

// Ref is an issue or pull request an entry names.
type Ref struct {
	ID  string `json:"id"`
	URL string `json:"url,omitempty"`
}

// Contributor is one author of the release's commits (Co-authored-by trailers count).
type Contributor struct {
	Name    string `json:"name"`
	Email   string `json:"email,omitempty"`
	Commits int    `json:"commits"`
}

// TemplateError is a notes template that does not parse or run: the user's mistake.
type TemplateError struct{ Err error }

func (e *TemplateError) Error() string { return "notes template: " + e.Err.Error() }
func (e *TemplateError) Unwrap() error { return e.Err }

// ParseTemplate checks a notes template ("" is DefaultTemplate).
func ParseTemplate(text string) (*template.Template, error) {
	if text == "" {
		text = DefaultTemplate
	}
	t, err := template.New("notes").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, &TemplateError{err}
	}
	return t, nil
}

// RenderNotes runs a notes template over data.
func RenderNotes(t *template.Template, data NotesData) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", &TemplateError{err}
	}
	return strings.TrimRight(b.String(), "\n") + "\n", nil
}

func sectionOf(e Entry) string {
	switch {
	case e.Breaking:
		return SectionBreaking
	case e.Type == "feat" || e.Type == "feature":
		return SectionFeatures
	case e.Type == "fix":
		return SectionFixes
	case e.Type == "perf":
		return SectionPerformance
	}
	return SectionOther
}

func shortHash(h string) string {
	if len(h) > 7 {
		return h[:7]
	}
	return h
}

func contributorKey(name, email string) string {
	if email != "" {
		return strings.ToLower(email)
	}
	return fmt.Sprintf("name:%s", name)
}
