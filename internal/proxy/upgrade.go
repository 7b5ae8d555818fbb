package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// A request with `Connection: upgrade` (a WebSocket, or any protocol switched to with Upgrade)
// becomes a stream: once the upstream answers 101, the two connections are joined byte for byte and
// the stream stays on the endpoint that accepted it for its whole life. A weight change or a
// promotion therefore never cuts it. What ends it from the proxy's side is the routes: an endpoint
// that leaves the table drains (its streams go on for the table's DrainTimeout), and a version the
// table names in Cut (a rollback) loses its streams at once. A WebSocket is ended with a close frame
// at a frame boundary, so that its client sees a clean close and reconnects, to another version.

const (
	// lingerTimeout is how long a stream's other side has to finish (answer a close frame, send its
	// last bytes) once one side is done.
	lingerTimeout = 2 * time.Second
	// frameGrace is how long a WebSocket frame that is half through the proxy when the stream is
	// ended has to arrive whole, so that the close frame follows it rather than cuts it.
	frameGrace = 2 * time.Second
)

// WebSocket close codes (RFC 6455 7.4.1; 1012 from the IANA registry).
const (
	closeGoingAway      = 1001 // the endpoint is going away: a drained version, the proxy stopping
	closeServiceRestart = 1012 // the version was rolled back: reconnect, another version will answer
)

// isUpgrade reports whether r asks to switch protocols (RFC 9110 7.8): only HTTP/1.1 can. An
// upgrade to h2c is not passed on: the proxy speaks HTTP/2 itself (with prior knowledge), and a
// connection switched to it at the upstream would carry many requests past the proxy's counters
// and weights. Such a request is served as the plain HTTP/1.1 request it also is.
func isUpgrade(r *http.Request) bool {
	up := r.Header["Upgrade"]
	if r.ProtoMajor != 1 || r.ProtoMinor < 1 || len(up) == 0 || !listedIn(r.Header["Connection"], "Upgrade") {
		return false
	}
	for _, v := range up {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" && !strings.EqualFold(p, "h2c") {
				return true
			}
		}
	}
	return false
}

// isWebSocket reports whether an upgrade is to WebSocket.
func isWebSocket(h http.Header) bool {
	for _, v := range h["Upgrade"] {
		if listedIn([]string{v}, "websocket") {
			return true
		}
	}
	return false
}

