package metric

import (
	"bytes"
	"fmt"
	"strconv"
	"text/template"
	"time"
)

// Vars are what a metric's query (prometheus) or URL (web) template may use, e.g.
// `sum(rate(http_requests_total{version="{{.Version}}"}[{{.Window}}]))`.
type Vars struct {
	Service     string
	Version     string
	Environment string
	Window      string // the window's length as a PromQL duration: 30s, 1500ms
	From, To    Time   // the window's bounds; {{.From}} is RFC 3339, {{.From.Unix}} seconds
}

// Time prints as RFC 3339 in UTC, so that {{.From}} is usable in a URL or a query as it stands;
// the methods of time.Time (Unix, UnixMilli, Format) stay at hand.
type Time struct{ time.Time }

func (t Time) String() string { return t.UTC().Format(time.RFC3339) }

// VarsOf are the template variables of q.
func VarsOf(q Query) Vars {
	return Vars{Service: q.Service, Version: q.Version, Environment: q.Environment,
		Window: PromDuration(q.To.Sub(q.From)), From: Time{q.From}, To: Time{q.To}}
}

// PromDuration writes d as a PromQL duration: whole seconds when it has no fraction of one
// (30s, 90s: every Prometheus reads a single unit), else milliseconds. Zero or less is 0s.
func PromDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	ms := int64(d / time.Millisecond)
	if ms == 0 {
		ms = 1 // PromQL has nothing finer; never round a window to nothing
	}
	return strconv.FormatInt(ms, 10) + "ms"
}

// Template is a parsed query or URL template.
type Template struct {
	t        *template.Template
	windowed bool
}

// ParseTemplate parses text. A field Vars does not have ({{.Verison}}) is an error here, not a
// query that fails in every window of a rollout.
func ParseTemplate(name, text string) (*Template, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	tt := &Template{t: t}
	// Two windows that differ in every bound: a template that reads the same for both does not
	// depend on the window. Executing also catches unknown fields, which Parse cannot.
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, err := tt.Execute(Query{Service: "s", Version: "v", Environment: "e", From: at, To: at.Add(time.Minute)})
	if err != nil {
		return nil, err
	}
	b, err := tt.Execute(Query{Service: "s", Version: "v", Environment: "e", From: at.Add(time.Hour), To: at.Add(time.Hour + 2*time.Minute)})
	if err != nil {
		return nil, err
	}
	tt.windowed = a != b
	return tt, nil
}

// Windowed says whether the template reads the window ({{.Window}}, {{.From}} or {{.To}}).
func (t *Template) Windowed() bool { return t.windowed }

// Execute fills the template in for q.
func (t *Template) Execute(q Query) (string, error) {
	var b bytes.Buffer
	if err := t.t.Execute(&b, VarsOf(q)); err != nil {
		return "", fmt.Errorf("template %s: %w", t.t.Name(), err)
	}
	return b.String(), nil
}
