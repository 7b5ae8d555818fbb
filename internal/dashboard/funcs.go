package dashboard

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
)

var funcs = template.FuncMap{
	"ago": func(now, t time.Time) string {
		if t.IsZero() {
			return ""
		}
		d := now.Sub(t).Round(time.Second)
		switch {
		case d < time.Second:
			return "just now"
		case d < time.Minute:
			return fmt.Sprintf("%ds ago", int(d.Seconds()))
		case d < time.Hour:
			return fmt.Sprintf("%dm ago", int(d.Minutes()))
		case d < 48*time.Hour:
			return fmt.Sprintf("%dh ago", int(d.Hours()))
		}
		return t.Format("2006-01-02")
	},
	"clock": func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") },
	"phase": func(p string) string { return "phase-" + strings.ToLower(p) },
	"lower": strings.ToLower,
	"join":  strings.Join,
	"weights": func(r api.Rollout) []weight {
		var out []weight
		for v, w := range r.Weights {
			out = append(out, weight{Version: v, Weight: w, Candidate: v == r.Version})
		}
		sort.Slice(out, func(i, j int) bool {
			return out[i].Candidate && !out[j].Candidate || out[i].Version < out[j].Version && out[i].Candidate == out[j].Candidate
		})
		return out
	},
	"payload": func(raw json.RawMessage) string {
		if len(raw) == 0 {
			return ""
		}
		s := string(raw)
		if len(s) > 300 {
			s = s[:300] + "…"
		}
		return s
	},
	"pct": func(f float64) string { return fmt.Sprintf("%.1f", f) },
}

type weight struct {
	Version   string
	Weight    int
	Candidate bool
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
