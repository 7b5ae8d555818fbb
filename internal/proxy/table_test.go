package proxy

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// For any weights and any replicas down, a pick is a version with weight that can serve, never
// the excluded one, and nothing is picked only when no such version exists.
func TestChooseProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 5).Draw(t, "versions")
		weights := make([]int, n)
		left := 100
		allZero := rapid.Bool().Draw(t, "allZero")
		for i := range weights {
			if allZero {
				break
			}
			if i == n-1 {
				weights[i] = left
			} else {
				weights[i] = rapid.IntRange(0, left).Draw(t, fmt.Sprintf("w%d", i))
			}
			left -= weights[i]
		}
		var r Routes
		for i, w := range weights {
			r.Backends = append(r.Backends, Backend{Version: fmt.Sprintf("v%d", i), Weight: w,
				Endpoints: []string{fmt.Sprintf("127.0.0.1:%d", 1000+i), fmt.Sprintf("127.0.0.1:%d", 2000+i)}})
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("generated routes invalid: %v", err)
		}
		tb := compile(r, newHistory(0), &pools{})
		for _, b := range tb.backends {
			for _, e := range b.endpoints {
				e.down.Store(rapid.Bool().Draw(t, "down"))
			}
		}
		var exclude *backend
		if rapid.Bool().Draw(t, "exclude") {
			exclude = tb.backends[rapid.IntRange(0, n-1).Draw(t, "excluded")]
		}
		possible := false
		for _, b := range tb.backends {
			if b != exclude && b.weight > 0 && b.live() {
				possible = true
			}
		}
		for i := 0; i < 50; i++ {
			b := tb.choose(exclude)
			if b == nil {
				if possible {
					t.Fatal("nothing chosen though a version could serve")
				}
				continue
			}
			if b == exclude || b.weight == 0 || !b.live() {
				t.Fatalf("chose %s (weight %d, live %v, excluded %v)", b.version, b.weight, b.live(), b == exclude)
			}
			if e := b.endpoint(); e == nil || e.down.Load() {
				t.Fatalf("%s gave no live endpoint", b.version)
			}
		}
	})
}
