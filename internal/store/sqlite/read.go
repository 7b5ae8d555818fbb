package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/store"
)

const rolloutColumns = `id, service, environment, version, previous_version, strategy, phase, reason,
	plan, plan_sha256, service_file, state, revision, created_by, created_at, updated_at`

func scanRollout(sc interface{ Scan(...any) error }) (store.Rollout, error) {
	var r store.Rollout
	var state string
	var created, updated int64
	err := sc.Scan(&r.ID, &r.Service, &r.Environment, &r.Version, &r.PreviousVersion, &r.Strategy,
		&r.Phase, &r.Reason, &r.Plan, &r.PlanSHA256, &r.ServiceFile, &state, &r.Revision,
		&r.CreatedBy, &created, &updated)
	if err != nil {
		return r, err
	}
	if len(r.Plan) == 0 {
		r.Plan = nil
	}
	if len(r.ServiceFile) == 0 {
		r.ServiceFile = nil
	}
	if state != "" {
		r.State = json.RawMessage(state)
	}
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return r, nil
}

// Rollout returns the rollout with id, or store.ErrNotFound.
func (s *Store) Rollout(ctx context.Context, id string) (store.Rollout, error) {
	row := s.r.QueryRowContext(ctx, `SELECT `+rolloutColumns+` FROM rollouts WHERE id = ?`, id)
	r, err := scanRollout(row)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("rollout %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("read rollout %s: %w", id, err)
	}
	return r, nil
}

// Rollouts lists rollouts, newest (last created) first.
func (s *Store) Rollouts(ctx context.Context, f store.Filter) ([]store.Rollout, error) {
	var where []string
	var args []any
	if f.Service != "" {
		where, args = append(where, "service = ?"), append(args, f.Service)
	}
	if f.Environment != "" {
		where, args = append(where, "environment = ?"), append(args, f.Environment)
	}
	if f.Active {
		terminal := store.TerminalPhases()
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(terminal)), ", ")
		where = append(where, "phase NOT IN ("+marks+")")
		for _, p := range terminal {
			args = append(args, p)
		}
	}
	q := `SELECT ` + rolloutColumns + ` FROM rollouts`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY num DESC"
	if f.Limit > 0 {
		q, args = q+" LIMIT ?", append(args, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list rollouts: %w", err)
	}
	defer rows.Close()
	var out []store.Rollout
	for rows.Next() {
		r, err := scanRollout(rows)
		if err != nil {
			return nil, fmt.Errorf("list rollouts: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list rollouts: %w", err)
	}
	return out, nil
}

// Measurements returns a rollout's measurements in the order they were written.
func (s *Store) Measurements(ctx context.Context, rolloutID string) ([]store.Measurement, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT rollout_id, step, metric, version, phase, value, message,
		started_at, finished_at FROM measurements WHERE rollout_id = ? ORDER BY num`, rolloutID)
	if err != nil {
		return nil, fmt.Errorf("read measurements of %s: %w", rolloutID, err)
	}
	defer rows.Close()
	var out []store.Measurement
	for rows.Next() {
		var m store.Measurement
		var started, finished int64
		if err := rows.Scan(&m.RolloutID, &m.Step, &m.Metric, &m.Version, &m.Phase, &m.Value,
			&m.Message, &started, &finished); err != nil {
			return nil, fmt.Errorf("read measurements of %s: %w", rolloutID, err)
		}
		m.StartedAt, m.FinishedAt = fromMicros(started), fromMicros(finished)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read measurements of %s: %w", rolloutID, err)
	}
	return out, nil
}

// Approvals returns a rollout's approval decisions in the order they were written.
func (s *Store) Approvals(ctx context.Context, rolloutID string) ([]store.Approval, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT rollout_id, gate, actor, decision, comment, time
		FROM approvals WHERE rollout_id = ? ORDER BY num`, rolloutID)
	if err != nil {
		return nil, fmt.Errorf("read approvals of %s: %w", rolloutID, err)
	}
	defer rows.Close()
	var out []store.Approval
	for rows.Next() {
		var a store.Approval
		var t int64
		if err := rows.Scan(&a.RolloutID, &a.Gate, &a.Actor, &a.Decision, &a.Comment, &t); err != nil {
			return nil, fmt.Errorf("read approvals of %s: %w", rolloutID, err)
		}
		a.Time = fromMicros(t)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read approvals of %s: %w", rolloutID, err)
	}
	return out, nil
}

