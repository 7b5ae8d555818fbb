// Package target defines the port through which the engine drives where versions run: it starts
// and stops revisions and routes a weight of traffic to each. Adapters live in subpackages
// (local: processes behind hugai's own proxy; kubernetes: workloads behind a traffic router).
package target

import (
	"context"
	"time"
)

// Revision is one version of a service as the target runs it.
type Revision struct {
	Version string `json:"version"`
}

// Routing is the desired traffic split. Weights are per version and add up to 100, or are all zero
// (no version serves: the router holds requests up to HoldTimeout, then answers 503). Canary, Stable
// and Preview name the versions that `X-Hugai-Route: canary|stable|preview` reach directly.
type Routing struct {
	Weights     map[string]int `json:"weights"`
	Stable      string         `json:"stable,omitempty"`
	Canary      string         `json:"canary,omitempty"`
	Preview     string         `json:"preview,omitempty"`
	HoldTimeout time.Duration  `json:"holdTimeout,omitempty"`
	// Cut names versions judged bad (a rollback), which must have no weight: the router ends their
	// open streams (WebSockets, upgraded connections) at once. A version that merely leaves the
	// routing (a promotion's old stable, a removal) lets its open streams drain instead.
	Cut []string `json:"cut,omitempty"`
}

// RevisionStatus is what the target observes of one revision.
type RevisionStatus struct {
	Version  string `json:"version"`
	Desired  int    `json:"desired"`
	Running  int    `json:"running"`
	Ready    int    `json:"ready"`
	Restarts int    `json:"restarts"`
	// CrashLooping is set when a replica restarted repeatedly without becoming ready.
	CrashLooping bool `json:"crashLooping,omitempty"`
	// StartFailed carries a reason when the revision cannot be started at all (command not found).
	StartFailed string `json:"startFailed,omitempty"`
	Weight      int    `json:"weight"`
	// CPUPercent and MemoryBytes are sampled from the revision's processes (all replicas summed).
	CPUPercent  float64 `json:"cpuPercent"`
	MemoryBytes int64   `json:"memoryBytes"`
}

// Status is the target's view of every revision it runs, and the routing in force.
type Status struct {
	Revisions map[string]RevisionStatus `json:"revisions"`
	Routing   Routing                   `json:"routing"`
}

// Target is the port. Every method is idempotent: the engine drives the target to the desired
// state on every tick, so calling Deploy twice with the same arguments changes nothing.
type Target interface {
	Deploy(ctx context.Context, rev Revision, replicas int) error
	Route(ctx context.Context, r Routing) error
	Remove(ctx context.Context, rev Revision) error
	Status(ctx context.Context) (Status, error)
}
