package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os/user"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/server/servertest"
)

// testServer is the real engine (SQLite, the fake target, a clock the test moves) behind the
// real API on a real unix socket in a temp dir.
type testServer struct {
	*servertest.Harness
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	return &testServer{servertest.NewHarness(t, "")}
}

func (s *testServer) socket() string { return s.Socket() }

// paused starts version in production after a release of prev and waits until it holds at its
// first pause (weight 20), for the commands to act on.
func (s *testServer) atPause(t *testing.T, version string) api.Rollout {
	t.Helper()
	r := s.Begin("alice", api.StartRequest{Plan: []byte(servertest.Plan("", "production")), Version: version})
	return s.WaitFor(r.ID, version+" at its pause", func(v api.Rollout) bool { return v.Phase == "Progressing" && v.Weights[version] == 20 })
}

// syncBuffer is output a test reads while the command still writes it.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.changed)
	s.changed = make(chan struct{})
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor returns once the output holds want; the timeout only turns a hang into a failure.
func (s *syncBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		s.mu.Lock()
		ok, ch := strings.Contains(s.b.String(), want), s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("output never held %q; it is:\n%s", want, s.String())
		}
	}
}

// runAsync runs hugai in the background, for commands that follow a rollout.
func runAsync(args ...string) (out, errOut *syncBuffer, done <-chan int) {
	out, errOut = newSyncBuffer(), newSyncBuffer()
	ch := make(chan int, 1)
	go func() { ch <- Main(args, strings.NewReader(""), out, errOut) }()
	return out, errOut, ch
}

func currentUserName(t *testing.T) string {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Skip("no current user:", err)
	}
	return u.Username
}

func TestApproveRecordsTheOSUser(t *testing.T) {
	s := startServer(t)
	r := s.Begin("alice", api.StartRequest{Plan: []byte(servertest.Plan("", "production")), Version: "v1", RequireApproval: true})
	s.WaitFor(r.ID, "the gate", servertest.Phase("AwaitingApproval"))
	code, out, errOut := run(t, "deploy", "approve", r.ID, "--comment", "numbers look fine", "--server", s.socket())
	if code != 0 {
		t.Fatalf("approve: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "approved "+r.ID+": Progressing") {
		t.Errorf("approve printed %q", out)
	}
	cmds := s.Commands()
	if len(cmds) != 1 || cmds[0].Actor != currentUserName(t) || cmds[0].Cmd.Kind != rollout.CommandApprove || cmds[0].Cmd.Comment != "numbers look fine" {
		t.Fatalf("engine saw %+v, want an approve by %s with the comment", cmds, currentUserName(t))
	}
	approvals, err := s.Store.Approvals(context.Background(), r.ID)
	if err != nil || len(approvals) != 1 || approvals[0].Actor != currentUserName(t) || approvals[0].Comment != "numbers look fine" {
		t.Fatalf("stored approvals %+v %v", approvals, err)
	}
}

func TestCommandsSendTheirFlags(t *testing.T) {
	s := startServer(t)
	s.Release("production", "v1")
	// Each command gets a rollout in a phase that takes it, one after the other (one rollout per
	// environment at a time); a rollout the command leaves running is aborted before the next.
	for _, tc := range []struct {
		args  []string
		setUp func(version string) api.Rollout
		want  int
	}{
		{[]string{"promote", "--full"}, func(v string) api.Rollout { return s.atPause(t, v) }, 0},
		{[]string{"resume"}, func(v string) api.Rollout {
			r := s.Begin("alice", api.StartRequest{Plan: []byte(servertest.Plan("[{setWeight: 20}, {pause: {}}, {setWeight: 100}]", "production")), Version: v})
			return s.WaitFor(r.ID, "the pause until promoted", servertest.Phase("Paused"))
		}, 0},
		{[]string{"reject", "--comment", "no"}, func(v string) api.Rollout {
			r := s.Begin("alice", api.StartRequest{Plan: []byte(servertest.Plan("", "production")), Version: v, RequireApproval: true})
			return s.WaitFor(r.ID, "the gate", servertest.Phase("AwaitingApproval"))
		}, 0},
		{[]string{"abort"}, func(v string) api.Rollout { return s.atPause(t, v) }, 0},
		// rollback follows the rollback to its end: exit 3.
		{[]string{"rollback", "--emergency"}, func(v string) api.Rollout { return s.atPause(t, v) }, ExitRolledBack},
	} {
		r := tc.setUp("v-" + tc.args[0])
		args := append([]string{"deploy", tc.args[0], r.ID}, tc.args[1:]...)
		if code, out, errOut := run(t, append(args, "--server", s.socket())...); code != tc.want {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, tc.want, out, errOut)
		}
		if v, _ := s.Get(context.Background(), r.ID); !v.Terminal {
			s.Do(r.ID, "alice", api.Command{Kind: rollout.CommandAbort})
		}
		s.WaitFor(r.ID, "the end of "+r.ID, func(v api.Rollout) bool { return v.Terminal })
	}
	want := []api.Command{
		{Kind: "promote", Full: true}, {Kind: "resume"}, {Kind: "reject", Comment: "no"}, {Kind: "abort"}, {Kind: "rollback", Emergency: true},
	}
	cmds := s.Commands()
	for i, w := range want {
		if i >= len(cmds) || cmds[i].Cmd != w {
			t.Fatalf("commands %+v, want %+v", cmds, want)
		}
	}
}

