package proxy

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// One exchange of the proxy's own HTTP/1.1 server: the request head parsed in h1server.go goes to
// a version chosen as ServeHTTP chooses (route header, weights, a hold while no version can serve,
// one retry elsewhere when a connection cannot be made), over the lean client's keep-alive
// connections; the response head is rewritten into the connection's output buffer and goes back,
// with as much of the body as is already read, in one write. Bodies stream: a length is copied
// (spliced by the kernel when it is long), chunked framing is passed through as it is and
// checked on the way, nothing is buffered whole.

// errClientBody marks a request body the client framed wrongly or broke off: its 400 (or its
// closed connection) is no version's fault.
var errClientBody = errors.New("request body")

// errBadChunk is a chunked body whose framing is not RFC 9112's.
var errBadChunk = errors.New("malformed chunked body")

// exchange serves the request whose head bs.req holds. It reports whether the connection may carry
// another request, and whether it was handed to net/http's server.
func (cn *h1conn) exchange(bs *h1bufs) (keep, over bool) {
	p := cn.s.p
	br := bs.br
	h := &bs.req
	all, _ := br.Peek(br.Buffered())
	head := all[:h.size]
	closeAfter := h.close || p.draining.Load()
	// The body, when it is already read whole, goes out with the head and may be sent again.
	bodyLen, whole := 0, true
	switch {
	case h.chunked:
		n, err := chunkedEnd(all[h.size:])
		if err != nil {
			p.writeAnswerTo(cn.c, bs, http.StatusBadRequest, noneHV[0], "malformed chunked body", true)
			return false, false
		}
		if n >= 0 {
			bodyLen = n
		} else {
			whole = false
		}
	case h.hasLength:
		if int64(len(all)-h.size) >= h.contentLength {
			bodyLen = int(h.contentLength)
		} else {
			whole = false
		}
	}
	route := cn.s.route // the preview address sends everything to the preview version
	if route == "" {
		route = cn.routeOf(head, h)
	}
	start := time.Now()
	sent := start
	var failed *backend
	for {
		t := p.table.Load()
		if t == nil {
			return cn.answer(bs, whole, bodyLen, http.StatusServiceUnavailable, noneHV[0], "no routes yet", closeAfter), false
		}
		b, e := t.target(route, failed)
		if e == nil {
			wake := p.waitChan()
			if t = p.table.Load(); t != nil {
				b, e = t.target(route, failed)
			}
			if e == nil {
				if t != nil && cn.hold(bs, whole, bodyLen, wake, start.Add(t.routes.HoldTimeout)) {
					sent = time.Now()
					continue
				}
				if cn.gone.Load() {
					return false, false // the client left while held: nobody to answer
				}
				v := noneHV[0]
				if b != nil {
					v = b.version
				} else if failed != nil {
					v = failed.version
				}
				return cn.answer(bs, whole, bodyLen, http.StatusServiceUnavailable, v, "no version can serve this request", closeAfter), false
			}
		}
		if b.protocol != ProtocolHTTP1 {
			// A version that speaks HTTP/2 to its replicas: net/http's Transport, behind the
			// proxy's handler, takes this connection from here on.
			all, _ := br.Peek(br.Buffered())
			return false, cn.handOver(all)
		}
		b.stats.requests.Add(1)
		keep, consumed, err := cn.forward(bs, b, e, bodyLen, whole, closeAfter, sent)
		if err == nil {
			return keep, false
		}
		if errors.Is(err, errClientBody) {
			if errors.Is(err, errBadChunk) {
				p.writeAnswerTo(cn.c, bs, http.StatusBadRequest, noneHV[0], "malformed chunked body", true)
			}
			return false, false
		}
		if cn.gone.Load() {
			return false, false // the client went away: not the upstream's fault, and nobody to answer
		}
		b.stats.connFailures.Add(1)
		if connectionDied(err) {
			p.markDown(t, e)
		}
		if failed != nil || !neverSent(err) || consumed {
			if consumed {
				closeAfter = true // what is left of the body is not read
			}
			return cn.answer(bs, !consumed && whole, bodyLen, http.StatusBadGateway, b.version, "upstream connection failed", closeAfter), false
		}
		failed = b
	}
}

