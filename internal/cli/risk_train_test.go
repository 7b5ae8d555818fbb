package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/change"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/planner"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/sqlite"
)

// seedRollouts records n finished rollouts of the demo service in production, each with the plan
// the planner makes for its change: big changes with migrations are mostly rolled back, small
// ones mostly succeed.
func seedRollouts(t *testing.T, dataDir string, n int) {
	t.Helper()
	svc, err := plan.ParseService("hugai.yaml", []byte(demoServiceFile(t)))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dataDir, 0o700)
	st, err := sqlite.Open(filepath.Join(dataDir, DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := rand.New(rand.NewPCG(3, 4))
	t0 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	for i := range n {
		big := i%3 == 0
		cs := &change.Set{From: "a", To: "b", FromHash: "a", ToHash: "b", Commits: []change.Commit{{Hash: "b"}}}
		files := 1 + r.IntN(3)
		for f := range files {
			cs.Files = append(cs.Files, change.File{Path: fmt.Sprintf("svc/f%d.go", f), Added: 10 + r.IntN(50), Commits: 1})
		}
		if big {
			for f := range 30 {
				cs.Files = append(cs.Files, change.File{Path: fmt.Sprintf("area%d/g%d.go", f%6, f), Added: 100 + r.IntN(200), Commits: 1})
			}
			cs.Files = append(cs.Files, change.File{Path: "db/migrations/0001.sql", Added: 20, Commits: 1})
		}
		cs.Classify()
		at := t0.Add(time.Duration(i) * 5 * time.Hour)
		p, _, err := planner.Build(planner.Input{Service: svc, Environment: "production", Version: fmt.Sprintf("v%d", i), Changes: cs, At: at})
		if err != nil {
			t.Fatal(err)
		}
		y, err := plan.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		failed := r.Float64() < map[bool]float64{true: 0.75, false: 0.08}[big]
		phase := "Succeeded"
		if failed {
			phase = "RolledBack"
		}
		ro := &store.Rollout{Service: "demo", Environment: "production", Version: p.Spec.Version, Strategy: p.Spec.Strategy.Type,
			Phase: phase, Plan: y, CreatedAt: at, UpdatedAt: at}
		if _, err := st.Commit(context.Background(), store.Tx{Rollout: ro}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRiskTrainAndPlan: with 60 finished rollouts, risk train fits a model whose held-out AUC says
// it tells big risky changes apart; deploy plan then shows the learned factor beside the rules.
// With fewer than 50, train refuses.
func TestRiskTrainAndPlan(t *testing.T) {
	t.Parallel()
	few := filepath.Join(t.TempDir(), ".hugai")
	seedRollouts(t, few, 30)
	if code, _, stderr := run(t, "risk", "train", "--service", "demo", "--data-dir", few); code != ExitFailed || !strings.Contains(stderr, "30 finished rollouts of demo: a model needs at least 50") {
		t.Errorf("30 rollouts: exit %d %s", code, stderr)
	}

	r := releaseRepo(t, func(r *gitRepo) {
		for i := range 30 {
			r.write(fmt.Sprintf("area%d/g%d.go", i%6, i), strings.Repeat("var x = 1\n", 150))
		}
		r.write("db/migrations/0001.sql", "CREATE TABLE t (id int);\n")
		r.commit("feat: a lot at once")
	})
	dd := filepath.Join(r.dir, ".hugai")
	seedRollouts(t, dd, 60)
	code, stdout, stderr := run(t, "risk", "train", "--service", "demo", "--data-dir", dd, "-o", "json")
	if code != 0 {
		t.Fatalf("train: exit %d %s", code, stderr)
	}
	var out trainOut
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || out.Samples != 60 || out.AUC < 0.7 || out.HeldOut != 18 {
		t.Fatalf("train: %v %+v", err, out)
	}
	if _, err := os.Stat(filepath.Join(dd, "models", "risk-demo.json")); err != nil {
		t.Fatal(err)
	}
	p, explain := planFor(t, r, "production", "--data-dir", dd)
	var learned *plan.RiskFactor
	for i, f := range p.Spec.Risk.Factors {
		if f.Name == "learned" {
			learned = &p.Spec.Risk.Factors[i]
		}
	}
	if learned == nil || !strings.Contains(explain, "learned") || !strings.Contains(learned.Reason, "60 finished rollouts; AUC") {
		t.Fatalf("no learned factor in the plan:\n%s", explain)
	}
	// The model puts this big change with a migration above the service's base rate of rollbacks.
	var pct float64
	if _, err := fmt.Sscanf(learned.Reason[strings.Index(learned.Reason, "gives a ")+len("gives a "):], "%f%%", &pct); err != nil ||
		pct <= 100*float64(out.Failed)/float64(out.Samples) {
		t.Errorf("learned %.0f%% (%v), base rate %d of %d: %s", pct, err, out.Failed, out.Samples, learned.Reason)
	}
	// A model file this hugai cannot use is an error, not silently ignored.
	os.WriteFile(filepath.Join(dd, "models", "risk-demo.json"), []byte(`{"service":"demo","features":["x"]}`), 0o644)
	code, _, stderr = run(t, "deploy", "plan", "-f", filepath.Join(r.dir, "hugai.yaml"), "-e", "production", "--out", "-", "--data-dir", dd, at)
	if code == 0 || !strings.Contains(stderr, "train it again") {
		t.Errorf("unusable model: exit %d %s", code, stderr)
	}
}
