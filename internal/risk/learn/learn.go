// Package learn fits a service's own rollback model from its finished rollouts: a logistic
// regression on just-in-time change features (Kamei et al.: size, spread, entropy, kinds of files),
// the hour and day, and the service's recent failure rate, with its AUC on the most recent
// rollouts held out. It is part of the pure core: samples and times are inputs, the fit is
// deterministic.
package learn

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/hugai-dev/hugai/internal/change"
	"github.com/hugai-dev/hugai/internal/plan"
)

// MinSamples is how many finished rollouts a model needs.
const MinSamples = 50

// Change is what a rollout shipped, as its stored plan summarises it.
type Change struct {
	Commits, Added, Deleted, Files int
	Subsystems                     int            // distinct top-level directories
	Entropy                        float64        // spread of the lines over the files, 0..1
	Classes                        map[string]int // files per class (migration, config, …)
}

// FeatureNames name the features, in order.
var FeatureNames = []string{
	"log_lines", "log_files", "log_commits", "subsystems", "entropy",
	"migrations", "config", "dependencies", "infrastructure", "test_share",
	"hour_sin", "hour_cos", "weekend", "recent_failure_rate",
}

// Features turns a change, its time and the service's recent failure rate (0..1) into the
// model's inputs.
func Features(c Change, at time.Time, loc *time.Location, recentFailureRate float64) []float64 {
	if loc == nil {
		loc = time.UTC
	}
	t := at.In(loc)
	hour := float64(t.Hour()) + float64(t.Minute())/60
	weekend := 0.0
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		weekend = 1
	}
	testShare := 0.0
	if c.Files > 0 {
		testShare = float64(c.Classes["test"]) / float64(c.Files)
	}
	return []float64{
		math.Log1p(float64(c.Added + c.Deleted)), math.Log1p(float64(c.Files)), math.Log1p(float64(c.Commits)),
		float64(c.Subsystems), c.Entropy,
		float64(min(c.Classes["migration"], 5)), float64(min(c.Classes["config"], 5)),
		float64(min(c.Classes["dependency"], 5)), float64(min(c.Classes["infrastructure"], 5)), testShare,
		math.Sin(2 * math.Pi * hour / 24), math.Cos(2 * math.Pi * hour / 24), weekend, recentFailureRate,
	}
}

// Sample is one finished rollout.
type Sample struct {
	X      []float64
	Failed bool // rolled back (or its rollback failed)
}

// Model is a fitted logistic regression over standardised features.
type Model struct {
	Service  string    `json:"service"`
	Features []string  `json:"features"`
	Mean     []float64 `json:"mean"`
	Std      []float64 `json:"std"`
	Weights  []float64 `json:"weights"`
	Bias     float64   `json:"bias"`
	Samples  int       `json:"samples"`
	Failures int       `json:"failures"`
	// AUC is measured on the most recent HeldOut samples by a model fitted on the ones before
	// them; NaN-free: -1 when the held-out part holds only one class.
	AUC     float64   `json:"auc"`
	HeldOut int       `json:"heldOut"`
	Trained time.Time `json:"trained"`
}

// Train fits a model on samples in time order (oldest first). It refuses fewer than MinSamples,
// or samples that are all failures or all successes (nothing to tell apart).
func Train(service string, samples []Sample, now time.Time) (*Model, error) {
	if len(samples) < MinSamples {
		return nil, fmt.Errorf("%d finished rollouts of %s: a model needs at least %d", len(samples), service, MinSamples)
	}
	failures := 0
	for _, s := range samples {
		if len(s.X) != len(FeatureNames) {
			return nil, fmt.Errorf("a sample has %d features, want %d", len(s.X), len(FeatureNames))
		}
		if s.Failed {
			failures++
		}
	}
	if failures == 0 || failures == len(samples) {
		return nil, errors.New("every finished rollout ended the same way: nothing to learn from")
	}
	// Held out: the most recent 30%, as the model will be used on rollouts after its training.
	cut := len(samples) * 7 / 10
	auc := -1.0
	if m, err := fit(samples[:cut]); err == nil {
		var scores []float64
		var labels []bool
		for _, s := range samples[cut:] {
			scores = append(scores, m.Probability(s.X))
			labels = append(labels, s.Failed)
		}
		if a, ok := AUC(scores, labels); ok {
			auc = a
		}
	}
	m, err := fit(samples)
	if err != nil {
		return nil, err
	}
	m.Service, m.Samples, m.Failures, m.AUC, m.HeldOut, m.Trained = service, len(samples), failures, auc, len(samples)-cut, now.UTC()
	return m, nil
}

