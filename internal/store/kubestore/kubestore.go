// Package kubestore is a store.Store kept in the cluster: the engine's state for one
// HugAIDeployment (one service environment) lives in that object's status, written through the
// status subresource in one update per Commit, and its audit chain lives in the status' tail and
// in immutable ConfigMaps the store seals older events into. An operator (or the CLI without one)
// running the engine on it holds no state of its own: a restarted one reads the object and
// carries on. docs/kubernetes.md, "State in the cluster", says where each thing lives and why.
package kubestore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hugai-dev/hugai/internal/audit"
	hugaiv1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/kubestore/segment"
)

// Options tunes a Store.
type Options struct {
	// Summarize fills the status' summary fields (step, currentStepIndex, weight, stable/canary
	// versions, message, conditions) from the rollout being written; the operator passes one
	// built on the engine's view. nil: only phase and reason are set.
	Summarize func(r store.Rollout, st *hugaiv1.RolloutStatus)
	Clock     func() time.Time // nil: time.Now
	// Reader is where the object is read from (nil: the client), e.g. an informer's cache, so
	// that a look at a rollout costs the API server nothing until it writes. A cache lags
	// behind the store's own writes: while it shows a version this store has since written
	// over, the store reads what it wrote instead (see fresh).
	Reader client.Reader
	// KeepWritten is how long the store keeps the object its last write returned, for reads
	// while the Reader lags behind it (0: 2 s).
	KeepWritten time.Duration
}

// Store is a store.Store kept in ONE HugAIDeployment's status (namespace/name) and its audit
// segments.
type Store struct {
	c   client.Client
	key types.NamespacedName
	o   Options
	// mu serializes this process' Commits, as the port asks; other processes are kept apart by
	// the object's resourceVersion.
	mu sync.Mutex

	// lastRV is the resourceVersion this store's last write made, and overwritten the ones its
	// writes replaced since: the Reader showing one of those is behind, not showing someone
	// else's write. written is the object as that write left it, kept for KeepWritten: long
	// enough for the reads of the same reconcile, not for 500 objects' worth of copies between
	// reconciles (past it, a Reader still behind is bypassed with a read from the API server).
	lastRV      string
	overwritten []string
	written     *hugaiv1.HugAIDeployment
	wmu         sync.Mutex
}

var _ store.Store = (*Store)(nil)

// New returns the Store of the HugAIDeployment key. c reads and writes HugAIDeployments (and
// their status) and ConfigMaps in key's namespace; it may read from a cache: a stale read loses
// its write with ErrConflict, never overwrites a newer one.
func New(c client.Client, key types.NamespacedName, o Options) *Store {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Reader == nil {
		o.Reader = c
	}
	if o.KeepWritten <= 0 {
		o.KeepWritten = 2 * time.Second
	}
	return &Store{c: c, key: key, o: o}
}

// get reads the object; a missing one is store.ErrNotFound.
func get(ctx context.Context, c client.Reader, key types.NamespacedName) (*hugaiv1.HugAIDeployment, error) {
	var hd hugaiv1.HugAIDeployment
	if err := c.Get(ctx, key, &hd); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("HugAIDeployment %s: %w", key, store.ErrNotFound)
		}
		return nil, fmt.Errorf("read HugAIDeployment %s: %w", key, err)
	}
	return &hd, nil
}

// Object is the HugAIDeployment as this store knows it: read from the Reader, or as this store
// last wrote it while the Reader lags behind.
func (s *Store) Object(ctx context.Context) (*hugaiv1.HugAIDeployment, error) {
	return s.status(ctx)
}

func (s *Store) status(ctx context.Context) (*hugaiv1.HugAIDeployment, error) {
	hd, err := get(ctx, s.o.Reader, s.key)
	if err != nil {
		return nil, err
	}
	if got, ok := s.fresh(hd); ok {
		return got, nil
	}
	// The Reader is behind a write whose copy was let go: ask the API server.
	if hd, err = get(ctx, s.c, s.key); err != nil {
		return nil, err
	}
	got, _ := s.fresh(hd)
	return got, nil
}

