package web

import (
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/metric"
)

// TestProvider reads metrics from a real HTTP server on loopback: the URL filled in per version and
// window, headers from the environment, the value at the path; and every way a read can fail.
func TestProvider(t *testing.T) {
	var mu sync.Mutex
	var seen []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r)
		mu.Unlock()
		switch r.URL.Path {
		case "/kpi":
			if r.Header.Get("Authorization") != "Bearer s3cret" {
				http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
				return
			}
			v := map[string]string{"v1": "97.5", "v2": "91"}[r.URL.Query().Get("version")]
			io.WriteString(w, `{"data":{"series":[{"conversion":`+v+`,"label":"`+r.URL.Query().Get("env")+`"}]}}`)
		case "/null":
			io.WriteString(w, `{"value":null}`)
		case "/string":
			io.WriteString(w, `{"value":" 12.5 "}`)
		case "/bool":
			io.WriteString(w, `{"value":true}`)
		case "/html":
			io.WriteString(w, `<html>oops</html>`)
		case "/500":
			http.Error(w, "backend down", http.StatusInternalServerError)
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	}))
	defer srv.Close()
	// A port nothing listens on: taken, then released.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	env := map[string]string{"KPI_TOKEN": "s3cret"}
	p, err := New([]Metric{
		{Name: "conversion", URL: srv.URL + "/kpi?version={{.Version | urlquery}}&env={{.Environment}}&window={{.Window}}&from={{.From.Unix}}",
			JSONPath: "$.data.series[0].conversion", Headers: map[string]string{"Authorization": "Bearer ${KPI_TOKEN}"}},
		{Name: "unauthorized", URL: srv.URL + "/kpi?version={{.Version}}", JSONPath: "$.data.series[0].conversion"},
		{Name: "null", URL: srv.URL + "/null", JSONPath: "$.value"},
		{Name: "string", URL: srv.URL + "/string", JSONPath: "$.value"},
		{Name: "bool", URL: srv.URL + "/bool", JSONPath: "$.value"},
		{Name: "missing", URL: srv.URL + "/null", JSONPath: "$.other"},
		{Name: "html", URL: srv.URL + "/html", JSONPath: "$.value"},
		{Name: "status", URL: srv.URL + "/500", JSONPath: "$.value"},
		{Name: "slow", URL: srv.URL + "/slow", JSONPath: "$.value"},
		{Name: "down", URL: closed + "/kpi", JSONPath: "$.value"},
	}, Options{Timeout: 300 * time.Millisecond, Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	q := func(m, version string) metric.Query {
		return metric.Query{Service: "checkout", Version: version, Environment: "production", Metric: m, From: from, To: from.Add(30 * time.Second)}
	}
	for version, want := range map[string]float64{"v1": 97.5, "v2": 91} {
		v, err := p.Query(context.Background(), q("conversion", version))
		if err != nil || v.Err != "" || v.Value != want || v.Samples != 0 {
			t.Errorf("conversion of %s = %+v, %v; want %v", version, v, err, want)
		}
	}
	mu.Lock()
	if u := seen[0].URL; u.Query().Get("env") != "production" || u.Query().Get("window") != "30s" || u.Query().Get("from") != "1796126400" {
		t.Errorf("the URL was not filled in: %s", u)
	}
	mu.Unlock()

	if v, _ := p.Query(context.Background(), q("string", "v1")); v.Value != 12.5 || v.Err != "" {
		t.Errorf("a number in a string: %+v", v)
	}
	if v, _ := p.Query(context.Background(), q("null", "v1")); !math.IsNaN(v.Value) || v.Err != "" || v.Samples != 0 {
		t.Errorf("null must be no value: %+v", v)
	}
	for m, want := range map[string]string{
		"unauthorized": `HTTP 401: "{\"error\":\"unauthorized\"}"`,
		"bool":         "$['value']: a boolean, not a number",
		"missing":      "$['other']: no such member",
		"html":         "bad JSON",
		"status":       `HTTP 500: "backend down"`,
		"slow":         "no answer within 300ms",
		"down":         "connection refused",
	} {
		v, err := p.Query(context.Background(), q(m, "v1"))
		if err != nil || v.Err == "" || !strings.Contains(v.Err, want) || !math.IsNaN(v.Value) {
			t.Errorf("%s = %+v, %v; want an error value with %q", m, v, err, want)
		}
	}
	if _, err := p.Query(context.Background(), q("nope", "v1")); err == nil || !strings.Contains(err.Error(), "known: bool, conversion") {
		t.Errorf("an unknown metric: %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, m := range []Metric{
		{Name: "a", URL: "ftp://h/x", JSONPath: "$.v"},
		{Name: "a", URL: "http://h/{{.Nope}}", JSONPath: "$.v"},
		{Name: "a", URL: "http://h/x", JSONPath: "v"},
		{Name: "a", URL: "http://h/x", JSONPath: "$.v", Headers: map[string]string{"Bad Name": "x"}},
	} {
		if _, err := New([]Metric{m}, Options{}); err == nil {
			t.Errorf("%+v was accepted", m)
		}
	}
}
