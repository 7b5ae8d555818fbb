package analysis

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Sequential compares the candidate with the baseline measured over the same seconds with an
// always-valid test (sequential.go): one false-alarm rate for the whole rollout.
const Sequential Method = "sequential"

// DefaultAlpha is the false-rollback rate a sequential analysis allows over a whole rollout.
const DefaultAlpha = 0.01

// The default sizes of a regression worth ruling out before an early promotion.
const (
	DefaultMaxErrorRate  = 0.005 // 0.5 percentage points
	DefaultMaxLatencyP95 = 0.10  // +10% on the baseline's p95
)

// Config is the sequential analysis as hugai.yaml's environment section writes it:
//
//	analysis: {method: sequential, alpha: 0.01, maxRegression: {errorRate: 0.5pp, latencyP95: 10%}}
//
// maps to Config{Method: Sequential, Alpha: 0.01, MaxRegression: Regression{ErrorRate: 0.005,
// LatencyP95: 0.10}}: errorRate goes through ParsePoints, latencyP95 through ParsePercent. plan
// owns the file; it calls these parsers so that the two read the strings one way.
type Config struct {
	Method        Method     `json:"method"`
	Alpha         float64    `json:"alpha"`
	MaxRegression Regression `json:"maxRegression"`
}

// Regression is the largest regression that is still acceptable: once a larger one is ruled out,
// the rollout may be promoted early (opt-in). It never decides a rollback: only Alpha does.
type Regression struct {
	// ErrorRate is an absolute rise of the error rate, as a fraction (0.005 for 0.5pp).
	ErrorRate float64 `json:"errorRate"`
	// LatencyP95 is a relative rise of the p95 latency, as a fraction (0.10 for 10%).
	LatencyP95 float64 `json:"latencyP95"`
}

// DefaultConfig is the sequential analysis a file gets when it names the method and nothing else.
func DefaultConfig() Config {
	return Config{
		Method:        Sequential,
		Alpha:         DefaultAlpha,
		MaxRegression: Regression{ErrorRate: DefaultMaxErrorRate, LatencyP95: DefaultMaxLatencyP95},
	}
}

// Validate reports the first field out of range, named by its path in hugai.yaml.
func (c Config) Validate() error {
	if c.Method != Sequential {
		return fmt.Errorf("analysis.method: %q is not %q", c.Method, Sequential)
	}
	// Above 0.5 a "regression" would be flagged on a coin toss; 0 could never flag anything.
	if !(c.Alpha > 0 && c.Alpha <= 0.5) {
		return fmt.Errorf("analysis.alpha: %v is not in (0, 0.5]", c.Alpha)
	}
	if !(c.MaxRegression.ErrorRate > 0 && c.MaxRegression.ErrorRate < 1) {
		return fmt.Errorf("analysis.maxRegression.errorRate: %v is not in (0pp, 100pp)", c.MaxRegression.ErrorRate*100)
	}
	if !(c.MaxRegression.LatencyP95 > 0 && c.MaxRegression.LatencyP95 <= 10) {
		return fmt.Errorf("analysis.maxRegression.latencyP95: %v%% is not in (0%%, 1000%%]", c.MaxRegression.LatencyP95*100)
	}
	return nil
}

// ParsePoints reads an absolute change of a rate in percentage points, "0.5pp", as a fraction
// (0.005). The unit is required: "0.5" or "0.5%" would be ambiguous between points and a
// relative change, which is the mistake this field exists to avoid.
func ParsePoints(s string) (float64, error) {
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "pp")
	if !ok {
		return 0, fmt.Errorf("%q: want percentage points, e.g. 0.5pp", s)
	}
	v, err := parseNumber(num)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	return v / 100, nil
}

// ParsePercent reads a relative change, "10%", as a fraction (0.10). The % is required, for the
// same reason as ParsePoints' pp.
func ParsePercent(s string) (float64, error) {
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	if !ok {
		return 0, fmt.Errorf("%q: want a percentage, e.g. 10%%", s)
	}
	v, err := parseNumber(num)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	return v / 100, nil
}

// parseNumber reads a plain, finite, non-negative decimal: no hex, no exponent, no NaN or Inf,
// which strconv would all accept.
func parseNumber(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("no number")
	}
	dot := false
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
		case r == '.' && !dot:
			dot = true
		case r == '+' && i == 0:
		default:
			return 0, fmt.Errorf("%q is not a plain decimal number", s)
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || s == "." || s == "+" || s == "+." {
		return 0, fmt.Errorf("%q is not a plain decimal number", s)
	}
	return v, nil
}