// overwrittenMax bounds what the store remembers of its own writes: a Reader further behind
// than that many writes makes the next Commit fail with ErrConflict, and the one after it
// succeed once the Reader caught up.
const overwrittenMax = 16

// fresh is the newer of read (from the Reader) and the store's own last write; false when read is
// older than that write and its copy was let go. A resourceVersion is opaque: the store does not
// compare them, it only recognises the ones its writes made and replaced.
func (s *Store) fresh(read *hugaiv1.HugAIDeployment) (*hugaiv1.HugAIDeployment, bool) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	switch {
	case s.lastRV == "":
		return read, true
	case read.ResourceVersion == s.lastRV:
		s.lastRV, s.overwritten, s.written = "", nil, nil // caught up: the Reader alone is enough again
		return read, true
	case slices.Contains(s.overwritten, read.ResourceVersion):
		if s.written == nil {
			return nil, false
		}
		return s.written.DeepCopy(), true
	default:
		// A version this store did not write over: someone else wrote after it.
		s.lastRV, s.overwritten, s.written = "", nil, nil
		return read, true
	}
}

// wrote remembers the object as a successful write left it; base is the version it replaced.
func (s *Store) wrote(base string, hd *hugaiv1.HugAIDeployment) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.overwritten = append(s.overwritten, base)
	if len(s.overwritten) > overwrittenMax {
		s.overwritten = s.overwritten[len(s.overwritten)-overwrittenMax:]
	}
	w := hd.DeepCopy()
	s.lastRV, s.written = w.ResourceVersion, w
	time.AfterFunc(s.o.KeepWritten, func() {
		s.wmu.Lock()
		defer s.wmu.Unlock()
		if s.written == w {
			s.written = nil
		}
	})
}

// forget drops what the store remembers of its writes, after a write was refused: the object
// changed in a way this store does not know.
func (s *Store) forget() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.lastRV, s.overwritten, s.written = "", nil, nil
}

// Rollout returns the current rollout whole (and the one that made the current release), or an
// earlier one as its history summary (no plan, service file or state).
func (s *Store) Rollout(ctx context.Context, id string) (store.Rollout, error) {
	hd, err := s.status(ctx)
	if err != nil {
		return store.Rollout{}, err
	}
	for _, r := range rollouts(&hd.Status) {
		if r.ID == id {
			return r, nil
		}
	}
	return store.Rollout{}, fmt.Errorf("rollout %s: %w", id, store.ErrNotFound)
}

// rollouts lists the object's rollouts newest first: the current one, then its history.
func rollouts(st *hugaiv1.RolloutStatus) []store.Rollout {
	if st.Rollout == nil {
		return nil
	}
	out := []store.Rollout{fromRecord(*st.Rollout)}
	for _, h := range st.History {
		if rr := st.ReleasedRollout; rr != nil && rr.ID == h.ID {
			out = append(out, fromRecord(*rr))
			continue
		}
		out = append(out, fromSummary(h, st.Rollout.Service, st.Rollout.Environment))
	}
	return out
}

