package risk

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/change"
)

// weekday10 is a Wednesday, 10:00 UTC: no time factor.
var weekday10 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func set(files ...change.File) *change.Set {
	s := &change.Set{Commits: []change.Commit{{Hash: "a"}, {Hash: "b"}}, Files: files}
	s.Classify()
	return s
}

func file(path string, added, deleted int) change.File {
	return change.File{Path: path, Added: added, Deleted: deleted, Commits: 1}
}

func docsOnly() *change.Set { return set(file("README.md", 8, 2)) }

// bigWithMigration is a change adding a SQL migration and touching 40 files.
func bigWithMigration() *change.Set {
	files := []change.File{file("db/migrations/0007_add_orders.sql", 30, 0)}
	for i := 0; i < 39; i++ {
		files = append(files, file(fmt.Sprintf("internal/pkg%d/file%d.go", i%6, i), 10+i, i%4))
	}
	return set(files...)
}

func factor(a Assessment, name string) (Factor, bool) {
	for _, f := range a.Factors {
		if f.Name == name {
			return f, true
		}
	}
	return Factor{}, false
}

// tb is what checkExplained needs of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
}

func checkExplained(t tb, a Assessment) {
	t.Helper()
	var sum float64
	for _, f := range a.Factors {
		sum += f.Contribution
		if f.Reason == "" {
			t.Errorf("factor %s has no reason", f.Name)
		}
	}
	if math.Abs(sum-float64(a.Score)) > 0.5+1e-9 {
		t.Errorf("contributions sum to %.2f, score is %d: %+v", sum, a.Score, a.Factors)
	}
	if a.Score < 0 || a.Score > 100 || a.Level != LevelOf(a.Score) {
		t.Errorf("score %d level %s", a.Score, a.Level)
	}
}

func TestMigrationChangeOutscoresDocs(t *testing.T) {
	for _, env := range []string{"production", "staging", "dev"} {
		docs := Assess(Input{Changes: docsOnly(), Environment: env, At: weekday10})
		big := Assess(Input{Changes: bigWithMigration(), Environment: env, At: weekday10})
		checkExplained(t, docs)
		checkExplained(t, big)
		if big.Score <= docs.Score {
			t.Errorf("%s: migration+40 files %d <= docs-only %d", env, big.Score, docs.Score)
		}
		m, ok := factor(big, "migrations")
		if !ok || m.Contribution <= 0 || !strings.Contains(m.Reason, "db/migrations/0007_add_orders.sql") ||
			!strings.Contains(m.Reason, "1 database migration") {
			t.Errorf("migrations factor = %+v", m)
		}
		d, ok := factor(big, "diffusion")
		if !ok || !strings.Contains(d.Reason, "40 files") {
			t.Errorf("diffusion factor = %+v", d)
		}
		if _, ok := factor(big, "untested-source"); !ok {
			t.Error("source without tests: no untested-source factor")
		}
		if docs.Level != Low {
			t.Errorf("%s: docs-only level %s (score %d)", env, docs.Level, docs.Score)
		}
	}
	prod := Assess(Input{Changes: bigWithMigration(), Environment: "production", At: weekday10})
	if prod.Level != High && prod.Level != Critical {
		t.Errorf("migration+40 files in production: level %s (score %d) %+v", prod.Level, prod.Score, prod.Factors)
	}
}

func TestEnvironment(t *testing.T) {
	score := func(env string) int {
		a := Assess(Input{Changes: bigWithMigration(), Environment: env, At: weekday10})
		checkExplained(t, a)
		return a.Score
	}
	prod, staging, dev := score("production"), score("staging"), score("dev")
	if !(prod > staging && staging > dev) {
		t.Errorf("production %d, staging %d, dev %d: want decreasing", prod, staging, dev)
	}
	for _, tt := range []struct{ env, kind string }{
		{"production", "production"}, {"Prod", "production"}, {"prd", "production"}, {"prod-eu-1", "production"},
		{"staging", "staging"}, {"stage", "staging"}, {"preprod", "staging"}, {"staging_2", "staging"},
		{"dev", ""}, {"qa", ""}, {"reproduce", ""}, {"production-like?", "production"},
	} {
		if got := environmentKind(tt.env); got != tt.kind {
			t.Errorf("environmentKind(%q) = %q, want %q", tt.env, got, tt.kind)
		}
	}
}

func TestDeployTime(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	base := Assess(Input{Changes: docsOnly(), Environment: "production", At: weekday10})
	cases := []struct {
		name   string
		in     Input
		reason string
	}{
		{"weekend", Input{At: time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC)}, "weekend"},
		{"late", Input{At: time.Date(2026, 11, 25, 22, 30, 0, 0, time.UTC)}, "outside working hours"},
		{"early", Input{At: time.Date(2026, 11, 25, 7, 59, 0, 0, time.UTC)}, "outside working hours"},
		// 17:30 UTC is 18:30 in Berlin: late there.
		{"late in location", Input{At: time.Date(2026, 11, 25, 17, 30, 0, 0, time.UTC), Location: berlin}, "18:30 CET"},
		{"freeze", Input{At: weekday10, FreezeWindow: "black-friday"}, `freeze window "black-friday"`},
	}
	var freeze int
	for _, c := range cases {
		c.in.Changes, c.in.Environment = docsOnly(), "production"
		a := Assess(c.in)
		checkExplained(t, a)
		if a.Score <= base.Score {
			t.Errorf("%s: score %d not above weekday 10:00's %d", c.name, a.Score, base.Score)
		}
		f, ok := factor(a, "deploy-time")
		if !ok || !strings.Contains(f.Reason, c.reason) {
			t.Errorf("%s: deploy-time factor %+v, want reason with %q", c.name, f, c.reason)
		}
		if c.name == "freeze" {
			freeze = a.Score
		} else if freeze != 0 && a.Score >= freeze {
			t.Errorf("%s scores %d, not below a freeze window's %d", c.name, a.Score, freeze)
		}
	}
	if _, ok := factor(base, "deploy-time"); ok {
		t.Error("weekday 10:00 has a deploy-time factor")
	}
	// 17:59 is working hours, 18:00 is late.
	if _, ok := factor(Assess(Input{At: time.Date(2026, 11, 25, 17, 59, 0, 0, time.UTC)}), "deploy-time"); ok {
		t.Error("17:59 counted as late")
	}
}

