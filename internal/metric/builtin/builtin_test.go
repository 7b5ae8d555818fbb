package builtin

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/metric"
	"github.com/hugai-dev/hugai/internal/proxy"
)

// base is a whole second; the synthetic history below starts there.
var base = time.Unix(1_800_000_000, 0).UTC()

// history is three seconds of two versions. Latency buckets below 128 are exact microseconds
// (proxy's histogram), reported at their middle: bucket 40 is 40.5µs.
func history() proxy.Stats {
	return proxy.Stats{Versions: map[string][]proxy.Second{
		"v1": { // p50 40µs, p90 60µs, p95 80µs, p99 100µs, mean 53.2µs
			{Time: base.Unix(), Requests: 50, SumMicros: 2640, Hist: [][2]uint64{{40, 25}, {60, 20}, {80, 3}, {100, 2}}},
			{Time: base.Unix() + 1, Requests: 50, Errors5xx: 1, SumMicros: 2680, Hist: [][2]uint64{{40, 25}, {60, 20}, {80, 2}, {100, 2}, {120, 1}}},
		},
		"v2": {
			{Time: base.Unix(), Requests: 40, Errors5xx: 4, ConnFailures: 4, SumMicros: 26*10 + 10*100, Hist: [][2]uint64{{10, 26}, {100, 10}}},
			{Time: base.Unix() + 2, Requests: 10, SumMicros: 10 * 100, Hist: [][2]uint64{{100, 10}}},
		},
		"dead": {
			{Time: base.Unix(), Requests: 5, ConnFailures: 5},
		},
	}}
}

// fakeStats serves h and counts its calls.
type fakeStats struct {
	h     proxy.Stats
	err   error
	calls int
	since []time.Time
}

func (f *fakeStats) get(_ context.Context, since time.Time) (proxy.Stats, error) {
	f.calls++
	f.since = append(f.since, since)
	return f.h, f.err
}

