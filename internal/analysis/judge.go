package analysis

import (
	"math"
	"strconv"
	"time"

	"github.com/hugai-dev/hugai/internal/criteria"
)

// Phase is the outcome of a measurement or a window, or the state of a verdict. The names are
// Argo Rollouts' analysis phases.
type Phase string

const (
	// Successful: the condition held over enough samples.
	Successful Phase = "Successful"
	// Failed: the condition did not hold over enough samples.
	Failed Phase = "Failed"
	// Inconclusive: too few samples, or no value at all. Never a pass.
	Inconclusive Phase = "Inconclusive"
	// Error: the query itself failed. Data, not a crash: it counts toward consecutiveErrorLimit.
	Error Phase = "Error"
	// Pending: not yet decided. Fewer requests than minimumSamples so far, or a rate above its
	// guard that is not yet beyond doubt (Rules.Alpha). Neither a pass nor evidence against: the
	// step holds and the span keeps growing.
	Pending Phase = "Pending"
	// Running is only a verdict's phase: no limit is reached yet.
	Running Phase = "Running"
)

// Value is one metric's reading for one window, as a provider returns it.
type Value struct {
	Value   float64 // canonical units (criteria); NaN when there is no value
	Samples uint64  // requests the value is computed from
	Err     string  // the query failed; Value and Samples mean nothing
}

