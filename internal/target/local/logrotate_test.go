package local

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/target"
)

// TestRotateLogKeepsABoundedNumber: a writer holding the log open O_APPEND (as a child does) goes on
// writing across rotations; each rotation shifts the copies, never more than files are kept, and
// every line is in exactly one file, oldest copy first.
func TestRotateLogKeepsABoundedNumber(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "v1-0.log")
	w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const limit, files = 1000, 3
	line := 0
	rotations := 0
	for range 10 {
		for range 60 { // 60 lines of 20 bytes: past the limit
			line++
			fmt.Fprintf(w, "line %014d\n", line)
		}
		did, err := rotateLog(path, limit, files)
		if err != nil {
			t.Fatal(err)
		}
		if did {
			rotations++
		}
		if fi, _ := os.Stat(path); fi.Size() != 0 {
			t.Fatalf("log is %d bytes after rotation, want 0", fi.Size())
		}
	}
	// Written after the last rotation: lands at the start of the truncated file, not past a hole.
	line++
	fmt.Fprintf(w, "line %014d\n", line)
	if rotations != 10 {
		t.Fatalf("%d rotations, want 10", rotations)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"v1-0.log", "v1-0.log.1", "v1-0.log.2"}; !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	var got []int
	for _, n := range []string{"v1-0.log.2", "v1-0.log.1", "v1-0.log"} {
		got = append(got, readLineNumbers(t, filepath.Join(dir, n))...)
	}
	// The last two rotated copies and the current file: lines 481..601, in order, none missing.
	for i, n := range got {
		if n != 481+i {
			t.Fatalf("line %d of the kept logs is %d, want %d (kept %d lines)", i, n, 481+i, len(got))
		}
	}
	if len(got) != 121 {
		t.Fatalf("kept %d lines, want 121", len(got))
	}
	if did, err := rotateLog(path, limit, files); did || err != nil {
		t.Fatalf("rotate a log under its limit: %v %v", did, err)
	}
}

func readLineNumbers(t *testing.T, path string) []int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n, err := strconv.Atoi(strings.TrimLeft(strings.TrimPrefix(sc.Text(), "line "), "0"))
		if err != nil {
			t.Fatalf("%s: bad line %q", path, sc.Text())
		}
		out = append(out, n)
	}
	return out
}

// TestTargetRotatesReplicaLogs: a real replica that logs a lot has its log rotated by the target
// while it runs, with never more files kept than asked, and goes on logging into the same file.
func TestTargetRotatesReplicaLogs(t *testing.T) {
	o := testOptions(t, t.TempDir())
	o.Workdir = t.TempDir()
	// A replica that writes ~40 KB/s to its output, then serves as the demo does.
	script := "#!/bin/sh\n(i=0; while :; do seq -f 'chatty %015g' $i $((i+99)); i=$((i+100)); sleep 0.05; done) &\n" +
		"exec '" + filepath.Join(bins.releases, "releases", "good1", "demo") + "' \"$@\"\n"
	d := filepath.Join(o.Workdir, "releases", "chatty")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "demo"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	o.LogMaxBytes, o.LogFiles, o.LogCheckEvery = 16<<10, 3, 100*time.Millisecond
	tg := newTarget(t, o)
	if err := tg.Deploy(context.Background(), target.Revision{Version: "chatty"}, 1); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(tg.logDir, "chatty-0.log")
	waitUntil(t, 30*time.Second, "two rotations", func() bool {
		_, err := os.Stat(log + ".2")
		return err == nil
	})
	time.Sleep(500 * time.Millisecond) // a few more checks: the oldest copy must be dropped, not kept
	for _, f := range []string{log, log + ".1", log + ".2"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		// A copy is taken once past the limit; it may pass it by what one check interval wrote.
		if f != log && (fi.Size() < o.LogMaxBytes || fi.Size() > 4*o.LogMaxBytes) {
			t.Errorf("%s is %d bytes, want about %d", filepath.Base(f), fi.Size(), o.LogMaxBytes)
		}
	}
	if _, err := os.Stat(log + ".3"); err == nil {
		t.Errorf("%s.3 exists: more than %d files kept", log, o.LogFiles)
	}
	// The replica writes on into the truncated file.
	before, _ := os.Stat(log)
	waitUntil(t, 10*time.Second, "the log growing after rotation", func() bool {
		fi, err := os.Stat(log)
		return err == nil && (fi.Size() > before.Size() || fi.Size() < before.Size())
	})
	// Copies hold whole lines, newest copy after the older one.
	first := func(f string) string {
		b, _ := os.ReadFile(f)
		l, _, _ := strings.Cut(string(b), "\n")
		return l
	}
	if a, b := first(log+".2"), first(log+".1"); a >= b || !strings.HasPrefix(a, "chatty ") {
		t.Errorf("first lines of .2 %q and .1 %q: want older first", a, b)
	}
}

// TestPrunePastVersions: the logs of versions no longer running are removed but for the newest few.
func TestPrunePastVersions(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	for i, name := range []string{"old-0.log", "old-0.log.1", "mid-0.log", "new-0.log", "new-1.log", "live-0.log", "proxy.log"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		at := now.Add(time.Duration(i) * time.Minute)
		if strings.HasPrefix(name, "old") {
			at = now.Add(-time.Hour)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	if err := prunePastVersions(dir, map[string]bool{"live": true}, 2); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"live-0.log", "mid-0.log", "new-0.log", "new-1.log", "proxy.log"}; !slices.Equal(names, want) {
		t.Fatalf("after pruning: %v, want %v", names, want)
	}
}

func TestParseLogName(t *testing.T) {
	for _, c := range []struct {
		name    string
		version string
		replica int
		ok      bool
	}{
		{"v1-0.log", "v1", 0, true},
		{"v1.2-rc-1-3.log.4", "v1.2-rc-1", 3, true},
		{"v1.logging-0.log", "v1.logging", 0, true},
		{"proxy.log", "", 0, false},
		{"run-smoke.log", "", 0, false},
		{"v1-0.log.tmp", "", 0, false},
		{"v1-0.log.1.tmp", "", 0, false},
	} {
		v, r, ok := parseLogName(c.name)
		if v != c.version || r != c.replica || ok != c.ok {
			t.Errorf("parseLogName(%q) = %q %d %v, want %q %d %v", c.name, v, r, ok, c.version, c.replica, c.ok)
		}
	}
}