func query(t *testing.T, p *Provider, version, m string, from, to time.Time) analysis.Value {
	t.Helper()
	v, err := p.Query(context.Background(), metric.Query{Service: "svc", Version: version, Metric: m, From: from, To: to})
	if err != nil {
		t.Fatalf("query %s %s: %v", version, m, err)
	}
	return v
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestMetrics(t *testing.T) {
	fs := &fakeStats{h: history()}
	usage := func(v string) (float64, int64, bool) {
		if v == "v1" {
			return 12.5, 64 << 20, true
		}
		return 0, 0, false
	}
	p := New(fs.get, usage)
	from, to := base, base.Add(3*time.Second)
	tests := []struct {
		version, metric string
		want            float64 // NaN: no value
		samples         uint64
	}{
		{"v1", "error_rate", 1, 100},
		{"v1", "success_rate", 99, 100},
		{"v1", "latency_mean", 53e-6, 100}, // the proxy's mean is in whole microseconds
		{"v1", "latency_p50", 40.5e-6, 100},
		{"v1", "latency_p90", 60.5e-6, 100},
		{"v1", "latency_p95", 80.5e-6, 100},
		{"v1", "latency_p99", 100.5e-6, 100},
		{"v1", "request_rate", 100.0 / 3, 100},
		{"v1", "cpu", 12.5, 100},
		{"v1", "memory", 64 << 20, 100},
		// (5xx + connection failures) / requests.
		{"v2", "error_rate", 8.0 / 50 * 100, 50},
		{"v2", "success_rate", 100 - 8.0/50*100, 50},
		{"v2", "latency_p50", 10.5e-6, 50},
		{"v2", "latency_p90", 100.5e-6, 50},
		{"v2", "latency_p95", 100.5e-6, 50},
		{"v2", "latency_mean", 49e-6, 50}, // 2260µs/46
		{"v2", "cpu", math.NaN(), 50},     // no processes
		{"v2", "memory", math.NaN(), 50},
		// Only connection failures: an error rate, but no latency.
		{"dead", "error_rate", 100, 5},
		{"dead", "latency_p95", math.NaN(), 5},
		{"dead", "latency_mean", math.NaN(), 5},
		// No traffic at all: no value, whatever the metric.
		{"v9", "error_rate", math.NaN(), 0},
		{"v9", "success_rate", math.NaN(), 0},
		{"v9", "request_rate", math.NaN(), 0},
		{"v9", "cpu", math.NaN(), 0},
	}
	for _, tt := range tests {
		v := query(t, p, tt.version, tt.metric, from, to)
		ok := near(v.Value, tt.want) || math.IsNaN(tt.want) && math.IsNaN(v.Value)
		if !ok || v.Samples != tt.samples || v.Err != "" {
			t.Errorf("%s %s = %+v, want %v over %d", tt.version, tt.metric, v, tt.want, tt.samples)
		}
	}
	if fs.calls != 1 || !fs.since[0].Equal(from) {
		t.Errorf("%d stats calls since %v for one window, want 1 since %v", fs.calls, fs.since, from)
	}
}

func TestEveryCriteriaBuiltinIsServed(t *testing.T) {
	p := New((&fakeStats{h: history()}).get, func(string) (float64, int64, bool) { return 1, 1, true })
	for _, m := range criteria.Builtins() {
		v := query(t, p, "v1", m, base, base.Add(2*time.Second))
		if math.IsNaN(v.Value) || v.Samples != 100 {
			t.Errorf("%s: %+v", m, v)
		}
	}
}

func TestWindowTakesTheSecondsEndingInside(t *testing.T) {
	p := New((&fakeStats{h: history()}).get, nil)
	// From mid-second: the first second ends inside, so it is counted, and the rate is over the
	// three seconds (windows laid end to end take each second once).
	v := query(t, p, "v1", "request_rate", base.Add(time.Millisecond), base.Add(3*time.Second))
	if !near(v.Value, 100.0/3) || v.Samples != 100 {
		t.Errorf("request_rate from mid-second = %+v, want 100 requests over 3s", v)
	}
	// Within one second, none ends: nothing.
	v = query(t, p, "v1", "request_rate", base.Add(time.Millisecond), base.Add(900*time.Millisecond))
	if !math.IsNaN(v.Value) || v.Samples != 0 {
		t.Errorf("window inside one second = %+v", v)
	}
	// Across a boundary at a fraction of a second: the second that ends inside.
	v = query(t, p, "v1", "request_rate", base.Add(time.Millisecond), base.Add(1500*time.Millisecond))
	if v.Samples != 50 || v.Value != 50 {
		t.Errorf("window 0.001..1.5 = %+v, want the 50 requests of second 0", v)
	}
	// The window ends before the second that starts at its end.
	if v := query(t, p, "v2", "error_rate", base.Add(2*time.Second), base.Add(3*time.Second)); v.Value != 0 || v.Samples != 10 {
		t.Errorf("v2 last second = %+v", v)
	}
}

func TestFailedStatsIsAValue(t *testing.T) {
	fs := &fakeStats{err: errors.New("proxy at /run/x.sock: connection refused")}
	p := New(fs.get, nil)
	v := query(t, p, "v1", "error_rate", base, base.Add(time.Minute))
	if v.Err != "read proxy stats: proxy at /run/x.sock: connection refused" || !math.IsNaN(v.Value) {
		t.Errorf("value %+v", v)
	}
	ms := analysis.Judge([]criteria.Condition{{Metric: "error_rate", Op: criteria.Less, Value: 1, Kind: criteria.Rate}},
		metric.Reader(context.Background(), p, metric.Query{Version: "v1", From: base, To: base.Add(time.Minute)}), 20, base, base.Add(time.Minute))
	if ms[0].Phase != analysis.Error {
		t.Errorf("judged %s: %s", ms[0].Phase, ms[0].Message)
	}
}

func TestCallerMistakesAreErrors(t *testing.T) {
	p := New((&fakeStats{h: history()}).get, nil)
	tests := []struct {
		q    metric.Query
		want string
	}{
		{metric.Query{Version: "v1", Metric: "orders", From: base, To: base.Add(time.Second)}, `builtin has no metric "orders" (known: error_rate, success_rate, latency_mean, latency_p50, latency_p90, latency_p95, latency_p99, request_rate, cpu, memory)`},
		{metric.Query{Metric: "error_rate", From: base, To: base.Add(time.Second)}, "builtin query: no version"},
		{metric.Query{Version: "v1", Metric: "error_rate", From: base, To: base}, "builtin query: window 2027-01-15T08:00:00Z..2027-01-15T08:00:00Z is empty"},
	}
	for _, tt := range tests {
		_, err := p.Query(context.Background(), tt.q)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Query(%+v) error %v, want %s", tt.q, err, tt.want)
		}
	}
}

