package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/store"
)

// Commit writes tx in one SQLite transaction: the rollout (with its revision check), its audit
// events chained from the head, measurements, approvals and the release, or nothing at all.
func (s *Store) Commit(ctx context.Context, tx store.Tx) (store.Committed, error) {
	if err := tx.Validate(); err != nil {
		return store.Committed{}, fmt.Errorf("commit: %w", err)
	}
	now := time.Now().UTC()
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return store.Committed{}, fmt.Errorf("commit: begin: %w", err)
	}
	defer sqlTx.Rollback()
	c, err := commit(ctx, sqlTx, tx, now)
	if err != nil {
		return store.Committed{}, fmt.Errorf("commit: %w", err)
	}
	if err := sqlTx.Commit(); err != nil {
		return store.Committed{}, fmt.Errorf("commit: %w", err)
	}
	return c, nil
}

// commit does the writes; the order puts the checks that can fail (revision, foreign keys) both
// before and after the events, and a failure anywhere rolls all of it back.
func commit(ctx context.Context, tx *sql.Tx, in store.Tx, now time.Time) (store.Committed, error) {
	var c store.Committed
	if in.Rollout != nil {
		id, rev, err := upsertRollout(ctx, tx, *in.Rollout, now)
		if err != nil {
			return c, err
		}
		c.RolloutID, c.Revision = id, rev
	}
	seqs, head, err := appendEvents(ctx, tx, in.Events, c.RolloutID, now)
	if err != nil {
		return c, err
	}
	c.Seqs, c.Head = seqs, head
	for _, m := range in.Measurements {
		if m.RolloutID == "" {
			m.RolloutID = c.RolloutID
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO measurements
			(rollout_id, step, metric, version, phase, value, message, started_at, finished_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.RolloutID, m.Step, m.Metric, m.Version, m.Phase, m.Value, m.Message,
			micros(m.StartedAt, now), micros(m.FinishedAt, now))
		if err != nil {
			return c, fmt.Errorf("insert measurement of %s: %w", m.RolloutID, err)
		}
	}
	for _, a := range in.Approvals {
		if a.RolloutID == "" {
			a.RolloutID = c.RolloutID
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO approvals
			(rollout_id, gate, actor, decision, comment, time) VALUES (?, ?, ?, ?, ?, ?)`,
			a.RolloutID, a.Gate, a.Actor, a.Decision, a.Comment, micros(a.Time, now))
		if err != nil {
			return c, fmt.Errorf("insert approval of %s: %w", a.RolloutID, err)
		}
	}
	if r := in.Release; r != nil {
		if r.RolloutID == "" {
			r2 := *r
			r2.RolloutID = c.RolloutID
			r = &r2
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO releases
			(service, environment, version, rollout_id, time) VALUES (?, ?, ?, ?, ?)`,
			r.Service, r.Environment, r.Version, r.RolloutID, micros(r.Time, now))
		if err != nil {
			return c, fmt.Errorf("insert release: %w", err)
		}
	}
	return c, nil
}

func upsertRollout(ctx context.Context, tx *sql.Tx, r store.Rollout, now time.Time) (string, int64, error) {
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = now
	}
	if r.Revision == 0 {
		if r.ID == "" {
			id, err := allocateID(ctx, tx, r.Service)
			if err != nil {
				return "", 0, err
			}
			r.ID = id
		} else if ok, err := rolloutExists(ctx, tx, r.ID); err != nil {
			return "", 0, err
		} else if ok {
			return "", 0, fmt.Errorf("insert rollout %s: %w", r.ID, store.ErrConflict)
		}
		if r.CreatedAt.IsZero() {
			r.CreatedAt = now
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO rollouts
			(id, service, environment, version, previous_version, strategy, phase, reason, plan,
			 plan_sha256, service_file, state, revision, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`,
			r.ID, r.Service, r.Environment, r.Version, r.PreviousVersion, r.Strategy, r.Phase, r.Reason,
			nonNil(r.Plan), r.PlanSHA256, nonNil(r.ServiceFile), string(r.State),
			r.CreatedBy, micros(r.CreatedAt, now), micros(r.UpdatedAt, now))
		if err != nil {
			return "", 0, fmt.Errorf("insert rollout %s: %w", r.ID, err)
		}
		return r.ID, 1, nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE rollouts SET
		service = ?, environment = ?, version = ?, previous_version = ?, strategy = ?, phase = ?,
		reason = ?, plan = ?, plan_sha256 = ?, service_file = ?, state = ?, revision = revision + 1,
		updated_at = ?
		WHERE id = ? AND revision = ?`,
		r.Service, r.Environment, r.Version, r.PreviousVersion, r.Strategy, r.Phase, r.Reason,
		nonNil(r.Plan), r.PlanSHA256, nonNil(r.ServiceFile), string(r.State), micros(r.UpdatedAt, now),
		r.ID, r.Revision)
	if err != nil {
		return "", 0, fmt.Errorf("update rollout %s: %w", r.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return "", 0, fmt.Errorf("update rollout %s: %w", r.ID, err)
	}
	if n == 0 {
		ok, err := rolloutExists(ctx, tx, r.ID)
		if err != nil {
			return "", 0, err
		}
		if !ok {
			return "", 0, fmt.Errorf("update rollout %s: %w", r.ID, store.ErrNotFound)
		}
		return "", 0, fmt.Errorf("update rollout %s at revision %d: %w", r.ID, r.Revision, store.ErrConflict)
	}
	return r.ID, r.Revision + 1, nil
}

// allocateID takes the next number of the store's rollout sequence, skipping any ID a caller
// already chose by hand.
func allocateID(ctx context.Context, tx *sql.Tx, service string) (string, error) {
	for {
		var n int64
		err := tx.QueryRowContext(ctx,
			`UPDATE counters SET value = value + 1 WHERE name = 'rollout' RETURNING value`).Scan(&n)
		if err != nil {
			return "", fmt.Errorf("allocate rollout id: %w", err)
		}
		id := service + "-" + strconv.FormatInt(n, 10)
		ok, err := rolloutExists(ctx, tx, id)
		if err != nil {
			return "", err
		}
		if !ok {
			return id, nil
		}
	}
}

func rolloutExists(ctx context.Context, tx *sql.Tx, id string) (bool, error) {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM rollouts WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up rollout %s: %w", id, err)
	}
	return true, nil
}

// appendEvents numbers and chains events from the head read inside this transaction, then moves
// the head: the single writer connection makes the read-chain-write sequence race-free.
func appendEvents(ctx context.Context, tx *sql.Tx, events []audit.Event, rolloutID string, now time.Time) ([]int64, string, error) {
	var head audit.Head
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&head.Seq, &head.Hash)
	if err != nil {
		return nil, "", fmt.Errorf("read audit head: %w", err)
	}
	if len(events) == 0 {
		return nil, head.Hash, nil
	}
	seqs := make([]int64, 0, len(events))
	for _, e := range events {
		if e.Subject == "" {
			e.Subject = "rollout/" + rolloutID
		}
		if e.Time.IsZero() {
			e.Time = now
		}
		e.Seq = head.Seq + 1
		e = audit.Chain(head.Hash, e)
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_events
			(seq, subject, type, actor, time, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Seq, e.Subject, e.Type, e.Actor, audit.FormatTime(e.Time), string(e.Payload), e.PrevHash, e.Hash)
		if err != nil {
			return nil, "", fmt.Errorf("insert audit event %d: %w", e.Seq, err)
		}
		head = audit.Head{Seq: e.Seq, Hash: e.Hash}
		seqs = append(seqs, e.Seq)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, head.Seq, head.Hash); err != nil {
		return nil, "", fmt.Errorf("move audit head: %w", err)
	}
	return seqs, head.Hash, nil
}

func micros(t, def time.Time) int64 {
	if t.IsZero() {
		t = def
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
