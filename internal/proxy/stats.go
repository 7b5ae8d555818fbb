package proxy

import (
	"maps"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// counters are one version's cumulative totals since the proxy started. The hot path only adds to
// them; /metrics reads them directly and the history is made of their per-second differences.
type counters struct {
	version      string
	requests     atomic.Uint64 // attempts sent to this version (a retried request counts once per version tried)
	errors5xx    atomic.Uint64 // 5xx responses from the version's upstreams
	connFailures atomic.Uint64 // upstream connection failures: dial errors, resets before a response
	grpcErrors   atomic.Uint64 // gRPC calls that ended with a grpc-status other than OK (HTTP 200 all the same)
	sumMicros    atomic.Uint64 // latency sum of responses in the histogram
	hist         [numBuckets]atomic.Uint64
}

// observe records one response from an upstream of this version.
func (c *counters) observe(status int, d time.Duration) {
	if status >= 500 {
		c.errors5xx.Add(1)
	}
	if d > 0 {
		c.sumMicros.Add(uint64(d / time.Microsecond))
	}
	c.hist[bucketOf(d)].Add(1)
}

// snapshot is a plain copy of counters at one instant.
type snapshot struct {
	requests, errors5xx, connFailures, grpcErrors, sumMicros uint64
	hist                                                     [numBuckets]uint64
}

func (c *counters) load(s *snapshot) {
	s.requests = c.requests.Load()
	s.errors5xx = c.errors5xx.Load()
	s.connFailures = c.connFailures.Load()
	s.grpcErrors = c.grpcErrors.Load()
	s.sumMicros = c.sumMicros.Load()
	for i := range c.hist {
		s.hist[i] = c.hist[i].Load()
	}
}

// Stats is the per-second history of every version's counters, as GET /v1/stats returns it. Only
// seconds in which something happened are listed.
type Stats struct {
	Versions map[string][]Second `json:"versions"`
}

// Second is one version's counters over one wall-clock second [Time, Time+1s).
type Second struct {
	Time         int64  `json:"time"` // unix seconds
	Requests     uint64 `json:"requests"`
	Errors5xx    uint64 `json:"errors5xx"`
	ConnFailures uint64 `json:"connFailures"`
	// GRPCErrors are gRPC calls answered 200 with a grpc-status other than OK.
	GRPCErrors uint64 `json:"grpcErrors,omitempty"`
	SumMicros  uint64 `json:"sumMicros"`
	// Hist is the latency histogram, sparse: [bucket index, count] pairs in bucket order.
	Hist [][2]uint64 `json:"hist,omitempty"`
}

// Window is a version's counters summed over a time window.
type Window struct {
	Requests     uint64
	Errors5xx    uint64
	ConnFailures uint64
	GRPCErrors   uint64
	sumMicros    uint64
	hist         map[int]uint64
}

// Window sums version's seconds that end in (from, to]. Windows laid end to end at any fraction of
// a second (a monitor's looks) so take every second exactly once: counting only the seconds wholly
// inside each dropped the one astride every boundary. A second still in progress is not yet in the
// history, so a window ending now covers the seconds completed before it.
func (s Stats) Window(version string, from, to time.Time) Window {
	w := Window{hist: map[int]uint64{}}
	lo, hi := from.Unix(), to.Unix()
	for _, sec := range s.Versions[version] {
		if sec.Time < lo || sec.Time >= hi {
			continue
		}
		w.Requests += sec.Requests
		w.Errors5xx += sec.Errors5xx
		w.ConnFailures += sec.ConnFailures
		w.GRPCErrors += sec.GRPCErrors
		w.sumMicros += sec.SumMicros
		for _, b := range sec.Hist {
			w.hist[int(b[0])] += b[1]
		}
	}
	return w
}

// ErrorRate is the percentage of requests that failed: (5xx + connection failures + gRPC calls with
// a status other than OK) / requests * 100, as Flagger's request-success-rate counts gRPC.
// It is 0 with no requests; callers check Requests against their minimum sample count.
func (w Window) ErrorRate() float64 {
	if w.Requests == 0 {
		return 0
	}
	return math.Min(100, float64(w.Errors5xx+w.ConnFailures+w.GRPCErrors)/float64(w.Requests)*100)
}

// Samples is the number of latencies in the window's histogram.
func (w Window) Samples() uint64 {
	var n uint64
	for _, c := range w.hist {
		n += c
	}
	return n
}

// Quantile returns the latency below which a fraction q (0..1) of the responses fell, to within a
// bucket's width (1.6%). It is 0 with no samples.
func (w Window) Quantile(q float64) time.Duration {
	n := w.Samples()
	if n == 0 {
		return 0
	}
	q = math.Max(0, math.Min(1, q))
	rank := uint64(math.Ceil(q * float64(n)))
	if rank == 0 {
		rank = 1
	}
	idx := make([]int, 0, len(w.hist))
	for i := range w.hist {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var seen uint64
	for _, i := range idx {
		seen += w.hist[i]
		if seen >= rank {
			return bucketMid(i)
		}
	}
	return bucketMid(idx[len(idx)-1])
}

// Mean is the average latency of the responses in the window; 0 with none.
func (w Window) Mean() time.Duration {
	n := w.Samples()
	if n == 0 {
		return 0
	}
	return time.Duration(w.sumMicros/n) * time.Microsecond
}

// history turns cumulative counters into per-second differences and keeps them for a while.
type history struct {
	keep time.Duration

	mu       sync.Mutex
	versions map[string]*counters
	last     map[string]*snapshot // counters as of the previous collect
	seconds  map[string][]Second
	// collected is the last second collected.
	collected int64
}

func newHistory(keep time.Duration) *history {
	return &history{
		keep:     keep,
		versions: map[string]*counters{},
		last:     map[string]*snapshot{},
		seconds:  map[string][]Second{},
	}
}

// counters returns version's counters, creating them on first use. They live as long as the proxy,
// so that a version's history survives its removal from the routes.
func (h *history) counters(version string) *counters {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.versions[version]
	if !ok {
		c = &counters{version: version}
		h.versions[version] = c
		h.last[version] = &snapshot{}
	}
	return c
}

// all returns every version's counters, sorted by version.
func (h *history) all() []*counters {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*counters, 0, len(h.versions))
	for _, c := range h.versions {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *counters) int {
		if a.version < b.version {
			return -1
		}
		if a.version > b.version {
			return 1
		}
		return 0
	})
	return out
}

