//go:build e2e && prometheus

package prometheus

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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/eventually"
	"github.com/hugai-dev/hugai/internal/metric"
	"github.com/hugai-dev/hugai/internal/metric/builtin"
	"github.com/hugai-dev/hugai/internal/metric/prometheus/promtest"
	"github.com/hugai-dev/hugai/internal/proxy"
)

// TestRealPrometheus reads what a real Prometheus scraped from an endpoint the test serves: values
// as served, instant and range queries, no data as NaN, and every failure as an error value.
func TestRealPrometheus(t *testing.T) {
	t.Parallel()
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "# TYPE kpi gauge\nkpi{version=\"v1\"} 97.5\nkpi{version=\"v2\"} 91\n# TYPE broken gauge\nbroken NaN\n")
	}))
	defer exporter.Close()
	base := realPrometheus(t, exporter.Listener.Addr().String())
	waitScraped(t, base, `count_over_time(kpi{version="v2"}[10s])`, func(v float64) bool { return v >= 3 })

	p, err := New([]Metric{
		{Name: "gauge", Address: base, Query: `kpi{version="{{.Version}}",job="t0"}`},
		{Name: "windowed", Address: base, Query: `max_over_time(kpi{version="{{.Version}}"}[{{.Window}}])`},
		{Name: "nan", Address: base, Query: `broken`},
		{Name: "scalar", Address: base, Query: `scalar(kpi{version="{{.Version}}"}) * 2`},
		{Name: "several", Address: base, Query: `kpi`},
		{Name: "bad", Address: base, Query: `sum(kpi{version="{{.Version}}"}`},
	}, Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	from, to := now.Add(-3*time.Second), now
	ctx := context.Background()
	for _, tt := range []struct {
		metric, version string
		want            float64
	}{
		{"gauge", "v1", 97.5}, {"gauge", "v2", 91}, // range query, averaged
		{"windowed", "v1", 97.5}, {"windowed", "v2", 91}, // instant query at the window's end
		{"scalar", "v2", 182},
	} {
		v, err := p.Query(ctx, queryAt(tt.metric, tt.version, from, to))
		if err != nil || v.Err != "" || v.Value != tt.want || v.Samples != 0 {
			t.Errorf("%s of %s = %+v, %v; want %v", tt.metric, tt.version, v, err, tt.want)
		}
	}
	// No data: no series, or NaN. Never a zero, never an error.
	for _, tt := range []struct{ metric, version string }{{"gauge", "v9"}, {"windowed", "v9"}, {"nan", "v1"}} {
		v, err := p.Query(ctx, queryAt(tt.metric, tt.version, from, to))
		if err != nil || v.Err != "" || !math.IsNaN(v.Value) || v.Samples != 0 {
			t.Errorf("%s of %s = %+v, %v; want no value", tt.metric, tt.version, v, err)
		}
	}
	for m, want := range map[string]string{"several": "2 series, want one", "bad": "bad_data"} {
		v, err := p.Query(ctx, queryAt(m, "v1", from, to))
		if err != nil || !strings.Contains(v.Err, want) || !math.IsNaN(v.Value) {
			t.Errorf("%s = %+v, %v; want an error value with %q", m, v, err, want)
		}
	}
	if _, err := p.Query(ctx, queryAt("nope", "v1", from, to)); err == nil || !strings.Contains(err.Error(), "known: bad, gauge") {
		t.Errorf("unknown metric: %v", err)
	}
}

