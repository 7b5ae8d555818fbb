package rollout

// A stored state is input like any other: a hand edit, a bug in an older binary or a torn write can
// leave one that Step would dereference or index out of range. Check says, before Step runs,
// whether a state keeps every invariant Step, Desired and the engine's view rely on; the engine
// turns a broken one into a failed rollout (ReasonInvalidState) instead of a panic on every tick.

import (
	"errors"
	"fmt"
	"slices"

	"github.com/hugai-dev/hugai/internal/plan"
)

const (
	// ReasonInvalidState: the stored state broke an invariant (or could not be read at all), so
	// the rollout cannot be stepped; a person must look at it.
	ReasonInvalidState = "invalid-state"
	// ReasonInternalError: hugai itself failed (a panic) while stepping the rollout; it is paused
	// for a person, the stack is in the server's log.
	ReasonInternalError = "internal-error"
)

// stepKinds are the kinds Step knows: progress loops until a step moves on, so an unknown kind
// would hold the rollout (and its environment's lock) for ever.
var stepKinds = []StepKind{KindSetWeight, KindPause, KindAnalysis, KindApproval, KindSmokeTest}

var strategies = []string{plan.StrategyCanary, plan.StrategyBlueGreen, plan.StrategyRolling, plan.StrategyRecreate}

// Check reports every invariant st breaks against spec, naming each; nil when Step may run on it.
func (s State) Check(spec Spec) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if !slices.Contains(strategies, spec.Strategy) {
		bad("spec.strategy %q is not one of %v", spec.Strategy, strategies)
	}
	for i, step := range spec.Steps {
		switch {
		case !slices.Contains(stepKinds, step.Kind):
			bad("spec.steps[%d].kind %q is not one of %v", i, step.Kind, stepKinds)
		case step.Kind == KindApproval && step.Gate == nil:
			bad("spec.steps[%d] is an approval without a gate", i)
		case step.Weight < 0 || step.Weight > 100:
			bad("spec.steps[%d].weight %d is not within 0..100", i, step.Weight)
		}
	}
	if spec.Replicas < 0 || spec.Interval < 0 || spec.ProgressDeadline < 0 {
		bad("spec has a negative replicas, interval or progressDeadline")
	}

	if !s.Phase.Known() {
		bad("phase %q is not one of %v", s.Phase, Phases())
	}
	if s.Candidate == "" {
		bad("no candidate version")
	}
	index := func(name string, i, n int) {
		if i < 0 || i > n {
			bad("%s %d is not within 0..%d", name, i, n)
		}
	}
	index("gateIndex", s.GateIndex, len(spec.Gates))
	index("stepIndex", s.StepIndex, len(spec.Steps))
	index("rollbackStep", s.RollbackStep, len(spec.rollbackSteps()))
	if s.Weight < 0 || s.Weight > 100 {
		bad("weight %d is not within 0..100", s.Weight)
	}
	if s.NewReplicas < 0 || s.OldReplicas < 0 || s.NewReady < 0 || s.OldReady < 0 || s.Batch < 0 {
		bad("a negative replica or batch count (new %d, old %d, newReady %d, oldReady %d, batch %d)", s.NewReplicas, s.OldReplicas, s.NewReady, s.OldReady, s.Batch)
	}

	// The times each live phase counts from; a terminal rollout is never stepped again.
	switch s.Phase {
	case AwaitingApproval:
		if s.WaitingSince == nil {
			bad("phase AwaitingApproval without waitingSince: the approval's deadline counts from it")
		}
	case Verifying:
		if s.PromotedAt == nil {
			bad("phase Verifying without promotedAt: the watch counts from it")
		}
	case RollingBack:
		if s.RollbackAt == nil {
			bad("phase RollingBack without rollbackAt: the rollback's deadline counts from it")
		}
	}
	return errors.Join(errs...)
}
