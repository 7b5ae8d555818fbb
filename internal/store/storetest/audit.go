package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/store"
)

func testEventsChained(t *testing.T, open Opener) {
	ctx := context.Background()
	s, _ := open(t)
	res := mustVerify(t, s)
	if res.Events != 0 || res.Head != audit.GenesisHash {
		t.Fatalf("empty log verified as %+v", res)
	}
	c := mustCommit(t, s, store.Tx{Rollout: newRollout("demo", "production", "Pending"),
		Events: []audit.Event{event("rollout.created", `{"version": "v2"}`), event("rollout.step", `{}`)}})
	if fmt.Sprint(c.Seqs) != "[1 2]" {
		t.Fatalf("seqs = %v, want [1 2]", c.Seqs)
	}
	for i := 0; i < 20; i++ {
		cc := mustCommit(t, s, store.Tx{Events: []audit.Event{
			{Subject: fmt.Sprintf("flag/f%d", i%3), Type: "flag.set", Actor: "bob", Time: t0},
		}})
		if cc.Seqs[0] != int64(3+i) {
			t.Fatalf("commit %d: seq %d, want %d", i, cc.Seqs[0], 3+i)
		}
		c = cc
	}
	res = mustVerify(t, s)
	if res.Events != 22 || res.Head != c.Head {
		t.Fatalf("verified %+v, want 22 events and head %s", res, c.Head)
	}

	all, err := s.Events(ctx, store.EventFilter{})
	if err != nil || len(all) != 22 {
		t.Fatalf("events = %d, %v", len(all), err)
	}
	if err := audit.Verify(all, audit.Head{Seq: 22, Hash: c.Head}); err != nil {
		t.Fatalf("events as read do not verify: %v", err)
	}
	first := all[0]
	if first.Subject != "rollout/"+c0(t, s) || first.Actor != "alice" || !first.Time.Equal(utc(t0)) ||
		string(first.Payload) != `{"version":"v2"}` || first.PrevHash != audit.GenesisHash {
		t.Fatalf("first event read back as %+v", first)
	}
	page, err := s.Events(ctx, store.EventFilter{AfterSeq: 10, Limit: 5})
	if err != nil || len(page) != 5 || page[0].Seq != 11 || page[4].Seq != 15 {
		t.Fatalf("page after 10 = %v, %v", page, err)
	}
	f1, err := s.Events(ctx, store.EventFilter{Subject: "flag/f1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range f1 {
		if e.Subject != "flag/f1" {
			t.Fatalf("subject filter returned %s", e.Subject)
		}
	}
	if len(f1) != 7 {
		t.Fatalf("flag/f1 has %d events, want 7", len(f1))
	}
}

// c0 is the ID of the one rollout in s.
func c0(t *testing.T, s store.Store) string {
	rs, err := s.Rollouts(context.Background(), store.Filter{})
	if err != nil || len(rs) != 1 {
		t.Fatalf("rollouts = %v, %v", rs, err)
	}
	return rs[0].ID
}

func testConcurrentCommitters(t *testing.T, open Opener) {
	ctx := context.Background()
	s, _ := open(t)
	const workers, commits = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := s.Commit(ctx, store.Tx{Rollout: newRollout(fmt.Sprintf("svc%d", w), "production", "Pending")})
			if err != nil {
				errs <- err
				return
			}
			r, err := s.Rollout(ctx, c.RolloutID)
			if err != nil {
				errs <- err
				return
			}
			for i := 0; i < commits; i++ {
				r.State = json.RawMessage(fmt.Sprintf(`{"step":%d}`, i))
				c, err := s.Commit(ctx, store.Tx{Rollout: &r, Events: []audit.Event{
					event("rollout.step", fmt.Sprintf(`{"worker":%d,"i":%d}`, w, i)),
					event("rollout.weight", `{}`),
				}})
				if err != nil {
					errs <- fmt.Errorf("worker %d commit %d: %w", w, i, err)
					return
				}
				if len(c.Seqs) != 2 || c.Seqs[1] != c.Seqs[0]+1 {
					errs <- fmt.Errorf("worker %d: one Tx's events not consecutive: %v", w, c.Seqs)
					return
				}
				r.Revision = c.Revision
			}
		}()
	}
	// Readers and verifiers run alongside: a snapshot must never look tampered.
	done := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := s.VerifyAudit(ctx); err != nil {
				errs <- fmt.Errorf("verify during commits: %w", err)
				return
			}
		}
	}()
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	res := mustVerify(t, s)
	if res.Events != workers*commits*2 {
		t.Fatalf("verified %d events, want %d", res.Events, workers*commits*2)
	}
}

