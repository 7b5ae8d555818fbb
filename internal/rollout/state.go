package rollout

import (
	"strconv"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/policy"
)

// Phase of a rollout. Computed in one place (Step) and stored, since it is what `status` prints and
// what a crash must not lose.
type Phase string

const (
	Pending          Phase = "Pending"
	AwaitingApproval Phase = "AwaitingApproval"
	Progressing      Phase = "Progressing"
	Paused           Phase = "Paused"
	Promoting        Phase = "Promoting"
	Verifying        Phase = "Verifying"
	Succeeded        Phase = "Succeeded"
	RollingBack      Phase = "RollingBack"
	RolledBack       Phase = "RolledBack"
	Aborted          Phase = "Aborted"
	Failed           Phase = "Failed"
)

// Terminal reports whether nothing more will happen to a rollout in phase p.
func (p Phase) Terminal() bool {
	return p == Succeeded || p == RolledBack || p == Aborted || p == Failed
}

// ExitCode is what a command following the rollout exits with once it is terminal.
func (p Phase) ExitCode() int {
	switch p {
	case Succeeded:
		return 0
	case RolledBack:
		return 3
	case Aborted:
		return 4
	}
	return 1
}

// Reasons recorded with a phase.
const (
	ReasonAborted          = "aborted"
	ReasonRejected         = "rejected"
	ReasonApprovalTimeout  = "approval-timeout"
	ReasonAnalysis         = "analysis"
	ReasonInconclusive     = "inconclusive"
	ReasonProgressDeadline = "progress-deadline"
	ReasonCrashLoop        = "crash-loop"
	ReasonStartFailed      = "start-failed"
	ReasonManual           = "manual"
	ReasonPause            = "pause"
	// ReasonTrigger: a rollback trigger held on a window.
	ReasonTrigger = "trigger"
	// ReasonSmokeTest: the smoke test failed (or never reported).
	ReasonSmokeTest = "smoke-test"
	// ReasonAwaitingPromotion: blue-green with autoPromotion false, waiting for promote.
	ReasonAwaitingPromotion = "awaiting-promotion"
	// ReasonRollbackFailed: the previous version did not come back.
	ReasonRollbackFailed = "rollback-failed"
)

