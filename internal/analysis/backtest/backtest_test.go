package backtest

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

func goal() Scenario {
	return Scenario{RPS: 100, Weight: 0.05, ErrorRate: 0.005, ErrorEffect: 1, Duration: 600, Look: 1, Window: 10, Alpha: 0.01, Runs: 200, Seed: 7}
}

// The same seed gives the same report; another seed another.
func TestReproducible(t *testing.T) {
	t.Parallel()
	s := goal()
	s.ErrorEffect, s.Runs = 4, 40
	a, err := Run(s)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Run(s)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different reports:\n%+v\n%+v", a, b)
	}
	s.Seed++
	if c, _ := Run(s); reflect.DeepEqual(a.Sequential, c.Sequential) {
		t.Error("another seed gave the very same figures")
	}
}

// A small run of the goal scenarios, with tolerances for 200 runs (the full figures come from
// bench/backtest.sh): A/A false rollbacks within α plus three standard errors for both methods
// (the threshold rule is tuned to α on runs of its own); a 10× regression always caught by the
// sequential test, faster than by the rule.
func TestGoalScenarios(t *testing.T) {
	t.Parallel()
	aa, err := Run(goal())
	if err != nil {
		t.Fatal(err)
	}
	tol := 3 * math.Sqrt(0.01*0.99/200)
	for _, m := range []Method{aa.Sequential, aa.Threshold} {
		if m.AlarmRate > 0.01+tol {
			t.Errorf("A/A %s: %.3f rolled back, want ≤ %.3f", m.Name, m.AlarmRate, 0.01+tol)
		}
		if m.Misses != m.Runs-m.Alarms {
			t.Errorf("%s: misses %d of %d runs with %d alarms", m.Name, m.Misses, m.Runs, m.Alarms)
		}
	}
	s := goal()
	s.ErrorEffect = 10
	ab, err := Run(s)
	if err != nil {
		t.Fatal(err)
	}
	if ab.Sequential.Misses != 0 || ab.Sequential.DetectMedian == nil || *ab.Sequential.DetectMedian > 30 {
		t.Errorf("10×: %+v; want every run caught, median ≤ 30 s", ab.Sequential)
	}
	if ab.Threshold.DetectMedian != nil && *ab.Threshold.DetectMedian < *ab.Sequential.DetectMedian {
		t.Errorf("10×: threshold median %v before sequential %v", *ab.Threshold.DetectMedian, *ab.Sequential.DetectMedian)
	}
	// The known-rate reference has strictly more information than the test: it bets the same, so
	// it must be valid under A/A and no slower on 10×.
	if k := aa.KnownRate; k.AlarmRate > 0.01+tol {
		t.Errorf("A/A known-rate: %.3f rolled back, want ≤ %.3f", k.AlarmRate, 0.01+tol)
	}
	if k := ab.KnownRate; k.Misses != 0 || *k.DetectMedian > *ab.Sequential.DetectMedian {
		t.Errorf("10× known-rate: %+v; want every run caught, no later than the sequential test's %v", k, *ab.Sequential.DetectMedian)
	}
}

func TestLatencyScenario(t *testing.T) {
	t.Parallel()
	s := goal()
	s.Latency, s.LatencyEffect, s.Runs, s.Duration = true, 0.5, 50, 120
	r, err := Run(s)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sequential.Misses > 1 || *r.Sequential.DetectMedian > 30 {
		t.Errorf("p95 +50%%: %+v", r.Sequential)
	}
}

func TestScenarioChecked(t *testing.T) {
	t.Parallel()
	for name, mut := range map[string]func(*Scenario){
		"rps": func(s *Scenario) { s.RPS = 0 }, "weight": func(s *Scenario) { s.Weight = 1 },
		"error rate": func(s *Scenario) { s.ErrorRate = math.NaN() }, "look": func(s *Scenario) { s.Look = 601 },
		"runs": func(s *Scenario) { s.Runs = 0 }, "alpha": func(s *Scenario) { s.Alpha = 0 },
	} {
		s := goal()
		mut(&s)
		if _, err := Run(s); err == nil || err.Error()[:len(name)] != name {
			t.Errorf("%s: got %v, want an error naming it", name, err)
		}
	}
}

func TestSamplers(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 1))
	const n = 20000
	for _, c := range []struct {
		name       string
		draw       func() int64
		mean, vari float64
	}{
		{"poisson 5", func() int64 { return poisson(r, 5) }, 5, 5},
		{"poisson 95", func() int64 { return poisson(r, 95) }, 95, 95},
		{"binomial 95, 0.005", func() int64 { return binomial(r, 95, 0.005) }, 0.475, 95 * 0.005 * 0.995},
		{"binomial 1000, 0.5", func() int64 { return binomial(r, 1000, 0.5) }, 500, 250},
	} {
		var sum, sq float64
		for range n {
			x := float64(c.draw())
			sum += x
			sq += x * x
		}
		mean := sum / n
		vari := sq/n - mean*mean
		if math.Abs(mean-c.mean) > 4*math.Sqrt(c.vari/n) || math.Abs(vari-c.vari) > 0.1*c.vari {
			t.Errorf("%s: mean %.4f var %.4f, want %.4f, %.4f", c.name, mean, vari, c.mean, c.vari)
		}
	}
	xs := []float64{5, 1, 4, 2, 3, 9, 8, 7, 6, 10}
	if q := quantile(xs, 0.95); q != 10 {
		t.Errorf("p95 of 1..10 = %v", q)
	}
	if q := quantile(xs, 0.5); q != 5 {
		t.Errorf("median of 1..10 = %v", q)
	}
	if lo, hi := wilson(10, 1000); math.Abs(lo-0.00543) > 1e-4 || math.Abs(hi-0.01830) > 1e-4 {
		t.Errorf("wilson(10, 1000) = %.5f, %.5f", lo, hi)
	}
}
