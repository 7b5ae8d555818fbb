package proxy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// echoUpstream answers every request with its method, its body's length and SHA-256, and what it
// saw of the framing, so that a test can tell a body arrived whole.
func echoUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%s %d %x te=%v expect=%q", r.Method, n, h.Sum(nil), r.TransferEncoding, r.Header.Get("Expect"))
	}))
	t.Cleanup(s.Close)
	return s
}

func sum(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }

// rawResponse reads one response from br: its status line, head and body (by its length or
// chunked framing, decoded).
func rawResponse(t *testing.T, br *bufio.Reader) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

func dialProxy(t *testing.T, tp *testProxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(tp.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}

// TestPipelinedRequests sends three requests in one write, one with a body between two without:
// the answers come back in order, each whole.
func TestPipelinedRequests(t *testing.T) {
	t.Parallel()
	tp := startProxy(t, Options{})
	up := echoUpstream(t)
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}}}})
	c, br := dialProxy(t, tp)
	io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"+
		"POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"+
		"PUT /3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"+
		"GET /4 HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{
		"GET 0 " + sum(nil) + " te=[] ",
		"POST 5 " + sum([]byte("hello")) + " te=[] ",
		"PUT 3 " + sum([]byte("abc")) + " te=[chunked] ",
		"GET 0 " + sum(nil) + " te=[] ",
	} {
		resp, body := rawResponse(t, br)
		if resp.StatusCode != 200 || !strings.HasPrefix(body, want) || resp.Header.Get(headerVersion) != "v1" {
			t.Fatalf("answer %d %q %v, want %q", resp.StatusCode, body, resp.Header, want)
		}
	}
}

// TestExpectContinue: a client that asks before sending its body gets 100 Continue from the proxy,
// then the upstream's answer; the upstream never sees the expectation.
func TestExpectContinue(t *testing.T) {
	t.Parallel()
	tp := startProxy(t, Options{})
	up := echoUpstream(t)
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}}}})
	c, br := dialProxy(t, tp)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("first line %q %v, want 100 Continue", line, err)
	}
	br.ReadString('\n')
	io.WriteString(c, "hello")
	resp, body := rawResponse(t, br)
	if resp.StatusCode != 200 || body != "POST 5 "+sum([]byte("hello"))+` te=[] expect=""` {
		t.Fatalf("answer %d %q", resp.StatusCode, body)
	}
}

// TestSmugglingShapesAre400s: the framings two readers can disagree on are refused by the proxy
// itself, the connection closed, and no version counts a request.
func TestSmugglingShapesAre400s(t *testing.T) {
	t.Parallel()
	tp := startProxy(t, Options{})
	up := echoUpstream(t)
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}}}})
	for _, head := range []string{
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nabc\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n",
		"GET / HTTP/1.1\r\nHost: x\r\n Folded: y\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.2\r\nHost: x\r\n\r\n",
	} {
		c, br := dialProxy(t, tp)
		io.WriteString(c, head)
		b, _ := io.ReadAll(br) // to the end: the proxy closes the connection after its 400
		if !strings.HasPrefix(string(b), "HTTP/1.1 400 ") || strings.Count(string(b), "HTTP/1.1") != 1 {
			t.Errorf("%q answered %q, want one 400 and the end of the connection", head, b)
		}
	}
	if n := tp.hist.counters("v1").requests.Load(); n != 0 {
		t.Errorf("v1 counted %d requests for refused heads", n)
	}
}

// TestBodiesStream sends a 1 MiB request body, with a length and chunked in pieces, and gets a
// 1 MiB response back through the proxy's own server: each arrives whole.
func TestBodiesStream(t *testing.T) {
	t.Parallel()
	tp := startProxy(t, Options{})
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
			w.Write(payload)
			return
		}
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	}))
	t.Cleanup(up.Close)
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}}}})
	want := fmt.Sprintf("%d %s", len(payload), sum(payload))
	c, br := dialProxy(t, tp)
	go func() {
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(payload))
		c.Write(payload)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
		for p := payload; len(p) > 0; p = p[min(len(p), 100_000):] {
			fmt.Fprintf(c, "%x\r\n", min(len(p), 100_000))
			c.Write(p[:min(len(p), 100_000)])
			io.WriteString(c, "\r\n")
		}
		io.WriteString(c, "0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
	}()
	for i := range 2 {
		if resp, body := rawResponse(t, br); resp.StatusCode != 200 || body != want {
			t.Fatalf("upload %d: %d %q, want %q", i, resp.StatusCode, body, want)
		}
	}
	if resp, body := rawResponse(t, br); resp.StatusCode != 200 || body != string(payload) {
		t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(body))
	}
}

// TestUnusualRequestsGoToNetHTTP: on a connection that served a request, an HTTP/1.0 request is
// handed to net/http's server with the proxy's handler, and answered.
func TestUnusualRequestsGoToNetHTTP(t *testing.T) {
	t.Parallel()
	tp := startProxy(t, Options{})
	up := upstream(t, "v1")
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}}}})
	c, br := dialProxy(t, tp)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, _ := rawResponse(t, br); resp.StatusCode != 200 || resp.Header.Get(headerVersion) != "v1" {
		t.Fatalf("first request: %d", resp.StatusCode)
	}
	io.WriteString(c, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")
	if resp, _ := rawResponse(t, br); resp.StatusCode != 200 || resp.Header.Get(headerVersion) != "v1" {
		t.Fatalf("HTTP/1.0 request after it: %d %v", resp.StatusCode, resp.Header)
	}
	if n := tp.hist.counters("v1").requests.Load(); n != 2 {
		t.Errorf("v1 counted %d requests, want 2", n)
	}
}

