package prometheus

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/metric"
)

func TestDecodeSeries(t *testing.T) {
	t.Parallel()
	matrix := func(series string) string {
		return `{"status":"success","data":{"resultType":"matrix","result":[` + series + `]}}`
	}
	got, err := DecodeSeries(200, []byte(matrix(`{"metric":{},"values":[[1700000010,"12"],[1700000020.5,"NaN"],[1700000030,"3.4"]]}`)))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1700000010000] != 12 || !math.IsNaN(got[1700000020500]) || got[1700000030000] != 3.4 {
		t.Errorf("points = %v", got)
	}
	// No series is no data: an empty map, not an error and not a zero.
	if got, err := DecodeSeries(200, []byte(matrix(``))); err != nil || len(got) != 0 {
		t.Errorf("no series = %v, %v", got, err)
	}
	for body, want := range map[string]string{
		matrix(`{"values":[[1,"1"]]},{"values":[[1,"2"]]}`):                         "2 series, want one",
		`{"status":"success","data":{"resultType":"vector","result":[]}}`:           `result type "vector", want matrix`,
		`{"status":"error","errorType":"bad_data","error":"parse error at char 5"}`: "bad_data: parse error",
		`not json`:                         "bad JSON",
		matrix(`{"values":[[1,"x"]]}`):     `bad sample value "x"`,
		matrix(`{"values":[["t","1"]]}`):   "bad sample time",
		matrix(`{"values":[[1]]}`):         "bad sample",
		matrix(`{"values":[[1e300,"1"]]}`): "bad sample time",
		`{"status":"success","data":{"resultType":"matrix","result":{"values":[[1,"1"]]}}}`: "bad matrix",
	} {
		if _, err := DecodeSeries(200, []byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", body, err, want)
		}
	}
	if _, err := DecodeSeries(502, []byte("bad gateway")); err == nil || !strings.Contains(err.Error(), "HTTP 502") {
		t.Errorf("a 502: %v", err)
	}
}

func FuzzDecodeSeries(f *testing.F) {
	f.Add(200, `{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"1"],[2,"NaN"]]}]}}`)
	f.Add(200, `{"status":"success","data":{"resultType":"matrix","result":[]}}`)
	f.Add(400, `{"status":"error","errorType":"bad_data","error":"x"}`)
	f.Fuzz(func(t *testing.T, status int, body string) {
		s, err := DecodeSeries(status, []byte(body))
		if err != nil && s != nil {
			t.Fatalf("error %v with points %v", err, s)
		}
		if err == nil && status/100 != 2 {
			t.Fatalf("HTTP %d decoded to %v", status, s)
		}
	})
}

