package local

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/target"
)

// lockedBuffer is a bytes.Buffer safe to read while CopyLogs writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCopyLogsFollowsAcrossRotation: a follower sees every line exactly once, in order, while the
// log it follows is rotated again and again under it. (Writer and rotation take turns here, so no
// line falls between a copy and its truncate: any gap or repeat is the follower's.)
func TestCopyLogsFollowsAcrossRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1-0.log")
	w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 1; i <= 50; i++ { // already there, and one rotated copy, before following starts
		fmt.Fprintf(w, "%d\n", i)
	}
	if _, err := rotateLog(path, 1, 4); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "51\n")

	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := make(chan error, 1)
	list := func() []LogSource { return []LogSource{{Name: "v1/0", Path: path}} }
	go func() { done <- CopyLogs(ctx, &out, list, true, true) }()

	// Rotations at most one per poll, as the target's own (every LogCheckEvery, seconds) are.
	const last = 51 + 8*300
	rotations := 0
	for i := 52; i <= last; i++ {
		fmt.Fprintf(w, "%d\n", i)
		if i%50 == 0 {
			time.Sleep(15 * time.Millisecond) // some polls land between writes
		}
		if (i-51)%300 == 0 {
			if _, err := rotateLog(path, 1, 4); err != nil {
				t.Fatal(err)
			}
			rotations++
			time.Sleep(300 * time.Millisecond)
		}
	}
	waitUntil(t, 10*time.Second, "the last line followed", func() bool {
		return strings.HasSuffix(out.String(), fmt.Sprintf("[v1/0] %d\n", last))
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for i, l := range lines {
		if want := "[v1/0] " + strconv.Itoa(i+1); l != want {
			t.Fatalf("line %d is %q, want %q (%d rotations, %d lines)", i, l, want, rotations, len(lines))
		}
	}
	if len(lines) != last {
		t.Fatalf("%d lines followed, want %d", len(lines), last)
	}
}

// TestServiceLogsOfRealReplicas: the logs of a target's replicas are listed per version, the
// current release is the routed stable one, and CopyLogs prints each replica's lines.
func TestServiceLogsOfRealReplicas(t *testing.T) {
	o := testOptions(t, t.TempDir())
	ctx := context.Background()
	tg := newTarget(t, o)
	for v, n := range map[string]int{"good1": 2, "good2": 1} {
		if err := tg.Deploy(ctx, target.Revision{Version: v}, n); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 15*time.Second, "3 ready", func() bool { return readyCount(tg, "good1") == 2 && readyCount(tg, "good2") == 1 })
	if err := tg.Route(ctx, target.Routing{Weights: map[string]int{"good1": 80, "good2": 20}, Stable: "good1", Canary: "good2"}); err != nil {
		t.Fatal(err)
	}
	sl, err := ReadServiceLogs(o.DataDir, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if sl.Current != "good1" || len(sl.Replicas["good1"]) != 2 || len(sl.Replicas["good2"]) != 1 {
		t.Fatalf("service logs %+v: want current good1 with 2 replicas, good2 with 1", sl)
	}
	var out lockedBuffer
	list := func() []LogSource { return sl.VersionLogs("good1") }
	if err := CopyLogs(ctx, &out, list, true, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[good1/0] ", "[good1/1] "} {
		if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "demo good1 listening on") {
			t.Fatalf("logs of good1:\n%s\nwant lines prefixed %q from the demo", out.String(), want)
		}
	}
	if strings.Contains(out.String(), "good2") {
		t.Fatalf("logs of good1 show good2's:\n%s", out.String())
	}
}
