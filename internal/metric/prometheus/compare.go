package prometheus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/metric"
	"github.com/hugai-dev/hugai/internal/plan"
)

// maxChunk is how many points one range query asks for: Prometheus refuses more than 11,000.
const maxChunk = 10_000

// Comparer reads both versions' requests and errors from Prometheus, step by step: the sequential
// analysis' input where no hugai proxy counts them (the kubernetes target, hugai as Argo Rollouts'
// judge). Each query is one version's running total of requests (or errors), e.g.
// sum(http_requests_total{version="{{.Version}}"}), run as a range query whose points are Step
// apart; a step's count is the difference between its point and the one before. That is exact:
// increase(x[step]) at step-aligned points misses what happens between one window's last sample
// and the next one's first and extrapolates the rest, which doubles or drops single errors (at
// two samples a window, every increment is either lost or counted twice), and the test's
// likelihood assumes each request counted once. It has no latency: the latency test needs
// per-request histograms of both versions, which a count does not give.
type Comparer struct {
	requests, errors compiled
	step             time.Duration
	p                *Provider // client, timeout, getenv
}

var _ metric.Comparer = (*Comparer)(nil)

// NewComparer checks both metrics (address, and a template that does not read the window: a
// running total is read at each point, not over a window) and the step (whole seconds).
func NewComparer(requests, errs Metric, step time.Duration, o Options) (*Comparer, error) {
	if step < time.Second || step%time.Second != 0 {
		return nil, fmt.Errorf("prometheus comparison: step %s: want whole seconds, at least 1s", step)
	}
	if requests.Name == errs.Name {
		return nil, fmt.Errorf("prometheus comparison: requests and errors are both %q", requests.Name)
	}
	p, err := New([]Metric{requests, errs}, o)
	if err != nil {
		return nil, fmt.Errorf("prometheus comparison: %w", err)
	}
	c := &Comparer{requests: p.metrics[requests.Name], errors: p.metrics[errs.Name], step: step, p: p}
	for _, m := range []Metric{requests, errs} {
		if p.metrics[m.Name].query.Windowed() {
			return nil, fmt.Errorf("prometheus comparison: metric %s reads the window: want a running total, e.g. sum(http_requests_total{version=\"{{.Version}}\"}); hugai takes the differences", m.Name)
		}
	}
	return c, nil
}

// ComparerOf is the comparer analysis.compare of a service file describes (plan.Env.Compare).
func ComparerOf(q *plan.CompareQueries, o Options) (*Comparer, error) {
	metricOf := func(m plan.Metric) Metric {
		return Metric{Name: m.Name, Address: m.Address, Query: m.Query, Headers: m.Headers}
	}
	return NewComparer(metricOf(q.Requests), metricOf(q.Errors), q.Step, o)
}

// Step is the length each point counts.
func (c *Comparer) Step() time.Duration { return c.step }

// Compare returns the windows of Steps with their times dropped.
func (c *Comparer) Compare(ctx context.Context, cmp metric.Comparison) ([]analysis.Window, []analysis.LatencyWindow, error) {
	steps, err := c.Steps(ctx, cmp)
	if err != nil {
		return nil, nil, err
	}
	ws := make([]analysis.Window, len(steps))
	for i, s := range steps {
		ws[i] = s.Window
	}
	return ws, nil, nil
}

// Steps reads the points t that are multiples of the step with From < t ≤ To, each counting
// (t − step, t]: successive calls over adjacent spans read each step once. A step enters only when
// all four series (both versions' requests and errors) have a value at t and at t − step, none of
// them fell (a pod gone from a sum, a counter reset: that step is unknown, never negative), and
// either version served a request: a missing or NaN value is no data, never a zero. A version's
// errors are capped at its requests (the two series are scraped a moment apart). A query that
// fails is an error: the caller makes it an Error measurement.
func (c *Comparer) Steps(ctx context.Context, cmp metric.Comparison) ([]metric.Step, error) {
	if cmp.Candidate == "" || cmp.Baseline == "" {
		return nil, errors.New("prometheus comparison: two versions are needed")
	}
	first, last := c.points(cmp.From, cmp.To)
	if last.Before(first) {
		return nil, nil
	}
	var out []metric.Step
	for from := first; !from.After(last); from = from.Add(maxChunk * c.step) {
		to := from.Add((maxChunk - 1) * c.step)
		if to.After(last) {
			to = last
		}
		var series [4]map[int64]float64
		for i, q := range []struct {
			m       compiled
			version string
		}{{c.requests, cmp.Candidate}, {c.errors, cmp.Candidate}, {c.requests, cmp.Baseline}, {c.errors, cmp.Baseline}} {
			// From one step before: the first point's count is its difference with that one.
			s, err := c.rangeQuery(ctx, q.m, metric.Query{Service: cmp.Service, Version: q.version, Environment: cmp.Environment, From: from.Add(-c.step), To: from}, from.Add(-c.step), to)
			if err != nil {
				return nil, err
			}
			series[i] = s
		}
		for t := from; !t.After(to); t = t.Add(c.step) {
			if w, ok := pair(t.Add(-c.step).UnixMilli(), t.UnixMilli(), series); ok {
				out = append(out, metric.Step{End: t, Window: w})
			}
		}
	}
	return out, nil
}

