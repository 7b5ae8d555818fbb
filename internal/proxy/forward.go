package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

const (
	headerVersion = "X-Hugai-Version"
	headerRoute   = "X-Hugai-Route"
)

// noneHV is the X-Hugai-Version of answers that no version gave. Never modified.
var noneHV = []string{"none"}

// isHop reports whether a canonical header name is meaningful for one connection only and so is
// not forwarded (RFC 9110 7.6.1). A switch, not a map, because it runs for every header of every
// request and response.
func isHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// ServeHTTP forwards one user request to a version chosen by weight or, where HeaderRouting
// allows it, by X-Hugai-Route.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.serve(w, r, p.routeOf(r)) }

// serve forwards r to the version route names (stable, canary, preview), or by weight when route
// is "" or names no version.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, route string) {
	if p.draining.Load() {
		// Handed over: this connection ends after this answer, and its client reconnects to the
		// successor (HTTP/2: a GOAWAY).
		w.Header().Set("Connection", "close")
	}
	start := time.Now()
	// sent is when the request went to a version: a version's latency is its own, not the time
	// the proxy held the request while no version could serve it (a first deploy, a recreate).
	sent := start
	var body *replayBody
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		body = &replayBody{rc: r.Body}
	}
	var failed *backend // the version whose endpoint failed to connect, once
	for {
		t := p.table.Load()
		if t == nil {
			p.answer(w, http.StatusServiceUnavailable, noneHV, "no routes yet")
			return
		}
		b, e := t.target(route, failed)
		if e == nil {
			// Nothing can serve: hold until the routes change or an endpoint comes back. The
			// channel is taken before looking again, so a change in between is not missed.
			wake := p.waitChan()
			if t = p.table.Load(); t != nil {
				b, e = t.target(route, failed)
			}
			if e == nil {
				if t != nil && p.hold(r.Context(), wake, start.Add(t.routes.HoldTimeout)) {
					sent = time.Now()
					continue
				}
				hv := noneHV
				if b != nil {
					hv = b.versionHV
				} else if failed != nil {
					hv = failed.versionHV
				}
				p.answer(w, http.StatusServiceUnavailable, hv, "no version can serve this request")
				return
			}
		}
		b.stats.requests.Add(1)
		var err error
		if isUpgrade(r) {
			err = p.upgrade(w, r, b, e, sent)
		} else {
			err = p.forward(w, r, b, e, body, sent)
		}
		if err == nil {
			return
		}
		if r.Context().Err() != nil {
			return // the client went away: not the upstream's fault, and nobody to answer
		}
		// The upstream failed before answering: count it against its version, and drop the
		// endpoint if its connection died. A failed dial means the request was never sent, so it
		// may go elsewhere, once.
		b.stats.connFailures.Add(1)
		if connectionDied(err) {
			p.markDown(t, e)
		}
		if failed != nil || !neverSent(err) || (body != nil && body.read) {
			p.answer(w, http.StatusBadGateway, b.versionHV, "upstream connection failed")
			return
		}
		failed = b
	}
}

// target picks the backend and endpoint for a request: the version its route names, else after a failed
// connection another replica of the failed version or, with none left, another version by weight,
// else any version by weight. The endpoint is nil when nothing can serve; the backend is then the
// one that could not, if one was chosen.
func (t *table) target(route string, failed *backend) (*backend, *endpoint) {
	if route != "" {
		if b := t.byRoute(route); b != nil {
			return b, b.endpoint()
		}
	}
	if failed != nil {
		// failed points into the table the request started on; find its replacement by version.
		for _, b := range t.backends {
			if b.version == failed.version {
				if e := b.endpoint(); e != nil {
					return b, e
				}
				failed = b
				break
			}
		}
		if b := t.choose(failed); b != nil {
			return b, b.endpoint()
		}
		return nil, nil
	}
	b := t.choose(nil)
	if b == nil {
		return nil, nil
	}
	return b, b.endpoint()
}

// hold waits for wake until deadline; false when the wait is over with nothing new.
func (p *Proxy) hold(ctx context.Context, wake <-chan struct{}, deadline time.Time) bool {
	d := time.Until(deadline)
	if d <= 0 {
		return false
	}
	p.held.Add(1)
	defer p.held.Add(-1)
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-wake:
		return true
	case <-timer.C:
	case <-ctx.Done():
	case <-p.done:
	}
	return false
}

// answer writes the proxy's own response.
func (p *Proxy) answer(w http.ResponseWriter, code int, hv []string, msg string) {
	h := w.Header()
	h[headerVersion] = hv
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}

