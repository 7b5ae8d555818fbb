//go:build e2e

package e2e

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/loadgen"
)

// kill -9 of the server mid-canary under load: the proxy keeps serving, the restarted server
// finishes the rollout without repeating or skipping a step, the following command reconnects,
// and the audit log stays verifiable — and detects tampering afterwards.
func TestServerKilledMidCanary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startServer()
	e.deployFirst("v1")
	load := e.steadyLoad(150)

	split := []int{10, 30, 60, 100}
	c := e.hugaiStart("deploy", "canary", "-f", e.file, "--environment", "production", "--version", "v2",
		"--traffic-split", "10,30,60,100", "--health-check-interval", "3s")
	done := background(c)
	st := e.waitForRollout("v2", 30*time.Second, "v2 at 30% or more", func(r api.Rollout) bool {
		return r.Weights["v2"] >= 30
	})
	if st.Terminal {
		t.Fatalf("the rollout ended before the kill: %s", st.Phase)
	}
	proxy, v2 := e.proxies(), e.replicas("v2")
	slices.Sort(v2)
	before := load.Snapshot()
	e.killServer()
	t.Logf("killed the server at step %d, weights %v", st.CurrentStep, st.Weights)

	// Not a wait for a condition: the server stays down a while, during which the proxy must
	// serve and the command must wait.
	time.Sleep(3 * time.Second)
	if r := e.hugai("deploy", "list", "-o", "json"); r.code == 0 {
		t.Fatal("the server still answers after kill -9")
	}
	select {
	case r := <-done:
		t.Fatalf("the canary command ended while the server was down: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	default:
	}
	down := load.Snapshot()
	t.Logf("while the server was down: %s", diffSummary(before, down))
	if n := down.Failed - before.Failed; n != 0 {
		t.Errorf("%d requests failed while the server was down: %v", n, down.Reasons)
	}
	if d := diffSummary(before, down); d.ByVersion["v1"].OK+d.ByVersion["v2"].OK == 0 {
		t.Error("no request was answered while the server was down")
	}

	e.startServer()
	r := waitResult(t, c, done, 60*time.Second)
	if r.code != 0 {
		t.Fatalf("the canary command after the restart: exit %d, want 0\n%s\n%s\nserver log:\n%s",
			r.code, r.stdout, r.stderr, e.serverLog(2))
	}
	id := firstLine(r.stdout)
	if id != st.ID {
		t.Errorf("the command printed %q first, want %q", id, st.ID)
	}
	st = e.status(id)
	if st.Phase != "Succeeded" || st.Weights["v2"] != 100 || len(st.Weights) != 1 {
		t.Fatalf("after the restart: %s %v (%s)", st.Phase, st.Weights, st.Message)
	}
	waitFor(t, 15*time.Second, "v1 stopped", func() bool { return len(e.replicas("v1")) == 0 })
	// The restarted server re-adopts the data plane: the same proxy, the same candidate replicas.
	if now := e.proxies(); len(proxy) != 1 || !slices.Equal(now, proxy) {
		t.Errorf("proxy pids %v before the kill, %v after: the proxy was not re-adopted", proxy, now)
	}
	if now := e.replicas("v2"); !slices.Equal(sorted(now), v2) || len(v2) != 2 {
		t.Errorf("v2 pids %v before the kill, %v after: its replicas were not re-adopted", v2, now)
	}
	sum := load.Stop()
	t.Logf("load: %s", sum)
	checkOnlyCandidateFailed(t, sum, "")

	if r := e.hugai("audit", "verify", "--data-dir", e.dataDir); r.code != 0 {
		t.Fatalf("audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	checkNoRepeatedDecision(t, e.auditLog(), id, len(st.Steps), split)

	// Tampering: stop the server (proxy and services keep running) and edit copies of its store.
	if r := e.hugai("server", "stop"); r.code != 0 {
		t.Fatalf("server stop: %d %s %s", r.code, r.stdout, r.stderr)
	}
	e.waitServerGone()
	for _, tc := range []struct {
		name, sql string
		want      string
	}{
		{"edited", `UPDATE audit_events SET payload = '{"x":1}' WHERE seq = 3`, "event 3:"},
		{"deleted", `DELETE FROM audit_events WHERE seq = 5`, "event 6:"},
		{"truncated", `DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)`, ""},
	} {
		dir := filepath.Join(e.dir, "tamper-"+tc.name)
		copyStore(t, e.dataDir, dir)
		n := execSQL(t, filepath.Join(dir, "hugai.db"), tc.sql)
		if n != 1 {
			t.Fatalf("%s: %q changed %d rows, want 1", tc.name, tc.sql, n)
		}
		want := tc.want
		if want == "" {
			want = fmt.Sprintf("event %d:", lastSeq(t, e.auditLog()))
		}
		r := e.hugai("audit", "verify", "--data-dir", dir)
		out := r.stdout + r.stderr
		t.Logf("%s: audit verify: exit %d: %s", tc.name, r.code, strings.TrimSpace(out))
		if r.code != 1 || !strings.Contains(out, want) {
			t.Errorf("%s store: audit verify exit %d %q, want exit 1 naming %q", tc.name, r.code, out, want)
		}
	}
	if r := e.hugai("audit", "verify", "--data-dir", e.dataDir); r.code != 0 {
		t.Errorf("the untouched store no longer verifies: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// checkNoRepeatedDecision: the rollout's steps are each entered once, in order, none skipped; each
// weight is set once; the candidate is deployed and promoted once.
func checkNoRepeatedDecision(t *testing.T, evs []auditEvent, id string, steps int, split []int) {
	t.Helper()
	var indices, weights []int
	count := map[string]int{}
	for _, ev := range evs {
		if ev.Subject != "rollout/"+id {
			continue
		}
		count[ev.Type]++
		var p struct {
			Index  *int `json:"index"`
			Weight *int `json:"weight"`
		}
		if err := json.Unmarshal(ev.Payload, &p); err != nil {
			t.Errorf("event %d: payload %s: %v", ev.Seq, ev.Payload, err)
			continue
		}
		switch {
		case ev.Type == "rollout.step" && p.Index != nil:
			indices = append(indices, *p.Index)
		case ev.Type == "rollout.step":
			t.Errorf("event %d: rollout.step without an index: %s", ev.Seq, ev.Payload)
		case ev.Type == "rollout.weight" && p.Weight != nil:
			weights = append(weights, *p.Weight)
		}
	}
	t.Logf("rollout.step indices %v, rollout.weight %v", indices, weights)
	// The first step is entered when the rollout starts; each later one has its rollout.step event.
	first := 1
	if len(indices) > 0 && indices[0] == 0 {
		first = 0
	}
	var want []int
	for i := first; i < steps; i++ {
		want = append(want, i)
	}
	if !slices.Equal(indices, want) {
		t.Errorf("rollout.step indices %v, want %v: a step was repeated, skipped or reordered", indices, want)
	}
	if !slices.Equal(weights, split) {
		t.Errorf("rollout.weight events %v, want %v once each", weights, split)
	}
	for _, typ := range []string{"rollout.created", "rollout.deploy", "rollout.promoted"} {
		if count[typ] != 1 {
			t.Errorf("%d %s events, want 1", count[typ], typ)
		}
	}
}

// proxies lists the pids of this scenario's `hugai proxy` processes.
func (e *env) proxies() []int {
	var pids []int
	for pid, cmd := range e.ownProcesses() {
		if args := strings.Fields(cmd); len(args) > 1 && args[1] == "proxy" {
			pids = append(pids, pid)
		}
	}
	return sorted(pids)
}

func sorted(s []int) []int {
	slices.Sort(s)
	return s
}

// diffSummary is what a load saw between two snapshots.
func diffSummary(a, b loadgen.Summary) loadgen.Summary {
	d := loadgen.Summary{Sent: b.Sent - a.Sent, Failed: b.Failed - a.Failed, ByVersion: map[string]loadgen.Counts{}}
	for v, c := range b.ByVersion {
		d.ByVersion[v] = loadgen.Counts{OK: c.OK - a.ByVersion[v].OK, Errors: c.Errors - a.ByVersion[v].Errors}
	}
	return d
}

func lastSeq(t *testing.T, evs []auditEvent) int64 {
	t.Helper()
	if len(evs) == 0 {
		t.Fatal("empty audit log")
	}
	return evs[len(evs)-1].Seq
}

// waitServerGone waits until the server process has exited, after `hugai server stop`, and tells
// the harness there is no server (its cleanup then starts one to stop everything with --all).
func (e *env) waitServerGone() {
	e.t.Helper()
	if e.server != nil && e.server.Process != nil {
		waitFor(e.t, 30*time.Second, "the server to exit", func() bool {
			return e.server.Process.Signal(syscall.Signal(0)) != nil
		})
	}
	e.server = nil
}

// serverLog is the output of the n-th server the scenario started.
func (e *env) serverLog(n int) string {
	b, _ := os.ReadFile(filepath.Join(e.dir, fmt.Sprintf("server-%d.log", n)))
	return string(b)
}

// copyStore copies the SQLite store (with its write-ahead log) of a stopped server to dir.
func copyStore(t *testing.T, dataDir, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hugai.db", "hugai.db-wal"} {
		src, err := os.Open(filepath.Join(dataDir, name))
		if os.IsNotExist(err) && name != "hugai.db" {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(dst, src)
		src.Close()
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// execSQL runs one statement on the SQLite file at path, as someone tampering with it would, and
// returns the number of rows it changed.
func execSQL(t *testing.T, path, stmt string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(stmt)
	if err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// `hugai server stop --all` returns once the server, its proxy and its services are all stopped:
// a script may start something else on their ports right after it.
func TestServerStopAllStopsEverything(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startServer()
	e.deployFirst("v1")
	if n := len(e.replicas("v1")); n != 2 {
		t.Fatalf("%d v1 replicas run, want 2", n)
	}
	r := e.hugai("server", "stop", "--all")
	if r.code != 0 {
		t.Fatalf("server stop --all: %d %s %s", r.code, r.stdout, r.stderr)
	}
	left := e.ownProcesses()
	for pid, cmd := range left {
		t.Errorf("still running when `server stop --all` returned: pid %d: %s", pid, cmd)
	}
	e.waitServerGone()
	waitFor(t, 10*time.Second, "every process of the scenario to stop", func() bool { return len(e.ownProcesses()) == 0 })
	if len(left) != 0 {
		t.Logf("server log:\n%s", e.serverLog(1))
	}
}
