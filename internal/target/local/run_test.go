package local

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRunLogsAndMarks: a one-shot command runs marked as the target's, its output kept in its log
// and returned; a failure and a timeout fail, and a timeout takes the command's children too.
func TestRunLogsAndMarks(t *testing.T) {
	o := testOptions(t, t.TempDir())
	tg := newTarget(t, o)
	ctx := context.Background()
	dir := t.TempDir()

	ok, out := tg.Run(ctx, "smoke-test", []string{"sh", "-c", "echo checking $HUGAI_URL; echo $HUGAI_ROLE"}, dir, []string{"HUGAI_URL=http://x"}, 10*time.Second)
	if !ok || out != "checking http://x\nrun" {
		t.Fatalf("Run = %v %q, want true and the output (marked as a run)", ok, out)
	}
	ok, out = tg.Run(ctx, "smoke-test", []string{"sh", "-c", "echo broken >&2; exit 3"}, dir, nil, 10*time.Second)
	if ok || !strings.Contains(out, "exit status 3") || !strings.Contains(out, "broken") || strings.Contains(out, "checking") {
		t.Fatalf("failing Run = %v %q, want false with this run's output only", ok, out)
	}
	b, err := os.ReadFile(filepath.Join(tg.logDir, "run-smoke-test.log"))
	if err != nil || !strings.Contains(string(b), "checking http://x") || !strings.Contains(string(b), "broken") {
		t.Fatalf("run log %q, %v: want both runs", b, err)
	}

	// A command that leaves a child behind and outlives its timeout: both are gone after Run.
	pidFile := filepath.Join(dir, "child.pid")
	start := time.Now()
	ok, out = tg.Run(ctx, "slow", []string{"sh", "-c", "sleep 30 & echo $! > " + pidFile + "; wait"}, dir, nil, 500*time.Millisecond)
	if ok || !strings.Contains(out, "deadline exceeded") || time.Since(start) > 10*time.Second {
		t.Fatalf("Run past its timeout = %v %q after %s", ok, out, time.Since(start))
	}
	b, err = os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	waitUntil(t, 5*time.Second, "the command's child gone", func() bool {
		st, err := readProcStat(child)
		return err != nil || st.state == 'Z'
	})
}

// TestRunLeftByACrashIsStopped: a one-shot command still running when the server died is found by
// its marker and stopped by the next target (the engine runs it again if it still needs it).
func TestRunLeftByACrashIsStopped(t *testing.T) {
	o := testOptions(t, t.TempDir())
	a, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Run(ctx, "smoke-test", []string{"sleep", "30"}, t.TempDir(), nil, time.Minute)
	}()
	var run markedProc
	waitUntil(t, 10*time.Second, "the command running", func() bool {
		found, _ := a.scanMarked()
		for _, p := range found {
			if p.Role == roleRun {
				run = p
				return true
			}
		}
		return false
	})
	t.Cleanup(func() {
		cancel()
		<-done
	})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	newTarget(t, o) // the "restarted server": Run above still waits, as a dead server would not
	if alive(run.PID, run.StartTime) {
		t.Fatalf("the command left by the crash (pid %d) still runs", run.PID)
	}
}
