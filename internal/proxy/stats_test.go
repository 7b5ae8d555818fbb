package proxy

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestBucketsFineEnough(t *testing.T) {
	for i := 0; i < numBuckets; i++ {
		lo, hi := bucketBounds(i)
		if bucketOf(lo) != i || bucketOf(hi-time.Microsecond) != i {
			t.Fatalf("bucket %d [%v,%v) does not map back: %d %d", i, lo, hi, bucketOf(lo), bucketOf(hi-time.Microsecond))
		}
		if i > 0 {
			if _, prevHi := bucketBounds(i - 1); prevHi != lo {
				t.Fatalf("gap before bucket %d: %v vs %v", i, prevHi, lo)
			}
		}
		if lo >= 100*time.Microsecond && lo <= 60*time.Second {
			if w := float64(hi-lo) / float64(lo); w > 0.02 {
				t.Fatalf("bucket %d [%v,%v) is %.2f%% wide", i, lo, hi, w*100)
			}
		}
	}
	if _, hi := bucketBounds(numBuckets - 1); hi < time.Hour {
		t.Errorf("histogram ends at %v, want past an hour", hi)
	}
}

func TestBucketOfProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := time.Duration(rapid.Int64Range(0, int64(2*time.Hour)).Draw(t, "d"))
		i := bucketOf(d)
		lo, hi := bucketBounds(i)
		if d.Truncate(time.Microsecond) < lo || d >= hi {
			t.Fatalf("%v in bucket %d [%v,%v)", d, i, lo, hi)
		}
		if mid := bucketMid(i); d >= 100*time.Microsecond && absf(float64(mid-d)/float64(d)) > 0.01 {
			t.Fatalf("%v reported as %v", d, mid)
		}
	})
}

func absf(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// record fills counters as requests with the given latencies would.
func record(c *counters, status int, d time.Duration, n int) {
	for i := 0; i < n; i++ {
		c.requests.Add(1)
		c.observe(status, d)
	}
}

func TestWindowQuantilesTellApart2sFrom2100ms(t *testing.T) {
	h := newHistory(time.Minute)
	fast, slow := h.counters("v1"), h.counters("v2")
	record(fast, 200, 2*time.Second, 95)
	record(fast, 200, 10*time.Millisecond, 5)
	record(slow, 200, 2100*time.Millisecond, 95)
	record(slow, 500, 10*time.Millisecond, 5)
	slow.requests.Add(5)
	slow.connFailures.Add(5)
	h.collect(1000)
	s := h.stats(time.Unix(0, 0))
	from, to := time.Unix(1000, 0), time.Unix(1001, 0)
	w1, w2 := s.Window("v1", from, to), s.Window("v2", from, to)
	p1, p2 := w1.Quantile(0.95), w2.Quantile(0.95)
	if p1 >= 2*time.Second+20*time.Millisecond || p1 < 2*time.Second-20*time.Millisecond {
		t.Errorf("v1 p95 %v, want 2s ± 1%%", p1)
	}
	if !(p2 > 2050*time.Millisecond) {
		t.Errorf("v2 p95 %v, want about 2.1s, above 2.05s", p2)
	}
	if w1.Requests != 100 || w1.ErrorRate() != 0 {
		t.Errorf("v1: %d requests, %v%% errors", w1.Requests, w1.ErrorRate())
	}
	if w2.Requests != 105 || w2.Errors5xx != 5 || w2.ConnFailures != 5 {
		t.Errorf("v2 window %+v", w2)
	}
	if got, want := w2.ErrorRate(), 10.0/105*100; absf(got-want) > 1e-9 {
		t.Errorf("v2 error rate %v, want %v", got, want)
	}
	if m := w1.Mean(); m < 1890*time.Millisecond || m > 1910*time.Millisecond {
		t.Errorf("v1 mean %v, want 1.9005s", m)
	}
	if q := w1.Quantile(0.01); q > 11*time.Millisecond {
		t.Errorf("v1 p1 %v, want about 10ms", q)
	}
	// Outside the window there is nothing.
	if w := s.Window("v1", to, to.Add(time.Minute)); w.Requests != 0 || w.Quantile(0.5) != 0 || w.Mean() != 0 {
		t.Errorf("empty window %+v", w)
	}
}

func TestHistoryKeepsSecondsApartAndForgets(t *testing.T) {
	h := newHistory(10 * time.Second)
	c := h.counters("v1")
	record(c, 200, time.Millisecond, 3)
	h.collect(100)
	h.collect(101) // an idle second stores nothing
	record(c, 503, time.Millisecond, 2)
	h.collect(102)
	s := h.stats(time.Unix(0, 0))
	if secs := s.Versions["v1"]; len(secs) != 2 || secs[0].Requests != 3 || secs[1].Requests != 2 || secs[1].Errors5xx != 2 {
		t.Fatalf("seconds %+v", secs)
	}
	if w := s.Window("v1", time.Unix(101, 0), time.Unix(103, 0)); w.Requests != 2 || w.ErrorRate() != 100 {
		t.Errorf("window 101..103: %+v rate %v", w, w.ErrorRate())
	}
	// Windows laid end to end mid-second take each second once: the one that ends inside.
	if w := s.Window("v1", time.Unix(100, 1), time.Unix(103, 0)); w.Requests != 5 {
		t.Errorf("window from 100.000000001: %d requests, want 5 (second 100 ends inside it)", w.Requests)
	}
	a, b := s.Window("v1", time.Unix(99, 5e8), time.Unix(101, 5e8)), s.Window("v1", time.Unix(101, 5e8), time.Unix(103, 5e8))
	if a.Requests != 3 || b.Requests != 2 {
		t.Errorf("windows 99.5..101.5 and 101.5..103.5: %d and %d requests, want 3 and 2", a.Requests, b.Requests)
	}
	if got := h.stats(time.Unix(102, 0)).Versions["v1"]; len(got) != 1 {
		t.Errorf("since 102: %+v", got)
	}
	record(c, 200, time.Millisecond, 1)
	h.collect(112) // second 100 is now older than 10s
	if secs := h.stats(time.Unix(0, 0)).Versions["v1"]; len(secs) != 2 || secs[0].Time != 102 {
		t.Errorf("after forgetting: %+v", secs)
	}
}
