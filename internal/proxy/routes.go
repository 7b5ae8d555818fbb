// Package proxy is hugai's weighted L7 reverse proxy for the local target: it splits user traffic
// between versions by weight, keeps per-version counters with a per-second history, and takes its
// routes from the server over an admin unix socket, serving the last ones while the server is away.
package proxy

import (
	"errors"
	"fmt"
	"net"
	"time"
)

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
	// Cut names versions judged bad (a rollback): their open streams (WebSocket and other upgraded
	// connections) are ended at once, WebSockets with a close frame, since no traffic may stay on a
	// rejected version. A version merely stopped (an endpoint or a whole version left out of the
	// table: a promotion's old stable, a scale-down) keeps its open streams for DrainTimeout instead.
	Cut []string `json:"cut,omitempty"`
	// DrainTimeout is how long an open stream to an endpoint that left the table may go on before
	// the proxy ends it; zero means defaultDrain. A weight change alone never ends a stream.
	DrainTimeout time.Duration `json:"drainTimeout,omitempty"`
}

// Upstream protocols a backend's replicas speak.
const (
	ProtocolHTTP1 = "http1" // HTTP/1.1 over TCP (the default)
	ProtocolH2C   = "h2c"   // HTTP/2 over TCP with prior knowledge
	ProtocolH2    = "h2"    // HTTP/2 over TLS (ALPN h2)
)

// Backend is one version: its share of user traffic and the replicas that serve it.
type Backend struct {
	Version   string   `json:"version"`
	Weight    int      `json:"weight"`    // 0..100; all weights add up to 100 or are all zero
	Endpoints []string `json:"endpoints"` // host:port of each ready replica
	// Protocol is what the replicas speak: http1 (also when empty), h2c or h2. gRPC needs h2c or h2.
	Protocol string `json:"protocol,omitempty"`
}

// Validate reports the first thing wrong with r, in words an operator can act on.
func (r Routes) Validate() error {
	seen := make(map[string]bool, len(r.Backends))
	sum := 0
	for i, b := range r.Backends {
		if b.Version == "" {
			return fmt.Errorf("backends[%d]: version is empty", i)
		}
		if seen[b.Version] {
			return fmt.Errorf("backends[%d]: version %q appears twice", i, b.Version)
		}
		seen[b.Version] = true
		if b.Weight < 0 || b.Weight > 100 {
			return fmt.Errorf("backends[%d] (%s): weight %d is outside 0..100", i, b.Version, b.Weight)
		}
		sum += b.Weight
		if b.Weight > 0 && len(b.Endpoints) == 0 && r.HoldTimeout <= 0 {
			return fmt.Errorf("backends[%d] (%s): weight %d needs endpoints (or a holdTimeout to wait for them)", i, b.Version, b.Weight)
		}
		switch b.Protocol {
		case "", ProtocolHTTP1, ProtocolH2C, ProtocolH2:
		default:
			return fmt.Errorf("backends[%d] (%s): protocol %q is not one of http1, h2c, h2", i, b.Version, b.Protocol)
		}
		for j, e := range b.Endpoints {
			if _, _, err := net.SplitHostPort(e); err != nil {
				return fmt.Errorf("backends[%d] (%s): endpoints[%d] %q is not host:port", i, b.Version, j, e)
			}
		}
	}
	if sum != 0 && sum != 100 {
		return fmt.Errorf("weights add up to %d: they must add up to 100 or all be zero", sum)
	}
	for _, n := range []struct{ route, version string }{{"stable", r.Stable}, {"canary", r.Canary}, {"preview", r.Preview}} {
		if n.version != "" && !seen[n.version] {
			return fmt.Errorf("%s names version %q, which has no backend", n.route, n.version)
		}
	}
	if r.HoldTimeout < 0 {
		return fmt.Errorf("holdTimeout %s is negative", r.HoldTimeout)
	}
	if r.DrainTimeout < 0 {
		return fmt.Errorf("drainTimeout %s is negative", r.DrainTimeout)
	}
	for _, v := range r.Cut {
		if v == "" {
			return errors.New("cut names an empty version")
		}
		if seen[v] {
			for _, b := range r.Backends {
				if b.Version == v && b.Weight > 0 {
					return fmt.Errorf("cut version %q still has weight %d: a version judged bad gets no traffic", v, b.Weight)
				}
			}
		}
	}
	return nil
}