// hold is Proxy.hold for a request of this connection: while it waits, a client that goes away
// ends the wait (as net/http's request context does), so that a request nobody waits for any more
// is not sent once a version can serve. Holding is rare; what it allocates does not matter.
func (cn *h1conn) hold(bs *h1bufs, whole bool, bodyLen int, wake <-chan struct{}, deadline time.Time) bool {
	mine := 0
	if whole {
		mine = bs.req.size + bodyLen
	}
	if bs.br.Buffered() > mine {
		return cn.s.p.hold(cn.s.p.ctx, wake, deadline) // the next request is here: the client is too
	}
	ctx, cancel := context.WithCancel(cn.s.p.ctx)
	defer cancel()
	w := cn.watch(cancel)
	ok := cn.s.p.hold(ctx, wake, deadline)
	w.stop()
	return ok && !cn.gone.Load()
}

// answer writes the proxy's own response and drops the request (its body too, when it is all
// read). It reports whether the connection may carry another request.
func (cn *h1conn) answer(bs *h1bufs, whole bool, bodyLen, code int, version, msg string, closeAfter bool) bool {
	closeAfter = closeAfter || !whole
	if !closeAfter {
		bs.br.Discard(bs.req.size + bodyLen)
	}
	if err := cn.s.p.writeAnswerTo(cn.c, bs, code, version, msg, closeAfter); err != nil {
		return false
	}
	return !closeAfter
}

// writeAnswerTo writes one of the proxy's own responses in one write.
func (p *Proxy) writeAnswerTo(c net.Conn, bs *h1bufs, code int, version, msg string, closeAfter bool) error {
	o := bs.out[:0]
	o = append(o, "HTTP/1.1 "...)
	o = strconv.AppendInt(o, int64(code), 10)
	o = append(o, ' ')
	o = append(o, http.StatusText(code)...)
	o = append(o, "\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nX-Hugai-Version: "...)
	o = append(o, version...)
	o = append(o, "\r\nContent-Length: "...)
	o = strconv.AppendInt(o, int64(len(msg)+1), 10)
	if closeAfter {
		o = append(o, "\r\nConnection: close"...)
	}
	o = append(o, "\r\n\r\n"...)
	o = append(o, msg...)
	o = append(o, '\n')
	bs.out = o[:0]
	_, err := c.Write(o)
	return err
}

// routeOf is routeOf (routeheader.go) for a parsed head.
func (cn *h1conn) routeOf(head []byte, h *reqHead) string {
	if h.route.b == 0 {
		return ""
	}
	hr := &cn.s.p.opts.HeaderRouting
	ok := hr.Secret != "" && h.secret.b != 0 && subtle.ConstantTimeCompare(h.secret.of(head), cn.s.secret) == 1
	if !ok && len(hr.AllowFrom) > 0 && cn.client.IsValid() {
		for _, pf := range hr.AllowFrom {
			if pf.Contains(cn.client) {
				ok = true
				break
			}
		}
	}
	if !ok {
		return ""
	}
	// The table knows these three; a constant string, so nothing is allocated.
	switch string(h.route.of(head)) {
	case "stable":
		return "stable"
	case "canary":
		return "canary"
	case "preview":
		return "preview"
	}
	return ""
}

// idempotent methods may be sent again when a pooled connection turns out closed by the upstream
// before it answered.
func idempotent(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return false
}

