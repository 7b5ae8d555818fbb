// Package metric is the port through which the engine reads a version's metrics over an analysis
// window, and the resolution of a metric source's name (hugai.yaml's `provider:`) to the adapter
// that serves it. The adapters live in subpackages (builtin, prometheus, web) and import
// this package, never the other way round.
package metric

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
)

// Query asks for one metric of one version over the window [From, To).
type Query struct {
	Service     string
	Version     string
	Environment string // filled by a Router when the caller leaves it empty
	Metric      string // a criteria metric name, e.g. error_rate or a named metric of hugai.yaml
	From        time.Time
	To          time.Time
}

// Provider is a metric source. A query that fails (the source is down, times out, answers
// nonsense) is a Value with Err set: data the analysis counts, not a crash. The error return is
// for the caller's own mistakes, such as a metric the source does not have.
type Provider interface {
	Query(ctx context.Context, q Query) (analysis.Value, error)
}

// Comparison asks for what two versions did over the same seconds, second by second: the
// sequential analysis' input (analysis.Evidence, analysis.LatencyEvidence).
type Comparison struct {
	Service     string
	Environment string
	Candidate   string
	Baseline    string
	From        time.Time
	To          time.Time
	// MaxLatencyRegression is maxRegression.latencyP95 (a fraction), which the latency windows'
	// BeyondMax counts against.
	MaxLatencyRegression float64
}

// Comparer is a source that can compare two versions over the same seconds: both versions'
// requests, errors and latency histograms per second (the builtin source reads the proxy's
// history). Only the seconds in which either version served a request are returned.
type Comparer interface {
	Compare(ctx context.Context, c Comparison) ([]analysis.Window, []analysis.LatencyWindow, error)
}

// Step is a Window of a comparison with the end of the span it counts: a source that reads
// coarser points than the proxy's seconds (Prometheus) says where each lies.
type Step struct {
	End    time.Time
	Window analysis.Window
}

// Func is a Provider made of a function, for tests and small adapters.
type Func func(ctx context.Context, q Query) (analysis.Value, error)

// Query calls f.
func (f Func) Query(ctx context.Context, q Query) (analysis.Value, error) { return f(ctx, q) }

var _ Provider = Func(nil)

// Builtin is the name of the source every hugai has: the proxy's own counters. A metric that names
// no provider is read from it.
const Builtin = "builtin"

// Providers are the metric sources configured, by name.
type Providers map[string]Provider

// Get returns the provider called name (Builtin when name is empty). An unknown name is an error
// that lists the known ones: a typo must not silently read another source.
func (ps Providers) Get(name string) (Provider, error) {
	if name == "" {
		name = Builtin
	}
	if p, ok := ps[name]; ok && p != nil {
		return p, nil
	}
	known := make([]string, 0, len(ps))
	for n, p := range ps {
		if p != nil {
			known = append(known, n)
		}
	}
	slices.Sort(known)
	if len(known) == 0 {
		return nil, fmt.Errorf("unknown metric provider %q (none is configured)", name)
	}
	return nil, fmt.Errorf("unknown metric provider %q (known: %s)", name, strings.Join(known, ", "))
}

// Reader adapts p to analysis.Judge for one version and one window: q names the service, version
// and window, and the returned function fills in the metric. An error from p becomes the Value's
// Err, so that a misconfigured metric is judged Error (and, repeated, fails the analysis) instead
// of stopping the engine.
func Reader(ctx context.Context, p Provider, q Query) func(metric string) analysis.Value {
	return func(metric string) analysis.Value {
		q := q
		q.Metric = metric
		v, err := p.Query(ctx, q)
		if err != nil {
			return analysis.Value{Err: err.Error()}
		}
		return v
	}
}
