package cli

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// analyze metrics reads each named metric once per version given: a web metric from a real HTTP
// server, a prometheus metric whose server is gone as an error, never a zero; with no server
// running, builtin metrics have no proxy to read and say so.
func TestAnalyzeMetrics(t *testing.T) {
	kpi := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("version") {
		case "v1":
			io.WriteString(w, `{"data":{"value":97.5}}`)
		case "v2":
			io.WriteString(w, `{"data":{"value":null}}`)
		}
	}))
	defer kpi.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := ln.Addr().String()
	ln.Close()
	svc := strings.Replace(demoServiceFile(t), "\n  healthChecks:", `
  metrics:
    - name: conversion
      provider: web
      address: `+kpi.URL+`/kpi?version={{.Version}}&window={{.Window}}
      jsonPath: $.data.value
    - name: orders
      provider: prometheus
      address: http://`+gone+`
      query: sum(rate(orders_total{version="{{.Version}}"}[{{.Window}}]))

  healthChecks:`, 1)
	dir := t.TempDir()
	file := filepath.Join(dir, "hugai.yaml")
	if err := os.WriteFile(file, []byte(svc), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "analyze", "metrics", "-f", file, "--environment", "production", "--version", "v1", "--version", "v2",
		"--data-dir", filepath.Join(dir, ".hugai"), "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var rep metricsReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string]metricReading{}
	for _, r := range rep.Readings {
		got[r.Metric+"/"+r.Version] = r
	}
	if r := got["conversion/v1"]; r.Value == nil || *r.Value != 97.5 || r.Error != "" || r.Provider != "web" {
		t.Errorf("conversion of v1: %+v", r)
	}
	if r := got["conversion/v2"]; r.Value != nil || r.Error != "" {
		t.Errorf("conversion of v2 (null): %+v, want no value", r)
	}
	for _, v := range []string{"v1", "v2"} {
		if r := got["orders/"+v]; r.Value != nil || !strings.Contains(r.Error, "connection refused") || r.Provider != "prometheus" {
			t.Errorf("orders of %s: %+v, want an error", v, r)
		}
	}
	if len(rep.Readings) != 4 || rep.Environment != "production" || !rep.To.After(rep.From) {
		t.Errorf("report: %+v", rep)
	}

	// The table, and one builtin metric asked for by name with no server running.
	code, out, errOut = run(t, "analyze", "metrics", "-f", file, "--environment", "production", "--version", "v1",
		"--metric", "conversion", "--metric", "error_rate", "--data-dir", filepath.Join(dir, ".hugai"))
	if code != 0 || !strings.Contains(out, "conversion  web       v1       -         97.5") ||
		!strings.Contains(out, "error_rate  builtin   v1       -         error: builtin reads the proxy of demo in production: no server runs it") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}

	// Bad input: no version anywhere, an unknown metric, an unknown environment.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--environment", "production"}, "no current version of demo in production"},
		{[]string{"--environment", "production", "--version", "v1", "--metric", "orderz"}, "metric orderz is neither builtin nor declared"},
		{[]string{"--environment", "prod", "--version", "v1"}, `environment "prod" is not in demo`},
	} {
		args := append([]string{"analyze", "metrics", "-f", file, "--data-dir", filepath.Join(dir, ".hugai")}, tc.args...)
		if code, _, errOut := run(t, args...); code != ExitBadInput || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d %s, want 2 with %q", tc.args, code, errOut, tc.want)
		}
	}
}
