// Package stages decides how a release moves through its stages (hugai.yaml's spec.release):
// each stage's pre-checks, its rollout, its validation, the rollback of the stage that failed and
// the stop. It is pure: the runner (internal/releaserun) does what Step asks, tells it what came
// of it, and persists the state Step returns with its events before acting on it.
package stages

import (
	"fmt"
	"time"

	"github.com/hugai-dev/hugai/internal/plan"
)

// Phase is where a release run is.
type Phase string

// A run's phases. The terminal ones carry the exit code of the command that follows the run.
const (
	Pending    Phase = "Pending"
	Running    Phase = "Running"
	Succeeded  Phase = "Succeeded"
	RolledBack Phase = "RolledBack" // a stage's rollout was rolled back, or its validation failed
	Aborted    Phase = "Aborted"    // a pre-check failed, or a rollout was aborted or rejected
	Failed     Phase = "Failed"     // hugai could not run a stage, or a rollback failed
)

// Terminal reports whether the run has ended.
func (p Phase) Terminal() bool {
	return p == Succeeded || p == RolledBack || p == Aborted || p == Failed
}

// ExitCode is the exit of a command that followed the run to p (DESIGN.md's codes).
func (p Phase) ExitCode() int {
	switch p {
	case Succeeded:
		return 0
	case RolledBack:
		return 3
	case Aborted:
		return 4
	default:
		return 1
	}
}

// StagePhase is where one stage is.
type StagePhase string

// A stage's phases, in the order a stage passes them.
const (
	StagePending     StagePhase = "Pending"
	StagePreChecks   StagePhase = "PreChecks"
	StageDeploying   StagePhase = "Deploying"
	StageValidating  StagePhase = "Validating"
	StageRollingBack StagePhase = "RollingBack"
	StageSucceeded   StagePhase = "Succeeded"
	StageRolledBack  StagePhase = "RolledBack"
	StageAborted     StagePhase = "Aborted"
	StageFailed      StagePhase = "Failed"
	// StageSkipped is a stage after the one that stopped the release: it never started.
	StageSkipped StagePhase = "Skipped"
)

// Reasons a stage (and so the run) stopped.
const (
	ReasonPreCheck       = "pre-check"
	ReasonRollout        = "rollout"    // the stage's rollout ended other than Succeeded
	ReasonValidation     = "validation" // a validation failed; the stage was rolled back
	ReasonStartRefused   = "start-refused"
	ReasonRollbackFailed = "rollback-failed"
)

// Stage is one stage as the run froze it when it started.
type Stage struct {
	Name        string   `json:"name"`
	Environment string   `json:"environment"`
	PreChecks   []string `json:"preChecks,omitempty"`
	Validation  []string `json:"validation,omitempty"`
	Approval    bool     `json:"approval,omitempty"`
}

// Spec is what a run executes: one version of one service through its stages.
type Spec struct {
	Tag     string  `json:"tag"`
	Service string  `json:"service"`
	Version string  `json:"version"` // the version the rollouts deploy: "v" + the release's
	Stages  []Stage `json:"stages"`
}

// Compile freezes a service file's stages.
func Compile(svc *plan.Service, tag, version string) (Spec, error) {
	s := Spec{Tag: tag, Service: svc.Metadata.Name, Version: version}
	if svc.Spec.Release == nil || len(svc.Spec.Release.Stages) == 0 {
		return s, fmt.Errorf("service %s has no release stages (spec.release.stages)", svc.Metadata.Name)
	}
	for _, st := range svc.Spec.Release.Stages {
		s.Stages = append(s.Stages, Stage{Name: st.StageName(), Environment: st.Environment,
			PreChecks: st.PreChecks, Validation: st.Validation, Approval: st.Approval})
	}
	return s, nil
}

// Check is a pre-check's or a validation's result.
type Check struct {
	Name   string    `json:"name"`
	Kind   string    `json:"kind"` // pre | validation
	Passed bool      `json:"passed"`
	Output string    `json:"output,omitempty"`
	At     time.Time `json:"at"`
}

// Check kinds.
const (
	KindPre        = "pre"
	KindValidation = "validation"
)

// StageState is one stage's progress.
type StageState struct {
	Name        string     `json:"name"`
	Environment string     `json:"environment"`
	Phase       StagePhase `json:"phase"`
	Reason      string     `json:"reason,omitempty"`
	Message     string     `json:"message,omitempty"`
	// Next is the index of the next check to run of the phase's list (pre-checks or validation).
	Next   int     `json:"next,omitempty"`
	Checks []Check `json:"checks,omitempty"`
	// RolloutID is the stage's rollout; RolloutPhase its phase when last seen.
	RolloutID    string `json:"rolloutID,omitempty"`
	RolloutPhase string `json:"rolloutPhase,omitempty"`
	// AlreadyDeployed: the environment already ran the version when the stage came to deploy it
	// (a run started again after a later stage stopped): no rollout was needed.
	AlreadyDeployed bool `json:"alreadyDeployed,omitempty"`
	// RollbackID is the rollout that rolled the stage back after a failed validation.
	RollbackID    string `json:"rollbackID,omitempty"`
	RollbackPhase string `json:"rollbackPhase,omitempty"`
	// RequestedAt is when the rollout (or the rollback) was asked for: a runner that crashed before
	// learning its ID finds it again as the environment's rollout created since.
	RequestedAt *time.Time `json:"requestedAt,omitempty"`
	StartedAt   *time.Time `json:"startedAt,omitempty"`
	FinishedAt  *time.Time `json:"finishedAt,omitempty"`
}

