package proxy

import (
	"net"
	"sync"
	"time"
)

// Open streams — upgraded connections (WebSockets) and responses of unknown length (event streams,
// gRPC streams, long polls) — are judged against every new routing table: a stream whose version
// the table cuts (a rollback) ends at once; one whose endpoint left the table drains for the
// table's DrainTimeout, then ends; any other goes on, whatever the weights.

// defaultDrain is the drain timeout of a table that does not set one.
const defaultDrain = 30 * time.Second

// stream is one upgraded connection, or one response of unknown length, pinned to one endpoint of
// one version.
type stream struct {
	version string
	addr    string
	ws      bool     // a WebSocket: ended with a close frame
	up      net.Conn // the upstream connection of an upgraded stream
	abort   func()   // ends a response stream's upstream side (instead of up's deadline)

	// amu orders abort against the stream's removal: once removed, the stream's upstream
	// connection may be back in its pool, serving another request that abort must not touch.
	amu     sync.Mutex
	removed bool

	endOnce sync.Once
	ended   chan struct{} // closed by end
	code    int           // close code, set before ended is closed
	reason  string

	drain *time.Timer // started when the endpoint left the table; guarded by streams.mu
}

// end asks the stream to finish: at the next frame boundary for a WebSocket, at once otherwise.
func (s *stream) end(code int, reason string) {
	s.endOnce.Do(func() {
		s.code, s.reason = code, reason
		close(s.ended)
		if s.abort != nil {
			s.amu.Lock()
			if !s.removed {
				s.abort() // the body copy fails, and the response is aborted
			}
			s.amu.Unlock()
			return
		}
		// Wakes the upstream-to-client pump if it is waiting for the upstream's next bytes.
		s.up.SetReadDeadline(aLongTimeAgo)
	})
}

func (s *stream) isEnded() bool {
	select {
	case <-s.ended:
		return true
	default:
		return false
	}
}

// streams are the open streams, judged against every new routing table.
type streams struct {
	mu     sync.Mutex
	m      map[*stream]struct{}
	closed bool           // the proxy is stopping: no new stream
	wg     sync.WaitGroup // one per registered stream, so that Serve waits for them on shutdown
}

// add registers s and judges it against t, the table in force: the endpoint may have left it
// between the choice and the handshake. Registering and judging under mu, with SetRoutes storing
// its table before it reconciles, means no table change is missed. It returns false once the
// proxy is stopping (endAll ran): the stream must not start.
func (ss *streams) add(s *stream, t *table) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return false
	}
	if ss.m == nil {
		ss.m = map[*stream]struct{}{}
	}
	ss.m[s] = struct{}{}
	ss.wg.Add(1)
	if t != nil {
		judge(s, t)
	}
	return true
}

func (ss *streams) remove(s *stream) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, s)
	if s.drain != nil {
		s.drain.Stop()
	}
	s.amu.Lock()
	s.removed = true
	s.amu.Unlock()
	ss.wg.Done()
}

// reconcile judges every open stream against a new table.
func (ss *streams) reconcile(t *table) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for s := range ss.m {
		judge(s, t)
	}
}

// open returns the number of open streams.
func (ss *streams) open() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

// endAll ends every open stream and refuses new ones (the proxy is stopping).
func (ss *streams) endAll() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.closed = true
	for s := range ss.m {
		s.end(closeGoingAway, "proxy shutting down")
	}
}

// judge decides s's fate under t: cut if its version was rolled back, drained if its endpoint left,
// left alone (and a drain called off) if its endpoint is still there. ss.mu is held.
func judge(s *stream, t *table) {
	if t.cut[s.version] {
		s.end(closeServiceRestart, "version rolled back")
		return
	}
	if t.serves(s.version, s.addr) {
		if s.drain != nil {
			s.drain.Stop()
			s.drain = nil
		}
		return
	}
	if s.drain == nil {
		d := t.routes.DrainTimeout
		if d <= 0 {
			d = defaultDrain
		}
		s.drain = time.AfterFunc(d, func() { s.end(closeGoingAway, "version stopped") })
	}
}
