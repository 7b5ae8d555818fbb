package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/sqlite"
)

const at = "--at=2026-11-25T10:00:00Z" // a Wednesday morning: no time-of-day factor

// releaseRepo makes a repository with a tagged first release and a second change made by change.
func releaseRepo(t *testing.T, change func(r *gitRepo)) *gitRepo {
	r := newGitRepo(t)
	r.write("hugai.yaml", demoServiceFile(t))
	r.write("README.md", "# svc\n")
	for i := range 40 {
		r.write(fmt.Sprintf("pkg%d/file%d.go", i%8, i), "package p\n")
	}
	r.commit("first release")
	r.git("tag", "v1.0.0")
	change(r)
	return r
}

func planFor(t *testing.T, r *gitRepo, env string, extra ...string) (*plan.DeploymentPlan, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "plan.yaml")
	args := append([]string{"deploy", "plan", "-f", filepath.Join(r.dir, "hugai.yaml"), "--environment", env, "--out", out, at, "--explain"}, extra...)
	code, stdout, stderr := run(t, args...)
	if code != 0 {
		t.Fatalf("deploy plan exit %d: %s %s", code, stdout, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := plan.ParsePlan(out, b)
	if err != nil {
		t.Fatalf("the written plan does not validate: %v", err)
	}
	return p, stdout
}

func TestMigrationChangeOutscoresDocsChange(t *testing.T) {
	big := releaseRepo(t, func(r *gitRepo) {
		// The database step needs a command to run: without one the plan has none, and says so.
		r.write("hugai.yaml", demoServiceFile(t)+"\n  database:\n    migrate: [\"true\"]\n    rollback: [\"true\"]\n")
		r.write("db/migrations/0002_add_orders.sql", "ALTER TABLE orders ADD COLUMN note text;\n")
		for i := range 40 {
			r.write(fmt.Sprintf("pkg%d/file%d.go", i%8, i), fmt.Sprintf("package p\n\nvar x%d = %d\n", i, i))
		}
		r.commit("orders: add a note column")
	})
	docs := releaseRepo(t, func(r *gitRepo) {
		r.write("README.md", "# svc\n\nHow to run it.\n")
		r.commit("docs: how to run")
	})

	bigPlan, explain := planFor(t, big, "production")
	docsPlan, _ := planFor(t, docs, "production")
	if bigPlan.Spec.Risk.Score <= docsPlan.Spec.Risk.Score {
		t.Fatalf("migration + 40 files scored %d, docs-only %d", bigPlan.Spec.Risk.Score, docsPlan.Spec.Risk.Score)
	}
	var names []string
	for _, f := range bigPlan.Spec.Risk.Factors {
		names = append(names, f.Name+": "+f.Reason)
	}
	if !strings.Contains(strings.Join(names, "\n"), "0002_add_orders.sql") {
		t.Errorf("the factors must say why (name the migration):\n%s", strings.Join(names, "\n"))
	}
	var dbStep *plan.RollbackStep
	for i, s := range bigPlan.Spec.Rollback.Steps {
		if s.Action == plan.ActionDatabaseMigration {
			dbStep = &bigPlan.Spec.Rollback.Steps[i]
		}
	}
	if dbStep == nil || !dbStep.RequiresApproval || dbStep.MaxDuration.String() != "2m" {
		t.Fatalf("want a database rollback step that requires approval, got %+v", bigPlan.Spec.Rollback.Steps)
	}
	for _, s := range docsPlan.Spec.Rollback.Steps {
		if s.Action == plan.ActionDatabaseMigration {
			t.Fatal("a docs-only change has no database rollback step")
		}
	}
	if got := bigPlan.Spec.Changes; got.From != "v1.0.0" || got.Commits != 1 || len(got.Files) != 42 { // 40 sources, the migration, hugai.yaml
		t.Errorf("changes: from %q, %d commits, %d files", got.From, got.Commits, len(got.Files))
	}
	if !strings.Contains(explain, "Decisions:") || !strings.Contains(explain, "database rollback") {
		t.Errorf("--explain must say why:\n%s", explain)
	}
}

func TestProductionScoresHigherThanStaging(t *testing.T) {
	r := releaseRepo(t, func(r *gitRepo) {
		r.write("pkg1/file1.go", "package p\n\nvar y = 2\n")
		r.commit("tweak")
	})
	prod, _ := planFor(t, r, "production")
	staging, _ := planFor(t, r, "staging")
	if prod.Spec.Risk.Score <= staging.Spec.Risk.Score {
		t.Fatalf("production %d, staging %d", prod.Spec.Risk.Score, staging.Spec.Risk.Score)
	}
}

func TestPlanIsByteIdentical(t *testing.T) {
	r := releaseRepo(t, func(r *gitRepo) {
		r.write("go.mod", "module x\n")
		r.commit("deps")
	})
	var outs []string
	for range 2 {
		code, stdout, stderr := run(t, "deploy", "plan", "-f", filepath.Join(r.dir, "hugai.yaml"), "-e", "production", "--out", "-", at)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		outs = append(outs, stdout)
	}
	if outs[0] != outs[1] {
		t.Fatal("the same inputs must give a byte-identical plan")
	}
}

func TestExplicitStrategyWins(t *testing.T) {
	r := releaseRepo(t, func(r *gitRepo) {
		r.write("README.md", "x\n")
		r.commit("docs")
	})
	for _, s := range []string{"blue-green", "rolling", "recreate", "canary"} {
		p, _ := planFor(t, r, "production", "--strategy", s)
		if p.Spec.Strategy.Type != plan.NormalizeStrategy(s) {
			t.Errorf("--strategy %s gave %s", s, p.Spec.Strategy.Type)
		}
	}
}

func TestPlanWithoutGit(t *testing.T) {
	dir := t.TempDir()
	svc := filepath.Join(dir, "hugai.yaml")
	if err := os.WriteFile(svc, []byte(demoServiceFile(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "deploy", "plan", "-f", svc, "-e", "staging", "--out", "-", at)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "not in a git repository: no change analysis") {
		t.Fatalf("a plan without git must say so:\n%s", stdout)
	}
}

func TestPlanBadInput(t *testing.T) {
	r := releaseRepo(t, func(r *gitRepo) {
		r.write("README.md", "x\n")
		r.commit("docs")
	})
	svc := filepath.Join(r.dir, "hugai.yaml")
	broken := filepath.Join(t.TempDir(), "hugai.yaml")
	if err := os.WriteFile(broken, []byte(strings.Replace(demoServiceFile(t), "replicas:", "replicaz:", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-f", svc, "-e", "prod"}, `environment "prod" is not in demo (did you mean "production"?)`},
		{[]string{"-f", svc, "-e", "production", "--from", "v9.9"}, `unknown revision "v9.9"`},
		{[]string{"-f", svc, "-e", "production", "--at", "tomorrow"}, "--at"},
		{[]string{"-f", svc, "-e", "production", "--strategy", "yolo"}, `--strategy "yolo"`},
		{[]string{"-f", broken, "-e", "production"}, `hugai.yaml:`},
		{[]string{"-f", filepath.Join(r.dir, "missing.yaml")}, "missing.yaml"},
	}
	for _, tc := range cases {
		out := filepath.Join(t.TempDir(), "plan.yaml")
		code, _, stderr := run(t, append([]string{"deploy", "plan", "--out", out, at}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: bad input must change nothing, but a plan was written", tc.args)
		}
	}
}

func TestValidateCommand(t *testing.T) {
	code, stdout, stderr := run(t, "validate", "../plan/testdata/seed-plan.yaml", "../../examples/demo/hugai.yaml", "../plan/testdata/service-reference.yaml")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	seed, err := os.ReadFile("../plan/testdata/seed-plan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	broken := filepath.Join(dir, "plan.yaml")
	if err := os.WriteFile(broken, []byte(strings.Replace(string(seed), "setWeight: 50", "setWeight: 140", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(broken)
	code, _, stderr = run(t, "validate", broken)
	if code != 2 || !strings.Contains(stderr, "plan.yaml:17: spec.strategy.canary.steps[2].setWeight: 140 is not within 0..100") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	after, _ := os.ReadFile(broken)
	if string(before) != string(after) {
		t.Fatal("validate must not change the file")
	}
	code, stdout, _ = run(t, "validate", "-o", "json", broken)
	if code != 2 || !strings.Contains(stdout, `"valid": false`) {
		t.Fatalf("-o json: exit %d, %s", code, stdout)
	}
}

func TestInitWritesAValidFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "hugai.yaml")
	code, _, stderr := run(t, "init", "--name", "Checkout Service", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	code, _, stderr = run(t, "validate", out)
	if code != 0 {
		t.Fatalf("init's file does not validate: %s", stderr)
	}
	b, _ := os.ReadFile(out)
	if !strings.Contains(string(b), "name: checkout-service") {
		t.Errorf("name not sanitised:\n%s", b)
	}
	if code, _, _ := run(t, "init", "--out", out); code != 2 {
		t.Error("init must not overwrite without --force")
	}
}

func TestSchemaCommand(t *testing.T) {
	code, stdout, _ := run(t, "schema", "plan")
	if code != 0 || !strings.Contains(stdout, `"DeploymentPlan"`) {
		t.Fatalf("schema plan: exit %d", code)
	}
	if code, _, _ := run(t, "schema", "nope"); code != 2 {
		t.Fatalf("unknown schema kind: exit %d, want 2", code)
	}
}

// --out /dev/null once replaced the device with a regular file (the plan was written to a temp
// file and renamed over it). Writing to a device must write, never rename.
func TestOutToDeviceWritesInPlace(t *testing.T) {
	dir := t.TempDir()
	svc := filepath.Join(dir, "hugai.yaml")
	if err := os.WriteFile(svc, []byte(demoServiceFile(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "deploy", "plan", "-f", svc, "-e", "staging", "--out", os.DevNull, at); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	fi, err := os.Stat(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().IsRegular() {
		t.Fatalf("%s became a regular file", os.DevNull)
	}
}

// Once a store exists, the service's recent rollback rate is a risk factor (DORA's change failure
// rate): a service that was rolled back often scores higher for the same change.
func TestRollbackHistoryRaisesRisk(t *testing.T) {
	r := releaseRepo(t, func(r *gitRepo) {
		r.write("pkg1/file1.go", "package p\n\nvar y = 2\n")
		r.commit("tweak")
	})
	before, _ := planFor(t, r, "production")

	dataDir := filepath.Join(r.dir, ".hugai")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(dataDir, DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, phase := range []string{"RolledBack", "RolledBack", "Succeeded", "RolledBack"} {
		if _, err := st.Commit(ctx, store.Tx{Rollout: &store.Rollout{Service: "demo", Environment: "production",
			Version: fmt.Sprintf("v%d", i), Strategy: "canary", Phase: phase, State: []byte("{}")}}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	after, explain := planFor(t, r, "production")
	if after.Spec.Risk.Score <= before.Spec.Risk.Score {
		t.Fatalf("3 of 4 rolled back: score %d, without history %d", after.Spec.Risk.Score, before.Spec.Risk.Score)
	}
	if !strings.Contains(explain, "3 of the last 4 finished rollouts") {
		t.Errorf("--explain must say where the rate comes from:\n%s", explain)
	}
}

// With a store, the change runs from the commit the current release was planned at, not from the
// last tag: what is new is what is not running yet.
func TestFromDefaultsToThePreviousDeploy(t *testing.T) {
	r := releaseRepo(t, func(r *gitRepo) {
		r.write("pkg1/file1.go", "package p\n\nvar y = 2\n")
		r.commit("first change, deployed")
	})
	deployed := strings.TrimSpace(r.git("rev-parse", "HEAD"))
	r.write("pkg2/file2.go", "package p\n\nvar z = 3\n")
	r.commit("second change, not deployed yet")

	dataDir := filepath.Join(r.dir, ".hugai")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(dataDir, DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	frozen := "apiVersion: hugai.io/v1\nkind: DeploymentPlan\nspec:\n  strategy: {type: canary}\n  changes: {toCommit: " + deployed + ", commits: 1}\n"
	if _, err := st.Commit(context.Background(), store.Tx{Rollout: &store.Rollout{Service: "demo", Environment: "production",
		Version: "v1", Strategy: "canary", Phase: "Succeeded", Plan: []byte(frozen), State: []byte("{}")}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	p, _ := planFor(t, r, "production")
	if c := p.Spec.Changes; c.FromCommit != deployed || c.Commits != 1 || len(c.Files) != 1 || c.Files[0].Path != "pkg2/file2.go" {
		t.Fatalf("changes since the previous deploy: from %s, %d commits, files %+v", c.FromCommit, c.Commits, c.Files)
	}
}

// --analyze-impact=false skips the change analysis, not the version: the plan still names what
// it deploys (the tag at --to, else its short hash).
func TestAnalyzeImpactOffKeepsVersion(t *testing.T) {
	r := releaseRepo(t, func(r *gitRepo) {
		r.write("README.md", "# svc\n\nv2\n")
		r.commit("docs")
		r.git("tag", "v1.1.0")
	})
	p, _ := planFor(t, r, "production", "--analyze-impact=false")
	if p.Spec.Version != "v1.1.0" {
		t.Fatalf("spec.version = %q, want v1.1.0", p.Spec.Version)
	}
	if p.Spec.Changes == nil || !strings.Contains(p.Spec.Changes.Note, "skipped") {
		t.Fatalf("the plan must say the analysis was skipped: %+v", p.Spec.Changes)
	}
}
