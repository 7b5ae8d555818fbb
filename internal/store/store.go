// Package store defines what hugai keeps: rollouts, their measurements and approvals, the release
// history and the audit log, and the Store port through which the engine writes a rollout's new
// state and its audit events in one transaction before it acts. Backends are subpackages (sqlite,
// postgres) and pass the conformance suite in storetest.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/rollout"
)

// Sentinel errors; backends wrap them, so test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	// ErrConflict means a write was based on a stale Revision (or inserted an ID that exists):
	// reload, decide again, retry.
	ErrConflict = errors.New("conflict: the record changed since it was read")
)

// TerminalPhases lists the phases in which a rollout is no longer active, for backends' queries:
// rollout.Phase.Terminal decides, so the store's filter cannot drift from the state machine.
func TerminalPhases() []string {
	var out []string
	for _, p := range rollout.TerminalPhases() {
		out = append(out, string(p))
	}
	return out
}

// IsActive reports whether a rollout in phase is still running (or waiting).
func IsActive(phase string) bool { return !rollout.Phase(phase).Terminal() }

// Rollout is a frozen plan and service file plus the engine's state of running them.
type Rollout struct {
	ID              string          `json:"id"`
	Service         string          `json:"service"`
	Environment     string          `json:"environment"`
	Version         string          `json:"version"`
	PreviousVersion string          `json:"previousVersion,omitempty"`
	Strategy        string          `json:"strategy"`
	Phase           string          `json:"phase"`
	Reason          string          `json:"reason,omitempty"`
	Plan            []byte          `json:"plan,omitempty"` // the frozen plan YAML
	PlanSHA256      string          `json:"planSHA256,omitempty"`
	ServiceFile     []byte          `json:"serviceFile,omitempty"`
	State           json.RawMessage `json:"state,omitempty"` // the engine's; opaque to the store
	Revision        int64           `json:"revision"`        // bumped by every write
	CreatedBy       string          `json:"createdBy,omitempty"`
	CreatedAt       time.Time       `json:"createdAt"`
	UpdatedAt       time.Time       `json:"updatedAt"`
}

// Measurement is one judged metric query of one step.
type Measurement struct {
	RolloutID  string    `json:"rolloutID"`
	Step       int       `json:"step"`
	Metric     string    `json:"metric"`
	Version    string    `json:"version"`
	Phase      string    `json:"phase"` // Successful|Failed|Inconclusive|Error
	Value      float64   `json:"value"`
	Message    string    `json:"message,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
}

// Approval is a person's decision at an approval gate.
type Approval struct {
	RolloutID string    `json:"rolloutID"`
	Gate      string    `json:"gate"`
	Actor     string    `json:"actor"`
	Decision  string    `json:"decision"` // approved|rejected
	Comment   string    `json:"comment,omitempty"`
	Time      time.Time `json:"time"`
}

// Release records that a version became the stable one of a service in an environment.
type Release struct {
	Service     string    `json:"service"`
	Environment string    `json:"environment"`
	Version     string    `json:"version"`
	RolloutID   string    `json:"rolloutID,omitempty"`
	Time        time.Time `json:"time"`
}

// Tx is everything one engine decision writes; Commit writes all of it or none of it.
//
// Rollout IDs are allocated inside Commit: a Rollout with an empty ID (and Revision 0) gets
// "<service>-<n>", n from a sequence of the store, so IDs stay short enough to type
// ("demo-7"). Within the Tx, events with an empty Subject get "rollout/<id>" and measurements and
// approvals with an empty RolloutID get the rollout's ID, so a new rollout's first Tx can name it
// before it exists.
type Tx struct {
	// Rollout is upserted: inserted when Revision is 0 (ErrConflict if the ID exists), else
	// updated only if the stored Revision equals it (else ErrConflict). CreatedAt and CreatedBy are
	// kept from the insert. Zero times are filled with the store's clock.
	Rollout *Rollout
	// Events are numbered and chained by the store; Seq, PrevHash and Hash are ignored.
	// Payloads must be valid JSON (or empty).
	Events       []audit.Event
	Measurements []Measurement
	Approvals    []Approval
	Release      *Release
}

// Validate refuses a Tx no backend may write: a rollout without a service, an update without an
// ID, state or payloads that are not JSON, an event without a type or subject, an approval that
// is neither approved nor rejected. Every backend calls it before it writes anything.
func (tx Tx) Validate() error {
	if r := tx.Rollout; r != nil {
		if r.Service == "" {
			return errors.New("rollout has no service")
		}
		if r.ID == "" && r.Revision != 0 {
			return errors.New("rollout update has no id")
		}
		if len(r.State) > 0 && !json.Valid(r.State) {
			return errors.New("rollout state is not valid JSON")
		}
	}
	for i, e := range tx.Events {
		if e.Type == "" {
			return fmt.Errorf("event %d has no type", i)
		}
		if e.Subject == "" && tx.Rollout == nil {
			return fmt.Errorf("event %d has no subject", i)
		}
		if len(e.Payload) > 0 && !json.Valid(e.Payload) {
			return fmt.Errorf("event %d: payload is not valid JSON", i)
		}
	}
	for i, a := range tx.Approvals {
		if a.Decision != "approved" && a.Decision != "rejected" {
			return fmt.Errorf("approval %d: decision %q: want approved or rejected", i, a.Decision)
		}
	}
	return nil
}

// Committed is what a Commit wrote.
type Committed struct {
	RolloutID string  // the rollout's ID, allocated if the Tx left it empty
	Revision  int64   // the rollout's new revision (0 without a rollout)
	Seqs      []int64 // the events' sequence numbers, in Tx order
	Head      string  // the audit head hash after the commit
}

// Filter selects rollouts; zero fields select everything. Limit 0 means no limit.
type Filter struct {
	Service     string
	Environment string
	Active      bool // only rollouts whose phase is not terminal (see IsActive)
	Limit       int
}

// EventFilter selects audit events in seq order: those after AfterSeq, of Subject when set.
type EventFilter struct {
	Subject  string
	AfterSeq int64
	Limit    int // 0: no limit
}

// VerifyResult is what a successful audit verification covered.
type VerifyResult struct {
	Events int64  `json:"events"`
	Head   string `json:"head"`
}

// Store keeps hugai's state. Implementations are safe for concurrent use, and serialize Commits
// so that audit events form one chain.
type Store interface {
	Commit(ctx context.Context, tx Tx) (Committed, error)
	Rollout(ctx context.Context, id string) (Rollout, error)   // ErrNotFound
	Rollouts(ctx context.Context, f Filter) ([]Rollout, error) // newest first
	Measurements(ctx context.Context, rolloutID string) ([]Measurement, error)
	Approvals(ctx context.Context, rolloutID string) ([]Approval, error)
	Releases(ctx context.Context, service, env string, limit int) ([]Release, error) // newest first
	Events(ctx context.Context, f EventFilter) ([]audit.Event, error)
	// VerifyAudit checks the whole chain against the head in one consistent snapshot; a broken
	// log is reported as an *audit.VerifyError naming the first bad event.
	VerifyAudit(ctx context.Context) (VerifyResult, error)
	Close() error
}

// ReleaseRecord is a release cut by `hugai release create`: its tag and version, and the release
// itself (notes, change, risk, a plan per environment) as JSON, which the store keeps as is.
type ReleaseRecord struct {
	Tag       string          `json:"tag"` // unique: v1.2.3, or api/v1.2.3 for a component
	Component string          `json:"component,omitempty"`
	Version   string          `json:"version"`
	Document  json.RawMessage `json:"release"`
	CreatedBy string          `json:"createdBy,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
}

