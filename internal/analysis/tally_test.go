package analysis

import (
	"encoding/json"
	"testing"

	"pgregory.net/rapid"
)

// window is a one-measurement window of phase p.
func window(p Phase) []Measurement { return []Measurement{{Metric: "error_rate", Phase: p}} }

func tallyOf(ps ...Phase) Tally {
	var t Tally
	for _, p := range ps {
		t = t.Add(window(p))
	}
	return t
}

const (
	S = Successful
	F = Failed
	I = Inconclusive
	E = Error
)

func TestVerdict(t *testing.T) {
	tests := []struct {
		name    string
		windows []Phase
		limits  Limits
		want    Phase
		reason  string
	}{
		{"nothing yet", nil, DefaultLimits(), Running, "0 windows"},
		{"passing so far", []Phase{S, S}, DefaultLimits(), Running, "2 windows: 2 successful"},
		{"first failure fails by default", []Phase{S, F}, DefaultLimits(), Failed, "1 failed window > failureLimit 0"},
		{"failures within the limit", []Phase{F, S, F}, Limits{FailureLimit: 2, ConsecutiveErrorLimit: 4, InconclusiveLimit: 3}, Running, "3 windows: 1 successful, 2 failed"},
		{"failures past the limit", []Phase{F, S, F, F}, Limits{FailureLimit: 2, ConsecutiveErrorLimit: 4, InconclusiveLimit: 3}, Failed, "3 failed windows > failureLimit 2"},
		{"negative failure limit never fails", []Phase{F, F, F}, Limits{FailureLimit: -1}, Running, "3 windows: 3 failed"},
		{"four errors in a row are tolerated", []Phase{E, E, E, E}, DefaultLimits(), Running, "4 windows: 4 errored"},
		{"five errors in a row fail", []Phase{E, E, E, E, E}, DefaultLimits(), Failed, "5 errored windows in a row > consecutiveErrorLimit 4"},
		{"a success ends a run of errors", []Phase{E, E, E, E, S, E, E, E, E}, DefaultLimits(), Running, "9 windows: 1 successful, 8 errored"},
		{"an inconclusive window ends a run of errors", []Phase{E, E, E, I, E, E}, DefaultLimits(), Running, "6 windows: 1 inconclusive, 5 errored"},
		{"zero error limit fails at the first error", []Phase{E}, Limits{ConsecutiveErrorLimit: 0}, Failed, "1 errored window in a row > consecutiveErrorLimit 0"},
		{"two inconclusive windows", []Phase{I, I}, DefaultLimits(), Running, "2 windows: 2 inconclusive"},
		{"three inconclusive windows pause", []Phase{S, I, I, I}, DefaultLimits(), Inconclusive, "3 inconclusive windows in a row reached inconclusiveLimit 3"},
		{"a success ends a run of inconclusive", []Phase{I, I, S, I, I}, DefaultLimits(), Running, "5 windows: 1 successful, 4 inconclusive"},
		{"an error ends a run of inconclusive", []Phase{I, I, E, I, I}, DefaultLimits(), Running, "5 windows: 4 inconclusive, 1 errored"},
		{"inconclusive limit 0 never pauses", []Phase{I, I, I, I, I, I}, Limits{InconclusiveLimit: 0, ConsecutiveErrorLimit: 4}, Running, "6 windows: 6 inconclusive"},
		{"failure outranks inconclusive", []Phase{I, I, F}, Limits{InconclusiveLimit: 1}, Failed, "1 failed window > failureLimit 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tallyOf(tt.windows...).Verdict(tt.limits)
			if got.Phase != tt.want || got.Reason != tt.reason {
				t.Errorf("Verdict = %s %q, want %s %q", got.Phase, got.Reason, tt.want, tt.reason)
			}
		})
	}
}

func TestComplete(t *testing.T) {
	tests := []struct {
		windows []Phase
		want    Phase
		reason  string
	}{
		{[]Phase{S, S, S}, Successful, "3 windows: 3 successful"},
		{[]Phase{S, I, E}, Successful, "3 windows: 1 successful, 1 inconclusive, 1 errored"},
		{nil, Inconclusive, "no window passed: 0 windows"},
		{[]Phase{I, E, I}, Inconclusive, "no window passed: 3 windows: 2 inconclusive, 1 errored"},
		{[]Phase{S, F}, Failed, "1 failed window > failureLimit 0"},
		{[]Phase{S, I, I, I}, Inconclusive, "3 inconclusive windows in a row reached inconclusiveLimit 3"},
	}
	for _, tt := range tests {
		got := tallyOf(tt.windows...).Complete(DefaultLimits())
		if got.Phase != tt.want || got.Reason != tt.reason {
			t.Errorf("Complete(%v) = %s %q, want %s %q", tt.windows, got.Phase, got.Reason, tt.want, tt.reason)
		}
	}
}

