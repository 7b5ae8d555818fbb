package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// The common request — a GET, HEAD or OPTIONS without a body — goes to the upstream over a lean
// HTTP/1.1 client of the proxy's own: a pooled connection written and read by the handler's own
// goroutine, without the two goroutines and channel hand-offs per connection of net/http's
// Transport. Only such requests, because they can be sent again on a fresh connection when a
// pooled one turns out closed by the upstream (which the Transport notices in the background and
// this client only on use). Everything else takes the Transport.

const maxIdlePerEndpoint = 1024

// upConn is one keep-alive connection to an upstream.
type upConn struct {
	c        net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	lastUsed time.Time
	lr       leanResp // the response being read, reused by every exchange
	abort    func()   // makes blocked reads and writes return; made once, not per request
	// rdl and wdl are the read and write deadlines set on c, so that a deadline already good
	// enough is not set again (each costs a timer update). Set them with readBy and writeBy.
	rdl, wdl time.Time
}

func (uc *upConn) readBy(t time.Time) {
	uc.c.SetReadDeadline(t)
	uc.rdl = t
}

func (uc *upConn) writeBy(t time.Time) {
	uc.c.SetWriteDeadline(t)
	uc.wdl = t
}

// connPool keeps idle connections to one upstream address, across routing tables.
type connPool struct {
	addr   string
	mu     sync.Mutex
	idle   []*upConn
	closed bool
}

// get returns an idle connection, or nil. Connections idle past idleConnTimeout are closed: the
// upstream has probably closed them already.
func (cp *connPool) get(now time.Time) *upConn {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	for n := len(cp.idle); n > 0; n = len(cp.idle) {
		uc := cp.idle[n-1]
		cp.idle = cp.idle[:n-1]
		if now.Sub(uc.lastUsed) < idleConnTimeout {
			return uc
		}
		uc.c.Close()
	}
	return nil
}

// put returns a connection after a complete exchange.
func (cp *connPool) put(uc *upConn, now time.Time) {
	uc.lastUsed = now
	cp.mu.Lock()
	if !cp.closed && len(cp.idle) < maxIdlePerEndpoint {
		cp.idle = append(cp.idle, uc)
		cp.mu.Unlock()
		return
	}
	cp.mu.Unlock()
	uc.c.Close()
}

// close drops the idle connections; connections in use are closed when they come back.
func (cp *connPool) close() {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.closed = true
	for _, uc := range cp.idle {
		uc.c.Close()
	}
	cp.idle = nil
}

// pools holds a connection pool per upstream address.
type pools struct {
	mu sync.Mutex
	m  map[string]*connPool
}

func (ps *pools) pool(addr string) *connPool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.m == nil {
		ps.m = map[string]*connPool{}
	}
	cp, ok := ps.m[addr]
	if !ok {
		cp = &connPool{addr: addr}
		ps.m[addr] = cp
	}
	return cp
}

// retain closes the pools of addresses not in keep.
func (ps *pools) retain(keep map[string]bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for addr, cp := range ps.m {
		if !keep[addr] {
			cp.close()
			delete(ps.m, addr)
		}
	}
}

func (ps *pools) closeAll() { ps.retain(nil) }

// leanOK reports whether r can take the lean client: a GET, HEAD or OPTIONS without a body, from an
// HTTP/1.1 client or an HTTP/2 one (whose server always gives a body, empty when the request's
// headers ended its stream: ContentLength 0).
func leanOK(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		return false
	}
	noBody := r.Body == nil || r.Body == http.NoBody || r.ProtoMajor == 2
	return r.ContentLength == 0 && noBody && r.Host != "" && (r.ProtoMajor == 1 || r.ProtoMajor == 2) &&
		len(r.Header["Expect"]) == 0 && len(r.Header["Upgrade"]) == 0 &&
		len(r.RequestURI) > 0 && r.RequestURI[0] == '/'
}

// aLongTimeAgo is a deadline in the past, to make blocked reads and writes return at once.
var aLongTimeAgo = time.Unix(1, 0)

// exchange is one request on one lean connection; finish must be called once the body is done.
type exchange struct {
	uc   *upConn
	cp   *connPool
	stop func() bool // stops the watch on the client's context; nil when none was needed
}

// finish returns the connection to its pool when the exchange completed cleanly. The response read
// on it must not be used afterwards: the next exchange on the connection reuses it.
func (x *exchange) finish(resp *http.Response, clean bool) {
	cancelled := x.stop != nil && !x.stop()
	if clean && !resp.Close && !cancelled {
		x.cp.put(x.uc, time.Now())
		return
	}
	x.uc.c.Close()
}

// stopWatch ends the exchange's watch on the client's context, if one was started.
func (x *exchange) stopWatch() {
	if x.stop != nil {
		x.stop()
	}
}

