// Package backtest calibrates the sequential analysis by simulation: A/A and A/B canaries at a
// given traffic, weight, error rate, effect and drift, judged side by side by hugai's sequential
// test and by a per-window threshold rule tuned to the same false-alarm rate. It is pure: the
// caller gives the seed, and every run is reproducible from it.
package backtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/hugai-dev/hugai/internal/analysis"
)

// Scenario is one simulated canary, run Runs times.
type Scenario struct {
	RPS       float64 `json:"rps"`       // requests per second, both versions together
	Weight    float64 `json:"weight"`    // the canary's share of traffic, 0 < w < 1
	ErrorRate float64 `json:"errorRate"` // the baseline's error rate when the canary starts
	// DriftTo is both versions' error rate at the end of the rollout (linear in between); 0: none.
	DriftTo float64 `json:"driftTo"`
	// ErrorEffect multiplies the canary's error rate (1: an A/A run for errors).
	ErrorEffect float64 `json:"errorEffect"`
	// LatencyEffect raises every canary latency, so its p95, by this fraction (0: none).
	LatencyEffect float64 `json:"latencyEffect"`
	Latency       bool    `json:"latency"`  // judge latency too
	Duration      int     `json:"duration"` // seconds of canary traffic, the horizon
	Look          int     `json:"look"`     // seconds between looks of the sequential test
	Window        int     `json:"window"`   // seconds per window of the threshold rule
	Alpha         float64 `json:"alpha"`    // for the whole rollout, split evenly between the metrics judged
	Runs          int     `json:"runs"`
	Seed          uint64  `json:"seed"`
}

// Check reports the first field out of range.
func (s Scenario) Check() error {
	switch {
	case !(s.RPS > 0 && s.RPS <= 1e6):
		return fmt.Errorf("rps: %v is not in (0, 1e6]", s.RPS)
	case !(s.Weight > 0 && s.Weight < 1):
		return fmt.Errorf("weight: %v is not in (0, 1)", s.Weight)
	case !(s.ErrorRate >= 0 && s.ErrorRate < 1):
		return fmt.Errorf("error rate: %v is not in [0, 1)", s.ErrorRate)
	case !(s.DriftTo >= 0 && s.DriftTo < 1):
		return fmt.Errorf("drift: %v is not in [0, 1)", s.DriftTo)
	case !(s.ErrorEffect >= 0 && s.ErrorEffect <= 1e4):
		return fmt.Errorf("error effect: %v is not in [0, 1e4]", s.ErrorEffect)
	case !(s.LatencyEffect >= 0 && s.LatencyEffect <= 100):
		return fmt.Errorf("latency effect: %v is not in [0, 100]", s.LatencyEffect)
	case s.Duration <= 0 || s.Duration > 7*24*3600:
		return fmt.Errorf("duration: %ds is not in (0, 1 week]", s.Duration)
	case s.Look <= 0 || s.Look > s.Duration:
		return fmt.Errorf("look: %ds is not in (0, duration]", s.Look)
	case s.Window <= 0 || s.Window > s.Duration:
		return fmt.Errorf("window: %ds is not in (0, duration]", s.Window)
	case !(s.Alpha > 0 && s.Alpha <= 0.5):
		return fmt.Errorf("alpha: %v is not in (0, 0.5]", s.Alpha)
	case s.Runs <= 0:
		return fmt.Errorf("runs: %d is not positive", s.Runs)
	}
	return nil
}

// metricAlpha is each judged metric's share of the rollout's α (Bonferroni: the rollout's
// false-rollback rate is at most the sum).
func (s Scenario) metricAlpha() float64 {
	if s.Latency {
		return s.Alpha / 2
	}
	return s.Alpha
}

// Method is one judge's figures over the runs.
type Method struct {
	Name string `json:"name"`
	// Alarms is how many runs it rolled back: false rollbacks in an A/A scenario, detections in an A/B.
	Alarms    int     `json:"alarms"`
	Runs      int     `json:"runs"`
	AlarmRate float64 `json:"alarmRate"`
	// AlarmLow and AlarmHigh are the Wilson 95% interval of AlarmRate.
	AlarmLow  float64 `json:"alarmLow"`
	AlarmHigh float64 `json:"alarmHigh"`
	// Seconds of canary traffic to the rollback, over every run (a miss counts as never): nil when
	// that quantile is a miss.
	DetectMedian *float64 `json:"detectMedian"`
	DetectP90    *float64 `json:"detectP90"`
	Misses       int      `json:"misses"` // runs not rolled back within the horizon
	// Rule is the threshold rule's setting, tuned on A/A runs; empty for the sequential method.
	Rule string `json:"rule,omitempty"`
}

