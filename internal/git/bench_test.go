package git

import (
	"context"
	"io"
	"os/exec"
	"testing"
)

// BenchmarkChanges compares Changes with plain `git log --numstat -M` over the
// same range of a generated history (2,000 commits, 3 files each, renames):
// git is the floor, the goal is to stay close to it.
//
//	go test -run '^$' -bench Changes -benchtime 10x ./internal/git/
func BenchmarkChanges(b *testing.B) {
	dir := b.TempDir()
	if out, err := exec.Command("git", "init", "-q", "-b", "main", dir).CombinedOutput(); err != nil {
		b.Fatalf("git init: %v: %s", err, out)
	}
	fastImport(b, dir, 2000)
	const from, to = "main~1999", "main"
	ctx := context.Background()

	b.Run("git-log", func(b *testing.B) {
		for b.Loop() {
			cmd := exec.Command("git", "-C", dir, "log", "--numstat", "-M", from+".."+to)
			cmd.Stdout = io.Discard
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hugai", func(b *testing.B) {
		for b.Loop() {
			s, err := Changes(ctx, dir, from, to)
			if err != nil {
				b.Fatal(err)
			}
			if len(s.Commits) != 1999 {
				b.Fatalf("commits = %d", len(s.Commits))
			}
		}
	})
}
