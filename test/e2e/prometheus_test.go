//go:build e2e && prometheus

package e2e

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hugai-dev/hugai/internal/metric/prometheus/promtest"
)

// The check with a real Prometheus: it scrapes the scenario's proxy /metrics, and a canary
// judged by a PromQL criterion alone is rolled back when its error rate rises; with the criterion's
// Prometheus unreachable, a healthy canary is never promoted (its windows are errors).
func TestPromQLCriterionRollsBackCanary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	b, err := os.ReadFile(e.file)
	if err != nil {
		t.Fatal(err)
	}
	admin := regexp.MustCompile(`(?m)^\s+admin: (\S+)$`).FindStringSubmatch(string(b))
	if admin == nil {
		t.Fatalf("no admin address in\n%s", b)
	}
	prom := promtest.Start(t, admin[1])
	const errorRate = `sum(increase(hugai_proxy_responses_5xx_total{version="{{.Version}}"}[{{.Window}}])) / sum(increase(hugai_proxy_requests_total{version="{{.Version}}"}[{{.Window}}])) * 100`
	metrics := "  metrics:\n" +
		"    - name: prom_error_rate\n      provider: prometheus\n      address: " + prom + "\n      query: '" + errorRate + "'\n" +
		"    - name: prom_down\n      provider: prometheus\n      address: http://" + freeAddr(t) + "\n      query: '" + errorRate + "'\n"
	svc := strings.Replace(string(b), "  environments:", metrics+"  environments:", 1)
	// The plan's rollback triggers come from the environment's criteria: without error_rate there,
	// no builtin error-rate trigger races the PromQL criterion to the rollback.
	if svc2 := strings.Replace(svc, "successCriteria: error_rate<1%,latency_p95<700ms", "successCriteria: latency_p95<700ms", 1); svc2 != svc {
		svc = svc2
	} else {
		t.Fatalf("the scenario's criteria changed:\n%s", svc)
	}
	e.writeFile("hugai.yaml", svc)
	e.startServer()
	e.deployFirst("v1")
	load := e.steadyLoad(100)

	// v3 fails one request in five: the PromQL criterion sees it.
	r := e.canary("v3", "--success-criteria", "prom_error_rate<5")
	if r.code != 3 {
		t.Fatalf("v3 judged by PromQL: exit %d, want 3\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	st := e.status(firstLine(r.stdout))
	if st.Phase != "RolledBack" || st.Weights["v1"] != 100 || !strings.Contains(st.Message, "prom_error_rate") {
		t.Fatalf("after v3: %s %v %q", st.Phase, st.Weights, st.Message)
	}
	t.Logf("v3: %s (%s)", st.Phase, st.Message)

	// v2 is healthy, but the criterion's Prometheus is not there: errors, never a promotion.
	r = e.canary("v2", "--success-criteria", "prom_down<5")
	if r.code == 0 {
		t.Fatalf("v2 judged by an unreachable Prometheus was promoted\n%s\n%s", r.stdout, r.stderr)
	}
	st = e.status(firstLine(r.stdout))
	if st.Phase == "Succeeded" || st.Weights["v1"] != 100 || !strings.Contains(st.Message, "prom_down") {
		t.Fatalf("after v2: %s %v %q", st.Phase, st.Weights, st.Message)
	}
	t.Logf("v2 with prometheus down: %s (%s)", st.Phase, st.Message)
	t.Logf("load: %s", load.Stop())
}