// Measurement is one condition judged over one window. It is persisted and shown to people, so
// Value is always finite (0 when there was none) and Display is empty when there was no value.
type Measurement struct {
	Metric    string  `json:"metric"`
	Condition string  `json:"condition"` // canonical criteria text, e.g. error_rate<1%
	Value     float64 `json:"value"`
	Display   string  `json:"display,omitempty"` // the value for people, e.g. 20.3%
	Samples   uint64  `json:"samples"`
	// Needed is how many more requests the measurement needs before it may pass (Pending).
	Needed  uint64    `json:"needed,omitempty"`
	Phase   Phase     `json:"phase"`
	Message string    `json:"message"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
}

// Rules are what a measurement must meet beyond its condition.
type Rules struct {
	// MinimumSamples gates passing, never failing: a measurement on fewer requests is Pending.
	MinimumSamples uint64
	// Alpha, when set, makes a rate guard (error_rate below a limit, success_rate above one)
	// fail only once the rate is beyond its limit at level Alpha by an always-valid test of the
	// requests gathered so far (exceeds), and fail on any number of requests once it is: one
	// error in 50 requests does not fail error_rate<1%, 4 in 20 does. A rate above its limit but
	// not beyond doubt passes on minimumSamples requests: the boundary was not crossed. 0: the
	// value against the limit decides, as for every other metric.
	Alpha float64
}

// Judge reads each condition's metric for the window [from, to) and judges it with the point
// value: Error when the read failed, Pending with fewer than minimumSamples samples, Inconclusive
// with no finite value, else Successful when the condition holds and Failed when it does not.
// It returns one measurement per condition, in order.
func Judge(conds []criteria.Condition, read func(metric string) Value, minimumSamples uint64, from, to time.Time) []Measurement {
	return JudgeWith(conds, read, Rules{MinimumSamples: minimumSamples}, from, to)
}

// JudgeWith is Judge under r: with r.Alpha set, rate guards are judged by exceeds.
func JudgeWith(conds []criteria.Condition, read func(metric string) Value, r Rules, from, to time.Time) []Measurement {
	out := make([]Measurement, len(conds))
	for i, c := range conds {
		out[i] = judgeOne(c, read(c.Metric), r, from, to)
	}
	return out
}

// Observe reads metric over the window without judging it (a monitor): Successful with its value,
// Error when the read failed, Inconclusive with no value.
func Observe(metric string, kind criteria.Kind, v Value, from, to time.Time) Measurement {
	m := Measurement{Metric: metric, Samples: v.Samples, From: from, To: to, Phase: Successful}
	switch {
	case v.Err != "":
		m.Phase, m.Samples, m.Message = Error, 0, metric+": query failed: "+v.Err
	case math.IsNaN(v.Value) || math.IsInf(v.Value, 0):
		m.Phase, m.Message = Inconclusive, metric+": no value over "+requests(v.Samples)
	default:
		m.Value, m.Display = v.Value, criteria.FormatValue(kind, v.Value)
		m.Message = metric + " " + m.Display + " over " + requests(v.Samples)
	}
	return m
}

func judgeOne(c criteria.Condition, v Value, r Rules, from, to time.Time) Measurement {
	m := Measurement{Metric: c.Metric, Condition: c.String(), Samples: v.Samples, From: from, To: to}
	finite := !math.IsNaN(v.Value) && !math.IsInf(v.Value, 0)
	if v.Err == "" && finite {
		m.Value = v.Value
		m.Display = criteria.FormatValue(c.Kind, v.Value)
	}
	over := " over " + requests(v.Samples)
	limit := criteria.FormatValue(c.Kind, c.Value)
	guard, trigger := rateForm(c)
	short := func() {
		// Too little traffic says nothing about the version, whatever the value looks like.
		m.Phase, m.Needed = Pending, r.MinimumSamples-v.Samples
		m.Message = c.Metric + ": " + requests(v.Samples) + " of minimumSamples " + strconv.FormatUint(r.MinimumSamples, 10) + " so far"
	}
	switch {
	case v.Err != "":
		m.Phase, m.Samples = Error, 0
		m.Message = c.Metric + ": query failed: " + v.Err
	case !finite && v.Samples < r.MinimumSamples:
		short()
	case !finite:
		m.Phase = Inconclusive
		m.Message = c.Metric + ": no value" + over
	case r.Alpha > 0 && trigger:
		// A trigger (error_rate above a limit) holds only beyond doubt: one error in 50 requests
		// does not fire error_rate>1%.
		x, n, p0 := rateEvents(c, v)
		switch {
		case exceeds(x, n, p0, r.Alpha):
			m.Phase = Successful
			m.Message = c.Metric + " " + m.Display + " " + symbol(c.Op, true) + " " + limit + over + ", beyond doubt at α " + strconv.FormatFloat(r.Alpha, 'g', -1, 64)
		case v.Samples < r.MinimumSamples:
			short()
		default:
			m.Phase = Failed
			m.Message = c.Metric + " " + m.Display + " not beyond " + limit + over
		}
	case r.Alpha > 0 && guard:
		x, n, p0 := rateEvents(c, v)
		switch {
		case exceeds(x, n, p0, r.Alpha):
			m.Phase = Failed
			m.Message = c.Metric + " " + m.Display + " " + symbol(c.Op, false) + " " + limit + over + ", beyond doubt at α " + strconv.FormatFloat(r.Alpha, 'g', -1, 64)
		case v.Samples < r.MinimumSamples:
			short()
		case c.Holds(v.Value):
			m.Phase = Successful
			m.Message = c.Metric + " " + m.Display + " " + symbol(c.Op, true) + " " + limit + over
		default:
			// Above the limit, but no more than chance allows a version within it: the boundary
			// was not crossed, so the guard passes (and keeps looking: the span grows).
			m.Phase = Successful
			m.Message = c.Metric + " " + m.Display + " " + symbol(c.Op, false) + " " + limit + over + ", not beyond doubt at α " + strconv.FormatFloat(r.Alpha, 'g', -1, 64)
		}
	case v.Samples < r.MinimumSamples:
		short()
	case c.Holds(v.Value):
		m.Phase = Successful
		m.Message = c.Metric + " " + m.Display + " " + symbol(c.Op, true) + " " + limit + over
	default:
		m.Phase = Failed
		m.Message = c.Metric + " " + m.Display + " " + symbol(c.Op, false) + " " + limit + over
	}
	return m
}

// rateForm says whether c limits the share of failed requests: as a guard (error_rate below a
// limit, success_rate above one) or as a trigger (error_rate above a limit, success_rate below),
// with a limit strictly between 0% and 100% (a limit of 0 or 100 is met or not by a single
// request, which the point value decides).
func rateForm(c criteria.Condition) (guard, trigger bool) {
	if c.Value <= 0 || c.Value >= 100 {
		return false, false
	}
	below := c.Op == criteria.Less || c.Op == criteria.LessEqual
	above := c.Op == criteria.Greater || c.Op == criteria.GreaterEqual
	switch c.Metric {
	case "error_rate":
		return below, above
	case "success_rate":
		return above, below
	}
	return false, false
}

// rateEvents turns a rate guard's reading into failed requests x of n and the limit p0 on the
// share of failures (fractions).
func rateEvents(c criteria.Condition, v Value) (x, n int64, p0 float64) {
	n = int64(v.Samples)
	share, limit := v.Value/100, c.Value/100
	if c.Metric == "success_rate" { // the share of failures is what the tests count
		share, limit = 1-share, 1-limit
	}
	x = int64(math.Round(math.Min(math.Max(share, 0), 1) * float64(n)))
	return x, n, limit
}

// exceedRatios are the alternatives the rate guard's mixture bets on: the share of failures at
// these multiples of its limit. Spread from 1.5× to 32× so that a rate just above its limit is
// caught on a long step and a broken version on its first few requests.
var exceedRatios = [...]float64{1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32}

// exceeds reports whether x failures in n requests show a share of failures above p0 at level a:
// the mixture over exceedRatios of the likelihood ratios of share r·p0 against p0, each a test
// martingale under any share ≤ p0 (so the mixture is too), crossing 1/a. By Ville's inequality a
// version within its limit is failed with probability at most a however often it is looked at
// while its requests accumulate.
func exceeds(x, n int64, p0, a float64) bool {
	if n == 0 || x == 0 || !(p0 > 0 && p0 < 1) || !(a > 0 && a < 1) {
		return false
	}
	xf, rest := float64(x), float64(n-x)
	var vs []float64
	w := math.Log(1 / float64(len(exceedRatios)))
	for _, r := range exceedRatios {
		p := r * p0
		if p >= 1 {
			p = (1 + p0) / 2 // the alternative nearest "every request fails" that is still a share
		}
		vs = append(vs, w+xf*math.Log(p/p0)+rest*math.Log((1-p)/(1-p0)))
	}
	return logSumExp(vs) >= math.Log(1/a)
}

// symbol prints an operator for people; when the condition does not hold, its negation, so that
// the message reads as a true statement ("20.3% ≥ 1%").
func symbol(op criteria.Op, holds bool) string {
	var yes, no string
	switch op {
	case criteria.Less:
		yes, no = "<", "≥"
	case criteria.LessEqual:
		yes, no = "≤", ">"
	case criteria.Greater:
		yes, no = ">", "≤"
	case criteria.GreaterEqual:
		yes, no = "≥", "<"
	case criteria.Equal:
		yes, no = "=", "≠"
	case criteria.NotEqual:
		yes, no = "≠", "="
	default:
		return string(op)
	}
	if holds {
		return yes
	}
	return no
}

func requests(n uint64) string {
	if n == 1 {
		return "1 request"
	}
	return strconv.FormatUint(n, 10) + " requests"
}
