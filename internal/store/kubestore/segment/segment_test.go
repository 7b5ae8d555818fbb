package segment

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/audit"
)

var t0 = time.Date(2026, 12, 2, 9, 30, 0, 123456789, time.FixedZone("CET", 3600))

func TestSealCount(t *testing.T) {
	for _, tc := range []struct{ old, next, want int }{
		{0, 0, 0}, {TailMax, 0, 0}, {TailMax - 1, 1, 0}, {TailMax, 1, TailMax + 1 - TailKeep},
		{3, TailMax, 3}, {TailMax, TailMax * 2, TailMax},
	} {
		if got := SealCount(tc.old, tc.next); got != tc.want {
			t.Errorf("SealCount(%d, %d) = %d, want %d", tc.old, tc.next, got, tc.want)
		}
	}
	evs := make([]audit.Event, 2*Max+1)
	if cs := Chunks(evs); len(cs) != 3 || len(cs[2]) != 1 {
		t.Fatalf("chunks of %d: %d", len(evs), len(cs))
	}
}

func TestName(t *testing.T) {
	if got := Name("checkout", 1, 32); got != "checkout-audit-1-32" {
		t.Fatal(got)
	}
	long := strings.Repeat("a", 240) + "-" + strings.Repeat("b", 12)
	if got := Name(long, 1000, 1031); len(got) > 253 || strings.Contains(got, "--") || !strings.HasSuffix(got, "-audit-1000-1031") {
		t.Fatalf("%d chars: %s", len(got), got)
	}
}

// Payloads with HTML characters survive a segment's encoding byte for byte: they are hashed.
func TestEncodingKeepsPayloads(t *testing.T) {
	e := audit.Chain(audit.GenesisHash, audit.Event{Seq: 1, Subject: "s", Type: "t", Time: t0, Payload: json.RawMessage(`{"a":"<b>&"}`)})
	b, err := Encode([]audit.Event{e})
	if err != nil {
		t.Fatal(err)
	}
	var back []audit.Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := audit.Verify(back, audit.Head{Seq: 1, Hash: e.Hash}); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}