// Report is a scenario's figures, the methods side by side.
type Report struct {
	Scenario   Scenario `json:"scenario"`
	Sequential Method   `json:"sequential"`
	Threshold  Method   `json:"threshold"`
	// KnownRate is not a usable judge but a reference: the sequential test's error bets, told the
	// baseline's true error rate of each second instead of measuring it from the baseline's
	// requests. It shows what the comparison with a measured baseline costs: no test that has to
	// measure the baseline (and so stays valid when it drifts) has that information. Only in
	// scenarios that judge errors alone.
	KnownRate *Method `json:"knownRate,omitempty"`
}

// Run simulates the scenario. Runs are drawn from one generator seeded with s.Seed, so a report
// is reproducible; the threshold rule is tuned first on as many A/A runs of the same traffic,
// without drift (as a person tunes one on today's baseline), from a generator of its own.
func Run(s Scenario) (Report, error) {
	if err := s.Check(); err != nil {
		return Report{}, err
	}
	rules, err := tune(s)
	if err != nil {
		return Report{}, err
	}
	r := rand.New(rand.NewPCG(s.Seed, 1))
	seq := make([]float64, s.Runs)
	thr := make([]float64, s.Runs)
	known := make([]float64, s.Runs)
	for i := range s.Runs {
		o, err := simulate(r, s, rules)
		if err != nil {
			return Report{}, err
		}
		seq[i], thr[i], known[i] = o.seq, o.thr, o.known
	}
	rep := Report{Scenario: s, Sequential: summarise("sequential", seq), Threshold: summarise("threshold", thr)}
	if !s.Latency {
		k := summarise("known-rate", known)
		rep.KnownRate = &k
	}
	rep.Threshold.Rule = rules.String(s)
	return rep, nil
}

// rules are the threshold rule's tuned limits: the canary's window error rate, and its window
// p95 over the baseline's.
type rules struct{ errorRate, latencyRatio float64 }

func (t rules) String(s Scenario) string {
	out := fmt.Sprintf("error_rate>%.3g%% per %ds window", t.errorRate*100, s.Window)
	if s.Latency {
		out += fmt.Sprintf(", p95>%.3g× baseline", t.latencyRatio)
	}
	return out
}

// tune sets the threshold rule's limits so that each metric alone rolls back at most its share of
// α of A/A runs: the limit is a quantile of the runs' largest window statistic.
func tune(s Scenario) (rules, error) {
	aa := s
	aa.ErrorEffect, aa.LatencyEffect, aa.DriftTo = 1, 0, 0
	r := rand.New(rand.NewPCG(s.Seed, 2))
	errMax := make([]float64, s.Runs)
	latMax := make([]float64, s.Runs)
	inf := rules{errorRate: math.Inf(1), latencyRatio: math.Inf(1)}
	for i := range s.Runs {
		o, err := simulate(r, aa, inf)
		if err != nil {
			return rules{}, err
		}
		errMax[i], latMax[i] = o.maxErr, o.maxLat
	}
	return rules{errorRate: limit(errMax, s.metricAlpha()), latencyRatio: limit(latMax, s.metricAlpha())}, nil
}

// limit is the smallest of the maxima such that at most a share a of them lie strictly above it.
func limit(maxima []float64, a float64) float64 {
	slices.Sort(maxima)
	slices.Reverse(maxima)
	return maxima[min(len(maxima)-1, int(a*float64(len(maxima))))]
}

func summarise(name string, at []float64) Method {
	m := Method{Name: name, Runs: len(at)}
	for _, t := range at {
		if !math.IsInf(t, 1) {
			m.Alarms++
		}
	}
	m.Misses = m.Runs - m.Alarms
	m.AlarmRate = float64(m.Alarms) / float64(m.Runs)
	m.AlarmLow, m.AlarmHigh = wilson(m.Alarms, m.Runs)
	sorted := slices.Clone(at)
	slices.Sort(sorted)
	q := func(p float64) *float64 {
		v := sorted[min(len(sorted)-1, int(math.Ceil(p*float64(len(sorted))))-1)]
		if math.IsInf(v, 1) {
			return nil
		}
		return &v
	}
	m.DetectMedian, m.DetectP90 = q(0.5), q(0.9)
	return m
}

