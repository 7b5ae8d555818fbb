// Package api holds the types of hugai's HTTP API (/api/v1 on the server's unix socket), shared by
// the server and the client the CLI uses. JSON field names are the API contract.
package api

import (
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/rollout"
)

// Rollout is the API's view of a rollout: what `deploy status -o json` prints.
type Rollout struct {
	ID              string    `json:"id"`
	Service         string    `json:"service"`
	Environment     string    `json:"environment"`
	Version         string    `json:"version"`
	PreviousVersion string    `json:"previousVersion,omitempty"`
	Strategy        string    `json:"strategy"`
	Phase           string    `json:"phase"`
	Reason          string    `json:"reason,omitempty"`
	Message         string    `json:"message,omitempty"`
	Revision        int64     `json:"revision"`
	CreatedBy       string    `json:"createdBy,omitempty"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
	PlanSHA256      string    `json:"planSHA256,omitempty"`

	// Steps is the rollout's plan as a list, with the current one marked.
	Steps       []Step     `json:"steps,omitempty"`
	CurrentStep int        `json:"currentStep"`
	StepEndsAt  *time.Time `json:"stepEndsAt,omitempty"`
	// Weights is the share of user traffic per version now.
	Weights map[string]int `json:"weights,omitempty"`
	// Analysis is the latest judgement of each success criterion.
	Analysis []Criterion `json:"analysis,omitempty"`
	// Comparison is the sequential analysis' last look at each test (analysis.method:
	// sequential): the statistic against its boundary, samples per version, the effect with its
	// interval, since the candidate first took traffic.
	Comparison *Comparison `json:"comparison,omitempty"`
	// Monitors are the latest values of the plan's monitoring.metrics (Condition empty, never
	// judged).
	Monitors []Criterion `json:"monitors,omitempty"`
	// Approval is set while the rollout waits for people.
	Approval *PendingApproval `json:"approval,omitempty"`
	// Checkpoints are the plan's quality gates and where each stands.
	Checkpoints []Checkpoint `json:"checkpoints,omitempty"`
	// Overrides are the flags that overrode the plan.
	Overrides []string `json:"overrides,omitempty"`
	// Terminal is true once the rollout ended; ExitCode is then what a following command exits with.
	Terminal bool `json:"terminal"`
	ExitCode int  `json:"exitCode"`
}

// Step is one step of the rollout, for display.
type Step struct {
	Index       int    `json:"index"`
	Description string `json:"description"`
	State       string `json:"state"` // pending | running | done | skipped
}

// Criterion is one success criterion and the last measurement of it.
type Criterion struct {
	Metric    string   `json:"metric"`
	Condition string   `json:"condition"`
	Value     *float64 `json:"value,omitempty"`
	Display   string   `json:"display,omitempty"` // the value for people: 0.4%, 180ms
	Phase     string   `json:"phase"`             // Successful | Failed | Inconclusive | Error | Pending
	Samples   uint64   `json:"samples"`
	// Needed is how many more requests the criterion needs before it may pass (Pending).
	Needed uint64 `json:"needed,omitempty"`
	// Since is where the span it was measured over starts (the step's weight set).
	Since time.Time `json:"since,omitempty"`
	At    time.Time `json:"at,omitempty"`
}

// Comparison is the sequential analysis of a rollout.
type Comparison struct {
	Alpha   float64           `json:"alpha"`
	Results []analysis.Result `json:"results,omitempty"`
}

// Checkpoint is one of the plan's quality gates: how hugai honours it (gate, sign-off, readiness,
// analysis, smoke-test, command) and its state (pending, waiting, passed, failed, signed-off).
type Checkpoint struct {
	Name      string   `json:"name"`
	Required  bool     `json:"required"`
	How       string   `json:"how"`
	State     string   `json:"state"`
	SignedOff []string `json:"signedOff,omitempty"`
}

// PendingApproval is the gate a rollout waits at.
type PendingApproval struct {
	Gate      string    `json:"gate"`
	Approvers []string  `json:"approvers,omitempty"`
	Needed    int       `json:"needed"`
	Received  []string  `json:"received,omitempty"`
	Deadline  time.Time `json:"deadline"`
	// Missing says what the gate still needs under the policy ("1 more from security").
	Missing string `json:"missing,omitempty"`
	// FourEyes: StartedBy may not approve (policy.fourEyes; FourEyesWhy says why it is on or off).
	FourEyes    bool   `json:"fourEyes"`
	FourEyesWhy string `json:"fourEyesWhy,omitempty"`
	StartedBy   string `json:"startedBy,omitempty"`
	// PlannedBy made the plan (hugai.io/planned-by): with four-eyes, they may not approve either.
	PlannedBy string `json:"plannedBy,omitempty"`
}

// StartRequest starts a rollout of a plan. Plan is the DeploymentPlan YAML, frozen as given;
// Service, Version and Environment fill what the plan leaves out.
type StartRequest struct {
	Plan           []byte `json:"plan"`
	PlanFile       string `json:"planFile,omitempty"`
	Service        string `json:"service,omitempty"`
	Version        string `json:"version,omitempty"`
	Environment    string `json:"environment,omitempty"`
	NoAutoRollback bool   `json:"noAutoRollback,omitempty"`
	// NoMonitoring: --monitor-health=false, no watch after promotion whatever the plan says.
	NoMonitoring bool `json:"noMonitoring,omitempty"`
	// RequireApproval adds an approval gate before the first step, whatever the policy says.
	RequireApproval bool `json:"requireApproval,omitempty"`
	// OverrideFreeze is an admin's reason to start inside a freeze window (--override-freeze);
	// the override is audited with it.
	OverrideFreeze string `json:"overrideFreeze,omitempty"`
}

// Command is what `deploy approve|reject|promote|abort|resume|rollback ID` sends.
type Command struct {
	Kind    rollout.CommandKind `json:"kind"` // one of rollout.CommandKinds
	Comment string              `json:"comment,omitempty"`
	// Gate names the gate or optional checkpoint an approve or reject is for.
	Gate      string `json:"gate,omitempty"`
	Full      bool   `json:"full,omitempty"`      // promote: skip the remaining steps
	Emergency bool   `json:"emergency,omitempty"` // rollback: skip the database approval
}

// ListFilter selects rollouts for `deploy list`.
type ListFilter struct {
	Service     string `json:"service,omitempty"`
	Environment string `json:"environment,omitempty"`
	Active      bool   `json:"active,omitempty"`
	Limit       int    `json:"limit,omitempty"`
}

// Error codes, mapped to HTTP statuses by the server and to exit codes by the CLI.
const (
	CodeBadInput = "bad_input" // 400, exit 2
	CodeNotFound = "not_found" // 404, exit 2
	CodeConflict = "conflict"  // 409, exit 1
	CodeDenied   = "denied"    // 403, exit 5: the policy refused; the message names the rule
	CodeInternal = "internal"  // 500, exit 1
)

// Error is the body of every non-2xx answer.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// ServerInfo is what GET /api/v1/info answers: who the server is and what it serves.
type ServerInfo struct {
	Version  string        `json:"version"`
	PID      int           `json:"pid"`
	DataDir  string        `json:"dataDir"`
	Started  time.Time     `json:"started"`
	Services []ServiceInfo `json:"services"`
}

type ServiceInfo struct {
	Name        string `json:"name"`
	File        string `json:"file"`
	Environment string `json:"environment,omitempty"`
	Listen      string `json:"listen,omitempty"`
	Stable      string `json:"stable,omitempty"`
}

// Monitor is the current release of a service environment measured now (`hugai monitor`): its
// replicas' health, its performance against the success criteria, the plan's monitors and named
// metrics, and whether each of the plan's rollback triggers holds.
type Monitor struct {
	Service     string    `json:"service"`
	Environment string    `json:"environment"`
	Version     string    `json:"version,omitempty"` // "" before the first release
	RolloutID   string    `json:"rolloutID,omitempty"`
	ReleasedAt  time.Time `json:"releasedAt,omitempty"`
	// Active is the rollout under way in the environment, if any.
	Active string `json:"active,omitempty"`
	// From and To is the window measured: the last analysis interval that has settled.
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Health Health    `json:"health"`
	// Values are grouped by Kind: performance (the builtin metrics, judged against the success
	// criterion on the same metric when there is one), monitor (the plan's monitoring.metrics),
	// metric (the service file's named metrics), trigger (the plan's rollback triggers: Phase
	// Successful means the trigger holds).
	Values []MonitorValue `json:"values,omitempty"`
	// Firing lists the triggers that hold now.
	Firing []string `json:"firing,omitempty"`
}

// Health is what the target sees of the release's replicas.
type Health struct {
	Desired      int    `json:"desired"`
	Ready        int    `json:"ready"`
	Restarts     int    `json:"restarts"`
	CrashLooping bool   `json:"crashLooping,omitempty"`
	Problem      string `json:"problem,omitempty"`
}

// MonitorValue is one metric of the release over the window.
type MonitorValue struct {
	Kind      string `json:"kind"`
	Metric    string `json:"metric"`
	Condition string `json:"condition,omitempty"`
	Display   string `json:"display,omitempty"`
	Phase     string `json:"phase"`
	Samples   uint64 `json:"samples"`
	Message   string `json:"message,omitempty"`
}

// Approval is a person's decision at a gate of a rollout (GET /api/v1/rollouts/{id}/approvals).
type Approval struct {
	Gate     string    `json:"gate"`
	Actor    string    `json:"actor"`
	Decision string    `json:"decision"` // approved | rejected
	Comment  string    `json:"comment,omitempty"`
	Time     time.Time `json:"time"`
}

// Measurement is one judged look at one metric of a rollout's step
// (GET /api/v1/rollouts/{id}/measurements).
type Measurement struct {
	Step       int       `json:"step"`
	Metric     string    `json:"metric"`
	Version    string    `json:"version"`
	Phase      string    `json:"phase"`
	Value      float64   `json:"value"`
	Message    string    `json:"message,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
}

// AuditFilter selects audit events (GET /api/v1/audit): those after AfterSeq, of Subject when
// set, at most Limit.
type AuditFilter struct {
	Subject  string `json:"subject,omitempty"`
	AfterSeq int64  `json:"after,omitempty"`
	Limit    int    `json:"limit,omitempty"`
}

// AuditVerify is what GET /api/v1/audit/verify answers: the chain is whole (OK) over Events up
// to Head, or the first bad event and why.
type AuditVerify struct {
	OK     bool   `json:"ok"`
	Events int64  `json:"events"`
	Head   string `json:"head,omitempty"`
	BadSeq int64  `json:"badSeq,omitempty"`
	Error  string `json:"error,omitempty"`
}
