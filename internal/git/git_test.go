package git

import (
	"bufio"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/change"
)

func fileByPath(t *testing.T, s *change.Set, p string) change.File {
	t.Helper()
	for _, f := range s.Files {
		if f.Path == p {
			return f
		}
	}
	var have []string
	for _, f := range s.Files {
		have = append(have, f.Path)
	}
	t.Fatalf("no file %q in %q", p, have)
	return change.File{}
}

func TestChangesBasic(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	r.write("README.md", "hello\n")
	base := r.commit("initial")
	r.git("tag", "v1.0.0")
	r.write("main.go", lines(10, "code"))
	r.write("db/migrations/0002_users.sql", lines(4, "create"))
	r.commit("add users")
	r.write("main.go", lines(12, "code"))
	r.write("README.md", "hello\nworld\n")
	last := r.commit("second: edit")

	s, err := Changes(ctx, r.dir, "v1.0.0", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if s.From != "v1.0.0" || s.To != "HEAD" || s.FromHash != base || s.ToHash != last {
		t.Errorf("refs = %q %q %q %q", s.From, s.To, s.FromHash, s.ToHash)
	}
	if len(s.Commits) != 2 || s.Commits[0].Subject != "second: edit" || s.Commits[1].Subject != "add users" {
		t.Fatalf("commits = %+v", s.Commits)
	}
	c := s.Commits[0]
	if c.Hash != last || c.Author != "Ada Lovelace" || c.Email != "ada@example.com" || c.Time.IsZero() ||
		!c.Time.After(s.Commits[1].Time) {
		t.Errorf("commit = %+v", c)
	}
	if len(s.Files) != 3 {
		t.Fatalf("files = %+v", s.Files)
	}
	if f := fileByPath(t, s, "main.go"); f.Added != 12 || f.Deleted != 0 || f.Commits != 2 || f.Class != change.Source {
		t.Errorf("main.go = %+v", f)
	}
	if f := fileByPath(t, s, "db/migrations/0002_users.sql"); f.Added != 4 || f.Class != change.Migration {
		t.Errorf("migration = %+v", f)
	}
	if f := fileByPath(t, s, "README.md"); f.Added != 1 || f.Deleted != 0 || f.Class != change.Docs {
		t.Errorf("README.md = %+v", f)
	}
	if s.Files[0].Path != "README.md" {
		t.Errorf("files not sorted: %q first", s.Files[0].Path)
	}

	// From the root: the initial commit is included.
	all, err := Changes(ctx, r.dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Commits) != 3 || all.FromHash != "" || fileByPath(t, all, "README.md").Added != 2 {
		t.Errorf("from root: %d commits, files %+v", len(all.Commits), all.Files)
	}
}

func TestChangesRenameThenEdit(t *testing.T) {
	r := newRepo(t)
	r.write("old/name.go", lines(50, "x"))
	r.write("keep.txt", "k\n")
	r.commit("initial")
	r.git("tag", "v1")
	r.mv("old/name.go", "mid/name.go")
	r.commit("move")
	r.write("mid/name.go", lines(50, "x")+"tail\n")
	r.commit("edit")
	r.mv("mid/name.go", "new/final.go")
	r.commit("move again")

	s, err := Changes(context.Background(), r.dir, "v1", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Files) != 1 {
		t.Fatalf("want one file, got %+v", s.Files)
	}
	f := s.Files[0]
	if f.Path != "new/final.go" || f.OldPath != "old/name.go" || f.Added != 1 || f.Deleted != 0 || f.Commits != 3 {
		t.Errorf("renamed file = %+v", f)
	}
}

// TestChangesClockSkew: an edit committed "before" the rename it follows (a
// skewed clock) still folds into the renamed file, even when a merge lets
// date order list the rename first.
func TestChangesClockSkew(t *testing.T) {
	r := newRepo(t)
	r.write("a.go", lines(20, "a"))
	r.commit("initial")
	r.git("tag", "v1")
	r.mv("a.go", "b.go")
	r.tick = 100
	r.commit("rename")
	r.git("branch", "side")
	r.tick = -10_000 // dated well before the rename
	r.write("b.go", lines(21, "a"))
	r.commit("edit with a slow clock")
	r.git("checkout", "-q", "side")
	r.tick = 50
	r.write("side.go", "s\n")
	r.commit("side work")
	r.git("checkout", "-q", "main")
	r.tick = 200
	r.git("merge", "-q", "--no-ff", "-m", "merge side", "side")

	s, err := Changes(context.Background(), r.dir, "v1", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	f := fileByPath(t, s, "b.go")
	if len(s.Files) != 2 || f.OldPath != "a.go" || f.Commits != 2 || f.Added != 1 {
		t.Errorf("files = %+v", s.Files)
	}
}

func TestChangesBinaryAndOddPaths(t *testing.T) {
	r := newRepo(t)
	r.write("seed", "s\n")
	r.commit("initial")
	r.git("tag", "v1")
	odd := []string{"dir with space/file name.go", "ünïcødé/日本語.md", "new\nline.txt", "tab\there.txt", `quote"back\slash.txt`}
	for _, p := range odd {
		r.write(p, "one\ntwo\n")
	}
	r.write("img/logo.png", "\x89PNG\x00\x01\x02\x00binary")
	r.commit("odd names")
	r.mv("new\nline.txt", "renamed\nwith newline.txt")
	r.commit("rename newline")

	s, err := Changes(context.Background(), r.dir, "v1", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range odd[:2] {
		if f := fileByPath(t, s, p); f.Added != 2 || f.Binary {
			t.Errorf("%q = %+v", p, f)
		}
	}
	if f := fileByPath(t, s, "renamed\nwith newline.txt"); f.OldPath != "new\nline.txt" || f.Added != 2 {
		t.Errorf("renamed newline file = %+v", f)
	}
	fileByPath(t, s, "tab\there.txt")
	fileByPath(t, s, `quote"back\slash.txt`)
	if f := fileByPath(t, s, "img/logo.png"); !f.Binary || f.Added != 0 || f.Deleted != 0 {
		t.Errorf("binary = %+v", f)
	}
	if got := s.Totals().Binary; got != 1 {
		t.Errorf("binary files = %d, want 1", got)
	}
}

func TestChangesMerge(t *testing.T) {
	r := newRepo(t)
	r.write("a.go", "a\n")
	r.commit("initial")
	r.git("tag", "v1")
	r.git("checkout", "-q", "-b", "feature")
	r.write("feature.go", lines(3, "f"))
	r.commit("feature work")
	r.git("checkout", "-q", "main")
	r.write("a.go", "a\nb\n")
	r.commit("main work")
	r.git("merge", "-q", "--no-ff", "-m", "merge feature", "feature")

	s, err := Changes(context.Background(), r.dir, "v1", "main")
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, c := range s.Commits {
		subjects = append(subjects, c.Subject)
	}
	if len(s.Commits) != 3 || s.Commits[0].Subject != "merge feature" {
		t.Errorf("commits = %q", subjects)
	}
	if len(s.Files) != 2 || fileByPath(t, s, "feature.go").Added != 3 || fileByPath(t, s, "a.go").Commits != 1 {
		t.Errorf("files = %+v", s.Files)
	}
}

func TestChangesEmptyRange(t *testing.T) {
	r := newRepo(t)
	r.write("a.go", "a\n")
	r.commit("initial")
	s, err := Changes(context.Background(), r.dir, "HEAD", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Commits) != 0 || len(s.Files) != 0 || s.FromHash != s.ToHash {
		t.Errorf("empty range = %+v", s)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	r.write("a.go", "a\n")
	r.commit("initial")

	_, err := Changes(ctx, r.dir, "v9.9", "HEAD")
	var ure *UnknownRefError
	if !errors.As(err, &ure) || ure.Ref != "v9.9" || !strings.Contains(err.Error(), `unknown revision "v9.9"`) {
		t.Errorf("unknown from: %v", err)
	}
	if _, err := Changes(ctx, r.dir, "", "nope"); !errors.As(err, &ure) || ure.Ref != "nope" {
		t.Errorf("unknown to: %v", err)
	}
	if _, err := ResolveRef(ctx, r.dir, "--output=/tmp/x"); !errors.As(err, &ure) {
		t.Errorf("option-like ref: %v", err)
	}

	notRepo := t.TempDir()
	if IsRepo(ctx, notRepo) {
		t.Error("IsRepo(empty dir) = true")
	}
	if !IsRepo(ctx, r.dir) {
		t.Error("IsRepo(repo) = false")
	}
	if _, err := Changes(ctx, notRepo, "", "HEAD"); !errors.Is(err, ErrNotRepo) {
		t.Errorf("not a repo: %v", err)
	}
	if _, err := LastTag(ctx, notRepo, ""); !errors.Is(err, ErrNotRepo) {
		t.Errorf("LastTag not a repo: %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Changes(cctx, r.dir, "", "HEAD"); err == nil {
		t.Error("cancelled context: no error")
	}
}

func TestLastTagAndResolve(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	r.write("a", "1\n")
	first := r.commit("one")
	if _, err := LastTag(ctx, r.dir, ""); !errors.Is(err, ErrNoTag) {
		t.Errorf("no tags: %v", err)
	}
	r.git("tag", "v1.0.0")
	r.write("a", "2\n")
	r.commit("two")
	r.git("tag", "-a", "v1.1.0", "-m", "annotated")
	r.write("a", "3\n")
	head := r.commit("three")

	if tag, err := LastTag(ctx, r.dir, ""); err != nil || tag != "v1.1.0" {
		t.Errorf("LastTag(HEAD) = %q, %v", tag, err)
	}
	if tag, err := LastTag(ctx, r.dir, first); err != nil || tag != "v1.0.0" {
		t.Errorf("LastTag(first) = %q, %v", tag, err)
	}
	if h, err := ResolveRef(ctx, r.dir, ""); err != nil || h != head {
		t.Errorf("ResolveRef(\"\") = %q, %v", h, err)
	}
	if h, err := ResolveRef(ctx, r.dir, "v1.0.0"); err != nil || h != first {
		t.Errorf("ResolveRef(v1.0.0) = %q, %v, want %s", h, err, first)
	}
}

// TestChangesMatchesGit checks the aggregate against git's own diff between
// the two ends, on a generated history with renames.
func TestChangesMatchesGit(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", "-b", "main", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	fastImport(t, dir, 300)
	s, err := Changes(context.Background(), dir, "main~200", "main")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Commits) != 200 {
		t.Fatalf("commits = %d, want 200", len(s.Commits))
	}
	out, err := exec.Command("git", "-C", dir, "diff", "--name-only", "-z", "--no-renames", "main~200", "main").Output()
	if err != nil {
		t.Fatal(err)
	}
	// Every path that differs between the ends is a File's Path (new side)
	// or OldPath (deleted side); and no File is invented.
	seen := map[string]bool{}
	for _, f := range s.Files {
		seen[f.Path] = true
		if f.OldPath != "" {
			seen[f.OldPath] = true
		}
	}
	for _, p := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if !seen[p] {
			t.Errorf("git diff names %q, Changes does not", p)
		}
	}
	renamed := 0
	for _, f := range s.Files {
		if f.OldPath != "" {
			renamed++
		}
	}
	if renamed == 0 {
		t.Error("no renames found in a history with renames")
	}
}

func TestParseLogNameReused(t *testing.T) {
	// Newest first: edit b; rename a -> b; an older file b deleted.
	in := "\x01c3\x00A\x00a@x\x003\x00edit\x00\n1\t0\tb\x00" +
		"\x01c2\x00A\x00a@x\x002\x00rename\x00\n0\t0\t\x00a\x00b\x00" +
		"\x01c1\x00A\x00a@x\x001\x00delete\x00\n0\t5\tb\x00"
	s := &change.Set{}
	if err := parseLog(bufio.NewReader(strings.NewReader(in)), s); err != nil {
		t.Fatal(err)
	}
	if len(s.Files) != 1 {
		t.Fatalf("files = %+v", s.Files)
	}
	if f := s.Files[0]; f.Path != "b" || f.OldPath != "a" || f.Added != 1 || f.Deleted != 5 || f.Commits != 3 {
		t.Errorf("file = %+v", f)
	}
}

func TestParseLogLongAndTruncated(t *testing.T) {
	long := strings.Repeat("d/", 40000) + "f.go"
	in := "\x01abc\x00A\x00a@x\x00100\x00subj\x00\n3\t1\t" + long + "\x00-\t-\tbin\x00\x01def\x00B\x00b@x\x00200\x00merge\x00"
	s := &change.Set{}
	if err := parseLog(bufio.NewReaderSize(strings.NewReader(in), 16), s); err != nil {
		t.Fatal(err)
	}
	if len(s.Commits) != 2 || s.Commits[1].Subject != "merge" || s.Commits[0].Time != time.Unix(100, 0).UTC() {
		t.Errorf("commits = %+v", s.Commits)
	}
	if len(s.Files) != 2 || s.Files[0].Path != long || s.Files[0].Added != 3 || !s.Files[1].Binary {
		t.Errorf("files = %d %+v", len(s.Files), s.Files[1:])
	}
	for _, bad := range []string{
		"\x01abc\x00A\x00a@x",                              // truncated header
		"\x01abc\x00A\x00a@x\x00notatime\x00s\x00",         // bad time
		"\x01abc\x00A\x00a@x\x001\x00s\x00\nx\ty\tf\x00",   // bad counts
		"\x01abc\x00A\x00a@x\x001\x00s\x00\n1\t1\t\x00old", // truncated rename
		"\n1\t1\tf\x00", // file before commit
	} {
		if err := parseLog(bufio.NewReader(strings.NewReader(bad)), &change.Set{}); err == nil {
			t.Errorf("parseLog(%q): no error", bad)
		}
	}
}
