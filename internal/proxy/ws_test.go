package proxy

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A small RFC 6455 client and echo server, enough to hold real WebSocket connections through the
// proxy: frames are encoded and decoded by hand, masked from the client as the RFC requires.

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

type wsFrame struct {
	op      byte
	payload []byte
}

// closeCode returns a close frame's code, 1005 (none) when it carries none.
func (f wsFrame) closeCode() int {
	if len(f.payload) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(f.payload))
}

func readFrame(r *bufio.Reader) (wsFrame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return wsFrame{}, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return wsFrame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return wsFrame{}, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<26 {
		return wsFrame{}, fmt.Errorf("frame of %d bytes: more than the tests send", n)
	}
	var mask [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(r, mask[:]); err != nil {
			return wsFrame{}, err
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return wsFrame{}, err
	}
	if masked {
		for i := range p {
			p[i] ^= mask[i%4]
		}
	}
	return wsFrame{op: h[0] & 0x0f, payload: p}, nil
}

// encodeFrame encodes a final frame; masked for a client's frames.
func encodeFrame(op byte, p []byte, masked bool) []byte {
	b := []byte{0x80 | op}
	mbit := byte(0)
	if masked {
		mbit = 0x80
	}
	switch {
	case len(p) < 126:
		b = append(b, mbit|byte(len(p)))
	case len(p) < 1<<16:
		b = append(b, mbit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
	default:
		b = append(b, mbit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(len(p)))
	}
	if !masked {
		return append(b, p...)
	}
	var mask [4]byte
	rand.Read(mask[:])
	b = append(b, mask[:]...)
	for i, c := range p {
		b = append(b, c^mask[i%4])
	}
	return b
}

// wsUpstream is a WebSocket echo server answering "<version>:<message>". A message "slow:N"
// is answered with one frame of N bytes whose second half is sent 300 ms after the first.
func wsUpstream(t *testing.T, version string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			fmt.Fprint(w, version)
			return
		}
		if r.Header.Get(headerRoute) != "" {
			http.Error(w, "routing header forwarded", http.StatusBadRequest)
			return
		}
		c, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			wsAccept(r.Header.Get("Sec-WebSocket-Key")))
		rw.Flush()
		for {
			f, err := readFrame(rw.Reader)
			if err != nil {
				return
			}
			switch {
			case f.op == 0x8:
				c.Write(encodeFrame(0x8, f.payload, false))
				return
			case strings.HasPrefix(string(f.payload), "slow:"):
				var n int
				fmt.Sscanf(string(f.payload), "slow:%d", &n)
				fr := encodeFrame(0x2, []byte(strings.Repeat("x", n)), false)
				c.Write(fr[:len(fr)/2])
				time.Sleep(300 * time.Millisecond)
				c.Write(fr[len(fr)/2:])
			default:
				c.Write(encodeFrame(0x1, []byte(version+":"+string(f.payload)), false))
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// wsConn is a client's WebSocket connection through the proxy.
type wsConn struct {
	c       net.Conn
	r       *bufio.Reader
	version string // X-Hugai-Version of the handshake
}

// dialWS opens a WebSocket through the proxy at addr (host:port), with optional header pairs.
func dialWS(t *testing.T, addr string, hdr ...string) *wsConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return handshakeWS(t, c, addr, hdr...)
}

// handshakeWS opens a WebSocket on the connection c to the proxy at addr.
func handshakeWS(t *testing.T, c net.Conn, addr string, hdr ...string) *wsConn {
	t.Helper()
	t.Cleanup(func() { c.Close() })
	var key [16]byte
	rand.Read(key[:])
	k := base64.StdEncoding.EncodeToString(key[:])
	var extra strings.Builder
	for i := 0; i+1 < len(hdr); i += 2 {
		fmt.Fprintf(&extra, "%s: %s\r\n", hdr[i], hdr[i+1])
	}
	fmt.Fprintf(c, "GET /chat HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n", addr, k, extra.String())
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("websocket handshake: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("websocket handshake: %s", resp.Status)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != wsAccept(k) {
		t.Fatalf("Sec-WebSocket-Accept %q, want %q", got, wsAccept(k))
	}
	c.SetReadDeadline(time.Time{})
	return &wsConn{c: c, r: r, version: resp.Header.Get(headerVersion)}
}

func (ws *wsConn) send(t *testing.T, op byte, msg string) {
	t.Helper()
	if _, err := ws.c.Write(encodeFrame(op, []byte(msg), true)); err != nil {
		t.Fatalf("send %q: %v", msg, err)
	}
}

func (ws *wsConn) read(d time.Duration) (wsFrame, error) {
	ws.c.SetReadDeadline(time.Now().Add(d))
	defer ws.c.SetReadDeadline(time.Time{})
	return readFrame(ws.r)
}

// echo sends msg and returns the answer's payload.
func (ws *wsConn) echo(t *testing.T, msg string) string {
	t.Helper()
	ws.send(t, 0x1, msg)
	f, err := ws.read(5 * time.Second)
	if err != nil {
		t.Fatalf("echo %q on the stream to %s: %v", msg, ws.version, err)
	}
	return string(f.payload)
}

// expectClose reads until a close frame and returns its code; it fails on anything else.
func (ws *wsConn) expectClose(t *testing.T, within time.Duration) int {
	t.Helper()
	f, err := ws.read(within)
	if err != nil {
		t.Fatalf("want a close frame on the stream to %s: %v", ws.version, err)
	}
	if f.op != 0x8 {
		t.Fatalf("want a close frame on the stream to %s, got opcode %d %q", ws.version, f.op, f.payload)
	}
	// The client answers, as RFC 6455 5.5.1 asks, and the proxy then closes the connection.
	ws.c.Write(encodeFrame(0x8, f.payload[:2], true))
	if _, err := ws.read(5 * time.Second); !errors.Is(err, io.EOF) {
		t.Errorf("after the close: %v, want EOF", err)
	}
	return f.closeCode()
}

func wsRoutes(gen int64, v1, v2 *httptest.Server, w1 int) Routes {
	return Routes{Generation: gen, Stable: "v1", Canary: "v2", Backends: []Backend{
		{Version: "v1", Weight: w1, Endpoints: []string{hostport(v1)}},
		{Version: "v2", Weight: 100 - w1, Endpoints: []string{hostport(v2)}},
	}}
}

func TestWebSocketPinnedAcrossWeightChangeAndPromotion(t *testing.T) {
	t.Parallel()
	tp := startProxy(t, Options{})
	v1, v2 := wsUpstream(t, "v1"), wsUpstream(t, "v2")
	setRoutes(t, tp, wsRoutes(1, v1, v2, 95))
	addr := strings.TrimPrefix(tp.url, "http://")
	onV1 := dialWS(t, addr, headerRoute, "stable")
	onV2 := dialWS(t, addr, headerRoute, "canary")
	if onV1.version != "v1" || onV2.version != "v2" {
		t.Fatalf("handshakes answered by %s and %s, want v1 and v2", onV1.version, onV2.version)
	}
	check := func(when string) {
		t.Helper()
		if got := onV1.echo(t, "a "+when); got != "v1:a "+when {
			t.Errorf("%s: stream to v1 answered %q", when, got)
		}
		if got := onV2.echo(t, "b "+when); got != "v2:b "+when {
			t.Errorf("%s: stream to v2 answered %q", when, got)
		}
	}
	check("at 95/5")
	setRoutes(t, tp, wsRoutes(2, v1, v2, 0)) // the canary takes all traffic
	check("at 0/100")
	// Promotion: v2 becomes the stable, v1 leaves the table. Its stream drains (30 s by default)
	// instead of being cut.
	setRoutes(t, tp, Routes{Generation: 3, Stable: "v2", Backends: []Backend{
		{Version: "v2", Weight: 100, Endpoints: []string{hostport(v2)}},
	}})
	check("after the promotion")
	if ws := dialWS(t, addr); ws.version != "v2" {
		t.Errorf("a new stream after the promotion went to %s", ws.version)
	}
	if n := tp.streams.open(); n != 3 {
		t.Errorf("%d open streams, want 3", n)
	}
	if got := tp.hist.counters("v1").requests.Load(); got != 1 {
		t.Errorf("v1 counted %d requests, want its one handshake", got)
	}
}

func TestWebSocketRollbackCutsWithCloseFrame(t *testing.T) {
	t.Parallel()
	tp := startProxy(t, Options{})
	v1, v2 := wsUpstream(t, "v1"), wsUpstream(t, "v2")
	setRoutes(t, tp, wsRoutes(1, v1, v2, 95))
	addr := strings.TrimPrefix(tp.url, "http://")
	onV1 := dialWS(t, addr, headerRoute, "stable")
	onV2 := dialWS(t, addr, headerRoute, "canary")
	// A frame half through the proxy when the rollback lands arrives whole before the close.
	onV2.send(t, 0x1, "slow:100000")
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	rb := wsRoutes(2, v1, v2, 100)
	rb.Canary = ""
	rb.Cut = []string{"v2"}
	setRoutes(t, tp, rb)
	f, err := onV2.read(5 * time.Second)
	if err != nil || f.op != 0x2 || len(f.payload) != 100000 || strings.Trim(string(f.payload), "x") != "" {
		t.Fatalf("the frame in flight: op %d, %d bytes, %v; want it whole", f.op, len(f.payload), err)
	}
	if code := onV2.expectClose(t, 5*time.Second); code != closeServiceRestart {
		t.Errorf("close code %d, want %d (service restart)", code, closeServiceRestart)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the rolled-back stream ended %s after the rollback", d)
	}
	if got := onV1.echo(t, "still here"); got != "v1:still here" {
		t.Errorf("stream to v1 after the rollback answered %q", got)
	}
	waitFor(t, "the cut stream to be forgotten", func() bool { return tp.streams.open() == 1 })
}

func TestWebSocketDrainsWhenItsVersionStops(t *testing.T) {
	t.Parallel()
	tp := startProxy(t, Options{})
	v1, v2 := wsUpstream(t, "v1"), wsUpstream(t, "v2")
	setRoutes(t, tp, wsRoutes(1, v1, v2, 95))
	addr := strings.TrimPrefix(tp.url, "http://")
	onV2 := dialWS(t, addr, headerRoute, "canary")
	r := wsRoutes(2, v1, v2, 100)
	r.Canary = ""
	r.Backends = r.Backends[:1] // v2 stops, not judged bad
	r.DrainTimeout = 700 * time.Millisecond
	stopped := time.Now()
	setRoutes(t, tp, r)
	if got := onV2.echo(t, "draining"); got != "v2:draining" {
		t.Errorf("draining stream answered %q", got)
	}
	if code := onV2.expectClose(t, 5*time.Second); code != closeGoingAway {
		t.Errorf("close code %d, want %d (going away)", code, closeGoingAway)
	}
	if d := time.Since(stopped); d < 700*time.Millisecond {
		t.Errorf("the stream ended %s after its version stopped, before the drain timeout", d)
	}
}

func TestWebSocketEndsWhenTheProxyStops(t *testing.T) {
	t.Parallel()
	tp := startProxy(t, Options{})
	v1, v2 := wsUpstream(t, "v1"), wsUpstream(t, "v2")
	setRoutes(t, tp, wsRoutes(1, v1, v2, 100))
	ws := dialWS(t, strings.TrimPrefix(tp.url, "http://"))
	errc := make(chan error, 1)
	go func() { errc <- tp.stop() }()
	if code := ws.expectClose(t, 10*time.Second); code != closeGoingAway {
		t.Errorf("close code %d, want %d", code, closeGoingAway)
	}
	if err := <-errc; err != nil {
		t.Errorf("serve: %v", err)
	}
}

func TestUpgradeRefusedIsAnOrdinaryAnswer(t *testing.T) {
	t.Parallel()
	tp := startProxy(t, Options{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no upgrade here", http.StatusUpgradeRequired)
	}))
	t.Cleanup(up.Close)
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}}}})
	req, _ := http.NewRequest(http.MethodGet, tp.url+"/", nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	resp, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired || resp.Header.Get(headerVersion) != "v1" || string(b) != "no upgrade here\n" {
		t.Errorf("got %s %q %q", resp.Status, resp.Header.Get(headerVersion), b)
	}
}