// TestOwnServerAllocatesNothing guards the hot path as the issue asks: a proxied GET through the
// proxy's own server, from a raw keep-alive client (which allocates nothing) to an upstream that
// allocates nothing, allocates nothing in the whole process.
func TestOwnServerAllocatesNothing(t *testing.T) {
	if raceBuild {
		t.Skip("the race detector's sync.Pool drops buffers at random: counted without -race")
	}
	up := rawUpstream(t)
	tp := startProxy(t, Options{})
	setRoutes(t, tp, Routes{Generation: 1, Stable: "v1", Canary: "v2", Backends: []Backend{
		{Version: "v1", Weight: 95, Endpoints: []string{up}},
		{Version: "v2", Weight: 5, Endpoints: []string{up}},
	}})
	c, br := dialProxy(t, tp)
	req := []byte("GET /x?y=1 HTTP/1.1\r\nHost: proxy\r\nUser-Agent: wrk\r\nAccept: */*\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n")
	run := func() {
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		status := true
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				t.Fatal(err)
			}
			if status && !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
				t.Fatalf("answer %q", line)
			}
			status = false
			if len(line) <= 2 {
				break
			}
		}
		if _, err := br.Discard(2); err != nil {
			t.Fatal(err)
		}
	}
	run() // the pooled connection, the buffers
	allocs := testing.AllocsPerRun(500, run)
	t.Logf("%.1f allocations per proxied GET, the whole process", allocs)
	if allocs > maxHotPathAllocs {
		t.Errorf("a proxied GET allocates %.1f times through the proxy's own server, more than the %d allowed", allocs, maxHotPathAllocs)
	}
}

// TestIdleConnectionsHoldNoBuffers opens keep-alive connections that each carried one request and
// measures what they hold, against net/http's server: the proxy's own server keeps no read buffer
// per idle connection, so it must hold at least 4 KiB less per connection.
func TestIdleConnectionsHoldNoBuffers(t *testing.T) {
	const n = 400
	up := rawUpstream(t)
	perConn := func(netHTTP bool) float64 {
		tp := startProxy(t, Options{NetHTTPServer: netHTTP})
		setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{up}}}})
		addr := strings.TrimPrefix(tp.url, "http://")
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		conns := make([]net.Conn, 0, n)
		for range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, _ := rawResponse(t, bufio.NewReader(c)); resp.StatusCode != 200 {
				t.Fatalf("answer %d", resp.StatusCode)
			}
		}
		time.Sleep(100 * time.Millisecond) // every server goroutine back to its idle wait
		runtime.GC()
		runtime.ReadMemStats(&after)
		for _, c := range conns {
			c.Close()
		}
		tp.stop()
		t.Logf("netHTTP=%v: heap %d B, stacks %d B per connection", netHTTP, (int64(after.HeapInuse)-int64(before.HeapInuse))/n, (int64(after.StackInuse)-int64(before.StackInuse))/n)
		used := func(m *runtime.MemStats) float64 { return float64(m.HeapInuse + m.StackInuse) }
		return (used(&after) - used(&before)) / n
	}
	own, std := perConn(false), perConn(true)
	t.Logf("per idle connection, client side included: own server %.0f B, net/http's %.0f B", own, std)
	if own > std-4096 {
		t.Errorf("an idle connection costs %.0f B on the proxy's own server and %.0f B on net/http's: not 4 KiB less", own, std)
	}
}

// TestNextRequestDuringASlowAnswer: while a slow upstream thinks, the proxy watches the client (a
// client that goes away ends the wait); a client that sends its next request meanwhile is not
// taken for gone, and that request is served after the first.
func TestNextRequestDuringASlowAnswer(t *testing.T) {
	t.Parallel()
	tp := startProxy(t, Options{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(400 * time.Millisecond)
		}
		io.WriteString(w, r.URL.Path)
	}))
	t.Cleanup(up.Close)
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}}}})
	c, br := dialProxy(t, tp)
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(200 * time.Millisecond) // past quickAnswer: the watch is on
	io.WriteString(c, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"/slow", "/fast"} {
		if resp, body := rawResponse(t, br); resp.StatusCode != 200 || body != want {
			t.Fatalf("answer %d %q, want %q", resp.StatusCode, body, want)
		}
	}
	if n := tp.hist.counters("v1").connFailures.Load(); n != 0 {
		t.Errorf("%d connection failures", n)
	}
}

// TestHeldRequestOfAGoneClientIsDropped: a request held while no version can serve, whose client
// then goes away, is not sent when a version comes (net/http's request context did the same).
func TestHeldRequestOfAGoneClientIsDropped(t *testing.T) {
	t.Parallel()
	tp := startProxy(t, Options{})
	var got atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	t.Cleanup(up.Close)
	setRoutes(t, tp, Routes{Generation: 1, HoldTimeout: time.Minute, Backends: []Backend{{Version: "v1", Weight: 0}}})
	c, _ := dialProxy(t, tp)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, "the request to be held", func() bool { return tp.held.Load() == 1 })
	c.Close()
	waitFor(t, "the hold to end", func() bool { return tp.held.Load() == 0 })
	setRoutes(t, tp, Routes{Generation: 2, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}}}})
	time.Sleep(200 * time.Millisecond)
	if n := got.Load(); n != 0 {
		t.Errorf("the upstream got %d requests from a client that had gone", n)
	}
}