// wilson is the Wilson score interval at 95% for k successes in n.
func wilson(k, n int) (lo, hi float64) {
	const z = 1.959964
	p, nf := float64(k)/float64(n), float64(n)
	den := 1 + z*z/nf
	mid := (p + z*z/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	return max(0, mid-half), min(1, mid+half)
}

// outcome is one run: when each method rolled back (+Inf: never), and the largest window
// statistics the threshold rule saw (for tuning).
type outcome struct {
	seq, thr, known float64
	maxErr, maxLat  float64
}

// The simulated latency: log-normal around 100 ms (σ 0.5, so p95 ≈ 228 ms), the shape of a
// typical service's; the canary's is the baseline's scaled by 1 + LatencyEffect.
const (
	latencyMu    = -2.302585 // ln 0.1 s
	latencySigma = 0.5
)

func simulate(r *rand.Rand, s Scenario, rl rules) (outcome, error) {
	o := outcome{seq: math.Inf(1), thr: math.Inf(1), known: math.Inf(1)}
	cfg := analysis.DefaultConfig()
	cfg.Alpha = s.metricAlpha()
	boundary := math.Log(1 / cfg.Alpha)
	bets := analysis.FailBets()
	knownLog := make([]float64, len(bets)) // ln of each bet's likelihood ratio, told the true rate
	var errs analysis.Evidence
	var lat analysis.LatencyEvidence
	var win struct{ n, x int64 }
	var winB, winC []float64 // the threshold rule's window latencies
	var pooled []float64
	for t := range s.Duration {
		p := s.ErrorRate
		if s.DriftTo > 0 {
			p += (s.DriftTo - s.ErrorRate) * float64(t) / float64(s.Duration)
		}
		nb := poisson(r, s.RPS*(1-s.Weight))
		nc := poisson(r, s.RPS*s.Weight)
		xb := binomial(r, nb, p)
		xc := binomial(r, nc, min(1, p*s.ErrorEffect))
		var err error
		if errs, err = errs.Add(analysis.Window{Canary: analysis.Counts{Requests: nc, Events: xc}, Baseline: analysis.Counts{Requests: nb, Events: xb}}); err != nil {
			return o, err
		}
		win.n += nc
		win.x += xc
		for j, b := range bets {
			// Against the baseline's true rate p: each canary request is a Bernoulli trial, and a
			// success under θ·p ≥ 1 is impossible (the bet is lost: ln 0).
			knownLog[j] += float64(xc)*math.Log(b.Ratio) + float64(nc-xc)*math.Log(max(0, 1-b.Ratio*p)/(1-p))
		}
		if s.Latency {
			pooled = pooled[:0]
			start := len(winB)
			for range nb {
				winB = append(winB, math.Exp(latencyMu+latencySigma*r.NormFloat64()))
			}
			cstart := len(winC)
			for range nc {
				winC = append(winC, (1+s.LatencyEffect)*math.Exp(latencyMu+latencySigma*r.NormFloat64()))
			}
			pooled = append(append(pooled, winB[start:]...), winC[cstart:]...)
			if len(pooled) > 0 {
				q := quantile(pooled, 0.95)
				slow := analysis.SlowAbove(q, analysis.DefaultMaxLatencyP95)
				w := analysis.LatencyWindow{Slow: analysis.Window{
					Canary: analysis.Counts{Requests: nc}, Baseline: analysis.Counts{Requests: nb},
				}}
				for _, v := range winB[start:] {
					if v > slow {
						w.Slow.Baseline.Events++
					}
				}
				for _, v := range winC[cstart:] {
					if v > slow {
						w.Slow.Canary.Events++
						if v > q*(1+analysis.DefaultMaxLatencyP95) {
							w.BeyondMax++
						}
					}
				}
				if lat, err = lat.Add(w); err != nil {
					return o, err
				}
			}
		}
		now := float64(t + 1)
		if (t+1)%s.Look == 0 && math.IsInf(o.seq, 1) {
			if errs.LogE() >= boundary || s.Latency && lat.Slow.LogE() >= boundary {
				o.seq = now
			}
		}
		if (t+1)%s.Look == 0 && math.IsInf(o.known, 1) {
			var m float64
			for j, b := range bets {
				m += b.Weight * math.Exp(knownLog[j])
			}
			if m >= 1/cfg.Alpha {
				o.known = now
			}
		}
		if (t+1)%s.Window == 0 {
			fired := false
			if win.n > 0 {
				er := float64(win.x) / float64(win.n)
				o.maxErr = max(o.maxErr, er)
				fired = er > rl.errorRate
			}
			if s.Latency && len(winB) > 0 && len(winC) > 0 {
				ratio := quantile(winC, 0.95) / quantile(winB, 0.95)
				o.maxLat = max(o.maxLat, ratio)
				fired = fired || ratio > rl.latencyRatio
			}
			if fired && math.IsInf(o.thr, 1) {
				o.thr = now
			}
			win.n, win.x = 0, 0
			winB, winC = winB[:0], winC[:0]
		}
		if !math.IsInf(o.seq, 1) && !math.IsInf(o.thr, 1) && !math.IsInf(o.known, 1) && !math.IsInf(rl.errorRate, 1) {
			break // both decided; tuning runs (infinite limits) go on to find their maxima
		}
	}
	return o, nil
}
