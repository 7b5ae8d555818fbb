package git

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testRepo is a git repository in a temp dir, driven with a fixed identity
// and clock so no global git configuration is needed.
type testRepo struct {
	tb   testing.TB
	dir  string
	tick int
}

func newRepo(tb testing.TB) *testRepo {
	tb.Helper()
	r := &testRepo{tb: tb, dir: tb.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *testRepo) env() []string {
	r.tick++
	date := fmt.Sprintf("%d +0000", 1_700_000_000+r.tick*60)
	return append(os.Environ(),
		"GIT_AUTHOR_NAME=Ada Lovelace", "GIT_AUTHOR_EMAIL=ada@example.com", "GIT_AUTHOR_DATE="+date,
		"GIT_COMMITTER_NAME=Ada Lovelace", "GIT_COMMITTER_EMAIL=ada@example.com", "GIT_COMMITTER_DATE="+date,
		"GIT_CONFIG_NOSYSTEM=1", "HOME="+r.dir, "XDG_CONFIG_HOME="+r.dir, "LC_ALL=C")
}

// git runs a git command in the repo and returns its trimmed output.
func (r *testRepo) git(args ...string) string {
	r.tb.Helper()
	full := append([]string{"-c", "user.name=Ada Lovelace", "-c", "user.email=ada@example.com",
		"-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "init.defaultBranch=main"}, args...)
	cmd := exec.Command("git", full...)
	cmd.Dir = r.dir
	cmd.Env = r.env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		r.tb.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

func (r *testRepo) write(name, content string) {
	r.tb.Helper()
	p := filepath.Join(r.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.tb.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.tb.Fatal(err)
	}
}

// mv renames a file with git mv, creating the destination's directory.
func (r *testRepo) mv(from, to string) {
	r.tb.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(r.dir, filepath.FromSlash(to))), 0o755); err != nil {
		r.tb.Fatal(err)
	}
	r.git("mv", from, to)
}

// commit stages everything and commits, returning the new hash.
func (r *testRepo) commit(msg string) string {
	r.tb.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

func lines(n int, prefix string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%s %d\n", prefix, i)
	}
	return b.String()
}

// fastImport fills an empty repo with n commits through git fast-import: a
// few files per commit and a rename every 25th commit, like bench/plan-10k.sh.
func fastImport(tb testing.TB, dir string, n int) {
	tb.Helper()
	var s bytes.Buffer
	const files = 200
	name := func(i int, gen int) string { return fmt.Sprintf("pkg%02d/file%03d_v%d.go", i%20, i, gen) }
	gens := make([]int, files)
	exists := make([]bool, files)
	for c := 1; c <= n; c++ {
		msg := fmt.Sprintf("commit %d", c)
		fmt.Fprintf(&s, "commit refs/heads/main\nmark :%d\nauthor Bench <b@example.com> %d +0000\ncommitter Bench <b@example.com> %d +0000\ndata %d\n%s\n",
			c, 1_700_000_000+c, 1_700_000_000+c, len(msg), msg)
		if c > 1 {
			fmt.Fprintf(&s, "from :%d\n", c-1)
		}
		for k := 0; k < 3; k++ {
			f := (c*7 + k*31) % files
			body := fmt.Sprintf("package p\n\n// commit %d\nvar V%d = %d\n%s", c, f, c, lines(8+c%5, "// line"))
			fmt.Fprintf(&s, "M 100644 inline %s\ndata %d\n%s\n", name(f, gens[f]), len(body), body)
			exists[f] = true
		}
		if c%25 == 0 {
			f := c % files
			if exists[f] {
				old := name(f, gens[f])
				gens[f]++
				fmt.Fprintf(&s, "R %s %s\n", old, name(f, gens[f]))
			}
		}
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = dir
	cmd.Stdin = &s
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("git fast-import: %v: %s", err, out)
	}
	cmd = exec.Command("git", "reset", "-q", "--hard", "main")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("git reset: %v: %s", err, out)
	}
}
