package builtin

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/eventually"
	"github.com/hugai-dev/hugai/internal/metric"
	"github.com/hugai-dev/hugai/internal/proxy"
)

// startProxy runs a real proxy in-process on a loopback port and a unix admin socket, and returns
// its user URL and an admin client. It stops with the test.
func startProxy(t *testing.T) (string, *proxy.Client) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "admin.sock")
	// The test reaches each version with X-Hugai-Route, from loopback only.
	p, err := proxy.New(proxy.Options{AdminSocket: sock, HeaderRouting: proxy.HeaderRouting{AllowFrom: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
	if err != nil {
		t.Fatal(err)
	}
	data, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := net.Listen("unix", sock)
	if err != nil {
		data.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Serve(ctx, data, nil, admin) }()
	client := proxy.NewClient(sock)
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("proxy: %v", err)
		}
		client.CloseIdleConnections()
	})
	return "http://" + data.Addr().String(), client
}

// upstream starts a replica that answers with h, closed with the test.
func upstream(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

// send makes n requests to url with X-Hugai-Route: route, conc at a time, and reports any that was
// not answered by version. It may run outside the test's goroutine.
func send(t *testing.T, c *http.Client, url, route, version string, n, conc int) {
	var wg sync.WaitGroup
	var next atomic.Int64
	errs := make(chan error, n)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("X-Hugai-Route", route)
				resp, err := c.Do(req)
				if err != nil {
					errs <- err
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if got := resp.Header.Get("X-Hugai-Version"); got != version {
					errs <- fmt.Errorf("route %s answered by %q, want %s", route, got, version)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestRealProxy drives real HTTP requests through a real proxy to three versions — a good one, one
// failing 20% of requests and one taking 2.1s — and reads them back through the builtin source, as
// the server wires it.
func TestRealProxy(t *testing.T) {
	url, admin := startProxy(t)
	good := upstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	var n atomic.Int64
	flaky := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%5 == 0 {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	})
	slow := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		// The service's own latency, which the test measures: not a synchronisation.
		time.Sleep(2100 * time.Millisecond)
		io.WriteString(w, "ok")
	})
	err := admin.SetRoutes(context.Background(), proxy.Routes{Generation: 1, Stable: "v1", Canary: "v2", Preview: "v3", Backends: []proxy.Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{good}},
		{Version: "v2", Weight: 0, Endpoints: []string{flaky}},
		{Version: "v3", Weight: 0, Endpoints: []string{slow}},
	}})
	if err != nil {
		t.Fatal(err)
	}

	tr := &http.Transport{MaxIdleConnsPerHost: 32}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: time.Minute}
	start := time.Now()
	sent := map[string]uint64{"v1": 100, "v2": 100, "v3": 25}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); send(t, c, url, "stable", "v1", 100, 4) }()
	go func() { defer wg.Done(); send(t, c, url, "canary", "v2", 100, 4) }()
	go func() { defer wg.Done(); send(t, c, url, "preview", "v3", 25, 25) }()
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	from := start.Truncate(time.Second)
	to := time.Now().Truncate(time.Second).Add(time.Second)

	// The proxy closes each second into its history just after it ends: wait until the window is in.
	// A request is counted when it is sent and its latency when it is answered, perhaps a second or
	// two later, so both are waited for.
	waitFor(t, "the window in the proxy's history", func() bool {
		s, err := admin.Stats(context.Background(), from)
		if err != nil {
			t.Fatal(err)
		}
		for v, want := range sent {
			if w := s.Window(v, from, to); w.Requests != want || w.Samples() != want {
				return false
			}
		}
		return true
	})

	calls := 0
	stats := func(ctx context.Context, since time.Time) (proxy.Stats, error) {
		calls++
		return admin.Stats(ctx, since)
	}
	usage := func(version string) (float64, int64, bool) {
		if version == "v1" {
			return 3.5, 20 << 20, true
		}
		return 0, 0, false
	}
	p := New(stats, usage)
	// The window is in the history (waited for above), so tell the cache it has settled too, rather
	// than wait for the wall clock to say so: one fetch must then serve everything below.
	p.now = func() time.Time { return to.Add(time.Hour) }
	read := func(version, m string) analysis.Value {
		t.Helper()
		v, err := p.Query(context.Background(), metric.Query{Service: "checkout", Version: version, Metric: m, From: from, To: to})
		if err != nil || v.Err != "" {
			t.Fatalf("%s %s: %v %s", version, m, err, v.Err)
		}
		if v.Samples != sent[version] {
			t.Errorf("%s %s: %d samples, want the %d requests sent", version, m, v.Samples, sent[version])
		}
		return v
	}

	if v := read("v1", "error_rate").Value; v != 0 {
		t.Errorf("v1 error rate %v%%, want 0", v)
	}
	if v := read("v2", "error_rate").Value; !(math.Abs(v-20) <= 0.01) {
		t.Errorf("v2 error rate %v%%, want 20%%", v)
	}
	if v := read("v2", "success_rate").Value; !(math.Abs(v-80) <= 0.01) {
		t.Errorf("v2 success rate %v%%, want 80%%", v)
	}
	secs := to.Sub(from).Seconds()
	if v := read("v1", "request_rate").Value; !(math.Abs(v-100/secs) <= 1e-9) {
		t.Errorf("v1 request rate %v, want %v", v, 100/secs)
	}
	// Every v3 response took at least 2.1s; the histogram reports within 1.6%, so well above 2s.
	for _, m := range []string{"latency_p50", "latency_p95", "latency_p99", "latency_mean"} {
		if v := read("v3", m).Value; !(v >= 2.05) {
			t.Errorf("v3 %s %vs, want about 2.1s", m, v)
		}
	}
	if v := read("v1", "latency_p95").Value; !(v < 2) {
		t.Errorf("v1 p95 %vs, want far below 2s", v)
	}
	if v := read("v1", "memory").Value; v != 20<<20 {
		t.Errorf("v1 memory %v", v)
	}

	// The success criteria of the issue, as the engine will judge them.
	conds, err := criteria.Parse("error_rate<1%,latency_p95<2s,success_rate>=99%,request_rate>0,cpu<80%")
	if err != nil {
		t.Fatal(err)
	}
	judge := func(version string) []analysis.Measurement {
		return analysis.Judge(conds, metric.Reader(context.Background(), p, metric.Query{Service: "checkout", Version: version, From: from, To: to}), 20, from, to)
	}
	want := map[string][]analysis.Phase{
		"v1": {analysis.Successful, analysis.Successful, analysis.Successful, analysis.Successful, analysis.Successful},
		"v2": {analysis.Failed, analysis.Successful, analysis.Failed, analysis.Successful, analysis.Inconclusive},
		"v3": {analysis.Successful, analysis.Failed, analysis.Successful, analysis.Successful, analysis.Inconclusive},
	}
	for version, phases := range want {
		for i, m := range judge(version) {
			if m.Phase != phases[i] {
				t.Errorf("%s %s: %s (%s), want %s", version, m.Condition, m.Phase, m.Message, phases[i])
			}
		}
	}
	if ms := judge("v2"); ms[0].Message != "error_rate 20% ≥ 1% over 100 requests" {
		t.Errorf("v2 error rate message %q", ms[0].Message)
	}
	// A version that got no traffic is no pass.
	for _, m := range judge("v9") {
		if m.Phase != analysis.Pending || m.Samples != 0 {
			t.Errorf("v9 %s: %s (%s)", m.Condition, m.Phase, m.Message)
		}
	}
	if calls != 1 {
		t.Errorf("%d stats calls for one window, want one for every metric and version", calls)
	}

	// The comparison reads the same history second by second: every request and error of both
	// versions is in exactly one second, and the slow version's requests are the slow ones.
	pairs, lats, err := p.Compare(context.Background(), metric.Comparison{Candidate: "v2", Baseline: "v1", From: from, To: to, MaxLatencyRegression: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	var cc, b analysis.Counts
	for _, w := range pairs {
		cc.Requests, cc.Events = cc.Requests+w.Canary.Requests, cc.Events+w.Canary.Events
		b.Requests, b.Events = b.Requests+w.Baseline.Requests, b.Events+w.Baseline.Events
	}
	if cc != (analysis.Counts{Requests: 100, Events: 20}) || b != (analysis.Counts{Requests: 100}) || len(lats) != len(pairs) {
		t.Errorf("comparison v2 vs v1: candidate %+v baseline %+v over %d seconds (%d latency)", cc, b, len(pairs), len(lats))
	}
	if _, _, err := p.Compare(context.Background(), metric.Comparison{Candidate: "v2", From: from, To: to}); err == nil {
		t.Error("a comparison without a baseline must be refused")
	}
}

// TestProxyUnreachable: a proxy that cannot be reached is a measurement with phase Error.
func TestProxyUnreachable(t *testing.T) {
	client := proxy.NewClient(filepath.Join(t.TempDir(), "nobody.sock"))
	t.Cleanup(client.CloseIdleConnections)
	p := New(client.Stats, nil)
	from := time.Now().Add(-time.Minute).Truncate(time.Second)
	to := from.Add(30 * time.Second)
	conds, err := criteria.Parse("error_rate<1%,latency_p95<2s")
	if err != nil {
		t.Fatal(err)
	}
	ms := analysis.Judge(conds, metric.Reader(context.Background(), p, metric.Query{Version: "v2", From: from, To: to}), 20, from, to)
	for _, m := range ms {
		if m.Phase != analysis.Error {
			t.Errorf("%s: %s (%s), want Error", m.Condition, m.Phase, m.Message)
		}
	}
	if got := (analysis.Tally{}).Add(ms); got.Errors != 1 || got.ConsecutiveErrors != 1 {
		t.Errorf("tally %+v", got)
	}
}

// waitFor polls cond until it holds, failing the test after a patience that only a broken proxy
// exhausts.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventually.True(t, 15*time.Second, what, cond)
}