// fakeCounts answers range queries as Prometheus would for running totals: value(version,
// metric, t) for each point of the asked range, a point missing where it says so. It records each
// query's parameters.
func fakeCounts(t *testing.T, value func(version, metric string, at int64) (float64, bool)) (*httptest.Server, *atomic.Value) {
	t.Helper()
	var last atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/query_range" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
			return
		}
		q := r.FormValue("query")
		last.Store(r.Form.Encode())
		version := q[strings.Index(q, `version="`)+9:]
		version = version[:strings.IndexByte(version, '"')]
		m := "requests"
		if strings.Contains(q, "5..") {
			m = "errors"
		}
		start, _ := strconv.ParseFloat(r.FormValue("start"), 64)
		end, _ := strconv.ParseFloat(r.FormValue("end"), 64)
		step, err := time.ParseDuration(r.FormValue("step"))
		if err != nil {
			http.Error(w, "bad step", http.StatusBadRequest)
			return
		}
		var pts []string
		for at := int64(start); at <= int64(end); at += int64(step.Seconds()) {
			if v, ok := value(version, m, at); ok {
				pts = append(pts, fmt.Sprintf(`[%d,"%s"]`, at, strconv.FormatFloat(v, 'f', -1, 64)))
			}
		}
		series := ""
		if len(pts) > 0 {
			series = `{"metric":{},"values":[` + strings.Join(pts, ",") + `]}`
		}
		io.WriteString(w, `{"status":"success","data":{"resultType":"matrix","result":[`+series+`]}}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &last
}

func comparerFor(t *testing.T, base string, step time.Duration) *Comparer {
	t.Helper()
	c, err := NewComparer(
		Metric{Name: "reqs", Address: base, Query: `sum(http_requests_total{version="{{.Version}}"})`},
		Metric{Name: "errs", Address: base, Query: `sum(http_requests_total{version="{{.Version}}",code=~"5.."}) or vector(0)`},
		step, Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestComparerSteps: the points are multiples of the step within (From, To], each step's count
// the difference of the running totals at its ends, a version's errors capped at its requests; a
// step where any of the four totals is missing or NaN at either end, falls (a reset, a pod gone
// from the sum), or where neither version served, is left out: no data, never zero.
func TestComparerSteps(t *testing.T) {
	t.Parallel()
	const t0 = 1_700_000_000
	totals := map[string][]float64{ // at t0, t0+10, …, t0+90
		"a requests": {0, 10, 20, 30, 40, math.NaN(), 60, 70, 80, 80},
		"a errors":   {0, 12, 24, 36, 48, 60, 72, 84, 96, 96}, // more than requests: capped
		"b requests": {0, 100, 200, 300, 400, 500, 600, 5, 105, 105},
		"b errors":   {0, 0, 0, -1, 0, 0, 0, 0, 0, 0}, // -1: no point at t0+30
	}
	srv, last := fakeCounts(t, func(version, m string, at int64) (float64, bool) {
		i := (at - t0) / 10
		if i < 0 || i >= 10 || (at-t0)%10 != 0 {
			return 0, false
		}
		v := totals[version+" "+m][i]
		return v, v >= 0 || math.IsNaN(v)
	})
	c := comparerFor(t, srv.URL, 10*time.Second)
	from := time.Unix(t0+3, 0) // not a multiple: the first point is t0+10, read against t0
	to := time.Unix(t0+95, 0)
	steps, err := c.Steps(context.Background(), metric.Comparison{Service: "s", Candidate: "a", Baseline: "b", From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	var ends []int64
	for _, s := range steps {
		ends = append(ends, s.End.Unix()-t0)
		want := analysis.Window{Canary: analysis.Counts{Requests: 10, Events: 10}, Baseline: analysis.Counts{Requests: 100, Events: 0}}
		if s.Window != want {
			t.Errorf("step t0+%d: %+v, want %+v", s.End.Unix()-t0, s.Window, want)
		}
	}
	// 30 and 40: b's errors have no point at 30; 50 and 60: a NaN at 50; 70: b fell; 90: nobody served.
	if fmt.Sprint(ends) != "[10 20 80]" {
		t.Errorf("steps end at t0+%v, want 10, 20, 80", ends)
	}
	if q := last.Load().(string); !strings.Contains(q, "start=1700000000.000") || !strings.Contains(q, "end=1700000090.000") || !strings.Contains(q, "step=10s") {
		t.Errorf("range asked: %s", q)
	}
	// Adjacent spans read each step once.
	a, _ := c.Steps(context.Background(), metric.Comparison{Candidate: "a", Baseline: "b", From: from, To: time.Unix(t0+30, 0)})
	b, _ := c.Steps(context.Background(), metric.Comparison{Candidate: "a", Baseline: "b", From: time.Unix(t0+30, 0), To: to})
	if len(a)+len(b) != len(steps) || len(a) != 2 {
		t.Errorf("split reads %d + %d steps, want 2 + 1", len(a), len(b))
	}
	// A span with no multiple of the step in it reads nothing.
	if s, err := c.Steps(context.Background(), metric.Comparison{Candidate: "a", Baseline: "b", From: time.Unix(t0+11, 0), To: time.Unix(t0+19, 0)}); err != nil || len(s) != 0 {
		t.Errorf("empty span: %v, %v", s, err)
	}
	ws, lats, err := c.Compare(context.Background(), metric.Comparison{Candidate: "a", Baseline: "b", From: from, To: to})
	if err != nil || len(ws) != 3 || lats != nil {
		t.Errorf("Compare: %d windows, latency %v, %v", len(ws), lats, err)
	}
}

// TestComparerLongSpan: a span longer than Prometheus' 11,000 points is read in pieces, every
// point once.
func TestComparerLongSpan(t *testing.T) {
	t.Parallel()
	srv, _ := fakeCounts(t, func(version, m string, at int64) (float64, bool) {
		if m == "requests" {
			return float64(at), true // one a second
		}
		return 0, true
	})
	c := comparerFor(t, srv.URL, time.Second)
	from := time.Unix(1_700_000_000, 0)
	steps, err := c.Steps(context.Background(), metric.Comparison{Candidate: "a", Baseline: "b", From: from, To: from.Add(25_000 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 25_000 || steps[0].End != from.Add(time.Second) || steps[len(steps)-1].End != from.Add(25_000*time.Second) {
		t.Errorf("%d steps, from %v to %v", len(steps), steps[0].End, steps[len(steps)-1].End)
	}
	for i := 1; i < len(steps); i++ {
		if steps[i].End.Sub(steps[i-1].End) != time.Second {
			t.Fatalf("step %d at %v after %v", i, steps[i].End, steps[i-1].End)
		}
	}
}

// TestComparerFailures: a failing query fails the comparison (the engine makes it an Error
// measurement); bad configuration is refused before anything runs.
func TestComparerFailures(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"status":"error","errorType":"bad_data","error":"nope"}`)
	}))
	defer srv.Close()
	c := comparerFor(t, srv.URL, 10*time.Second)
	now := time.Unix(1_700_000_000, 0)
	if _, _, err := c.Compare(context.Background(), metric.Comparison{Candidate: "a", Baseline: "b", From: now, To: now.Add(time.Minute)}); err == nil || !strings.Contains(err.Error(), "HTTP 400: bad_data: nope") {
		t.Errorf("failing Prometheus: %v", err)
	}
	if _, _, err := c.Compare(context.Background(), metric.Comparison{Candidate: "a", From: now, To: now.Add(time.Minute)}); err == nil {
		t.Error("one version compared")
	}
	ok := Metric{Name: "r", Address: srv.URL, Query: `sum(x{v="{{.Version}}"})`}
	for name, tc := range map[string]struct {
		r, e Metric
		step time.Duration
		want string
	}{
		"a window":    {ok, Metric{Name: "e", Address: srv.URL, Query: `sum(increase(x_errors{v="{{.Version}}"}[{{.Window}}]))`}, time.Minute, "metric e reads the window: want a running total"},
		"same metric": {ok, ok, time.Minute, "both"},
		"short step":  {ok, Metric{Name: "e", Address: srv.URL, Query: ok.Query}, 500 * time.Millisecond, "want whole seconds"},
		"bad address": {ok, Metric{Name: "e", Address: "prometheus:9090", Query: ok.Query}, time.Minute, "want http(s)://host:port"},
	} {
		if _, err := NewComparer(tc.r, tc.e, tc.step, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