// forward sends r to endpoint e of b and copies the answer back. It returns an error only when the
// upstream failed before a response began, so that the caller may answer or retry; once headers
// are written, a failure aborts the response (panic(http.ErrAbortHandler)): a chunked HTTP/1.1
// body must not end as if complete, and an HTTP/2 stream gets a RST_STREAM.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, b *backend, e *endpoint, body *replayBody, start time.Time) error {
	var x exchange
	lean := b.protocol == ProtocolHTTP1 && leanOK(r)
	var resp *http.Response
	var err error
	var abort func() // ends the upstream side of the exchange
	if lean {
		resp, err = p.leanRoundTrip(r, e, &x)
		if err == nil {
			abort = x.uc.abort
		}
	} else {
		var cancel context.CancelFunc
		resp, cancel, err = p.roundTrip(r, b, e, body)
		defer cancel()
		abort = cancel
	}
	if err != nil {
		return err
	}
	var registered *stream
	if resp.ContentLength < 0 {
		// A body of unknown length may be a stream (server-sent events, a gRPC stream, a long
		// poll): like an upgraded connection, it drains when its endpoint leaves the routes and is
		// cut when its version is rolled back.
		s := &stream{version: b.version, addr: e.addr, abort: abort, ended: make(chan struct{})}
		if p.streams.add(s, p.table.Load()) {
			registered = s
		}
	}
	h := w.Header()
	copyResponseHeader(h, resp.Header)
	h[headerVersion] = b.versionHV
	for k := range resp.Trailer {
		h.Add("Trailer", k)
	}
	w.WriteHeader(resp.StatusCode)

	bp := p.bufs.Get().(*[]byte)
	clean := copyBody(w, resp.Body, *bp, resp.ContentLength < 0)
	p.bufs.Put(bp)
	// Trailers, gRPC's status among them, arrive with the end of the body: the announced ones and
	// the others alike go out under the prefix that makes net/http send them as trailers.
	for k, vv := range resp.Trailer {
		h[http.TrailerPrefix+k] = vv
	}
	status := resp.StatusCode
	grpcError := isGRPC(resp.Header) && (!clean || grpcFailed(resp))
	if registered != nil {
		p.streams.remove(registered) // before the connection can serve another request
	}
	// Only now may the lean connection go back to its pool: the next exchange on it reuses resp.
	if lean {
		x.finish(resp, clean)
	} else {
		resp.Body.Close()
	}
	b.stats.observe(status, time.Since(start))
	if grpcError {
		b.stats.grpcErrors.Add(1)
	}
	if !clean {
		panic(http.ErrAbortHandler) // net/http's server ends the response without a word in its log
	}
	return nil
}

// roundTrip sends r to e through net/http's Transport for b's protocol, for requests the lean
// client does not take. The returned cancel ends the exchange; it must be called once it is over.
func (p *Proxy) roundTrip(r *http.Request, b *backend, e *endpoint, body *replayBody) (*http.Response, context.CancelFunc, error) {
	tr, scheme := p.transports.forProtocol(b.protocol)
	// Derived from r's context, so a client that goes away cancels the upstream request.
	ctx, cancel := context.WithCancel(r.Context())
	out := r.WithContext(ctx)
	u := *r.URL
	u.Scheme = scheme
	u.Host = e.addr
	out.URL = &u
	out.RequestURI = ""
	out.Close = false
	out.Header = forwardHeader(r)
	if body != nil {
		out.Body = body
	} else {
		out.Body = nil
		out.ContentLength = 0
	}
	out.Proto, out.ProtoMajor, out.ProtoMinor = "HTTP/1.1", 1, 1
	resp, err := tr.RoundTrip(out)
	return resp, cancel, err
}

// copyBody copies an upstream body to the client, flushing each chunk of a body of unknown length
// (server-sent events, long polls) so that it is not held back in the proxy.
// It reports whether the whole body was read and written.
func copyBody(w http.ResponseWriter, src io.Reader, buf []byte, flush bool) bool {
	f, _ := w.(http.Flusher)
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return false
			}
			if flush && f != nil {
				f.Flush()
			}
		}
		if rerr == io.EOF {
			return true
		}
		if rerr != nil {
			return false
		}
	}
}

// forwardHeader copies r's header for the upstream: without hop-by-hop headers, with the client's
// address appended to X-Forwarded-For. Value slices are shared, not copied: nothing modifies them.
func forwardHeader(r *http.Request) http.Header {
	h := make(http.Header, len(r.Header)+2)
	for k, vv := range r.Header {
		if !isHop(k) && !isRouteHeader(k) {
			h[k] = vv
		}
	}
	if c := r.Header["Connection"]; len(c) > 0 {
		removeConnectionHeaders(h, c)
	}
	if te := r.Header["Te"]; len(te) > 0 && te[0] == "trailers" {
		h["Te"] = te
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = emptyUA // keep Go's default User-Agent out of the upstream's logs
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := h["X-Forwarded-For"]; len(prior) > 0 {
			h["X-Forwarded-For"] = []string{strings.Join(prior, ", ") + ", " + host}
		} else {
			h["X-Forwarded-For"] = []string{host}
		}
	}
	return h
}

var emptyUA = []string{""}

// listedIn reports whether the canonical header name k is one of the Connection header's tokens.
func listedIn(conn []string, k string) bool {
	for _, v := range conn {
		for len(v) > 0 {
			var f string
			f, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(f), k) {
				return true
			}
		}
	}
	return false
}

// removeConnectionHeaders deletes the headers a Connection header lists as hop-by-hop.
func removeConnectionHeaders(h http.Header, conn []string) {
	for _, v := range conn {
		for len(v) > 0 {
			var f string
			f, v, _ = strings.Cut(v, ",")
			if f = strings.TrimSpace(f); f != "" {
				delete(h, http.CanonicalHeaderKey(f))
			}
		}
	}
}

// neverSent reports whether err means the request never reached the upstream: the connection
// could not be made.
func neverSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// connectionDied reports whether err means the endpoint itself is gone or broke the connection,
// rather than being slow (a timeout), which does not take it out of rotation.
func connectionDied(err error) bool {
	return neverSent(err) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE)
}

// replayBody lets a request body be offered to a second upstream when the first could not be
// reached: the transport closes a body even when it never read it, so Close is left to the server.
type replayBody struct {
	rc   io.ReadCloser
	read bool
}

func (b *replayBody) Read(p []byte) (int, error) {
	b.read = true
	return b.rc.Read(p)
}

func (b *replayBody) Close() error { return nil }
