package criteria

import (
	"math"
	"strconv"
	"strings"
)

// Op is a comparison operator, spelled as in the language.
type Op string

// The operators of the language.
const (
	Less         Op = "<"
	LessEqual    Op = "<="
	Greater      Op = ">"
	GreaterEqual Op = ">="
	Equal        Op = "=="
	NotEqual     Op = "!="
)

// Kind is what a metric measures; it decides which units a value may carry and how it prints.
type Kind int

// The kinds of metric. The zero value is Number so that a Condition built by hand for a named
// metric needs no Kind.
const (
	Number     Kind = iota // a named metric: plain number (a '%' is accepted and dropped)
	Rate                   // error_rate, success_rate: percent 0..100; a bare number is percent
	Duration               // latency quantiles: seconds; the text must carry ms, s or m
	Throughput             // request_rate: requests per second; rps or a bare number
	Percent                // cpu: percent, may pass 100 on several cores; % or a bare number
	Bytes                  // memory: a plain number of bytes
)

var kindNames = [...]string{"number", "rate", "duration", "throughput", "percent", "bytes"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Condition is one comparison of a metric against a threshold in canonical units.
type Condition struct {
	Metric string
	Op     Op
	Value  float64
	Kind   Kind
}

// String is the canonical text of the condition. For every condition Parse returns,
// Parse(c.String()) returns c again, exactly (the float is printed in its shortest form that
// reads back to the same bits, in whichever unit keeps that true).
func (c Condition) String() string {
	return c.Metric + string(c.Op) + canonicalValue(c.Kind, c.Value)
}

// Holds reports whether the measured value v satisfies the condition. NaN never holds: a value
// that could not be computed must neither pass a criterion nor fire a trigger.
func (c Condition) Holds(v float64) bool {
	if math.IsNaN(v) || math.IsNaN(c.Value) {
		return false
	}
	switch c.Op {
	case Less:
		return v < c.Value
	case LessEqual:
		return v <= c.Value
	case Greater:
		return v > c.Value
	case GreaterEqual:
		return v >= c.Value
	case Equal:
		return v == c.Value
	case NotEqual:
		return v != c.Value
	}
	return false
}

// Format is the canonical text of several conditions joined by ',' (AND).
func Format(conds []Condition) string {
	parts := make([]string, len(conds))
	for i, c := range conds {
		parts[i] = c.String()
	}
	return strings.Join(parts, ",")
}

// Result is one condition judged against one measurement.
type Result struct {
	Condition
	Value   float64 // the measured value, canonical units; 0 when Missing
	Missing bool    // no value (or NaN) was available: never a pass
	Pass    bool    // the condition holds for Value
}

// Evaluate judges every condition against the values the caller looks up by metric name. A
// metric the lookup does not know, or whose value is NaN, is Missing and does not pass; deciding
// whether missing data is a failure or inconclusive is the caller's business.
func Evaluate(conds []Condition, values func(metric string) (float64, bool)) []Result {
	out := make([]Result, len(conds))
	for i, c := range conds {
		r := Result{Condition: c}
		v, ok := values(c.Metric)
		if !ok || math.IsNaN(v) {
			r.Missing = true
		} else {
			r.Value = v
			r.Pass = c.Holds(v)
		}
		out[i] = r
	}
	return out
}

// AllPass reports whether every result passed; an empty list passes.
func AllPass(rs []Result) bool {
	for _, r := range rs {
		if !r.Pass {
			return false
		}
	}
	return true
}

// FormatValue prints a canonical value for people: 1%, 850ms, 2s, 2m, 120rps, 512MiB. It rounds
// (to three decimals of the unit shown), so unlike Condition.String it is not meant to be parsed.
func FormatValue(k Kind, v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	switch k {
	case Rate, Percent:
		return short(v) + "%"
	case Duration:
		a := math.Abs(v)
		switch {
		case a != 0 && a < 1:
			return short(v*1000) + "ms"
		case a >= 60 && math.Mod(v, 60) == 0:
			return short(v/60) + "m"
		default:
			return short(v) + "s"
		}
	case Throughput:
		return short(v) + "rps"
	case Bytes:
		return bytesIEC(v)
	}
	return short(v)
}

// short rounds to three decimals; shorter than the canonical form and enough for a dashboard.
func short(v float64) string {
	r := math.Round(v*1000) / 1000
	if math.IsInf(r, 0) || math.IsNaN(r) { // v*1000 overflowed: print v as it is
		r = v
	}
	if r == 0 {
		r = 0 // no "-0"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

func bytesIEC(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for math.Abs(v) >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	s := strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
	return s + units[i]
}

// canonicalValue prints v so that parsing it back for a metric of kind k yields exactly v.
func canonicalValue(k Kind, v float64) string {
	plain := strconv.FormatFloat(v, 'f', -1, 64)
	switch k {
	case Rate, Percent:
		return plain + "%"
	case Throughput:
		return plain + "rps"
	case Duration:
		// Prefer the unit a person would write, but only when it reads back to the same bits.
		if v > 0 && v < 1 {
			ms := strconv.FormatFloat(v*1000, 'f', -1, 64)
			if f, err := strconv.ParseFloat(ms, 64); err == nil && toSeconds(f, "ms") == v {
				return ms + "ms"
			}
		}
		if v >= 60 && math.Mod(v, 60) == 0 {
			m := strconv.FormatFloat(v/60, 'f', -1, 64)
			if f, err := strconv.ParseFloat(m, 64); err == nil && toSeconds(f, "m") == v {
				return m + "m"
			}
		}
		return plain + "s"
	}
	return plain
}

// toSeconds is the one conversion of a duration to seconds, shared by the parser and the printer
// so that both round the same way.
func toSeconds(f float64, unit string) float64 {
	switch unit {
	case "ms":
		return f / 1000
	case "m":
		return f * 60
	}
	return f
}
