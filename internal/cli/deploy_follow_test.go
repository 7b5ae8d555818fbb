package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/client"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/server/servertest"
)

func TestFollowPrintsEachChangeAndExits(t *testing.T) {
	s := startServer(t)
	s.Release("production", "v1")
	planFile := writeFile(t, "plan.yaml", testPlan)
	out, errOut, done := runAsync("deploy", "execute", "--plan", planFile, "--server", s.socket())
	id := <-s.Started()
	out.waitFor(t, "step=2/3 weights=v1:80,v2:20")
	// The candidate turns bad; the window that ends next judges it.
	s.SetErrorRate("v2", 12)
	s.Clock.Add(10 * time.Second)
	out.waitFor(t, "error_rate=12%<1% FAIL")
	if code := <-done; code != ExitRolledBack {
		t.Fatalf("exit %d, want 3\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if lines[0] != id {
		t.Fatalf("first line %q, want %s", lines[0], id)
	}
	// One line per visible change, never the same line twice; it ends rolled back for the analysis.
	for i := 2; i < len(lines); i++ {
		if rest(lines[i]) == rest(lines[i-1]) {
			t.Errorf("line %d repeats the one before:\n%s", i, out)
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "phase=RolledBack") || !strings.Contains(last, "reason=analysis") {
		t.Fatalf("lines:\n%s", out)
	}
	if !strings.Contains(errOut.String(), "rollout "+id+" RolledBack (analysis") {
		t.Errorf("no result line on stderr: %q", errOut)
	}
}

// rest is a plain line without its leading time.
func rest(line string) string {
	if _, after, ok := strings.Cut(line, " "); ok {
		return after
	}
	return line
}

func TestFollowReconnectsAcrossServerRestart(t *testing.T) {
	s := startServer(t)
	s.Release("production", "v1")
	planFile := writeFile(t, "plan.yaml", testPlan)
	out, errOut, done := runAsync("deploy", "execute", "--plan", planFile, "--server", s.socket())
	id := <-s.Started()
	out.waitFor(t, "phase=Progressing")
	s.Server().Close() // as kill -9 would: the socket goes, long polls are cut
	errOut.waitFor(t, "reconnecting")
	s.Restart(t)
	s.Do(id, "alice", api.Command{Kind: rollout.CommandPromote, Full: true})
	s.Judged(id)
	if code := <-done; code != 0 {
		t.Fatalf("exit %d, want 0\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut.String(), "reconnected") || !strings.Contains(out.String(), "phase=Succeeded") {
		t.Fatalf("out:\n%s\nerr:\n%s", out, errOut)
	}
	if n := strings.Count(errOut.String(), "reconnecting"); n != 1 {
		t.Errorf("said it was reconnecting %d times, want once", n)
	}
}

func TestStatusWatchFollowsToTheEnd(t *testing.T) {
	s := startServer(t)
	r := s.Begin("alice", api.StartRequest{Plan: []byte(testPlan), RequireApproval: true})
	v := s.WaitFor(r.ID, "the gate", servertest.Phase("AwaitingApproval"))
	out, errOut, done := runAsync("deploy", "status", r.ID, "--watch", "--server", s.socket())
	out.waitFor(t, "approval="+v.Approval.Gate+"(0/1)")
	if code, o, e := run(t, "deploy", "reject", r.ID, "--server", s.socket()); code != 0 {
		t.Fatalf("reject: %d %s%s", code, o, e)
	}
	if code := <-done; code != ExitAborted {
		t.Fatalf("status --watch exit %d, want 4\n%s%s", code, out, errOut)
	}
	if first, _, _ := strings.Cut(out.String(), "\n"); first != r.ID {
		t.Errorf("first line %q", first)
	}
}

func TestDetachDoesNotFollow(t *testing.T) {
	s := startServer(t)
	s.Release("production", "v1")
	planFile := writeFile(t, "plan.yaml", testPlan)
	code, out, _ := run(t, "deploy", "execute", "--plan", planFile, "--detach", "--server", s.socket())
	id := <-s.Started()
	if code != 0 || out != id+"\n" {
		t.Fatalf("--detach: %d %q", code, out)
	}
	if r, _ := s.Get(context.Background(), id); r.Terminal {
		t.Fatal("rollout ended; the test means nothing")
	}
}

func TestFollowGivesUpOnAServerThatStaysAway(t *testing.T) {
	var out, errOut bytes.Buffer
	f := &follower{c: client.New(filepath.Join(t.TempDir(), "gone.sock")), out: &out, errOut: &errOut, now: time.Now,
		retryEvery: time.Millisecond, giveUpAfter: 20 * time.Millisecond}
	_, err := f.follow(context.Background(), api.Rollout{ID: "r-1", Phase: "Progressing"})
	if err == nil || !errors.Is(err, client.ErrUnreachable) || !strings.Contains(err.Error(), "may still be running") {
		t.Fatalf("follow: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.giveUpAfter = time.Hour
	if _, err := f.follow(ctx, api.Rollout{ID: "r-1"}); err == nil || !strings.Contains(err.Error(), "stopped following r-1") {
		t.Fatalf("cancelled follow: %v", err)
	}
}

func TestResultOf(t *testing.T) {
	for _, tc := range []struct {
		r    api.Rollout
		want int
	}{
		{api.Rollout{Phase: "Succeeded"}, 0},
		{api.Rollout{Phase: "RolledBack", ExitCode: 3}, 3},
		{api.Rollout{Phase: "RolledBack"}, 3}, // a server that forgot the code
		{api.Rollout{Phase: "Aborted", Reason: "approval-timeout"}, 4},
		{api.Rollout{Phase: "Failed", ExitCode: 1}, 1},
	} {
		err := resultOf(tc.r)
		got := 0
		var ee *exitError
		if errors.As(err, &ee) {
			got = ee.code
		}
		if got != tc.want {
			t.Errorf("%+v: exit %d, want %d", tc.r, got, tc.want)
		}
	}
}

// goldenRollout has every part of the view: steps, weights, criteria of each result, an approval.
func goldenRollout() (api.Rollout, time.Time) {
	t0 := time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC)
	ends := t0.Add(3*time.Minute + 10*time.Second)
	v := 0.004
	return api.Rollout{
		ID: "r-20261127-abc", Service: "checkout", Environment: "production", Version: "v2", PreviousVersion: "v1",
		Strategy: "canary", Phase: "Progressing", Revision: 7, CreatedAt: t0,
		Steps: []api.Step{
			{Index: 0, Description: "setWeight 5", State: "done"},
			{Index: 1, Description: "pause 2m", State: "done"},
			{Index: 2, Description: "setWeight 25", State: "done"},
			{Index: 3, Description: "pause 2m", State: "running"},
			{Index: 4, Description: "approval (1 of alice, bob)", State: "pending"},
			{Index: 5, Description: "setWeight 100"},
		},
		CurrentStep: 3, StepEndsAt: &ends,
		Weights: map[string]int{"v1": 75, "v2": 25},
		Analysis: []api.Criterion{
			{Metric: "error_rate", Condition: "error_rate<1%", Value: &v, Display: "0.4%", Phase: "Successful", Samples: 412},
			{Metric: "latency_p95", Condition: "<2s", Display: "120ms", Phase: "Successful", Samples: 412},
			{Metric: "cpu", Condition: "cpu<80%", Phase: "Pending"},
			{Metric: "success_rate", Condition: "success_rate>99%", Display: "97%", Phase: "Failed", Samples: 20},
			{Metric: "latency_p99", Condition: "latency_p99<3s", Phase: "Inconclusive", Samples: 3},
			{Metric: "latency_p90", Condition: "latency_p90<1s", Phase: "Pending", Samples: 12, Needed: 8},
		},
		Comparison: &api.Comparison{Alpha: 0.01, Results: []analysis.Result{
			{Metric: "error_rate", Decision: analysis.Continue, Statistic: 1.2, Boundary: 5.3, Canary: analysis.Counts{Requests: 1030, Events: 6},
				Baseline: analysis.Counts{Requests: 19570, Events: 98}, Ratio: analysis.Ratio{Estimate: 1.19, Low: 0.35, High: 3.4}},
			{Metric: "latency_p95", Decision: analysis.PassEligible, Statistic: 0.1, Boundary: 5.3, Canary: analysis.Counts{Requests: 1030, Events: 49},
				Baseline: analysis.Counts{Requests: 19570, Events: 981}, Ratio: analysis.Ratio{Estimate: 0.95, Low: 0.6, High: 1.4}},
		}},
		Approval:  &api.PendingApproval{Gate: "production", Approvers: []string{"alice", "bob"}, Needed: 1, Deadline: t0.Add(time.Hour)},
		Monitors:  []api.Criterion{{Metric: "request_rate", Display: "95rps", Phase: "Successful", Samples: 412}},
		Overrides: []string{"--no-auto-rollback: a failed analysis pauses for a person (the plan rolls back by itself)"},
		Checkpoints: []api.Checkpoint{
			{Name: "health-check", Required: true, How: "readiness", State: "passed"},
			{Name: "security-scan", Required: true, How: "command", State: "passed"},
			{Name: "business-validation", How: "sign-off", State: "open"},
		},
	}, t0.Add(2*time.Minute + 5*time.Second)
}

func TestRenderGolden(t *testing.T) {
	r, now := goldenRollout()
	done := r
	done.Phase, done.Reason, done.Terminal, done.ExitCode, done.Approval = "RolledBack", "analysis: success_rate 97% ≤ 99%", true, 3, nil
	done.Weights = map[string]int{"v1": 100, "v2": 0}
	done.UpdatedAt = now.Add(30 * time.Second)
	for _, tc := range []struct{ name, got string }{
		{"live_progressing", renderLive(r, now)},
		{"live_rolledback", renderLive(done, now.Add(time.Hour))},
		{"plain", plainLine(r, now) + "\n" + plainLine(done, now.Add(31*time.Second)) + "\n"},
	} {
		path := filepath.Join("testdata", "follow_"+tc.name+".golden")
		if os.Getenv("HUGAI_UPDATE_GOLDEN") != "" {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(tc.got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (HUGAI_UPDATE_GOLDEN=1 writes it)", err)
		}
		if tc.got != string(want) {
			t.Errorf("%s differs from %s:\n%s", tc.name, path, tc.got)
		}
	}
}

func TestLiveScreenRedrawsInPlace(t *testing.T) {
	var b bytes.Buffer
	var s liveScreen
	s.draw(&b, "one\ntwo\nthree\n", 80)
	if b.String() != "\r\x1b[Jone\ntwo\nthree\n" {
		t.Fatalf("first draw %q", b.String())
	}
	b.Reset()
	s.draw(&b, "a line far too long for the screen\n", 10)
	if b.String() != "\x1b[3A\r\x1b[Ja line fa\n" {
		t.Fatalf("redraw %q: want cursor up 3, clear, the line cut to the width", b.String())
	}
}

func TestLiveFollowRedrawsUntilTheEnd(t *testing.T) {
	s := startServer(t)
	s.Release("production", "v1")
	r := s.atPause(t, "v2")
	out := newSyncBuffer()
	cl := client.New(s.socket())
	defer cl.Close()
	f := &follower{c: cl, out: out, errOut: out, now: time.Now, width: 100, retryEvery: time.Millisecond, giveUpAfter: time.Minute}
	done := make(chan api.Rollout)
	go func() {
		r, err := f.follow(context.Background(), r)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	out.waitFor(t, "Phase:     Progressing")
	s.Do(r.ID, "alice", api.Command{Kind: rollout.CommandPromote, Full: true})
	s.Judged(r.ID)
	if r := <-done; r.Phase != "Succeeded" {
		t.Fatalf("ended %+v", r)
	}
	got := out.String()
	last := strings.LastIndex(got, "\x1b[J")
	if last < 0 || !strings.Contains(got[last:], "Phase:     Succeeded") {
		t.Fatalf("last frame is not the end: %q", got)
	}
}
