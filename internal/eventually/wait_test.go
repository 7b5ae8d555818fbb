package eventually

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a testing.TB that keeps the failure instead of ending the test.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}

func TestTrueReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	r := &recorder{TB: t}
	start := time.Now()
	True(r, 10*time.Second, "the third poll", func() bool { return n.Add(1) == 3 })
	if r.failed != "" || n.Load() != 3 {
		t.Fatalf("failed %q after %d polls", r.failed, n.Load())
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("three polls took %s: the first ones must come quickly", d)
	}
}

func TestTrueFailsPastTheTimeout(t *testing.T) {
	r := &recorder{TB: t}
	start := time.Now()
	True(r, 50*time.Millisecond, "v2 to be ready", func() bool { return false })
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("gave up after %s, before the timeout", d)
	}
	if !strings.Contains(r.failed, "timed out after 50ms waiting for v2 to be ready") {
		t.Fatalf("failure %q", r.failed)
	}
}

func TestNoErrorReportsTheLastError(t *testing.T) {
	r := &recorder{TB: t}
	var n atomic.Int32
	NoError(r, 30*time.Millisecond, "the server", func() error {
		return fmt.Errorf("dial: attempt %d: %w", n.Add(1), errors.ErrUnsupported)
	})
	if want := fmt.Sprintf("attempt %d:", n.Load()); !strings.Contains(r.failed, "waiting for the server: dial: "+want) {
		t.Fatalf("failure %q does not end with the last error (%s)", r.failed, want)
	}
}
