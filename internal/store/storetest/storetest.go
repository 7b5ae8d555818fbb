// Package storetest is the conformance suite every store.Store backend must pass: the same tests,
// including tampering with the audit tables through plain SQL, run against SQLite and PostgreSQL.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/store"
)

// RawSQL reaches under a store, as an attacker with the database file or credentials would.
type RawSQL interface {
	// Exec runs one plain SQL statement. The suite passes no arguments and uses only portable
	// SQL on the tables audit_events and audit_head, so the same text runs on every backend.
	Exec(query string, args ...any) error
	// Reopen opens another Store on the same database, as a restarted or second process would.
	// The suite closes what it returns.
	Reopen(t *testing.T) store.Store
}

// Opener returns a new, empty store and raw access to its database. The backend's test closes
// both when t ends (the suite may also Close the store itself; a second Close must be harmless or
// be skipped by the opener).
type Opener func(t *testing.T) (store.Store, RawSQL)

// Run runs the suite against the backend open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"CreateGetList", testCreateGetList},
		{"IDAllocation", testIDAllocation},
		{"OptimisticConcurrency", testOptimisticConcurrency},
		{"Atomicity", testAtomicity},
		{"EventsChained", testEventsChained},
		{"ConcurrentCommitters", testConcurrentCommitters},
		{"TwoHandles", testTwoHandles},
		{"Tamper", testTamper},
		{"TamperHeadDeleted", testTamperHeadDeleted},
		{"RecordsRoundTrip", testRecordsRoundTrip},
		{"Reopen", testReopen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open)
		})
	}
}

// t0 has sub-microsecond digits and a zone, which every store must drop in the same way.
var t0 = time.Date(2026, 11, 27, 9, 30, 0, 123456789, time.FixedZone("CET", 3600))

func newRollout(service, env, phase string) *store.Rollout {
	return &store.Rollout{
		Service: service, Environment: env, Version: "v2", PreviousVersion: "v1",
		Strategy: "canary", Phase: phase, Plan: []byte("kind: DeploymentPlan\n"),
		PlanSHA256: "abc123", ServiceFile: []byte("name: " + service + "\n"),
		State: json.RawMessage(`{"step":0}`), CreatedBy: "alice", CreatedAt: t0, UpdatedAt: t0,
	}
}

func event(typ string, payload string) audit.Event {
	return audit.Event{Type: typ, Actor: "alice", Time: t0, Payload: json.RawMessage(payload)}
}

func mustCommit(t *testing.T, s store.Store, tx store.Tx) store.Committed {
	t.Helper()
	c, err := s.Commit(context.Background(), tx)
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	return c
}

func mustVerify(t *testing.T, s store.Store) store.VerifyResult {
	t.Helper()
	res, err := s.VerifyAudit(context.Background())
	if err != nil {
		t.Fatalf("verify audit: %v", err)
	}
	return res
}

func wantVerifyError(t *testing.T, s store.Store, seq int64, reason string) {
	t.Helper()
	_, err := s.VerifyAudit(context.Background())
	var ve *audit.VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("verify audit = %v, want an *audit.VerifyError", err)
	}
	if ve.Seq != seq || ve.Reason != reason {
		t.Fatalf("verify audit named event %d %q, want event %d %q", ve.Seq, ve.Reason, seq, reason)
	}
}

