// Package prometheus is the metric source that reads named metrics from a Prometheus server over
// its HTTP API: each metric a PromQL template filled in for the version and window judged.
package prometheus

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/metric"
)

// DefaultTimeout bounds one query: a Prometheus that does not answer within it is a failed
// measurement, and the judge moves on to the next window rather than hang a step.
const DefaultTimeout = 10 * time.Second

// maxPoints is how many points a range query asks for at most, whatever the window.
const maxPoints = 60

// Metric is one named metric: the Prometheus it is read from and its PromQL template.
type Metric struct {
	Name    string
	Address string            // base URL, e.g. http://127.0.0.1:9090 (a path prefix is kept)
	Query   string            // a text/template over metric.Vars
	Headers map[string]string // sent with each query; ${VAR} read from the environment then, never stored
}

// Options tune a Provider; the zero value is ready to use.
type Options struct {
	Timeout time.Duration       // per query; DefaultTimeout when 0
	Client  *http.Client        // a fresh client when nil
	Getenv  func(string) string // reads ${VAR} in headers; os.Getenv when nil
}

// Provider reads its metrics from Prometheus.
type Provider struct {
	metrics map[string]compiled
	client  *http.Client
	timeout time.Duration
	getenv  func(string) string
}

type compiled struct {
	base    *url.URL
	query   *metric.Template
	headers map[string]string
}

var _ metric.Provider = (*Provider)(nil)

// New checks each metric's address and template; a bad one is an error before anything runs.
func New(metrics []Metric, o Options) (*Provider, error) {
	p := &Provider{metrics: map[string]compiled{}, client: o.Client, timeout: o.Timeout, getenv: o.Getenv}
	if p.getenv == nil {
		p.getenv = os.Getenv
	}
	if p.client == nil {
		p.client = &http.Client{}
	}
	if p.timeout <= 0 {
		p.timeout = DefaultTimeout
	}
	for _, m := range metrics {
		u, err := url.Parse(m.Address)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("metric %s: address %q: want http(s)://host:port", m.Name, m.Address)
		}
		t, err := metric.ParseTemplate(m.Name, m.Query)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", m.Name, err)
		}
		p.metrics[m.Name] = compiled{base: u, query: t, headers: m.Headers}
	}
	return p, nil
}