func TestRollbackRateAndNoChanges(t *testing.T) {
	rate := func(r float64) *float64 { return &r }
	none := Assess(Input{Environment: "staging", At: weekday10})
	if f, ok := factor(none, "no-change-analysis"); !ok || f.Contribution <= 0 {
		t.Errorf("nil Changes: %+v", none.Factors)
	}
	low := Assess(Input{Changes: docsOnly(), RollbackRate: rate(0.02)})
	high := Assess(Input{Changes: docsOnly(), RollbackRate: rate(0.4)})
	huge := Assess(Input{Changes: docsOnly(), RollbackRate: rate(7)})
	if !(high.Score > low.Score) {
		t.Errorf("rollback rate 40%% scores %d, 2%% scores %d", high.Score, low.Score)
	}
	f, _ := factor(huge, "rollback-rate")
	if f.Contribution != rollbackRateCap || !strings.Contains(f.Reason, "100%") {
		t.Errorf("rate 7 clamped: %+v", f)
	}
	for _, a := range []Assessment{none, low, high, huge} {
		checkExplained(t, a)
	}
}

func TestCapAndLevels(t *testing.T) {
	var files []change.File
	for i := 0; i < 30; i++ {
		files = append(files, file(fmt.Sprintf("db/migrations/%04d.sql", i), 500, 10))
	}
	files = append(files, file("Dockerfile", 3, 1), file("go.mod", 2, 2), file("config/app.yaml", 1, 1))
	r := 0.9
	a := Assess(Input{Changes: set(files...), Environment: "prod", At: weekday10, FreezeWindow: "f", RollbackRate: &r})
	checkExplained(t, a)
	if a.Score != 100 || a.Level != Critical {
		t.Errorf("everything at once: %d %s", a.Score, a.Level)
	}
	if c, ok := factor(a, "cap"); !ok || c.Contribution >= 0 {
		t.Errorf("no negative cap factor: %+v", a.Factors)
	}
	for _, tt := range []struct {
		score int
		level Level
	}{{0, Low}, {24, Low}, {25, Medium}, {49, Medium}, {50, High}, {74, High}, {75, Critical}, {100, Critical}} {
		if got := LevelOf(tt.score); got != tt.level {
			t.Errorf("LevelOf(%d) = %s, want %s", tt.score, got, tt.level)
		}
	}
	if a := Assess(Input{Changes: &change.Set{}}); a.Score != 0 || a.Level != Low || len(a.Factors) != 0 {
		t.Errorf("empty change: %+v", a)
	}
}

func TestConfigDependencyInfraTests(t *testing.T) {
	a := Assess(Input{Changes: set(
		file("cmd/app/main.go", 10, 0), file("cmd/app/main_test.go", 10, 0),
		file("config/app.yaml", 2, 0), file("go.mod", 1, 1), file("go.sum", 4, 0),
		file("k8s/deployment.yaml", 3, 3),
	)})
	checkExplained(t, a)
	for name, want := range map[string]string{
		"config":         "1 configuration file: config/app.yaml",
		"dependencies":   "2 dependency manifests: go.mod, go.sum",
		"infrastructure": "1 infrastructure file: k8s/deployment.yaml",
	} {
		if f, ok := factor(a, name); !ok || !strings.Contains(f.Reason, want) {
			t.Errorf("%s factor = %+v, want %q", name, f, want)
		}
	}
	if _, ok := factor(a, "untested-source"); ok {
		t.Error("tests were touched, yet untested-source applies")
	}
}

// TestLearnedBlendsHalfAndHalf: the learned factor moves the score to the mean of the rules'
// score and the model's probability, and the factors still add up to it.
func TestLearnedBlendsHalfAndHalf(t *testing.T) {
	in := Input{Changes: nil, Environment: "production"}
	rule := Assess(in)
	in.Learned = &Learned{Probability: 0.9, AUC: 0.8, Samples: 60}
	got := Assess(in)
	want := int(math.Round(0.5*float64(rule.Score) + 45))
	if got.Score != want {
		t.Errorf("blended score %d, want %d (rules %d)", got.Score, want, rule.Score)
	}
	last := got.Factors[len(got.Factors)-1]
	if last.Name != "learned" || !strings.Contains(last.Reason, "90% chance of a rollback") || !strings.Contains(last.Reason, "AUC 0.80") {
		t.Errorf("factor %+v", last)
	}
}
