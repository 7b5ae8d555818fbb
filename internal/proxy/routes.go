package proxy

import "time"

// Routes is the whole routing table the server pushes to the proxy's admin socket
// (PUT /v1/routes). The proxy swaps it in atomically and keeps the last one it was given while the
// server is away. A table with a Generation lower than the one in force is refused, so a slow,
// stale writer cannot undo a newer decision.
type Routes struct {
	Generation int64     `json:"generation"`
	Backends   []Backend `json:"backends"`
	// Stable, Canary and Preview name the versions reached directly with the request header
	// `X-Hugai-Route: stable|canary|preview`.
	Stable  string `json:"stable,omitempty"`
	Canary  string `json:"canary,omitempty"`
	Preview string `json:"preview,omitempty"`
	// HoldTimeout is how long a request waits for a version to serve when no backend can take it
	// (all weights zero or no live endpoint), before it is answered 503. Zero answers at once.
	HoldTimeout time.Duration `json:"holdTimeout,omitempty"`
}

// Backend is one version: its share of user traffic and the replicas that serve it.
type Backend struct {
	Version   string   `json:"version"`
	Weight    int      `json:"weight"`    // 0..100; all weights add up to 100 or are all zero
	Endpoints []string `json:"endpoints"` // host:port of each ready replica
}
