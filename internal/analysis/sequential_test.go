package analysis

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// addAll feeds windows in order, failing the test on a refused one.
func addAll(t testing.TB, e Evidence, ws ...Window) Evidence {
	t.Helper()
	for _, w := range ws {
		var err error
		if e, err = e.Add(w); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func win(cn, cx, bn, bx int64) Window {
	return Window{Canary: Counts{Requests: cn, Events: cx}, Baseline: Counts{Requests: bn, Events: bx}}
}

func evaluate(t *testing.T, e Evidence, alpha float64) Result {
	t.Helper()
	c := DefaultConfig()
	c.Alpha = alpha
	r, err := EvaluateErrors(e, c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// binom draws Binomial(n, p) by summing Bernoullis: slow, exact, fine for test sizes.
func binom(r *rand.Rand, n int64, p float64) int64 {
	var x int64
	for range n {
		if r.Float64() < p {
			x++
		}
	}
	return x
}

// The false-alarm rate on A/A data stays below α at every look count, with the weight stepping
// up (5% → 25% → 50%) and the error rate drifting for both versions (0.5% → 2%), as in a real
// rollout. Tolerance: three binomial standard errors above α at these runs. It fails for a test
// that is not always-valid: judging each window alone at α, or a fixed-sample test looked at 60
// times, exceeds α many times over (TestNaiveRepeatedTestingWouldFail shows the harness sees it).
func TestFalseAlarmsBoundedAtEveryLook(t *testing.T) {
	t.Parallel()
	const runs, looks, alpha = 3000, 60, 0.05
	r := rand.New(rand.NewPCG(8, 1))
	crossedBy := make([]int, looks) // runs crossed at or before look i
	for range runs {
		var e Evidence
		first := looks
		for i := range looks {
			weight := []float64{0.05, 0.25, 0.5}[i*3/looks]
			p := 0.005 + 0.015*float64(i)/looks
			cn := int64(math.Round(40 * weight))
			bn := 40 - cn
			e = addAll(t, e, win(cn, binom(r, cn, p), bn, binom(r, bn, p)))
			if first == looks && e.LogE() >= math.Log(1/alpha) {
				first = i
			}
		}
		for i := first; i < looks; i++ {
			crossedBy[i]++
		}
	}
	tol := 3 * math.Sqrt(alpha*(1-alpha)/runs)
	for i, n := range crossedBy {
		if rate := float64(n) / runs; rate > alpha+tol {
			t.Errorf("look %d: %.4f of A/A runs flagged, want ≤ α %.2f + %.4f", i+1, rate, alpha, tol)
		}
	}
	t.Logf("A/A false-alarm rate after %d looks: %.4f (α %.2f)", looks, float64(crossedBy[looks-1])/runs, alpha)
}

// The same harness flags a test that is not always-valid: a one-sided z-test of the cumulative
// rates at level α, looked at every window, crosses far more often than α. This keeps the test
// above honest: it can see an invalid method.
func TestNaiveRepeatedTestingWouldFail(t *testing.T) {
	t.Parallel()
	const runs, looks, alpha = 1000, 60, 0.05
	r := rand.New(rand.NewPCG(8, 2))
	flagged := 0
	for range runs {
		var cn, cx, bn, bx float64
		for range looks {
			cn, bn = cn+20, bn+20
			cx += float64(binom(r, 20, 0.05))
			bx += float64(binom(r, 20, 0.05))
			p := (cx + bx) / (cn + bn)
			if se := math.Sqrt(p * (1 - p) * (1/cn + 1/bn)); se > 0 && (cx/cn-bx/bn)/se > 1.645 {
				flagged++
				break
			}
		}
	}
	if rate := float64(flagged) / runs; rate < 2*alpha {
		t.Fatalf("naive repeated z-test flagged %.3f of A/A runs; expected well above α %.2f", rate, alpha)
	}
}

func TestIdenticalNotFlagged(t *testing.T) {
	t.Parallel()
	for _, w := range []Window{win(2000, 10, 38000, 190), win(5000, 50, 5000, 50), win(100, 0, 1900, 0)} {
		e := addAll(t, Evidence{}, w, w, w)
		r := evaluate(t, e, 0.01)
		if r.Decision == Fail || r.Statistic > 0 {
			t.Errorf("%+v: %s with statistic %.3f; identical rates must not be flagged", w, r.Decision, r.Statistic)
		}
	}
}

// 10 errors in 2,000 canary requests against a baseline at 1 in 2,000.
func TestSparseErrorsDetected(t *testing.T) {
	t.Parallel()
	// At a 5% weight, the baseline served 38,000 requests over the same seconds: 19 errors.
	e := addAll(t, Evidence{}, win(2000, 10, 38000, 19))
	if r := evaluate(t, e, 0.01); r.Decision != Fail {
		t.Errorf("5%% weight: %s, statistic %.2f < %.2f", r.Decision, r.Statistic, r.Boundary)
	}
	// The same counts fed second by second reach the same evidence: windows pool.
	var fine Evidence
	for i := range 100 {
		var cx, bx int64
		if i%10 == 0 {
			cx = 1
		}
		if i%5 == 0 && i < 95 {
			bx = 1
		}
		fine = addAll(t, fine, win(20, cx, 380, bx))
	}
	if r := evaluate(t, fine, 0.01); r.Decision != Fail {
		t.Errorf("5%% weight, per-second windows: %s, statistic %.2f", r.Decision, r.Statistic)
	}
	// At an even split only 11 errors exist in all: Fisher's exact test gives p ≈ 0.006 once, and
	// no always-valid test reaches 0.01 on them (the best single ratio's likelihood ratio is 70).
	// At α 0.05 it is caught.
	even := addAll(t, Evidence{}, win(2000, 10, 2000, 1))
	if r := evaluate(t, even, 0.05); r.Decision != Fail {
		t.Errorf("even split at α 0.05: %s, statistic %.2f < %.2f", r.Decision, r.Statistic, r.Boundary)
	}
	if r := evaluate(t, even, 0.01); r.Statistic < math.Log(20) || r.Statistic > math.Log(100) {
		t.Errorf("even split at α 0.01: statistic %.2f, the documented limit is between ln 20 and ln 100", r.Statistic)
	}
}

// Zero errors in the baseline against some in the canary. At an even split 10 errors (each one
// halves the chance they all fell on one side) are what α 0.01 needs; 8 are not enough: even a
// fixed-sample Fisher test gives 0.004 once, and an always-valid test pays for looking often.
func TestZeroVersusSomeDetected(t *testing.T) {
	t.Parallel()
	for _, w := range []Window{win(2000, 5, 38000, 0), win(2000, 10, 2000, 0), win(500, 12, 500, 0)} {
		if r := evaluate(t, addAll(t, Evidence{}, w), 0.01); r.Decision != Fail {
			t.Errorf("%+v: %s, statistic %.2f < %.2f", w, r.Decision, r.Statistic, r.Boundary)
		}
	}
}

func TestEarlyPromotion(t *testing.T) {
	t.Parallel()
	// A healthy canary with plenty of traffic: a rise of 0.5pp on a 0.5% baseline is ruled out.
	big := addAll(t, Evidence{}, win(100000, 500, 1900000, 9500))
	r := evaluate(t, big, 0.01)
	if r.Decision != PassEligible {
		t.Errorf("large healthy sample: %s, ratio %+v", r.Decision, r.Ratio)
	}
	if r.EffectHigh >= 0.005 || r.EffectLow > 0 || r.Ratio.Low > 1 || r.Ratio.High < 1 {
		t.Errorf("effect %.4f [%.4f, %.4f], ratio %+v: the interval must hold no difference and exclude +0.5pp", r.Effect, r.EffectLow, r.EffectHigh, r.Ratio)
	}
	// A few hundred requests rule out nothing.
	if r := evaluate(t, addAll(t, Evidence{}, win(200, 1, 3800, 19)), 0.01); r.Decision != Continue {
		t.Errorf("small sample: %s, want Continue", r.Decision)
	}
	// No baseline error at all: the rate is not taken as zero, so nothing is ruled out early.
	if r := evaluate(t, addAll(t, Evidence{}, win(200, 0, 3800, 0)), 0.01); r.Decision != Continue {
		t.Errorf("no errors in few requests: %s, want Continue", r.Decision)
	}
}

// The interval covers the true ratio: checked on a regression of 3× with enough traffic.
func TestRatioIntervalCovers(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 3))
	misses := 0
	const runs = 200
	for range runs {
		e := addAll(t, Evidence{}, win(20000, binom(r, 20000, 0.03), 20000, binom(r, 20000, 0.01)))
		ratio := evaluate(t, e, 0.05).Ratio
		if ratio.Low > 3 || ratio.High < 3 {
			misses++
		}
	}
	if misses > runs*5/100+3 {
		t.Errorf("interval missed the true ratio in %d of %d runs (level 95%%)", misses, runs)
	}
}

func TestEvidenceAddIsPureAndPersists(t *testing.T) {
	t.Parallel()
	e := addAll(t, Evidence{}, win(100, 3, 1900, 10))
	before := slices.Clone(e.LogLik)
	next := addAll(t, e, win(100, 5, 1900, 2))
	if !slices.Equal(e.LogLik, before) {
		t.Fatal("Add changed its receiver's likelihood")
	}
	b, err := json.Marshal(next)
	if err != nil {
		t.Fatal(err)
	}
	var back Evidence
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Check(); err != nil {
		t.Fatal(err)
	}
	// A restart resumes the same test: the next window gives the same verdict either way.
	w := win(100, 4, 1900, 9)
	a, b2 := evaluate(t, addAll(t, next, w), 0.01), evaluate(t, addAll(t, back, w), 0.01)
	if a.Statistic != b2.Statistic || a.Decision != b2.Decision {
		t.Errorf("after a JSON round trip: %+v, want %+v", b2, a)
	}
	if next.Canary != (Counts{Requests: 200, Events: 8}) || next.Baseline != (Counts{Requests: 3800, Events: 12}) || next.Windows != 2 {
		t.Errorf("counts %+v %+v windows %d", next.Canary, next.Baseline, next.Windows)
	}
}

func TestBadInputRefused(t *testing.T) {
	t.Parallel()
	for _, w := range []Window{win(10, 11, 10, 0), win(-1, 0, 10, 0), win(10, 0, 10, -1)} {
		if _, err := (Evidence{}).Add(w); err == nil {
			t.Errorf("%+v accepted", w)
		}
	}
	for name, e := range map[string]Evidence{
		"short likelihood": {LogLik: []float64{1, 2}},
		"NaN":              {LogLik: slices.Repeat([]float64{math.NaN()}, gridSize)},
		"not relative":     {LogLik: slices.Repeat([]float64{1}, gridSize)},
		"counts":           {Canary: Counts{Requests: 1, Events: 2}},
	} {
		if _, err := EvaluateErrors(e, DefaultConfig()); err == nil {
			t.Errorf("%s: broken evidence accepted", name)
		}
	}
	c := DefaultConfig()
	c.Alpha = 0
	if _, err := EvaluateErrors(Evidence{}, c); err == nil {
		t.Error("alpha 0 accepted")
	}
}

// FuzzEvidence: a state read back from storage is input; whatever it holds, evaluating it either
// refuses it or gives a finite statistic and a known decision, never a panic.
func FuzzEvidence(f *testing.F) {
	e := addAll(f, Evidence{}, win(100, 3, 1900, 10))
	b, _ := json.Marshal(e)
	f.Add(b, int64(10), int64(1), int64(100), int64(2))
	f.Add([]byte(`{"windows":1,"logLik":[0]}`), int64(0), int64(0), int64(0), int64(0))
	f.Fuzz(func(t *testing.T, state []byte, cn, cx, bn, bx int64) {
		var e Evidence
		if json.Unmarshal(state, &e) != nil || e.Check() != nil {
			return
		}
		next, err := e.Add(win(cn%1e9, cx%1e9, bn%1e9, bx%1e9))
		if err != nil {
			return
		}
		for _, ev := range []Evidence{e, next} {
			r, err := EvaluateErrors(ev, DefaultConfig())
			if err != nil {
				continue // e.g. likelihoods grown past float range are refused, not used
			}
			if math.IsNaN(r.Statistic) || r.Ratio.Low > r.Ratio.High {
				t.Fatalf("%+v: %+v", ev, r)
			}
			if r.Decision != Fail && r.Decision != PassEligible && r.Decision != Continue {
				t.Fatalf("decision %q", r.Decision)
			}
		}
	})
}