func testCreateGetList(t *testing.T, open Opener) {
	ctx := context.Background()
	s, _ := open(t)
	if _, err := s.Rollout(ctx, "nope-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing rollout: err = %v, want ErrNotFound", err)
	}
	var ids []string
	for i, spec := range []struct{ svc, env, phase string }{
		{"demo", "production", "Succeeded"},
		{"demo", "staging", "Progressing"},
		{"api", "production", "AwaitingApproval"},
		{"demo", "production", "Progressing"},
		{"api", "production", "RolledBack"},
	} {
		r := newRollout(spec.svc, spec.env, spec.phase)
		r.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
		c := mustCommit(t, s, store.Tx{Rollout: r, Events: []audit.Event{event("rollout.created", `{}`)}})
		if c.Revision != 1 {
			t.Fatalf("new rollout revision = %d, want 1", c.Revision)
		}
		ids = append(ids, c.RolloutID)
	}
	got, err := s.Rollout(ctx, ids[3])
	if err != nil {
		t.Fatal(err)
	}
	want := *newRollout("demo", "production", "Progressing")
	want.ID, want.Revision = ids[3], 1
	want.CreatedAt = t0.Add(3 * time.Minute).UTC().Truncate(time.Microsecond)
	want.UpdatedAt = t0.UTC().Truncate(time.Microsecond)
	if err := sameRollout(got, want); err != nil {
		t.Fatal(err)
	}

	list := func(f store.Filter) []string {
		t.Helper()
		rs, err := s.Rollouts(ctx, f)
		if err != nil {
			t.Fatalf("rollouts %+v: %v", f, err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	for _, tc := range []struct {
		f    store.Filter
		want []string
	}{
		{store.Filter{}, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{store.Filter{Limit: 2}, []string{ids[4], ids[3]}},
		{store.Filter{Service: "demo"}, []string{ids[3], ids[1], ids[0]}},
		{store.Filter{Service: "demo", Environment: "production"}, []string{ids[3], ids[0]}},
		{store.Filter{Environment: "production", Active: true}, []string{ids[3], ids[2]}},
		{store.Filter{Active: true, Limit: 1}, []string{ids[3]}},
		{store.Filter{Service: "nobody"}, nil},
	} {
		if got := list(tc.f); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("rollouts %+v = %v, want %v", tc.f, got, tc.want)
		}
	}
}

func sameRollout(got, want store.Rollout) error {
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) || !got.CreatedAt.Equal(want.CreatedAt) {
		return fmt.Errorf("rollout:\n got %s\nwant %s", g, w)
	}
	if got.CreatedAt.Location() != time.UTC || got.UpdatedAt.Location() != time.UTC {
		return fmt.Errorf("rollout times are not UTC: %v %v", got.CreatedAt, got.UpdatedAt)
	}
	return nil
}

func testIDAllocation(t *testing.T, open Opener) {
	ctx := context.Background()
	s, _ := open(t)
	a := mustCommit(t, s, store.Tx{Rollout: newRollout("demo", "production", "Pending")})
	b := mustCommit(t, s, store.Tx{Rollout: newRollout("web", "production", "Pending")})
	if a.RolloutID == b.RolloutID || a.RolloutID[:5] != "demo-" || b.RolloutID[:4] != "web-" {
		t.Fatalf("allocated ids %q and %q, want demo-N and web-M, distinct", a.RolloutID, b.RolloutID)
	}
	// A hand-chosen ID is kept; choosing it twice is a conflict.
	r := newRollout("demo", "production", "Pending")
	r.ID = "demo-hand"
	if c := mustCommit(t, s, store.Tx{Rollout: r}); c.RolloutID != "demo-hand" {
		t.Fatalf("hand-chosen id became %q", c.RolloutID)
	}
	if _, err := s.Commit(ctx, store.Tx{Rollout: r}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second insert of demo-hand: err = %v, want ErrConflict", err)
	}
	// Events, measurements and approvals without a rollout ID name the Tx's rollout.
	c := mustCommit(t, s, store.Tx{
		Rollout:      newRollout("demo", "production", "Pending"),
		Events:       []audit.Event{event("rollout.created", `{"v":"v2"}`)},
		Measurements: []store.Measurement{{Metric: "error_rate", Phase: "Successful", StartedAt: t0, FinishedAt: t0}},
		Approvals:    []store.Approval{{Gate: "prod", Actor: "bob", Decision: "approved", Time: t0}},
	})
	evs, err := s.Events(ctx, store.EventFilter{Subject: "rollout/" + c.RolloutID})
	if err != nil || len(evs) != 1 || evs[0].Seq != c.Seqs[0] {
		t.Fatalf("events of rollout/%s = %v, %v; want the one committed as seq %v", c.RolloutID, evs, err, c.Seqs)
	}
	ms, err := s.Measurements(ctx, c.RolloutID)
	if err != nil || len(ms) != 1 {
		t.Fatalf("measurements = %v, %v", ms, err)
	}
	as, err := s.Approvals(ctx, c.RolloutID)
	if err != nil || len(as) != 1 {
		t.Fatalf("approvals = %v, %v", as, err)
	}
}

func testOptimisticConcurrency(t *testing.T, open Opener) {
	ctx := context.Background()
	s, _ := open(t)
	c := mustCommit(t, s, store.Tx{Rollout: newRollout("demo", "production", "Pending")})
	r1, err := s.Rollout(ctx, c.RolloutID)
	if err != nil {
		t.Fatal(err)
	}
	r2 := r1 // a second writer read the same revision
	r1.Phase = "Progressing"
	if c := mustCommit(t, s, store.Tx{Rollout: &r1}); c.Revision != 2 {
		t.Fatalf("revision after update = %d, want 2", c.Revision)
	}
	r2.Phase = "Aborted"
	_, err = s.Commit(ctx, store.Tx{Rollout: &r2, Events: []audit.Event{event("rollout.aborted", `{}`)}})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale write: err = %v, want ErrConflict", err)
	}
	got, err := s.Rollout(ctx, c.RolloutID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Phase != "Progressing" || got.Revision != 2 {
		t.Fatalf("after the conflict: phase %s revision %d, want Progressing 2", got.Phase, got.Revision)
	}
	// The loser reloads and wins on its second try.
	got.Phase = "Aborted"
	if c := mustCommit(t, s, store.Tx{Rollout: &got}); c.Revision != 3 {
		t.Fatalf("revision = %d, want 3", c.Revision)
	}
	ghost := newRollout("demo", "production", "Pending")
	ghost.ID, ghost.Revision = "demo-ghost", 4
	if _, err := s.Commit(ctx, store.Tx{Rollout: ghost}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of a missing rollout: err = %v, want ErrNotFound", err)
	}
}

func testAtomicity(t *testing.T, open Opener) {
	ctx := context.Background()
	s, _ := open(t)
	c := mustCommit(t, s, store.Tx{Rollout: newRollout("demo", "production", "Pending"),
		Events: []audit.Event{event("rollout.created", `{}`)}})
	before := mustVerify(t, s)

	stale, err := s.Rollout(ctx, c.RolloutID)
	if err != nil {
		t.Fatal(err)
	}
	stale.Revision = 7
	stale.Phase = "Progressing"
	_, err = s.Commit(ctx, store.Tx{Rollout: &stale,
		Events:       []audit.Event{event("rollout.step", `{"step":1}`), event("rollout.step", `{"step":2}`)},
		Measurements: []store.Measurement{{Metric: "error_rate", Phase: "Failed"}},
		Release:      &store.Release{Service: "demo", Environment: "production", Version: "v2"},
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}

	// The rollout and the events succeed; a measurement for a rollout that does not exist fails
	// last: all of it must be gone.
	fresh, err := s.Rollout(ctx, c.RolloutID)
	if err != nil {
		t.Fatal(err)
	}
	fresh.Phase = "Progressing"
	_, err = s.Commit(ctx, store.Tx{Rollout: &fresh,
		Events:       []audit.Event{event("rollout.step", `{"step":1}`)},
		Measurements: []store.Measurement{{RolloutID: "no-such-rollout", Metric: "error_rate", Phase: "Failed"}},
		Release:      &store.Release{Service: "demo", Environment: "production", Version: "v2"},
	})
	if err == nil {
		t.Fatal("commit with a measurement of a missing rollout succeeded")
	}

	got, err := s.Rollout(ctx, c.RolloutID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Revision != 1 || got.Phase != "Pending" {
		t.Errorf("rollout changed by failed commits: revision %d phase %s", got.Revision, got.Phase)
	}
	evs, err := s.Events(ctx, store.EventFilter{})
	if err != nil || len(evs) != 1 {
		t.Errorf("events after failed commits = %d (%v), want 1", len(evs), err)
	}
	if ms, _ := s.Measurements(ctx, c.RolloutID); len(ms) != 0 {
		t.Errorf("measurements written by a failed commit: %v", ms)
	}
	if rs, _ := s.Releases(ctx, "demo", "production", 0); len(rs) != 0 {
		t.Errorf("release written by a failed commit: %v", rs)
	}
	if after := mustVerify(t, s); after != before {
		t.Errorf("audit head moved by failed commits: %+v -> %+v", before, after)
	}
	// The chain continues where it was.
	c2 := mustCommit(t, s, store.Tx{Events: []audit.Event{{Subject: "flag/x", Type: "flag.set", Actor: "bob"}}})
	if c2.Seqs[0] != 2 {
		t.Errorf("next event seq = %d, want 2", c2.Seqs[0])
	}
	mustVerify(t, s)

	for _, bad := range []store.Tx{
		{Events: []audit.Event{{Subject: "flag/x", Type: "flag.set", Payload: json.RawMessage(`{not json`)}}},
		{Events: []audit.Event{{Type: "orphan"}}},
		{Approvals: []store.Approval{{RolloutID: c.RolloutID, Decision: "maybe"}}},
	} {
		if _, err := s.Commit(ctx, bad); err == nil {
			t.Errorf("commit of %+v succeeded, want an error", bad)
		}
	}
}