// Two stores on one database (the server and a CLI) share one chain and one revision check.
func testTwoHandles(t *testing.T, open Opener) {
	ctx := context.Background()
	s1, raw := open(t)
	s2 := raw.Reopen(t)
	defer s2.Close()
	c := mustCommit(t, s1, store.Tx{Rollout: newRollout("demo", "production", "Pending"),
		Events: []audit.Event{event("rollout.created", `{}`)}})
	r1, err := s1.Rollout(ctx, c.RolloutID)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s2.Rollout(ctx, c.RolloutID)
	if err != nil {
		t.Fatal(err)
	}
	r1.Phase, r2.Phase = "Progressing", "Aborted"
	mustCommit(t, s1, store.Tx{Rollout: &r1, Events: []audit.Event{event("rollout.step", `{}`)}})
	if _, err := s2.Commit(ctx, store.Tx{Rollout: &r2}); err == nil {
		t.Fatal("stale write through the second handle succeeded")
	}
	cc := mustCommit(t, s2, store.Tx{Events: []audit.Event{{Subject: "token/t1", Type: "token.created", Actor: "root"}}})
	if cc.Seqs[0] != 3 {
		t.Fatalf("second handle's event seq = %d, want 3", cc.Seqs[0])
	}
	if res := mustVerify(t, s1); res.Events != 3 {
		t.Fatalf("verified %d events, want 3", res.Events)
	}
}

// seed commits n events (seqs 1..n) to a new store.
func seed(t *testing.T, open Opener, n int) (store.Store, RawSQL) {
	s, raw := open(t)
	c := mustCommit(t, s, store.Tx{Rollout: newRollout("demo", "production", "Pending"),
		Events: []audit.Event{event("rollout.created", `{}`)}})
	for i := 2; i <= n; i++ {
		mustCommit(t, s, store.Tx{Events: []audit.Event{{
			Subject: "rollout/" + c.RolloutID, Type: "rollout.step", Actor: "engine", Time: t0,
			Payload: json.RawMessage(fmt.Sprintf(`{"step":%d}`, i)),
		}}})
	}
	if res := mustVerify(t, s); res.Events != int64(n) {
		t.Fatalf("seeded %d events, verified %d", n, res.Events)
	}
	return s, raw
}

func testTamper(t *testing.T, open Opener) {
	const n = 10
	tests := []struct {
		name   string
		sql    string
		seq    int64
		reason string
	}{
		{"edited payload", `UPDATE audit_events SET payload = '{"step":99}' WHERE seq = 5`, 5, audit.ReasonHashMismatch},
		{"edited actor", `UPDATE audit_events SET actor = 'mallory' WHERE seq = 1`, 1, audit.ReasonHashMismatch},
		{"edited time", `UPDATE audit_events SET time = '2020-01-01T00:00:00.000000Z' WHERE seq = 7`, 7, audit.ReasonHashMismatch},
		{"deleted row", `DELETE FROM audit_events WHERE seq = 4`, 5, audit.ReasonBrokenLink},
		{"deleted first row", `DELETE FROM audit_events WHERE seq = 1`, 2, audit.ReasonBrokenLink},
		{"swapped rows", `UPDATE audit_events SET seq = -6 WHERE seq = 6;
			UPDATE audit_events SET seq = 6 WHERE seq = 3;
			UPDATE audit_events SET seq = 3 WHERE seq = -6`, 3, audit.ReasonBrokenLink},
		{"truncated tail", `DELETE FROM audit_events WHERE seq > 7`, 8, audit.ReasonTruncated},
		{"truncated tail and head", `DELETE FROM audit_events WHERE seq > 7;
			UPDATE audit_head SET seq = 7 WHERE id = 1`, 7, audit.ReasonHeadMismatch},
		{"edited head", `UPDATE audit_head SET hash = '` + audit.GenesisHash + `' WHERE id = 1`, n, audit.ReasonHeadMismatch},
		{"emptied log", `DELETE FROM audit_events`, 1, audit.ReasonTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, raw := seed(t, open, n)
			// One statement per Exec: drivers differ on several in one call.
			for _, q := range strings.Split(tt.sql, ";") {
				if err := raw.Exec(strings.TrimSpace(q)); err != nil {
					t.Fatalf("tamper %q: %v", q, err)
				}
			}
			wantVerifyError(t, s, tt.seq, tt.reason)
		})
	}
}

