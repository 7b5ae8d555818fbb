package store

import (
	"context"
	"time"

	"github.com/hugai-dev/hugai/internal/audit"
)

// Token is an API token as stored: never the secret, only its SHA-256. Role caps what the
// token's Subject may do under each environment's policy; Environment ("": all) scopes it.
type Token struct {
	Name        string     `json:"name"`
	Subject     string     `json:"subject"`
	Role        string     `json:"role"`
	Environment string     `json:"environment,omitempty"`
	Hash        string     `json:"-"`
	CreatedBy   string     `json:"createdBy"`
	CreatedAt   time.Time  `json:"createdAt"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
	RevokedAt   *time.Time `json:"revokedAt,omitempty"`
	RevokedBy   string     `json:"revokedBy,omitempty"`
}

// TokenStore keeps API tokens, beside Store as ReleaseStore is, so a backend gains it without the
// engine's Store changing.
type TokenStore interface {
	// CreateToken writes the token and its audit events (subject "token/<name>" when empty) in
	// one transaction; a name already used, even by a revoked token, is ErrConflict.
	CreateToken(ctx context.Context, t Token, events []audit.Event) error
	// TokenByHash finds the token whose secret hashes to hash; ErrNotFound if none.
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// Tokens lists every token, revoked ones too, oldest first.
	Tokens(ctx context.Context) ([]Token, error)
	// RevokeToken marks the token revoked at `at` by `by` and writes the events in one
	// transaction; ErrNotFound if there is no such token, ErrConflict if it is revoked already.
	RevokeToken(ctx context.Context, name, by string, at time.Time, events []audit.Event) (Token, error)
}
