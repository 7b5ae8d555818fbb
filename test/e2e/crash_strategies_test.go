//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/loadgen"
)

// kill -9 of the server during blue-green, rolling and recreate rollouts, started again: the
// following command reconnects and exits 0, the rollout ends Succeeded with the new version at
// 100%, the old version's replicas are gone and the audit log verifies. For blue-green and
// rolling, no request fails while the server is down.

// crashRun is what a crash scenario does once its rollout is under way: kill the server, check the
// command waits and (with load) that the proxy serves, start the server again, wait for the result.
func (e *env) crashRun(c *running, done <-chan result, load *loadgen.Run, at string) result {
	e.t.Helper()
	var before loadgen.Summary
	if load != nil {
		before = load.Snapshot()
	}
	e.killServer()
	e.t.Logf("killed the server: %s", at)

	// Not a wait for a condition: the server stays down a while, during which the proxy must
	// serve and the command must wait.
	time.Sleep(3 * time.Second)
	if r := e.hugai("deploy", "list", "-o", "json"); r.code == 0 {
		e.t.Fatal("the server still answers after kill -9")
	}
	select {
	case r := <-done:
		e.t.Fatalf("the command ended while the server was down: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	default:
	}
	if load != nil {
		down := load.Snapshot()
		d := diffSummary(before, down)
		e.t.Logf("while the server was down: %s", d)
		if d.Failed != 0 {
			e.t.Errorf("%d requests failed while the server was down: %v", d.Failed, down.Reasons)
		}
		answered := 0
		for v, c := range d.ByVersion {
			answered += c.OK
			if c.Errors != 0 {
				e.t.Errorf("%s answered %d 5xx while the server was down", v, c.Errors)
			}
		}
		if answered == 0 {
			e.t.Error("no request was answered while the server was down")
		}
	}

	e.startServer()
	r := waitResult(e.t, c, done, 90*time.Second)
	if r.code != 0 {
		e.t.Fatalf("the command after the restart: exit %d, want 0\n%s\n%s\nserver log (restarted):\n%s",
			r.code, r.stdout, r.stderr, e.serverLog(2))
	}
	return r
}

// checkFinished: the rollout id is Succeeded with version at 100% alone, the audit log verifies.
func (e *env) checkFinished(id, version string) {
	e.t.Helper()
	st := e.status(id)
	if st.Phase != "Succeeded" || st.Weights[version] != 100 || len(st.Weights) != 1 {
		e.t.Errorf("after the restart: %s %q %v (%s), want Succeeded with %s alone at 100", st.Phase, st.Reason, st.Weights, st.Message, version)
	}
	if r := e.hugai("audit", "verify", "--data-dir", e.dataDir); r.code != 0 {
		e.t.Errorf("audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

func TestServerKilledMidBlueGreen(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startServer()
	e.deployFirst("v1")
	load := e.steadyLoad(150)

	c := e.hugaiStart(e.deployArgs("blue-green", "v2", "--switch-strategy", "instant", "--validation-period", "9s", "--scale-down-delay", "3s")...)
	done := background(c)
	st := e.waitForRollout("v2", 40*time.Second, "v2 at 100% (switched)", func(r api.Rollout) bool {
		return r.Weights["v2"] == 100 || r.Terminal
	})
	if st.Terminal {
		t.Fatalf("the rollout ended before the kill: %s %q %s", st.Phase, st.Reason, st.Message)
	}
	r := e.crashRun(c, done, load, "phase "+st.Phase+" in the validation period, weights "+fmt.Sprint(st.Weights))
	id := firstLine(r.stdout)
	if id != st.ID {
		t.Errorf("the command printed %q first, want %q", id, st.ID)
	}
	e.checkFinished(id, "v2")
	waitFor(t, 30*time.Second, "blue (v1) stopped", func() bool { return len(e.replicas("v1")) == 0 })
	if n := len(e.replicas("v2")); n != 2 {
		t.Errorf("%d v2 replicas run, want 2", n)
	}
	onlyFrom(t, load.Stop(), "")
}

func TestServerKilledMidRolling(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "      target: {local: {replicas: 4}}\n")
	e.startServer()
	e.deployFirst("v1")
	load := e.steadyLoad(150)

	c := e.hugaiStart(e.deployArgs("rolling", "v2", "--max-surge", "1")...)
	done := background(c)
	st := e.waitForRollout("v2", 40*time.Second, "v1 and v2 both with weight", func(r api.Rollout) bool {
		return (r.Weights["v1"] > 0 && r.Weights["v2"] > 0) || r.Terminal
	})
	if st.Terminal {
		t.Fatalf("the rollout ended before the kill: %s %q %s", st.Phase, st.Reason, st.Message)
	}
	r := e.crashRun(c, done, load, "phase "+st.Phase+", weights "+fmt.Sprint(st.Weights))
	id := firstLine(r.stdout)
	if id != st.ID {
		t.Errorf("the command printed %q first, want %q", id, st.ID)
	}
	e.checkFinished(id, "v2")
	waitFor(t, 30*time.Second, "4 v2 replicas and no v1", func() bool { return len(e.replicas("v2")) == 4 && len(e.replicas("v1")) == 0 })
	onlyFrom(t, load.Stop(), "")
}

func TestServerKilledMidRecreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startServer()
	e.deployFirst("v1")
	// Load runs for the record: while the server is down nothing may be ready, and the proxy
	// holds requests; the check here is that the rollout finishes.
	load := e.steadyLoad(100)

	c, idc := e.hugaiStartFirstLine(e.deployArgs("recreate", "v2")...)
	done := background(c)
	var id string
	select {
	case id = <-idc:
	case r := <-done:
		t.Fatalf("recreate ended before printing its ID: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		t.Fatal("recreate printed no ID within 30s")
	}
	r := e.crashRun(c, done, nil, "right after the command printed "+id)
	if got := firstLine(r.stdout); got != id {
		t.Errorf("the command printed %q first, then %q", id, got)
	}
	e.checkFinished(id, "v2")
	waitFor(t, 30*time.Second, "2 v2 replicas and no v1", func() bool { return len(e.replicas("v2")) == 2 && len(e.replicas("v1")) == 0 })
	t.Logf("load (not judged): %s", load.Stop())
}

// hugaiStartFirstLine starts a command as hugaiStart does, and sends its first line of output as
// soon as it is written. Only exec's copying goroutine writes the buffer; the test reads it once
// the command ended.
func (e *env) hugaiStartFirstLine(args ...string) (*running, <-chan string) {
	cmd := exec.Command(built.hugai, args...)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "HUGAI_SERVER="+e.dataDir)
	r := &running{cmd: cmd, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	ch := make(chan string, 1)
	cmd.Stdout, cmd.Stderr = &firstLineWriter{buf: r.stdout, ch: ch}, r.stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	return r, ch
}

type firstLineWriter struct {
	mu   sync.Mutex
	buf  *bytes.Buffer
	ch   chan<- string
	sent bool
}

func (w *firstLineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if !w.sent {
		if line, _, ok := strings.Cut(w.buf.String(), "\n"); ok {
			w.sent = true
			w.ch <- strings.TrimSpace(line)
		}
	}
	return n, err
}
