package proxy

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequestHeadersForwarded(t *testing.T) {
	tp := startProxy(t, Options{})
	seen := make(chan *http.Request, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		seen <- r
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-From", "up")
		io.WriteString(w, r.Method)
	}))
	t.Cleanup(up.Close)
	setRoutes(t, tp, Routes{Generation: 1, Canary: "v1", Backends: []Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}},
	}})
	c := newClient(t)
	// GET takes the lean client, POST the Transport: both must forward the same way.
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, tp.url+"/a/b%2Fc?q=1&r=2", strings.NewReader(map[string]string{"GET": "", "POST": "payload"}[method]))
		req.Host = "service.example"
		req.Header.Set("X-Forwarded-For", "10.0.0.1")
		req.Header.Set("X-Hugai-Route", "canary")
		req.Header.Set("Connection", "keep-alive, X-Secret")
		req.Header.Set("X-Secret", "hop")
		req.Header.Set("X-Custom", "kept")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != method || resp.Header.Get("X-From") != "up" || resp.Header.Get("Keep-Alive") != "" {
			t.Errorf("%s: %d %q %v", method, resp.StatusCode, b, resp.Header)
		}
		r := <-seen
		if r.Host != "service.example" || r.RequestURI != "/a/b%2Fc?q=1&r=2" {
			t.Errorf("%s: host %q uri %q", method, r.Host, r.RequestURI)
		}
		if got := r.Header.Get("X-Forwarded-For"); got != "10.0.0.1, 127.0.0.1" {
			t.Errorf("%s: X-Forwarded-For %q", method, got)
		}
		for _, k := range []string{"X-Hugai-Route", "X-Secret"} {
			if v := r.Header.Get(k); v != "" {
				t.Errorf("%s: %s forwarded: %q", method, k, v)
			}
		}
		if r.Header.Get("X-Custom") != "kept" {
			t.Errorf("%s: X-Custom lost", method)
		}
		if method == http.MethodPost {
			if b, _ := io.ReadAll(r.Body); string(b) != "payload" {
				t.Errorf("POST body %q", b)
			}
		}
	}
}

func TestPooledConnectionClosedByUpstream(t *testing.T) {
	tp := startProxy(t, Options{})
	up := upstream(t, "v1")
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}},
	}})
	c := newClient(t)
	for i := 0; i < 20; i++ {
		if code, _, _, err := get(t, c, tp.url+"/"); code != 200 {
			t.Fatalf("request %d: %d %v", i, code, err)
		}
		// The upstream drops its idle keep-alive connections, as servers with short idle
		// timeouts do: the proxy's pooled connection is dead when it is next used.
		up.CloseClientConnections()
	}
	if n := tp.hist.counters("v1").connFailures.Load(); n != 0 {
		t.Errorf("%d connection failures counted for idle connections the upstream closed", n)
	}
}

func TestStreamingResponseIsFlushed(t *testing.T) {
	tp := startProxy(t, Options{})
	next := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-next
		io.WriteString(w, "second\n")
	}))
	t.Cleanup(up.Close)
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}},
	}})
	resp, err := newClient(t).Get(tp.url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if l, err := br.ReadString('\n'); l != "first\n" {
		t.Fatalf("first chunk %q %v", l, err)
	}
	close(next) // the second chunk is written only once the first reached the client
	if l, err := br.ReadString('\n'); l != "second\n" {
		t.Fatalf("second chunk %q %v", l, err)
	}
}

func TestHeadRequest(t *testing.T) {
	tp := startProxy(t, Options{})
	up := upstream(t, "v1")
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}},
	}})
	c := newClient(t)
	for i := 0; i < 3; i++ {
		resp, err := c.Head(tp.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get(headerVersion) != "v1" {
			t.Fatalf("HEAD: %d %v", resp.StatusCode, resp.Header)
		}
	}
	if code, _, body, _ := get(t, c, tp.url+"/"); code != 200 || body != "v1" {
		t.Fatalf("GET after HEAD on the same connections: %d %q", code, body)
	}
}
