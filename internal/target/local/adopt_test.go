package local

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/eventually"
	"github.com/hugai-dev/hugai/internal/target"
)

// waitUntil polls cond until it holds or timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	eventually.True(t, timeout, what, cond)
}

// replicaProcs lists the target's replica processes, sorted by pid.
func replicaProcs(tg *Target) []pidFile {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	var out []pidFile
	for _, rv := range tg.revs {
		for _, r := range rv.replicas {
			if r.proc.PID != 0 {
				out = append(out, r.proc)
			}
		}
	}
	slices.SortFunc(out, func(a, b pidFile) int { return a.PID - b.PID })
	return out
}

func readyCount(tg *Target, v string) int {
	st, err := tg.Status(context.Background())
	if err != nil {
		return -1
	}
	return st.Revisions[v].Ready
}

// TestReadopt restarts the target (Close, New on the same data dir) under load: the same processes
// and proxy are adopted, no request fails meanwhile, and Shutdown leaves nothing behind.
func TestReadopt(t *testing.T) {
	o := testOptions(t, t.TempDir())
	ctx := context.Background()
	a, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	current := a
	var curMu sync.Mutex
	t.Cleanup(func() {
		curMu.Lock()
		defer curMu.Unlock()
		shutdown(t, current)
	})
	v1 := target.Revision{Version: "good1"}
	if err := a.Deploy(ctx, v1, 2); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "2 ready", func() bool { return readyCount(a, "good1") == 2 })
	if err := a.Route(ctx, target.Routing{Weights: map[string]int{"good1": 100}, Stable: "good1"}); err != nil {
		t.Fatal(err)
	}
	do := frontDoor(o.Listen)
	waitUntil(t, 15*time.Second, "served by good1", func() bool {
		v, s, err := do(ctx, nil)
		return err == nil && s == 200 && v == "good1"
	})
	before := replicaProcs(a)
	proxyBefore := a.proxyPID

	var sent, failed atomic.Int64
	var lastErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			v, s, err := do(ctx, nil)
			sent.Add(1)
			if err != nil || s != http.StatusOK || v != "good1" {
				failed.Add(1)
				lastErr.Store([]any{v, s, err})
			}
		}
	}()
	stopLoad := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}
	t.Cleanup(stopLoad)

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range append(before, proxyBefore) {
		if !alive(p.PID, p.StartTime) {
			t.Fatalf("pid %d died on Close", p.PID)
		}
	}
	// The server is "down" for a moment: the load keeps flowing through the proxy.
	mark := sent.Load()
	waitUntil(t, 10*time.Second, "requests while no target runs", func() bool { return sent.Load() > mark+50 })

	b, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	curMu.Lock()
	current = b
	curMu.Unlock()
	after := replicaProcs(b)
	if len(after) != len(before) {
		t.Fatalf("adopted %v, want %v", after, before)
	}
	for i := range before {
		if after[i].PID != before[i].PID || after[i].StartTime != before[i].StartTime {
			t.Fatalf("adopted %v, want %v", after, before)
		}
	}
	if b.proxyPID.PID != proxyBefore.PID {
		t.Fatalf("proxy pid %d, want the adopted %d", b.proxyPID.PID, proxyBefore.PID)
	}
	if got := readyCount(b, "good1"); got != 2 {
		t.Fatalf("ready after adoption = %d, want 2", got)
	}
	mark = sent.Load()
	waitUntil(t, 10*time.Second, "requests after adoption", func() bool { return sent.Load() > mark+100 })

	if f := failed.Load(); f != 0 {
		t.Fatalf("%d of %d requests failed across the restart (last: %v)", f, sent.Load(), lastErr.Load())
	}

	// An adopted replica that dies is noticed by polling and started again.
	victim := after[0]
	if err := killGroup(victim.PID); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "replacement of the killed replica", func() bool {
		ps := replicaProcs(b)
		return len(ps) == 2 && !slices.ContainsFunc(ps, func(p pidFile) bool { return p.PID == victim.PID }) &&
			readyCount(b, "good1") == 2
	})
	stopLoad()
	// A request in flight on the killed replica may fail (the proxy counts it against good1).
	t.Logf("%d requests sent, %d failed after the kill", sent.Load(), failed.Load())
	if f := failed.Load(); f > 1 {
		t.Fatalf("%d of %d requests failed (last: %v)", f, sent.Load(), lastErr.Load())
	}

	all := append(replicaProcs(b), b.proxyPID)
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range append(all, before...) {
		if alive(p.PID, p.StartTime) {
			t.Errorf("pid %d (%v) still runs after Shutdown", p.PID, p.Argv)
		}
	}
	left, _ := filepath.Glob(filepath.Join(b.runDir, "replica-*.json"))
	if len(left) != 0 {
		t.Errorf("pid files left after Shutdown: %v", left)
	}
}

