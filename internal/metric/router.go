package metric

import (
	"context"
	"fmt"
	"math"

	"github.com/hugai-dev/hugai/internal/analysis"
)

// Router is the single Provider the engine reads: each named metric of the service file
// (spec.metrics) goes to the provider its declaration names, everything else to Default (the
// builtin source). It fills in the Environment of a query that has none, since one Router serves
// one service environment.
type Router struct {
	Environment string
	Default     Provider
	Routes      map[string]Provider // metric name → its provider
	// Comparer, when set, answers Compare instead of Default: where no proxy stands in front of
	// both versions (the kubernetes target), analysis.compare names the source that counts them.
	Comparer Comparer
}

var _ Provider = (*Router)(nil)

// NewRouter builds the Router of one service environment: routes maps each named metric to its
// provider's name, resolved in ps (an unknown name is an error that lists the known ones), and
// every other metric is read from ps' builtin.
func NewRouter(environment string, ps Providers, routes map[string]string) (*Router, error) {
	def, err := ps.Get(Builtin)
	if err != nil {
		return nil, err
	}
	r := &Router{Environment: environment, Default: def, Routes: map[string]Provider{}}
	for m, name := range routes {
		p, err := ps.Get(name)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", m, err)
		}
		r.Routes[m] = p
	}
	return r, nil
}

// Query reads q.Metric from its provider.
//
// A value an outside source measured (prometheus, web) says nothing about how much traffic it
// stands on, and the judge gates every value on minimumSamples requests. So a finite value that
// comes with no sample count is given the version's request count over the same window from
// Default, as the builtin cpu and memory are: it is judged only once the version carried enough
// traffic for it to mean something. No value stays no value (Inconclusive, never a pass), and a
// count that cannot be read is an error, never a zero.
func (r *Router) Query(ctx context.Context, q Query) (analysis.Value, error) {
	if q.Environment == "" {
		q.Environment = r.Environment
	}
	p, routed := r.Routes[q.Metric]
	if !routed {
		if r.Default == nil {
			return analysis.Value{}, fmt.Errorf("no provider for metric %q", q.Metric)
		}
		return r.Default.Query(ctx, q)
	}
	v, err := p.Query(ctx, q)
	if err != nil || v.Err != "" || v.Samples > 0 || math.IsNaN(v.Value) || math.IsInf(v.Value, 0) || r.Default == nil {
		return v, err
	}
	cq := q
	cq.Metric = "request_rate"
	c, err := r.Default.Query(ctx, cq)
	switch {
	case err != nil:
		v.Err = "count the version's requests: " + err.Error()
	case c.Err != "":
		v.Err = "count the version's requests: " + c.Err
	default:
		v.Samples = c.Samples
	}
	return v, nil
}

var _ Comparer = (*Router)(nil)

// Compare asks Comparer, else Default: the comparison reads request counts and latencies, which
// only the source in front of both versions (the builtin proxy) sees second by second, or a
// source configured to count them (analysis.compare).
func (r *Router) Compare(ctx context.Context, c Comparison) ([]analysis.Window, []analysis.LatencyWindow, error) {
	if c.Environment == "" {
		c.Environment = r.Environment
	}
	if r.Comparer != nil {
		return r.Comparer.Compare(ctx, c)
	}
	cmp, ok := r.Default.(Comparer)
	if !ok {
		return nil, nil, fmt.Errorf("the metric source %T cannot compare two versions second by second", r.Default)
	}
	return cmp.Compare(ctx, c)
}