// forward sends the request to endpoint e of b and copies the answer back. Like forward in
// forward.go it returns an error only when the upstream failed before a response began; consumed
// says whether the request's body was read past what was buffered (it cannot be sent again).
func (cn *h1conn) forward(bs *h1bufs, b *backend, e *endpoint, bodyLen int, whole, closeAfter bool, start time.Time) (keep, consumed bool, err error) {
	p := cn.s.p
	h := &bs.req
	all, _ := bs.br.Peek(bs.br.Buffered())
	head := all[:h.size]
	retryable := whole && idempotent(h.method.of(head))
	isHead := string(h.method.of(head)) == http.MethodHead
	cp := e.pool
	var uc *upConn
	for attempt := 0; ; attempt++ {
		reused := false
		uc = nil
		if attempt == 0 {
			uc = cp.getLive(time.Now(), !retryable)
			reused = uc != nil
		}
		if uc == nil {
			if uc, err = p.dial(p.ctx, cp.addr); err != nil {
				return false, false, err
			}
		}
		cn.setUp(uc)
		consumed, err = cn.send(bs, uc, bodyLen, whole)
		if err == nil {
			mine := 0 // bytes of this request still in the client's buffer
			if whole {
				mine = h.size + bodyLen
			}
			err = cn.awaitAnswer(bs, uc, mine)
		}
		if err == nil {
			break
		}
		cn.setUp(nil)
		uc.c.Close()
		if errors.Is(err, errClientBody) || !reused || !retryable || attempt > 0 || cn.gone.Load() {
			return false, consumed, err
		}
	}
	defer cn.setUp(nil)
	keep, clean, code, grpcFail, rerr := cn.copyResponse(bs, uc, b, e, isHead, closeAfter)
	if rerr != nil {
		uc.c.Close()
		return false, true, rerr // a malformed response head: nothing was written to the client
	}
	if clean && !uc.lr.resp.Close {
		cp.put(uc, time.Now())
	} else {
		uc.c.Close()
	}
	b.stats.observe(code, time.Since(start))
	if grpcFail {
		b.stats.grpcErrors.Add(1)
	}
	if !whole {
		return keep && clean, true, nil
	}
	bs.br.Discard(h.size + bodyLen)
	return keep && clean, false, nil
}

// send writes the request head (and its body when it is read whole) to uc in one write, then the
// rest of the body as it comes.
func (cn *h1conn) send(bs *h1bufs, uc *upConn, bodyLen int, whole bool) (consumed bool, err error) {
	h := &bs.req
	br := bs.br
	all, _ := br.Peek(br.Buffered())
	head := all[:h.size]
	w := uc.bw
	writeUpstreamHead(w, head, h, cn.clientHost)
	if whole && bodyLen > 0 {
		w.Write(all[h.size : h.size+bodyLen])
	}
	if whole {
		// Head and body in one write of a few kilobytes, which the kernel's buffer takes
		// whatever the upstream does: no write deadline to set.
		if !uc.wdl.IsZero() {
			uc.writeBy(time.Time{})
		}
		return false, w.Flush()
	}
	uc.writeBy(time.Now().Add(responseHeaderTimeout)) // an upstream that reads nothing cannot hold the request
	if err := w.Flush(); err != nil {
		return false, err
	}
	// The rest of the body streams from the client. The head is in uc's buffer already, so
	// reading on may reuse the bytes it was parsed from.
	br.Discard(h.size)
	if h.expect && br.Buffered() == 0 {
		if _, err := io.WriteString(cn.c, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
			return true, fmt.Errorf("%w: %w", errClientBody, err)
		}
	}
	cn.readBy(time.Time{})
	var rerr, werr error
	if h.chunked {
		_, rerr, werr = copyChunked(w, br)
	} else {
		rerr, werr = copyLength(w, br, nil, h.contentLength)
	}
	if rerr != nil {
		return true, fmt.Errorf("%w: %w", errClientBody, rerr)
	}
	if werr == nil {
		werr = w.Flush()
	}
	return true, werr
}

// awaitAnswer waits for the first byte of the upstream's answer. An answer slower than quickAnswer
// makes the proxy watch the client meanwhile, so that a client that goes away ends the wait.
func (cn *h1conn) awaitAnswer(bs *h1bufs, uc *upConn, mine int) error {
	now := time.Now()
	deadline := now.Add(responseHeaderTimeout)
	// The quick deadline of the previous exchange on this connection is good enough while it
	// leaves most of quickAnswer: most exchanges then set none.
	if d := uc.rdl.Sub(now); d < quickAnswer/2 || d > quickAnswer {
		uc.readBy(now.Add(quickAnswer))
	}
	// No yield before the read, though one would often save a read that finds nothing: a
	// goroutine that yields goes to the back of the global run queue, and with one core the
	// answers found there came out of order enough to double the p99 (docs/benchmarks.md,
	// "Where hugai's p99 went").
	_, err := uc.br.Peek(1)
	if err == nil {
		return nil
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		return eofUnexpected(err)
	}
	uc.readBy(deadline)
	if bs.br.Buffered() > mine {
		// The client sent its next request already (pipelining): it is there.
		_, err = uc.br.Peek(1)
		return eofUnexpected(err)
	}
	w := cn.watch(uc.abort)
	_, err = uc.br.Peek(1)
	w.stop()
	if cn.gone.Load() {
		return errors.New("client went away")
	}
	return eofUnexpected(err)
}

