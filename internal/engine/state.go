package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/notify"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
)

// stateSchema is the version of frozenPlan this binary writes. Bump it when a field changes
// meaning; a state of a newer schema is refused rather than misread (a downgraded server must not
// step a rollout it does not understand). States written before the field existed read as 1.
const stateSchema = 1

// frozenPlan is what the store keeps as a rollout's state: the compiled spec (frozen with the plan,
// so a changed service file never changes a running rollout) and the state machine's state.
type frozenPlan struct {
	Schema int           `json:"schema"`
	Spec   rollout.Spec  `json:"spec"`
	State  rollout.State `json:"state"`
}

func encodeState(spec rollout.Spec, st rollout.State) ([]byte, error) {
	return json.Marshal(frozenPlan{Schema: stateSchema, Spec: spec, State: st})
}

// invalidStateError is a stored state this binary cannot step: unreadable, of a newer schema, or
// breaking an invariant of rollout.State.Check. readable says whether spec and state decoded, so
// the failure can be written into the state itself.
type invalidStateError struct {
	id       string
	err      error
	readable bool
}

func (e *invalidStateError) Error() string {
	return fmt.Sprintf("rollout %s: invalid stored state: %v", e.id, e.err)
}
func (e *invalidStateError) Unwrap() error { return e.err }

// decodeState reads a rollout's stored spec and state and checks them: a state read back from disk
// is input like any other, and Step must never see one it would trip over.
func decodeState(r store.Rollout) (rollout.Spec, rollout.State, error) {
	var f frozenPlan
	if err := json.Unmarshal(r.State, &f); err != nil {
		return rollout.Spec{}, rollout.State{}, &invalidStateError{id: r.ID, err: fmt.Errorf("read: %w", err)}
	}
	if f.Schema > stateSchema {
		return rollout.Spec{}, rollout.State{}, &invalidStateError{id: r.ID, err: fmt.Errorf("schema %d is newer than this hugai's %d: run the hugai that wrote it", f.Schema, stateSchema)}
	}
	if f.Schema == 0 {
		upgradeFrom0(&f, r)
	}
	if err := f.State.Check(f.Spec); err != nil {
		return f.Spec, f.State, &invalidStateError{id: r.ID, err: err, readable: true}
	}
	return f.Spec, f.State, nil
}

// upgradeFrom0 converts a state written before the schema was versioned, as Kubernetes converts
// an object of an older apiVersion on read: a rollback then carried no RollbackAt (Step used to
// fill it in on its next tick), so its last write stands in for it.
func upgradeFrom0(f *frozenPlan, r store.Rollout) {
	if f.State.Phase == rollout.RollingBack && f.State.RollbackAt == nil {
		t := r.UpdatedAt
		f.State.RollbackAt = &t
	}
}

// failInvalid ends a rollout whose stored state cannot be stepped: Failed with reason
// invalid-state, audited and notified, so the other rollouts carry on and a person looks at it. A
// readable state is rewritten as Failed; an unreadable one (or one of a newer schema) is kept as
// it is for whoever investigates, and only the rollout's phase changes. The caller holds the
// environment's state lock.
func (e *Engine) failInvalid(ctx context.Context, r store.Rollout, bad *invalidStateError) error {
	now := e.cfg.Clock.Now().UTC()
	msg := bad.err.Error()
	from := r.Phase
	if bad.readable {
		var f frozenPlan
		if err := json.Unmarshal(r.State, &f); err != nil {
			return err
		}
		f.State.Phase, f.State.Reason, f.State.Message, f.State.FinishedAt = rollout.Failed, rollout.ReasonInvalidState, msg, &now
		state, err := encodeState(f.Spec, f.State)
		if err != nil {
			return err
		}
		r.State = state
	}
	r.Phase, r.Reason, r.UpdatedAt = string(rollout.Failed), rollout.ReasonInvalidState, now
	payload, err := json.Marshal(map[string]any{"from": from, "to": r.Phase, "reason": r.Reason, "message": msg})
	if err != nil {
		return err
	}
	c, err := e.cfg.Store.Commit(ctx, store.Tx{Rollout: &r, Events: []audit.Event{
		{Subject: "rollout/" + r.ID, Type: "rollout.phase", Actor: "hugai", Time: now, Payload: payload},
	}})
	if err != nil {
		return fmt.Errorf("fail rollout %s: %w", r.ID, err)
	}
	r.Revision = c.Revision
	e.cfg.Logf("rollout %s failed: %v", r.ID, bad)
	e.broadcast()
	e.send(ctx, r.Service, notify.Event{
		Service: r.Service, Environment: r.Environment, RolloutID: r.ID, Version: r.Version, PreviousVersion: r.PreviousVersion,
		Phase: r.Phase, Reason: r.Reason, Message: msg, Severity: notifySeverity[rollout.Failed], Time: now,
	})
	return nil
}

// asInvalid reports whether err is a stored state that cannot be stepped.
func asInvalid(err error) (*invalidStateError, bool) {
	var bad *invalidStateError
	ok := errors.As(err, &bad)
	return bad, ok
}
