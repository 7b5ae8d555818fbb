package criteria

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	named := WithMetrics("business_conversion_rate", "queue_depth")
	tests := []struct {
		in   string
		want []Condition
	}{
		{"error_rate<1%", []Condition{{"error_rate", Less, 1, Rate}}},
		{"error_rate<1.0", []Condition{{"error_rate", Less, 1, Rate}}},
		{"error_rate<0.01", []Condition{{"error_rate", Less, 0.01, Rate}}},
		{"success_rate>=99.5%", []Condition{{"success_rate", GreaterEqual, 99.5, Rate}}},
		{"error_rate<1%,latency_p95<2s", []Condition{
			{"error_rate", Less, 1, Rate}, {"latency_p95", Less, 2, Duration}}},
		{"  error_rate < 1% ,\tlatency_p95 <= 2000ms  ", []Condition{
			{"error_rate", Less, 1, Rate}, {"latency_p95", LessEqual, 2, Duration}}},
		{"latency_p50<850ms", []Condition{{"latency_p50", Less, 0.85, Duration}}},
		{"latency_p90<1.5s", []Condition{{"latency_p90", Less, 1.5, Duration}}},
		{"latency_p99<1m", []Condition{{"latency_p99", Less, 60, Duration}}},
		{"latency_p99<.5s", []Condition{{"latency_p99", Less, 0.5, Duration}}},
		{"request_rate>120rps", []Condition{{"request_rate", Greater, 120, Throughput}}},
		{"request_rate>120", []Condition{{"request_rate", Greater, 120, Throughput}}},
		{"cpu<80%", []Condition{{"cpu", Less, 80, Percent}}},
		{"cpu<250", []Condition{{"cpu", Less, 250, Percent}}},
		{"memory<536870912", []Condition{{"memory", Less, 536870912, Bytes}}},
		{"memory<512MiB", []Condition{{"memory", Less, 536870912, Bytes}}},
		{"memory<1GB", []Condition{{"memory", Less, 1e9, Bytes}}},
		// The seed's names for builtin metrics judge the builtin.
		{"response_time_p95<2s", []Condition{{"latency_p95", Less, 2, Duration}}},
		{"throughput>10", []Condition{{"request_rate", Greater, 10, Throughput}}},
		{"cpu_utilization<80%", []Condition{{"cpu", Less, 80, Percent}}},
		{"memory_usage<1GiB", []Condition{{"memory", Less, 1 << 30, Bytes}}},
		{"http_request_duration<500ms", []Condition{{"latency_p95", Less, 0.5, Duration}}},
		{"error_rate==0", []Condition{{"error_rate", Equal, 0, Rate}}},
		{"error_rate!=-0", []Condition{{"error_rate", NotEqual, 0, Rate}}},
		{"business_conversion_rate>=95", []Condition{{"business_conversion_rate", GreaterEqual, 95, Number}}},
		{"business_conversion_rate>=95%", []Condition{{"business_conversion_rate", GreaterEqual, 95, Number}}},
		{"queue_depth>-3.5", []Condition{{"queue_depth", Greater, -3.5, Number}}},
		{"error_rate<1%,error_rate<2%", []Condition{{"error_rate", Less, 1, Rate}, {"error_rate", Less, 2, Rate}}},
		{"error_rate<1%\n,latency_p95<2s\n", []Condition{
			{"error_rate", Less, 1, Rate}, {"latency_p95", Less, 2, Duration}}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in, named)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Parse(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		opts []Option
		want string
	}{
		{"error_rate<1%%", nil, "col 14: unexpected '%'"},
		{"memory_usage<80%", nil, "col 16: memory_usage is measured in bytes (the processes of a version run under no memory limit to take a share of): write a size such as memory_usage<512MiB"},
		{"eror_rate<1%", nil, `col 1: unknown metric "eror_rate" (did you mean error_rate?)`},
		{"Error_Rate<1%", nil, `col 1: unknown metric "Error_Rate" (did you mean error_rate?)`},
		{"latency_p59<2s", nil, `col 1: unknown metric "latency_p59" (did you mean latency_p50?)`},
		{"thruput>1", nil, `col 1: unknown metric "thruput" (known: error_rate, success_rate, latency_mean, latency_p50, latency_p90, latency_p95, latency_p99, request_rate, cpu, memory)`},
		{"orders>1", []Option{WithMetrics("queue_depth")}, `col 1: unknown metric "orders" (known: error_rate, success_rate, latency_mean, latency_p50, latency_p90, latency_p95, latency_p99, request_rate, cpu, memory, queue_depth)`},
		{"queue_dpth>1", []Option{WithMetrics("queue_depth")}, `col 1: unknown metric "queue_dpth" (did you mean queue_depth?)`},
		{"error_rate<1%, bogus<2", nil, `col 16: unknown metric "bogus" (known: error_rate, success_rate, latency_mean, latency_p50, latency_p90, latency_p95, latency_p99, request_rate, cpu, memory)`},
		{"", nil, "col 1: empty criteria: expected a condition such as error_rate<1%"},
		{"   ", nil, "col 4: empty criteria: expected a condition such as error_rate<1%"},
		{"error_rate<1%,", nil, "col 15: expected a condition after ','"},
		{"error_rate<1%, ", nil, "col 16: expected a condition after ','"},
		{"error_rate<1%,,latency_p95<2s", nil, "col 15: expected a metric name, found ','"},
		{",error_rate<1%", nil, "col 1: expected a metric name, found ','"},
		{"error_rate<", nil, "col 12: expected a value after '<'"},
		{"error_rate< ", nil, "col 13: expected a value after '<'"},
		{"error_rate<%", nil, "col 12: expected a number after '<', found '%'"},
		{"error_rate<,latency_p95<2s", nil, "col 12: expected a number after '<', found ','"},
		{"error_rate", nil, "col 11: expected an operator (<, <=, >, >=, ==, !=) after error_rate"},
		{"error_rate 1%", nil, "col 12: expected an operator (<, <=, >, >=, ==, !=) after error_rate, found '1'"},
		{"error_rate=1%", nil, "col 11: unexpected '=' (did you mean ==?)"},
		{"error_rate!1%", nil, "col 11: unexpected '!' (did you mean !=?)"},
		{"error_rate<<1%", nil, "col 12: expected a number after '<', found '<'"},
		{"error_rate<1.%", nil, "col 14: expected a digit after '.', found '%'"},
		{"error_rate<2s", nil, "col 13: error_rate expects a percentage such as 1%, not a duration (s)"},
		{"error_rate<5rps", nil, "col 13: error_rate expects a percentage such as 1%, not a rate (rps)"},
		{"error_rate<150%", nil, "col 12: 150% is not within 0..100%"},
		{"success_rate>-1", nil, "col 14: success_rate cannot be negative"},
		{"latency_p95<2", nil, "col 13: latency_p95 expects a duration such as 500ms, 2s or 1m, not a bare number"},
		{"latency_p95<2%", nil, "col 14: latency_p95 expects a duration such as 500ms, 2s or 1m, not a percentage"},
		{"latency_p95<2 s", nil, "col 13: latency_p95 expects a duration such as 500ms, 2s or 1m, not a bare number"},
		{"latency_p95<2h", nil, `col 14: unknown unit "h" (known: %, ms, s, m, rps, B, KB, MB, GB, KiB, MiB, GiB)`},
		{"latency_p95<2sec", nil, `col 14: unknown unit "sec" (known: %, ms, s, m, rps, B, KB, MB, GB, KiB, MiB, GiB)`},
		{"latency_p95<-2s", nil, "col 13: latency_p95 cannot be negative"},
		{"request_rate>1s", nil, "col 15: request_rate expects requests per second such as 100rps, not a duration (s)"},
		{"cpu<80rps", nil, "col 7: cpu expects a percentage such as 80%, not a rate (rps)"},
		{"memory<50%", nil, "col 10: memory is measured in bytes (the processes of a version run under no memory limit to take a share of): write a size such as memory<512MiB"},
		{"memory<512m", nil, "col 11: memory expects bytes such as 536870912 or 512MiB, not a duration (m)"},
		{"queue_depth<1ms", []Option{WithMetrics("queue_depth")}, "col 14: queue_depth expects a plain number, not a duration (ms)"},
		{"latency_p95<2s latency_p99<3s", nil, "col 16: unexpected 'l' (separate conditions with ',')"},
		{"error_rate<1% ;", nil, "col 15: unexpected ';'"},
		{"error_rate<1%2", nil, "col 14: unexpected '2'"},
		{"error_rate<1e3", nil, `col 13: unknown unit "e" (known: %, ms, s, m, rps, B, KB, MB, GB, KiB, MiB, GiB)`},
		{"é<1", nil, "col 1: expected a metric name, found 'é'"},
		{"error_rate<1%,é", nil, "col 15: expected a metric name, found 'é'"},
		{"latency_p95<2s,ü<1", nil, "col 16: expected a metric name, found 'ü'"},
		{"memory<" + strings.Repeat("9", 310), nil, "col 8: value 99999999999999999999... is out of range"},
		{"latency_p95<" + strings.Repeat("9", 308) + "m", nil, "col 13: value 99999999999999999999...m is out of range"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in, tt.opts...)
		if err == nil {
			t.Errorf("Parse(%q): no error, want %q", tt.in, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Parse(%q):\n got %q\nwant %q", tt.in, err.Error(), tt.want)
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q): error %T is not a *SyntaxError", tt.in, err)
		}
	}
}

// A builtin listed among the named metrics keeps its meaning: listing it only moves where it is
// measured.
func TestWithMetricsKeepsBuiltinKind(t *testing.T) {
	got, err := Parse("error_rate<1", WithMetrics("error_rate"))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Kind != Rate {
		t.Errorf("kind = %v, want rate", got[0].Kind)
	}
}