// watcher reads the client's connection while the upstream thinks (or the request is held): an
// end of it calls onGone, which ends the wait; a byte (the next request, early) is kept.
type watcher struct {
	cn       *h1conn
	done     chan struct{}
	stopping bool
	n        int
}

func (cn *h1conn) watch(onGone func()) *watcher {
	w := &watcher{cn: cn, done: make(chan struct{})}
	cn.readBy(time.Time{})
	go func() {
		defer close(w.done)
		n, err := cn.c.Read(cn.small[:1])
		w.n = n
		if n == 0 && err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return // stopped
			}
			cn.gone.Store(true)
			onGone()
		}
	}()
	return w
}

// stop ends the watch. A byte it read is kept in cn.small[0], for the connection's next request
// (cn.held says so).
func (w *watcher) stop() {
	w.cn.c.SetReadDeadline(aLongTimeAgo)
	<-w.done
	w.cn.readBy(time.Time{})
	w.cn.held = w.n
}

// copyResponse reads the response head from uc, writes it (rewritten) and the body to the client.
// err is a response the proxy cannot pass on (nothing was written then); clean says whether the
// whole body went through, keep whether the client's connection may carry another request.
func (cn *h1conn) copyResponse(bs *h1bufs, uc *upConn, b *backend, e *endpoint, isHead, closeAfter bool) (keep, clean bool, code int, grpcFail bool, err error) {
	p := cn.s.p
	br := uc.br
	var ri respInfo
	out := &bs.sink
	out.reset(cn.c, bs.out)
	for {
		if b, _ := br.Peek(br.Buffered()); headEnd(b) < 0 {
			// The rest of the head is still on its way: the quick deadline of awaitAnswer would
			// cut it short.
			uc.readBy(time.Now().Add(responseHeaderTimeout))
		}
		n, err := peekHead(br)
		if err != nil {
			return false, false, 0, false, eofUnexpected(err)
		}
		hb, _ := br.Peek(n)
		ri, err = rewriteResponseHead(out, hb, b.version, isHead, closeAfter)
		if err != nil {
			return false, false, 0, false, err
		}
		br.Discard(n)
		if ri.code >= 200 || ri.code == http.StatusSwitchingProtocols {
			break
		}
		out.buf = out.buf[:0] // an informational answer (100, 103) before the real one
		uc.readBy(time.Now().Add(responseHeaderTimeout))
	}
	if ri.code == http.StatusSwitchingProtocols {
		return false, false, 0, false, errors.New("upstream switched protocols on a request without upgrade")
	}
	if ri.length != 0 && (ri.length < 0 || int64(br.Buffered()) < ri.length) {
		// The body is still to be read, maybe for long (a stream): no deadline. A body that is
		// all here needs no read, and the connection's quick deadline stays for its next use.
		uc.readBy(time.Time{})
	}
	uc.lr.resp.Close = ri.close
	code = ri.code
	keep = !closeAfter && ri.length != lengthToEOF
	var rerr, werr error
	switch {
	case ri.length == 0:
	case ri.length > 0:
		rerr, werr = copyLength(out, br, uc.c, ri.length)
	default:
		// A body of unknown length may be a stream (server-sent events, a long poll): it drains
		// when its endpoint leaves the routes and is cut when its version is rolled back.
		s := &stream{version: b.version, addr: e.addr, abort: uc.abort, ended: make(chan struct{})}
		registered := p.streams.add(s, p.table.Load())
		if ri.length == lengthChunked {
			grpcFail, rerr, werr = copyChunked(out, br)
		} else {
			rerr, werr = copyToEOF(out, br)
			uc.lr.resp.Close = true
		}
		if registered {
			p.streams.remove(s)
		}
	}
	if werr == nil {
		werr = out.Flush()
	}
	grpcFail = ri.grpc && (grpcFail || ri.grpcFailed || rerr != nil || werr != nil)
	bs.out = out.buf[:0]
	return keep, rerr == nil && werr == nil, code, grpcFail, nil
}

// peekHead waits until a whole response head is in br and returns its length.
func peekHead(br *bufio.Reader) (int, error) {
	for {
		b, _ := br.Peek(br.Buffered())
		if n := headEnd(b); n > 0 {
			return n, nil
		}
		if len(b) == br.Size() {
			return 0, errHeaderTooLong
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			return 0, err
		}
	}
}