// collect records what happened since the previous collect as second sec, and forgets seconds older
// than keep.
func (h *history) collect(sec int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var cur snapshot
	oldest := sec - int64(h.keep/time.Second)
	h.collected = max(h.collected, sec)
	for v, c := range h.versions {
		c.load(&cur)
		prev := h.last[v]
		s := Second{
			Time:         sec,
			Requests:     cur.requests - prev.requests,
			Errors5xx:    cur.errors5xx - prev.errors5xx,
			ConnFailures: cur.connFailures - prev.connFailures,
			GRPCErrors:   cur.grpcErrors - prev.grpcErrors,
			SumMicros:    cur.sumMicros - prev.sumMicros,
		}
		for i := range cur.hist {
			if d := cur.hist[i] - prev.hist[i]; d != 0 {
				s.Hist = append(s.Hist, [2]uint64{uint64(i), d})
			}
		}
		*prev = cur
		secs := h.seconds[v]
		if s.Requests != 0 || s.Errors5xx != 0 || s.ConnFailures != 0 || s.GRPCErrors != 0 || len(s.Hist) != 0 {
			secs = append(secs, s)
		}
		drop := 0
		for drop < len(secs) && secs[drop].Time < oldest {
			drop++
		}
		if drop > 0 {
			secs = slices.Clone(secs[drop:]) // let the old backing array go
		}
		h.seconds[v] = secs
	}
}

// through returns every second collected so far and the first second not collected yet.
func (h *history) through() (Stats, int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := Stats{Versions: make(map[string][]Second, len(h.seconds))}
	for v, secs := range h.seconds {
		out.Versions[v] = slices.Clone(secs)
	}
	return out, h.collected + 1
}

// merge adds another proxy's seconds (a predecessor's, handed over) to the history.
func (h *history) merge(st Stats) {
	for v := range st.Versions {
		h.counters(v) // the version is known, so stats list it
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for v, in := range st.Versions {
		secs := append(slices.Clone(h.seconds[v]), in...)
		slices.SortStableFunc(secs, func(a, b Second) int { return int(a.Time - b.Time) })
		out := secs[:0]
		for _, s := range secs {
			if n := len(out); n > 0 && out[n-1].Time == s.Time {
				out[n-1] = addSecond(out[n-1], s)
				continue
			}
			out = append(out, s)
		}
		h.seconds[v] = out
	}
}

// addSecond sums two records of the same second.
func addSecond(a, b Second) Second {
	a.Requests += b.Requests
	a.Errors5xx += b.Errors5xx
	a.ConnFailures += b.ConnFailures
	a.GRPCErrors += b.GRPCErrors
	a.SumMicros += b.SumMicros
	hist := map[uint64]uint64{}
	for _, x := range a.Hist {
		hist[x[0]] += x[1]
	}
	for _, x := range b.Hist {
		hist[x[0]] += x[1]
	}
	a.Hist = a.Hist[:0:0]
	for _, k := range slices.Sorted(maps.Keys(hist)) {
		a.Hist = append(a.Hist, [2]uint64{k, hist[k]})
	}
	return a
}

// stats returns the seconds from since on.
func (h *history) stats(since time.Time) Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := Stats{Versions: make(map[string][]Second, len(h.seconds))}
	lo := since.Unix()
	for v, secs := range h.seconds {
		i := sort.Search(len(secs), func(i int) bool { return secs[i].Time >= lo })
		out.Versions[v] = slices.Clone(secs[i:])
	}
	return out
}
