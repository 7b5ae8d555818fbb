package plan

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestKubernetesTargetFields: the reference service with type kubernetes validates, and each
// kubernetes field is checked where it is read.
func TestKubernetesTargetFields(t *testing.T) {
	base := strings.Replace(string(readTestdata(t, "service-reference.yaml")), "type: local                        # local | kubernetes", "type: kubernetes", 1)
	// No proxy counts requests in a cluster: builtin metrics are refused, not measured as errors.
	if !strings.Contains(base, "  smokeTest:") {
		t.Fatal("reference lacks smokeTest")
	}
	if _, err := ParseService("hugai.yaml", []byte(base)); err == nil || !strings.Contains(err.Error(), "spec.smokeTest: runs against the local target's addresses") {
		t.Fatalf("smokeTest on the kubernetes target: %v, want it refused", err)
	}
	base = strings.Replace(base, `  smokeTest: ["curl", "-fsS", "http://127.0.0.1:8080/healthz"]`+"\n", "", 1)
	if _, err := ParseService("hugai.yaml", []byte(base)); err == nil || !strings.Contains(err.Error(), "metric error_rate is measured by hugai's proxy, which the kubernetes target does not have") {
		t.Fatalf("builtin error_rate on the kubernetes target: %v, want it refused", err)
	}
	counted := "    - {name: request_rate, provider: prometheus, address: http://prometheus:9090, query: 'sum(rate(http_requests{version=\"{{.Version}}\"}[1m]))'}\n"
	base = strings.Replace(base, "  metrics:\n", "  metrics:\n"+
		"    - {name: error_rate, provider: prometheus, address: http://prometheus:9090, query: 'sum(rate(http_errors{version=\"{{.Version}}\"}[1m]))'}\n"+
		"    - {name: latency_p95, provider: prometheus, address: http://prometheus:9090, query: 'histogram_quantile(0.95, sum by (le) (rate(http_seconds_bucket{version=\"{{.Version}}\"}[1m])))'}\n", 1)
	if _, err := ParseService("hugai.yaml", []byte(base)); err == nil || !strings.Contains(err.Error(), "metric error_rate: on the kubernetes target hugai needs to know how many requests a version served: declare request_rate") {
		t.Fatalf("outside metrics with nothing counting requests: %v, want them refused", err)
	}
	base = strings.Replace(base, "  metrics:\n", "  metrics:\n"+counted, 1)
	svc, err := ParseService("hugai.yaml", []byte(base))
	if err != nil {
		t.Fatalf("reference service as type kubernetes: %v", err)
	}
	env, err := svc.Env("production")
	if err != nil {
		t.Fatal(err)
	}
	if k := env.Target.Kubernetes; k == nil || k.Replicas != DefaultReplicas || k.Namespace != "production" {
		t.Fatalf("production's kubernetes target = %+v, want the service's with replicas defaulted", k)
	}
	withSecret := strings.Replace(base, "gatewayAPI: {httpRoute: checkout}", "gatewayAPI: {httpRoute: checkout}\n      headerRouting: {secret: '${ROUTE_SECRET}'}", 1)
	if s, err := ParseService("hugai.yaml", []byte(withSecret)); err != nil || s.Spec.Target.Kubernetes.HeaderRouting.Secret != "${ROUTE_SECRET}" {
		t.Fatalf("header routing with a secret: %v", err)
	}
	// Istio in place of the Gateway API: routes named or not, with header routing, and the
	// missing name reported at the line of the istio mapping (its first key).
	withIstio := strings.Replace(withSecret, "gatewayAPI: {httpRoute: checkout}", "istio: {virtualService: checkout, routes: [primary]}", 1)
	if s, err := ParseService("hugai.yaml", []byte(withIstio)); err != nil {
		t.Fatalf("istio router: %v", err)
	} else if r := s.Spec.Target.Kubernetes.TrafficRouter.Istio; r == nil || r.VirtualService != "checkout" || len(r.Routes) != 1 || r.Routes[0] != "primary" {
		t.Fatalf("istio router read as %+v", r)
	}
	noName := strings.Replace(base, "gatewayAPI: {httpRoute: checkout}", "istio:\n          routes: [primary]", 1)
	line := 1 + strings.Count(noName[:strings.Index(noName, "routes: [primary]")], "\n")
	if _, err := ParseService("hugai.yaml", []byte(noName)); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("hugai.yaml:%d", line)) || !strings.Contains(err.Error(), "istio.virtualService: missing") {
		t.Fatalf("istio without virtualService: %v, want hugai.yaml:%d and the field", err, line)
	}
	// The sequential comparison reads two named prometheus metrics counting each version.
	base = strings.Replace(base, "  metrics:\n", "  metrics:\n"+
		"    - {name: http_requests, provider: prometheus, address: http://prometheus:9090, query: 'sum(http_requests_total{version=\"{{.Version}}\"})'}\n"+
		"    - {name: http_errors, provider: prometheus, address: http://prometheus:9090, query: 'sum(http_requests_total{version=\"{{.Version}}\",code=~\"5..\"}) or vector(0)'}\n"+
		"    - {name: web_errors, provider: web, address: 'http://errors/{{.Version}}', jsonPath: '{$.n}'}\n", 1)
	seq := strings.Replace(base, "method: threshold", "method: sequential\n        compare: {requests: http_requests, errors: http_errors, step: 15s}", 1)
	if svc, err := ParseService("hugai.yaml", []byte(seq)); err != nil {
		t.Fatalf("sequential with analysis.compare on the kubernetes target: %v", err)
	} else if env, _ := svc.Env("production"); env.Compare == nil || env.Compare.Step != 15*time.Second ||
		env.Compare.Requests.Address != "http://prometheus:9090" || !strings.Contains(env.Compare.Errors.Query, "5..") {
		t.Fatalf("production's comparison = %+v, want both metrics resolved and the step read", env.Compare)
	}
	local := strings.Replace(seq, "type: kubernetes", "type: local", 1)
	if _, err := ParseService("hugai.yaml", []byte(local)); err == nil || !strings.Contains(err.Error(), "analysis.compare: the local target's proxy counts both versions itself") {
		t.Fatalf("analysis.compare on the local target: %v, want it refused", err)
	}
	for _, tc := range []struct{ old, new, want string }{
		{"image: registry.example.com/checkout:{{.Version}}", "image: registry.example.com/checkout:{{.Tag}}", "spec.target.kubernetes.image: bad template"},
		{"image: registry.example.com/checkout:{{.Version}}", "env: {V: '{{.Version'}", "spec.target.kubernetes.env.V: bad template"},
		{"image: registry.example.com/checkout:{{.Version}}", "replicas: 2", "spec.target.kubernetes.image: missing"},
		{"service: checkout\n", "replicas: -1\n", "spec.target.kubernetes.service: missing"},
		{"service: checkout\n", "service: checkout\n      scaleDownDelay: -5s\n", "spec.target.kubernetes.scaleDownDelay"},
		{"gatewayAPI: {httpRoute: checkout}", "istio: {routes: [primary]}", "spec.target.kubernetes.trafficRouter.istio.virtualService: missing"},
		{"gatewayAPI: {httpRoute: checkout}", "istio: {virtualService: checkout, routes: [primary, hugai-canary]}", "spec.target.kubernetes.trafficRouter.istio.routes[1]: \"hugai-canary\": routes named hugai-"},
		{"gatewayAPI: {httpRoute: checkout}", "istio: {virtualService: checkout, routes: [primary, primary]}", "spec.target.kubernetes.trafficRouter.istio.routes[1]: \"primary\" is named twice"},
		{"gatewayAPI: {httpRoute: checkout}", "gatewayAPI: {httpRoute: checkout}\n        istio: {virtualService: checkout}", "spec.target.kubernetes.trafficRouter: set one of gatewayAPI or istio, not both"},
		{"service: checkout\n", "replicas: 2\n", "spec.target.kubernetes.service: missing: the HTTPRoute's"},
		{"gatewayAPI: {httpRoute: checkout}", "gatewayAPI: {httpRoute: checkout}\n      headerRouting: {secret: '${S}', allowFrom: [10.0.0.0/8]}", "spec.target.kubernetes.headerRouting.allowFrom: an HTTPRoute or a VirtualService cannot match a client's address"},
		{"      trafficRouter:\n        gatewayAPI: {httpRoute: checkout}", "      headerRouting: {secret: '${S}'}", "spec.target.kubernetes.headerRouting: needs trafficRouter.gatewayAPI or trafficRouter.istio"},
		{"method: threshold", "method: sequential", "spec.environments.production.analysis.method: sequential compares both versions' requests and errors, which the kubernetes target has no proxy to count: name two prometheus metrics"},
		{"method: threshold", "method: threshold\n        compare: {requests: http_requests, errors: http_errors}", "spec.environments.production.analysis.compare: only the sequential method reads it"},
		{"method: threshold", "method: sequential\n        compare: {requests: http_requests}", "spec.environments.production.analysis.compare.errors: missing"},
		{"method: threshold", "method: sequential\n        compare: {requests: http_requests, errors: nope}", `spec.environments.production.analysis.compare.errors: "nope" is not a metric of spec.metrics`},
		{"method: threshold", "method: sequential\n        compare: {requests: http_requests, errors: http_requests}", `analysis.compare.errors: "http_requests" also counts the requests`},
		{"method: threshold", "method: sequential\n        compare: {requests: http_requests, errors: http_errors, step: 1500ms}", "analysis.compare.step: 1.5s: want whole seconds"},
		{"method: threshold", "method: sequential\n        compare: {requests: http_requests, errors: request_rate}", `analysis.compare.errors: the query of "request_rate" is a rate or reads the window: want a running total`},
		{"method: threshold", "method: sequential\n        compare: {requests: http_requests, errors: web_errors}", `analysis.compare.errors: "web_errors" is read from web`},
	} {
		if !strings.Contains(base, tc.old) {
			t.Fatalf("reference lacks %q", tc.old)
		}
		_, err := ParseService("hugai.yaml", []byte(strings.Replace(base, tc.old, tc.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q -> %q: error %v, want one with %q", tc.old, tc.new, err, tc.want)
		}
	}
}
