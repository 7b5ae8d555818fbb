package kubestore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/hugai-dev/hugai/internal/audit"
	hugaiv1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/kubestore/segment"
)

// Commit writes tx in ONE update of the object's status: the rollout record, its audit events
// chained from the head, measurements, approvals and the release, all or nothing. The update
// carries the resourceVersion the decision was read at, so the API server refuses it (409) if
// anything wrote the object since: that is store.ErrConflict, as a stale Tx.Rollout.Revision
// is. Audit events the tail no longer has room for are sealed into segment ConfigMaps first.
func (s *Store) Commit(ctx context.Context, tx store.Tx) (store.Committed, error) {
	if err := validate(tx); err != nil {
		return store.Committed{}, fmt.Errorf("commit: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hd, err := s.status(ctx)
	if err != nil {
		return store.Committed{}, fmt.Errorf("commit: %w", err)
	}
	now := s.o.Clock().UTC().Truncate(time.Microsecond)
	st := hd.Status.DeepCopy()
	c, sealed, err := apply(st, tx, hd.Name, hd.Generation, now)
	if err != nil {
		return store.Committed{}, fmt.Errorf("commit to HugAIDeployment %s: %w", s.key, err)
	}
	if len(sealed) > 0 {
		if err := seal(ctx, s.c, hd, sealed); err != nil {
			return store.Committed{}, fmt.Errorf("commit to HugAIDeployment %s: %w", s.key, err)
		}
	}
	if r := st.Rollout; r != nil {
		st.Phase, st.Reason, st.ObservedGeneration = r.Phase, r.Reason, r.Generation
		if s.o.Summarize != nil {
			s.o.Summarize(fromRecord(*r), st)
		}
	}
	hd.Status = *st
	// hd carries the resourceVersion it was read at: the API server applies this update only if
	// the object is still that version.
	base := hd.ResourceVersion
	if err := s.c.Status().Update(ctx, hd); err != nil {
		s.forget()
		if apierrors.IsConflict(err) {
			return store.Committed{}, fmt.Errorf("commit to HugAIDeployment %s: %w (%v)", s.key, store.ErrConflict, err)
		}
		if apierrors.IsNotFound(err) {
			return store.Committed{}, fmt.Errorf("commit to HugAIDeployment %s: %w", s.key, store.ErrNotFound)
		}
		return store.Committed{}, fmt.Errorf("commit to HugAIDeployment %s: write status: %w", s.key, err)
	}
	s.wrote(base, hd)
	return c, nil
}

// validate refuses what every store refuses (store.Tx.Validate), and text the status cannot
// keep exactly.
func validate(tx store.Tx) error {
	if err := tx.Validate(); err != nil {
		return err
	}
	// The plan and service file are kept as text (readable with kubectl); bytes that are not
	// UTF-8 would not survive the round trip.
	if r := tx.Rollout; r != nil && (!utf8.Valid(r.Plan) || !utf8.Valid(r.ServiceFile)) {
		return errors.New("rollout plan or service file is not UTF-8 text")
	}
	return nil
}

// apply is the commit as a change of the status alone: pure, so the bookkeeping (IDs, revisions,
// bounds, chaining, what to seal) is tested without a cluster. It returns the events to seal
// before st is written.
func apply(st *hugaiv1.RolloutStatus, tx store.Tx, name string, generation int64, now time.Time) (store.Committed, []audit.Event, error) {
	var c store.Committed
	if tx.Rollout != nil {
		id, rev, err := upsert(st, *tx.Rollout, name, generation, now)
		if err != nil {
			return c, nil, err
		}
		c.RolloutID, c.Revision = id, rev
	}
	cur := st.Rollout
	forCurrent := func(what, id string) (string, error) {
		if id == "" {
			id = c.RolloutID
		}
		if cur == nil || id != cur.ID {
			return "", fmt.Errorf("%s of rollout %q: only the current rollout's are kept here: %w", what, id, store.ErrNotFound)
		}
		return id, nil
	}
	for _, m := range tx.Measurements {
		if _, err := forCurrent("measurement", m.RolloutID); err != nil {
			return c, nil, err
		}
		if m.StartedAt.IsZero() {
			m.StartedAt = now
		}
		if m.FinishedAt.IsZero() {
			m.FinishedAt = now
		}
		st.Measurements = append(st.Measurements, toMeasurement(m))
	}
	st.Measurements = newest(st.Measurements, MeasurementsMax)
	for _, a := range tx.Approvals {
		if _, err := forCurrent("approval", a.RolloutID); err != nil {
			return c, nil, err
		}
		if a.Time.IsZero() {
			a.Time = now
		}
		st.Approvals = append(st.Approvals, toApproval(a))
	}
	st.Approvals = newest(st.Approvals, ApprovalsMax)
	if r := tx.Release; r != nil {
		if cur == nil || r.Service != cur.Service || r.Environment != cur.Environment {
			return c, nil, fmt.Errorf("release of %s in %s: this object holds %s", r.Service, r.Environment, holds(cur))
		}
		id := r.RolloutID
		if id == "" {
			id = c.RolloutID
		}
		t := r.Time
		if t.IsZero() {
			t = now
		}
		st.Releases = append([]hugaiv1.ReleaseRecord{{Version: r.Version, RolloutID: id, Time: micro(t)}}, st.Releases...)
		if st.ReleasedRollout != nil && st.ReleasedRollout.ID != id {
			st.ReleasedRollout = nil // no longer the release: its summary in the history is enough
		}
		if len(st.Releases) > ReleasesMax {
			st.Releases = st.Releases[:ReleasesMax]
		}
	}
	seqs, sealed := appendEvents(st, tx.Events, c.RolloutID, now)
	c.Seqs, c.Head = seqs, st.Audit.HeadHash
	return c, sealed, nil
}

func holds(cur *hugaiv1.RolloutRecord) string {
	if cur == nil {
		return "no rollout yet"
	}
	return fmt.Sprintf("%s in %s", cur.Service, cur.Environment)
}

// upsert inserts (Revision 0) or updates the current rollout. A new rollout replaces the current
// one, which goes to the history; one object holds one rollout at a time, so it refuses to
// replace one that is still active (the engine never asks to: it starts one rollout per
// environment at a time).
func upsert(st *hugaiv1.RolloutStatus, r store.Rollout, name string, generation int64, now time.Time) (string, int64, error) {
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = now
	}
	cur := st.Rollout
	if cur != nil && (r.Service != cur.Service || r.Environment != cur.Environment) {
		return "", 0, fmt.Errorf("rollout of %s in %s: this object holds %s", r.Service, r.Environment, holds(cur))
	}
	known := func(id string) bool {
		if cur != nil && cur.ID == id {
			return true
		}
		for _, h := range st.History {
			if h.ID == id {
				return true
			}
		}
		return false
	}
	if r.Revision != 0 {
		switch {
		case cur != nil && cur.ID == r.ID:
		case known(r.ID):
			return "", 0, fmt.Errorf("update rollout %s: it has ended and is history here: %w", r.ID, store.ErrConflict)
		default:
			return "", 0, fmt.Errorf("update rollout %s: %w", r.ID, store.ErrNotFound)
		}
		if cur.Revision != r.Revision {
			return "", 0, fmt.Errorf("update rollout %s at revision %d (stored: %d): %w", r.ID, r.Revision, cur.Revision, store.ErrConflict)
		}
		r.Revision++
		r.CreatedAt, r.CreatedBy = utc(cur.CreatedAt), cur.CreatedBy // kept from the insert
		rec := toRecord(r, cur.Generation)
		st.Rollout = &rec
		return r.ID, r.Revision, nil
	}
	if cur != nil && store.IsActive(cur.Phase) {
		return "", 0, fmt.Errorf("insert a rollout: %s is still %s here: %w", cur.ID, cur.Phase, store.ErrConflict)
	}
	if r.ID == "" {
		for {
			st.RolloutSequence++
			r.ID = name + "-" + strconv.FormatInt(st.RolloutSequence, 10)
			if !known(r.ID) {
				break
			}
		}
	} else if known(r.ID) {
		return "", 0, fmt.Errorf("insert rollout %s: %w", r.ID, store.ErrConflict)
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	r.Revision = 1
	if cur != nil {
		if len(st.Releases) > 0 && st.Releases[0].RolloutID == cur.ID {
			released := *cur
			st.ReleasedRollout = &released
		}
		st.History = append([]hugaiv1.RolloutSummary{toSummary(*cur)}, st.History...)
		if len(st.History) > HistoryMax {
			st.History = st.History[:HistoryMax]
		}
	}
	rec := toRecord(r, generation)
	st.Rollout = &rec
	// Measurements and approvals are the current rollout's: a new one starts with none.
	st.Measurements, st.Approvals = nil, nil
	return r.ID, 1, nil
}

// appendEvents numbers and chains events from the status' head, appends them to its tail and
// cuts from the tail what must be sealed first (see segment.SealCount).
func appendEvents(st *hugaiv1.RolloutStatus, events []audit.Event, rolloutID string, now time.Time) ([]int64, []audit.Event) {
	if st.Audit == nil {
		st.Audit = &hugaiv1.AuditStatus{HeadHash: audit.GenesisHash}
	}
	a := st.Audit
	if len(events) == 0 {
		return nil, nil
	}
	n := segment.SealCount(len(a.Tail), len(events))
	sealed := fromEvents(a.Tail[:n])
	tail := append([]hugaiv1.AuditEvent(nil), a.Tail[n:]...)
	if n > 0 {
		a.SealedThrough = sealed[n-1].Seq
	}
	seqs := make([]int64, 0, len(events))
	for _, e := range events {
		if e.Subject == "" {
			e.Subject = "rollout/" + rolloutID
		}
		if e.Time.IsZero() {
			e.Time = now
		}
		e.Seq = a.HeadSeq + 1
		e = audit.Chain(a.HeadHash, e)
		tail = append(tail, toEvent(e))
		a.HeadSeq, a.HeadHash = e.Seq, e.Hash
		seqs = append(seqs, e.Seq)
	}
	a.Tail = tail
	return seqs, sealed
}

// newest keeps the last max of list.
func newest[T any](list []T, max int) []T {
	if len(list) > max {
		return append([]T(nil), list[len(list)-max:]...)
	}
	return list
}
