package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/storetest"
)

// raw is plain database/sql access to the file, beside the store.
type raw struct {
	path string
	db   *sql.DB
}

func (r *raw) Exec(query string, args ...any) error {
	_, err := r.db.Exec(query, args...)
	return err
}

func (r *raw) Reopen(t *testing.T) store.Store {
	s, err := Open(r.path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openTemp(t *testing.T) (store.Store, storetest.RawSQL) {
	path := filepath.Join(t.TempDir(), "hugai.db")
	s, err := Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return s, &raw{path: path, db: db}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, openTemp)
}

func TestPragmas(t *testing.T) {
	s, _ := openTemp(t)
	st := s.(*Store)
	for _, tc := range []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{st.w, "journal_mode", "wal"},
		{st.w, "synchronous", "2"}, // FULL
		{st.w, "foreign_keys", "1"},
		{st.w, "busy_timeout", "10000"},
		{st.w, "user_version", strconv.Itoa(migrationCount(t))}, // every migration applied
		{st.r, "query_only", "1"},
		{st.r, "foreign_keys", "1"},
	} {
		var got string
		if err := tc.db.QueryRow("PRAGMA " + tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
		}
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hugai.db")
	for i := 0; i < 2; i++ {
		s, err := Open(path)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if _, err := s.Commit(context.Background(), store.Tx{Events: []audit.Event{{Subject: "x/y", Type: "t"}}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hugai.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := Open(path); err == nil {
		s.Close()
		t.Fatal("opened a database with a newer schema")
	}
}

// BenchmarkCommit measures the engine's usual write: one rollout update and two audit events,
// fsynced (synchronous=FULL).
func BenchmarkCommit(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "hugai.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	c, err := s.Commit(ctx, store.Tx{Rollout: &store.Rollout{Service: "demo", Environment: "production", Phase: "Progressing"}})
	if err != nil {
		b.Fatal(err)
	}
	r, err := s.Rollout(ctx, c.RolloutID)
	if err != nil {
		b.Fatal(err)
	}
	state := json.RawMessage(`{"step":3,"weight":25,"analysis":{"error_rate":0.1}}`)
	b.ReportAllocs()
	for b.Loop() {
		r.State = state
		c, err := s.Commit(ctx, store.Tx{Rollout: &r, Events: []audit.Event{
			{Type: "rollout.step", Actor: "engine", Payload: json.RawMessage(`{"step":3}`)},
			{Type: "rollout.weight", Actor: "engine", Payload: json.RawMessage(`{"weight":25}`)},
		}})
		if err != nil {
			b.Fatal(err)
		}
		r.Revision = c.Revision
	}
}

// BenchmarkVerifyAudit measures streaming verification of a 10,000-event log (per whole log).
func BenchmarkVerifyAudit(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "hugai.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const n = 10000
	for i := 0; i < n/100; i++ {
		events := make([]audit.Event, 100)
		for j := range events {
			events[j] = audit.Event{Subject: "rollout/demo-1", Type: "rollout.step", Actor: "engine",
				Payload: json.RawMessage(`{"step":3,"weight":25}`)}
		}
		if _, err := s.Commit(ctx, store.Tx{Events: events}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := s.VerifyAudit(ctx)
		if err != nil || res.Events != n {
			b.Fatalf("verify: %+v, %v", res, err)
		}
	}
}

func TestReleaseConformance(t *testing.T) {
	storetest.RunReleases(t, func(t *testing.T) storetest.ReleaseBackend {
		s, _ := openTemp(t)
		return s.(*Store)
	})
}

func migrationCount(t *testing.T) int {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("migrations: %v", err)
	}
	// The schema version is the number of the last migration (numbers may skip one another
	// branch holds).
	sort.Strings(names)
	n, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(names[len(names)-1], "migrations/"), "_", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	return n
}