// TestProxyErrorRateByPromQL: a real Prometheus scrapes a real hugai proxy's /metrics while v1
// serves well and v2 fails one request in five. A PromQL criterion read through the router, which
// takes the sample count from the builtin source over the same proxy, passes v1 and fails v2 with
// the exact rate served; with Prometheus gone the same criterion is an Error, never a pass.
func TestProxyErrorRateByPromQL(t *testing.T) {
	t.Parallel()
	url, adminURL, admin := startProxy(t)
	good := upstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	var n atomic.Int64
	flaky := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%5 == 0 {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	})
	if err := admin.SetRoutes(context.Background(), proxy.Routes{Generation: 1, Stable: "v1", Canary: "v2", Backends: []proxy.Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{good}},
		{Version: "v2", Weight: 0, Endpoints: []string{flaky}},
	}}); err != nil {
		t.Fatal(err)
	}
	base := realPrometheus(t, adminURL)
	// Prometheus scrapes its targets first some seconds after it starts: the window judged begins
	// once it does, as it would with a Prometheus that had been running all along.
	waitScraped(t, base, `up`, func(x float64) bool { return x == 1 })

	start := time.Now()
	var wg sync.WaitGroup
	for _, route := range []string{"stable", "canary"} {
		wg.Add(1)
		go func() { defer wg.Done(); send(t, url, route, 100) }()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, v := range []string{"v1", "v2"} {
		waitScraped(t, base, `hugai_proxy_requests_total{version="`+v+`"}`, func(x float64) bool { return x == 100 })
	}
	from := start.Truncate(time.Second)
	to := time.Now() // after the scrape that saw every request
	eventually.NoError(t, 10*time.Second, "the window in the proxy's history", func() error {
		s, err := admin.Stats(context.Background(), from)
		if err != nil {
			return err
		}
		for _, v := range []string{"v1", "v2"} {
			if w := s.Window(v, from, to); w.Requests != 100 {
				return io.ErrUnexpectedEOF
			}
		}
		return nil
	})

	errorRate := `max_over_time(hugai_proxy_responses_5xx_total{version="{{.Version}}"}[{{.Window}}]) / max_over_time(hugai_proxy_requests_total{version="{{.Version}}"}[{{.Window}}]) * 100`
	prom, err := New([]Metric{{Name: "prom_error_rate", Address: base, Query: errorRate}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	router, err := metric.NewRouter("production", metric.Providers{metric.Builtin: builtin.New(admin.Stats, nil), "prometheus": prom},
		map[string]string{"prom_error_rate": "prometheus"})
	if err != nil {
		t.Fatal(err)
	}
	conds, err := criteria.Parse("prom_error_rate<5,error_rate<5%", criteria.WithMetrics("prom_error_rate"))
	if err != nil {
		t.Fatal(err)
	}
	judge := func(version string) []analysis.Measurement {
		return analysis.Judge(conds, metric.Reader(context.Background(), router, queryAt("", version, from, to)), 20, from, to)
	}
	for version, want := range map[string][]string{
		"v1": {"Successful prom_error_rate 0 < 5 over 100 requests", "Successful error_rate 0% < 5% over 100 requests"},
		"v2": {"Failed prom_error_rate 20 ≥ 5 over 100 requests", "Failed error_rate 20% ≥ 5% over 100 requests"},
	} {
		for i, m := range judge(version) {
			if got := string(m.Phase) + " " + m.Message; got != want[i] {
				t.Errorf("%s: %s, want %s", version, got, want[i])
			}
		}
	}

	// Prometheus unreachable: the same criterion is an Error measurement.
	down, err := New([]Metric{{Name: "prom_error_rate", Address: "http://" + freePort(t), Query: errorRate}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	router.Routes["prom_error_rate"] = down
	if m := judge("v2")[0]; m.Phase != analysis.Error || !strings.Contains(m.Message, "connection refused") {
		t.Errorf("with prometheus down: %s %s", m.Phase, m.Message)
	}
}

// startProxy runs a real proxy in-process: user traffic and /metrics on loopback ports, the admin
// API on a unix socket. It stops with the test.
func startProxy(t *testing.T) (userURL, metricsAddr string, admin *proxy.Client) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "admin.sock")
	// The test reaches each version with X-Hugai-Route, from loopback only.
	p, err := proxy.New(proxy.Options{AdminSocket: sock, HeaderRouting: proxy.HeaderRouting{AllowFrom: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
	if err != nil {
		t.Fatal(err)
	}
	var lns []net.Listener
	for _, network := range []string{"tcp", "tcp", "unix"} {
		addr := "127.0.0.1:0"
		if network == "unix" {
			addr = sock
		}
		ln, err := net.Listen(network, addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			t.Fatal(err)
		}
		lns = append(lns, ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Serve(ctx, lns[0], lns[1], lns[2]) }()
	admin = proxy.NewClient(sock)
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("proxy: %v", err)
		}
		admin.CloseIdleConnections()
	})
	return "http://" + lns[0].Addr().String(), lns[1].Addr().String(), admin
}

func upstream(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.Listener.Addr().String()
}

// send makes n requests through the proxy to route, four at a time.
func send(t *testing.T, url, route string, n int) {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("X-Hugai-Route", route)
				resp, err := c.Do(req)
				if err != nil {
					t.Error(err)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
}

// BenchmarkRealPrometheusQuery: what one measurement costs against a local Prometheus, instant
// (a query that reads the window) and range (one that does not: 60 points averaged).
func BenchmarkRealPrometheusQuery(b *testing.B) {
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "# TYPE kpi gauge\nkpi{version=\"v1\"} 97.5\n")
	}))
	defer exporter.Close()
	base := promtest.Start(b, exporter.Listener.Addr().String())
	p, err := New([]Metric{
		{Name: "instant", Address: base, Query: `max_over_time(kpi{version="{{.Version}}"}[{{.Window}}])`},
		{Name: "range", Address: base, Query: `kpi{version="{{.Version}}"}`},
	}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	eventually.NoError(b, 30*time.Second, "a scrape", func() error {
		now := time.Now()
		v, _ := p.Query(context.Background(), queryAt("instant", "v1", now.Add(-10*time.Second), now))
		if v.Value != 97.5 {
			return fmt.Errorf("%+v", v)
		}
		return nil
	})
	for _, m := range []string{"instant", "range"} {
		b.Run(m, func(b *testing.B) {
			now := time.Now()
			q := queryAt(m, "v1", now.Add(-time.Minute), now)
			for b.Loop() {
				if v, err := p.Query(context.Background(), q); err != nil || v.Err != "" {
					b.Fatal(v.Err, err)
				}
			}
		})
	}
}
