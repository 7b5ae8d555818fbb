//go:build e2e && prometheus

package argojudge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	// Argo evaluates successCondition and failureCondition with expr (utils/evaluate); the test
	// does the same so that the template's conditions are judged as Argo judges them. A test-only
	// dependency: the handler never evaluates conditions.
	"github.com/expr-lang/expr"
	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/yaml"

	"github.com/hugai-dev/hugai/internal/eventually"
	"github.com/hugai-dev/hugai/internal/metric/prometheus/promtest"
)

// traffic is one pod-template hash's traffic, as counters that grow with time: rate requests per
// second, a share errShare of them failing.
type traffic struct {
	hash     string
	rate     float64
	errShare float64
}

// exporter serves http_requests_total of my-app for each version, labelled as Prometheus'
// kubernetes_sd relabelling labels Argo's pods (rollouts_pod_template_hash), counting from start.
func exporter(t testing.TB, start time.Time, vs []traffic) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		el := time.Since(start).Seconds()
		var b strings.Builder
		b.WriteString("# TYPE http_requests_total counter\n")
		for _, v := range vs {
			n := math.Floor(v.rate * el)
			e := math.Floor(v.rate * v.errShare * el)
			fmt.Fprintf(&b, "http_requests_total{service=\"my-app\",rollouts_pod_template_hash=%q,code=\"200\"} %v\n", v.hash, n-e)
			fmt.Fprintf(&b, "http_requests_total{service=\"my-app\",rollouts_pod_template_hash=%q,code=\"500\"} %v\n", v.hash, e)
		}
		io.WriteString(w, b.String())
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// argoTemplate is the part of config/argo/hugai-analysis.yaml Argo's web provider reads.
type argoTemplate struct {
	Spec struct {
		Metrics []struct {
			SuccessCondition string `json:"successCondition"`
			FailureCondition string `json:"failureCondition"`
			Provider         struct {
				Web struct {
					Method  string `json:"method"`
					URL     string `json:"url"`
					Headers []struct {
						Key   string `json:"key"`
						Value string `json:"value"`
					} `json:"headers"`
					TimeoutSeconds int64  `json:"timeoutSeconds"`
					JSONPath       string `json:"jsonPath"`
				} `json:"web"`
			} `json:"provider"`
		} `json:"metrics"`
	} `json:"spec"`
}

// argoMeasure takes one measurement as Argo's web provider does (metricproviders/webmetric:
// the method, the template's headers on a fresh header map, a client with timeoutSeconds, any
// non-2xx an Error, the jsonPath through client-go's jsonpath, the first value found) and judges
// it as utils/evaluate does: Failed if the failureCondition holds, Successful if the
// successCondition does, else Inconclusive.
func argoMeasure(t *testing.T, tmpl argoTemplate, base string, args map[string]string) (phase, value string) {
	t.Helper()
	m := tmpl.Spec.Metrics[0]
	web := m.Provider.Web
	sub := func(s string) string { // Argo resolves {{args.x}} by substitution before the run
		for k, v := range args {
			s = strings.ReplaceAll(s, "{{args."+k+"}}", v)
		}
		return s
	}
	u := strings.Replace(sub(web.URL), "http://hugai-operator.hugai-system.svc:8090", base, 1)
	method := web.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = make(http.Header)
	for _, h := range web.Headers {
		req.Header.Set(h.Key, sub(h.Value))
	}
	timeout := time.Duration(web.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return "Error", err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return "Error", fmt.Sprintf("HTTP %d: %s", resp.StatusCode, body)
	}
	var data any
	if err := json.Unmarshal(body, &data); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	jp := jsonpath.New("metrics")
	if err := jp.Parse(web.JSONPath); err != nil {
		t.Fatal(err)
	}
	results, err := jp.FindResults(data)
	if err != nil || len(results) == 0 || len(results[0]) == 0 {
		return "Error", fmt.Sprintf("jsonPath %s: %v in %s", web.JSONPath, err, body)
	}
	result := results[0][0].Interface()
	valBytes, _ := json.Marshal(result)
	eval := func(cond string) bool {
		env := map[string]any{"result": valueOf(result), "isNaN": math.IsNaN}
		prog, err := expr.Compile(cond, expr.Env(env))
		if err != nil {
			t.Fatalf("condition %q: %v", cond, err)
		}
		out, err := expr.Run(prog, env)
		if err != nil {
			t.Fatalf("condition %q on %v: %v", cond, result, err)
		}
		return out.(bool)
	}
	switch {
	case eval(m.FailureCondition):
		return "Failed", string(valBytes) + " " + string(body)
	case eval(m.SuccessCondition):
		return "Successful", string(valBytes) + " " + string(body)
	}
	return "Inconclusive", string(valBytes) + " " + string(body)
}

// valueOf dereferences as Argo's valueFromPointer does.
func valueOf(v any) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		return rv.Elem().Interface()
	}
	return v
}

