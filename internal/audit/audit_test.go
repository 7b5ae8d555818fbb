package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// chain builds a valid log of n events and its head.
func chain(n int) ([]Event, Head) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	prev := GenesisHash
	var out []Event
	for i := 1; i <= n; i++ {
		e := Chain(prev, Event{
			Seq: int64(i), Subject: fmt.Sprintf("rollout/demo-%d", i%3), Type: "rollout.step",
			Actor: "alice", Time: t0.Add(time.Duration(i) * time.Second),
			Payload: json.RawMessage(fmt.Sprintf(`{ "step": %d }`, i)),
		})
		out = append(out, e)
		prev = e.Hash
	}
	return out, Head{Seq: int64(n), Hash: prev}
}

func wantBad(t *testing.T, err error, seq int64, reason string) {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a *VerifyError", err)
	}
	if ve.Seq != seq || ve.Reason != reason {
		t.Fatalf("got event %d %q, want event %d %q", ve.Seq, ve.Reason, seq, reason)
	}
}

func TestChainNormalizes(t *testing.T) {
	evs, _ := chain(1)
	e := evs[0]
	if e.PrevHash != GenesisHash {
		t.Fatalf("first PrevHash = %q", e.PrevHash)
	}
	if e.Time.Location() != time.UTC || e.Time.Nanosecond()%1000 != 0 {
		t.Fatalf("time not normalized: %v", e.Time)
	}
	if string(e.Payload) != `{"step":1}` {
		t.Fatalf("payload not compacted: %s", e.Payload)
	}
	if len(e.Hash) != 64 || e.Hash != Sum(e) {
		t.Fatalf("hash %q", e.Hash)
	}
}

func TestSumSeparatesFields(t *testing.T) {
	// Without length prefixes these two would encode the same bytes.
	a := Event{Seq: 1, Subject: "ab", Type: "c"}
	b := Event{Seq: 1, Subject: "a", Type: "bc"}
	if Sum(a) == Sum(b) {
		t.Fatal("field boundaries are not part of the hash")
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name   string
		tamper func([]Event, Head) ([]Event, Head)
		seq    int64
		reason string
	}{
		{"edited payload", func(e []Event, h Head) ([]Event, Head) {
			e[4].Payload = json.RawMessage(`{"step":99}`)
			return e, h
		}, 5, ReasonHashMismatch},
		{"edited actor", func(e []Event, h Head) ([]Event, Head) { e[2].Actor = "mallory"; return e, h }, 3, ReasonHashMismatch},
		{"deleted", func(e []Event, h Head) ([]Event, Head) { return append(e[:3:3], e[4:]...), h }, 5, ReasonBrokenLink},
		{"deleted first", func(e []Event, h Head) ([]Event, Head) { return e[1:], h }, 2, ReasonBrokenLink},
		{"swapped", func(e []Event, h Head) ([]Event, Head) { e[2], e[3] = e[3], e[2]; return e, h }, 4, ReasonBrokenLink},
		{"truncated", func(e []Event, h Head) ([]Event, Head) { return e[:7], h }, 8, ReasonTruncated},
		{"head edited", func(e []Event, h Head) ([]Event, Head) { h.Hash = GenesisHash; return e, h }, 10, ReasonHeadMismatch},
		{"head behind", func(e []Event, h Head) ([]Event, Head) { h.Seq = 8; return e, h }, 9, ReasonPastHead},
		{"rehashed edit", func(e []Event, h Head) ([]Event, Head) {
			e[5].Actor = "mallory"
			e[5] = Chain(e[5].PrevHash, e[5])
			return e, h
		}, 7, ReasonBrokenLink},
		{"renumbered", func(e []Event, h Head) ([]Event, Head) {
			// A forger who rehashes everything from a renumbered event on is stopped by the seq check.
			prev := e[3].Hash
			for i := 4; i < len(e); i++ {
				e[i].Seq++
				e[i] = Chain(prev, e[i])
				prev = e[i].Hash
			}
			return e, Head{Seq: 11, Hash: prev}
		}, 6, ReasonSeqGap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, head := chain(10)
			if err := Verify(evs, head); err != nil {
				t.Fatalf("clean log: %v", err)
			}
			evs, head = tt.tamper(evs, head)
			wantBad(t, Verify(evs, head), tt.seq, tt.reason)
		})
	}
}

func TestVerifierEmptyAndSticky(t *testing.T) {
	v := NewVerifier()
	n, h, err := v.Finish(Head{Seq: 0, Hash: GenesisHash})
	if err != nil || n != 0 || h != GenesisHash {
		t.Fatalf("empty log: %d %q %v", n, h, err)
	}
	evs, head := chain(3)
	evs[0].Type = "x"
	v = NewVerifier()
	first := v.Add(evs[0])
	if first == nil || v.Add(evs[1]) != first {
		t.Fatal("first error is not sticky")
	}
	if _, _, err := v.Finish(head); err != first {
		t.Fatalf("Finish = %v, want the first error", err)
	}
}

// Any single change to any field of any event is caught, and at that event or the next.
func TestVerifyDetectsAnyEdit(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 20).Draw(t, "n")
		evs, head := chain(n)
		i := rapid.IntRange(0, n-1).Draw(t, "i")
		field := rapid.IntRange(0, 6).Draw(t, "field")
		s := rapid.StringN(1, 8, -1).Draw(t, "s")
		e := &evs[i]
		switch field {
		case 0:
			e.Seq += int64(rapid.IntRange(1, 5).Draw(t, "d"))
		case 1:
			e.Subject += s
		case 2:
			e.Type += s
		case 3:
			e.Actor += s
		case 4:
			e.Time = e.Time.Add(time.Microsecond)
		case 5:
			e.Payload = append(json.RawMessage(`[`+fmt.Sprintf("%q", s)+`,`), append(e.Payload, ']')...)
		case 6:
			e.PrevHash = GenesisHash[:63] + "1"
		}
		err := Verify(evs, head)
		var ve *VerifyError
		if !errors.As(err, &ve) {
			t.Fatalf("edit of field %d of event %d not detected", field, i+1)
		}
		if ve.Seq != int64(i+1) && ve.Seq != evs[i].Seq {
			t.Fatalf("named event %d, edited event %d", ve.Seq, i+1)
		}
	})
}
