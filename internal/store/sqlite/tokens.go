package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/store"
)

var _ store.TokenStore = (*Store)(nil)

const tokenColumns = `name, hash, subject, role, environment, created_by, created_at, expires_at, revoked_at, revoked_by`

// CreateToken writes a token and its audit events in one transaction.
func (s *Store) CreateToken(ctx context.Context, t store.Token, events []audit.Event) error {
	if t.Name == "" || t.Hash == "" || t.Subject == "" || t.Role == "" {
		return errors.New("create token: name, hash, subject and role are required")
	}
	setSubject(events, "token/"+t.Name)
	now := time.Now().UTC()
	return s.inTx(ctx, "create token "+t.Name, func(tx *sql.Tx) error {
		var one int
		switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM tokens WHERE name = ?`, t.Name).Scan(&one); {
		case err == nil:
			return store.ErrConflict
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var expires int64
		if t.ExpiresAt != nil {
			expires = t.ExpiresAt.UnixMicro()
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, '')`,
			t.Name, t.Hash, t.Subject, t.Role, t.Environment, t.CreatedBy, micros(t.CreatedAt, now), expires); err != nil {
			return err
		}
		_, _, err := appendEvents(ctx, tx, events, "", now)
		return err
	})
}

// TokenByHash reads the token whose secret hashes to hash.
func (s *Store) TokenByHash(ctx context.Context, hash string) (store.Token, error) {
	ts, err := s.tokens(ctx, s.r, `WHERE hash = ?`, hash)
	if err != nil {
		return store.Token{}, fmt.Errorf("read token: %w", err)
	}
	if len(ts) == 0 {
		return store.Token{}, fmt.Errorf("token: %w", store.ErrNotFound)
	}
	return ts[0], nil
}

// Tokens lists every token, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]store.Token, error) {
	ts, err := s.tokens(ctx, s.r, `ORDER BY created_at, name`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return ts, nil
}

// RevokeToken marks a token revoked and writes its audit events in one transaction.
func (s *Store) RevokeToken(ctx context.Context, name, by string, at time.Time, events []audit.Event) (store.Token, error) {
	setSubject(events, "token/"+name)
	now := time.Now().UTC()
	var out store.Token
	err := s.inTx(ctx, "revoke token "+name, func(tx *sql.Tx) error {
		ts, err := s.tokens(ctx, tx, `WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if len(ts) == 0 {
			return store.ErrNotFound
		}
		if ts[0].RevokedAt != nil {
			return store.ErrConflict
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ?, revoked_by = ? WHERE name = ?`, micros(at, now), by, name); err != nil {
			return err
		}
		out = ts[0]
		t := fromMicros(micros(at, now))
		out.RevokedAt, out.RevokedBy = &t, by
		_, _, err = appendEvents(ctx, tx, events, "", now)
		return err
	})
	return out, err
}

func setSubject(events []audit.Event, subject string) {
	for i := range events {
		if events[i].Subject == "" {
			events[i].Subject = subject
		}
	}
}

// inTx runs f in a write transaction, wrapping its error with what.
func (s *Store) inTx(ctx context.Context, what string, f func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin: %w", what, err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) tokens(ctx context.Context, q querier, where string, args ...any) ([]store.Token, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		var t store.Token
		var created, expires, revoked int64
		if err := rows.Scan(&t.Name, &t.Hash, &t.Subject, &t.Role, &t.Environment, &t.CreatedBy, &created, &expires, &revoked, &t.RevokedBy); err != nil {
			return nil, err
		}
		t.CreatedAt = fromMicros(created)
		if expires != 0 {
			e := fromMicros(expires)
			t.ExpiresAt = &e
		}
		if revoked != 0 {
			r := fromMicros(revoked)
			t.RevokedAt = &r
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