// TestCache: one judgement, one fetch; a fetch that may have missed the window's last second is
// not kept past a judgement; a failed fetch is retried; another window is fetched anew.
func TestCache(t *testing.T) {
	fs := &fakeStats{h: history()}
	p := New(fs.get, nil)
	now := base.Add(1500 * time.Millisecond) // the window [base, base+1s) has ended; its last second may not be collected yet
	p.now = func() time.Time { return now }
	from, to := base, base.Add(time.Second)
	judge := func() []analysis.Measurement {
		conds, err := criteria.Parse("error_rate<1%,success_rate>99%,latency_p95<2s,latency_mean<1s,request_rate>1")
		if err != nil {
			t.Fatal(err)
		}
		return analysis.Judge(conds, metric.Reader(context.Background(), p, metric.Query{Version: "v1", From: from, To: to}), 20, from, to)
	}
	step := func(what string, advance time.Duration, wantCalls int) {
		t.Helper()
		now = now.Add(advance)
		judge()
		if fs.calls != wantCalls {
			t.Fatalf("%s: %d stats calls, want %d", what, fs.calls, wantCalls)
		}
	}
	step("just after the window", 0, 1)
	step("same judgement a moment later", reuseFor/2, 1)
	step("unsettled fetch gone stale", reuseFor, 2)
	step("settled fetch is kept", time.Hour, 2)

	to = base.Add(2 * time.Second)
	step("another window", 0, 3)

	fs.err = errors.New("down")
	to = base.Add(3 * time.Second)
	step("failed fetch shared by one judgement", 0, 4)
	step("failed fetch retried", time.Hour, 5)

	// A caller that gave up does not poison the cache for the next one.
	fs.err = context.Canceled
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	to = base.Add(4 * time.Second)
	if v, _ := p.Query(ctx, metric.Query{Version: "v1", Metric: "error_rate", From: from, To: to}); v.Err == "" {
		t.Fatal("cancelled fetch gave a value")
	}
	fs.err = nil
	if v := query(t, p, "v1", "error_rate", from, to); v.Err != "" || fs.calls != 7 {
		t.Errorf("after a cancelled fetch: %+v, %d calls", v, fs.calls)
	}
}

