package analysis

import (
	"fmt"
	"math"
)

// The latency test reuses the error-rate test's machinery with another event: a request slower
// than the window's pooled p95, the 95th percentile of both versions' requests of that window
// together (merge the two per-second histograms, take the p95, count each version's requests in
// the buckets above it). When the versions are alike their requests are exchangeable, so which
// of the slow requests are the canary's is a draw without replacement, whatever the latency's
// shape or its drift: the test is exact, not asymptotic. A p95 that rises by half makes typically
// 15–25% of the canary's requests slow instead of 5%, a ratio of 3–5, which the mixture catches in
// seconds at 5 canary requests per second.
//
// Early promotion asks the opposite question: is the canary's p95 below (1 + maxRegression) times
// the baseline's? That holds when fewer than 5% of the canary's requests are slower than
// (1 + maxRegression) × the pooled p95, so the window also counts those (BeyondMax), and a
// one-sample always-valid test of that share against 5% decides. The threshold is itself an
// estimate, so this bound is approximate; it only ever allows an opt-in early promotion.

// LatencyWindow is one window of the latency test.
type LatencyWindow struct {
	// Slow: each version's requests and, as Events, those slower than the window's pooled p95.
	Slow Window `json:"slow"`
	// BeyondMax is how many of the canary's requests were slower than (1 + maxRegression.latencyP95)
	// × the window's pooled p95.
	BeyondMax int64 `json:"beyondMax"`
}

// LatencyEvidence is the latency test's persisted state.
type LatencyEvidence struct {
	Slow Evidence `json:"slow"`
	// BeyondMax: the canary's requests and, as Events, those beyond (1 + maxRegression) × p95.
	BeyondMax Counts `json:"beyondMax"`
}

// Add returns the evidence with one more window; e is unchanged.
func (e LatencyEvidence) Add(w LatencyWindow) (LatencyEvidence, error) {
	if w.BeyondMax < 0 || w.BeyondMax > w.Slow.Canary.Events {
		// Slower than (1+m)·p95 implies slower than p95.
		return e, fmt.Errorf("latency window %d: %d canary requests beyond the maximum, %d slow", e.Slow.Windows+1, w.BeyondMax, w.Slow.Canary.Events)
	}
	slow, err := e.Slow.Add(w.Slow)
	if err != nil {
		return e, fmt.Errorf("latency: %w", err)
	}
	return LatencyEvidence{
		Slow:      slow,
		BeyondMax: Counts{Requests: e.BeyondMax.Requests + w.Slow.Canary.Requests, Events: e.BeyondMax.Events + w.BeyondMax},
	}, nil
}

// Check verifies latency evidence read back from storage.
func (e LatencyEvidence) Check() error {
	if err := e.Slow.Check(); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	if err := e.BeyondMax.check("latency: beyond maximum"); err != nil {
		return err
	}
	if e.BeyondMax.Requests != e.Slow.Canary.Requests || e.BeyondMax.Events > e.Slow.Canary.Events {
		return fmt.Errorf("latency: beyond-maximum counts %d/%d disagree with the canary's %d/%d",
			e.BeyondMax.Events, e.BeyondMax.Requests, e.Slow.Canary.Events, e.Slow.Canary.Requests)
	}
	return nil
}

// tailShare is the share of requests above a p95: what the test expects of a canary like the
// baseline.
const tailShare = 0.05

// EvaluateLatency looks at the latency evidence: Fail when the canary's requests are slow more
// often than the baseline's at level c.Alpha; PassEligible when a p95 rise of
// c.MaxRegression.LatencyP95 or more is ruled out; Continue otherwise.
func EvaluateLatency(e LatencyEvidence, c Config) (Result, error) {
	if err := c.check(); err != nil {
		return Result{}, err
	}
	if err := e.Check(); err != nil {
		return Result{}, err
	}
	r := baseResult("latency_p95", e.Slow, c)
	base := rate(e.Slow.Baseline)
	if e.Slow.Baseline.Requests == 0 {
		base = tailShare
	}
	r.Effect = rate(e.Slow.Canary)
	r.EffectLow = math.Min(1, r.Ratio.Low*base)
	r.EffectHigh = math.Min(1, r.Ratio.High*base)
	if r.Decision == Fail || e.Slow.Baseline.Requests == 0 {
		return r, nil
	}
	if tailBelow(e.BeyondMax, tailShare, c.Alpha) {
		r.Decision = PassEligible
	}
	return r, nil
}

// tailBelow reports whether a share of at least p0 is ruled out at level a by x events in n: an
// always-valid one-sample test with a mixture over shares below p0 (each alternative's likelihood
// ratio is a test martingale under any share ≥ p0, so the mixture is too).
func tailBelow(c Counts, p0, a float64) bool {
	if c.Requests == 0 {
		return false
	}
	x, n := float64(c.Events), float64(c.Requests)
	var vs []float64
	for _, f := range []float64{0.8, 0.6, 0.4, 0.2} {
		p := f * p0
		vs = append(vs, math.Log(0.25)+x*math.Log(p/p0)+(n-x)*math.Log((1-p)/(1-p0)))
	}
	return logSumExp(vs) >= math.Log(1/a)
}