func TestLimitsFrom(t *testing.T) {
	if got := LimitsFrom(nil, nil, nil); got != DefaultLimits() {
		t.Errorf("LimitsFrom(nil...) = %+v, want the defaults", got)
	}
	two, zero := 2, 0
	if got, want := LimitsFrom(&two, &zero, &zero), (Limits{FailureLimit: 2, ConsecutiveErrorLimit: 0, InconclusiveLimit: 0}); got != want {
		t.Errorf("LimitsFrom = %+v, want %+v", got, want)
	}
}

func TestTallyPersists(t *testing.T) {
	in := tallyOf(S, F, I, I, E, E)
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"windows":6,"successful":1,"failed":1,"inconclusive":2,"errors":2,"consecutiveErrors":2,"consecutiveInconclusive":0}`
	if string(b) != want {
		t.Errorf("json %s\nwant %s", b, want)
	}
	var out Tally
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("round trip %+v, %v; want %+v", out, err, in)
	}
}

// phases draws a window's measurement phases, including none at all.
var phaseGen = rapid.SampledFrom([]Phase{Successful, Failed, Inconclusive, Error})

func limitsGen() *rapid.Generator[Limits] {
	return rapid.Custom(func(t *rapid.T) Limits {
		return Limits{
			FailureLimit:          rapid.IntRange(-1, 5).Draw(t, "failureLimit"),
			ConsecutiveErrorLimit: rapid.IntRange(-1, 5).Draw(t, "consecutiveErrorLimit"),
			InconclusiveLimit:     rapid.IntRange(-1, 5).Draw(t, "inconclusiveLimit"),
		}
	})
}

// TestTallyProperties checks the tally against a plain recount of the windows' phases, and the
// verdict against the limits, for any run of windows.
func TestTallyProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		windows := rapid.SliceOfN(rapid.SliceOfN(phaseGen, 0, 4), 0, 30).Draw(rt, "windows")
		l := limitsGen().Draw(rt, "limits")
		var tally Tally
		var phases []Phase
		for i, ps := range windows {
			ms := make([]Measurement, len(ps))
			for j, p := range ps {
				ms[j].Phase = p
			}
			tally = tally.Add(ms)
			phases = append(phases, WindowPhase(ms))

			// Never loses a window.
			if got := tally.Successful + tally.Failed + tally.Inconclusive + tally.Errors; got != tally.Windows || tally.Windows != i+1 {
				rt.Fatalf("after %d windows: %+v sums to %d", i+1, tally, got)
			}
			// The runs are the trailing runs of the recount.
			if want := trailing(phases, Error); tally.ConsecutiveErrors != want {
				rt.Fatalf("consecutive errors %d, want %d after %v", tally.ConsecutiveErrors, want, phases)
			}
			if want := trailing(phases, Inconclusive); tally.ConsecutiveInconclusive != want {
				rt.Fatalf("consecutive inconclusive %d, want %d after %v", tally.ConsecutiveInconclusive, want, phases)
			}
			if want := countOf(phases, Failed); tally.Failed != want {
				rt.Fatalf("failed %d, want %d", tally.Failed, want)
			}
			// One failing measurement makes the window fail, whatever else it holds.
			for _, p := range ps {
				if p == Failed && phases[i] != Failed {
					rt.Fatalf("window %v judged %s", ps, phases[i])
				}
			}

			v := tally.Verdict(l)
			if v.Phase == Successful || v.Phase == Error || v.Reason == "" {
				rt.Fatalf("Verdict returned %+v", v)
			}
			if l.FailureLimit >= 0 && tally.Failed > l.FailureLimit && v.Phase != Failed {
				rt.Fatalf("%d failed windows over limit %d: verdict %s", tally.Failed, l.FailureLimit, v.Phase)
			}
			if l.ConsecutiveErrorLimit >= 0 && tally.ConsecutiveErrors > l.ConsecutiveErrorLimit && v.Phase != Failed {
				rt.Fatalf("%d errors in a row over limit %d: verdict %s", tally.ConsecutiveErrors, l.ConsecutiveErrorLimit, v.Phase)
			}
			if v.Phase == Failed && !(l.FailureLimit >= 0 && tally.Failed > l.FailureLimit) && !(l.ConsecutiveErrorLimit >= 0 && tally.ConsecutiveErrors > l.ConsecutiveErrorLimit) {
				rt.Fatalf("failed with no limit passed: %+v %+v", tally, l)
			}
			if v.Phase == Inconclusive && !(l.InconclusiveLimit > 0 && tally.ConsecutiveInconclusive >= l.InconclusiveLimit) {
				rt.Fatalf("inconclusive with no limit reached: %+v %+v", tally, l)
			}

			c := tally.Complete(l)
			if c.Phase == Running || c.Phase == Error {
				rt.Fatalf("Complete returned %+v", c)
			}
			if c.Phase == Successful && (tally.Successful == 0 || v.Phase != Running) {
				rt.Fatalf("Complete passed %+v (verdict %s)", tally, v.Phase)
			}
		}
	})
}

func trailing(ps []Phase, p Phase) int {
	n := 0
	for i := len(ps) - 1; i >= 0 && ps[i] == p; i-- {
		n++
	}
	return n
}

func countOf(ps []Phase, p Phase) int {
	n := 0
	for _, q := range ps {
		if q == p {
			n++
		}
	}
	return n
}
