package criteria

import (
	"math"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

var extraMetrics = []string{"business_conversion_rate", "queue_depth", "x.y_2"}

var allOps = []Op{Less, LessEqual, Greater, GreaterEqual, Equal, NotEqual}

// genCondition draws a condition Parse could return: a known metric, any operator, and a value
// in the range its kind allows. Values come both from whole units people write and from the
// whole float range, where printing exactly is hardest.
func genCondition() *rapid.Generator[Condition] {
	names := append(Builtins(), extraMetrics...)
	return rapid.Custom(func(t *rapid.T) Condition {
		name := rapid.SampledFrom(names).Draw(t, "metric")
		kind, _ := MetricKind(name)
		var v float64
		switch kind {
		case Rate:
			v = rapid.Float64Range(0, 100).Draw(t, "rate")
		case Duration:
			v = rapid.OneOf(
				rapid.Map(rapid.IntRange(0, 600_000), func(ms int) float64 { return float64(ms) / 1000 }),
				rapid.Map(rapid.IntRange(0, 1000), func(m int) float64 { return float64(m) * 60 }),
				rapid.Float64Range(0, math.MaxFloat64/60),
			).Draw(t, "seconds")
		case Number:
			v = rapid.Float64Range(-math.MaxFloat64, math.MaxFloat64).Draw(t, "number")
		default:
			v = rapid.Float64Range(0, math.MaxFloat64).Draw(t, "value")
		}
		if v == 0 {
			v = 0 // Parse never returns -0
		}
		return Condition{Metric: name, Op: rapid.SampledFrom(allOps).Draw(t, "op"), Value: v, Kind: kind}
	})
}

func TestStringParsesBack(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		conds := rapid.SliceOfN(genCondition(), 1, 5).Draw(t, "conds")
		text := Format(conds)
		got, err := Parse(text, WithMetrics(extraMetrics...))
		if err != nil {
			t.Fatalf("Parse(%q): %v", text, err)
		}
		if !slices.Equal(got, conds) {
			t.Fatalf("Parse(%q) = %v, want %v", text, got, conds)
		}
	})
}

// FuzzParse feeds arbitrary text to Parse: it must not panic, every error must be a
// *SyntaxError pointing inside the input (or just past it), and whatever parses must print to a
// canonical text that parses back to the same conditions.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"error_rate<1%,latency_p95<2s", "queue_depth>-1"} {
		f.Add(s)
	}
	opt := WithMetrics(extraMetrics...)
	f.Fuzz(func(t *testing.T, s string) {
		conds, err := Parse(s, opt)
		if err != nil {
			se, ok := err.(*SyntaxError)
			if !ok {
				t.Fatalf("Parse(%q): error %T is not a *SyntaxError", s, err)
			}
			if se.Col < 1 || se.Col > len([]rune(s))+1 {
				t.Fatalf("Parse(%q): col %d outside the input", s, se.Col)
			}
			return
		}
		if len(conds) == 0 {
			t.Fatalf("Parse(%q): no conditions and no error", s)
		}
		text := Format(conds)
		again, err := Parse(text, opt)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its canonical %q fails: %v", s, text, err)
		}
		if !slices.Equal(again, conds) {
			t.Fatalf("canonical %q of %q parses to %v, want %v", text, s, again, conds)
		}
		if Format(again) != text {
			t.Fatalf("canonical text is not stable: %q then %q", text, Format(again))
		}
	})
}

func BenchmarkParse(b *testing.B) {
	const s = "error_rate<1%, success_rate>=99%, latency_p95<2s, latency_p99<=2500ms, request_rate>10rps, cpu<80%"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	conds, err := Parse("error_rate<1%,success_rate>=99%,latency_p95<2s,latency_p99<=2500ms,request_rate>10rps,cpu<80%")
	if err != nil {
		b.Fatal(err)
	}
	values := map[string]float64{"error_rate": 0.3, "success_rate": 99.7, "latency_p95": 1.2,
		"latency_p99": 2.2, "request_rate": 150, "cpu": 41}
	lookup := func(m string) (float64, bool) { v, ok := values[m]; return v, ok }
	b.ReportAllocs()
	for b.Loop() {
		if !AllPass(Evaluate(conds, lookup)) {
			b.Fatal("criteria should pass")
		}
	}
}
