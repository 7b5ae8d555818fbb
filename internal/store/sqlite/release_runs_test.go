package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/store"
)

func TestReleaseRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "hugai.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	run, err := s.CreateReleaseRun(ctx, store.ReleaseRun{Tag: "v1.3.0", Service: "demo", Phase: "Pending", Active: true,
		Document: []byte(`{"n":1}`), CreatedBy: "alice"}, []audit.Event{{Type: "release.executeRequested", Actor: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	if run.ID != "release-1" || run.Revision != 1 {
		t.Fatalf("created %s at revision %d", run.ID, run.Revision)
	}
	run.Phase, run.Document = "Running", []byte(`{"n":2}`)
	rev, err := s.UpdateReleaseRun(ctx, run, []audit.Event{{Type: "release.phase"}})
	if err != nil || rev != 2 {
		t.Fatalf("update: %d %v", rev, err)
	}
	// A write based on the old revision is refused, and writes nothing.
	if _, err := s.UpdateReleaseRun(ctx, run, []audit.Event{{Type: "release.phase"}}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	run.Revision, run.Phase, run.Active = rev, "Succeeded", false
	if _, err := s.UpdateReleaseRun(ctx, run, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReleaseRun(ctx, "release-1")
	if err != nil || got.Phase != "Succeeded" || got.Active || got.Revision != 3 || string(got.Document) != `{"n":2}` || got.CreatedBy != "alice" {
		t.Fatalf("read back %+v %v", got, err)
	}
	if active, err := s.ReleaseRuns(ctx, store.ReleaseRunFilter{Active: true}); err != nil || len(active) != 0 {
		t.Fatalf("active runs: %v %v", active, err)
	}
	if byTag, err := s.ReleaseRuns(ctx, store.ReleaseRunFilter{Tag: "v1.3.0"}); err != nil || len(byTag) != 1 {
		t.Fatalf("runs of v1.3.0: %v %v", byTag, err)
	}
	if _, err := s.ReleaseRun(ctx, "release-9"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown run: %v", err)
	}
	events, err := s.Events(ctx, store.EventFilter{Subject: "release/v1.3.0"})
	if err != nil || len(events) != 2 {
		t.Fatalf("the run's audit events: %d %v", len(events), err)
	}
	if _, err := s.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
}
