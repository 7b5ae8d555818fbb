package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// h1server is the proxy's own HTTP/1.1 server for user traffic. net/http's server cost the proxy
// most of what separated it from nginx (docs/benchmarks.md): a Request, a header map and a context
// per request, a cloned header map per response, two writes per exchange. This one reads each head
// with a pooled reader into a reusable reqHead, sends it to the upstream's keep-alive connection in
// one write, and copies the response head back in one write: nothing is allocated per request.
//
// It serves plain HTTP/1.1, and HTTP/1.1 under TLS when ALPN picks it. Every other connection —
// HTTP/2 (ALPN h2, or h2c's preface), and any connection from the moment it sends something this
// server leaves alone (an Upgrade, HTTP/1.0, a backend that speaks HTTP/2) — is handed, with the
// bytes read so far, to a net/http server with the proxy's handler, through a listener that
// accepts only such connections: every protocol feature keeps working there.
//
// An idle keep-alive connection holds no buffer: its goroutine waits for the next request with a
// small array of the connection's own, and takes a reader and a writer from a pool only when bytes
// arrive.
type h1server struct {
	p        *Proxy
	route    string      // "" on the listen address, "preview" on the preview address
	tls      *tls.Config // nil for plain TCP
	fallback *http.Server
	fl       *connListener
	secret   []byte // HeaderRouting.Secret, as bytes for the comparison

	mu       sync.Mutex
	l        net.Listener
	conns    map[*h1conn]struct{}
	shutdown atomic.Bool
}

const (
	userIdleTimeout = 2 * time.Minute // a keep-alive connection with no request for this long is closed
	idleReadSize    = 256             // what an idle connection reads into before it takes a buffer
	inBufSize       = 16 << 10        // request heads up to this go the proxy's own way; longer ones to net/http
	outBufSize      = 16 << 10
)

// Connection states, for the shutdown: an idle connection is closed, an active one finishes.
const (
	connIdle int32 = iota
	connActive
	connClosed
)

func newH1server(p *Proxy, route string, handler http.Handler, tlsConf *tls.Config) *h1server {
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(true)
	protos.SetUnencryptedHTTP2(true)
	if tlsConf != nil {
		tlsConf = tlsConf.Clone()
		tlsConf.NextProtos = []string{"h2", "http/1.1"}
	}
	s := &h1server{p: p, route: route, tls: tlsConf, conns: map[*h1conn]struct{}{}, fl: newConnListener(),
		secret: []byte(p.opts.HeaderRouting.Secret)}
	s.fallback = &http.Server{Handler: handler, ReadHeaderTimeout: p.opts.HeaderTimeout, IdleTimeout: userIdleTimeout,
		Protocols: &protos, ConnState: p.countConn, TLSConfig: tlsConf}
	return s
}

// Serve accepts connections on l until it is closed.
func (s *h1server) Serve(l net.Listener) error {
	s.mu.Lock()
	s.l = l
	s.mu.Unlock()
	// The fallback server ends when Shutdown or Close closes it; what it returns then says nothing.
	go s.fallback.Serve(s.fl)
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.shutdown.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				// Out of file descriptors, as net/http does: wait and accept again.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		cn := &h1conn{s: s, c: c, raw: c}
		s.p.conns.Add(1)
		s.mu.Lock()
		s.conns[cn] = struct{}{}
		s.mu.Unlock()
		go cn.serve()
	}
}

// forget removes a connection that ended or was handed to the fallback server.
func (s *h1server) forget(cn *h1conn) {
	s.mu.Lock()
	delete(s.conns, cn)
	s.mu.Unlock()
	s.p.conns.Add(-1)
}

// Shutdown stops accepting, closes idle connections, and waits for the others to finish their
// request (and the fallback server's, as http.Server.Shutdown does) until ctx ends.
func (s *h1server) Shutdown(ctx context.Context) error {
	s.shutdown.Store(true)
	s.mu.Lock()
	if s.l != nil {
		s.l.Close()
	}
	s.mu.Unlock()
	ferr := make(chan error, 1)
	go func() { ferr <- s.fallback.Shutdown(ctx) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		for cn := range s.conns {
			if cn.state.CompareAndSwap(connIdle, connClosed) {
				cn.raw.Close()
			}
		}
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-ctx.Done():
			<-ferr
			return ctx.Err()
		case <-tick.C:
		}
	}
	return <-ferr
}

