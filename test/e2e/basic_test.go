//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/eventually"
)

func TestGoodCanaryThenBadCanary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startServer()
	e.deployFirst("v1")
	load := e.steadyLoad(150)

	r := e.canary("v2")
	if r.code != 0 {
		t.Fatalf("good canary: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	id := firstLine(r.stdout)
	st := e.status(id)
	if st.Phase != "Succeeded" || st.Weights["v2"] != 100 || len(st.Weights) != 1 {
		t.Fatalf("after the good canary: %s %v", st.Phase, st.Weights)
	}
	waitFor(t, 15*time.Second, "v1 stopped", func() bool { return len(e.replicas("v1")) == 0 })

	r = e.canary("v3")
	if r.code != 3 {
		t.Fatalf("bad canary: exit %d, want 3\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	st = e.status(firstLine(r.stdout))
	if st.Phase != "RolledBack" || st.Weights["v2"] != 100 || st.Weights["v3"] != 0 {
		t.Fatalf("after the bad canary: %s %v", st.Phase, st.Weights)
	}
	if !strings.Contains(st.Message, "error_rate") {
		t.Errorf("the rollback must say why: %q", st.Message)
	}
	waitFor(t, 15*time.Second, "v3 stopped", func() bool { return len(e.replicas("v3")) == 0 })

	sum := load.Stop()
	t.Logf("load: %s", sum)
	if sum.Failed != 0 {
		t.Errorf("%d requests failed that no candidate failed: %v", sum.Failed, sum.Reasons)
	}
	for v, c := range sum.ByVersion {
		if v != "v3" && c.Errors != 0 {
			t.Errorf("%s answered %d 5xx: only the bad candidate may fail", v, c.Errors)
		}
	}
	if sum.ByVersion["v3"].Errors == 0 {
		t.Error("the bad candidate got no traffic at all: the canary did not run")
	}
	if r := e.hugai("audit", "verify", "--data-dir", e.dataDir); r.code != 0 {
		t.Fatalf("audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	eventually.True(t, d, what, cond)
}
