package analysis

import (
	"math"
	"strconv"
	"testing"
)

func TestParsePointsAndPercent(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{"0.5pp": 0.005, " 1pp ": 0.01, "0pp": 0, "+2.25pp": 0.0225, "100pp": 1} {
		if got, err := ParsePoints(in); err != nil || math.Abs(got-want) > 1e-15 {
			t.Errorf("ParsePoints(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, want := range map[string]float64{"10%": 0.1, "50%": 0.5, "0.5%": 0.005, "200%": 2} {
		if got, err := ParsePercent(in); err != nil || math.Abs(got-want) > 1e-15 {
			t.Errorf("ParsePercent(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"0.5", "0.5%", "pp", "-1pp", "1e2pp", "NaNpp", "Infpp", "0x1pp", ".pp", "1..2pp", "1 pp x"} {
		if v, err := ParsePoints(in); err == nil {
			t.Errorf("ParsePoints(%q) = %v, want an error", in, v)
		}
	}
	for _, in := range []string{"10", "10pp", "%", "-5%", "1e1%", "inf%"} {
		if v, err := ParsePercent(in); err == nil {
			t.Errorf("ParsePercent(%q) = %v, want an error", in, v)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Config){
		"analysis.method":                   func(c *Config) { c.Method = Threshold },
		"analysis.alpha":                    func(c *Config) { c.Alpha = 0.9 },
		"analysis.maxRegression.errorRate":  func(c *Config) { c.MaxRegression.ErrorRate = 0 },
		"analysis.maxRegression.latencyP95": func(c *Config) { c.MaxRegression.LatencyP95 = math.NaN() },
	} {
		c := DefaultConfig()
		mut(&c)
		err := c.Validate()
		if err == nil || len(err.Error()) < len(name) || err.Error()[:len(name)] != name {
			t.Errorf("%s: got %v, want an error naming the field", name, err)
		}
	}
}

// fuzzRate checks a rate parser: no panic, and what it accepts is a finite, non-negative number
// that reads back the same when written in the same unit.
func fuzzRate(t *testing.T, parse func(string) (float64, error), unit, s string) {
	v, err := parse(s)
	if err != nil {
		return
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		t.Fatalf("%q: %v", s, v)
	}
	again, err := parse(strconv.FormatFloat(v*100, 'f', -1, 64) + unit)
	if err != nil || math.Abs(again-v) > 1e-12*math.Max(1, v) {
		t.Fatalf("%q = %v, written back reads %v, %v", s, v, again, err)
	}
}

func FuzzParsePoints(f *testing.F) {
	for _, s := range []string{"0.5pp", "1pp", "pp", "1e9pp", "+.5pp", "0.0000001pp"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { fuzzRate(t, ParsePoints, "pp", s) })
}

func FuzzParsePercent(f *testing.F) {
	for _, s := range []string{"10%", "0.5%", "%", "999999999999999999999%", "+1.%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { fuzzRate(t, ParsePercent, "%", s) })
}
