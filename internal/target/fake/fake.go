// Package fake is an in-memory target for tests of the engine and of what is built on it (the
// server, the CLI): every replica asked for is ready at once, unless the test says otherwise. It
// outlives an engine, as the local target's processes outlive a crashed server.
package fake

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"github.com/hugai-dev/hugai/internal/target"
)

var _ target.Target = (*Target)(nil)

// Target runs versions in memory.
type Target struct {
	mu       sync.Mutex
	running  map[string]int
	routing  target.Routing
	notReady map[string]bool
	failed   map[string]string
	panicMsg string
}

// New returns a target running nothing.
func New() *Target {
	return &Target{running: map[string]int{}, notReady: map[string]bool{}, failed: map[string]string{}}
}

// Deploy runs n replicas of the version.
func (f *Target) Deploy(_ context.Context, rev target.Revision, n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running[rev.Version] = n
	return nil
}

// Route records the routing.
func (f *Target) Route(_ context.Context, r target.Routing) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r.Weights = maps.Clone(r.Weights)
	f.routing = r
	return nil
}

// Remove stops the version.
func (f *Target) Remove(_ context.Context, rev target.Revision) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.running, rev.Version)
	return nil
}

// Status reports every running version ready (unless held back by SetReady), and the routing.
func (f *Target) Status(context.Context) (target.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panicMsg != "" {
		// A bug in an adapter, for tests of the engine's recovery.
		panic(f.panicMsg)
	}
	s := target.Status{Revisions: map[string]target.RevisionStatus{}, Routing: f.routing}
	s.Routing.Weights = maps.Clone(f.routing.Weights)
	for v, n := range f.running {
		ready := n
		if f.notReady[v] {
			ready = 0
		}
		rs := target.RevisionStatus{Version: v, Desired: n, Running: n, Ready: ready, Weight: f.routing.Weights[v]}
		if why := f.failed[v]; why != "" {
			rs.Running, rs.Ready, rs.StartFailed = 0, 0, why
		}
		s.Revisions[v] = rs
	}
	return s, nil
}

// SetReady says whether the version's replicas become ready (true by default).
func (f *Target) SetReady(version string, ready bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notReady[version] = !ready
}

// SetStartFailed makes the version fail to start, for why ("" starts it again).
func (f *Target) SetStartFailed(version, why string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed[version] = why
}

// Panic makes every later Status panic with msg ("" stops it).
func (f *Target) Panic(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.panicMsg = msg
}

// Running returns the replicas of each running version.
func (f *Target) Running() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.running)
}

// Weights returns the traffic weight of each version.
func (f *Target) Weights() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.routing.Weights)
}

// String describes what runs, for test failures.
func (f *Target) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprintf("running %v, weights %v", f.running, f.routing.Weights)
}
