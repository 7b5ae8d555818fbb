package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/metric"
	"github.com/hugai-dev/hugai/internal/plan"
)

// TestKubeMetricsCountRequests: in a cluster the service's request_rate says how many requests a
// version served, and every outside value is weighed by it, as the proxy's count does locally.
func TestKubeMetricsCountRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/rate":
			fmt.Fprint(w, `{"value": 12.5}`)
		case "/errors":
			fmt.Fprint(w, `{"value": 0.4}`)
		}
	}))
	defer srv.Close()
	svc := &plan.Service{Spec: plan.ServiceSpec{Metrics: []plan.Metric{
		{Name: "request_rate", Provider: plan.ProviderWeb, Address: srv.URL + "/rate?v={{.Version}}", JSONPath: "$.value"},
		{Name: "checkout_errors", Provider: plan.ProviderWeb, Address: srv.URL + "/errors?v={{.Version}}", JSONPath: "$.value"},
	}}}
	m, err := kubeMetrics(svc, &plan.Env{Name: "production"})
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	q := metric.Query{Service: "checkout", Version: "v2", Metric: "checkout_errors", From: from, To: from.Add(8 * time.Second)}
	v, err := m.Query(context.Background(), q)
	if err != nil || v.Err != "" || v.Value != 0.4 || v.Samples != 100 {
		t.Fatalf("checkout_errors = %+v, %v; want 0.4 over 12.5/s × 8s = 100 requests", v, err)
	}
	q.Metric = "latency_p95"
	if v, err := m.Query(context.Background(), q); err != nil || !strings.Contains(v.Err, "hugai's proxy, which the kubernetes target does not have") {
		t.Fatalf("a builtin metric in a cluster = %+v, %v; want an Error measurement saying why", v, err)
	}
}

// TestKubeMetricsCompare: with analysis.compare the engine's metric source compares the two
// versions from the prometheus running totals it names (range queries, a point per step), where without
// it there is nothing to compare them with.
func TestKubeMetricsCompare(t *testing.T) {
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.FormValue("query")
		asked = append(asked, r.URL.Path+" "+q+" step="+r.FormValue("step"))
		v := map[string]string{`reqs{v="v2"}`: "30", `errs{v="v2"}`: "3", `reqs{v="v1"}`: "570", `errs{v="v1"}`: "1"}[q]
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[%s,"0"],[%s,"%s"]]}]}}`, r.FormValue("start"), r.FormValue("end"), v)
	}))
	defer srv.Close()
	svc := &plan.Service{Spec: plan.ServiceSpec{Metrics: []plan.Metric{
		{Name: "request_rate", Provider: plan.ProviderPrometheus, Address: srv.URL, Query: `rate(x[1m])`},
		{Name: "http_requests", Provider: plan.ProviderPrometheus, Address: srv.URL, Query: `reqs{v="{{.Version}}"}`},
		{Name: "http_errors", Provider: plan.ProviderPrometheus, Address: srv.URL, Query: `errs{v="{{.Version}}"}`},
	}}}
	without, err := kubeMetrics(svc, &plan.Env{Name: "production"})
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	c := metric.Comparison{Service: "checkout", Candidate: "v2", Baseline: "v1", From: from, To: from.Add(15 * time.Second)}
	if _, _, err := without.(metric.Comparer).Compare(context.Background(), c); err == nil {
		t.Fatal("compared two versions in a cluster with nothing counting them")
	}
	env := &plan.Env{Name: "production", Compare: &plan.CompareQueries{Requests: svc.Spec.Metrics[1], Errors: svc.Spec.Metrics[2], Step: 15 * time.Second}}
	m, err := kubeMetrics(svc, env)
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := m.(metric.Comparer).Compare(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	want := analysis.Window{Canary: analysis.Counts{Requests: 30, Events: 3}, Baseline: analysis.Counts{Requests: 570, Events: 1}}
	if len(ws) != 1 || ws[0] != want {
		t.Fatalf("windows %+v, want one %+v (asked %q)", ws, want, asked)
	}
	if len(asked) != 4 || !strings.HasPrefix(asked[0], "/api/v1/query_range ") || !strings.HasSuffix(asked[0], "step=15s") {
		t.Errorf("asked %q, want four range queries a step of 15s apart", asked)
	}
}