// State is a run's progress.
type State struct {
	Phase      Phase        `json:"phase"`
	Reason     string       `json:"reason,omitempty"`
	Message    string       `json:"message,omitempty"`
	Current    int          `json:"current"` // the stage in progress (or the last one, once ended)
	Stages     []StageState `json:"stages"`
	StartedBy  string       `json:"startedBy,omitempty"`
	CreatedAt  time.Time    `json:"createdAt"`
	FinishedAt *time.Time   `json:"finishedAt,omitempty"`
}

// New is a run of spec that has not started.
func New(spec Spec, actor string, now time.Time) State {
	st := State{Phase: Pending, StartedBy: actor, CreatedAt: now}
	for _, s := range spec.Stages {
		st.Stages = append(st.Stages, StageState{Name: s.Name, Environment: s.Environment, Phase: StagePending})
	}
	return st
}

// CheckState says whether a stored state fits its spec: a state read back from disk is input.
func (st State) CheckState(spec Spec) error {
	if len(st.Stages) != len(spec.Stages) || len(spec.Stages) == 0 {
		return fmt.Errorf("%d stage states for %d stages", len(st.Stages), len(spec.Stages))
	}
	if st.Current < 0 || st.Current >= len(st.Stages) {
		return fmt.Errorf("current stage %d out of 0..%d", st.Current, len(st.Stages)-1)
	}
	switch st.Phase {
	case Pending, Running, Succeeded, RolledBack, Aborted, Failed:
	default:
		return fmt.Errorf("unknown phase %q", st.Phase)
	}
	for i := range st.Current {
		if st.Stages[i].Phase != StageSucceeded {
			return fmt.Errorf("stage %s is %s before the current one", st.Stages[i].Name, st.Stages[i].Phase)
		}
	}
	s := st.Stages[st.Current]
	switch s.Phase {
	case StagePending, StageDeploying, StageSucceeded, StageRolledBack, StageAborted, StageFailed, StageSkipped:
	case StageRollingBack:
		if s.RolloutID == "" {
			return fmt.Errorf("stage %s rolls back no rollout", s.Name)
		}
	case StagePreChecks:
		if s.Next < 0 || s.Next > len(spec.Stages[st.Current].PreChecks) {
			return fmt.Errorf("stage %s: next pre-check %d out of range", s.Name, s.Next)
		}
	case StageValidating:
		if s.Next < 0 || s.Next > len(spec.Stages[st.Current].Validation) {
			return fmt.Errorf("stage %s: next validation %d out of range", s.Name, s.Next)
		}
	default:
		return fmt.Errorf("stage %s: unknown phase %q", s.Name, s.Phase)
	}
	return nil
}

// ActionKind is what Step asks the runner to do next.
type ActionKind string

const (
	// ActNone: the run has ended.
	ActNone ActionKind = ""
	// ActRunCheck: run Action.Check in the stage's environment, then Step with its result.
	ActRunCheck ActionKind = "runCheck"
	// ActStartRollout: start the stage's rollout of the version (or find the one a crashed runner
	// started since RequestedAt, or tell that the environment already runs the version).
	ActStartRollout ActionKind = "startRollout"
	// ActFollow: wait for Action.RolloutID to change, then Step with how it is.
	ActFollow ActionKind = "follow"
	// ActRollback: roll back the stage's succeeded rollout (or find the rollback a crashed runner
	// started since RequestedAt).
	ActRollback ActionKind = "rollback"
)

// Action is one thing for the runner to do.
type Action struct {
	Kind      ActionKind
	Stage     int
	Check     string
	CheckKind string
	RolloutID string
	Approval  bool // ActStartRollout: hold the rollout for an approval before its first step
}

// CheckResult is what came of an ActRunCheck.
type CheckResult struct {
	Name   string
	Passed bool
	Output string
}

// Started is what came of an ActStartRollout or ActRollback: the rollout's ID, or why none runs.
type Started struct {
	ID string
	// Already: the environment already runs the version (ActStartRollout only).
	Already bool
	Err     string
}

// RolloutObs is a rollout as the runner last saw it.
type RolloutObs struct {
	ID       string
	Phase    string
	Terminal bool
	Reason   string
	Message  string
}

// Observation is what happened since the last Step; at most one field is set.
type Observation struct {
	Check   *CheckResult
	Started *Started
	Rollout *RolloutObs
}

// Event is an audit event of a transition.
type Event struct {
	Type    string
	Payload map[string]any
}

// Rollout phases the run reads (rollout.Phase's strings: this package stays apart from the
// engine's state machine).
const (
	rolloutSucceeded  = "Succeeded"
	rolloutRolledBack = "RolledBack"
	rolloutAborted    = "Aborted"
)
