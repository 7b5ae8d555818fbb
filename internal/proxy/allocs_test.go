package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// rawUpstream is an HTTP/1.1 upstream that allocates nothing per request: it reads request heads
// with ReadSlice and answers each with the same bytes. With it, the allocations counted around a
// proxied request are the proxy's own.
func rawUpstream(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	answer := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadSlice('\n')
					if err != nil {
						return
					}
					if len(bytes.TrimRight(line, "\r\n")) == 0 {
						if _, err := c.Write(answer); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// hotRequest is a GET as net/http's server hands it to the proxy, with the headers a browser or
// wrk sends.
func hotRequest() *http.Request {
	req := httptest.NewRequest(http.MethodGet, "http://proxy/x?y=1", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	req.RequestURI = "/x?y=1"
	req.Header.Set("User-Agent", "wrk")
	req.Header.Set("Accept", "*/*")
	return req
}

// maxHotPathAllocs is what one proxied GET may allocate in the proxy's own code (net/http's server
// allocates on top of it, outside the proxy's reach). Lower it when the hot path gets leaner; a
// change that raises it must say why.
const maxHotPathAllocs = 0

func TestHotPathAllocations(t *testing.T) {
	up := rawUpstream(t)
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.pools.closeAll()
	if err := p.SetRoutes(Routes{Generation: 1, Stable: "v1", Canary: "v2", Backends: []Backend{
		{Version: "v1", Weight: 95, Endpoints: []string{up}},
		{Version: "v2", Weight: 5, Endpoints: []string{up}},
	}}); err != nil {
		t.Fatal(err)
	}
	// The same GET from an HTTP/2 client, as net/http's HTTP/2 server hands it over: a body that
	// is empty rather than none.
	h2 := hotRequest()
	h2.Proto, h2.ProtoMajor, h2.ProtoMinor = "HTTP/2.0", 2, 0
	h2.Body = io.NopCloser(strings.NewReader(""))
	for _, req := range []*http.Request{hotRequest(), h2} {
		w := &discardWriter{h: http.Header{}}
		run := func() {
			clear(w.h)
			w.code = 0
			p.ServeHTTP(w, req)
			if w.code != 200 {
				t.Fatalf("proxied GET answered %d", w.code)
			}
		}
		run() // the pooled connection, the header map's buckets
		allocs := testing.AllocsPerRun(200, run)
		t.Logf("%.1f allocations per proxied %s GET", allocs, req.Proto)
		if allocs > maxHotPathAllocs {
			t.Errorf("a proxied %s GET allocates %.1f times, more than the %d allowed", req.Proto, allocs, maxHotPathAllocs)
		}
	}
}

// BenchmarkHotPath is one proxied GET in the proxy's own code, against the allocation-free
// upstream: what TestHotPathAllocations guards, with its time.
func BenchmarkHotPath(b *testing.B) {
	up := rawUpstream(b)
	p, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.pools.closeAll()
	if err := p.SetRoutes(Routes{Generation: 1, Backends: []Backend{
		{Version: "v1", Weight: 95, Endpoints: []string{up}},
		{Version: "v2", Weight: 5, Endpoints: []string{up}},
	}}); err != nil {
		b.Fatal(err)
	}
	req := hotRequest()
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		p.ServeHTTP(w, req)
	}
}

// BenchmarkEndToEnd is one proxied GET through the proxy's real HTTP server, over keep-alive
// connections from a raw client (which allocates nothing) to the allocation-free upstream: the
// proxy's whole cost per request, net/http's server included.
func BenchmarkEndToEnd(b *testing.B) {
	// own: the proxy's own HTTP/1.1 server (the default); net-http: net/http's server alone.
	b.Run("own", func(b *testing.B) { benchEndToEnd(b, Options{}) })
	b.Run("net-http", func(b *testing.B) { benchEndToEnd(b, Options{NetHTTPServer: true}) })
}

func benchEndToEnd(b *testing.B, o Options) {
	up := rawUpstream(b)
	tp := startProxyB(b, o)
	if err := tp.SetRoutes(Routes{Generation: 1, Stable: "v1", Canary: "v2", Backends: []Backend{
		{Version: "v1", Weight: 95, Endpoints: []string{up}},
		{Version: "v2", Weight: 5, Endpoints: []string{up}},
	}}); err != nil {
		b.Fatal(err)
	}
	addr := tp.addr
	req := []byte("GET /x?y=1 HTTP/1.1\r\nHost: proxy\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			// The answer: a head ending in an empty line, then "ok" (Content-Length: 2).
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					b.Error(err)
					return
				}
				if len(line) <= 2 {
					break
				}
			}
			if _, err := br.Discard(2); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchProxy is a proxy serving user traffic on a loopback port for a benchmark.
type benchProxy struct {
	*Proxy
	addr string
}

func startProxyB(b *testing.B, o Options) benchProxy {
	b.Helper()
	dir := b.TempDir()
	o.AdminSocket = dir + "/a.sock"
	p, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	data, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	sock, err := listenUnix(b.Context(), dir+"/a.sock")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Serve(ctx, data, nil, sock)
	}()
	b.Cleanup(func() {
		cancel()
		<-done
	})
	return benchProxy{p, data.Addr().String()}
}

// TestLargeBodyIsStreamed sends a 64 MiB response through the proxy, with a length and chunked:
// the proxy's allocations while it does stay far below the body's size, so nothing holds a whole
// body, and the bytes arrive intact.
func TestLargeBodyIsStreamed(t *testing.T) {
	const size = 64 << 20
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/length" {
			w.Header().Set("Content-Length", strconv.Itoa(size))
		}
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(up.Close)
	tp := startProxy(t, Options{})
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}}}})
	c := newClient(t)
	for _, path := range []string{"/length", "/chunked"} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		resp, err := c.Get(tp.url + path)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		resp.Body.Close()
		runtime.ReadMemStats(&after)
		want := sha256.New()
		for sent := 0; sent < size; sent += len(chunk) {
			want.Write(chunk)
		}
		if err != nil || n != size || !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
			t.Fatalf("%s: %d bytes, %v, or not the bytes sent", path, n, err)
		}
		// The test's client, upstream and proxy share the heap: all of them together must stay
		// under an eighth of the body.
		grown := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: %d KiB allocated while streaming %d MiB", path, grown>>10, size>>20)
		if grown > size/8 {
			t.Errorf("%s: %d MiB allocated while streaming %d MiB", path, grown>>20, size>>20)
		}
	}
}
