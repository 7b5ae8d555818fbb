package analysis

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/criteria"
	"pgregory.net/rapid"
)

var (
	t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	t1 = t0.Add(30 * time.Second)
)

func mustParse(t *testing.T, s string) []criteria.Condition {
	t.Helper()
	conds, err := criteria.Parse(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return conds
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name     string
		criteria string
		value    Value
		min      uint64
		phase    Phase
		display  string
		message  string
	}{
		{"fails", "error_rate<1%", Value{Value: 20.3, Samples: 412}, 20, Failed, "20.3%", "error_rate 20.3% ≥ 1% over 412 requests"},
		{"passes", "error_rate<1%", Value{Value: 0.25, Samples: 412}, 20, Successful, "0.25%", "error_rate 0.25% < 1% over 412 requests"},
		{"at the threshold fails", "error_rate<1%", Value{Value: 1, Samples: 20}, 20, Failed, "1%", "error_rate 1% ≥ 1% over 20 requests"},
		{"latency fails", "latency_p95<2s", Value{Value: 2.1, Samples: 100}, 20, Failed, "2.1s", "latency_p95 2.1s ≥ 2s over 100 requests"},
		{"latency passes", "latency_p95<=2s", Value{Value: 0.85, Samples: 100}, 20, Successful, "850ms", "latency_p95 850ms ≤ 2s over 100 requests"},
		{"greater fails", "success_rate>99%", Value{Value: 98, Samples: 50}, 20, Failed, "98%", "success_rate 98% ≤ 99% over 50 requests"},
		{"greater-equal fails", "request_rate>=10rps", Value{Value: 2, Samples: 50}, 20, Failed, "2rps", "request_rate 2rps < 10rps over 50 requests"},
		{"equal", "orders==3", Value{Value: 3, Samples: 1}, 1, Successful, "3", "orders 3 = 3 over 1 request"},
		{"not equal fails", "orders!=3", Value{Value: 3, Samples: 1}, 1, Failed, "3", "orders 3 = 3 over 1 request"},
		{"too few samples", "error_rate<1%", Value{Value: 0, Samples: 12}, 20, Pending, "0%", "error_rate: 12 requests of minimumSamples 20 so far"},
		{"too few samples never passes even if failing", "error_rate<1%", Value{Value: 50, Samples: 19}, 20, Pending, "50%", "error_rate: 19 requests of minimumSamples 20 so far"},
		{"no traffic", "error_rate<1%", Value{Value: math.NaN()}, 20, Pending, "", "error_rate: 0 requests of minimumSamples 20 so far"},
		{"no value without a minimum", "error_rate<1%", Value{Value: math.NaN()}, 0, Inconclusive, "", "error_rate: no value over 0 requests"},
		{"infinite is no value", "latency_p99<2s", Value{Value: math.Inf(1), Samples: 30}, 20, Inconclusive, "", "latency_p99: no value over 30 requests"},
		{"query failed", "error_rate<1%", Value{Value: 0, Samples: 500, Err: "proxy at /x.sock: connection refused"}, 20, Error, "", "error_rate: query failed: proxy at /x.sock: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conds, err := criteria.Parse(tt.criteria, criteria.WithMetrics("orders"))
			if err != nil {
				t.Fatal(err)
			}
			var asked []string
			ms := Judge(conds, func(m string) Value { asked = append(asked, m); return tt.value }, tt.min, t0, t1)
			if len(ms) != 1 || len(asked) != 1 || asked[0] != conds[0].Metric {
				t.Fatalf("got %d measurements after reading %v", len(ms), asked)
			}
			m := ms[0]
			if m.Phase != tt.phase || m.Display != tt.display || m.Message != tt.message {
				t.Errorf("got phase %s display %q message %q\nwant phase %s display %q message %q", m.Phase, m.Display, m.Message, tt.phase, tt.display, tt.message)
			}
			if m.Metric != conds[0].Metric || m.Condition != conds[0].String() || !m.From.Equal(t0) || !m.To.Equal(t1) {
				t.Errorf("measurement %+v does not name its condition and window", m)
			}
			if _, err := json.Marshal(m); err != nil {
				t.Errorf("measurement does not persist: %v", err)
			}
		})
	}
}

