// Package builtin is the metric source every hugai has, needing nothing else on the machine: each
// version's requests, errors and latencies over an analysis window, read from the local proxy's
// per-second history, and its processes' cpu and memory as the local target samples them.
package builtin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/metric"
	"github.com/hugai-dev/hugai/internal/proxy"
)

// The cache of the proxy's history. A judgement reads several metrics of the same window within
// milliseconds: they share one fetch if it is younger than reuseFor. A fetch made once the window's
// last second had surely been collected (settle after its end; the proxy closes each second a few
// milliseconds after it ends) cannot change any more, and is kept for as long as the same window is
// asked for.
const (
	reuseFor = 2 * time.Second
	settle   = time.Second
)

// Provider reads the builtin metrics of one service, whose proxy the stats function reaches.
type Provider struct {
	stats func(ctx context.Context, since time.Time) (proxy.Stats, error)
	usage func(version string) (cpuPercent float64, memoryBytes int64, ok bool)
	now   func() time.Time // wall clock: the proxy's history is in wall-clock seconds

	mu   sync.Mutex // held across a fetch, so that concurrent queries of a window share it
	last *fetch
}

// fetch is one call of stats for the window [from, to).
type fetch struct {
	from, to time.Time
	at       time.Time
	stats    proxy.Stats
	err      error
}

var _ metric.Provider = (*Provider)(nil)

// New returns the builtin source of one service. stats reads its proxy's per-second history from
// since on (the server passes (*proxy.Client).Stats); usage reports a version's cpu (percent of one
// core) and memory (bytes) summed over its processes, ok false when it has none running (nil: cpu
// and memory have no value).
func New(stats func(ctx context.Context, since time.Time) (proxy.Stats, error), usage func(version string) (cpuPercent float64, memoryBytes int64, ok bool)) *Provider {
	return &Provider{stats: stats, usage: usage, now: time.Now}
}

