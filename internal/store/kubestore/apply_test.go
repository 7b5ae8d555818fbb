package kubestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/audit"
	hugaiv1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/kubestore/segment"
)

var t0 = time.Date(2026, 12, 2, 9, 30, 0, 123456789, time.FixedZone("CET", 3600))

func rollout(phase string) *store.Rollout {
	return &store.Rollout{
		Service: "checkout", Environment: "production", Version: "v2", PreviousVersion: "v1",
		Strategy: "canary", Phase: phase, Plan: []byte("kind: DeploymentPlan\n"), PlanSHA256: "abc",
		ServiceFile: []byte("name: checkout\n"), State: json.RawMessage(`{"step":0}`), CreatedBy: "alice",
	}
}

func ev(typ string) audit.Event {
	return audit.Event{Type: typ, Actor: "alice", Time: t0, Payload: json.RawMessage(`{"a": "<b>"}`)}
}

func mustApply(t *testing.T, st *hugaiv1.RolloutStatus, tx store.Tx) (store.Committed, []audit.Event) {
	t.Helper()
	c, sealed, err := apply(st, tx, "checkout", 3, t0)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return c, sealed
}

func TestApplyIDsRevisionsAndHistory(t *testing.T) {
	var st hugaiv1.RolloutStatus
	c, _ := mustApply(t, &st, store.Tx{Rollout: rollout("Progressing"), Events: []audit.Event{ev("rollout.requested")}})
	if c.RolloutID != "checkout-1" || c.Revision != 1 || st.Rollout.Generation != 3 || c.Seqs[0] != 1 {
		t.Fatalf("first commit: %+v, generation %d", c, st.Rollout.Generation)
	}
	// A second rollout while the first runs would lose the first's state: refused.
	if _, _, err := apply(&st, store.Tx{Rollout: rollout("Pending")}, "checkout", 3, t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("insert beside an active rollout: err = %v, want ErrConflict", err)
	}
	r := fromRecord(*st.Rollout)
	stale := r
	r.Phase = "Succeeded"
	if c, _ := mustApply(t, &st, store.Tx{Rollout: &r, Release: &store.Release{Service: "checkout", Environment: "production", Version: "v2"}}); c.Revision != 2 {
		t.Fatalf("update: revision %d, want 2", c.Revision)
	}
	stale.Phase = "Aborted"
	if _, _, err := apply(&st, store.Tx{Rollout: &stale}, "checkout", 3, t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: err = %v, want ErrConflict", err)
	}
	if st.Releases[0].Version != "v2" || st.Releases[0].RolloutID != "checkout-1" {
		t.Fatalf("releases = %+v", st.Releases)
	}
	// The next rollout pushes the first into the history; its measurements go with it.
	st.Measurements = []hugaiv1.MeasurementRecord{{Metric: "x", Value: "1"}}
	c, _ = mustApply(t, &st, store.Tx{Rollout: rollout("Pending"), Approvals: []store.Approval{{Gate: "prod", Actor: "bob", Decision: "approved"}}})
	if c.RolloutID != "checkout-2" || len(st.History) != 1 || st.History[0].ID != "checkout-1" || st.History[0].Phase != "Succeeded" {
		t.Fatalf("second rollout %s, history %+v", c.RolloutID, st.History)
	}
	if len(st.Measurements) != 0 || len(st.Approvals) != 1 || st.Approvals[0].Actor != "bob" {
		t.Fatalf("measurements %v approvals %v: want none and bob's", st.Measurements, st.Approvals)
	}
	old := rollout("Pending")
	old.ID, old.Revision = "checkout-1", 2
	if _, _, err := apply(&st, store.Tx{Rollout: old}, "checkout", 3, t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("update of a rollout in the history: err = %v, want ErrConflict", err)
	}
	ghost := rollout("Pending")
	ghost.ID, ghost.Revision = "checkout-9", 1
	if _, _, err := apply(&st, store.Tx{Rollout: ghost}, "checkout", 3, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of an unknown rollout: err = %v, want ErrNotFound", err)
	}
	other := rollout("Pending")
	other.Environment = "staging"
	if _, _, err := apply(&st, store.Tx{Rollout: other}, "checkout", 3, t0); err == nil || !strings.Contains(err.Error(), "this object holds checkout in production") {
		t.Fatalf("another environment: err = %v", err)
	}
	if _, _, err := apply(&st, store.Tx{Measurements: []store.Measurement{{RolloutID: "checkout-1", Metric: "x"}}}, "checkout", 3, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("measurement of an old rollout: err = %v", err)
	}
}