// ReleaseStore keeps release records. It is its own port, beside Store, so a backend gains it
// without the engine's Store changing.
type ReleaseStore interface {
	// CreateRelease writes the record and its audit events (subject "release/<tag>" when empty)
	// in one transaction; a tag already recorded is ErrConflict.
	CreateRelease(ctx context.Context, r ReleaseRecord, events []audit.Event) error
	ReleaseRecord(ctx context.Context, tag string) (ReleaseRecord, error) // ErrNotFound
	ReleaseRecords(ctx context.Context, component string, limit int) ([]ReleaseRecord, error)
}

// ReleaseRun is one execution of a release's stages (`hugai release execute`): the stages frozen
// when it started and their state, as JSON the runner owns, beside the columns the store filters
// on.
type ReleaseRun struct {
	ID        string          `json:"id"` // "release-<n>", allocated by CreateReleaseRun
	Tag       string          `json:"tag"`
	Service   string          `json:"service"`
	Phase     string          `json:"phase"`
	Active    bool            `json:"active"`
	Document  json.RawMessage `json:"document"`
	Revision  int64           `json:"revision"` // bumped by every write
	CreatedBy string          `json:"createdBy,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// ReleaseRunFilter selects release runs, newest first; zero fields select everything.
type ReleaseRunFilter struct {
	Tag    string
	Active bool
	Limit  int
}

// ReleaseRunStore keeps release runs, each write with its audit events in one transaction (events
// with an empty Subject get "release/<tag>"), so a run's progress and its audit trail never part.
type ReleaseRunStore interface {
	// CreateReleaseRun inserts a run (its ID and Revision 1 allocated) and returns it.
	CreateReleaseRun(ctx context.Context, r ReleaseRun, events []audit.Event) (ReleaseRun, error)
	// UpdateReleaseRun writes r if the stored revision is still r.Revision (else ErrConflict) and
	// returns the new revision.
	UpdateReleaseRun(ctx context.Context, r ReleaseRun, events []audit.Event) (int64, error)
	ReleaseRun(ctx context.Context, id string) (ReleaseRun, error) // ErrNotFound
	ReleaseRuns(ctx context.Context, f ReleaseRunFilter) ([]ReleaseRun, error)
}
