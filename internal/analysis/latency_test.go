package analysis

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// latencyWindow draws one window of log-normal latencies (the canary's scaled by 1+shift) and
// counts them against the pooled p95, as a caller does from the two versions' histograms.
func latencyWindow(r *rand.Rand, cn, bn int, shift, maxRegression float64) LatencyWindow {
	draw := func() float64 { return math.Exp(-2.3 + 0.5*r.NormFloat64()) }
	c := make([]float64, cn)
	b := make([]float64, bn)
	for i := range c {
		c[i] = (1 + shift) * draw()
	}
	for i := range b {
		b[i] = draw()
	}
	pooled := slices.Sorted(slices.Values(append(slices.Clone(c), b...)))
	q := pooled[int(math.Ceil(0.95*float64(len(pooled))))-1]
	w := LatencyWindow{Slow: Window{Canary: Counts{Requests: int64(cn)}, Baseline: Counts{Requests: int64(bn)}}}
	for _, v := range c {
		if v > q {
			w.Slow.Canary.Events++
		}
		if v > q*(1+maxRegression) {
			w.BeyondMax++
		}
	}
	for _, v := range b {
		if v > q {
			w.Slow.Baseline.Events++
		}
	}
	return w
}

func addLatency(t *testing.T, e LatencyEvidence, w LatencyWindow) LatencyEvidence {
	t.Helper()
	e, err := e.Add(w)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// A/A latency at 100 req/s, 5% canary, per-second windows for two minutes: the share of runs
// flagged stays below α plus three standard errors, at every look.
func TestLatencyFalseAlarmsBounded(t *testing.T) {
	t.Parallel()
	const runs, looks, alpha = 600, 120, 0.05
	r := rand.New(rand.NewPCG(9, 1))
	flagged := 0
	for range runs {
		var e LatencyEvidence
		for range looks {
			e = addLatency(t, e, latencyWindow(r, 5, 95, 0, DefaultMaxLatencyP95))
			if e.Slow.LogE() >= math.Log(1/alpha) {
				flagged++
				break
			}
		}
	}
	if tol := 3 * math.Sqrt(alpha*(1-alpha)/runs); float64(flagged)/runs > alpha+tol {
		t.Errorf("%d of %d A/A runs flagged, want ≤ α %.2f + %.3f", flagged, runs, alpha, tol)
	}
}

// A p95 50% higher is caught within a minute in nearly every run.
func TestLatencyShiftDetected(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(9, 2))
	c := DefaultConfig()
	caught := 0
	const runs = 100
	for range runs {
		var e LatencyEvidence
		for range 60 {
			e = addLatency(t, e, latencyWindow(r, 5, 95, 0.5, c.MaxRegression.LatencyP95))
			res, err := EvaluateLatency(e, c)
			if err != nil {
				t.Fatal(err)
			}
			if res.Decision == Fail {
				caught++
				if res.Effect <= tailShare || res.Ratio.Estimate <= 1 {
					t.Fatalf("caught with effect %.3f, ratio %+v: the estimate must show the canary slower", res.Effect, res.Ratio)
				}
				break
			}
		}
	}
	if caught < runs*95/100 {
		t.Errorf("p95 +50%% caught within 60 s in %d of %d runs, want ≥ 95%%", caught, runs)
	}
}

func TestLatencyEarlyPromotion(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(9, 3))
	c := DefaultConfig()
	var same, worse LatencyEvidence
	for range 60 {
		same = addLatency(t, same, latencyWindow(r, 50, 50, 0, c.MaxRegression.LatencyP95))
		worse = addLatency(t, worse, latencyWindow(r, 50, 50, 0.12, c.MaxRegression.LatencyP95))
	}
	if res, _ := EvaluateLatency(same, c); res.Decision != PassEligible {
		t.Errorf("3,000 like requests: %s, beyond max %+v", res.Decision, same.BeyondMax)
	}
	if res, _ := EvaluateLatency(worse, c); res.Decision == PassEligible {
		t.Errorf("p95 +12%% is past maxRegression 10%% but was eligible for early promotion")
	}
}

func TestLatencyBadInputRefused(t *testing.T) {
	t.Parallel()
	w := LatencyWindow{Slow: win(10, 1, 90, 5), BeyondMax: 2}
	if _, err := (LatencyEvidence{}).Add(w); err == nil {
		t.Error("more canary requests beyond the maximum than slow ones accepted")
	}
	broken := LatencyEvidence{BeyondMax: Counts{Requests: 5}}
	if _, err := EvaluateLatency(broken, DefaultConfig()); err == nil {
		t.Error("beyond-maximum counts that disagree with the canary's accepted")
	}
}
