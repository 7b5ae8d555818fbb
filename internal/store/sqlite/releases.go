package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/store"
)

var _ store.ReleaseStore = (*Store)(nil)

// CreateRelease writes a release record and its audit events in one transaction.
func (s *Store) CreateRelease(ctx context.Context, r store.ReleaseRecord, events []audit.Event) error {
	if r.Tag == "" || r.Version == "" {
		return errors.New("create release: no tag or version")
	}
	if !json.Valid(r.Document) {
		return fmt.Errorf("create release %s: the document is not valid JSON", r.Tag)
	}
	for i := range events {
		if events[i].Type == "" {
			return fmt.Errorf("create release %s: event %d has no type", r.Tag, i)
		}
		if events[i].Subject == "" {
			events[i].Subject = "release/" + r.Tag
		}
	}
	now := time.Now().UTC()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create release %s: begin: %w", r.Tag, err)
	}
	defer tx.Rollback()
	var one int
	switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM release_records WHERE tag = ?`, r.Tag).Scan(&one); {
	case err == nil:
		return fmt.Errorf("create release %s: %w", r.Tag, store.ErrConflict)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("create release %s: %w", r.Tag, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO release_records (tag, component, version, document, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, r.Tag, r.Component, r.Version, string(r.Document), r.CreatedBy, micros(r.CreatedAt, now))
	if err != nil {
		return fmt.Errorf("create release %s: %w", r.Tag, err)
	}
	if _, _, err := appendEvents(ctx, tx, events, "", now); err != nil {
		return fmt.Errorf("create release %s: %w", r.Tag, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create release %s: %w", r.Tag, err)
	}
	return nil
}

// ReleaseRecord reads one release by its tag.
func (s *Store) ReleaseRecord(ctx context.Context, tag string) (store.ReleaseRecord, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT tag, component, version, document, created_by, created_at
		FROM release_records WHERE tag = ?`, tag)
	if err != nil {
		return store.ReleaseRecord{}, fmt.Errorf("read release %s: %w", tag, err)
	}
	rs, err := scanReleaseRecords(rows)
	if err != nil {
		return store.ReleaseRecord{}, fmt.Errorf("read release %s: %w", tag, err)
	}
	if len(rs) == 0 {
		return store.ReleaseRecord{}, fmt.Errorf("release %s: %w", tag, store.ErrNotFound)
	}
	return rs[0], nil
}

// ReleaseRecords lists releases newest first: of one component, or of all with component "*".
func (s *Store) ReleaseRecords(ctx context.Context, component string, limit int) ([]store.ReleaseRecord, error) {
	q := `SELECT tag, component, version, document, created_by, created_at FROM release_records`
	var args []any
	if component != "*" {
		q += ` WHERE component = ?`
		args = append(args, component)
	}
	q += ` ORDER BY num DESC`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	rs, err := scanReleaseRecords(rows)
	if err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	return rs, nil
}

func scanReleaseRecords(rows *sql.Rows) ([]store.ReleaseRecord, error) {
	defer rows.Close()
	var out []store.ReleaseRecord
	for rows.Next() {
		var r store.ReleaseRecord
		var doc string
		var created int64
		if err := rows.Scan(&r.Tag, &r.Component, &r.Version, &doc, &r.CreatedBy, &created); err != nil {
			return nil, err
		}
		r.Document = json.RawMessage(doc)
		r.CreatedAt = fromMicros(created)
		out = append(out, r)
	}
	return out, rows.Err()
}
