package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/eventually"
)

// testProxy is a proxy serving on loopback listeners picked at run time.
type testProxy struct {
	*Proxy
	url    string // user traffic
	admin  string // TCP admin base URL
	socket string
	client *Client
	stop   func() error
}

func startProxy(t *testing.T, o Options) *testProxy {
	t.Helper()
	dir := t.TempDir()
	if o.AdminSocket == "" {
		o.AdminSocket = filepath.Join(dir, "a.sock")
	}
	if o.HeaderRouting.AllowFrom == nil && o.HeaderRouting.Secret == "" {
		// The tests route by header from loopback; an empty, non-nil AllowFrom keeps it off.
		o.HeaderRouting.AllowFrom = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}
	p, err := New(o)
	if err != nil {
		t.Fatalf("new proxy: %v", err)
	}
	data := listen(t)
	admin := listen(t)
	sock, err := listenUnix(context.Background(), o.AdminSocket)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Serve(ctx, data, admin, sock) }()
	tp := &testProxy{
		Proxy:  p,
		url:    "http://" + data.Addr().String(),
		admin:  "http://" + admin.Addr().String(),
		socket: o.AdminSocket,
		client: NewClient(o.AdminSocket),
	}
	var stopped atomic.Bool
	var serveErr error
	tp.stop = func() error {
		if stopped.CompareAndSwap(false, true) {
			cancel()
			serveErr = <-errc
			tp.client.CloseIdleConnections()
		}
		return serveErr
	}
	t.Cleanup(func() {
		if err := tp.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return tp
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// upstream is a backend replica answering 200 with its version in the body.
func upstream(t *testing.T, version string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, version)
	}))
	t.Cleanup(s.Close)
	return s
}

func hostport(s *httptest.Server) string { return s.Listener.Addr().String() }

// newClient returns an HTTP client with its own connection pool, closed at the end of the test.
func newClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// get sends a GET with optional headers and returns status, X-Hugai-Version and body.
func get(t *testing.T, c *http.Client, url string, hdr ...string) (int, string, string, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", "", err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get(headerVersion), string(b), err
}

func setRoutes(t *testing.T, tp *testProxy, r Routes) {
	t.Helper()
	if err := tp.client.SetRoutes(context.Background(), r); err != nil {
		t.Fatalf("set routes: %v", err)
	}
}

// waitFor polls cond until it holds or the test's patience (10s) runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventually.True(t, 10*time.Second, what, cond)
}

func statusCode(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}