// fit runs batch gradient descent with an L2 penalty: deterministic, and enough for a few
// hundred samples of 14 features.
func fit(samples []Sample) (*Model, error) {
	k := len(FeatureNames)
	m := &Model{Features: FeatureNames, Mean: make([]float64, k), Std: make([]float64, k), Weights: make([]float64, k)}
	n := float64(len(samples))
	for _, s := range samples {
		for j, v := range s.X {
			m.Mean[j] += v / n
		}
	}
	for _, s := range samples {
		for j, v := range s.X {
			m.Std[j] += (v - m.Mean[j]) * (v - m.Mean[j]) / n
		}
	}
	for j := range m.Std {
		m.Std[j] = math.Sqrt(m.Std[j])
		if m.Std[j] < 1e-9 {
			m.Std[j] = 1 // a constant feature: its weight stays 0
		}
	}
	const (
		rate   = 0.5
		lambda = 0.01
		rounds = 3000
	)
	z := make([][]float64, len(samples))
	for i, s := range samples {
		z[i] = m.standard(s.X)
	}
	grad := make([]float64, k)
	for r := 0; r < rounds; r++ {
		clear(grad)
		var gb float64
		for i, s := range samples {
			p := sigmoid(m.Bias + dot(m.Weights, z[i]))
			y := 0.0
			if s.Failed {
				y = 1
			}
			for j := range grad {
				grad[j] += (p - y) * z[i][j] / n
			}
			gb += (p - y) / n
		}
		for j := range m.Weights {
			m.Weights[j] -= rate * (grad[j] + lambda*m.Weights[j])
		}
		m.Bias -= rate * gb
	}
	for _, w := range m.Weights {
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, errors.New("the fit diverged")
		}
	}
	return m, nil
}

func (m *Model) standard(x []float64) []float64 {
	z := make([]float64, len(x))
	for j, v := range x {
		z[j] = (v - m.Mean[j]) / m.Std[j]
	}
	return z
}

// Probability is the model's chance (0..1) that a rollout with features x is rolled back.
func (m *Model) Probability(x []float64) float64 {
	if len(x) != len(m.Weights) {
		return math.NaN()
	}
	return sigmoid(m.Bias + dot(m.Weights, m.standard(x)))
}

// Check says whether a model read back is one this code can use.
func (m *Model) Check() error {
	k := len(FeatureNames)
	if len(m.Features) != k || len(m.Mean) != k || len(m.Std) != k || len(m.Weights) != k {
		return fmt.Errorf("model of %s has other features than this hugai's: train it again (hugai risk train)", m.Service)
	}
	for j, f := range m.Features {
		if f != FeatureNames[j] || m.Std[j] <= 0 || math.IsNaN(m.Weights[j]) {
			return fmt.Errorf("model of %s: feature %d is %q, want %q: train it again", m.Service, j, f, FeatureNames[j])
		}
	}
	return nil
}

// AUC is the area under the ROC curve of scores against labels (the chance a random failure
// scores above a random success, ties counting half); ok is false without both classes.
func AUC(scores []float64, labels []bool) (float64, bool) {
	type pt struct {
		s float64
		y bool
	}
	pts := make([]pt, len(scores))
	pos, neg := 0, 0
	for i := range scores {
		pts[i] = pt{scores[i], labels[i]}
		if labels[i] {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return 0, false
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].s < pts[j].s })
	// Mann-Whitney U over average ranks.
	var rankSum float64
	for i := 0; i < len(pts); {
		j := i
		for j < len(pts) && pts[j].s == pts[i].s {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if pts[k].y {
				rankSum += avg
			}
		}
		i = j
	}
	u := rankSum - float64(pos*(pos+1))/2
	return u / float64(pos*neg), true
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// FromSet summarises a change read from git.
func FromSet(cs *change.Set) Change {
	c := Change{Classes: map[string]int{}}
	if cs == nil {
		return c
	}
	t := cs.Totals()
	c.Commits, c.Added, c.Deleted, c.Files = t.Commits, t.Added, t.Deleted, t.Files
	c.Subsystems = len(cs.Subsystems())
	lines := make([]int, 0, len(cs.Files))
	for _, f := range cs.Files {
		c.Classes[string(f.Class)]++
		lines = append(lines, f.Lines())
	}
	c.Entropy = spread(lines)
	return c
}

// FromPlan summarises a change as a stored plan keeps it (its largest files, and a count of
// the others).
func FromPlan(pc *plan.Changes) Change {
	c := Change{Classes: map[string]int{}}
	if pc == nil {
		return c
	}
	c.Commits, c.Added, c.Deleted = pc.Commits, pc.Added, pc.Deleted
	c.Files = len(pc.Files) + pc.OmittedFiles
	subs := map[string]bool{}
	lines := make([]int, 0, len(pc.Files))
	for _, f := range pc.Files {
		c.Classes[f.Class]++
		top, _, found := strings.Cut(f.Path, "/")
		if !found {
			top = "."
		}
		subs[top] = true
		lines = append(lines, f.Added+f.Deleted)
	}
	c.Subsystems = len(subs)
	c.Entropy = spread(lines)
	return c
}

// spread is the entropy of the lines over the files, over its maximum: 0 all in one, 1 even.
func spread(lines []int) float64 {
	total := 0
	for _, l := range lines {
		total += l
	}
	if total == 0 || len(lines) < 2 {
		return 0
	}
	var h float64
	for _, l := range lines {
		if l > 0 {
			p := float64(l) / float64(total)
			h -= p * math.Log2(p)
		}
	}
	return h / math.Log2(float64(len(lines)))
}
