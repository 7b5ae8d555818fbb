package analysis

import (
	"errors"
	"fmt"
	"math"
)

// The sequential test compares the candidate ("canary") with the baseline measured over the same
// seconds. Its events are errors (the error-rate test) or requests slower than the window's
// pooled p95 (the latency test, latency.go). Within a window, given how many events both versions
// had together, each event is the canary's with probability s = canary requests / all requests
// when the versions are alike: whatever the service's own error rate does (a dependency degrading
// for everyone), it cancels out. Against a canary whose per-request event probability is θ times
// the baseline's, the window's likelihood ratio is θ^x / (θs + 1 − s)^k (x canary events of k).
// Its product over windows, mixed over θ, is a test martingale (a supermartingale under the exact,
// hypergeometric null: Hoeffding 1963), so by Ville's inequality it crosses 1/α with probability at
// most α however often it is looked at and however the weights change between steps. That is the
// conditional test of Lindon et al. (KDD 2022) with a discrete mixture; docs/analysis.md has the
// derivation.

// Counts are one version's requests and events (errors, or slow requests) in a window or since
// the canary got traffic.
type Counts struct {
	Requests int64 `json:"requests"`
	Events   int64 `json:"events"`
}

// Window is what both versions did over the same seconds. Any length works (a second, an analysis
// interval): evidence is the product over windows. Shorter windows follow weight changes and drift
// more closely; the proxy's per-second history gives one-second windows.
type Window struct {
	Canary   Counts `json:"canary"`
	Baseline Counts `json:"baseline"`
}

func (c Counts) check(who string) error {
	if c.Requests < 0 || c.Events < 0 || c.Events > c.Requests {
		return fmt.Errorf("%s: %d events of %d requests", who, c.Events, c.Requests)
	}
	return nil
}

func (w Window) check() error {
	if err := w.Canary.check("canary"); err != nil {
		return err
	}
	return w.Baseline.check("baseline")
}

// The likelihood is kept on a grid of ratios θ_j = 2^(j/4), j = −gridHalf..gridHalf (1/64 to 64):
// fine enough that the mixture loses little against the best single θ, small enough to persist.
const (
	gridHalf = 24
	gridSize = 2*gridHalf + 1
	gridStep = 0.25 // log2 of the ratio between neighbours
)

func gridRatio(i int) float64 { return math.Exp2(float64(i-gridHalf) * gridStep) }

// gridLog is ln θ_i, computed rather than tabled: the core keeps no package state.
func gridLog(i int) float64 { return float64(i-gridHalf) * gridStep * math.Ln2 }

// Evidence is everything the test remembers: cumulative counts for the live view and the log
// likelihood of each ratio on the grid. It is persisted (JSON) in the rollout's state, so a
// restart resumes the same test; Check verifies one read back.
type Evidence struct {
	Windows  int    `json:"windows"`
	Canary   Counts `json:"canary"`
	Baseline Counts `json:"baseline"`
	// LogLik[j] is ln L(θ_j) − ln L(1); empty until the first window with an event.
	LogLik []float64 `json:"logLik,omitempty"`
}

// Add returns the evidence with one more window. It does not change e: a caller that persists the
// old state keeps it intact until the new one is written.
func (e Evidence) Add(w Window) (Evidence, error) {
	if err := w.check(); err != nil {
		return e, fmt.Errorf("window %d: %w", e.Windows+1, err)
	}
	next := e
	next.Windows++
	next.Canary.Requests += w.Canary.Requests
	next.Canary.Events += w.Canary.Events
	next.Baseline.Requests += w.Baseline.Requests
	next.Baseline.Events += w.Baseline.Events
	k := w.Canary.Events + w.Baseline.Events
	n := w.Canary.Requests + w.Baseline.Requests
	if k == 0 || w.Canary.Requests == 0 || w.Baseline.Requests == 0 {
		// No event, or one version had no traffic: the ratio of the likelihoods is 1 for every θ.
		return next, nil
	}
	next.LogLik = make([]float64, gridSize)
	copy(next.LogLik, e.LogLik)
	s := float64(w.Canary.Requests) / float64(n)
	x, kf := float64(w.Canary.Events), float64(k)
	for i := range gridSize {
		next.LogLik[i] += x*gridLog(i) - kf*math.Log1p(s*(gridRatio(i)-1))
	}
	return next, nil
}

// Check verifies evidence read back from storage: a broken state is a reported failure of that
// rollout, never a panic or a silently wrong verdict.
func (e Evidence) Check() error {
	if e.Windows < 0 {
		return fmt.Errorf("evidence: %d windows", e.Windows)
	}
	if err := e.Canary.check("evidence: canary"); err != nil {
		return err
	}
	if err := e.Baseline.check("evidence: baseline"); err != nil {
		return err
	}
	if len(e.LogLik) != 0 && len(e.LogLik) != gridSize {
		return fmt.Errorf("evidence: %d likelihood points, want %d", len(e.LogLik), gridSize)
	}
	for _, v := range e.LogLik {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return errors.New("evidence: likelihood not finite")
		}
	}
	if len(e.LogLik) != 0 && e.LogLik[gridHalf] != 0 {
		return errors.New("evidence: likelihood not relative to ratio 1")
	}
	return nil
}

