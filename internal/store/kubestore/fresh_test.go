package kubestore

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hugaiv1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
)

func at(rv, phase string) *hugaiv1.HugAIDeployment {
	return &hugaiv1.HugAIDeployment{ObjectMeta: metav1.ObjectMeta{ResourceVersion: rv}, Status: hugaiv1.RolloutStatus{Phase: phase}}
}

func storeKeeping(d time.Duration) *Store { return &Store{o: Options{KeepWritten: d}} }

// A cache behind the store's own writes must not make it decide on what it already replaced;
// a version it did not write over is someone else's, and wins.
func TestFreshReadsOwnWritesUntilTheReaderCatchesUp(t *testing.T) {
	s := storeKeeping(time.Hour)
	if got, ok := s.fresh(at("1", "Progressing")); !ok || got.ResourceVersion != "1" {
		t.Fatalf("nothing written: got %v %v, want the read", got, ok)
	}
	s.wrote("1", at("2", "Paused"))
	s.wrote("2", at("3", "Promoting"))
	for _, lag := range []string{"1", "2"} {
		got, ok := s.fresh(at(lag, "Progressing"))
		if !ok || got.ResourceVersion != "3" || got.Status.Phase != "Promoting" {
			t.Fatalf("reader at %s (written over): got %v %v, want our write 3 Promoting", lag, got, ok)
		}
		got.Status.Phase = "changed by the caller"
	}
	if got, _ := s.fresh(at("2", "")); got.Status.Phase != "Promoting" {
		t.Fatalf("a caller changed the remembered write: %q", got.Status.Phase)
	}
	if got, ok := s.fresh(at("3", "Promoting")); !ok || got.ResourceVersion != "3" || s.written != nil || s.lastRV != "" {
		t.Fatalf("caught up: got %v, remembered %v; want the read and nothing remembered", got, s.written)
	}

	s.wrote("3", at("4", "Succeeded"))
	if got, ok := s.fresh(at("9", "Aborted")); !ok || got.ResourceVersion != "9" || s.written != nil {
		t.Fatalf("someone else's write: got %v; want it, and our write forgotten", got)
	}
	s.wrote("9", at("10", "Aborted"))
	s.forget()
	if got, ok := s.fresh(at("9", "Aborted")); !ok || got.ResourceVersion != "9" {
		t.Fatalf("after a refused write: got %v, want the read", got)
	}
}

// The copy of a write is let go after KeepWritten; a Reader still behind it then is not trusted
// (the store reads from the API server instead), and never stands in for the write.
func TestFreshLetsTheCopyGo(t *testing.T) {
	s := storeKeeping(time.Millisecond)
	s.wrote("1", at("2", "Paused"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.wmu.Lock()
		gone := s.written == nil
		s.wmu.Unlock()
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the copy of the write is still kept")
		}
		time.Sleep(time.Millisecond)
	}
	if got, ok := s.fresh(at("1", "Progressing")); ok {
		t.Fatalf("a Reader behind a let-go write: got %v, want a read from the API server asked for", got)
	}
	if got, ok := s.fresh(at("2", "Paused")); !ok || got.ResourceVersion != "2" {
		t.Fatalf("the API server's answer: got %v %v", got, ok)
	}
}

func TestFreshRemembersABoundedNumberOfWrites(t *testing.T) {
	s := storeKeeping(time.Hour)
	for i := range overwrittenMax + 5 {
		s.wrote(string(rune('a'+i)), at(string(rune('a'+i+1)), ""))
	}
	if len(s.overwritten) != overwrittenMax {
		t.Fatalf("remembers %d overwritten versions, want %d", len(s.overwritten), overwrittenMax)
	}
	if got, ok := s.fresh(at("a", "")); !ok || got.ResourceVersion != "a" {
		t.Fatalf("a reader further behind than the bound: got %v, want the read (the commit then conflicts)", got)
	}
}
