// Package planner decides a DeploymentPlan from a service file, an environment and the change being
// shipped: the strategy and its steps from the risk, the approvals from the policy, the quality
// gates, the rollback plan and the monitoring. It is pure: the change and the time are inputs, so
// the same inputs give a byte-identical plan.
package planner

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hugai-dev/hugai/internal/change"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/policy"
	"github.com/hugai-dev/hugai/internal/risk"
)

// Input is everything a plan is decided from.
type Input struct {
	Service     *plan.Service
	Environment string
	Version     string
	// Strategy is an explicit choice (`--strategy`); it wins over the risk mapping.
	Strategy string
	// Changes is the change being deployed; nil when there is none to analyse, with NoChangesNote
	// saying why (no git repository, no tags, --analyze-impact=false).
	Changes       *change.Set
	NoChangesNote string
	// At is the time the deployment is judged for (weekend, late hours, freeze windows).
	At time.Time
	// RollbackSteps includes the ordered rollback steps (`--generate-rollback`).
	RollbackSteps bool
	// RollbackRate is the service's recent share of rolled-back releases, when known.
	RollbackRate *float64
	// Learned is the service's own rollback model's view of this deploy, when one is trained.
	Learned *risk.Learned
}

// Decision is one choice the planner made and why, printed by `deploy plan --explain`.
type Decision struct {
	Topic  string `json:"topic"`
	Choice string `json:"choice"`
	Reason string `json:"reason"`
}

// Error is a problem with the planner's input (an unknown environment or strategy): bad input.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// maxPlanFiles caps the changed files listed in a plan, largest first, so a plan over thousands of
// files stays reviewable; the rest are counted.
const maxPlanFiles = 100

// Build decides the plan.
func Build(in Input) (*plan.DeploymentPlan, []Decision, error) {
	svc := in.Service
	env, err := svc.Env(in.Environment)
	if err != nil {
		return nil, nil, &Error{err.Error()}
	}
	var decisions []Decision
	decide := func(topic, choice, format string, args ...any) {
		decisions = append(decisions, Decision{Topic: topic, Choice: choice, Reason: fmt.Sprintf(format, args...)})
	}

	window, inWindow, err := policy.ActiveWindow(freezeWindows(env.Policy), in.At, env.Location)
	if err != nil {
		return nil, nil, &Error{fmt.Sprintf("environment %s: freeze windows: %v", env.Name, err)}
	}
	if !inWindow {
		window = ""
	}
	assessment := risk.Assess(risk.Input{
		Changes:      in.Changes,
		Environment:  env.Name,
		At:           in.At,
		Location:     env.Location,
		FreezeWindow: window,
		RollbackRate: in.RollbackRate,
		Learned:      in.Learned,
	})
	decide("risk", string(assessment.Level), "score %d from %d factors (see spec.risk)", assessment.Score, len(assessment.Factors))

	byRisk := map[risk.Level]string{}
	for level, st := range env.StrategyByRisk {
		byRisk[risk.Level(level)] = st
	}
	explicit := ""
	if in.Strategy != "" {
		explicit = plan.NormalizeStrategy(in.Strategy)
		if explicit == "" {
			return nil, nil, &Error{fmt.Sprintf("--strategy %q: want one of %s", in.Strategy, strings.Join(plan.Strategies, ", "))}
		}
	}
	strategyName, why := risk.ChooseStrategy(assessment.Level, byRisk, explicit)
	decide("strategy", strategyName, "%s", why)

	p := &plan.DeploymentPlan{
		APIVersion: plan.APIVersion,
		Kind:       plan.KindDeploymentPlan,
		Metadata:   plan.Metadata{Name: planName(svc.Metadata.Name, env.Name, in.Version)},
		Spec: plan.PlanSpec{
			Service:         svc.Metadata.Name,
			Version:         in.Version,
			Environment:     env.Name,
			SuccessCriteria: env.SuccessCriteria,
		},
	}
	if k := env.Target.Kubernetes; env.Target.Type == plan.TargetKubernetes && k != nil {
		p.Metadata.Namespace = k.Namespace
	}
	level := string(assessment.Level)
	p.Spec.Strategy = strategy(strategyName, level, env, decide)

	migrations := migrationFiles(in.Changes)
	p.Spec.Governance = governance(env, level, window, migrations, svc, decide)
	p.Spec.Rollback = rollback(env, migrations, svc, in.RollbackSteps, decide)
	p.Spec.Monitoring = monitoring(svc, env)
	p.Spec.Risk = &plan.Risk{Score: assessment.Score, Level: level}
	for _, f := range assessment.Factors {
		p.Spec.Risk.Factors = append(p.Spec.Risk.Factors, plan.RiskFactor{Name: f.Name, Contribution: round2(f.Contribution), Reason: f.Reason})
	}
	p.Spec.Changes = changes(in.Changes, in.NoChangesNote)
	if in.Changes == nil {
		decide("changes", "none", "%s", in.NoChangesNote)
	}
	return p, decisions, nil
}

func planName(service, env, version string) string {
	name := service + "-" + env
	if version != "" {
		v := strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
				return r
			}
			if r >= 'A' && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return '-'
		}, version)
		name += "-" + strings.Trim(v, "-")
	}
	if len(name) > 63 {
		name = strings.TrimRight(name[:63], "-")
	}
	return name
}

func freezeWindows(p plan.Policy) []policy.Window {
	var ws []policy.Window
	for _, w := range p.FreezeWindows {
		ws = append(ws, policy.Window{Name: w.Name, Start: w.Start, Duration: w.Duration.Duration})
	}
	return ws
}

func migrationFiles(cs *change.Set) []string {
	if cs == nil {
		return nil
	}
	var out []string
	for _, f := range cs.Files {
		if f.Class == change.Migration {
			out = append(out, f.Path)
		}
	}
	return out
}

func round2(f float64) float64 { return float64(int(f*100+0.5*sign(f))) / 100 }

func sign(f float64) float64 {
	if f < 0 {
		return -1
	}
	return 1
}

// criteriaThresholds pulls the error-rate and p95 latency limits out of the success criteria, so
// the rollback triggers and the criteria agree.
func criteriaThresholds(s string) (errRate *float64, p95 *time.Duration) {
	conds, err := criteria.Parse(s)
	if err != nil {
		return nil, nil
	}
	for _, c := range conds {
		switch {
		case c.Metric == "error_rate" && (c.Op == criteria.Less || c.Op == criteria.LessEqual):
			v := c.Value
			errRate = &v
		case c.Metric == "latency_p95" && (c.Op == criteria.Less || c.Op == criteria.LessEqual):
			d := time.Duration(c.Value * float64(time.Second))
			p95 = &d
		}
	}
	return errRate, p95
}

func sortedUnique(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}
