package cli

import (
	"bytes"
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

// fakeServer is a fake engine behind the real API on a real unix socket in a temp dir.
type fakeServer struct {
	*servertest.Fake
	srv *servertest.Server
	dir string
}

func startFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := servertest.NewFake()
	dir := t.TempDir()
	return &fakeServer{Fake: f, srv: servertest.Serve(t, f, dir), dir: dir}
}

// restart serves the same engine on the same path again, as a killed server started again would.
func (s *fakeServer) restart(t *testing.T) {
	t.Helper()
	s.srv = servertest.Serve(t, s.Fake, s.dir)
}

func (s *fakeServer) socket() string { return s.srv.Socket }

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
	s := startFakeServer(t)
	s.Add(api.Rollout{ID: "r-1", Phase: "AwaitingApproval", Approval: &api.PendingApproval{Gate: "production", Needed: 1}})
	code, out, errOut := run(t, "deploy", "approve", "r-1", "--comment", "numbers look fine", "--server", s.socket())
	if code != 0 {
		t.Fatalf("approve: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "approved r-1: Progressing") {
		t.Errorf("approve printed %q", out)
	}
	cmds := s.Commands()
	if len(cmds) != 1 || cmds[0].Actor != currentUserName(t) || cmds[0].Cmd.Kind != rollout.CommandApprove || cmds[0].Cmd.Comment != "numbers look fine" {
		t.Fatalf("engine saw %+v, want an approve by %s with the comment", cmds, currentUserName(t))
	}
}

func TestCommandsSendTheirFlags(t *testing.T) {
	s := startFakeServer(t)
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		s.Add(api.Rollout{ID: id, Phase: "Paused"})
	}
	for _, args := range [][]string{
		{"promote", "a", "--full"},
		{"resume", "b"},
		{"reject", "c", "--comment", "no"},
		{"abort", "d"},
		{"rollback", "e", "--emergency"},
	} {
		// rollback follows the rollback to its end: the fake rolls it back at once, exit 3.
		want := map[bool]int{false: 0, true: ExitRolledBack}[args[0] == "rollback"]
		if code, out, errOut := run(t, append(append([]string{"deploy"}, args...), "--server", s.socket())...); code != want {
			t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, want, out, errOut)
		}
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
	s := startFakeServer(t)
	s.Add(api.Rollout{ID: "done", Phase: "Succeeded", Terminal: true})
	if code, _, errOut := run(t, "deploy", "abort", "nope", "--server", s.socket()); code != ExitBadInput || !strings.Contains(errOut, "not found") {
		t.Errorf("abort unknown: exit %d %q, want 2", code, errOut)
	}
	if code, _, _ := run(t, "deploy", "abort", "done", "--server", s.socket()); code != ExitFailed {
		t.Errorf("abort finished: exit %d, want 1 (conflict)", code)
	}
	code, _, errOut := run(t, "deploy", "list", "--server", t.TempDir()+"/none.sock")
	if code != ExitFailed || !strings.Contains(errOut, "unreachable") {
		t.Errorf("no server: exit %d %q", code, errOut)
	}
}

func TestListPrintsAnArray(t *testing.T) {
	s := startFakeServer(t)
	code, out, _ := run(t, "deploy", "list", "-o", "json", "--server", s.socket())
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("empty list -o json: exit %d %q, want []", code, out)
	}
	s.Add(api.Rollout{ID: "r-1", Service: "web", Environment: "prod", Version: "v1", Phase: "Succeeded", Terminal: true})
	s.Add(api.Rollout{ID: "r-2", Service: "web", Environment: "prod", Version: "v2", Phase: "Progressing"})
	code, out, _ = run(t, "deploy", "list", "-o", "json", "--active", "--server", s.socket())
	var rs []api.Rollout
	if err := json.Unmarshal([]byte(out), &rs); code != 0 || err != nil || len(rs) != 1 || rs[0].ID != "r-2" {
		t.Fatalf("list --active: exit %d %v %q", code, err, out)
	}
	code, out, _ = run(t, "deploy", "list", "--server", s.socket())
	if code != 0 || !strings.Contains(out, "PHASE") || strings.Index(out, "r-2") > strings.Index(out, "r-1") {
		t.Fatalf("list table, newest first: %q", out)
	}
}

func TestStatusShowsTheNewest(t *testing.T) {
	s := startFakeServer(t)
	if code, _, errOut := run(t, "deploy", "status", "--server", s.socket()); code != ExitBadInput || !strings.Contains(errOut, "no rollouts yet") {
		t.Fatalf("status with none: %d %q", code, errOut)
	}
	s.Add(api.Rollout{ID: "r-1", Service: "web", Version: "v1", Phase: "Succeeded", Terminal: true})
	s.Add(api.Rollout{ID: "r-2", Service: "web", Version: "v2", Phase: "Progressing", Weights: map[string]int{"v2": 25}})
	code, out, _ := run(t, "deploy", "status", "--server", s.socket())
	if code != 0 || !strings.Contains(out, "Rollout r-2") || !strings.Contains(out, "25%") {
		t.Fatalf("status: %d %q", code, out)
	}
	code, out, _ = run(t, "deploy", "status", "r-1", "-o", "json", "--server", s.socket())
	var r api.Rollout
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || r.Phase != "Succeeded" {
		t.Fatalf("status r-1 -o json: %d %v %q", code, err, out)
	}
}