// With Alpha set, a rate guard fails only beyond doubt, on any number of requests, and a rate
// above its limit that is not beyond doubt passes on enough requests: the per-window threshold's
// false alarm on one error in 50 requests is gone, and a broken version fails on its first few.
func TestJudgeRateGuard(t *testing.T) {
	tests := []struct {
		name     string
		criteria string
		value    Value
		phase    Phase
	}{
		{"one error in 50 is not beyond 1%", "error_rate<1%", Value{Value: 2, Samples: 50}, Successful},
		{"3 in 15 is beyond doubt", "error_rate<1%", Value{Value: 20, Samples: 15}, Failed},
		{"4 in 20 fails below the sample minimum", "error_rate<1%", Value{Value: 20, Samples: 20}, Failed},
		{"2 of 5 fails below the sample minimum", "error_rate<1%", Value{Value: 40, Samples: 5}, Pending},
		{"healthy with enough samples passes", "error_rate<1%", Value{Value: 0.5, Samples: 400}, Successful},
		{"healthy with too few is pending", "error_rate<1%", Value{Value: 0, Samples: 19}, Pending},
		{"1.5% over 10,000 is beyond 1%", "error_rate<1%", Value{Value: 1.5, Samples: 10000}, Failed},
		{"1.2% over 1,000 is not", "error_rate<1%", Value{Value: 1.2, Samples: 1000}, Successful},
		{"success rate mirrors it", "success_rate>=99%", Value{Value: 80, Samples: 20}, Failed},
		{"success rate healthy", "success_rate>=99%", Value{Value: 99.6, Samples: 500}, Successful},
		{"latency keeps its point value", "latency_p95<2s", Value{Value: 2.1, Samples: 20}, Failed},
		{"a limit of 0 keeps its point value", "error_rate<=0%", Value{Value: 5, Samples: 20}, Failed},
		// Triggers: hold (fire) only beyond doubt.
		{"trigger: one error in 50 does not fire", "error_rate>1%", Value{Value: 2, Samples: 50}, Failed},
		{"trigger: 5 in 12 fires below the sample minimum", "error_rate>1%", Value{Value: 41.7, Samples: 12}, Successful},
		{"trigger: quiet and short is pending", "error_rate>1%", Value{Value: 0, Samples: 5}, Pending},
		{"trigger: success rate mirrors it", "success_rate<99%", Value{Value: 60, Samples: 20}, Successful},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conds := mustParse(t, tt.criteria)
			m := JudgeWith(conds, func(string) Value { return tt.value }, Rules{MinimumSamples: 20, Alpha: 0.01}, t0, t1)[0]
			if m.Phase != tt.phase {
				t.Errorf("%s on %v: got %s (%s), want %s", tt.criteria, tt.value, m.Phase, m.Message, tt.phase)
			}
		})
	}
}

// The rate guard is always valid: a version exactly at its limit, looked at after every request
// for as long as a step lasts, is failed at most about α of the time.
func TestRateGuardFalseAlarms(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const runs, n, p0, alpha = 2000, 3000, 0.01, 0.05
	alarms := 0
	for range runs {
		var x int64
		for i := int64(1); i <= n; i++ {
			if rng.Float64() < p0 {
				x++
			}
			if exceeds(x, i, p0, alpha) {
				alarms++
				break
			}
		}
	}
	// Ville's bound is α; the binomial sd of the estimate over 2,000 runs is 0.5pp.
	if rate := float64(alarms) / runs; rate > alpha+0.015 {
		t.Errorf("false alarms %.2f%% > α %.0f%% (+1.5pp)", rate*100, alpha*100)
	}
}