// TestArgoAsksARealPrometheus: a real Prometheus scrapes the counters of a stable version and
// three canaries; the endpoint, asked exactly as Argo's web provider asks it with the shipped
// template, answers Successful for the healthy canary, Failed for the regressed one and
// Inconclusive for the one with thin traffic; never Failed for the healthy one at any look. A
// second handler (an operator restarted) answers the same for the same moment.
func TestArgoAsksARealPrometheus(t *testing.T) {
	t.Parallel()
	start := time.Now().Add(-time.Second)
	vs := []traffic{
		{"5b6d4f", 200, 0.005}, // stable
		{"aa11", 20, 0.005},    // healthy canary: the stable's error rate
		{"bb22", 20, 0.10},     // regressed: 20× the errors
		{"cc33", 0.5, 0},       // thin: half a request per second
	}
	prom := promtest.Start(t, exporter(t, start, vs))

	b, err := os.ReadFile("testdata/hugai.yaml")
	if err != nil {
		t.Fatal(err)
	}
	svcFile := strings.ReplaceAll(string(b), "http://prometheus.monitoring:9090", prom)
	svcFile = strings.Replace(svcFile, "step: 30s", "step: 2s", 1) // the test's Prometheus scrapes every second
	path := filepath.Join(t.TempDir(), "hugai.yaml")
	if err := os.WriteFile(path, []byte(svcFile), 0o600); err != nil {
		t.Fatal(err)
	}
	tb, err := os.ReadFile("../../config/argo/hugai-analysis.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tmpl argoTemplate
	if err := yaml.Unmarshal(tb, &tmpl); err != nil || len(tmpl.Spec.Metrics) != 1 {
		t.Fatalf("the template: %v", err)
	}
	h, err := New(Config{Find: Files(path), Token: func() string { return "t0k3n" }})
	if err != nil {
		t.Fatal(err)
	}
	judge := httptest.NewServer(h)
	defer judge.Close()
	args := func(canary string) map[string]string {
		return map[string]string{"service-name": "my-app", "namespace": "production", "environment": "", "canary-hash": canary, "stable-hash": "5b6d4f", "hugai-token": "t0k3n"}
	}

	var healthyFailed []string
	seen := map[string]string{}
	eventually.True(t, 90*time.Second, "healthy Successful, regressed Failed", func() bool {
		phase, v := argoMeasure(t, tmpl, judge.URL, args("aa11"))
		if phase == "Failed" {
			healthyFailed = append(healthyFailed, v)
		}
		seen["aa11"] = phase
		phase, _ = argoMeasure(t, tmpl, judge.URL, args("bb22"))
		seen["bb22"] = phase
		return seen["aa11"] == "Successful" && seen["bb22"] == "Failed"
	})
	if len(healthyFailed) > 0 {
		t.Errorf("the healthy canary was Failed at some look: %q", healthyFailed)
	}
	phase, v := argoMeasure(t, tmpl, judge.URL, args("cc33"))
	if phase != "Inconclusive" || !strings.Contains(v, "too few requests to pass") {
		t.Errorf("thin traffic: %s %s", phase, v)
	}
	// No token: an Error measurement (401), never a verdict.
	noToken := args("aa11")
	noToken["hugai-token"] = "wrong"
	if phase, v := argoMeasure(t, tmpl, judge.URL, noToken); phase != "Error" || !strings.Contains(v, "HTTP 401") {
		t.Errorf("wrong token: %s %s", phase, v)
	}
	// A version Prometheus has never seen: no data, Inconclusive, not a pass.
	if phase, v := argoMeasure(t, tmpl, judge.URL, args("dd44")); phase != "Inconclusive" || !strings.Contains(v, "no counted request") {
		t.Errorf("unknown version: %s %s", phase, v)
	}

	// An operator restarted answers the same for the same moment: the evidence is recomputed
	// from Prometheus over the whole span, not kept in the process.
	at := time.Now().Add(-3 * time.Second)
	answer := func() []byte {
		h, err := New(Config{Find: Files(path), Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/analysis?service=my-app&namespace=production&canary=bb22&stable=5b6d4f", nil))
		if rec.Code != 200 {
			t.Fatalf("HTTP %d %s", rec.Code, rec.Body)
		}
		return rec.Body.Bytes()
	}
	first, second := answer(), answer()
	if !bytes.Equal(first, second) {
		t.Errorf("two handlers for the same moment differ:\n%s\n%s", first, second)
	}
	var a Answer
	if err := json.Unmarshal(first, &a); err != nil || a.Verdict != Fail || a.Evidence.Samples.Canary.Errors == 0 {
		t.Errorf("the regressed canary's answer: %s", first)
	}
	t.Logf("regressed: %s", first)
}

// BenchmarkAnswer measures one answer of the endpoint against a real Prometheus over the default
// 24-hour lookback: four range queries per 10,000 points, so at a 30 s step one query per series,
// at 2 s five. Argo waits timeoutSeconds (10 by default) for it.
func BenchmarkAnswer(b *testing.B) {
	start := time.Now().Add(-time.Second)
	prom := promtest.Start(b, exporter(b, start, []traffic{{"5b6d4f", 200, 0.005}, {"aa11", 20, 0.005}}))
	src, err := os.ReadFile("testdata/hugai.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, step := range []string{"30s", "2s"} {
		svcFile := strings.ReplaceAll(string(src), "http://prometheus.monitoring:9090", prom)
		svcFile = strings.Replace(svcFile, "step: 30s", "step: "+step, 1)
		path := filepath.Join(b.TempDir(), "hugai.yaml")
		if err := os.WriteFile(path, []byte(svcFile), 0o600); err != nil {
			b.Fatal(err)
		}
		h, err := New(Config{Find: Files(path)})
		if err != nil {
			b.Fatal(err)
		}
		b.Run("step="+step, func(b *testing.B) {
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/analysis?service=my-app&namespace=production&canary=aa11&stable=5b6d4f", nil))
				if rec.Code != 200 {
					b.Fatalf("HTTP %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