// TestRawUpgradePassesThrough switches to a made-up line protocol: any Upgrade is joined byte for
// byte, and a rollback closes it (there is no frame to end it with).
func TestRawUpgradePassesThrough(t *testing.T) {
	t.Parallel()
	tp := startProxy(t, Options{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: lines\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		for {
			l, err := rw.ReadString('\n')
			if err != nil {
				return
			}
			rw.WriteString(strings.ToUpper(l))
			rw.Flush()
		}
	}))
	t.Cleanup(up.Close)
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}}}})
	c, err := net.Dial("tcp", strings.TrimPrefix(tp.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The first line of the new protocol travels with the handshake, as a client may send it.
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: lines\r\nConnection: Upgrade\r\n\r\nhello\n")
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "lines" {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	for _, want := range []string{"HELLO\n", "AGAIN\n"} {
		if l, err := r.ReadString('\n'); l != want {
			t.Fatalf("read %q %v, want %q", l, err, want)
		}
		fmt.Fprint(c, "again\n")
	}
	setRoutes(t, tp, Routes{Generation: 2, Cut: []string{"v1"}, Backends: []Backend{{Version: "v1", Weight: 0, Endpoints: []string{hostport(up)}}}})
	rest, err := io.ReadAll(r)
	if err != nil || len(rest) > len("AGAIN\n") {
		t.Errorf("after the cut: %q %v, want the end of the stream", rest, err)
	}
}

// TestH2CUpgradeIsServedAsHTTP1: `Upgrade: h2c` (curl --http2 on an http:// URL) is not passed to
// the upstream, which would then carry the connection's requests past the proxy: the request is
// answered as HTTP/1.1, by a version the weights chose, and counted.
func TestH2CUpgradeIsServedAsHTTP1(t *testing.T) {
	t.Parallel()
	tp := startProxy(t, Options{})
	var sawUpgrade atomic.Bool
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" || r.Header.Get("Http2-Settings") != "" {
			sawUpgrade.Store(true)
		}
		fmt.Fprint(w, "v1")
	}))
	t.Cleanup(up.Close)
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}}}})
	req, _ := http.NewRequest(http.MethodGet, tp.url+"/", nil)
	req.Header.Set("Upgrade", "h2c")
	req.Header.Set("Connection", "Upgrade, HTTP2-Settings")
	req.Header.Set("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")
	resp, err := newClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 1 || string(b) != "v1" || resp.Header.Get(headerVersion) != "v1" {
		t.Errorf("got %s %s %q from %q", resp.Proto, resp.Status, b, resp.Header.Get(headerVersion))
	}
	if sawUpgrade.Load() {
		t.Error("the upstream was asked to upgrade to h2c")
	}
	if n := tp.hist.counters("v1").requests.Load(); n != 1 {
		t.Errorf("%d requests counted, want 1", n)
	}
}

// TestWebSocketOverTLS holds a WebSocket through the TLS listener (HTTP/1.1 by ALPN, as WebSocket
// clients ask) and cuts it with a rollback: the close frame goes out over TLS.
func TestWebSocketOverTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, _ := writeCert(t, t.TempDir(), 7)
	tp := startProxy(t, Options{TLSCert: certFile, TLSKey: keyFile})
	v1, v2 := wsUpstream(t, "v1"), wsUpstream(t, "v2")
	setRoutes(t, tp, wsRoutes(1, v1, v2, 50))
	addr := strings.TrimPrefix(tp.url, "http://")
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	ws := handshakeWS(t, c, addr, headerRoute, "canary")
	if got := ws.echo(t, "over tls"); got != "v2:over tls" {
		t.Fatalf("echo: %q", got)
	}
	rb := wsRoutes(2, v1, v2, 100)
	rb.Canary, rb.Cut = "", []string{"v2"}
	setRoutes(t, tp, rb)
	if code := ws.expectClose(t, 5*time.Second); code != closeServiceRestart {
		t.Errorf("close code %d, want %d", code, closeServiceRestart)
	}
}