func TestCommandErrorsExitCodes(t *testing.T) {
	s := startServer(t)
	done := s.Release("production", "v1")
	if code, _, errOut := run(t, "deploy", "abort", "nope", "--server", s.socket()); code != ExitBadInput || !strings.Contains(errOut, "nope") {
		t.Errorf("abort unknown: exit %d %q, want 2", code, errOut)
	}
	if code, _, _ := run(t, "deploy", "abort", done.ID, "--server", s.socket()); code != ExitFailed {
		t.Errorf("abort finished: exit %d, want 1 (conflict)", code)
	}
	code, _, errOut := run(t, "deploy", "list", "--server", t.TempDir()+"/none.sock")
	if code != ExitFailed || !strings.Contains(errOut, "unreachable") {
		t.Errorf("no server: exit %d %q", code, errOut)
	}
}

func TestListPrintsAnArray(t *testing.T) {
	s := startServer(t)
	code, out, _ := run(t, "deploy", "list", "-o", "json", "--server", s.socket())
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("empty list -o json: exit %d %q, want []", code, out)
	}
	first := s.Release("production", "v1")
	second := s.atPause(t, "v2")
	code, out, _ = run(t, "deploy", "list", "-o", "json", "--active", "--server", s.socket())
	var rs []api.Rollout
	if err := json.Unmarshal([]byte(out), &rs); code != 0 || err != nil || len(rs) != 1 || rs[0].ID != second.ID {
		t.Fatalf("list --active: exit %d %v %q", code, err, out)
	}
	code, out, _ = run(t, "deploy", "list", "--server", s.socket())
	if code != 0 || !strings.Contains(out, "PHASE") || strings.Index(out, second.ID) > strings.Index(out, first.ID) {
		t.Fatalf("list table, newest first: %q", out)
	}
}

func TestStatusShowsTheNewest(t *testing.T) {
	s := startServer(t)
	if code, _, errOut := run(t, "deploy", "status", "--server", s.socket()); code != ExitBadInput || !strings.Contains(errOut, "no rollouts yet") {
		t.Fatalf("status with none: %d %q", code, errOut)
	}
	first := s.Release("production", "v1")
	second := s.Begin("alice", api.StartRequest{Plan: []byte(servertest.Plan("[{setWeight: 25, pause: {duration: 30s}}, {setWeight: 100}]", "production")), Version: "v2"})
	s.WaitFor(second.ID, "25%", func(v api.Rollout) bool { return v.Weights["v2"] == 25 })
	code, out, _ := run(t, "deploy", "status", "--server", s.socket())
	if code != 0 || !strings.Contains(out, "Rollout "+second.ID) || !strings.Contains(out, "25%") {
		t.Fatalf("status: %d %q", code, out)
	}
	code, out, _ = run(t, "deploy", "status", first.ID, "-o", "json", "--server", s.socket())
	var r api.Rollout
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || r.Phase != "Succeeded" {
		t.Fatalf("status %s -o json: %d %v %q", first.ID, code, err, out)
	}
}
