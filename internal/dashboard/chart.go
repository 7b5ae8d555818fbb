package dashboard

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
)

// A chart is drawn on the server as SVG: a line per series over the rollout's time, so a person
// sees at a glance how the weight moved and how the error rate behaved at each weight.

const chartW, chartH = 600, 160

type chart struct {
	Title, Unit string
	W, H        int
	ViewBox     string // room for the axis labels left of 0 and the line's width
	Series      []series
	YMax        string // the top of the axis, for people
	From, To    string
	Empty       bool
}

type series struct {
	Name, Class string
	Points      string // SVG polyline points
	Dots        []dot  // the measured points themselves (a single look is a dot, not a line)
}

type dot struct{ X, Y string }

type point struct {
	t time.Time
	v float64
}

func (c *chart) draw(lines map[string][]point, names []string, from, to time.Time, ymax float64, dots bool, format func(float64) string) {
	c.W, c.H = chartW, chartH
	c.ViewBox = fmt.Sprintf("-45 -10 %d %d", chartW+55, chartH+20)
	if !to.After(from) || len(names) == 0 {
		c.Empty = true
		return
	}
	if ymax <= 0 {
		ymax = 1
	}
	span := to.Sub(from).Seconds()
	for i, name := range names {
		var b strings.Builder
		sr := series{Name: name, Class: fmt.Sprintf("s%d", i%4)}
		for _, p := range lines[name] {
			x := math.Max(0, math.Min(chartW, p.t.Sub(from).Seconds()/span*chartW))
			y := chartH - math.Min(p.v/ymax, 1)*chartH
			fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
			if dots {
				sr.Dots = append(sr.Dots, dot{fmt.Sprintf("%.1f", x), fmt.Sprintf("%.1f", y)})
			}
		}
		sr.Points = strings.TrimSpace(b.String())
		c.Series = append(c.Series, sr)
	}
	c.YMax = format(ymax)
	c.From, c.To = from.Format("15:04:05"), to.Format("15:04:05")
}

// weightChart is the candidate's share of traffic over the rollout, from its audit trail.
func weightChart(r api.Rollout, evs []audit.Event) chart {
	c := chart{Title: "Traffic to " + r.Version, Unit: "%"}
	from, to := r.CreatedAt, r.UpdatedAt
	if now := time.Now(); !r.Terminal && now.After(to) {
		to = now
	}
	if !to.After(from) {
		to = from.Add(time.Second) // a rollout just started: its first second
	}
	pts := []point{{from, 0}}
	w := 0.0
	for _, ev := range evs {
		if ev.Type != "rollout.weight" {
			continue
		}
		var p struct {
			Weight float64 `json:"weight"`
		}
		if json.Unmarshal(ev.Payload, &p) != nil {
			continue
		}
		pts = append(pts, point{ev.Time, w}, point{ev.Time, p.Weight}) // a step, not a slope
		w = p.Weight
	}
	if cur, ok := r.Weights[r.Version]; ok {
		if float64(cur) != w {
			pts = append(pts, point{to, w}, point{to, float64(cur)})
		}
		w = float64(cur)
	}
	pts = append(pts, point{to, w})
	c.draw(map[string][]point{r.Version: pts}, []string{r.Version}, from, to, 100, false, func(v float64) string { return fmt.Sprintf("%.0f%%", v) })
	return c
}

// errorChart is the error rate each look measured, per version.
func errorChart(ms []api.Measurement) chart {
	c := chart{Title: "Error rate per look", Unit: "%"}
	lines := map[string][]point{}
	var names []string
	var from, to time.Time
	ymax := 0.0
	for _, m := range ms {
		if m.Metric != "error_rate" || m.Phase == "Error" {
			continue
		}
		if _, ok := lines[m.Version]; !ok {
			names = append(names, m.Version)
		}
		lines[m.Version] = append(lines[m.Version], point{m.FinishedAt, m.Value})
		ymax = math.Max(ymax, m.Value)
		if from.IsZero() || m.StartedAt.Before(from) {
			from = m.StartedAt
		}
		if m.FinishedAt.After(to) {
			to = m.FinishedAt
		}
	}
	// Room above the highest look, on a round number.
	top := 1.0
	for top < ymax*1.2 {
		top *= 2
	}
	if !to.After(from) {
		to = from.Add(time.Second)
	}
	c.draw(lines, names, from, to, top, true, func(v float64) string { return fmt.Sprintf("%g%%", v) })
	return c
}