// Compare lays both versions' seconds side by side: counts per second, and latency windows whose
// slow requests are those above the pooled p95 of that second.
func TestCompareSecondBySecond(t *testing.T) {
	from := time.Unix(1000, 0)
	stats := proxy.Stats{Versions: map[string][]proxy.Second{
		// v1 (baseline): 95 fast requests a second, one 5xx in the second second.
		"v1": {
			{Time: 1000, Requests: 95, Hist: [][2]uint64{{200, 95}}},
			{Time: 1001, Requests: 95, Errors5xx: 1, Hist: [][2]uint64{{200, 95}}},
			{Time: 1005, Requests: 95, Hist: [][2]uint64{{200, 95}}}, // outside the window
		},
		// v2 (candidate): 5 a second, all slow, two failed connections in the first.
		"v2": {
			{Time: 1000, Requests: 5, ConnFailures: 2, Hist: [][2]uint64{{900, 3}}},
			{Time: 1001, Requests: 5, Hist: [][2]uint64{{900, 5}}},
		},
	}}
	p := New(func(context.Context, time.Time) (proxy.Stats, error) { return stats, nil }, nil)
	p.now = func() time.Time { return from.Add(time.Hour) }
	pairs, lats, err := p.Compare(context.Background(), metric.Comparison{Candidate: "v2", Baseline: "v1", From: from, To: from.Add(3 * time.Second), MaxLatencyRegression: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	want := []analysis.Window{
		{Canary: analysis.Counts{Requests: 5, Events: 2}, Baseline: analysis.Counts{Requests: 95}},
		{Canary: analysis.Counts{Requests: 5}, Baseline: analysis.Counts{Requests: 95, Events: 1}},
	}
	if !reflect.DeepEqual(pairs, want) {
		t.Errorf("pairs %+v, want %+v", pairs, want)
	}
	if len(lats) != 2 || lats[0].Slow.Canary != (analysis.Counts{Requests: 3, Events: 3}) || lats[0].Slow.Baseline.Events != 0 || lats[1].BeyondMax != 5 {
		t.Errorf("latency windows %+v", lats)
	}
	// Windows laid end to end at a fraction of a second (as looks are, from the moment the
	// candidate first took traffic) share out every second: none is lost at a boundary, none is
	// counted twice.
	var got []analysis.Window
	for start := from.Add(-500 * time.Millisecond); start.Before(from.Add(6 * time.Second)); start = start.Add(1500 * time.Millisecond) {
		w, _, err := p.Compare(context.Background(), metric.Comparison{Candidate: "v2", Baseline: "v1", From: start, To: start.Add(1500 * time.Millisecond)})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, w...)
	}
	if want := append(want, analysis.Window{Baseline: analysis.Counts{Requests: 95}}); !reflect.DeepEqual(got, want) {
		t.Errorf("adjacent windows: %+v, want every second once: %+v", got, want)
	}
	if _, _, err := p.Compare(context.Background(), metric.Comparison{Candidate: "v2", Baseline: "v1", From: from, To: from}); err == nil {
		t.Error("an empty window must be refused")
	}
	broken := New(func(context.Context, time.Time) (proxy.Stats, error) { return proxy.Stats{}, errors.New("refused") }, nil)
	if _, _, err := broken.Compare(context.Background(), metric.Comparison{Candidate: "v2", Baseline: "v1", From: from, To: from.Add(time.Second)}); err == nil {
		t.Error("an unreadable history must be an error, never empty evidence")
	}
}

// A failure is counted when its request is answered, perhaps in the second after the one that
// counted the request: a second with more failures than requests passes the excess on, so the
// comparison loses no failure (it dropped them once, and a loaded test run saw 19 of 20).
func TestCompareCarriesLateFailures(t *testing.T) {
	from := time.Unix(2000, 0)
	stats := proxy.Stats{Versions: map[string][]proxy.Second{
		"v1": {{Time: 2000, Requests: 10}, {Time: 2001, Requests: 10}, {Time: 2002, Requests: 10}},
		"v2": {
			{Time: 2000, Requests: 2, Errors5xx: 1},
			{Time: 2001, Requests: 1, Errors5xx: 2, GRPCErrors: 1}, // two answered late
			{Time: 2002, Requests: 3},
		},
	}}
	p := New(func(context.Context, time.Time) (proxy.Stats, error) { return stats, nil }, nil)
	p.now = func() time.Time { return from.Add(time.Hour) }
	pairs, _, err := p.Compare(context.Background(), metric.Comparison{Candidate: "v2", Baseline: "v1", From: from, To: from.Add(3 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, w := range pairs {
		got = append(got, w.Canary.Events)
	}
	if want := []int64{1, 1, 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("candidate failures per second %v, want %v", got, want)
	}
}