func (e Evidence) logLik(i int) float64 {
	if len(e.LogLik) == 0 {
		return 0
	}
	return e.LogLik[i]
}

// failPrior is the mixture over regressions the rollback test bets on: offsets above ratio 1 on
// the grid (4 steps = a doubling) and their weights, which sum to 1: a doubling (2×, the smallest
// regression the goals ask to catch, slow evidence that needs all the weight it can get) and 9.5×
// (a gross regression, whose first few errors must suffice). Spreading weight over more ratios
// was measured to cost both ends seconds or power (docs/analysis.md). Tuned with `hugai analyze
// backtest`; a different prior changes no validity, only which regressions are caught sooner.
func failPrior() [][2]float64 {
	return [][2]float64{{4, 0.55}, {13, 0.45}}
}

// Bet is one regression the rollback test bets on: a ratio of the canary's error rate to the
// baseline's, and its share of the mixture.
type Bet struct{ Ratio, Weight float64 }

// FailBets is the rollback test's mixture, for a harness that puts other tests beside it on the
// same bets.
func FailBets() []Bet {
	var bets []Bet
	for _, p := range failPrior() {
		bets = append(bets, Bet{Ratio: gridRatio(gridHalf + int(p[0])), Weight: p[1]})
	}
	return bets
}

// logSumExp returns ln Σ exp(v) stably.
func logSumExp(vs []float64) float64 {
	m := math.Inf(-1)
	for _, v := range vs {
		m = max(m, v)
	}
	if math.IsInf(m, -1) {
		return m
	}
	var sum float64
	for _, v := range vs {
		sum += math.Exp(v - m)
	}
	return m + math.Log(sum)
}

// LogE is the natural log of the e-value against "the canary is no worse than the baseline": the
// test statistic. Crossing ln(1/α) is a regression at level α, at any look.
func (e Evidence) LogE() float64 {
	prior := failPrior()
	vs := make([]float64, 0, len(prior))
	for _, p := range prior {
		vs = append(vs, math.Log(p[1])+e.logLik(gridHalf+int(p[0])))
	}
	return logSumExp(vs)
}

// boundWeight is the mixture weight of the alternative d grid steps away when a bound is sought:
// 1/(d(d+1)) sums to less than 1 and falls slowly, so the bounds tighten for near and far ratios.
func boundWeight(d int) float64 { return 1 / float64(d*(d+1)) }

// rejected reports whether ratio θ_i is excluded at level a by the evidence from the side dir
// (+1: the alternatives above it, −1: below).
func (e Evidence) rejected(i, dir int, a float64) bool {
	var vs []float64
	for d := 1; ; d++ {
		j := i + dir*d
		if j < 0 || j >= gridSize {
			break
		}
		vs = append(vs, math.Log(boundWeight(d))+e.logLik(j)-e.logLik(i))
	}
	return len(vs) > 0 && logSumExp(vs) >= math.Log(1/a)
}

// Ratio is the estimate of the canary's event rate over the baseline's, with an always-valid
// interval: a confidence sequence (Howard et al.) from inverting the same likelihood on the grid.
type Ratio struct {
	Estimate float64 `json:"estimate"`
	Low      float64 `json:"low"`
	// High is the upper bound; at the grid's end (64) it means "64 or more".
	High float64 `json:"high"`
}

// ratio estimates θ and bounds it, each bound one-sided at level a.
func (e Evidence) ratio(a float64) Ratio {
	best := gridHalf
	for i := range gridSize {
		// Ties (no evidence) stay at ratio 1, the nearest to no difference.
		if e.logLik(i) > e.logLik(best)+1e-12 {
			best = i
		}
	}
	// The confidence set is every ratio not rejected; its bounds are the outermost of those, so
	// that a ratio excluded only by chance inside the set does not narrow the interval.
	hi := gridSize - 1
	for hi > best && e.rejected(hi, -1, a) {
		hi--
	}
	if hi < gridSize-1 {
		hi++ // the first rejected point: the bound is between it and hi, take the safe side
	}
	lo := 0
	for lo < best && e.rejected(lo, +1, a) {
		lo++
	}
	if lo > 0 {
		lo--
	}
	return Ratio{Estimate: gridRatio(best), Low: gridRatio(lo), High: gridRatio(hi)}
}

func rate(c Counts) float64 {
	if c.Requests == 0 {
		return 0
	}
	return float64(c.Events) / float64(c.Requests)
}
