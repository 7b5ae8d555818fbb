package analysis

import (
	"fmt"
	"math"
)

// MinLatencyShift is the smallest rise of latency the latency test counts: a request is slow only
// when it is slower than the pooled p95 by at least this much. Below it, differences are real but
// matter to nobody, and a test that counts them rolls back healthy candidates: on real rollouts
// through the proxy (bench/judge-real.sh) a fresh 5% candidate of a service answering in
// microseconds was measured a few milliseconds slower than the stable version on a loaded
// machine (fewer warm connections, a new process), and with a 1 ms floor the exact test rolled
// back one healthy candidate in two. 5 ms is below any latency regression a person would roll
// back for.
const MinLatencyShift = 0.005 // seconds

// SlowAbove is the latency above which a request counts as slow in the latency test, given the
// pooled p95 of its window (seconds) and maxRegression.latencyP95: the p95 raised by the
// regression still acceptable, and by MinLatencyShift at least. It is a function of the pooled
// requests alone, so the test stays exact.
func SlowAbove(p95, maxRegression float64) float64 {
	return max(p95*(1+maxRegression), p95+MinLatencyShift)
}

// LatencyWindowFrom builds a latency window from the two versions' histograms of the same seconds,
// as the proxy keeps them per second: counts[i] requests fell in bucket i, whose upper bound is
// upper[i] (increasing; both versions share the layout; the lower bound of bucket i is upper[i-1],
// so a sparse layout must include each used bucket's lower neighbour). The pooled p95 is located
// to its bucket b: the ⌈0.95·N⌉-th fastest of both versions' N requests falls in it, and b's upper
// bound stands for it. A request is slow when its whole bucket lies above SlowAbove of that; the
// threshold is a function of the pooled requests alone, so the test stays exact. BeyondMax counts
// the canary's requests in buckets that may be slower than (1 + maxRegression) × the p95 (their
// upper bound is above (1 + maxRegression) × b's lower bound): it errs towards counting, which
// only ever delays an early promotion.
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
	slow := SlowAbove(upper[min(b, len(upper)-1)], maxRegression)
	for j := b + 1; j < len(upper); j++ {
		if upper[j-1] >= slow {
			w.Slow.Canary.Events += int64(canary[j])
			w.Slow.Baseline.Events += int64(baseline[j])
		}
		if upper[j] > (1+maxRegression)*lower {
			w.BeyondMax += int64(canary[j])
		}
	}
	// BeyondMax counts toward early promotion among the slow ones only (Add checks it).
	w.BeyondMax = min(w.BeyondMax, w.Slow.Canary.Events)
	return w, nil
}