// Close closes every connection at once, ending the exchanges in flight.
func (s *h1server) Close() error {
	s.shutdown.Store(true)
	s.mu.Lock()
	if s.l != nil {
		s.l.Close()
	}
	for cn := range s.conns {
		cn.state.Store(connClosed)
		cn.gone.Store(true) // as net/http's Close cancels a request's context: no version's failure
		cn.raw.Close()
		cn.abortUpstream()
	}
	s.mu.Unlock()
	return s.fallback.Close()
}

// h1conn is one client connection on the proxy's own path.
type h1conn struct {
	s     *h1server
	c     net.Conn // the connection requests are read from: raw, or TLS over it
	raw   net.Conn // the accepted connection, which Shutdown and Close close
	state atomic.Int32
	small [idleReadSize]byte // what an idle connection reads into
	pre   prefixReader       // small's bytes, then the connection

	client     netip.Addr // for X-Hugai-Route's allow-list
	clientHost string     // the client's address for X-Forwarded-For

	// up is the upstream connection of the exchange in flight, so that Close can end it.
	upMu sync.Mutex
	up   *upConn

	// gone is set when the client closed its side while the upstream thought.
	gone atomic.Bool
	// held is 1 when the watch on the client read the first byte of its next request into small.
	held int
	// rdl is the read deadline set on c (readBy), so that one good enough is not set again.
	rdl time.Time
}

// h1bufs are what a connection holds while it serves requests, pooled between them.
type h1bufs struct {
	br   *bufio.Reader
	out  []byte
	sink sink
	req  reqHead
}

func (p *Proxy) getBufs(r *prefixReader) *h1bufs {
	bs := p.h1bufs.Get().(*h1bufs)
	bs.br.Reset(r)
	return bs
}

func (p *Proxy) putBufs(bs *h1bufs) {
	bs.br.Reset(nil)
	bs.out = bs.out[:0]
	p.h1bufs.Put(bs)
}

func newH1bufs() any {
	return &h1bufs{br: bufio.NewReaderSize(nil, inBufSize), out: make([]byte, 0, outBufSize)}
}

// prefixReader reads the bytes an idle connection read into its small array, then the connection.
type prefixReader struct {
	b []byte
	c net.Conn
}

func (r *prefixReader) Read(p []byte) (int, error) {
	if len(r.b) > 0 {
		n := copy(p, r.b)
		r.b = r.b[n:]
		return n, nil
	}
	return r.c.Read(p)
}

func (cn *h1conn) readBy(t time.Time) {
	cn.c.SetReadDeadline(t)
	cn.rdl = t
}

func (cn *h1conn) abortUpstream() {
	cn.upMu.Lock()
	if cn.up != nil {
		cn.up.abort()
	}
	cn.upMu.Unlock()
}

func (cn *h1conn) setUp(uc *upConn) {
	cn.upMu.Lock()
	cn.up = uc
	cn.upMu.Unlock()
}

