package prometheus

import (
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/metric"
)

func queryAt(m, version string, from, to time.Time) metric.Query {
	return metric.Query{Service: "checkout", Version: version, Environment: "production", Metric: m, From: from, To: to}
}

// TestUnreachable: a Prometheus that is not there, hangs, or answers something else is an error
// value, which the judge counts as Error: never a pass, never a zero.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // the server notices the client leave only once the body is read
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer hang.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer other.Close()
	p, err := New([]Metric{
		{Name: "down", Address: closed, Query: `up`},
		{Name: "hangs", Address: hang.URL, Query: `up`},
		{Name: "other", Address: other.URL, Query: `up`},
	}, Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	conds, err := criteria.Parse("down>0,hangs>0,other>0", criteria.WithMetrics("down", "hangs", "other"))
	if err != nil {
		t.Fatal(err)
	}
	ms := analysis.Judge(conds, metric.Reader(context.Background(), p, queryAt("", "v2", now.Add(-time.Minute), now)), 0, now.Add(-time.Minute), now)
	for i, want := range []string{"connection refused", "no answer within 300ms", `HTTP 502: "<html>bad gateway</html>"`} {
		if ms[i].Phase != analysis.Error || !strings.Contains(ms[i].Message, want) {
			t.Errorf("%s: %s %q, want Error with %q", conds[i].Metric, ms[i].Phase, ms[i].Message, want)
		}
	}
}

// TestDecode reads the answers Prometheus gives (shapes as documented for /api/v1/query and
// /api/v1/query_range; the real server's are checked by the tests behind the prometheus tag).
func TestDecode(t *testing.T) {
	ok := func(typ, result string) string {
		return `{"status":"success","data":{"resultType":"` + typ + `","result":` + result + `}}`
	}
	for _, tt := range []struct {
		status int
		body   string
		want   float64 // NaN: no value
		err    string
	}{
		{200, ok("vector", `[{"metric":{"version":"v2"},"value":[1764590400.5,"0.25"]}]`), 0.25, ""},
		{200, ok("scalar", `[1764590400,"42"]`), 42, ""},
		{200, ok("vector", `[]`), math.NaN(), ""},
		{200, ok("vector", `[{"metric":{},"value":[1,"NaN"]}]`), math.NaN(), ""},
		{200, ok("vector", `[{"metric":{},"value":[1,"+Inf"]}]`), math.Inf(1), ""},
		{200, ok("matrix", `[{"metric":{},"values":[[1,"1"],[2,"NaN"],[3,"3"]]}]`), 2, ""},
		{200, ok("matrix", `[{"metric":{},"values":[[1,"NaN"]]}]`), math.NaN(), ""},
		{200, ok("matrix", `[]`), math.NaN(), ""},
		{200, ok("vector", `[{"value":[1,"1"]},{"value":[1,"2"]}]`), 0, "2 series, want one"},
		{200, ok("matrix", `[{"values":[]},{"values":[]}]`), 0, "2 series, want one"},
		{200, ok("string", `[1,"x"]`), 0, `result type "string"`},
		{200, ok("vector", `[{"value":[1,"abc"]}]`), 0, `bad sample value "abc"`},
		{200, ok("vector", `[{"value":[1]}]`), 0, "bad sample"},
		{200, ok("vector", `[{"value":[1,2]}]`), 0, `bad sample value "2"`},
		{400, `{"status":"error","errorType":"bad_data","error":"parse error"}`, 0, "HTTP 400: bad_data: parse error"},
		{503, `{"status":"error","errorType":"timeout","error":"query timed out"}`, 0, "HTTP 503: timeout: query timed out"},
		{502, `<html>bad gateway</html>`, 0, `HTTP 502: "<html>bad gateway</html>"`},
		{200, `{"status":`, 0, "bad JSON"},
		{200, `{"status":"error"}`, 0, `HTTP 200, status "error"`},
	} {
		got, err := Decode(tt.status, []byte(tt.body))
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) || !math.IsNaN(got) {
				t.Errorf("%d %s: %v, %v; want an error with %q", tt.status, tt.body, got, err, tt.err)
			}
		case err != nil:
			t.Errorf("%d %s: %v", tt.status, tt.body, err)
		case math.IsNaN(tt.want) != math.IsNaN(got) || (!math.IsNaN(got) && got != tt.want):
			t.Errorf("%d %s = %v, want %v", tt.status, tt.body, got, tt.want)
		}
	}
}

// FuzzDecode: whatever Prometheus (or whatever answers in its place) sends, Decode returns a value
// or an error, never both, never a panic, and an error always comes with NaN, never a zero.
func FuzzDecode(f *testing.F) {
	f.Add(200, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]}]}}`)
	f.Add(200, `{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"1"],[2,"2"]]}]}}`)
	f.Add(200, `{"status":"success","data":{"resultType":"scalar","result":[1,"NaN"]}}`)
	f.Add(400, `{"status":"error","errorType":"bad_data","error":"x"}`)
	f.Add(500, `oops`)
	f.Fuzz(func(t *testing.T, status int, body string) {
		v, err := Decode(status, []byte(body))
		if err != nil && !math.IsNaN(v) {
			t.Fatalf("error %v with value %v", err, v)
		}
		if err == nil && status/100 != 2 {
			t.Fatalf("HTTP %d decoded to %v", status, v)
		}
	})
}

// TestHeaders: a Prometheus behind authentication (a hosted one, a proxy in front) gets each
// metric's headers, ${VAR} read from the environment at the query, and the query as a form.
func TestHeaders(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t0k3n" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"status":"error","errorType":"unauthorized","error":"no token"}`)
			return
		}
		// A query that does not read the window is a range query over it, a point per second.
		if r.URL.Path != "/prom/api/v1/query_range" || r.FormValue("query") != `up{version="v2"}` || r.FormValue("step") != "1s" || r.FormValue("start") == "" {
			http.Error(w, "unexpected "+r.URL.Path+" "+r.FormValue("query"), http.StatusBadRequest)
			return
		}
		io.WriteString(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"0"]]}]}}`)
	}))
	defer srv.Close()
	env := map[string]string{"PROM_TOKEN": "t0k3n"}
	p, err := New([]Metric{
		{Name: "ok", Address: srv.URL + "/prom", Query: `up{version="{{.Version}}"}`, Headers: map[string]string{"Authorization": "Bearer ${PROM_TOKEN}"}},
		{Name: "anonymous", Address: srv.URL + "/prom", Query: `up{version="{{.Version}}"}`},
	}, Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if v, err := p.Query(context.Background(), queryAt("ok", "v2", now.Add(-time.Minute), now)); err != nil || v.Value != 0.5 || v.Err != "" {
		t.Errorf("with the token: %+v, %v", v, err)
	}
	if v, _ := p.Query(context.Background(), queryAt("anonymous", "v2", now.Add(-time.Minute), now)); !strings.Contains(v.Err, "HTTP 401: unauthorized: no token") {
		t.Errorf("without: %+v", v)
	}
}
