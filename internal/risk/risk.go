// Package risk turns what a release changes, where it goes and when into an
// explainable, deterministic risk score (0-100) with the factors that make it
// up, and picks a rollout strategy from the level. The model and its sources
// are in docs/risk.md. It is part of the pure core: the time is an input.
package risk

import (
	"fmt"
	"math"
	"time"

	"github.com/hugai-dev/hugai/internal/change"
)

// Level is a band of the score.
type Level string

// The levels, from the lowest.
const (
	Low      Level = "low"
	Medium   Level = "medium"
	High     Level = "high"
	Critical Level = "critical"
)

// The cut points: a score below MediumFrom is low, below HighFrom medium,
// below CriticalFrom high, else critical.
const (
	MediumFrom   = 25
	HighFrom     = 50
	CriticalFrom = 75
)

// Factor is one reason the score is what it is.
type Factor struct {
	Name         string
	Contribution float64 // points added to the score (negative only for the cap)
	Reason       string
}

// Assessment is the result of Assess. The contributions of the factors add
// up to Score (to rounding).
type Assessment struct {
	Score   int // 0..100
	Level   Level
	Factors []Factor
}

// Input is everything Assess judges.
type Input struct {
	Changes      *change.Set // nil: no change analysis
	Environment  string
	At           time.Time      // when the deploy is planned for; zero: not judged
	Location     *time.Location // where working hours are judged; nil: UTC
	FreezeWindow string         // the policy window At falls in, "" if none
	RollbackRate *float64       // this service's recent rollback share 0..1; nil: unknown
	Learned      *Learned       // the service's own model of rollbacks; nil: none trained
}

// Learned is what a service's own rollback model (internal/risk/learn, `hugai risk train`) says
// of this deploy. The score blends it half and half with the rules, as one more factor, so the
// factors still add up to the score and --explain shows both.
type Learned struct {
	Probability float64 // the model's chance of a rollback, 0..1
	AUC         float64 // on the rollouts held out from its fit; below 0: not measured
	Samples     int     // finished rollouts it was fitted on
}

// LevelOf returns the level of a score.
func LevelOf(score int) Level {
	switch {
	case score >= CriticalFrom:
		return Critical
	case score >= HighFrom:
		return High
	case score >= MediumFrom:
		return Medium
	}
	return Low
}

// Assess scores a planned deploy. It is deterministic: the same Input gives
// the same Assessment, factors in the same order.
func Assess(in Input) Assessment {
	var fs []Factor
	if in.Changes == nil {
		fs = append(fs, Factor{Name: "no-change-analysis", Contribution: noChangeAnalysisPoints,
			Reason: "no change analysis (no git range): what the release changes could not be judged"})
	} else {
		fs = append(fs, changeFactors(in.Changes)...)
	}
	fs = append(fs, environmentFactor(in.Environment)...)
	fs = append(fs, timeFactor(in.At, in.Location, in.FreezeWindow)...)
	fs = append(fs, rollbackFactor(in.RollbackRate)...)

	var sum float64
	for i := range fs {
		fs[i].Contribution = round1(fs[i].Contribution)
		sum += fs[i].Contribution
	}
	sum = round1(sum)
	if sum > 100 {
		fs = append(fs, Factor{Name: "cap", Contribution: round1(100 - sum),
			Reason: "the score is capped at 100"})
		sum = 100
	}
	if l := in.Learned; l != nil && l.Probability >= 0 && l.Probability <= 1 {
		rule := sum // capped above
		c := round1(0.5*100*l.Probability - 0.5*rule)
		auc := "not measured: the held-out rollouts all ended alike"
		if l.AUC >= 0 {
			auc = fmt.Sprintf("%.2f on the most recent rollouts, held out", l.AUC)
		}
		fs = append(fs, Factor{Name: "learned", Contribution: c, Reason: fmt.Sprintf(
			"the service's own model (%d finished rollouts; AUC %s) gives a %.0f%% chance of a rollback; "+
				"blended half and half with the rules' score %.1f", l.Samples, auc, 100*l.Probability, rule)})
		sum = round1(sum + c)
	}
	score := int(math.Round(sum))
	score = max(0, min(100, score))
	return Assessment{Score: score, Level: LevelOf(score), Factors: fs}
}

// round1 rounds to one decimal, so contributions print and add up exactly.
func round1(x float64) float64 { return math.Round(x*10) / 10 }
