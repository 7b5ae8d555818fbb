package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/store"
)

var _ store.ReleaseRunStore = (*Store)(nil)

const runPrefix = "release-"

func runNum(id string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimPrefix(id, runPrefix), 10, 64)
	return n, err == nil && strings.HasPrefix(id, runPrefix) && n > 0
}

func checkRun(r store.ReleaseRun, events []audit.Event) error {
	if r.Tag == "" || r.Service == "" || r.Phase == "" {
		return errors.New("no tag, service or phase")
	}
	if !json.Valid(r.Document) {
		return errors.New("the document is not valid JSON")
	}
	for i := range events {
		if events[i].Type == "" {
			return fmt.Errorf("event %d has no type", i)
		}
	}
	return nil
}

func runEvents(tag string, events []audit.Event) {
	for i := range events {
		if events[i].Subject == "" {
			events[i].Subject = "release/" + tag
		}
	}
}

// CreateReleaseRun inserts a run with its audit events in one transaction.
func (s *Store) CreateReleaseRun(ctx context.Context, r store.ReleaseRun, events []audit.Event) (store.ReleaseRun, error) {
	if err := checkRun(r, events); err != nil {
		return r, fmt.Errorf("create release run of %s: %w", r.Tag, err)
	}
	runEvents(r.Tag, events)
	now := time.Now().UTC()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return r, fmt.Errorf("create release run of %s: begin: %w", r.Tag, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO release_runs (tag, service, phase, active, document, revision, created_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)`, r.Tag, r.Service, r.Phase, r.Active, string(r.Document), r.CreatedBy,
		micros(r.CreatedAt, now), micros(r.UpdatedAt, now))
	if err != nil {
		return r, fmt.Errorf("create release run of %s: %w", r.Tag, err)
	}
	num, err := res.LastInsertId()
	if err != nil {
		return r, fmt.Errorf("create release run of %s: %w", r.Tag, err)
	}
	if _, _, err := appendEvents(ctx, tx, events, "", now); err != nil {
		return r, fmt.Errorf("create release run of %s: %w", r.Tag, err)
	}
	if err := tx.Commit(); err != nil {
		return r, fmt.Errorf("create release run of %s: %w", r.Tag, err)
	}
	r.ID, r.Revision = runPrefix+strconv.FormatInt(num, 10), 1
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = now
	}
	return r, nil
}

// UpdateReleaseRun writes a run whose stored revision is still r.Revision, with its events.
func (s *Store) UpdateReleaseRun(ctx context.Context, r store.ReleaseRun, events []audit.Event) (int64, error) {
	num, ok := runNum(r.ID)
	if !ok {
		return 0, fmt.Errorf("update release run %q: %w", r.ID, store.ErrNotFound)
	}
	if err := checkRun(r, events); err != nil {
		return 0, fmt.Errorf("update release run %s: %w", r.ID, err)
	}
	runEvents(r.Tag, events)
	now := time.Now().UTC()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("update release run %s: begin: %w", r.ID, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE release_runs SET phase = ?, active = ?, document = ?, revision = revision + 1, updated_at = ?
		WHERE num = ? AND revision = ?`, r.Phase, r.Active, string(r.Document), micros(r.UpdatedAt, now), num, r.Revision)
	if err != nil {
		return 0, fmt.Errorf("update release run %s: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return 0, fmt.Errorf("update release run %s at revision %d: %w", r.ID, r.Revision, store.ErrConflict)
	}
	if _, _, err := appendEvents(ctx, tx, events, "", now); err != nil {
		return 0, fmt.Errorf("update release run %s: %w", r.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("update release run %s: %w", r.ID, err)
	}
	return r.Revision + 1, nil
}

const runColumns = `num, tag, service, phase, active, document, revision, created_by, created_at, updated_at`

// ReleaseRun reads one run.
func (s *Store) ReleaseRun(ctx context.Context, id string) (store.ReleaseRun, error) {
	num, ok := runNum(id)
	if !ok {
		return store.ReleaseRun{}, fmt.Errorf("release run %q: %w", id, store.ErrNotFound)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+runColumns+` FROM release_runs WHERE num = ?`, num)
	if err != nil {
		return store.ReleaseRun{}, fmt.Errorf("read release run %s: %w", id, err)
	}
	rs, err := scanRuns(rows)
	if err != nil {
		return store.ReleaseRun{}, fmt.Errorf("read release run %s: %w", id, err)
	}
	if len(rs) == 0 {
		return store.ReleaseRun{}, fmt.Errorf("release run %s: %w", id, store.ErrNotFound)
	}
	return rs[0], nil
}

// ReleaseRuns lists runs newest first.
func (s *Store) ReleaseRuns(ctx context.Context, f store.ReleaseRunFilter) ([]store.ReleaseRun, error) {
	q := `SELECT ` + runColumns + ` FROM release_runs WHERE 1 = 1`
	var args []any
	if f.Tag != "" {
		q += ` AND tag = ?`
		args = append(args, f.Tag)
	}
	if f.Active {
		q += ` AND active = 1`
	}
	q += ` ORDER BY num DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list release runs: %w", err)
	}
	rs, err := scanRuns(rows)
	if err != nil {
		return nil, fmt.Errorf("list release runs: %w", err)
	}
	return rs, nil
}

func scanRuns(rows *sql.Rows) ([]store.ReleaseRun, error) {
	defer rows.Close()
	var out []store.ReleaseRun
	for rows.Next() {
		var r store.ReleaseRun
		var num, created, updated int64
		var doc string
		if err := rows.Scan(&num, &r.Tag, &r.Service, &r.Phase, &r.Active, &doc, &r.Revision, &r.CreatedBy, &created, &updated); err != nil {
			return nil, err
		}
		r.ID = runPrefix + strconv.FormatInt(num, 10)
		r.Document = json.RawMessage(doc)
		r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
		out = append(out, r)
	}
	return out, rows.Err()
}