// Query reads q.Metric of q.Version over [q.From, q.To). q.Service is not read: a Provider serves
// the one service whose proxy it reads. Samples is the number of requests the proxy sent the version
// in the window, for every metric: cpu and memory, which are not windowed, are thereby judged only
// when the version has carried enough traffic for them to mean something. A window without requests
// has no value (Samples 0); a history that cannot be read is a Value with Err.
func (p *Provider) Query(ctx context.Context, q metric.Query) (analysis.Value, error) {
	if _, ok := criteria.MetricKind(q.Metric); !ok {
		return analysis.Value{}, fmt.Errorf("builtin has no metric %q (known: %s)", q.Metric, strings.Join(criteria.Builtins(), ", "))
	}
	if q.Version == "" {
		return analysis.Value{}, errors.New("builtin query: no version")
	}
	if !q.To.After(q.From) {
		return analysis.Value{}, fmt.Errorf("builtin query: window %s..%s is empty", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	stats, err := p.window(ctx, q.From, q.To)
	if err != nil {
		return analysis.Value{Value: math.NaN(), Err: err.Error()}, nil
	}
	w := stats.Window(q.Version, q.From, q.To)
	v := analysis.Value{Value: math.NaN(), Samples: w.Requests}
	if w.Requests == 0 {
		return v, nil // no traffic, no value: the judge makes it Inconclusive, never a pass
	}
	latency := func(d time.Duration) float64 {
		if w.Samples() == 0 { // every request failed to connect: there is no latency to speak of
			return math.NaN()
		}
		return d.Seconds()
	}
	switch q.Metric {
	case "error_rate":
		v.Value = w.ErrorRate()
	case "success_rate":
		v.Value = 100 - w.ErrorRate()
	case "latency_mean":
		v.Value = latency(w.Mean())
	case "latency_p50":
		v.Value = latency(w.Quantile(0.50))
	case "latency_p90":
		v.Value = latency(w.Quantile(0.90))
	case "latency_p95":
		v.Value = latency(w.Quantile(0.95))
	case "latency_p99":
		v.Value = latency(w.Quantile(0.99))
	case "request_rate":
		if secs := wholeSeconds(q.From, q.To); secs > 0 {
			v.Value = float64(w.Requests) / float64(secs)
		}
	case "cpu", "memory":
		if p.usage == nil {
			break
		}
		cpu, mem, ok := p.usage(q.Version)
		switch {
		case !ok:
		case q.Metric == "cpu":
			v.Value = cpu
		default:
			v.Value = float64(mem)
		}
	}
	return v, nil
}

// wholeSeconds is how many seconds proxy.Stats.Window sums for [from, to): those that end in
// (from, to].
func wholeSeconds(from, to time.Time) int64 {
	return to.Unix() - from.Unix()
}

// window returns the proxy's history covering [from, to), fetching it only when the last fetch
// cannot serve.
func (p *Provider) window(ctx context.Context, from, to time.Time) (proxy.Stats, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if f := p.last; f != nil && f.from.Equal(from) && f.to.Equal(to) {
		fresh := now.Sub(f.at) < reuseFor
		final := f.err == nil && !f.at.Before(to.Add(settle))
		if fresh || final {
			return f.stats, f.err
		}
	}
	s, err := p.stats(ctx, from)
	if err != nil {
		err = fmt.Errorf("read proxy stats: %w", err)
		if ctx.Err() != nil {
			return s, err // this caller gave up; the next one may not have
		}
	}
	p.last = &fetch{from: from, to: to, at: now, stats: s, err: err}
	return s, err
}

var _ metric.Comparer = (*Provider)(nil)

// Compare returns both versions' counts second by second over [c.From, c.To), the seconds that
// end inside it (in (From, To], as proxy.Stats.Window takes them), from the proxy's history:
// errors are 5xx responses, failed connections and failed gRPC calls (as ErrorRate counts them),
// and each second's latency window is built from the two versions' histograms of that second.
// Looks are laid end to end at any fraction of a second, so every second must fall in exactly one
// of two adjacent windows: counting the seconds that lie wholly inside each dropped the one
// astride every boundary, a third of the evidence at looks every 3 s. A second that ends by To is
// also complete when the look is taken, a second after To.
func (p *Provider) Compare(ctx context.Context, c metric.Comparison) ([]analysis.Window, []analysis.LatencyWindow, error) {
	if c.Candidate == "" || c.Baseline == "" {
		return nil, nil, errors.New("builtin comparison: two versions are needed")
	}
	if !c.To.After(c.From) {
		return nil, nil, fmt.Errorf("builtin comparison: window %s..%s is empty", c.From.Format(time.RFC3339), c.To.Format(time.RFC3339))
	}
	stats, err := p.window(ctx, c.From, c.To)
	if err != nil {
		return nil, nil, err
	}
	lo, hi := c.From.Unix(), c.To.Unix()
	bySec := func(v string) map[int64]proxy.Second {
		m := map[int64]proxy.Second{}
		for _, s := range stats.Versions[v] {
			if s.Time >= lo && s.Time < hi {
				m[s.Time] = s
			}
		}
		return m
	}
	can, base := bySec(c.Candidate), bySec(c.Baseline)
	// A request is counted in the second it was sent, its failure in the second it was answered:
	// a second can hold more failures than requests. The test needs at most one failure per
	// request in a second, so the excess moves on to the next second instead of being dropped.
	var canOver, baseOver uint64
	counts := func(s proxy.Second, over *uint64) analysis.Counts {
		failed := s.Errors5xx + s.ConnFailures + s.GRPCErrors + *over
		*over = failed - min(failed, s.Requests)
		return analysis.Counts{Requests: int64(s.Requests), Events: int64(failed - *over)}
	}
	var pairs []analysis.Window
	var lats []analysis.LatencyWindow
	for sec := lo; sec < hi; sec++ {
		cs, cok := can[sec]
		bs, bok := base[sec]
		if !cok && !bok {
			continue
		}
		pairs = append(pairs, analysis.Window{Canary: counts(cs, &canOver), Baseline: counts(bs, &baseOver)})
		cc, bc, upper := denseHists(cs.Hist, bs.Hist)
		lw, err := analysis.LatencyWindowFrom(cc, bc, upper, c.MaxLatencyRegression)
		if err != nil {
			return nil, nil, fmt.Errorf("builtin comparison: second %d: %w", sec, err)
		}
		lats = append(lats, lw)
	}
	return pairs, lats, nil
}

// denseHists lays two sparse histograms of one second over the buckets either uses, with each
// used bucket's lower neighbour too, so that the bound before a bucket is its true lower bound
// (analysis.LatencyWindowFrom reads it for BeyondMax).
func denseHists(a, b [][2]uint64) (ca, cb []uint64, upper []float64) {
	idx := map[uint64]bool{}
	for _, h := range [][][2]uint64{a, b} {
		for _, p := range h {
			idx[p[0]] = true
			if p[0] > 0 {
				idx[p[0]-1] = true
			}
		}
	}
	keys := make([]uint64, 0, len(idx))
	for k := range idx {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	pos := make(map[uint64]int, len(keys))
	for i, k := range keys {
		pos[k] = i
		upper = append(upper, proxy.BucketUpper(int(k)).Seconds())
	}
	ca, cb = make([]uint64, len(keys)), make([]uint64, len(keys))
	for _, p := range a {
		ca[pos[p[0]]] += p[1]
	}
	for _, p := range b {
		cb[pos[p[0]]] += p[1]
	}
	return ca, cb, upper
}