// leanRoundTrip sends r to e over a pooled connection and reads the response header. A connection
// from the pool that turns out closed by the upstream is replaced by a newly dialled one, once.
func (p *Proxy) leanRoundTrip(r *http.Request, e *endpoint, x *exchange) (*http.Response, error) {
	cp := e.pool
	for attempt := 0; ; attempt++ {
		var uc *upConn
		if attempt == 0 {
			// A retry dials: when the upstream closed one idle connection it has often closed
			// the others too (its idle timeout), and a second stale one would fail the request.
			uc = cp.get(time.Now())
		}
		reused := uc != nil
		if uc == nil {
			var err error
			if uc, err = p.dial(r.Context(), cp.addr); err != nil {
				return nil, err
			}
		}
		resp, err := p.send(r, uc, x)
		if err == nil {
			x.uc, x.cp = uc, cp
			return resp, nil
		}
		uc.c.Close()
		if !reused || attempt > 0 || r.Context().Err() != nil {
			return nil, err
		}
	}
}

func (p *Proxy) dial(ctx context.Context, addr string) (*upConn, error) {
	d := net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	uc := &upConn{c: c, br: bufio.NewReaderSize(c, 8<<10), bw: bufio.NewWriterSize(c, 8<<10)}
	uc.abort = func() { c.SetDeadline(aLongTimeAgo) }
	return uc, nil
}

// quickAnswer is how long the lean client waits for an upstream's first byte before it watches the
// client's context too (so that a client that goes away aborts a slow upstream request). Most
// answers come sooner and so cost no watch, which allocates.
const quickAnswer = 100 * time.Millisecond

// send writes r on uc and reads the response header.
func (p *Proxy) send(r *http.Request, uc *upConn, x *exchange) (*http.Response, error) {
	x.stop = nil
	w := uc.bw
	writeRequestHead(w, r, false)
	// Deadlines are set only where they may be reached; each costs a timer update.
	now := time.Now()
	deadline := now.Add(responseHeaderTimeout)
	uc.writeBy(deadline) // an upstream that reads nothing cannot hold the request
	if err := w.Flush(); err != nil {
		return nil, err
	}
	uc.readBy(now.Add(quickAnswer))
	if _, err := uc.br.Peek(1); err != nil {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return nil, eofUnexpected(err)
		}
		// A slow answer: from now on a client that goes away aborts the wait.
		if r.Context().Err() != nil {
			return nil, r.Context().Err()
		}
		x.stop = context.AfterFunc(r.Context(), uc.abort)
		uc.readBy(deadline)
		if _, err := uc.br.Peek(1); err != nil {
			x.stopWatch()
			return nil, eofUnexpected(err)
		}
	}
	if !headBuffered(uc.br) {
		uc.readBy(deadline) // the rest of the head is still on its way
	}
	var resp *http.Response
	for {
		var err error
		resp, err = uc.lr.readResponse(uc.br, r.Method)
		if err != nil {
			x.stopWatch()
			return nil, eofUnexpected(err)
		}
		// Informational answers (100 Continue, 103 Early Hints) precede the real one, which may
		// take its time.
		if resp.StatusCode < 100 || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		uc.readBy(deadline)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		x.stopWatch()
		return nil, errors.New("upstream switched protocols on a request without upgrade")
	}
	uc.readBy(time.Time{})
	uc.writeBy(time.Time{})
	return resp, nil
}

// headBuffered reports whether a whole response head is in br's buffer already.
func headBuffered(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	return bytes.Contains(b, []byte("\r\n\r\n"))
}

// eofUnexpected turns the end of a connection before an answer into io.ErrUnexpectedEOF: the
// upstream closed it without answering.
func eofUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// writeRequestHead writes r's request line and header for the upstream: without hop-by-hop headers
// (but with Upgrade and `Connection: Upgrade` when upgrade is set: they are the request), without
// X-Hugai-Route and its secret, with the client's address appended to X-Forwarded-For. r has no body.
func writeRequestHead(w *bufio.Writer, r *http.Request, upgrade bool) {
	w.WriteString(r.Method)
	w.WriteByte(' ')
	w.WriteString(r.RequestURI)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(r.Host)
	w.WriteString("\r\n")
	var xff []string
	conn := r.Header["Connection"]
	for k, vv := range r.Header {
		if isHop(k) || isRouteHeader(k) || k == "Content-Length" || k == "Host" || (conn != nil && listedIn(conn, k)) {
			if upgrade && k == "Upgrade" {
				for _, v := range vv {
					w.WriteString("Upgrade: ")
					w.WriteString(v)
					w.WriteString("\r\n")
				}
			}
			continue
		}
		if k == "X-Forwarded-For" {
			xff = vv
			continue
		}
		for _, v := range vv {
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
	if upgrade {
		w.WriteString("Connection: Upgrade\r\n")
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		w.WriteString("X-Forwarded-For: ")
		for _, v := range xff {
			w.WriteString(v)
			w.WriteString(", ")
		}
		w.WriteString(host)
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
}

// staleAfter is how long a pooled connection may have been idle before a request that cannot be
// sent twice (a body, a method that is not idempotent) checks that the upstream has not closed it.
const staleAfter = time.Second

// getLive is get, checking the connection first when check is set and it has been idle a while:
// a request that may not be retried must not be lost to a connection the upstream closed.
func (cp *connPool) getLive(now time.Time, check bool) *upConn {
	for {
		uc := cp.get(now)
		if uc == nil || !check || now.Sub(uc.lastUsed) < staleAfter || connAlive(uc.c) {
			return uc
		}
		uc.c.Close()
	}
}
