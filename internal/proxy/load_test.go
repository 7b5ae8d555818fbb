package proxy

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestNoRequestLostUnderLoad sends concurrent GETs through the proxy for a while to upstreams that
// close idle keep-alive connections after 30 ms and every 50th connection after its answer, while
// the clients pause at random between requests: the pooled connections the lean client takes are
// often ones the upstream just closed. Every request must still be answered 200.
func TestNoRequestLostUnderLoad(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	mk := func(version string) string {
		s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if served.Add(1)%50 == 0 {
				w.Header().Set("Connection", "close")
			}
			fmt.Fprint(w, version)
		}))
		s.Config.IdleTimeout = 30 * time.Millisecond
		s.Start()
		t.Cleanup(s.Close)
		return hostport(s)
	}
	tp := startProxy(t, Options{})
	setRoutes(t, tp, Routes{Generation: 1, Stable: "v1", Canary: "v2", Backends: []Backend{
		{Version: "v1", Weight: 95, Endpoints: []string{mk("v1"), mk("v1")}},
		{Version: "v2", Weight: 5, Endpoints: []string{mk("v2")}},
	}})
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	deadline := time.Now().Add(2 * time.Second)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t)
			for time.Now().Before(deadline) {
				resp, err := c.Get(tp.url + "/")
				if err != nil {
					t.Errorf("request: %v", err)
					failed.Add(1)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != resp.Header.Get(headerVersion) {
					t.Errorf("answer %s %q from %q", resp.Status, b, resp.Header.Get(headerVersion))
					failed.Add(1)
					continue
				}
				ok.Add(1)
				time.Sleep(time.Duration(rand.IntN(60)) * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d requests answered, %d failed", ok.Load(), failed.Load())
	if ok.Load() < 100 {
		t.Errorf("only %d requests in 2 s", ok.Load())
	}
}

// TestSlowClientsDoNotStarveOthers opens 200 connections that send a request head a byte at a
// time (slowloris) while others make ordinary requests: those are all answered at once, and the
// slow ones are closed once the header timeout passes.
func TestSlowClientsDoNotStarveOthers(t *testing.T) {
	t.Parallel()
	tp := startProxy(t, Options{HeaderTimeout: 500 * time.Millisecond})
	up := upstream(t, "v1")
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}}}})
	addr := strings.TrimPrefix(tp.url, "http://")
	closed := make(chan time.Duration, 200)
	for range 200 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		go func() {
			start := time.Now()
			head := "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 100)
			for i := 0; i < len(head); i++ {
				if _, err := c.Write([]byte{head[i]}); err != nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			io.Copy(io.Discard, c) // until the proxy closes it
			closed <- time.Since(start)
		}()
	}
	c := newClient(t)
	for i := range 50 {
		start := time.Now()
		code, v, _, err := get(t, c, tp.url+"/")
		if err != nil || code != 200 || v != "v1" {
			t.Fatalf("request %d beside the slow clients: %d %q %v", i, code, v, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("request %d beside the slow clients took %s", i, d)
		}
	}
	for range 200 {
		select {
		case d := <-closed:
			if d > 5*time.Second {
				t.Errorf("a slow client was closed after %s, the header timeout is 500ms", d)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("a slow client is still connected")
		}
	}
}

// TestMalformedRequestsAre400s sends request heads net/http's parser refuses: each is answered 400
// (501 for a transfer coding it does not know) by the proxy itself, no version counts a request,
// and the proxy serves on.
func TestMalformedRequestsAre400s(t *testing.T) {
	t.Parallel()
	tp := startProxy(t, Options{})
	up := upstream(t, "v1")
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}}}})
	addr := strings.TrimPrefix(tp.url, "http://")
	for _, tc := range []struct{ head, want string }{
		{"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", "400"},
		{"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "400"},
		{"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "501"}, // RFC 9112 6.1
		{"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", "400"},
		{"GET\x00 / HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"GET / HTTP/1.1\r\n\r\n", "400"}, // no Host
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, tc.head)
		b, _ := io.ReadAll(c)
		c.Close()
		if !strings.HasPrefix(string(b), "HTTP/1.1 "+tc.want+" ") {
			t.Errorf("%q answered %q, want %s", tc.head, firstLine(b), tc.want)
		}
	}
	if n := tp.hist.counters("v1").requests.Load(); n != 0 {
		t.Errorf("v1 counted %d requests for malformed heads", n)
	}
	if code, v, _, err := get(t, newClient(t), tp.url+"/"); err != nil || code != 200 || v != "v1" {
		t.Errorf("after them: %d %q %v", code, v, err)
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\r\n")
	return s
}
