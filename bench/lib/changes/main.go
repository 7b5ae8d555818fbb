// Command changes runs hugai's change analysis (internal/git.Changes plus the
// risk assessment) over a range and prints a one-line summary: the stand-in
// bench/plan-10k.sh times while `hugai deploy plan` is not built.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/hugai-dev/hugai/internal/git"
	"github.com/hugai-dev/hugai/internal/risk"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: changes DIR FROM TO")
		os.Exit(2)
	}
	s, err := git.Changes(context.Background(), os.Args[1], os.Args[2], os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "changes:", err)
		os.Exit(1)
	}
	a := risk.Assess(risk.Input{Changes: s, Environment: "production",
		At: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)})
	t := s.Totals()
	fmt.Printf("%d commits, %d files, %d lines, risk %d %s\n", t.Commits, t.Files, t.Lines(), a.Score, a.Level)
}
