package criteria

import (
	"errors"
	"math"
	"testing"
)

func TestHolds(t *testing.T) {
	tests := []struct {
		op   Op
		v    float64
		want bool
	}{
		{Less, 0.5, true}, {Less, 1, false}, {Less, 2, false},
		{LessEqual, 0.5, true}, {LessEqual, 1, true}, {LessEqual, 2, false},
		{Greater, 0.5, false}, {Greater, 1, false}, {Greater, 2, true},
		{GreaterEqual, 0.5, false}, {GreaterEqual, 1, true}, {GreaterEqual, 2, true},
		{Equal, 1, true}, {Equal, 2, false},
		{NotEqual, 1, false}, {NotEqual, 2, true},
		{NotEqual, math.NaN(), false}, {Less, math.NaN(), false}, {GreaterEqual, math.NaN(), false},
		{Op("~"), 1, false},
	}
	for _, tt := range tests {
		c := Condition{Metric: "error_rate", Op: tt.op, Value: 1, Kind: Rate}
		if got := c.Holds(tt.v); got != tt.want {
			t.Errorf("%v holds for %v = %v, want %v", c, tt.v, got, tt.want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	conds, err := Parse("error_rate<1%,latency_p95<2s,request_rate>=10,cpu<80")
	if err != nil {
		t.Fatal(err)
	}
	measured := map[string]float64{"error_rate": 0.4, "latency_p95": 2.1, "cpu": math.NaN()}
	rs := Evaluate(conds, func(m string) (float64, bool) { v, ok := measured[m]; return v, ok })
	want := []struct {
		value         float64
		missing, pass bool
	}{
		{0.4, false, true},
		{2.1, false, false},
		{0, true, false}, // request_rate not measured
		{0, true, false}, // cpu NaN counts as missing
	}
	if len(rs) != len(want) {
		t.Fatalf("got %d results, want %d", len(rs), len(want))
	}
	for i, w := range want {
		r := rs[i]
		if r.Condition != conds[i] || r.Value != w.value || r.Missing != w.missing || r.Pass != w.pass {
			t.Errorf("result %d = %+v, want value %v missing %v pass %v", i, r, w.value, w.missing, w.pass)
		}
	}
	if AllPass(rs) {
		t.Error("AllPass = true with failing results")
	}
	if !AllPass(rs[:1]) || !AllPass(nil) {
		t.Error("AllPass = false for passing results")
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		c    Condition
		want string
	}{
		{Condition{"error_rate", Less, 1, Rate}, "error_rate<1%"},
		{Condition{"success_rate", GreaterEqual, 99.95, Rate}, "success_rate>=99.95%"},
		{Condition{"latency_p95", Less, 2, Duration}, "latency_p95<2s"},
		{Condition{"latency_p95", Less, 0.85, Duration}, "latency_p95<850ms"},
		{Condition{"latency_p99", LessEqual, 120, Duration}, "latency_p99<=2m"},
		{Condition{"latency_p99", LessEqual, 90, Duration}, "latency_p99<=90s"},
		{Condition{"latency_p50", Less, 0, Duration}, "latency_p50<0s"},
		{Condition{"request_rate", Greater, 120, Throughput}, "request_rate>120rps"},
		{Condition{"cpu", NotEqual, 80, Percent}, "cpu!=80%"},
		{Condition{"memory", Less, 536870912, Bytes}, "memory<536870912"},
		{Condition{"orders", Equal, -2.5, Number}, "orders==-2.5"},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	conds := []Condition{tests[0].c, tests[3].c}
	if got := Format(conds); got != "error_rate<1%,latency_p95<850ms" {
		t.Errorf("Format = %q", got)
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		k    Kind
		v    float64
		want string
	}{
		{Rate, 1, "1%"},
		{Rate, 0.123456, "0.123%"},
		{Percent, 250, "250%"},
		{Duration, 2, "2s"},
		{Duration, 0.85, "850ms"},
		{Duration, 0.0004567, "0.457ms"},
		{Duration, 2.1, "2.1s"},
		{Duration, 120, "2m"},
		{Duration, 90, "90s"},
		{Duration, 0, "0s"},
		{Throughput, 120, "120rps"},
		{Bytes, 512, "512B"},
		{Bytes, 536870912, "512MiB"},
		{Bytes, 1.5 * 1024 * 1024 * 1024, "1.5GiB"},
		{Number, 95, "95"},
		{Number, math.NaN(), "NaN"},
	}
	for _, tt := range tests {
		if got := FormatValue(tt.k, tt.v); got != tt.want {
			t.Errorf("FormatValue(%v, %v) = %q, want %q", tt.k, tt.v, got, tt.want)
		}
	}
}

func TestTrigger(t *testing.T) {
	tests := []struct {
		metric, comparison, threshold string
		want                          Condition
	}{
		// The seed's three triggers.
		{"error_rate", "greater_than", "1.0", Condition{"error_rate", Greater, 1, Rate}},
		{"latency_p95", "greater_than", "2000ms", Condition{"latency_p95", Greater, 2, Duration}},
		{"business_conversion_rate", "less_than", "95.0", Condition{"business_conversion_rate", Less, 95, Number}},
		{"error_rate", ">=", "1%", Condition{"error_rate", GreaterEqual, 1, Rate}},
		{"latency_p99", "Less-Than-Or-Equal", " 2s ", Condition{"latency_p99", LessEqual, 2, Duration}},
		{"cpu", "not_equal", "80", Condition{"cpu", NotEqual, 80, Percent}},
		{"x", "equal", "95%", Condition{"x", Equal, 95, Number}},
		{"request_rate", "greater_than_or_equal", "5rps", Condition{"request_rate", GreaterEqual, 5, Throughput}},
	}
	for _, tt := range tests {
		got, err := Trigger(tt.metric, tt.comparison, tt.threshold)
		if err != nil {
			t.Errorf("Trigger(%q, %q, %q): %v", tt.metric, tt.comparison, tt.threshold, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Trigger(%q, %q, %q) = %v, want %v", tt.metric, tt.comparison, tt.threshold, got, tt.want)
		}
	}
	// A trigger fires when its condition holds: less_than 95 fires at 94.
	c, _ := Trigger("business_conversion_rate", "less_than", "95.0")
	if !c.Holds(94) || c.Holds(96) {
		t.Error("less_than 95 should fire at 94 and not at 96")
	}
}

func TestTriggerErrors(t *testing.T) {
	tests := []struct {
		metric, comparison, threshold, want string
		syntax                              bool
	}{
		{"latency_p95", "greater_than", "2000", `threshold "2000": col 1: latency_p95 expects a duration such as 500ms, 2s or 1m, not a bare number`, true},
		{"latency_p95", "greater_than", "10x", `threshold "10x": col 3: unknown unit "x" (known: %, ms, s, m, rps, B, KB, MB, GB, KiB, MiB, GiB)`, true},
		{"error_rate", "greater_than", "1% 2", `threshold "1% 2": col 4: unexpected '2'`, true},
		{"error_rate", "greater_than", "", `threshold "": col 1: expected a value`, true},
		{"error_rate", "greater_than", "abc", `threshold "abc": col 1: expected a number, found 'a'`, true},
		{"error_rate", "bigger", "1", `unknown comparison "bigger" (known: less_than, less_than_or_equal, greater_than, greater_than_or_equal, equal, not_equal, or <, <=, >, >=, ==, !=)`, false},
		{"conversion rate", "less_than", "1", `trigger metric "conversion rate": want a letter or '_' then letters, digits, '_' or '.'`, false},
	}
	for _, tt := range tests {
		_, err := Trigger(tt.metric, tt.comparison, tt.threshold)
		if err == nil {
			t.Errorf("Trigger(%q, %q, %q): no error", tt.metric, tt.comparison, tt.threshold)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Trigger(%q, %q, %q):\n got %q\nwant %q", tt.metric, tt.comparison, tt.threshold, err, tt.want)
		}
		var se *SyntaxError
		if errors.As(err, &se) != tt.syntax {
			t.Errorf("Trigger(%q, %q, %q): *SyntaxError = %v, want %v", tt.metric, tt.comparison, tt.threshold, !tt.syntax, tt.syntax)
		}
	}
}

func TestKindString(t *testing.T) {
	if Duration.String() != "duration" || Kind(42).String() != "kind(42)" {
		t.Errorf("Kind.String: %q %q", Duration.String(), Kind(42).String())
	}
}
