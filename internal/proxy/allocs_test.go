package proxy

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
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
	req := hotRequest()
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
	t.Logf("%.1f allocations per proxied GET", allocs)
	if allocs > maxHotPathAllocs {
		t.Errorf("a proxied GET allocates %.1f times, more than the %d allowed", allocs, maxHotPathAllocs)
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
