//go:build e2e && kube && prometheus

package e2e

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/hugai-dev/hugai/internal/kube/kubetest"
	"github.com/hugai-dev/hugai/internal/metric/prometheus/promtest"
)

// kubeSequentialYAML is kubeServiceYAML judged by the sequential comparison alone: its criterion
// (request_rate>0) passes every version, so only the comparison of the Prometheus totals that
// analysis.compare names can roll one back.
const kubeSequentialYAML = `apiVersion: hugai.io/v1
kind: Service
metadata:
  name: checkout
spec:
  target:
    type: kubernetes
    kubernetes:
      namespace: shop
      deployment: checkout
      container: app
      image: registry.example.com/checkout:{{.Version}}
      service: checkout
      replicas: 2
      trafficRouter:
        gatewayAPI: {httpRoute: checkout}
  progressDeadline: 20s
  metrics:
    - {name: request_rate, provider: prometheus, address: "%[1]s", query: 'sum(rate(http_requests_total{version="{{.Version}}"}[5s]))'}
    - {name: http_requests, provider: prometheus, address: "%[1]s", query: 'sum(http_requests_total{version="{{.Version}}"})'}
    - {name: http_errors, provider: prometheus, address: "%[1]s", query: 'sum(http_requests_total{version="{{.Version}}",code="500"}) or vector(0)'}
  environments:
    production:
      successCriteria: request_rate>0
      analysis:
        interval: 1s
        minimumSamples: 20
        method: sequential
        compare: {requests: http_requests, errors: http_errors, step: 2s}
`

// TestKubernetesSequentialFromPrometheus: on the kubernetes target the engine compares the
// versions from a real Prometheus (analysis.compare). A healthy v2 is promoted over v1; v3, whose
// error rate is 40 times v2's while its criterion passes, is rolled back by the comparison.
func TestKubernetesSequentialFromPrometheus(t *testing.T) {
	scenarios <- struct{}{}
	t.Cleanup(func() { <-scenarios })
	// Every version's counters grow from the start at 100 requests a second, whatever its weight:
	// the test conditions on each step's total, so the split does not matter to it.
	start := time.Now()
	shares := map[string]float64{"v1": 0.005, "v2": 0.005, "v3": 0.2}
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		el := time.Since(start).Seconds()
		var b strings.Builder
		b.WriteString("# TYPE http_requests_total counter\n")
		for _, v := range []string{"v1", "v2", "v3"} {
			n, e := math.Floor(100*el), math.Floor(100*shares[v]*el)
			fmt.Fprintf(&b, "http_requests_total{version=%q,code=\"200\"} %v\nhttp_requests_total{version=%q,code=\"500\"} %v\n", v, n-e, v, e)
		}
		io.WriteString(w, b.String())
	}))
	t.Cleanup(exporter.Close)
	prom := promtest.Start(t, exporter.Listener.Addr().String())

	cl := kubetest.Start(t, kubetest.Options{
		CRDPaths:    []string{"../../internal/target/kubernetes/testdata/gateway-api"},
		AddToScheme: []func(*runtime.Scheme) error{gatewayv1.Install},
	})
	kubeWorld(t, cl.Client, "shop")
	kubetest.StartKubelet(t, cl.Client, "shop", func(*corev1.PodTemplateSpec) kubetest.Behaviour { return kubetest.Good })

	dir := t.TempDir()
	e := &env{t: t, dir: dir, dataDir: filepath.Join(dir, ".hugai"), file: filepath.Join(dir, "hugai.yaml")}
	if err := os.WriteFile(e.file, []byte(fmt.Sprintf(kubeSequentialYAML, prom)), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := e.hugai("validate", e.file); r.code != 0 {
		t.Fatalf("validate: %d %s %s", r.code, r.stdout, r.stderr)
	}
	startKubeServer(t, e, cl.Kubeconfig)
	w := watchRoute(t, cl.Client, "shop", "checkout")
	canary := func(version string) result {
		return e.hugai("deploy", "canary", "-f", e.file, "--environment", "production", "--version", version,
			"--traffic-split", "25,50,100", "--health-check-interval", "3s")
	}
	if r := canary("v1"); r.code != 0 {
		t.Fatalf("first deploy of v1: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	w.waitFor(t, map[string]int{"v1": 100})
	r := canary("v2")
	if r.code != 0 {
		t.Fatalf("healthy v2: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	w.waitFor(t, map[string]int{"v2": 100})
	if st := e.status(firstLine(r.stdout)); st.Phase != "Succeeded" {
		t.Fatalf("healthy v2: %s %s", st.Phase, st.Message)
	}

	r = canary("v3")
	if r.code != 3 {
		t.Fatalf("v3 (40× the errors): exit %d, want 3 (RolledBack)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	w.waitFor(t, map[string]int{"v2": 100})
	st := e.status(firstLine(r.stdout))
	if st.Phase != "RolledBack" || !strings.Contains(st.Message, "beyond doubt") {
		t.Fatalf("v3: %s %q, want RolledBack by the comparison", st.Phase, st.Message)
	}
	t.Logf("v3: %s; HTTPRoute weights seen: %v", st.Message, w.history())
}
