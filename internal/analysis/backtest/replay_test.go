package backtest

import (
	"math/rand/v2"
	"testing"

	"github.com/hugai-dev/hugai/internal/analysis"
)

// record makes a rollout's trail: looks of 3 s, 100 req/s at a 5% weight, the baseline failing
// 0.5% and the candidate effect times that.
func record(r *rand.Rand, id string, effect float64, looks int) Recorded {
	rec := Recorded{ID: id, Outcome: "test"}
	for range looks {
		var l RecordedLook
		for range 3 {
			nb, nc := poisson(r, 95), poisson(r, 5)
			w := analysis.Window{
				Canary:   analysis.Counts{Requests: nc, Events: binomial(r, nc, 0.005*effect)},
				Baseline: analysis.Counts{Requests: nb, Events: binomial(r, nb, 0.005)},
			}
			l.Errors = append(l.Errors, w)
			l.Latency = append(l.Latency, analysis.LatencyWindow{Slow: analysis.Window{
				Canary:   analysis.Counts{Requests: nc, Events: binomial(r, nc, 0.05)},
				Baseline: analysis.Counts{Requests: nb, Events: binomial(r, nb, 0.05)},
			}})
		}
		rec.Looks = append(rec.Looks, l)
	}
	return rec
}

func TestReplay(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	var recs []Recorded
	for range 20 {
		recs = append(recs, record(r, "aa", 1, 60))
	}
	for range 20 {
		recs = append(recs, record(r, "10x", 10, 60))
	}
	out, err := Replay(recs, analysis.DefaultConfig(), WindowRule{ErrorRate: 0.01, MinimumSamples: 10})
	if err != nil {
		t.Fatal(err)
	}
	var aaSeq, badSeq, aaThr int
	for _, o := range out {
		if o.Seconds != 180 || o.CanaryRequests == 0 {
			t.Fatalf("%+v", o)
		}
		switch {
		case o.ID == "aa" && o.Sequential != nil:
			aaSeq++
		case o.ID == "10x" && o.Sequential != nil:
			badSeq++
		}
		if o.ID == "aa" && o.Threshold != nil {
			aaThr++
		}
	}
	if aaSeq > 1 || badSeq < 19 {
		t.Errorf("sequential: %d of 20 A/A rolled back, %d of 20 10× caught", aaSeq, badSeq)
	}
	// One error in a 15-request look is 6.7% > 1%: the window rule cries wolf on healthy canaries.
	if aaThr < 5 {
		t.Errorf("the window rule rolled back only %d of 20 A/A: the replay does not apply it", aaThr)
	}
	if _, err := Replay(recs, analysis.DefaultConfig(), WindowRule{ErrorRate: 2}); err == nil {
		t.Error("a window rule above 100% must be refused")
	}
	bad := []Recorded{{ID: "x", Looks: []RecordedLook{{Errors: []analysis.Window{{Canary: analysis.Counts{Requests: 1, Events: 5}}}}}}}
	if _, err := Replay(bad, analysis.DefaultConfig(), WindowRule{ErrorRate: 0.01}); err == nil {
		t.Error("a recorded second with more errors than requests must be refused")
	}
}