func TestApplyBounds(t *testing.T) {
	var st hugaiv1.RolloutStatus
	for i := range 3 * HistoryMax {
		mustApply(t, &st, store.Tx{Rollout: rollout("Progressing")})
		for k := range 10 {
			r := fromRecord(*st.Rollout)
			if k == 9 {
				r.Phase = "Succeeded"
			}
			tx := store.Tx{Rollout: &r, Release: &store.Release{Service: "checkout", Environment: "production", Version: fmt.Sprint(i, "-", k)}}
			for j := range 10 {
				tx.Measurements = append(tx.Measurements, store.Measurement{Metric: fmt.Sprintf("%d%d", k, j), Value: float64(i)})
				tx.Approvals = append(tx.Approvals, store.Approval{Gate: fmt.Sprintf("%d%d", k, j), Decision: "rejected"})
			}
			mustApply(t, &st, tx)
		}
	}
	last := fmt.Sprint(3*HistoryMax-1, "-", 9)
	if len(st.History) != HistoryMax || len(st.Releases) != ReleasesMax || st.Releases[0].Version != last {
		t.Fatalf("history %d releases %d (newest %s): want %d, %d (%s)", len(st.History), len(st.Releases), st.Releases[0].Version, HistoryMax, ReleasesMax, last)
	}
	if len(st.Measurements) != MeasurementsMax || st.Measurements[MeasurementsMax-1].Metric != "99" ||
		len(st.Approvals) != ApprovalsMax || st.Approvals[ApprovalsMax-1].Gate != "99" {
		t.Fatalf("measurements %d approvals %d: want the newest %d and %d", len(st.Measurements), len(st.Approvals), MeasurementsMax, ApprovalsMax)
	}
	if st.RolloutSequence != 3*HistoryMax || st.Rollout.ID != fmt.Sprint("checkout-", 3*HistoryMax) {
		t.Fatalf("sequence %d, current %s", st.RolloutSequence, st.Rollout.ID)
	}
}

// Sealing keeps the tail within TailMax, seals only events already committed (never the new
// ones), and the segments, the tail and the head always make one verifiable chain.
func TestApplySealsTheTail(t *testing.T) {
	var st hugaiv1.RolloutStatus
	mustApply(t, &st, store.Tx{Rollout: rollout("Progressing")})
	var segments [][]audit.Event
	for i := range 120 {
		before := st.Audit.DeepCopy()
		events := make([]audit.Event, 1+i%7) // commits of 1..7 events
		for j := range events {
			events[j] = ev(fmt.Sprintf("rollout.step%d", j))
		}
		c, sealed := mustApply(t, &st, store.Tx{Events: events})
		if len(st.Audit.Tail) > TailMax+len(events) {
			t.Fatalf("commit %d: tail of %d", i, len(st.Audit.Tail))
		}
		for _, e := range sealed {
			if e.Seq > before.HeadSeq {
				t.Fatalf("commit %d sealed its own event %d", i, e.Seq)
			}
		}
		if len(sealed) > 0 {
			if sealed[0].Seq != before.SealedThrough+1 || st.Audit.SealedThrough != sealed[len(sealed)-1].Seq || st.Audit.Tail[0].Seq != st.Audit.SealedThrough+1 {
				t.Fatalf("commit %d sealed %d..%d; sealedThrough %d, tail from %d", i, sealed[0].Seq, sealed[len(sealed)-1].Seq, st.Audit.SealedThrough, st.Audit.Tail[0].Seq)
			}
			segments = append(segments, sealed)
		}
		if c.Seqs[len(c.Seqs)-1] != st.Audit.HeadSeq || c.Head != st.Audit.HeadHash {
			t.Fatalf("commit %d: committed %+v, head %d", i, c, st.Audit.HeadSeq)
		}
	}
	if len(segments) < 5 {
		t.Fatalf("only %d seals over 120 commits", len(segments))
	}
	// A crash between a seal and the status write leaves a copy in the tail: merged away.
	all, err := segment.Merge(append(segments, segments[2], fromEvents(st.Audit.Tail), segments[len(segments)-1])...)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.Verify(all, audit.Head{Seq: st.Audit.HeadSeq, Hash: st.Audit.HeadHash}); err != nil {
		t.Fatalf("segments and tail do not verify: %v", err)
	}
	// Two different copies of one event: the forged one is named.
	forged := append([]audit.Event(nil), segments[1]...)
	forged[3].Actor = "mallory"
	_, err = segment.Merge(segments[0], segments[1], forged)
	var ve *audit.VerifyError
	if !errors.As(err, &ve) || ve.Seq != forged[3].Seq {
		t.Fatalf("merge of a forged copy: err = %v, want a VerifyError at %d", err, forged[3].Seq)
	}
}

// The rollout that made the current release stays whole after a later one replaces it, so that
// the release can still be rolled back; once another release is made it is a summary again.
func TestApplyKeepsTheReleasedRollout(t *testing.T) {
	var st hugaiv1.RolloutStatus
	finish := func(phase string, release bool) {
		t.Helper()
		r := fromRecord(*st.Rollout)
		r.Phase = phase
		tx := store.Tx{Rollout: &r}
		if release {
			tx.Release = &store.Release{Service: "checkout", Environment: "production", Version: r.Version}
		}
		mustApply(t, &st, tx)
	}
	mustApply(t, &st, store.Tx{Rollout: rollout("Progressing")})
	finish("Succeeded", true)
	if st.ReleasedRollout != nil {
		t.Fatalf("released rollout kept twice: %+v", st.ReleasedRollout)
	}
	mustApply(t, &st, store.Tx{Rollout: rollout("Progressing")})
	finish("RolledBack", false)
	mustApply(t, &st, store.Tx{Rollout: rollout("Progressing")})
	if st.ReleasedRollout == nil || st.ReleasedRollout.ID != "checkout-1" {
		t.Fatalf("released rollout: %+v, want checkout-1", st.ReleasedRollout)
	}
	all := rollouts(&st)
	if len(all) != 3 || all[2].ID != "checkout-1" || string(all[2].Plan) == "" || len(all[2].State) == 0 || all[1].Plan != nil {
		t.Fatalf("rollouts: want checkout-1 whole and checkout-2 a summary: %+v", all)
	}
	finish("Succeeded", true)
	if st.ReleasedRollout != nil {
		t.Fatalf("checkout-1 is no longer the release, but is kept: %+v", st.ReleasedRollout.ID)
	}
}
