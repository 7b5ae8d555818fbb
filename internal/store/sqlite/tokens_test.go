package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/store"
)

func TestTokens(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "hugai.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	exp := t0.Add(90 * 24 * time.Hour)
	ci := store.Token{Name: "ci", Hash: "aa", Subject: "ci", Role: "deployer", Environment: "production", CreatedBy: "dave", CreatedAt: t0, ExpiresAt: &exp}
	if err := s.CreateToken(ctx, ci, []audit.Event{{Type: "token.created", Actor: "dave", Time: t0}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx, store.Token{Name: "ci", Hash: "bb", Subject: "x", Role: "viewer"}, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second ci: %v", err)
	}
	if err := s.CreateToken(ctx, store.Token{Name: "other", Hash: "aa", Subject: "x", Role: "viewer"}, nil); err == nil {
		t.Fatal("two tokens with one hash")
	}
	got, err := s.TokenByHash(ctx, "aa")
	if err != nil || got.Name != "ci" || got.Environment != "production" || !got.ExpiresAt.Equal(exp) || got.RevokedAt != nil || !got.CreatedAt.Equal(t0) {
		t.Fatalf("by hash: %+v %v", got, err)
	}
	if _, err := s.TokenByHash(ctx, "zz"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
	rev, err := s.RevokeToken(ctx, "ci", "erin", t0.Add(time.Hour), []audit.Event{{Type: "token.revoked", Actor: "erin"}})
	if err != nil || rev.RevokedAt == nil || rev.RevokedBy != "erin" {
		t.Fatalf("revoke: %+v %v", rev, err)
	}
	if _, err := s.RevokeToken(ctx, "ci", "erin", t0, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("revoke twice: %v", err)
	}
	if _, err := s.RevokeToken(ctx, "nope", "erin", t0, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	if got, _ := s.TokenByHash(ctx, "aa"); got.RevokedAt == nil || !got.RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("revocation not kept: %+v", got)
	}
	all, err := s.Tokens(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("list: %+v %v", all, err)
	}
	evs, err := s.Events(ctx, store.EventFilter{})
	if err != nil || len(evs) != 2 || evs[0].Subject != "token/ci" || evs[1].Type != "token.revoked" {
		t.Fatalf("events: %+v %v", evs, err)
	}
	if _, err := s.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
}
