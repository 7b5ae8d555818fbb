// Package eventually is for tests that wait for something to happen: a server to answer, a
// process to go, a route to take effect. They poll a condition until it holds instead of sleeping
// a fixed time, which is both slower when the machine is idle and flaky when it is loaded.
package eventually

import (
	"errors"
	"testing"
	"time"
)

// The first polls come quickly (most conditions hold within milliseconds); later ones back off to
// maxPoll so that a long wait does not steal the CPU from what it waits for.
const (
	firstPoll = 5 * time.Millisecond
	maxPoll   = 100 * time.Millisecond
)

// True polls cond until it returns true; past timeout it fails the test naming what it waited for.
// The timeout only turns a hang into a failure: make it generous.
func True(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	NoError(t, timeout, what, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

var errNotYet = errors.New("not yet")

// NoError polls f until it returns nil; past timeout it fails the test with the last error.
func NoError(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	poll := firstPoll
	for {
		err := f()
		if err == nil {
			return
		}
		if !time.Now().Before(deadline) {
			if errors.Is(err, errNotYet) {
				t.Fatalf("timed out after %s waiting for %s", timeout, what)
			} else {
				t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
			}
			return // a fake testing.TB may not stop the goroutine
		}
		time.Sleep(min(poll, time.Until(deadline)))
		poll = min(2*poll, maxPoll)
	}
}
