// Package web is the metric source that reads a named metric from any HTTP endpoint answering
// JSON: the URL a template filled in for the version and window judged, a JSONPath to the value.
package web

import (
	"context"
	"encoding/json"
	"errors"
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

// DefaultTimeout bounds one request.
const DefaultTimeout = 10 * time.Second

// Metric is one named metric read over HTTP.
type Metric struct {
	Name     string
	URL      string            // a text/template over metric.Vars, e.g. http://h/kpi?v={{.Version | urlquery}}
	JSONPath string            // to the value: $.data.value, $.series[0].v, $['a b']
	Headers  map[string]string // ${VAR} is read from the environment at each request, never stored
}

// Options tune a Provider; the zero value is ready to use.
type Options struct {
	Timeout time.Duration           // per request; DefaultTimeout when 0
	Client  *http.Client            // a fresh client when nil
	Getenv  func(key string) string // reads ${VAR} in headers; os.Getenv when nil
}

// Provider reads its metrics from HTTP JSON endpoints.
type Provider struct {
	metrics map[string]compiled
	client  *http.Client
	timeout time.Duration
	getenv  func(string) string
}

type compiled struct {
	url     *metric.Template
	path    Path
	headers map[string]string
}

var _ metric.Provider = (*Provider)(nil)

// New checks each metric's URL template and JSONPath; a bad one is an error before anything runs.
func New(metrics []Metric, o Options) (*Provider, error) {
	p := &Provider{metrics: map[string]compiled{}, client: o.Client, timeout: o.Timeout, getenv: o.Getenv}
	if p.client == nil {
		p.client = &http.Client{}
	}
	if p.timeout <= 0 {
		p.timeout = DefaultTimeout
	}
	if p.getenv == nil {
		p.getenv = os.Getenv
	}
	for _, m := range metrics {
		t, err := metric.ParseTemplate(m.Name, m.URL)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", m.Name, err)
		}
		u, err := t.Execute(metric.Query{Service: "s", Version: "v", Environment: "e", From: time.Unix(0, 0), To: time.Unix(60, 0)})
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", m.Name, err)
		}
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, fmt.Errorf("metric %s: address %q: want an http(s) URL", m.Name, m.URL)
		}
		path, err := ParsePath(m.JSONPath)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", m.Name, err)
		}
		for k := range m.Headers {
			if k == "" || strings.ContainsAny(k, " :\r\n") {
				return nil, fmt.Errorf("metric %s: header name %q", m.Name, k)
			}
		}
		p.metrics[m.Name] = compiled{url: t, path: path, headers: m.Headers}
	}
	return p, nil
}

// Query fetches q.Metric's URL for q.Version and window with GET and picks its value. A number,
// or a string holding one, is the value; null is no value (Samples 0); anything else, an answer
// that is not 2xx or not JSON, a path that leads nowhere, or no answer within the timeout is a
// Value with Err.
func (p *Provider) Query(ctx context.Context, q metric.Query) (analysis.Value, error) {
	m, ok := p.metrics[q.Metric]
	if !ok {
		known := slices.Sorted(maps.Keys(p.metrics))
		return analysis.Value{}, fmt.Errorf("web has no metric %q (known: %s)", q.Metric, strings.Join(known, ", "))
	}
	u, err := m.url.Execute(q)
	if err != nil {
		return analysis.Value{}, err
	}
	v, err := p.get(ctx, u, m)
	if err != nil {
		return analysis.Value{Value: math.NaN(), Err: fmt.Sprintf("GET %s: %v", redact(u), err)}, nil
	}
	return analysis.Value{Value: v}, nil
}

func (p *Provider) get(ctx context.Context, u string, m compiled) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return math.NaN(), err
	}
	status, body, err := metric.Fetch(ctx, p.client, req, m.headers, p.getenv, p.timeout)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the *url.Error repeats the URL
		}
		return math.NaN(), err
	}
	if status/100 != 2 {
		return math.NaN(), fmt.Errorf("HTTP %d: %s", status, metric.Snippet(body))
	}
	return Extract(body, m.path)
}

// Extract picks the value at path out of a JSON document.
func Extract(body []byte, path Path) (float64, error) {
	var doc any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber() // keep a number's text: float64 first would lose nothing here, but strings agree
	if err := dec.Decode(&doc); err != nil {
		return math.NaN(), fmt.Errorf("bad JSON: %v", err)
	}
	v, err := path.Select(doc)
	if err != nil {
		return math.NaN(), err
	}
	switch x := v.(type) {
	case nil:
		return math.NaN(), nil
	case json.Number:
		return strconv.ParseFloat(string(x), 64)
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return math.NaN(), fmt.Errorf("%s: %q is not a number", path, x)
		}
		return f, nil
	}
	return math.NaN(), fmt.Errorf("%s: a %s, not a number", path, kind(v))
}

func kind(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// redact drops a URL's password from error messages.
func redact(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return "the metric's URL"
	}
	return pu.Redacted()
}