// Query reads q.Metric for q.Version over [q.From, q.To).
//
// A query that reads the window ({{.Window}}, {{.From}}, {{.To}}) is already an aggregate over it,
// e.g. rate(x[{{.Window}}]): it is run once, as an instant query at the window's end. A query that
// does not (a gauge such as queue_depth{version="{{.Version}}"}) is run as a range query over the
// window and its points averaged, so that it is not judged on one instant. The result must be one
// series or a scalar. No series, or NaN, is no value (Samples 0); a Prometheus that cannot be
// reached, answers an error or nonsense, or takes longer than the timeout is a Value with Err.
func (p *Provider) Query(ctx context.Context, q metric.Query) (analysis.Value, error) {
	m, ok := p.metrics[q.Metric]
	if !ok {
		known := slices.Sorted(maps.Keys(p.metrics))
		return analysis.Value{}, fmt.Errorf("prometheus has no metric %q (known: %s)", q.Metric, strings.Join(known, ", "))
	}
	if !q.To.After(q.From) {
		return analysis.Value{}, fmt.Errorf("prometheus query: window %s..%s is empty", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	expr, err := m.query.Execute(q)
	if err != nil {
		return analysis.Value{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	form := url.Values{"query": {expr}, "timeout": {metric.PromDuration(p.timeout)}}
	path := "/api/v1/query"
	if m.query.Windowed() {
		form.Set("time", unix(q.To))
	} else {
		path = "/api/v1/query_range"
		step := max(time.Second, q.To.Sub(q.From)/maxPoints)
		form.Set("start", unix(q.From))
		form.Set("end", unix(q.To))
		form.Set("step", metric.PromDuration(step))
	}
	v, err := p.post(ctx, m.base.JoinPath(path).String(), form, m.headers)
	if err != nil {
		return analysis.Value{Value: math.NaN(), Err: fmt.Sprintf("prometheus query %q: %v", expr, err)}, nil
	}
	return analysis.Value{Value: v}, nil
}

func unix(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64)
}

// post runs one query and returns its value (NaN for none).
func (p *Provider) post(ctx context.Context, u string, form url.Values, headers map[string]string) (float64, error) {
	req, err := formRequest(ctx, u, form)
	if err != nil {
		return math.NaN(), err
	}
	status, body, err := metric.Fetch(ctx, p.client, req, headers, p.getenv, p.timeout)
	if err != nil {
		return math.NaN(), err
	}
	return Decode(status, body)
}

// formRequest is a query as a form POST: Prometheus takes long queries that way, where a GET's
// URL could be cut.
func formRequest(ctx context.Context, u string, form url.Values) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// answer is the envelope of every /api/v1 answer.
type answer struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// Decode reads an answer of /api/v1/query or /api/v1/query_range to one value: NaN when the
// result is empty, an error when the answer is an error, is not JSON, or holds several series (a
// query must say how to aggregate them; picking one would judge a version on part of its data).
// A range result is the mean of its finite points.
func Decode(status int, body []byte) (float64, error) {
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		if status/100 != 2 {
			return math.NaN(), fmt.Errorf("HTTP %d: %s", status, metric.Snippet(body))
		}
		return math.NaN(), fmt.Errorf("bad JSON: %v", err)
	}
	if a.Status != "success" || status/100 != 2 {
		if a.Error == "" {
			return math.NaN(), fmt.Errorf("HTTP %d, status %q", status, a.Status)
		}
		return math.NaN(), fmt.Errorf("HTTP %d: %s: %s", status, a.ErrorType, a.Error)
	}
	switch a.Data.ResultType {
	case "scalar":
		var s sample
		if err := json.Unmarshal(a.Data.Result, &s); err != nil {
			return math.NaN(), fmt.Errorf("bad scalar: %v", err)
		}
		return s.value()
	case "vector":
		var series []struct {
			Value sample `json:"value"`
		}
		if err := json.Unmarshal(a.Data.Result, &series); err != nil {
			return math.NaN(), fmt.Errorf("bad vector: %v", err)
		}
		switch len(series) {
		case 0:
			return math.NaN(), nil
		case 1:
			return series[0].Value.value()
		}
		return math.NaN(), fmt.Errorf("%d series, want one: aggregate them (sum, avg, max by ())", len(series))
	case "matrix":
		var series []struct {
			Values []sample `json:"values"`
		}
		if err := json.Unmarshal(a.Data.Result, &series); err != nil {
			return math.NaN(), fmt.Errorf("bad matrix: %v", err)
		}
		switch len(series) {
		case 0:
			return math.NaN(), nil
		case 1:
		default:
			return math.NaN(), fmt.Errorf("%d series, want one: aggregate them (sum, avg, max by ())", len(series))
		}
		var sum float64
		var n int
		for _, s := range series[0].Values {
			v, err := s.value()
			if err != nil {
				return math.NaN(), err
			}
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				sum += v
				n++
			}
		}
		if n == 0 {
			return math.NaN(), nil
		}
		return sum / float64(n), nil
	}
	return math.NaN(), fmt.Errorf("result type %q, want scalar, vector or matrix", a.Data.ResultType)
}

// sample is a [time, "value"] pair.
type sample []json.RawMessage

func (s sample) value() (float64, error) {
	if len(s) != 2 {
		b, _ := json.Marshal(s)
		return math.NaN(), fmt.Errorf("bad sample %s", metric.Snippet(b))
	}
	var str string
	if err := json.Unmarshal(s[1], &str); err != nil {
		return math.NaN(), fmt.Errorf("bad sample value %s", metric.Snippet(s[1]))
	}
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return math.NaN(), fmt.Errorf("bad sample value %q", str)
	}
	return v, nil
}