// Rollouts lists the object's rollouts, newest first.
func (s *Store) Rollouts(ctx context.Context, f store.Filter) ([]store.Rollout, error) {
	hd, err := s.status(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.Rollout
	for _, r := range rollouts(&hd.Status) {
		if (f.Service != "" && r.Service != f.Service) || (f.Environment != "" && r.Environment != f.Environment) ||
			(f.Active && !store.IsActive(r.Phase)) {
			continue
		}
		out = append(out, r)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

// Measurements returns the current rollout's latest measurements (at most MeasurementsMax); an
// earlier rollout's are in its audit events only.
func (s *Store) Measurements(ctx context.Context, rolloutID string) ([]store.Measurement, error) {
	hd, err := s.status(ctx)
	if err != nil {
		return nil, err
	}
	if hd.Status.Rollout == nil || hd.Status.Rollout.ID != rolloutID {
		return nil, nil
	}
	out := make([]store.Measurement, 0, len(hd.Status.Measurements))
	for _, m := range hd.Status.Measurements {
		sm, err := fromMeasurement(m, rolloutID)
		if err != nil {
			return nil, fmt.Errorf("HugAIDeployment %s: %w", s.key, err)
		}
		out = append(out, sm)
	}
	return out, nil
}

// Approvals returns the current rollout's decisions at its gates.
func (s *Store) Approvals(ctx context.Context, rolloutID string) ([]store.Approval, error) {
	hd, err := s.status(ctx)
	if err != nil {
		return nil, err
	}
	if hd.Status.Rollout == nil || hd.Status.Rollout.ID != rolloutID {
		return nil, nil
	}
	out := make([]store.Approval, 0, len(hd.Status.Approvals))
	for _, a := range hd.Status.Approvals {
		out = append(out, fromApproval(a, rolloutID))
	}
	return out, nil
}

// Releases returns the object's last releases, newest first, if service and env are its own.
func (s *Store) Releases(ctx context.Context, service, env string, limit int) ([]store.Release, error) {
	hd, err := s.status(ctx)
	if err != nil {
		return nil, err
	}
	r := hd.Status.Rollout
	if r == nil || r.Service != service || r.Environment != env {
		return nil, nil
	}
	var out []store.Release
	for _, rel := range hd.Status.Releases {
		out = append(out, store.Release{Service: service, Environment: env, Version: rel.Version, RolloutID: rel.RolloutID, Time: utc(rel.Time)})
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}

// Events reads the object's audit events in seq order: from the status' tail alone when the
// filter starts past what is sealed, else from the segments too.
func (s *Store) Events(ctx context.Context, f store.EventFilter) ([]audit.Event, error) {
	hd, err := s.status(ctx)
	if err != nil {
		return nil, err
	}
	a := hd.Status.Audit
	if a == nil {
		return nil, nil
	}
	events := fromEvents(a.Tail)
	if f.AfterSeq < a.SealedThrough {
		sealed, err := readSegments(ctx, s.c, hd)
		if err != nil {
			return nil, err
		}
		if events, err = segment.Merge(sealed, events); err != nil {
			return nil, fmt.Errorf("audit events of HugAIDeployment %s: %w", s.key, err)
		}
	}
	var out []audit.Event
	for _, e := range events {
		if e.Seq <= f.AfterSeq || (f.Subject != "" && e.Subject != f.Subject) {
			continue
		}
		out = append(out, e)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

// VerifyAudit checks the object's whole chain (segments and tail) against its head.
func (s *Store) VerifyAudit(ctx context.Context) (store.VerifyResult, error) {
	return VerifyAudit(ctx, s.c, s.key)
}

// Close does nothing: the client is the caller's.
func (s *Store) Close() error { return nil }

// VerifyAudit reads the HugAIDeployment key's audit segments and status tail and checks the chain
// against the head in its status. A broken chain is an *audit.VerifyError naming the first bad
// event; a missing object wraps store.ErrNotFound.
func VerifyAudit(ctx context.Context, c client.Reader, key types.NamespacedName) (store.VerifyResult, error) {
	hd, err := get(ctx, c, key)
	if err != nil {
		return store.VerifyResult{}, err
	}
	head := audit.Head{Hash: audit.GenesisHash}
	var tail []audit.Event
	if a := hd.Status.Audit; a != nil {
		head = audit.Head{Seq: a.HeadSeq, Hash: a.HeadHash}
		tail = fromEvents(a.Tail)
	}
	sealed, err := readSegments(ctx, c, hd)
	if err != nil {
		return store.VerifyResult{}, err
	}
	events, err := segment.Merge(sealed, tail)
	if err != nil {
		return store.VerifyResult{}, fmt.Errorf("HugAIDeployment %s: %w", key, err)
	}
	v := audit.NewVerifier()
	for _, e := range events {
		if err := v.Add(e); err != nil {
			break // sticky: Finish returns it
		}
	}
	n, h, err := v.Finish(head)
	if err != nil {
		var ve *audit.VerifyError
		if errors.As(err, &ve) {
			return store.VerifyResult{Events: n}, ve
		}
		return store.VerifyResult{}, err
	}
	return store.VerifyResult{Events: n, Head: h}, nil
}
