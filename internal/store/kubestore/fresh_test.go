package kubestore

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hugaiv1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
)

func at(rv, phase string) *hugaiv1.HugAIDeployment {
	return &hugaiv1.HugAIDeployment{ObjectMeta: metav1.ObjectMeta{ResourceVersion: rv}, Status: hugaiv1.RolloutStatus{Phase: phase}}
}

// A cache behind the store's own writes must not make it decide on what it already replaced;
// a version it did not write over is someone else's, and wins.
func TestFreshReadsOwnWritesUntilTheReaderCatchesUp(t *testing.T) {
	s := &Store{}
	if got := s.fresh(at("1", "Progressing")); got.ResourceVersion != "1" {
		t.Fatalf("nothing written: got %s, want the read", got.ResourceVersion)
	}
	s.wrote("1", at("2", "Paused"))
	s.wrote("2", at("3", "Promoting"))
	for _, lag := range []string{"1", "2"} {
		got := s.fresh(at(lag, "Progressing"))
		if got.ResourceVersion != "3" || got.Status.Phase != "Promoting" {
			t.Fatalf("reader at %s (written over): got %s %s, want our write 3 Promoting", lag, got.ResourceVersion, got.Status.Phase)
		}
		got.Status.Phase = "changed by the caller"
	}
	if got := s.fresh(at("2", "")); got.Status.Phase != "Promoting" {
		t.Fatalf("a caller changed the remembered write: %q", got.Status.Phase)
	}
	if got := s.fresh(at("3", "Promoting")); got.ResourceVersion != "3" || s.written != nil {
		t.Fatalf("caught up: got %s, remembered %v; want the read and nothing remembered", got.ResourceVersion, s.written)
	}

	s.wrote("3", at("4", "Succeeded"))
	if got := s.fresh(at("9", "Aborted")); got.ResourceVersion != "9" || s.written != nil {
		t.Fatalf("someone else's write: got %s; want it, and our write forgotten", got.ResourceVersion)
	}
	s.wrote("9", at("10", "Aborted"))
	s.forget()
	if got := s.fresh(at("9", "Aborted")); got.ResourceVersion != "9" {
		t.Fatalf("after a refused write: got %s, want the read", got.ResourceVersion)
	}
}

func TestFreshRemembersABoundedNumberOfWrites(t *testing.T) {
	s := &Store{}
	for i := range overwrittenMax + 5 {
		s.wrote(string(rune('a'+i)), at(string(rune('a'+i+1)), ""))
	}
	if len(s.overwritten) != overwrittenMax {
		t.Fatalf("remembers %d overwritten versions, want %d", len(s.overwritten), overwrittenMax)
	}
	if got := s.fresh(at("a", "")); got.ResourceVersion != "a" {
		t.Fatalf("a reader further behind than the bound: got %s, want the read (the commit then conflicts)", got.ResourceVersion)
	}
}
