package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark measures the proxy.
type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }

// BenchmarkServeHTTP measures one proxied request against a real loopback upstream, 95/5 split.
func BenchmarkServeHTTP(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	defer up.Close()
	p, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.transports.closeIdle()
	if err := p.SetRoutes(Routes{Generation: 1, Backends: []Backend{
		{Version: "v1", Weight: 95, Endpoints: []string{hostport(up)}},
		{Version: "v2", Weight: 5, Endpoints: []string{hostport(up)}},
	}}); err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "http://proxy/x?y=1", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	req.RequestURI = "/x?y=1" // as the server sets it, so the lean client takes it
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			p.ServeHTTP(w, req)
		}
	})
}

// BenchmarkSetRoutes measures a route change as the server makes it: a PUT on the admin socket,
// the state file written and synced, the table swapped.
func BenchmarkSetRoutes(b *testing.B) {
	dir := b.TempDir()
	p, err := New(Options{StateFile: dir + "/routes.json"})
	if err != nil {
		b.Fatal(err)
	}
	sock, err := listenUnix(b.Context(), dir+"/a.sock")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: p.adminHandler(true)}
	go srv.Serve(sock)
	defer srv.Close()
	c := NewClient(dir + "/a.sock")
	defer c.CloseIdleConnections()
	r := Routes{Backends: []Backend{
		{Version: "v1", Weight: 95, Endpoints: []string{"127.0.0.1:1"}},
		{Version: "v2", Weight: 5, Endpoints: []string{"127.0.0.1:2"}},
	}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Generation = int64(i + 1)
		if err := c.SetRoutes(b.Context(), r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecord measures what the hot path adds per proxied response: the hand-kept atomic
// counters ("counters", what the proxy does) against client_golang's CounterVec and HistogramVec,
// looked up per request ("client_golang/vec") or resolved once per version as the proxy would keep
// them ("client_golang/child"). The fine histogram must be kept either way (it feeds /v1/stats),
// so client_golang on the hot path would be a cost on top of "counters", never instead of it.
func BenchmarkRecord(b *testing.B) {
	const d = 1500 * time.Microsecond
	b.Run("counters", func(b *testing.B) {
		c := &counters{version: "v1"}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.requests.Add(1)
				c.observe(200, d)
			}
		})
	})
	newVecs := func() (*prometheus.CounterVec, *prometheus.CounterVec, *prometheus.HistogramVec) {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests_total"}, []string{"version"}),
			prometheus.NewCounterVec(prometheus.CounterOpts{Name: "responses_5xx_total"}, []string{"version"}),
			prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "request_duration_seconds", Buckets: promBuckets}, []string{"version"})
	}
	b.Run("client_golang/vec", func(b *testing.B) {
		reqs, errs, lat := newVecs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				reqs.WithLabelValues("v1").Inc()
				if status := 200; status >= 500 {
					errs.WithLabelValues("v1").Inc()
				}
				lat.WithLabelValues("v1").Observe(d.Seconds())
			}
		})
	})
	b.Run("client_golang/child", func(b *testing.B) {
		reqVec, errVec, latVec := newVecs()
		reqs, errs, lat := reqVec.WithLabelValues("v1"), errVec.WithLabelValues("v1"), latVec.WithLabelValues("v1")
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				reqs.Inc()
				if status := 200; status >= 500 {
					errs.Inc()
				}
				lat.Observe(d.Seconds())
			}
		})
	})
}

// BenchmarkScrape measures one GET /metrics with two versions that have served traffic across the
// latency range: the TCP admin handler, and the proxy's own collector alone (to compare with the
// hand-written exposition it replaced, which had no runtime metrics).
func BenchmarkScrape(b *testing.B) {
	p, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.SetRoutes(Routes{Generation: 1, Backends: []Backend{
		{Version: "v1", Weight: 95, Endpoints: []string{"127.0.0.1:1"}},
		{Version: "v2", Weight: 5, Endpoints: []string{"127.0.0.1:2"}},
	}}); err != nil {
		b.Fatal(err)
	}
	for _, c := range p.hist.all() {
		for d := time.Microsecond; d < time.Minute; d = d * 11 / 10 {
			c.requests.Add(1)
			c.observe(200, d)
		}
	}
	hugaiOnly := prometheus.NewRegistry()
	hugaiOnly.MustRegister(collector{p})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"admin", p.adminHandler(false)}, // what Prometheus scrapes: hugai's metrics, Go runtime, process
		{"hugai-only", promhttp.HandlerFor(hugaiOnly, promhttp.HandlerOpts{})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			b.ReportAllocs()
			for b.Loop() {
				w := &discardWriter{h: http.Header{}}
				bc.h.ServeHTTP(w, req)
			}
		})
	}
}
