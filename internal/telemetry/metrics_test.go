package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/engine"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/sqlite"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestMetricsFollowTheRollouts(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "hugai.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, phase := range []string{"Succeeded", "Succeeded", "Progressing"} {
		r := store.Rollout{Service: "demo", Environment: "production", Version: "v2", Strategy: "canary", Phase: phase, State: []byte("{}"), CreatedAt: now, UpdatedAt: now}
		if _, err := st.Commit(context.Background(), store.Tx{Rollout: &r}); err != nil {
			t.Fatal(err)
		}
	}
	m := New(st)
	wait := now.Add(-90 * time.Second)
	base := engine.Change{RolloutID: "demo-1", Service: "demo", Environment: "production", Strategy: "canary", At: now}

	// A step that began 40 s before the next one did.
	c := base
	c.Before = rollout.State{Phase: rollout.Progressing, StepIndex: 0, StepStartedAt: now.Add(-40 * time.Second)}
	c.After = rollout.State{Phase: rollout.Progressing, StepIndex: 1, StepStartedAt: now}
	c.Measurements = []analysis.Measurement{{Metric: "error_rate", Phase: analysis.Successful}, {Metric: "latency_p95", Phase: analysis.Pending}}
	m.Committed(c)
	// An approval that waited 90 s and was given.
	c = base
	c.Before = rollout.State{Phase: rollout.AwaitingApproval, WaitingSince: &wait}
	c.After = rollout.State{Phase: rollout.Progressing}
	m.Committed(c)
	// One that was rejected: the rollout ended.
	c.After = rollout.State{Phase: rollout.Aborted, Reason: rollout.ReasonRejected}
	m.Committed(c)

	out := scrape(t, m)
	for _, want := range []string{
		`hugai_rollouts{environment="production",phase="Succeeded",service="demo"} 2`,
		`hugai_rollouts{environment="production",phase="Progressing",service="demo"} 1`,
		`hugai_rollout_step_duration_seconds_sum{environment="production",service="demo",strategy="canary"} 40`,
		`hugai_approval_wait_seconds_sum{environment="production",outcome="approved",service="demo"} 90`,
		`hugai_approval_wait_seconds_count{environment="production",outcome="rejected",service="demo"} 1`,
		`hugai_analysis_verdicts_total{environment="production",metric="error_rate",service="demo",verdict="Successful"} 1`,
		`hugai_analysis_verdicts_total{environment="production",metric="latency_p95",service="demo",verdict="Pending"} 1`,
		`hugai_rollouts_finished_total{environment="production",phase="Aborted",reason="rejected",service="demo"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s in\n%s", want, out)
		}
	}
	// A new rollout's first change (no state before) counts no step and no wait.
	m2 := New(st)
	c = base
	c.After = rollout.State{Phase: rollout.Progressing, StepIndex: 1, StepStartedAt: now}
	m2.Committed(c)
	if out := scrape(t, m2); strings.Contains(out, "hugai_rollout_step_duration_seconds_count") {
		t.Errorf("a first change counted a step:\n%s", out)
	}
}