// Without its head the log cannot be trusted: verification fails and nothing more is chained.
func testTamperHeadDeleted(t *testing.T, open Opener) {
	s, raw := seed(t, open, 3)
	if err := raw.Exec(`DELETE FROM audit_head`); err != nil {
		t.Fatalf("tamper: %v", err)
	}
	if _, err := s.VerifyAudit(context.Background()); err == nil {
		t.Fatal("verify audit passed without a head")
	}
	if _, err := s.Commit(context.Background(), store.Tx{Events: []audit.Event{{Subject: "x/y", Type: "t"}}}); err == nil {
		t.Fatal("commit chained events without a head")
	}
}

func testRecordsRoundTrip(t *testing.T, open Opener) {
	ctx := context.Background()
	s, _ := open(t)
	c := mustCommit(t, s, store.Tx{Rollout: newRollout("demo", "production", "Progressing")})
	ms := []store.Measurement{
		{RolloutID: c.RolloutID, Step: 1, Metric: "error_rate", Version: "v2", Phase: "Successful",
			Value: 0.25, StartedAt: t0, FinishedAt: t0.Add(time.Minute)},
		{RolloutID: c.RolloutID, Step: 1, Metric: "latency_p95", Version: "v2", Phase: "Error",
			Value: 0, Message: "no data: connection refused", StartedAt: t0, FinishedAt: t0.Add(time.Minute)},
	}
	as := []store.Approval{{RolloutID: c.RolloutID, Gate: "production", Actor: "bob",
		Decision: "rejected", Comment: "not on a Friday", Time: t0}}
	mustCommit(t, s, store.Tx{Measurements: ms, Approvals: as})
	for i, v := range []string{"v1", "v2", "v3"} {
		mustCommit(t, s, store.Tx{Release: &store.Release{Service: "demo", Environment: "production",
			Version: v, RolloutID: c.RolloutID, Time: t0.Add(time.Duration(i) * time.Hour)}})
	}
	mustCommit(t, s, store.Tx{Release: &store.Release{Service: "demo", Environment: "staging", Version: "v9", Time: t0}})

	gotM, err := s.Measurements(ctx, c.RolloutID)
	if err != nil {
		t.Fatal(err)
	}
	gotA, err := s.Approvals(ctx, c.RolloutID)
	if err != nil {
		t.Fatal(err)
	}
	gotR, err := s.Releases(ctx, "demo", "production", 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ms {
		ms[i].StartedAt, ms[i].FinishedAt = utc(ms[i].StartedAt), utc(ms[i].FinishedAt)
	}
	as[0].Time = utc(as[0].Time)
	wantR := []store.Release{
		{Service: "demo", Environment: "production", Version: "v3", RolloutID: c.RolloutID, Time: utc(t0.Add(2 * time.Hour))},
		{Service: "demo", Environment: "production", Version: "v2", RolloutID: c.RolloutID, Time: utc(t0.Add(time.Hour))},
	}
	for _, cmp := range []struct {
		name      string
		got, want any
	}{{"measurements", gotM, ms}, {"approvals", gotA, as}, {"releases", gotR, wantR}} {
		if g, w := fmt.Sprintf("%+v", cmp.got), fmt.Sprintf("%+v", cmp.want); g != w {
			t.Errorf("%s:\n got %s\nwant %s", cmp.name, g, w)
		}
	}
	if m, _ := s.Measurements(ctx, "nope-1"); len(m) != 0 {
		t.Errorf("measurements of a missing rollout: %v", m)
	}
}

func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func testReopen(t *testing.T, open Opener) {
	ctx := context.Background()
	s, raw := open(t)
	c := mustCommit(t, s, store.Tx{Rollout: newRollout("demo", "production", "Progressing"),
		Events:  []audit.Event{event("rollout.created", `{}`)},
		Release: &store.Release{Service: "demo", Environment: "production", Version: "v1"}})
	before := mustVerify(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	s2 := raw.Reopen(t)
	defer s2.Close()
	r, err := s2.Rollout(ctx, c.RolloutID)
	if err != nil || r.Phase != "Progressing" || r.Revision != 1 {
		t.Fatalf("after reopen: %+v, %v", r, err)
	}
	if rs, err := s2.Releases(ctx, "demo", "production", 0); err != nil || len(rs) != 1 {
		t.Fatalf("releases after reopen: %v, %v", rs, err)
	}
	if after := mustVerify(t, s2); after != before {
		t.Fatalf("audit after reopen %+v, before %+v", after, before)
	}
	// Sequences carry on: no ID or seq is handed out twice.
	c2 := mustCommit(t, s2, store.Tx{Rollout: newRollout("demo", "production", "Pending"),
		Events: []audit.Event{event("rollout.created", `{}`)}})
	if c2.RolloutID == c.RolloutID || c2.Seqs[0] != 2 {
		t.Fatalf("after reopen: id %s seq %v", c2.RolloutID, c2.Seqs)
	}
}
