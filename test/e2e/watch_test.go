//go:build e2e

package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
)

// watchPolicy gives the production environment a 20 s watch after promotion.
const watchPolicy = "      monitoring: {duration: 20s}\n"

// watchCanaryArgs is the canary both watch scenarios run: one interval at 50%, one at 100%, then
// promotion and the watch.
func (e *env) watchCanaryArgs(version string) []string {
	return []string{"deploy", "canary", "-f", e.file, "--environment", "production", "--version", version,
		"--traffic-split", "50,100", "--health-check-interval", "3s"}
}

// followPhases polls `deploy status ID -o json` of the newest rollout of version while the command
// runs, and returns the command's result with every phase the status showed, in order. during is
// called with each status seen.
func (e *env) followPhases(version string, c *running, done <-chan result, d time.Duration, during func(api.Rollout)) (result, []string) {
	e.t.Helper()
	var phases []string
	id := ""
	deadline := time.Now().Add(d)
	for {
		select {
		case r := <-done:
			return r, phases
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return waitResult(e.t, c, done, 0), phases
		}
		if id == "" {
			for _, r := range e.rollouts() { // newest first
				if r.Version == version {
					id = r.ID
					break
				}
			}
			if id == "" {
				continue
			}
		}
		r := e.hugai("deploy", "status", id, "-o", "json")
		if r.code != 0 {
			continue // the command may be ending; the final status is checked afterwards
		}
		var st api.Rollout
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
			e.t.Fatalf("status %s: %v\n%s", id, err, r.stdout)
		}
		if len(phases) == 0 || phases[len(phases)-1] != st.Phase {
			phases = append(phases, st.Phase)
		}
		if during != nil {
			during(st)
		}
	}
}

// auditPhases is the sequence of `to` phases in the rollout.phase events of rollout id.
func auditPhases(t *testing.T, evs []auditEvent, id string) []string {
	t.Helper()
	var phases []string
	for _, ev := range evs {
		if ev.Subject != "rollout/"+id || ev.Type != "rollout.phase" {
			continue
		}
		var p struct {
			To string `json:"to"`
		}
		if err := json.Unmarshal(ev.Payload, &p); err != nil {
			t.Errorf("event %d: payload %s: %v", ev.Seq, ev.Payload, err)
			continue
		}
		phases = append(phases, p.To)
	}
	return phases
}

