package risk

import (
	"fmt"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/hugai-dev/hugai/internal/change"
)

var paths = []string{"cmd/app/main.go", "internal/a/a.go", "internal/b/b_test.go", "README.md",
	"docs/x.md", "go.mod", "package.json", "Dockerfile", "k8s/svc.yaml", "config/app.yaml",
	"web/src/app.ts", "web/src/app.test.ts", "assets/logo.png", "db/migrations/0001_init.sql"}

func genInput(t *rapid.T) Input {
	in := Input{
		Environment: rapid.SampledFrom([]string{"", "production", "prod", "staging", "dev", "qa"}).Draw(t, "env"),
		At:          time.Unix(rapid.Int64Range(1.7e9, 1.9e9).Draw(t, "at"), 0),
	}
	if rapid.Bool().Draw(t, "berlin") {
		in.Location = time.FixedZone("CET", 3600)
	}
	if rapid.Bool().Draw(t, "freeze") {
		in.FreezeWindow = "weekend"
	}
	if rapid.Bool().Draw(t, "hasRate") {
		r := rapid.Float64Range(-0.5, 1.5).Draw(t, "rate")
		in.RollbackRate = &r
	}
	if rapid.IntRange(0, 9).Draw(t, "nil") == 0 {
		return in
	}
	s := &change.Set{}
	for i := range rapid.IntRange(0, 30).Draw(t, "commits") {
		s.Commits = append(s.Commits, change.Commit{Hash: fmt.Sprint(i)})
	}
	n := rapid.IntRange(0, 60).Draw(t, "files")
	for i := range n {
		p := paths[rapid.IntRange(0, len(paths)-1).Draw(t, "path")]
		s.Files = append(s.Files, change.File{
			Path:    fmt.Sprintf("%s%d/%s", strings.Repeat("x/", i%3), i, p),
			Added:   rapid.IntRange(0, 5000).Draw(t, "added"),
			Deleted: rapid.IntRange(0, 5000).Draw(t, "deleted"),
			Binary:  rapid.IntRange(0, 9).Draw(t, "binary") == 0,
		})
	}
	s.Classify()
	in.Changes = s
	return in
}

func TestAssessProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		a := Assess(in)
		checkExplained(t, a)
		if b := Assess(in); !reflect.DeepEqual(a, b) {
			t.Fatalf("not deterministic:\n%+v\n%+v", a, b)
		}
		if in.Changes == nil {
			return
		}
		// Adding a migration never lowers the score.
		more := *in.Changes
		more.Files = append(append([]change.File(nil), in.Changes.Files...), change.File{
			Path:  fmt.Sprintf("db/migrations/%04d_new.sql", rapid.IntRange(0, 9999).Draw(t, "mig")),
			Added: rapid.IntRange(0, 20000).Draw(t, "migLines"),
		})
		more.Classify()
		in2 := in
		in2.Changes = &more
		if b := Assess(in2); b.Score < a.Score {
			t.Fatalf("adding a migration lowered the score %d -> %d\nbefore %+v\nafter %+v", a.Score, b.Score, a.Factors, b.Factors)
		}
	})
}

// TestCoreStaysPure keeps the pure core packages of this area free of I/O
// imports (DESIGN.md: no net/http, os/exec, database/sql, k8s.io).
func TestCoreStaysPure(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".", "../change", "../policy").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == "net/http", dep == "os/exec", dep == "database/sql", strings.HasPrefix(dep, "k8s.io/"):
			t.Errorf("core package depends on %s", dep)
		}
	}
}