func killGroup(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

func TestMissingCommandStartsNothing(t *testing.T) {
	o := testOptions(t, t.TempDir())
	tg := newTarget(t, o)
	err := tg.Deploy(context.Background(), target.Revision{Version: "nope"}, 2)
	if !errors.Is(err, ErrCommandNotFound) || !strings.Contains(err.Error(), "releases/nope/demo") {
		t.Fatalf("deploy of a missing command: %v, want ErrCommandNotFound naming it", err)
	}
	st, err := tg.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rs := st.Revisions["nope"]; rs.Running != 0 || rs.StartFailed == "" {
		t.Fatalf("status = %+v, want nothing running and StartFailed set", rs)
	}
	if files, _ := filepath.Glob(filepath.Join(tg.runDir, "replica-*.json")); len(files) != 0 {
		t.Fatalf("pid files written: %v", files)
	}

	o.Command = []string{"hugai-no-such-command-{{.Version}}", "--port", "{{.Port}}"}
	o.DataDir = t.TempDir()
	o.Listen, o.Admin = loopbackAddr(t), loopbackAddr(t)
	tg2 := newTarget(t, o)
	if err := tg2.Deploy(context.Background(), target.Revision{Version: "v1"}, 1); !errors.Is(err, ErrCommandNotFound) {
		t.Fatalf("deploy of a command not in PATH: %v, want ErrCommandNotFound", err)
	}
}

// TestLongDataDirSocket: a data dir too deep for a unix socket gets its admin socket under the
// runtime dir, recorded in the data dir.
func TestLongDataDirSocket(t *testing.T) {
	deep := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	o := testOptions(t, deep)
	tg := newTarget(t, o)
	if len(tg.AdminSocket()) > maxSocketPath || strings.HasPrefix(tg.AdminSocket(), deep) {
		t.Fatalf("admin socket %q: want a short path outside the data dir", tg.AdminSocket())
	}
	b, err := os.ReadFile(filepath.Join(tg.runDir, "admin-socket"))
	if err != nil || strings.TrimSpace(string(b)) != tg.AdminSocket() {
		t.Fatalf("recorded socket %q (%v), want %q", b, err, tg.AdminSocket())
	}
	if err := tg.client.Healthy(context.Background()); err != nil {
		t.Fatalf("proxy on the short socket: %v", err)
	}
}

// TestStatusSamplesProcesses: cpu and memory come from /proc, summed over replicas.
func TestStatusSamplesProcesses(t *testing.T) {
	tg := newTarget(t, testOptions(t, t.TempDir()))
	if err := tg.Deploy(context.Background(), target.Revision{Version: "good2"}, 2); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "2 ready", func() bool { return readyCount(tg, "good2") == 2 })
	st, err := tg.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rs := st.Revisions["good2"]
	var want int64
	for _, p := range replicaProcs(tg) {
		want += rssBytes(p.PID)
	}
	// A Go binary's RSS is megabytes; the sum is of both replicas (it moves a little between reads).
	if rs.MemoryBytes < 1<<20 || rs.MemoryBytes < want/2 || rs.MemoryBytes > want*2 {
		t.Fatalf("memory = %d bytes, want about %d", rs.MemoryBytes, want)
	}
	if rs.CPUPercent < 0 || rs.CPUPercent > 200 {
		t.Fatalf("cpu = %.1f%%, want 0..200", rs.CPUPercent)
	}
}

// TestReadoptReplacesDead: a replica that died while no target ran is started again by the next
// one, next to the one it adopts.
func TestReadoptReplacesDead(t *testing.T) {
	o := testOptions(t, t.TempDir())
	ctx := context.Background()
	a := newTarget(t, o)
	if err := a.Deploy(ctx, target.Revision{Version: "good1"}, 2); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "2 ready", func() bool { return readyCount(a, "good1") == 2 })
	procs := replicaProcs(a)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	terminate(procs[0].PID, procs[0].StartTime, time.Second)

	b := newTarget(t, o)
	waitUntil(t, 15*time.Second, "2 ready again", func() bool { return readyCount(b, "good1") == 2 })
	got := replicaProcs(b)
	if len(got) != 2 || !slices.ContainsFunc(got, func(p pidFile) bool { return p.PID == procs[1].PID }) ||
		slices.ContainsFunc(got, func(p pidFile) bool { return p.PID == procs[0].PID }) {
		t.Fatalf("replicas %v: want %d adopted and a new one for %d", got, procs[1].PID, procs[0].PID)
	}
}

