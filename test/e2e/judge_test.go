//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/analysis/backtest"
)

// Thin traffic through the real proxy, judged by the sequential method: 12 requests a second, a
// 20% canary (about 2 canary requests a second), looks every 3 s. No single look holds
// minimumSamples (10), but each 8 s step does, so the healthy canary is promoted and never paused
// for lack of samples; the bad one (20% errors) is rolled back, and the comparison's evidence is in
// `deploy status -o json`.
func TestSequentialJudgeThinTraffic(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "        method: sequential\n        alpha: 0.01\n        maxRegression: {errorRate: 1pp, latencyP95: 20%}\n")
	e.startServer()
	e.deployFirst("v1")
	load := e.steadyLoad(12)

	r := e.canary("v2", "--health-check-interval", "8s")
	if r.code != 0 {
		t.Fatalf("healthy thin canary: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	st := e.status(firstLine(r.stdout))
	if st.Phase != "Succeeded" {
		t.Fatalf("healthy thin canary: %s %s", st.Phase, st.Message)
	}
	cmp := st.Comparison
	if cmp == nil || len(cmp.Results) != 2 || cmp.Results[0].Canary.Requests == 0 || cmp.Results[0].Baseline.Requests == 0 {
		t.Fatalf("no comparison evidence in status: %+v", cmp)
	}
	for _, res := range cmp.Results {
		if res.Decision == analysis.Fail {
			t.Errorf("a healthy canary's %s test failed: %+v", res.Metric, res)
		}
	}

	r = e.canary("v3", "--health-check-interval", "8s")
	if r.code != 3 {
		t.Fatalf("bad thin canary: exit %d, want 3\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	st = e.status(firstLine(r.stdout))
	if st.Phase != "RolledBack" || !strings.Contains(st.Message, "error_rate") {
		t.Fatalf("bad thin canary: %s %s %s", st.Phase, st.Reason, st.Message)
	}
	t.Logf("rolled back: %s", st.Message)

	// The store's trail replays both rollouts: the seconds each look read are in it.
	rp := e.hugai("analyze", "replay", "--data-dir", e.dataDir, "-o", "json")
	if rp.code != 0 {
		t.Fatalf("analyze replay: %d %s", rp.code, rp.stderr)
	}
	var replayed []backtest.Replayed
	if err := json.Unmarshal([]byte(rp.stdout), &replayed); err != nil {
		t.Fatalf("analyze replay: %v\n%s", err, rp.stdout)
	}
	if len(replayed) != 2 || !strings.HasPrefix(replayed[0].Outcome, "Succeeded") || !strings.HasPrefix(replayed[1].Outcome, "RolledBack") ||
		replayed[0].CanaryRequests == 0 || replayed[0].Sequential != nil {
		t.Errorf("replay: %+v", replayed)
	}
	sum := load.Stop()
	if sum.Failed != 0 {
		t.Errorf("%d requests failed that no candidate failed: %v", sum.Failed, sum.Reasons)
	}
}