// A trigger firing during the watch after promotion rolls back: v8 is good through the canary and
// starts failing 12 s after it started, once it serves all traffic and the rollout is Verifying.
func TestWatchTriggerRollsBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t, watchPolicy)
	e.startServer()
	e.deployFirst("v1")
	load := e.steadyLoad(150)

	c := e.hugaiStart(e.watchCanaryArgs("v8")...)
	done := background(c)
	v1WhileVerifying := -1
	r, phases := e.followPhases("v8", c, done, 90*time.Second, func(st api.Rollout) {
		if st.Phase == "Verifying" && v1WhileVerifying < 0 {
			v1WhileVerifying = len(e.replicas("v1"))
		}
	})
	t.Logf("phases seen by deploy status: %v", phases)
	if r.code != 3 {
		t.Fatalf("canary of v8 failing in the watch: exit %d, want 3\n%s\n%s\nserver log:\n%s",
			r.code, r.stdout, r.stderr, e.serverLog(1))
	}
	id := firstLine(r.stdout)
	st := e.status(id)
	t.Logf("final: %s reason %q: %s", st.Phase, st.Reason, st.Message)
	if st.Phase != "RolledBack" {
		t.Errorf("phase %s, want RolledBack", st.Phase)
	}
	if st.Reason != "trigger" && !strings.Contains(st.Message, "trigger") {
		t.Errorf("reason %q message %q: want reason trigger, or a message naming the trigger that fired", st.Reason, st.Message)
	}
	if st.Weights["v1"] != 100 || st.Weights["v8"] != 0 {
		t.Errorf("weights after the rollback: %v, want v1 at 100", st.Weights)
	}
	evPhases := auditPhases(t, e.auditLog(), id)
	t.Logf("rollout.phase events: %v", evPhases)
	if !slices.Contains(phases, "Verifying") && !slices.Contains(evPhases, "Verifying") {
		t.Errorf("the rollout was never Verifying (status %v, audit %v): the failure was not caught by the watch", phases, evPhases)
	}
	if i, j := slices.Index(evPhases, "Verifying"), slices.Index(evPhases, "RollingBack"); i < 0 || j < i {
		t.Errorf("rollout.phase events %v: want Verifying, then RollingBack", evPhases)
	}
	if v1WhileVerifying == 0 {
		t.Error("v1 was not running while v8 was Verifying: nothing to roll back to at once")
	}
	waitFor(t, 20*time.Second, "v8 stopped", func() bool { return len(e.replicas("v8")) == 0 })
	if len(e.replicas("v1")) == 0 {
		t.Error("v1 is not running after the rollback")
	}
	sum := load.Stop()
	t.Logf("load: %s", sum)
	checkOnlyCandidateFailed(t, sum, "v8")
	if sum.ByVersion["v8"].Errors == 0 {
		t.Error("v8 answered no 5xx: it never failed while serving, so the watch judged nothing")
	}
	if r := e.hugai("audit", "verify", "--data-dir", e.dataDir); r.code != 0 {
		t.Errorf("audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// A quiet watch ends in Succeeded; the previous version keeps running through it, then stops.
func TestQuietWatchSucceeds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, watchPolicy)
	e.startServer()
	e.deployFirst("v1")
	load := e.steadyLoad(150)

	start := time.Now()
	c := e.hugaiStart(e.watchCanaryArgs("v2")...)
	done := background(c)
	verifyingPolls, v1Missing := 0, 0
	r, phases := e.followPhases("v2", c, done, 90*time.Second, func(st api.Rollout) {
		if st.Phase == "Verifying" {
			verifyingPolls++
			// The watch may end between the status read and the process scan: v1 missing counts
			// only if the rollout was still Verifying after the scan.
			if len(e.replicas("v1")) == 0 && e.status(st.ID).Phase == "Verifying" {
				v1Missing++
			}
		}
	})
	took := time.Since(start)
	t.Logf("phases seen by deploy status: %v; the command took %s", phases, took.Round(100*time.Millisecond))
	if r.code != 0 {
		t.Fatalf("canary of v2 with a quiet watch: exit %d, want 0\n%s\n%s\nserver log:\n%s",
			r.code, r.stdout, r.stderr, e.serverLog(1))
	}
	id := firstLine(r.stdout)
	st := e.status(id)
	if st.Phase != "Succeeded" || st.Weights["v2"] != 100 || len(st.Weights) != 1 {
		t.Errorf("after the watch: %s %v (%s)", st.Phase, st.Weights, st.Message)
	}
	if took < 20*time.Second {
		t.Errorf("the command ended %s after it started: the 20 s watch did not run", took)
	}
	evPhases := auditPhases(t, e.auditLog(), id)
	t.Logf("rollout.phase events: %v", evPhases)
	if i, j := slices.Index(evPhases, "Verifying"), slices.Index(evPhases, "Succeeded"); i < 0 || j < i {
		t.Errorf("rollout.phase events %v: want Verifying, then Succeeded", evPhases)
	}
	if verifyingPolls == 0 {
		t.Errorf("deploy status never showed Verifying (%v)", phases)
	} else if v1Missing != 0 {
		t.Errorf("v1 was not running in %d of %d polls while Verifying: it must be kept for a rollback", v1Missing, verifyingPolls)
	}
	waitFor(t, 20*time.Second, "v1 stopped after the watch", func() bool { return len(e.replicas("v1")) == 0 })
	sum := load.Stop()
	t.Logf("load: %s", sum)
	checkOnlyCandidateFailed(t, sum, "")
	if r := e.hugai("audit", "verify", "--data-dir", e.dataDir); r.code != 0 {
		t.Errorf("audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
}