// serve runs the connection's requests one after another until it closes or is handed over.
func (cn *h1conn) serve() {
	s, p := cn.s, cn.s.p
	c := cn.c
	handedOver := false
	defer func() {
		if !handedOver {
			c.Close()
		}
		s.forget(cn)
	}()
	if s.tls != nil {
		tc := tls.Server(c, s.tls)
		c.SetDeadline(time.Now().Add(p.opts.HeaderTimeout))
		if err := tc.Handshake(); err != nil {
			return
		}
		c.SetDeadline(time.Time{})
		cn.c, c = tc, tc
		if tc.ConnectionState().NegotiatedProtocol != "http/1.1" && tc.ConnectionState().NegotiatedProtocol != "" {
			handedOver = cn.handOver(nil)
			return
		}
	}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		cn.client = ap.Addr().Unmap()
		cn.clientHost = cn.client.String()
	}
	cn.pre.c = c
	var bs *h1bufs
	defer func() {
		if bs != nil {
			p.putBufs(bs)
		}
	}()
	for {
		if bs == nil {
			// Idle: wait for the next request without a buffer.
			if cn.state.Load() == connClosed {
				return
			}
			// The idle deadline is moved only when it has come 5 s nearer: a timer update saved
			// on nearly every request, for a connection closed at most 5 s early.
			if now := time.Now(); cn.rdl.Sub(now) < userIdleTimeout-5*time.Second {
				cn.readBy(now.Add(userIdleTimeout))
			}
			// Let the other connections run first: by then the next request is often here, and a
			// read that would find nothing (a system call, and a park) is saved. Of the two
			// yields the proxy had, this one costs the tail least (docs/benchmarks.md).
			runtime.Gosched()
			n, _ := c.Read(cn.small[:])
			if n == 0 {
				return
			}
			if !cn.state.CompareAndSwap(connIdle, connActive) {
				return // the shutdown closed it
			}
			cn.pre.b = cn.small[:n]
			bs = p.getBufs(&cn.pre)
		}
		keep, over := cn.request(bs)
		if over {
			handedOver = true
			return
		}
		if !keep {
			return
		}
		if cn.held > 0 {
			// The next request's first byte, read while the upstream thought: nothing else of
			// it can be buffered, since the watch runs only when nothing is.
			cn.pre.b = cn.small[:cn.held]
			cn.held = 0
			bs.br.Reset(&cn.pre)
			continue
		}
		if bs.br.Buffered() == 0 {
			p.putBufs(bs)
			bs = nil
			if !cn.state.CompareAndSwap(connActive, connIdle) {
				return
			}
		}
	}
}

// request reads one request head and serves it. keep says whether the connection may carry
// another request; over that it was handed to net/http's server.
func (cn *h1conn) request(bs *h1bufs) (keep, over bool) {
	p := cn.s.p
	br := bs.br
	// Empty lines before a request line are ignored (RFC 9112 2.2).
	var outcome parseOutcome
	deadlineSet := false
	for {
		b, _ := br.Peek(br.Buffered())
		if skip := leadingEmptyLines(b); skip > 0 {
			br.Discard(skip)
			b = b[skip:]
		}
		if len(b) > 0 {
			outcome = bs.req.parse(b)
			if outcome != headIncomplete {
				break
			}
			if len(b) == br.Size() {
				outcome = headUnusual // a head longer than the buffer: net/http's limit is a megabyte
				break
			}
		}
		if !deadlineSet {
			// A head that did not come in one read: the header timeout runs from now, so that a
			// client sending a byte at a time (slowloris) is closed in time.
			cn.readBy(time.Now().Add(p.opts.HeaderTimeout))
			deadlineSet = true
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return false, false // the client went away, or sent its head too slowly
		}
	}
	switch outcome {
	case headUnusual:
		b, _ := br.Peek(br.Buffered())
		return false, cn.handOver(b)
	case headBad:
		p.writeAnswerTo(cn.c, bs, http.StatusBadRequest, noneHV[0], "malformed request", true)
		return false, false
	case headBadCoding:
		p.writeAnswerTo(cn.c, bs, http.StatusNotImplemented, noneHV[0], "unsupported transfer encoding", true)
		return false, false
	case headBadExpect:
		p.writeAnswerTo(cn.c, bs, http.StatusExpectationFailed, noneHV[0], "unsupported expectation", true)
		return false, false
	}
	return cn.exchange(bs)
}

// handOver gives the connection, with the bytes already read from it, to net/http's server. It
// reports whether the server took it.
func (cn *h1conn) handOver(read []byte) bool {
	cn.c.SetDeadline(time.Time{})
	var c net.Conn = cn.c
	if len(read) > 0 {
		c = &replayConn{Conn: cn.c, pre: append([]byte(nil), read...)}
	}
	if !cn.s.fl.offer(c) {
		return false
	}
	return true
}

// replayConn is a connection whose first bytes were read already: they are read again first.
type replayConn struct {
	net.Conn
	pre []byte
}

func (c *replayConn) Read(b []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(b, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// CloseWrite half-closes the connection, as upgrade.go does at a stream's end.
func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// connListener is a listener whose connections are the ones handed to it.
type connListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnListener() *connListener {
	return &connListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

// offer hands c over; false when the listener is closed.
func (l *connListener) offer(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