// TestProxyRestarted: a proxy that dies is started again with the routes in force.
func TestProxyRestarted(t *testing.T) {
	o := testOptions(t, t.TempDir())
	ctx := context.Background()
	tg := newTarget(t, o)
	if err := tg.Deploy(ctx, target.Revision{Version: "good3"}, 1); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "ready", func() bool { return readyCount(tg, "good3") == 1 })
	if err := tg.Route(ctx, target.Routing{Weights: map[string]int{"good3": 100}}); err != nil {
		t.Fatal(err)
	}
	do := frontDoor(o.Listen)
	serving := func() bool {
		v, s, err := do(ctx, nil)
		return err == nil && s == 200 && v == "good3"
	}
	waitUntil(t, 15*time.Second, "served by good3", serving)
	tg.mu.Lock()
	old := tg.proxyPID
	tg.mu.Unlock()
	if err := killGroup(old.PID); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "a new proxy serving good3", func() bool {
		tg.mu.Lock()
		now := tg.proxyPID
		tg.mu.Unlock()
		return now.PID != old.PID && serving()
	})
}

// TestNoReadyReplicaHolds: a weighted version with no ready replica is still a valid table (the
// proxy holds requests), and requests are answered again once a replica is back.
func TestNoReadyReplicaHolds(t *testing.T) {
	o := testOptions(t, t.TempDir())
	ctx := context.Background()
	tg := newTarget(t, o)
	v := target.Revision{Version: "good1"}
	if err := tg.Deploy(ctx, v, 1); err != nil {
		t.Fatal(err)
	}
	if err := tg.Route(ctx, target.Routing{Weights: map[string]int{"good1": 100}}); err != nil {
		t.Fatalf("route to a version not ready yet: %v", err)
	}
	do := frontDoor(o.Listen)
	waitUntil(t, 15*time.Second, "served by good1", func() bool {
		got, s, err := do(ctx, nil)
		return err == nil && s == 200 && got == "good1"
	})
	if err := tg.Deploy(ctx, v, 0); err != nil {
		t.Fatalf("scale a routed version to 0: %v", err)
	}
	if n := len(replicaProcs(tg)); n != 0 {
		t.Fatalf("%d replicas after scaling to 0", n)
	}
	// Scaled up while a request is held: the request is answered by the new replica.
	type answer struct {
		v   string
		s   int
		err error
	}
	res := make(chan answer, 1)
	go func() {
		got, s, err := do(ctx, nil)
		res <- answer{got, s, err}
	}()
	if err := tg.Deploy(ctx, v, 1); err != nil {
		t.Fatal(err)
	}
	a := <-res
	if a.err != nil || a.s != 200 && a.s != 503 {
		t.Fatalf("held request: %d %v", a.s, a.err)
	}
	waitUntil(t, 15*time.Second, "served by good1 again", func() bool {
		got, s, err := do(ctx, nil)
		return err == nil && s == 200 && got == "good1"
	})
}

// TestShutdownThenFresh: after Shutdown the next target on the data dir starts afresh: nothing
// adopted, and its new proxy has no routes to the replicas that were stopped.
func TestShutdownThenFresh(t *testing.T) {
	o := testOptions(t, t.TempDir())
	ctx := context.Background()
	a := newTarget(t, o)
	if err := a.Deploy(ctx, target.Revision{Version: "good1"}, 1); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "ready", func() bool { return readyCount(a, "good1") == 1 })
	if err := a.Route(ctx, target.Routing{Weights: map[string]int{"good1": 100}}); err != nil {
		t.Fatal(err)
	}
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	b := newTarget(t, o)
	st, err := b.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Revisions) != 0 || len(st.Routing.Weights) != 0 {
		t.Fatalf("status after shutdown and start = %+v, want nothing", st)
	}
	if _, s, err := frontDoor(o.Listen)(ctx, nil); err != nil || s != http.StatusServiceUnavailable {
		t.Fatalf("front door of a fresh proxy: %d %v, want 503", s, err)
	}
}

// A Remove cut short by a crash: the state no longer wants the version, but its replicas still
// run. The next target finishes the removal instead of leaving them running untracked.
func TestRemoveCutShortIsFinished(t *testing.T) {
	o := testOptions(t, t.TempDir())
	ctx := context.Background()
	a, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	v1 := target.Revision{Version: "good1"}
	if err := a.Deploy(ctx, v1, 2); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "2 ready", func() bool { return readyCount(a, "good1") == 2 })
	procs := replicaProcs(a)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// What Remove saves before it stops the processes: the version gone from the state.
	b, err := os.ReadFile(a.statePath())
	if err != nil {
		t.Fatal(err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	delete(st.Desired, "good1")
	if b, err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a.statePath(), b, 0o644); err != nil {
		t.Fatal(err)
	}

	next, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(t, next) })
	for _, p := range procs {
		if alive(p.PID, p.StartTime) {
			t.Errorf("replica pid %d of a removed version still runs", p.PID)
		}
	}
}
