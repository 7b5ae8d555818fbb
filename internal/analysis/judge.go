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
	Metric    string    `json:"metric"`
	Condition string    `json:"condition"` // canonical criteria text, e.g. error_rate<1%
	Value     float64   `json:"value"`
	Display   string    `json:"display,omitempty"` // the value for people, e.g. 20.3%
	Samples   uint64    `json:"samples"`
	Phase     Phase     `json:"phase"`
	Message   string    `json:"message"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
}

// Judge reads each condition's metric for the window [from, to) and judges it: Error when the read
// failed, Inconclusive with fewer than minimumSamples samples or no finite value, else Successful
// when the condition holds and Failed when it does not. It returns one measurement per condition,
// in order.
func Judge(conds []criteria.Condition, read func(metric string) Value, minimumSamples uint64, from, to time.Time) []Measurement {
	out := make([]Measurement, len(conds))
	for i, c := range conds {
		out[i] = judgeOne(c, read(c.Metric), minimumSamples, from, to)
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

func judgeOne(c criteria.Condition, v Value, minimumSamples uint64, from, to time.Time) Measurement {
	m := Measurement{Metric: c.Metric, Condition: c.String(), Samples: v.Samples, From: from, To: to}
	finite := !math.IsNaN(v.Value) && !math.IsInf(v.Value, 0)
	if v.Err == "" && finite {
		m.Value = v.Value
		m.Display = criteria.FormatValue(c.Kind, v.Value)
	}
	switch {
	case v.Err != "":
		m.Phase, m.Samples = Error, 0
		m.Message = c.Metric + ": query failed: " + v.Err
	case v.Samples < minimumSamples:
		// Too little traffic says nothing about the version, whatever the value looks like.
		m.Phase = Inconclusive
		m.Message = c.Metric + ": " + requests(v.Samples) + " < minimumSamples " + strconv.FormatUint(minimumSamples, 10)
	case !finite:
		m.Phase = Inconclusive
		m.Message = c.Metric + ": no value over " + requests(v.Samples)
	case c.Holds(v.Value):
		m.Phase = Successful
		m.Message = c.Metric + " " + m.Display + " " + symbol(c.Op, true) + " " + criteria.FormatValue(c.Kind, c.Value) + " over " + requests(v.Samples)
	default:
		m.Phase = Failed
		m.Message = c.Metric + " " + m.Display + " " + symbol(c.Op, false) + " " + criteria.FormatValue(c.Kind, c.Value) + " over " + requests(v.Samples)
	}
	return m
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
