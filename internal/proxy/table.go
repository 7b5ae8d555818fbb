package proxy

import (
	"math/rand/v2"
	"sync/atomic"
)

// table is Routes compiled for the hot path. It is immutable once published, except for each
// endpoint's liveness; a new Routes builds a new table (every endpoint live again) and swaps it in.
type table struct {
	routes   Routes
	backends []*backend
	// byRoute holds the backends reached with X-Hugai-Route: stable, canary, preview (nil if unset).
	stable, canary, preview *backend
	// pick maps a number in 0..99 to the backend that owns that share of the traffic.
	pick [100]*backend
	// retired is closed when a newer table replaces this one: its endpoint probes stop.
	retired chan struct{}
	// cut holds the versions whose open streams end at once (Routes.Cut).
	cut map[string]bool
	// endpoints holds "version endpoint" for every endpoint in the table: a stream whose endpoint
	// is not here drains.
	endpoints map[string]bool
}

// backend is one version in a table.
type backend struct {
	version   string
	versionHV []string // the X-Hugai-Version header value, shared so the hot path does not allocate
	weight    int
	protocol  string // ProtocolHTTP1, ProtocolH2C or ProtocolH2
	endpoints []*endpoint
	next      atomic.Uint32 // round-robin cursor over endpoints
	stats     *counters
}

// endpoint is one replica of a version.
type endpoint struct {
	addr    string
	down    atomic.Bool // dropped from rotation after a connection failure, until a probe dial succeeds
	probing atomic.Bool
	pool    *connPool // keep-alive connections of the lean client
}

func compile(r Routes, h *history, ps *pools) *table {
	t := &table{routes: r, retired: make(chan struct{}), cut: map[string]bool{}, endpoints: map[string]bool{}}
	for _, v := range r.Cut {
		t.cut[v] = true
	}
	byVersion := make(map[string]*backend, len(r.Backends))
	n := 0
	for _, b := range r.Backends {
		be := &backend{
			version:   b.Version,
			versionHV: []string{b.Version},
			weight:    b.Weight,
			protocol:  b.Protocol,
			stats:     h.counters(b.Version),
		}
		if be.protocol == "" {
			be.protocol = ProtocolHTTP1
		}
		for _, a := range b.Endpoints {
			t.endpoints[b.Version+" "+a] = true
			be.endpoints = append(be.endpoints, &endpoint{addr: a, pool: ps.pool(a)})
		}
		t.backends = append(t.backends, be)
		byVersion[b.Version] = be
		for i := 0; i < b.Weight && n < len(t.pick); i++ {
			t.pick[n] = be
			n++
		}
	}
	t.stable, t.canary, t.preview = byVersion[r.Stable], byVersion[r.Canary], byVersion[r.Preview]
	return t
}

// serves reports whether addr is an endpoint of version in t.
func (t *table) serves(version, addr string) bool { return t.endpoints[version+" "+addr] }

// byRoute returns the backend an X-Hugai-Route value names, or nil.
func (t *table) byRoute(route string) *backend {
	switch route {
	case "stable":
		return t.stable
	case "canary":
		return t.canary
	case "preview":
		return t.preview
	}
	return nil
}

// choose picks a backend by weight that has a live endpoint, skipping exclude. The first draw is
// one random number and an array lookup; only when that backend cannot serve does it fall back to
// a draw over the weights of the backends that can.
func (t *table) choose(exclude *backend) *backend {
	if t.pick[0] == nil {
		return nil // all weights zero
	}
	if b := t.pick[rand.IntN(len(t.pick))]; b != exclude && b.live() {
		return b
	}
	total := 0
	for _, b := range t.backends {
		if b != exclude && b.weight > 0 && b.live() {
			total += b.weight
		}
	}
	if total == 0 {
		return nil
	}
	n := rand.IntN(total)
	for _, b := range t.backends {
		if b != exclude && b.weight > 0 && b.live() {
			if n < b.weight {
				return b
			}
			n -= b.weight
		}
	}
	return nil
}

// live reports whether any endpoint of b is in rotation.
func (b *backend) live() bool {
	for _, e := range b.endpoints {
		if !e.down.Load() {
			return true
		}
	}
	return false
}

// endpoint returns the next live endpoint round-robin, or nil.
func (b *backend) endpoint() *endpoint {
	n := len(b.endpoints)
	if n == 0 {
		return nil
	}
	start := int(b.next.Add(1) % uint32(n))
	for i := 0; i < n; i++ {
		e := b.endpoints[(start+i)%n]
		if !e.down.Load() {
			return e
		}
	}
	return nil
}
