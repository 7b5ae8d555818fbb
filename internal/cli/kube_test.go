package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
	m, err := kubeMetrics(svc, "production")
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
