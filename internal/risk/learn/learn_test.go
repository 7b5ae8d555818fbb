package learn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestAUC(t *testing.T) {
	cases := []struct {
		scores []float64
		labels []bool
		want   float64
	}{
		{[]float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1},
		{[]float64{0.9, 0.8, 0.2, 0.1}, []bool{false, false, true, true}, 0},
		{[]float64{0.5, 0.5, 0.5, 0.5}, []bool{false, true, false, true}, 0.5},
		{[]float64{0.1, 0.4, 0.35, 0.8}, []bool{false, false, true, true}, 0.75}, // the classic example
	}
	for _, c := range cases {
		got, ok := AUC(c.scores, c.labels)
		if !ok || math.Abs(got-c.want) > 1e-9 {
			t.Errorf("AUC(%v, %v) = %v %v, want %v", c.scores, c.labels, got, ok, c.want)
		}
	}
	if _, ok := AUC([]float64{1, 2}, []bool{true, true}); ok {
		t.Error("AUC with one class")
	}
}

// history makes n rollouts where big changes with migrations, deployed late, fail far more often.
func history(n int, seed uint64) []Sample {
	r := rand.New(rand.NewPCG(seed, 1))
	var out []Sample
	t0 := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	for i := range n {
		big := r.IntN(3) == 0
		c := Change{Commits: 1 + r.IntN(5), Added: 20 + r.IntN(100), Files: 1 + r.IntN(4), Subsystems: 1, Classes: map[string]int{"source": 1}}
		at := t0.Add(time.Duration(i) * 7 * time.Hour)
		p := 0.05
		if big {
			c.Added, c.Files, c.Subsystems = 2000+r.IntN(3000), 40+r.IntN(40), 5
			c.Classes["migration"] = 1 + r.IntN(2)
			p = 0.7
		}
		out = append(out, Sample{X: Features(c, at, time.UTC, 0), Failed: r.Float64() < p})
	}
	return out
}

func TestTrainLearnsWhatFails(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	m, err := Train("demo", history(200, 7), now)
	if err != nil {
		t.Fatal(err)
	}
	if m.AUC < 0.75 || m.HeldOut != 60 || m.Samples != 200 || m.Check() != nil {
		t.Errorf("model: AUC %.3f held out %d samples %d check %v", m.AUC, m.HeldOut, m.Samples, m.Check())
	}
	small := Features(Change{Commits: 1, Added: 30, Files: 2, Subsystems: 1, Classes: map[string]int{"source": 2}}, now, nil, 0)
	big := Features(Change{Commits: 3, Added: 4000, Files: 60, Subsystems: 5, Classes: map[string]int{"migration": 2}}, now, nil, 0)
	if ps, pb := m.Probability(small), m.Probability(big); !(pb > 0.4 && ps < 0.2 && pb > ps) {
		t.Errorf("p(small) = %.2f, p(big) = %.2f", ps, pb)
	}
	// Deterministic: the same history gives the same model.
	again, _ := Train("demo", history(200, 7), now)
	for i := range m.Weights {
		if m.Weights[i] != again.Weights[i] {
			t.Fatal("two fits of the same history differ")
		}
	}
}

func TestTrainRefuses(t *testing.T) {
	now := time.Now()
	if _, err := Train("demo", history(MinSamples-1, 1), now); err == nil || !strings.Contains(err.Error(), "at least 50") {
		t.Errorf("too few: %v", err)
	}
	same := history(60, 1)
	for i := range same {
		same[i].Failed = false
	}
	if _, err := Train("demo", same, now); err == nil {
		t.Error("all successes: no error")
	}
	m := &Model{Features: []string{"x"}}
	if m.Check() == nil {
		t.Error("a model of other features passed Check")
	}
}