func TestJudgeKeepsOrderAndReadsEachCondition(t *testing.T) {
	conds := mustParse(t, "error_rate<1%,latency_p95<2s,success_rate>=99%")
	values := map[string]Value{
		"error_rate":   {Value: 0.5, Samples: 100},
		"latency_p95":  {Value: 2.5, Samples: 100},
		"success_rate": {Err: "timeout"},
	}
	ms := Judge(conds, func(m string) Value { return values[m] }, 20, t0, t1)
	want := []Phase{Successful, Failed, Error}
	for i, m := range ms {
		if m.Metric != conds[i].Metric || m.Phase != want[i] {
			t.Errorf("measurement %d: %s %s, want %s %s", i, m.Metric, m.Phase, conds[i].Metric, want[i])
		}
	}
	if got := WindowPhase(ms); got != Failed {
		t.Errorf("window phase %s, want Failed", got)
	}
	if ms := Judge(nil, nil, 20, t0, t1); len(ms) != 0 {
		t.Errorf("no conditions: %v", ms)
	}
}

func TestWindowPhase(t *testing.T) {
	ph := func(ps ...Phase) []Measurement {
		ms := make([]Measurement, len(ps))
		for i, p := range ps {
			ms[i].Phase = p
		}
		return ms
	}
	tests := []struct {
		ms   []Measurement
		want Phase
	}{
		{nil, Inconclusive},
		{ph(Successful), Successful},
		{ph(Successful, Successful), Successful},
		{ph(Successful, Inconclusive), Inconclusive},
		{ph(Inconclusive, Error), Error},
		{ph(Error, Failed, Inconclusive), Failed},
		{ph(Successful, Phase("bogus")), Inconclusive},
	}
	for _, tt := range tests {
		if got := WindowPhase(tt.ms); got != tt.want {
			t.Errorf("WindowPhase(%v) = %s, want %s", tt.ms, got, tt.want)
		}
	}
}

func TestMessagesReadForPeople(t *testing.T) {
	conds := mustParse(t, "memory<512000000,cpu<80%")
	ms := Judge(conds, func(m string) Value {
		if m == "memory" {
			return Value{Value: 600 << 20, Samples: 40}
		}
		return Value{Value: 12.5, Samples: 40}
	}, 20, t0, t1)
	if !strings.HasPrefix(ms[0].Message, "memory 600MiB ≥ 488.3MiB over 40") || ms[1].Message != "cpu 12.5% < 80% over 40 requests" {
		t.Errorf("messages %q, %q", ms[0].Message, ms[1].Message)
	}
}

// TestJudgeNeverPassesWithoutEvidence: whatever the reading, a measurement is Successful only when
// the query worked, the samples reach the minimum, the value is finite and the condition holds.
func TestJudgeNeverPassesWithoutEvidence(t *testing.T) {
	conds := mustParse(t, "error_rate<1%,success_rate>=99%,latency_p95<2s,request_rate>5,memory!=0")
	rapid.Check(t, func(rt *rapid.T) {
		c := rapid.SampledFrom(conds).Draw(rt, "condition")
		v := Value{
			Value:   rapid.SampledFrom([]float64{0, 0.5, 1, 2, 5, 99, 99.5, 100, math.NaN(), math.Inf(1), math.Inf(-1), -1}).Draw(rt, "value"),
			Samples: rapid.Uint64Range(0, 40).Draw(rt, "samples"),
		}
		if rapid.Bool().Draw(rt, "fails") {
			v.Err = "boom"
		}
		min := rapid.Uint64Range(0, 30).Draw(rt, "minimumSamples")
		m := Judge([]criteria.Condition{c}, func(string) Value { return v }, min, t0, t1)[0]
		finite := !math.IsNaN(v.Value) && !math.IsInf(v.Value, 0)
		pass := v.Err == "" && v.Samples >= min && finite && c.Holds(v.Value)
		if (m.Phase == Successful) != pass {
			rt.Fatalf("%s with %+v, minimum %d: %s (%s)", c, v, min, m.Phase, m.Message)
		}
		if v.Err != "" && m.Phase != Error {
			rt.Fatalf("failed query judged %s", m.Phase)
		}
		if m.Message == "" || math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			rt.Fatalf("measurement %+v", m)
		}
		if _, err := json.Marshal(m); err != nil {
			rt.Fatalf("measurement does not persist: %v", err)
		}
	})
}
