package metric

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestTemplate(t *testing.T) {
	from := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	q := Query{Service: "checkout", Version: "v2", Environment: "production", From: from, To: from.Add(90 * time.Second)}
	tests := []struct {
		text, want string
		windowed   bool
	}{
		{`sum(rate(x{version="{{.Version}}"}[{{.Window}}]))`, `sum(rate(x{version="v2"}[90s]))`, true},
		{`q{service="{{.Service}}",env="{{.Environment}}"}`, `q{service="checkout",env="production"}`, false},
		{`http://h/k?from={{.From}}&to={{.To.Unix}}`, `http://h/k?from=2026-12-01T12:00:00Z&to=1796126490`, true},
		{`http://h/k?v={{.Version | urlquery}}`, `http://h/k?v=v2`, false},
	}
	for _, tt := range tests {
		tp, err := ParseTemplate("m", tt.text)
		if err != nil {
			t.Fatalf("%s: %v", tt.text, err)
		}
		got, err := tp.Execute(q)
		if err != nil || got != tt.want || tp.Windowed() != tt.windowed {
			t.Errorf("%s = %q, %v (windowed %v), want %q (windowed %v)", tt.text, got, err, tp.Windowed(), tt.want, tt.windowed)
		}
	}
	for text, want := range map[string]string{
		`{{.Verison}}`:     "can't evaluate field Verison",
		`{{.Version`:       "unclosed action",
		`{{template "x"}}`: `template "x" not defined`,
	} {
		if _, err := ParseTemplate("m", text); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", text, err, want)
		}
	}
}

func TestPromDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Second: "30s", 90 * time.Second: "90s", 1500 * time.Millisecond: "1500ms",
		time.Microsecond: "1ms", 0: "0s", -time.Second: "0s", time.Hour: "3600s",
	} {
		if got := PromDuration(d); got != want {
			t.Errorf("PromDuration(%s) = %s, want %s", d, got, want)
		}
	}
}

// namesWindow matches a template text that may read the window: by name, or through the whole
// data (., $) or another template.
var namesWindow = regexp.MustCompile(`Window|From|To|\$|template|block|\.([^A-Za-z]|$)`)

// FuzzTemplate: whatever the text, ParseTemplate and Execute return errors rather than panic, a
// template runs the same way twice, and one whose text never names the window is not windowed
// (it would be run as a range query for nothing otherwise).
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{`rate(x[{{.Window}}])`, `{{.From.Unix}}`, `{{if .Version}}a{{end}}`, `{{.Nope}}`, `{{`, `{{range .Service}}{{end}}`, `{{.}}`, `{{printf "%v" .}}`} {
		f.Add(s, "v2")
	}
	f.Fuzz(func(t *testing.T, text, version string) {
		tp, err := ParseTemplate("f", text)
		if err != nil {
			return
		}
		if tp.Windowed() && !namesWindow.MatchString(text) {
			t.Errorf("%q is windowed but names no part of the window", text)
		}
		from := time.Unix(1764590400, 0)
		q := Query{Service: "s", Version: version, Environment: "e", From: from, To: from.Add(time.Minute)}
		a, errA := tp.Execute(q)
		b, errB := tp.Execute(q)
		if a != b || (errA == nil) != (errB == nil) {
			t.Errorf("%q ran twice: %q (%v), %q (%v)", text, a, errA, b, errB)
		}
	})
}
