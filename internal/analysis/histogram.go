package analysis

import (
	"fmt"
	"math"
)

// LatencyWindowFrom builds a latency window from the two versions' histograms of the same seconds,
// as the proxy keeps them per second: counts[i] requests fell in bucket i, whose upper bound is
// upper[i] (increasing; both versions share the layout). The pooled p95 is located to its bucket
// b: the ⌈0.95·N⌉-th fastest of both versions' N requests falls in it. A request is slow when it
// fell in a bucket above b, so "slower than the p95" is decided at the histogram's resolution; the
// bucket is a function of the pooled requests alone, so the test stays exact. BeyondMax counts the
// canary's requests in buckets above b that may be slower than (1 + maxRegression) × the p95
// (their upper bound is above (1 + maxRegression) × b's lower bound): it errs towards counting,
// which only ever delays an early promotion.
func LatencyWindowFrom(canary, baseline []uint64, upper []float64, maxRegression float64) (LatencyWindow, error) {
	if len(canary) != len(upper) || len(baseline) != len(upper) {
		return LatencyWindow{}, fmt.Errorf("histograms of %d and %d buckets, %d bounds", len(canary), len(baseline), len(upper))
	}
	if !(maxRegression >= 0) || math.IsInf(maxRegression, 0) {
		return LatencyWindow{}, fmt.Errorf("maxRegression %v is not a finite fraction", maxRegression)
	}
	for i, u := range upper {
		if math.IsNaN(u) || i > 0 && u <= upper[i-1] {
			return LatencyWindow{}, fmt.Errorf("bucket bounds not increasing at %d", i)
		}
	}
	var w LatencyWindow
	var total uint64
	for i := range upper {
		total += canary[i] + baseline[i]
		w.Slow.Canary.Requests += int64(canary[i])
		w.Slow.Baseline.Requests += int64(baseline[i])
	}
	if total == 0 {
		return w, nil
	}
	rank := uint64(math.Ceil(0.95 * float64(total)))
	b := 0
	for cum := uint64(0); b < len(upper); b++ {
		if cum += canary[b] + baseline[b]; cum >= rank {
			break
		}
	}
	lower := 0.0
	if b > 0 {
		lower = upper[b-1]
	}
	for j := b + 1; j < len(upper); j++ {
		w.Slow.Canary.Events += int64(canary[j])
		w.Slow.Baseline.Events += int64(baseline[j])
		if upper[j] > (1+maxRegression)*lower {
			w.BeyondMax += int64(canary[j])
		}
	}
	return w, nil
}