// upgrade forwards an upgrade request to e and, if the upstream switches protocols, joins the two
// connections until one side ends or the routes end the stream. Like forward, it returns an error
// only when the upstream failed before answering.
func (p *Proxy) upgrade(w http.ResponseWriter, r *http.Request, b *backend, e *endpoint, start time.Time) error {
	hj, ok := w.(http.Hijacker)
	if !ok || (r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0) {
		p.answer(w, http.StatusBadRequest, b.versionHV, "an upgrade request carries no body, over HTTP/1.1")
		return nil
	}
	uc, err := p.dialUpgrade(r.Context(), e.addr, b.protocol == ProtocolH2)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(uc, 4<<10)
	writeRequestHead(bw, r, true)
	if err := bw.Flush(); err != nil {
		uc.Close()
		return err
	}
	br := bufio.NewReaderSize(uc, 32<<10)
	uc.SetReadDeadline(time.Now().Add(responseHeaderTimeout))
	stop := context.AfterFunc(r.Context(), func() { uc.SetDeadline(aLongTimeAgo) })
	var resp *http.Response
	for {
		resp, err = http.ReadResponse(br, r)
		if err != nil {
			stop()
			uc.Close()
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if resp.StatusCode < 100 || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	if !stop() {
		uc.Close()
		return r.Context().Err()
	}
	uc.SetReadDeadline(time.Time{})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		// The upstream declined to switch: its answer goes back as an ordinary response.
		defer uc.Close()
		h := w.Header()
		copyResponseHeader(h, resp.Header)
		h[headerVersion] = b.versionHV
		w.WriteHeader(resp.StatusCode)
		bp := p.bufs.Get().(*[]byte)
		copyBody(w, resp.Body, *bp, resp.ContentLength < 0)
		p.bufs.Put(bp)
		b.stats.observe(resp.StatusCode, time.Since(start))
		return nil
	}
	b.stats.observe(resp.StatusCode, time.Since(start))
	cc, crw, err := hj.Hijack()
	if err != nil {
		uc.Close()
		return nil
	}
	// Registered before the client hears of the switch, so that a stream the client has is one the
	// routes can end; a proxy already stopping takes no new stream.
	s := &stream{version: b.version, addr: e.addr, ws: isWebSocket(resp.Header), up: uc, ended: make(chan struct{})}
	if !p.streams.add(s, p.table.Load()) {
		crw.WriteString("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
		crw.Flush()
		cc.Close()
		uc.Close()
		return nil
	}
	defer p.streams.remove(s)
	// The 101 goes back with the upstream's own headers, hop-by-hop ones included: Upgrade and
	// Connection are what the switch is made of.
	resp.Header[headerVersion] = b.versionHV
	crw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	resp.Header.Write(crw)
	crw.WriteString("\r\n")
	if err := crw.Flush(); err != nil {
		cc.Close()
		uc.Close()
		return nil
	}
	p.pipe(s, cc, crw.Reader, br)
	return nil
}

// dialUpgrade connects to an upstream for an upgrade, which is always HTTP/1.1: over TLS for a
// backend that speaks h2 (its replicas serve TLS).
func (p *Proxy) dialUpgrade(ctx context.Context, addr string, useTLS bool) (net.Conn, error) {
	d := net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	if !useTLS {
		return d.DialContext(ctx, "tcp", addr)
	}
	td := tls.Dialer{NetDialer: &d, Config: upstreamTLS([]string{"http/1.1"})}
	return td.DialContext(ctx, "tcp", addr)
}

// pipe joins the client connection cc (with what its reader already buffered) and the stream's
// upstream (read through ur) until both directions are done, then closes both.
func (p *Proxy) pipe(s *stream, cc net.Conn, cr *bufio.Reader, ur *bufio.Reader) {
	uc := s.up
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Client to upstream: what the server's reader holds first, then the connection itself.
		if n := cr.Buffered(); n > 0 {
			b, _ := cr.Peek(n)
			if _, err := uc.Write(b); err != nil {
				return
			}
		}
		io.Copy(uc, cc)
		closeWrite(uc)
		// The upstream has lingerTimeout to finish its side.
		uc.SetReadDeadline(time.Now().Add(lingerTimeout))
	}()

	bp := p.bufs.Get().(*[]byte)
	var boundary bool // the upstream side stopped between two frames
	if s.ws {
		boundary = pumpFrames(s, cc, ur, *bp)
	} else {
		copyRaw(cc, ur, *bp)
	}
	p.bufs.Put(bp)
	if s.isEnded() && s.ws && boundary {
		writeClose(cc, s.code, s.reason)
	}
	closeWrite(cc)
	// The client has lingerTimeout to answer the close and send its last bytes.
	cc.SetReadDeadline(time.Now().Add(lingerTimeout))
	<-done
	cc.Close()
	uc.Close()
}

// copyRaw copies src to dst until either fails.
func copyRaw(dst io.Writer, src io.Reader, buf []byte) {
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// pumpFrames copies WebSocket frames from the upstream (src) to the client (dst), keeping track
// of frame boundaries so that a stream ended by the proxy gets its close frame between two frames,
// never inside one. It reports whether it stopped at a boundary. The frames are not decoded: their
// headers are read for the payload length only.
func pumpFrames(s *stream, dst net.Conn, src *bufio.Reader, buf []byte) bool {
	for {
		if s.isEnded() {
			return true
		}
		hl, n, err := frameHeader(src)
		if err != nil {
			// Peek consumed nothing: whatever stopped it, the client is between frames.
			return true
		}
		// What is here goes out in one write: every whole frame, or the header with as much
		// of the payload as came with it.
		here, _ := src.Peek(src.Buffered())
		m := wholeFrames(here)
		if m == 0 {
			m = len(here) // the header, and part of the payload: not all of it (wholeFrames)
			n -= int64(m - hl)
		} else {
			n = 0
		}
		if _, err := dst.Write(here[:m]); err != nil {
			return false
		}
		src.Discard(m)
		for n > 0 {
			m, err := src.Read(buf[:min(int64(len(buf)), n)])
			if m > 0 {
				if _, werr := dst.Write(buf[:m]); werr != nil {
					return false
				}
				n -= int64(m)
			}
			if err != nil {
				var ne net.Error
				if s.isEnded() && errors.As(err, &ne) && ne.Timeout() {
					// Ended mid-frame: give the rest of the frame a moment to arrive.
					s.up.SetReadDeadline(time.Now().Add(frameGrace))
					continue
				}
				return false
			}
		}
	}
}

// wholeFrames returns the length of the longest prefix of b made of whole WebSocket frames.
func wholeFrames(b []byte) int {
	end := 0
	for {
		hl, n, ok := parseFrameHeader(b[end:])
		if !ok || int64(len(b)-end-hl) < n {
			return end
		}
		end += hl + int(n)
	}
}

// frameHeader peeks at the next frame's header and returns its length and the payload's.
func frameHeader(r *bufio.Reader) (hl int, n int64, err error) {
	h, err := r.Peek(2)
	if err != nil {
		return 0, 0, err
	}
	if h, err = r.Peek(frameHeaderLen(h)); err != nil {
		return 0, 0, err
	}
	hl, n, _ = parseFrameHeader(h)
	if n < 0 {
		return 0, 0, errors.New("websocket frame longer than 2^63 bytes")
	}
	return hl, n, nil
}

// frameHeaderLen is the length of the header whose first two bytes h holds.
func frameHeaderLen(h []byte) int {
	hl := 2
	switch h[1] & 0x7f {
	case 126:
		hl += 2
	case 127:
		hl += 8
	}
	if h[1]&0x80 != 0 {
		hl += 4 // masking key
	}
	return hl
}

// parseFrameHeader reads the frame header at the start of b: its length and the payload's (negative
// when it overflows). ok is false when b does not hold the whole header.
func parseFrameHeader(b []byte) (hl int, n int64, ok bool) {
	if len(b) < 2 {
		return 0, 0, false
	}
	hl = frameHeaderLen(b)
	if len(b) < hl {
		return 0, 0, false
	}
	n = int64(b[1] & 0x7f)
	switch n {
	case 126:
		n = int64(b[2])<<8 | int64(b[3])
	case 127:
		n = 0
		for _, c := range b[2:10] {
			n = n<<8 | int64(c)
		}
	}
	return hl, n, n >= 0
}

// writeClose writes a server's close frame (unmasked) with code and reason.
func writeClose(w net.Conn, code int, reason string) {
	if len(reason) > 123 {
		reason = reason[:123] // a control frame's payload is at most 125 bytes
	}
	f := make([]byte, 0, 4+len(reason))
	f = append(f, 0x88, byte(2+len(reason)), byte(code>>8), byte(code))
	f = append(f, reason...)
	w.SetWriteDeadline(time.Now().Add(lingerTimeout))
	w.Write(f)
}

// closeWrite half-closes c when it can, so that the peer reads the end of the stream while its
// own bytes may still arrive.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

// copyResponseHeader copies an upstream's response header for the client, without hop-by-hop
// headers. Value slices are shared: nothing modifies them.
func copyResponseHeader(dst, src http.Header) {
	for k, vv := range src {
		if !isHop(k) {
			dst[k] = vv
		}
	}
	if c := src["Connection"]; len(c) > 0 {
		removeConnectionHeaders(dst, c)
	}
}