// Releases returns the stable versions of a service in an environment, newest first.
func (s *Store) Releases(ctx context.Context, service, env string, limit int) ([]store.Release, error) {
	q := `SELECT service, environment, version, rollout_id, time FROM releases
		WHERE service = ? AND environment = ? ORDER BY num DESC`
	args := []any{service, env}
	if limit > 0 {
		q, args = q+" LIMIT ?", append(args, limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read releases of %s/%s: %w", service, env, err)
	}
	defer rows.Close()
	var out []store.Release
	for rows.Next() {
		var r store.Release
		var t int64
		if err := rows.Scan(&r.Service, &r.Environment, &r.Version, &r.RolloutID, &t); err != nil {
			return nil, fmt.Errorf("read releases of %s/%s: %w", service, env, err)
		}
		r.Time = fromMicros(t)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read releases of %s/%s: %w", service, env, err)
	}
	return out, nil
}

const eventColumns = `seq, subject, type, actor, time, payload, prev_hash, hash`

func scanEvent(sc interface{ Scan(...any) error }) (audit.Event, error) {
	var e audit.Event
	var t, payload string
	if err := sc.Scan(&e.Seq, &e.Subject, &e.Type, &e.Actor, &t, &payload, &e.PrevHash, &e.Hash); err != nil {
		return e, err
	}
	// A time that does not parse stays zero: its hash then fails to verify, which names the event.
	e.Time, _ = time.Parse(audit.TimeLayout, t)
	if payload != "" {
		e.Payload = json.RawMessage(payload)
	}
	return e, nil
}

// Events returns audit events in seq order.
func (s *Store) Events(ctx context.Context, f store.EventFilter) ([]audit.Event, error) {
	q := `SELECT ` + eventColumns + ` FROM audit_events WHERE seq > ?`
	args := []any{f.AfterSeq}
	if f.Subject != "" {
		q, args = q+" AND subject = ?", append(args, f.Subject)
	}
	q += " ORDER BY seq"
	if f.Limit > 0 {
		q, args = q+" LIMIT ?", append(args, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read audit events: %w", err)
	}
	defer rows.Close()
	var out []audit.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("read audit events: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit events: %w", err)
	}
	return out, nil
}

// VerifyAudit streams the whole log through an audit.Verifier. The head and the events are read
// in one read transaction, so a commit landing meanwhile cannot look like tampering.
func (s *Store) VerifyAudit(ctx context.Context) (store.VerifyResult, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.VerifyResult{}, fmt.Errorf("verify audit: %w", err)
	}
	defer tx.Rollback()
	var head audit.Head
	err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&head.Seq, &head.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return store.VerifyResult{}, errors.New("verify audit: the audit head is missing (deleted)")
	}
	if err != nil {
		return store.VerifyResult{}, fmt.Errorf("verify audit: read head: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+eventColumns+` FROM audit_events ORDER BY seq`)
	if err != nil {
		return store.VerifyResult{}, fmt.Errorf("verify audit: %w", err)
	}
	defer rows.Close()
	v := audit.NewVerifier()
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return store.VerifyResult{}, fmt.Errorf("verify audit: %w", err)
		}
		if err := v.Add(e); err != nil {
			return store.VerifyResult{}, err
		}
	}
	if err := rows.Err(); err != nil {
		return store.VerifyResult{}, fmt.Errorf("verify audit: %w", err)
	}
	n, h, err := v.Finish(head)
	if err != nil {
		return store.VerifyResult{}, err
	}
	return store.VerifyResult{Events: n, Head: h}, nil
}
