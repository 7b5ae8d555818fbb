package analysis

import (
	"fmt"
	"math"
)

// Decision is what the sequential test says at one look.
type Decision string

const (
	// Fail: the statistic crossed its boundary, a regression at level α. Roll back.
	Fail Decision = "Fail"
	// PassEligible: a regression of the configured size (maxRegression) is ruled out. The rollout
	// may promote early if the plan opted in; it never shortens a pause the plan wrote.
	PassEligible Decision = "PassEligible"
	// Continue: neither yet; the step holds (and passes at its planned end, as with thresholds).
	Continue Decision = "Continue"
)

// Result is one look at a sequential test, for the rollout and for the live view.
type Result struct {
	Metric   string   `json:"metric"` // error_rate or latency_p95
	Decision Decision `json:"decision"`
	// Statistic is ln of the e-value against "the canary is no worse"; Boundary is ln(1/α). Fail
	// when Statistic ≥ Boundary.
	Statistic float64 `json:"statistic"`
	Boundary  float64 `json:"boundary"`
	Canary    Counts  `json:"canary"`
	Baseline  Counts  `json:"baseline"`
	// Ratio is the canary's event rate over the baseline's, with its always-valid interval.
	Ratio Ratio `json:"ratio"`
	// Effect is the regression in the metric's own terms (error_rate: canary minus baseline, as a
	// fraction; latency_p95: the share of canary requests slower than the pooled p95, whose value
	// without regression is about 5%), with the interval the ratio's interval gives it.
	Effect     float64 `json:"effect"`
	EffectLow  float64 `json:"effectLow"`
	EffectHigh float64 `json:"effectHigh"`
}

func (c Config) check() error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("sequential analysis: %w", err)
	}
	return nil
}

// baseResult fills the part of a result both tests share: the statistic, the boundary, the counts.
func baseResult(metric string, e Evidence, c Config) Result {
	r := Result{
		Metric:    metric,
		Decision:  Continue,
		Statistic: e.LogE(),
		Boundary:  math.Log(1 / c.Alpha),
		Canary:    e.Canary,
		Baseline:  e.Baseline,
		Ratio:     e.ratio(c.Alpha / 2), // a two-sided interval at 1 − α for people to read
	}
	if r.Statistic >= r.Boundary {
		r.Decision = Fail
	}
	return r
}

// EvaluateErrors looks at the error-rate evidence: Fail when the canary's error rate is above the
// baseline's at level c.Alpha; PassEligible when a rise of c.MaxRegression.ErrorRate or more is
// ruled out at that level; Continue otherwise. It never reads the clock: the caller decides when
// to look, and may look as often as it likes.
func EvaluateErrors(e Evidence, c Config) (Result, error) {
	if err := c.check(); err != nil {
		return Result{}, err
	}
	if err := e.Check(); err != nil {
		return Result{}, err
	}
	r := baseResult("error_rate", e, c)
	pb := baselineRate(e.Baseline)
	r.Effect = rate(e.Canary) - rate(e.Baseline)
	r.EffectLow = (r.Ratio.Low - 1) * pb
	r.EffectHigh = (r.Ratio.High - 1) * pb
	if r.Decision == Fail || e.Baseline.Requests == 0 || e.Canary.Requests == 0 {
		return r, nil
	}
	// Ruling a regression out is one-sided, at the full α.
	hi := e.ratio(c.Alpha).High
	if hi < gridRatio(gridSize-1) && (hi-1)*pb < c.MaxRegression.ErrorRate {
		r.Decision = PassEligible
	}
	return r, nil
}

// baselineRate is the baseline's error rate, made pessimistic when it saw no error at all: with
// zero errors in n requests the rate is below 3/n at 95% (the rule of three), and a ratio of a
// zero rate would rule out every regression.
func baselineRate(b Counts) float64 {
	if b.Requests == 0 {
		return 0
	}
	if b.Events == 0 {
		return 3 / float64(b.Requests)
	}
	return rate(b)
}
