package argojudge

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/metric"
	"github.com/hugai-dev/hugai/internal/plan"
)

// Verdicts: the template's successCondition is result == "Pass", its failureCondition
// result == "Fail"; anything else (Inconclusive) is neither, which Argo counts as inconclusive.
const (
	Pass         = "Pass"
	Fail         = "Fail"
	Inconclusive = "Inconclusive"
)

// Answer is the JSON the endpoint answers; the template's jsonPath {$.verdict} picks the verdict.
type Answer struct {
	// Verdict is Pass, Fail or Inconclusive; Error with a 4xx or 5xx status.
	Verdict     string    `json:"verdict"`
	Service     string    `json:"service,omitempty"`
	Namespace   string    `json:"namespace,omitempty"`
	Environment string    `json:"environment,omitempty"`
	Canary      string    `json:"canary,omitempty"`
	Stable      string    `json:"stable,omitempty"`
	Evidence    *Evidence `json:"evidence,omitempty"`
	Reasons     []string  `json:"reasons"`
}

// Evidence is the sequential error-rate test over every step since the canary's first counted
// request: what the verdict stands on (docs/analysis.md has the math).
type Evidence struct {
	Metric string `json:"metric"` // error_rate
	// Decision is the test's own: Fail, PassEligible (a rise beyond maxRegression.errorRate is
	// ruled out) or Continue.
	Decision analysis.Decision `json:"decision"`
	// Statistic is ln of the e-value against "the canary is no worse"; Fail once it reaches
	// Boundary, ln(1/Alpha).
	Statistic float64 `json:"statistic"`
	Boundary  float64 `json:"boundary"`
	Alpha     float64 `json:"alpha"`
	Samples   Samples `json:"samples"`
	// MinimumSamples each version needs before the verdict may be Pass.
	MinimumSamples int `json:"minimumSamples"`
	// Effect is the canary's error rate minus the stable's (a fraction), with its always-valid
	// interval; Ratio the ratio of the two rates with its interval.
	Effect Interval       `json:"effect"`
	Ratio  analysis.Ratio `json:"ratio"`
	// Since is the end of the first step in which the canary served a counted request; Until
	// the end of the last step read; Steps how many steps entered, each Step long.
	Since *time.Time `json:"since,omitempty"`
	Until *time.Time `json:"until,omitempty"`
	Steps int        `json:"steps"`
}

// Samples are both versions' counts over the evidence's span.
type Samples struct {
	Canary Count `json:"canary"`
	Stable Count `json:"stable"`
}

// Count is one version's requests and errors.
type Count struct {
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
}

// Interval is an estimate with its bounds.
type Interval struct {
	Value float64 `json:"value"`
	Low   float64 `json:"low"`
	High  float64 `json:"high"`
}

// Judge decides on the steps read: from the first in which the canary served, every step enters
// one sequential test (one α, env.Analysis.Alpha, for the whole rollout however often Argo asks:
// the error test is the only one here, so it has all of it). Fail as soon as the test crosses its
// boundary, whatever the sample count; Pass when it has not and each version served at least
// env.MinimumSamples requests; Inconclusive with fewer. It is a pure function of the steps, so
// asking again after a restart over the same span gives the same answer.
func Judge(steps []metric.Step, env *plan.Env) (string, *Evidence, []string) {
	steps = slices.Clone(steps)
	slices.SortFunc(steps, func(a, b metric.Step) int { return a.End.Compare(b.End) })
	first := slices.IndexFunc(steps, func(s metric.Step) bool { return s.Window.Canary.Requests > 0 })
	cfg := env.Analysis
	cfg.Method = analysis.Sequential
	ev := &Evidence{Metric: "error_rate", Decision: analysis.Continue, Alpha: cfg.Alpha, Boundary: math.Log(1 / cfg.Alpha), MinimumSamples: env.MinimumSamples}
	if first < 0 {
		return Inconclusive, ev, []string{"the canary has no counted request yet: no evidence (is it receiving traffic, and do the analysis.compare queries select its version?)"}
	}
	steps = steps[first:]
	var e analysis.Evidence
	for _, s := range steps {
		next, err := e.Add(s.Window)
		if err != nil { // the source caps errors at requests; a bad window is its bug, said here
			return Inconclusive, ev, []string{"sequential analysis: " + err.Error()}
		}
		e = next
	}
	r, err := analysis.EvaluateErrors(e, cfg)
	if err != nil {
		return Inconclusive, ev, []string{err.Error()}
	}
	since, until := steps[0].End, steps[len(steps)-1].End
	ev.Since, ev.Until, ev.Steps = &since, &until, len(steps)
	ev.Decision = r.Decision
	ev.Statistic = finite(r.Statistic)
	ev.Samples = Samples{Canary: Count{r.Canary.Requests, r.Canary.Events}, Stable: Count{r.Baseline.Requests, r.Baseline.Events}}
	ev.Effect = Interval{finite(r.Effect), finite(r.EffectLow), finite(r.EffectHigh)}
	ev.Ratio = analysis.Ratio{Estimate: finite(r.Ratio.Estimate), Low: finite(r.Ratio.Low), High: finite(r.Ratio.High)}

	rates := fmt.Sprintf("canary %s (%d of %d), stable %s (%d of %d)", pct(r.Canary), r.Canary.Events, r.Canary.Requests, pct(r.Baseline), r.Baseline.Events, r.Baseline.Requests)
	test := fmt.Sprintf("statistic %.2f, boundary %.2f (α %g)", ev.Statistic, ev.Boundary, cfg.Alpha)
	switch {
	case r.Decision == analysis.Fail:
		return Fail, ev, []string{"error rate: the canary is worse than the stable version beyond doubt: " + rates + "; " + test}
	case r.Canary.Requests < int64(env.MinimumSamples) || r.Baseline.Requests < int64(env.MinimumSamples):
		return Inconclusive, ev, []string{fmt.Sprintf("too few requests to pass: %s; each version needs %d (analysis.minimumSamples); no regression so far: %s", rates, env.MinimumSamples, test)}
	}
	reasons := []string{"error rate: no regression at α: " + rates + "; " + test}
	if r.Decision == analysis.PassEligible {
		reasons = append(reasons, fmt.Sprintf("a rise of more than %gpp is ruled out", cfg.MaxRegression.ErrorRate*100))
	}
	return Pass, ev, reasons
}

func pct(c analysis.Counts) string {
	if c.Requests == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(c.Events)/float64(c.Requests))
}

// finite keeps JSON encodable: ±Inf is written as the largest float, NaN as 0 (neither is expected
// from the test, which bounds its grid).
func finite(x float64) float64 {
	switch {
	case math.IsNaN(x):
		return 0
	case math.IsInf(x, 1):
		return math.MaxFloat64
	case math.IsInf(x, -1):
		return -math.MaxFloat64
	}
	return x
}