// Approval is one person's yes to the gate the rollout waits at.
type Approval struct {
	Actor   string    `json:"actor"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
	// Via is how the approver authenticated; Groups the quorum groups they were in when they
	// approved, which is what the quorum counts.
	Via    string   `json:"via,omitempty"`
	Groups []string `json:"groups,omitempty"`
}

// State is everything Step needs to carry on after a restart. It is persisted as JSON.
type State struct {
	Phase   Phase  `json:"phase"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`

	// Stable is the version serving before the rollout ("" on a first deploy); Candidate the new one.
	Stable    string `json:"stable,omitempty"`
	Candidate string `json:"candidate"`

	StartedAt time.Time `json:"startedAt"`
	// DeployedAt is when the candidate was asked to start: the progress deadline counts from it.
	DeployedAt *time.Time `json:"deployedAt,omitempty"`
	// ReadyAt is when the candidate was first seen with all its replicas ready.
	ReadyAt *time.Time `json:"readyAt,omitempty"`

	// GateIndex counts the start gates passed; StepIndex the steps done.
	GateIndex     int        `json:"gateIndex"`
	StepIndex     int        `json:"stepIndex"`
	StepStartedAt time.Time  `json:"stepStartedAt"`
	WaitingSince  *time.Time `json:"waitingSince,omitempty"`
	Approvals     []Approval `json:"approvals,omitempty"`

	// Weight is the candidate's share of traffic.
	Weight int `json:"weight"`

	// AnalysisFrom is the start of the next analysis window; Tally counts the judged windows of
	// the background analysis, StepTally those of the current analysis step.
	AnalysisFrom *time.Time             `json:"analysisFrom,omitempty"`
	Tally        analysis.Tally         `json:"tally"`
	StepTally    analysis.Tally         `json:"stepTally"`
	Last         []analysis.Measurement `json:"last,omitempty"`

	FinishedAt *time.Time `json:"finishedAt,omitempty"`

	// PromotedAt is when the candidate took all traffic: the watch (Verifying) counts from it.
	PromotedAt *time.Time `json:"promotedAt,omitempty"`
	// RollbackAt is when the rollout started rolling back: the previous version must be back
	// within the progress deadline, or the rollback failed.
	RollbackAt *time.Time `json:"rollbackAt,omitempty"`
	// SmokeRequestedAt is set while a smoke test is wanted and its result not yet seen; it names
	// the request (SmokeTestID), so the engine runs one smoke test per request.
	SmokeRequestedAt *time.Time   `json:"smokeRequestedAt,omitempty"`
	Smoke            *SmokeResult `json:"smoke,omitempty"`

	// NewReplicas and OldReplicas (rolling) are the replicas asked of each version for the
	// current batch; Batch counts the batches started.
	NewReplicas int `json:"newReplicas,omitempty"`
	OldReplicas int `json:"oldReplicas,omitempty"`
	Batch       int `json:"batch,omitempty"`
	// NewReady and OldReady are the ready replicas last seen of each version: traffic is shared in
	// proportion, so every ready replica gets an equal share. BatchReadyAt is when the current
	// batch's new replicas were all ready: its judging starts then.
	NewReady     int        `json:"newReady,omitempty"`
	OldReady     int        `json:"oldReady,omitempty"`
	BatchReadyAt *time.Time `json:"batchReadyAt,omitempty"`

	// The rollback manager (rollback.go): the step it is at and since when, whether the previous
	// version is back, and the database step's approval and run.
	RollbackStep        int        `json:"rollbackStep,omitempty"`
	RollbackStepAt      *time.Time `json:"rollbackStepAt,omitempty"`
	PreviousReadyAt     *time.Time `json:"previousReadyAt,omitempty"`
	Emergency           bool       `json:"emergency,omitempty"`
	DatabaseApproved    bool       `json:"databaseApproved,omitempty"`
	DatabaseRequestedAt *time.Time `json:"databaseRequestedAt,omitempty"`
	// ReleaseRollback marks the rollback of a release that had succeeded: its previous version
	// had been stopped and comes back first.
	ReleaseRollback bool `json:"releaseRollback,omitempty"`

	// StartedBy is who asked for the rollout: with four-eyes, not one of its approvers.
	StartedBy string `json:"startedBy,omitempty"`
	// PlannedBy is who made the rollout's plan (its hugai.io/planned-by annotation): with
	// four-eyes, not one of its approvers either.
	PlannedBy string `json:"plannedBy,omitempty"`
	// RunIndex counts the commands of Spec.Runs done (automated checkpoints, database.migrate);
	// RunRequestedAt names the one running (RunID).
	RunIndex       int        `json:"runIndex,omitempty"`
	RunRequestedAt *time.Time `json:"runRequestedAt,omitempty"`
	// SignOffs are the optional manual checkpoints people signed off.
	SignOffs []SignOff `json:"signOffs,omitempty"`
	// Judged is set once a window at full traffic met the success criteria on enough samples:
	// no rollout reaches Succeeded before (Spec.Criteria empty: nothing to judge).
	Judged bool `json:"judged,omitempty"`
	// Monitors are the last window's values of Spec.Monitors.
	Monitors []analysis.Measurement `json:"monitors,omitempty"`
	// SpanFrom is where the current span starts: the criteria are measured over everything since
	// (a weight set, a batch ready, the promotion), so evidence accumulates within a step.
	// LookPhase is the phase of the last look at the criteria within it ("" before the first).
	SpanFrom  *time.Time     `json:"spanFrom,omitempty"`
	LookPhase analysis.Phase `json:"lookPhase,omitempty"`
	// Evidence is the sequential comparison of the candidate with the baseline since the
	// candidate first took traffic (Spec.Sequential).
	Evidence *Evidence `json:"evidence,omitempty"`
}

// Evidence is the sequential analysis' persisted state and its last look.
type Evidence struct {
	// Since is when the comparison started: the latency test waits LatencyWarmup past it.
	Since   *time.Time               `json:"since,omitempty"`
	Errors  analysis.Evidence        `json:"errors"`
	Latency analysis.LatencyEvidence `json:"latency"`
	// Results are the last look at each test (error_rate, latency_p95), for people.
	Results []analysis.Result `json:"results,omitempty"`
}

// SignOff is a person's sign-off of an optional manual checkpoint.
type SignOff struct {
	Checkpoint string    `json:"checkpoint"`
	Actor      string    `json:"actor"`
	Comment    string    `json:"comment,omitempty"`
	At         time.Time `json:"at"`
}

// RunID names the run of Spec.Runs[index] requested at t (several may be asked within one tick).
func RunID(index int, t time.Time) string {
	return "run-" + strconv.Itoa(index) + "-" + t.UTC().Format(time.RFC3339Nano)
}

// SmokeResult is the outcome of one smoke test run by the engine.
type SmokeResult struct {
	// ID is the request's SmokeTestID: a result for another request is ignored.
	ID     string    `json:"id"`
	Passed bool      `json:"passed"`
	Output string    `json:"output,omitempty"`
	At     time.Time `json:"at"`
}

// SmokeTestID names the smoke test requested at t.
func SmokeTestID(t time.Time) string { return "smoke-" + t.UTC().Format(time.RFC3339Nano) }

// New is the state of a rollout just created.
func New(stable, candidate string, now time.Time) State {
	return State{Phase: Pending, Stable: stable, Candidate: candidate, StartedAt: now, StepStartedAt: now}
}

// RevisionObs is what the target sees of one version.
type RevisionObs struct {
	Present      bool   `json:"present"`
	Desired      int    `json:"desired"`
	Ready        int    `json:"ready"`
	CrashLooping bool   `json:"crashLooping,omitempty"`
	StartFailed  string `json:"startFailed,omitempty"`
}

// Window is one judged analysis window, measured by the engine because Due said so: the criteria
// over the span [Since, To), the comparison second by second over [From, To).
type Window struct {
	From         time.Time              `json:"from"`
	To           time.Time              `json:"to"`
	Since        time.Time              `json:"since,omitempty"`
	Measurements []analysis.Measurement `json:"measurements"`
	// Pairs and LatencyPairs are both versions' counts over each second of [From, To), when the
	// look asked for a comparison (Look.Compare); PairsErr says why they could not be read.
	Pairs        []analysis.Window        `json:"pairs,omitempty"`
	LatencyPairs []analysis.LatencyWindow `json:"latencyPairs,omitempty"`
	PairsErr     string                   `json:"pairsErr,omitempty"`
	// Monitors are the values of Spec.Monitors over the window: shown, never judged.
	Monitors []analysis.Measurement `json:"monitors,omitempty"`
}

// Command is a person's action on a rollout.
type Command struct {
	Kind  CommandKind `json:"kind"`
	Actor string      `json:"actor"`
	// Who is the actor's whole identity, which the policy decides by; a command with none is
	// judged as the user named Actor.
	Who policy.Identity `json:"who,omitzero"`
	// Gate names the gate or checkpoint an approve or reject is for ("": the one waited at).
	Gate      string `json:"gate,omitempty"`
	Comment   string `json:"comment,omitempty"`
	Full      bool   `json:"full,omitempty"`
	Emergency bool   `json:"emergency,omitempty"`
}

// Observation is what the engine saw this tick.
type Observation struct {
	Candidate RevisionObs `json:"candidate"`
	Stable    RevisionObs `json:"stable"`
	Window    *Window     `json:"window,omitempty"`
	Command   *Command    `json:"command,omitempty"`
	// SmokeTest is the result of the smoke test Desired asked for, on the tick after it ran.
	SmokeTest *SmokeResult `json:"smokeTest,omitempty"`
	// Database is the result of the database rollback Desired asked for.
	Database *RunResult `json:"database,omitempty"`
	// Run is the result of the command of Spec.Runs Desired asked for.
	Run *RunResult `json:"run,omitempty"`
}

// Event is an audit event of a transition; the engine stores it with the new state in one
// transaction.
type Event struct {
	Type    string         `json:"type"`
	Actor   string         `json:"actor,omitempty"`
	Payload map[string]any `json:"payload,omitempty"`
}

// DesiredState is what must run and where traffic goes: the engine drives the target to it on
// every tick.
type DesiredState struct {
	Replicas map[string]int `json:"replicas"`
	Weights  map[string]int `json:"weights"`
	Stable   string         `json:"stable,omitempty"`
	Canary   string         `json:"canary,omitempty"`
	// HoldTimeout > 0: while the version traffic goes to has no ready replica, the proxy holds
	// requests up to this long instead of failing them (recreate).
	HoldTimeout time.Duration `json:"holdTimeout,omitempty"`
	// Preview is the version the preview route (X-Hugai-Route: preview, the preview listener)
	// goes to: blue-green's green, before and during the switch.
	Preview string `json:"preview,omitempty"`
	// Cut names the version a rollback judged bad, once it has no traffic: the router ends its
	// open streams at once instead of letting them drain.
	Cut []string `json:"cut,omitempty"`
	// RunSmokeTest asks the engine to run the smoke test against Preview (or the candidate) once
	// per SmokeTestID and report it in Observation.SmokeTest.
	RunSmokeTest bool   `json:"runSmokeTest,omitempty"`
	SmokeTestID  string `json:"smokeTestId,omitempty"`
	// RunDatabaseRollback asks the engine to run the service's database.rollback command once per
	// DatabaseRollbackID and report it in Observation.Database.
	RunDatabaseRollback bool   `json:"runDatabaseRollback,omitempty"`
	DatabaseRollbackID  string `json:"databaseRollbackId,omitempty"`
	// Run names the command of Spec.Runs to run once per RunID (an automated checkpoint's, or
	// database.migrate) and report in Observation.Run.
	Run   string `json:"run,omitempty"`
	RunID string `json:"runId,omitempty"`
}
