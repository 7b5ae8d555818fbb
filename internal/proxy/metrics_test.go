package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The exposition is read back by Prometheus' own parser: the histogram folded from the fine one is
// consistent (cumulative, +Inf equals the count, a sample past the last bound only in +Inf), the
// proxy's runtime is exposed too, and a scraper asking for OpenMetrics gets it.
func TestMetricsParseAsPrometheus(t *testing.T) {
	t.Parallel()
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetRoutes(Routes{Generation: 1, Backends: []Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{"127.0.0.1:1"}},
	}}); err != nil {
		t.Fatal(err)
	}
	c := p.hist.all()[0]
	for _, d := range []time.Duration{500 * time.Microsecond, 3 * time.Millisecond, 3 * time.Millisecond, 90 * time.Second} {
		c.requests.Add(1)
		c.observe(200, d)
	}
	c.observe(503, 2*time.Second)
	h := p.adminHandler(false)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	if fams["go_goroutines"] == nil || fams["process_open_fds"] == nil {
		t.Error("no Go runtime or process metrics for the proxy itself")
	}
	hf := fams["hugai_proxy_request_duration_seconds"]
	if hf == nil || len(hf.Metric) != 1 {
		t.Fatalf("latency histogram: %v", hf)
	}
	hist := hf.Metric[0].GetHistogram()
	want := map[float64]uint64{0.001: 1, 0.0025: 1, 0.005: 3, 1: 3, 2: 3, 2.5: 4, 60: 4}
	var prev uint64
	for _, b := range hist.Bucket {
		if b.GetCumulativeCount() < prev {
			t.Errorf("bucket le=%v: %d after %d, not cumulative", b.GetUpperBound(), b.GetCumulativeCount(), prev)
		}
		prev = b.GetCumulativeCount()
		if w, ok := want[b.GetUpperBound()]; ok && w != b.GetCumulativeCount() {
			t.Errorf("bucket le=%v = %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
	if hist.GetSampleCount() != 5 {
		t.Errorf("count %d, want 5 (the 90s sample only in +Inf)", hist.GetSampleCount())
	}
	if s := hist.GetSampleSum(); s < 92.006 || s > 92.007 {
		t.Errorf("sum %v, want 92.0065", s)
	}
	if got := fams["hugai_proxy_responses_5xx_total"].Metric[0].GetCounter().GetValue(); got != 1 {
		t.Errorf("5xx = %v, want 1", got)
	}

	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") || !strings.HasSuffix(string(body), "# EOF\n") {
		t.Errorf("OpenMetrics asked, got %q ending %q", ct, body[max(0, len(body)-20):])
	}
}

// A version that cannot be a label value (not UTF-8) must not panic the proxy in a scrape.
func TestMetricsSurviveAnInvalidVersion(t *testing.T) {
	t.Parallel()
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetRoutes(Routes{Generation: 1, Backends: []Backend{
		{Version: "v\xff", Weight: 100, Endpoints: []string{"127.0.0.1:1"}},
	}}); err != nil {
		t.Skipf("the proxy refuses the version itself: %v", err)
	}
	rec := httptest.NewRecorder()
	p.adminHandler(false).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("scrape with an invalid label value: %d, want 500", rec.Code)
	}
}