// points are the first and last multiples of the step in (from, to]. Aligning to multiples of
// the step (not to from) makes every caller read the same points, whatever span it asks for.
func (c *Comparer) points(from, to time.Time) (first, last time.Time) {
	return from.Truncate(c.step).Add(c.step), to.Truncate(c.step)
}

// pair builds the window (prev, t] (Unix ms) from the four running totals, or says there is no
// data.
func pair(prev, t int64, s [4]map[int64]float64) (analysis.Window, bool) {
	var v [4]int64
	for i := range s {
		a, okA := s[i][prev]
		b, okB := s[i][t]
		d := b - a
		if !okA || !okB || math.IsNaN(d) || math.IsInf(d, 0) || d < 0 {
			return analysis.Window{}, false
		}
		v[i] = int64(math.Round(d))
	}
	w := analysis.Window{
		Canary:   analysis.Counts{Requests: v[0], Events: min(v[1], v[0])},
		Baseline: analysis.Counts{Requests: v[2], Events: min(v[3], v[2])},
	}
	return w, w.Canary.Requests+w.Baseline.Requests > 0
}

// rangeQuery runs m's template, filled for q, over [from, to].
func (c *Comparer) rangeQuery(ctx context.Context, m compiled, q metric.Query, from, to time.Time) (map[int64]float64, error) {
	expr, err := m.query.Execute(q)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.p.timeout)
	defer cancel()
	form := url.Values{"query": {expr}, "timeout": {metric.PromDuration(c.p.timeout)},
		"start": {unix(from)}, "end": {unix(to)}, "step": {metric.PromDuration(c.step)}}
	req, err := formRequest(ctx, m.base.JoinPath("/api/v1/query_range").String(), form)
	if err != nil {
		return nil, err
	}
	status, body, err := metric.Fetch(ctx, c.p.client, req, m.headers, c.p.getenv, c.p.timeout)
	if err == nil {
		var s map[int64]float64
		if s, err = DecodeSeries(status, body); err == nil {
			return s, nil
		}
	}
	return nil, fmt.Errorf("prometheus query %q: %w", expr, err)
}

// DecodeSeries reads an answer of /api/v1/query_range to its points, by Unix milliseconds: none
// when the result is empty, an error when the answer is an error, is not JSON, is not a matrix or
// holds several series (a query must aggregate: summing them here would hide which it meant).
// NaN points are kept as NaN; the caller treats them as no data.
func DecodeSeries(status int, body []byte) (map[int64]float64, error) {
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		if status/100 != 2 {
			return nil, fmt.Errorf("HTTP %d: %s", status, metric.Snippet(body))
		}
		return nil, fmt.Errorf("bad JSON: %v", err)
	}
	if a.Status != "success" || status/100 != 2 {
		if a.Error == "" {
			return nil, fmt.Errorf("HTTP %d, status %q", status, a.Status)
		}
		return nil, fmt.Errorf("HTTP %d: %s: %s", status, a.ErrorType, a.Error)
	}
	if a.Data.ResultType != "matrix" {
		return nil, fmt.Errorf("result type %q, want matrix", a.Data.ResultType)
	}
	var series []struct {
		Values []sample `json:"values"`
	}
	if err := json.Unmarshal(a.Data.Result, &series); err != nil {
		return nil, fmt.Errorf("bad matrix: %v", err)
	}
	out := map[int64]float64{}
	switch len(series) {
	case 0:
		return out, nil
	case 1:
	default:
		return nil, fmt.Errorf("%d series, want one: aggregate them (sum)", len(series))
	}
	for _, s := range series[0].Values {
		t, err := s.time()
		if err != nil {
			return nil, err
		}
		v, err := s.value()
		if err != nil {
			return nil, err
		}
		out[t] = v
	}
	return out, nil
}

// time is the sample's timestamp in Unix milliseconds (Prometheus writes seconds with up to
// three decimals).
func (s sample) time() (int64, error) {
	if len(s) != 2 {
		b, _ := json.Marshal(s)
		return 0, fmt.Errorf("bad sample %s", metric.Snippet(b))
	}
	var f float64
	if err := json.Unmarshal(s[0], &f); err != nil || math.IsNaN(f) || math.Abs(f) > 1e13 {
		return 0, fmt.Errorf("bad sample time %s", metric.Snippet(s[0]))
	}
	return int64(math.Round(f * 1000)), nil
}
