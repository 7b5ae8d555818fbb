package segment

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/hugai-dev/hugai/internal/audit"
)

// FuzzSegment replaces the middle segment of a valid chain (segments 1-10 and 11-20, a tail
// 21-25) by arbitrary bytes, as anyone who may write ConfigMaps in the namespace could: reading
// never panics, and the chain verifies only if what the forged segment adds is exactly the
// original events.
func FuzzSegment(f *testing.F) {
	chain := make([]audit.Event, 25)
	prev := audit.GenesisHash
	for i := range chain {
		chain[i] = audit.Chain(prev, audit.Event{Seq: int64(i + 1), Subject: "rollout/checkout-1", Type: "rollout.step",
			Actor: "alice", Time: t0, Payload: json.RawMessage(fmt.Sprintf(`{"step":%d,"html":"<&>"}`, i))})
		prev = chain[i].Hash
	}
	head := audit.Head{Seq: 25, Hash: prev}
	middle, err := Encode(chain[10:20])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(middle)
	overlap, _ := Encode(chain[10:25])
	f.Add(overlap)
	f.Add([]byte(`[{"seq":11}]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		seg, err := Decode("checkout-audit-11-20", "11", string(data))
		var ve *audit.VerifyError
		if err != nil {
			if !errors.As(err, &ve) || ve.Seq != 11 {
				t.Fatalf("an unreadable segment: err = %v, want a VerifyError at 11", err)
			}
			return
		}
		all, err := Merge(chain[:10], seg, chain[20:])
		if err != nil {
			if !errors.As(err, &ve) {
				t.Fatalf("merge: %v is not a VerifyError", err)
			}
			return
		}
		if audit.Verify(all, head) != nil {
			return
		}
		if len(all) != len(chain) {
			t.Fatalf("verified a chain of %d events, the original has %d", len(all), len(chain))
		}
		for i := range all {
			if !Same(audit.Normalize(all[i]), chain[i]) {
				t.Fatalf("verified a chain whose event %d differs: %+v", all[i].Seq, all[i])
			}
		}
	})
}
