package local

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/target"
)

// crashAfterSpawn makes the target's next replica start die right after the process is started and
// before its pid file is written, as a server killed with -9 at that moment would: the supervisor
// goroutine ends there (runtime.Goexit), and the process runs on, named by no pid file. It returns
// the process.
func crashAfterSpawn(t *testing.T, tg *Target, deploy func()) pidFile {
	t.Helper()
	got := make(chan pidFile, 1)
	tg.mu.Lock()
	tg.afterSpawn = func(pf pidFile) {
		tg.mu.Lock()
		tg.afterSpawn = nil
		tg.mu.Unlock()
		got <- pf
		runtime.Goexit()
	}
	tg.mu.Unlock()
	deploy()
	var pf pidFile
	select {
	case pf = <-got:
	case <-time.After(15 * time.Second):
		t.Fatal("no replica was started")
	}
	t.Cleanup(func() { terminate(pf.PID, pf.StartTime, time.Second) })
	if !alive(pf.PID, pf.StartTime) {
		t.Fatalf("the process started before the crash (pid %d) is not running", pf.PID)
	}
	if _, err := os.Stat(tg.pidPath(pf.Version, pf.Replica)); err == nil {
		t.Fatal("a pid file was written before the crash point")
	}
	return pf
}

// TestCrashBetweenForkAndRecordAdopts: the server dies between starting a replica and recording it;
// the restarted target finds the process by its marker and adopts it into the slot (no second
// process for the same slot), and records it.
func TestCrashBetweenForkAndRecordAdopts(t *testing.T) {
	o := testOptions(t, t.TempDir())
	ctx := context.Background()
	a, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	orphan := crashAfterSpawn(t, a, func() {
		if err := a.Deploy(ctx, target.Revision{Version: "good1"}, 1); err != nil {
			t.Fatal(err)
		}
	})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	b := newTarget(t, o)
	waitUntil(t, 15*time.Second, "the orphan ready in its slot", func() bool { return readyCount(b, "good1") == 1 })
	got := replicaProcs(b)
	if len(got) != 1 || got[0].PID != orphan.PID || got[0].Port == 0 {
		t.Fatalf("replicas after restart %+v, want the orphan pid %d adopted", got, orphan.PID)
	}
	pf, err := readPidFile(b.pidPath("good1", 0))
	if err != nil || pf.PID != orphan.PID {
		t.Fatalf("pid file after adoption: %+v, %v; want pid %d", pf, err, orphan.PID)
	}
	if err := b.Route(ctx, target.Routing{Weights: map[string]int{"good1": 100}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "served by the adopted orphan", func() bool {
		v, s, err := frontDoor(o.Listen)(ctx, nil)
		return err == nil && s == 200 && v == "good1"
	})
}

// TestCrashBetweenForkAndRecordStopsUnwanted: the same crash, but the state no longer wants the
// process (scaled to 0 before the restart): the restarted target stops it.
func TestCrashBetweenForkAndRecordStopsUnwanted(t *testing.T) {
	o := testOptions(t, t.TempDir())
	ctx := context.Background()
	a, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	orphan := crashAfterSpawn(t, a, func() {
		if err := a.Deploy(ctx, target.Revision{Version: "good2"}, 1); err != nil {
			t.Fatal(err)
		}
	})
	if err := a.Deploy(ctx, target.Revision{Version: "good2"}, 0); err != nil {
		t.Fatal(err)
	}
	if !alive(orphan.PID, orphan.StartTime) {
		t.Fatal("scaling down stopped the unrecorded process: the crash was not simulated")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := newTarget(t, o)
	if alive(orphan.PID, orphan.StartTime) {
		t.Fatalf("unwanted orphan pid %d still runs after the restart", orphan.PID)
	}
	if got := replicaProcs(b); len(got) != 0 {
		t.Fatalf("replicas after restart %+v, want none", got)
	}
}

// TestShutdownStopsUnrecorded: `server stop --all` (Shutdown) stops a process no pid file names.
func TestShutdownStopsUnrecorded(t *testing.T) {
	o := testOptions(t, t.TempDir())
	ctx := context.Background()
	a, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	orphan := crashAfterSpawn(t, a, func() {
		if err := a.Deploy(ctx, target.Revision{Version: "good3"}, 1); err != nil {
			t.Fatal(err)
		}
	})
	proxyPID := a.proxyPID
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []pidFile{orphan, proxyPID} {
		if alive(p.PID, p.StartTime) {
			t.Errorf("pid %d (%v) still runs after Shutdown", p.PID, p.Argv)
		}
	}
}

// TestProxyWithoutPidFileIsAdopted: a proxy started by a server that died before writing its pid
// file is found by its marker and adopted, not left holding the listen address of a new one.
func TestProxyWithoutPidFileIsAdopted(t *testing.T) {
	o := testOptions(t, t.TempDir())
	a, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	old := a.proxyPID
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(a.proxyPidPath()); err != nil {
		t.Fatal(err)
	}
	b := newTarget(t, o)
	if b.proxyPID.PID != old.PID || !alive(old.PID, old.StartTime) {
		t.Fatalf("proxy pid %d after restart, want the unrecorded %d adopted", b.proxyPID.PID, old.PID)
	}
	if pf, err := readPidFile(b.proxyPidPath()); err != nil || pf.PID != old.PID {
		t.Fatalf("proxy pid file after adoption: %+v, %v", pf, err)
	}
}

// startMarked starts sleep in its own session with env, as the target starts its processes.
func startMarked(t *testing.T, setsid bool, env ...string) pidFile {
	t.Helper()
	cmd := exec.Command("sleep", "30")
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: setsid}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	st, err := readProcStat(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return pidFile{PID: cmd.Process.Pid, Argv: []string{"sleep", "30"}, StartTime: st.startTime}
}

// TestMarkerDecides: a process is this target's only when its marker says so. A pid file that
// names a live process with the right start time and command line but another target's marker (a
// reused pid) is not adopted; the scan finds session leaders carrying the marker, and nothing else.
func TestMarkerDecides(t *testing.T) {
	dir := t.TempDir()
	tg := &Target{opts: Options{Service: "demo", DataDir: dir}}
	mine := startMarked(t, true, tg.markEnv(roleReplica, "v1", 0)...)
	other := startMarked(t, true, envTargetDir+"="+filepath.Join(dir, "other"), envRole+"="+roleReplica,
		envService+"=demo", envVersion+"=v1", envReplica+"=0")
	child := startMarked(t, false, tg.markEnv(roleReplica, "v1", 1)...) // not a session leader
	unmarked := startMarked(t, true)

	for _, c := range []struct {
		name string
		pid  int
		want bool
	}{{"mine", mine.PID, true}, {"other target", other.PID, false}, {"unmarked (older hugai)", unmarked.PID, true}} {
		if got := tg.markedBy(c.pid, roleReplica, "v1", 0); got != c.want {
			t.Errorf("markedBy(%s) = %v, want %v", c.name, got, c.want)
		}
	}
	if tg.markedBy(mine.PID, roleReplica, "v1", 1) || tg.markedBy(mine.PID, roleProxy, "", 0) {
		t.Error("markedBy accepts another slot or role")
	}

	found, err := tg.scanMarked()
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range found {
		pids = append(pids, p.PID)
	}
	if !slices.Contains(pids, mine.PID) || len(pids) != 1 {
		t.Fatalf("scan found %v, want only %d (other %d, child %d, unmarked %d)", pids, mine.PID, other.PID, child.PID, unmarked.PID)
	}
	if p := found[0]; p.Role != roleReplica || p.Version != "v1" || p.Replica != 0 || p.StartTime != mine.StartTime {
		t.Fatalf("scan read %+v", p)
	}
}

// BenchmarkScanMarked is what a start and a Shutdown pay to find every process of the target:
// one pass over /proc (stat, then environ of the session leaders).
func BenchmarkScanMarked(b *testing.B) {
	tg := &Target{opts: Options{Service: "demo", DataDir: b.TempDir()}}
	for b.Loop() {
		if _, err := tg.scanMarked(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestExecedBeforeReadyIsAdopted: the leak the soaks found. A release script execs the real
// binary, so the command line changes; it was recorded only once the replica was ready. A server
// killed in between left a pid file whose command line no longer matched: the next server dropped
// it, started a second process in the slot and never stopped the first. The marker still names it.
func TestExecedBeforeReadyIsAdopted(t *testing.T) {
	o := testOptions(t, t.TempDir())
	ctx := context.Background()
	a, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Deploy(ctx, target.Revision{Version: "never-ready"}, 1); err != nil {
		t.Fatal(err)
	}
	var pf pidFile
	waitUntil(t, 15*time.Second, "the release script's exec", func() bool {
		ps := replicaProcs(a)
		if len(ps) != 1 {
			return false
		}
		pf = ps[0]
		cl, err := readCmdline(pf.PID)
		return err == nil && !equalArgv(cl, pf.Argv)
	})
	t.Cleanup(func() { terminate(pf.PID, pf.StartTime, time.Second) })
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := newTarget(t, o)
	got := replicaProcs(b)
	if len(got) != 1 || got[0].PID != pf.PID {
		t.Fatalf("replicas after restart %+v, want pid %d adopted", got, pf.PID)
	}
	found, err := b.scanMarked()
	if err != nil {
		t.Fatal(err)
	}
	var replicas int
	for _, p := range found {
		if p.Role == roleReplica {
			replicas++
		}
	}
	if replicas != 1 {
		t.Fatalf("%d replica processes run, want 1: %+v", replicas, found)
	}
}
