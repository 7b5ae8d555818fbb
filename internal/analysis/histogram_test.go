package analysis

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// logBuckets is a log-linear layout like the proxy's: 64 buckets per power of two from 1 ms.
func logBuckets() []float64 {
	var up []float64
	for i := 1; i <= 64*14; i++ {
		up = append(up, 0.001*math.Exp2(float64(i)/64))
	}
	return up
}

func bucketOf(up []float64, v float64) int {
	for i, u := range up {
		if v < u {
			return i
		}
	}
	return len(up) - 1
}

// From fine histograms, the window agrees with counting the raw latencies against SlowAbove of
// their pooled p95, up to the requests that share a bucket with either bound.
func TestLatencyWindowFromHistograms(t *testing.T) {
	t.Parallel()
	up := logBuckets()
	r := rand.New(rand.NewPCG(4, 4))
	c, b := make([]uint64, len(up)), make([]uint64, len(up))
	var raw []float64
	for i := range 2000 {
		v := math.Exp(-2.3 + 0.5*r.NormFloat64())
		if i%20 == 0 {
			v *= 1.5
			c[bucketOf(up, v)]++
		} else {
			b[bucketOf(up, v)]++
		}
		raw = append(raw, v)
	}
	w, err := LatencyWindowFrom(c, b, up, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	if w.Slow.Canary.Requests != 100 || w.Slow.Baseline.Requests != 1900 {
		t.Fatalf("requests %+v", w.Slow)
	}
	slices.Sort(raw)
	above := SlowAbove(raw[int(math.Ceil(0.95*2000))-1], 0.1)
	want := 0
	for _, v := range raw {
		if v > above {
			want++
		}
	}
	slow := int(w.Slow.Canary.Events + w.Slow.Baseline.Events)
	if slow > want || slow < want*9/10 {
		t.Errorf("%d of 2,000 requests slower than 1.1× the pooled p95, counting the raw latencies says %d", slow, want)
	}
	if w.Slow.Canary.Events < 10 || w.BeyondMax > w.Slow.Canary.Events || w.BeyondMax == 0 {
		t.Errorf("canary slow %d, beyond max %d: a 1.5× slower canary must show", w.Slow.Canary.Events, w.BeyondMax)
	}
	if _, err := (LatencyEvidence{}).Add(w); err != nil {
		t.Fatal(err)
	}
	// A millisecond-fast service: a shift of a few milliseconds is not slow, one of 10 ms is.
	fast := []float64{0.0002, 0.0004, 0.0006, 0.0008, 0.0032, 0.0064, 0.0128}
	fc, fb := []uint64{0, 0, 5, 5, 0, 0, 0}, []uint64{95, 5, 0, 0, 0, 0, 0}
	if w, err := LatencyWindowFrom(fc, fb, fast, 0.1); err != nil || w.Slow.Canary.Events != 0 {
		t.Errorf("a sub-millisecond shift counted as slow: %+v %v", w, err)
	}
	fc = []uint64{0, 0, 5, 0, 5, 0, 0}
	if w, err := LatencyWindowFrom(fc, fb, fast, 0.1); err != nil || w.Slow.Canary.Events != 0 {
		t.Errorf("a 3 ms shift counted as slow: %+v %v", w, err)
	}
	fc = []uint64{0, 0, 5, 0, 0, 0, 5}
	if w, err := LatencyWindowFrom(fc, fb, fast, 0.1); err != nil || w.Slow.Canary.Events != 5 {
		t.Errorf("a 12 ms shift not counted as slow: %+v %v", w, err)
	}
	// Nothing at all is a window with no requests.
	if w, err := LatencyWindowFrom(make([]uint64, 3), make([]uint64, 3), []float64{1, 2, 3}, 0.1); err != nil || w.Slow.Canary.Requests != 0 {
		t.Errorf("empty: %+v, %v", w, err)
	}
	for name, f := range map[string]func() error{
		"lengths": func() error {
			_, err := LatencyWindowFrom(make([]uint64, 2), make([]uint64, 3), []float64{1, 2, 3}, 0.1)
			return err
		},
		"bounds": func() error {
			_, err := LatencyWindowFrom(make([]uint64, 2), make([]uint64, 2), []float64{2, 1}, 0.1)
			return err
		},
		"regression": func() error { _, err := LatencyWindowFrom(nil, nil, nil, math.NaN()); return err },
	} {
		if f() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
