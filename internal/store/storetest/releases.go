package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/store"
)

// ReleaseBackend is a store that also keeps release records.
type ReleaseBackend interface {
	store.Store
	store.ReleaseStore
}

// RunReleases is the conformance suite of store.ReleaseStore: records round-trip, list newest
// first by component, a tag is recorded once, and each record's audit event joins the one chain.
func RunReleases(t *testing.T, open func(t *testing.T) ReleaseBackend) {
	t.Parallel()
	ctx := context.Background()
	s := open(t)
	doc := json.RawMessage(`{"version":"1.2.0","notes":"## 1.2.0\n"}`)
	recs := []store.ReleaseRecord{
		{Tag: "v1.2.0", Version: "1.2.0", Document: doc, CreatedBy: "ada", CreatedAt: t0},
		{Tag: "api/v0.3.0", Component: "api", Version: "0.3.0", Document: json.RawMessage(`{}`), CreatedBy: "ada", CreatedAt: t0},
		{Tag: "v1.3.0-rc.1", Version: "1.3.0-rc.1", Document: json.RawMessage(`{}`), CreatedBy: "bob", CreatedAt: t0},
	}
	for _, r := range recs {
		ev := audit.Event{Type: "release.created", Actor: r.CreatedBy, Payload: json.RawMessage(`{"tag":"` + r.Tag + `"}`)}
		if err := s.CreateRelease(ctx, r, []audit.Event{ev}); err != nil {
			t.Fatalf("create %s: %v", r.Tag, err)
		}
	}
	got, err := s.ReleaseRecord(ctx, "v1.2.0")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != "1.2.0" || got.CreatedBy != "ada" || !got.CreatedAt.Equal(t0.Truncate(1000)) || string(got.Document) != string(doc) {
		t.Errorf("round trip: %+v", got)
	}
	if _, err := s.ReleaseRecord(ctx, "v9.9.9"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing tag: %v, want ErrNotFound", err)
	}
	if err := s.CreateRelease(ctx, recs[0], nil); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second create of v1.2.0: %v, want ErrConflict", err)
	}
	if err := s.CreateRelease(ctx, store.ReleaseRecord{Tag: "v2.0.0", Version: "2.0.0", Document: json.RawMessage(`{`)}, nil); err == nil {
		t.Error("a document that is not JSON was kept")
	}
	root, err := s.ReleaseRecords(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(root) != 2 || root[0].Tag != "v1.3.0-rc.1" || root[1].Tag != "v1.2.0" {
		t.Errorf("root releases = %+v, want v1.3.0-rc.1 then v1.2.0", tags(root))
	}
	all, err := s.ReleaseRecords(ctx, "*", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[1].Tag != "api/v0.3.0" {
		t.Errorf("all releases, limit 2 = %v", tags(all))
	}
	evs, err := s.Events(ctx, store.EventFilter{Subject: "release/api/v0.3.0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != "release.created" {
		t.Errorf("events of release/api/v0.3.0 = %+v", evs)
	}
	if v, err := s.VerifyAudit(ctx); err != nil || v.Events != 3 {
		t.Errorf("verify: %+v %v, want 3 events", v, err)
	}
}

func tags(rs []store.ReleaseRecord) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Tag)
	}
	return out
}
