package api

import (
	"time"

	"github.com/hugai-dev/hugai/internal/release/stages"
)

// ReleaseExecuteRequest asks the server to run a recorded release through the stages of its
// service file (POST /api/v1/release-runs).
type ReleaseExecuteRequest struct {
	Tag string `json:"tag"` // v1.3.0, or api/v1.3.0 for a component
}

// ReleaseRun is the API's view of one execution of a release: what `release status -o json`
// prints.
type ReleaseRun struct {
	ID         string         `json:"id"`
	Tag        string         `json:"tag"`
	Service    string         `json:"service"`
	Version    string         `json:"version"` // what the stages' rollouts deploy
	Phase      string         `json:"phase"`
	Reason     string         `json:"reason,omitempty"`
	Message    string         `json:"message,omitempty"`
	Current    int            `json:"currentStage"`
	Stages     []ReleaseStage `json:"stages"`
	Revision   int64          `json:"revision"`
	CreatedBy  string         `json:"createdBy,omitempty"`
	CreatedAt  time.Time      `json:"createdAt"`
	UpdatedAt  time.Time      `json:"updatedAt"`
	FinishedAt *time.Time     `json:"finishedAt,omitempty"`
	// Terminal is true once the run ended; ExitCode is then what a following command exits with.
	Terminal bool `json:"terminal"`
	ExitCode int  `json:"exitCode"`
}

// ReleaseStage is one stage: what it runs, and where it stands.
type ReleaseStage struct {
	stages.StageState
	PreChecks  []string `json:"preChecks,omitempty"`
	Validation []string `json:"validation,omitempty"`
	Approval   bool     `json:"approval,omitempty"`
}
