package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/client"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/server"
	"github.com/hugai-dev/hugai/internal/server/servertest"
)

func serve(t *testing.T) (*servertest.Fake, *servertest.Server, *client.Client) {
	t.Helper()
	f := servertest.NewFake()
	s := servertest.Serve(t, f, t.TempDir())
	c := client.New(s.Socket)
	t.Cleanup(c.Close)
	return f, s, c
}

// raw sends a request over the socket without the client, to see statuses and bodies as they are.
func raw(t *testing.T, socket, method, path, body string) (int, string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequest(method, "http://x"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func currentUser(t *testing.T) string {
	u, err := user.Current()
	if err != nil {
		t.Skip("no current user:", err)
	}
	return u.Username
}

func TestStartRecordsThePeerAsActor(t *testing.T) {
	f, s, c := serve(t)
	ctx := context.Background()
	r, err := c.Start(ctx, api.StartRequest{Plan: []byte("kind: DeploymentPlan"), Service: "demo", Version: "v2"})
	if err != nil {
		t.Fatal(err)
	}
	if r.ID == "" || r.Version != "v2" {
		t.Fatalf("start answered %+v", r)
	}
	calls := f.StartCalls()
	if len(calls) != 1 || calls[0].Actor != currentUser(t) || string(calls[0].Req.Plan) != "kind: DeploymentPlan" {
		t.Fatalf("engine saw %+v, want one start by %s", calls, currentUser(t))
	}
	code, _ := raw(t, s.Socket, "POST", "/api/v1/rollouts", `{"service":"demo"}`)
	if code != http.StatusCreated {
		t.Errorf("POST /rollouts: %d, want 201", code)
	}
	got, err := c.Get(ctx, r.ID)
	if err != nil || got.ID != r.ID {
		t.Fatalf("get %s: %+v, %v", r.ID, got, err)
	}
	info, err := c.Info(ctx)
	if err != nil || info.Version != "test" || info.DataDir != "/fake" {
		t.Fatalf("info: %+v, %v", info, err)
	}
}

func TestListAnswersAnArrayAndFilters(t *testing.T) {
	f, s, c := serve(t)
	if code, body := raw(t, s.Socket, "GET", "/api/v1/rollouts", ""); code != 200 || body != "[]" {
		t.Fatalf("empty list: %d %q, want 200 []", code, body)
	}
	f.Add(api.Rollout{ID: "a", Service: "web", Environment: "prod", Terminal: true, Phase: "Succeeded"})
	f.Add(api.Rollout{ID: "b", Service: "web", Environment: "staging", Phase: "Progressing"})
	f.Add(api.Rollout{ID: "c", Service: "api", Environment: "prod", Phase: "Progressing"})
	ctx := context.Background()
	for _, tc := range []struct {
		f    api.ListFilter
		want string
	}{
		{api.ListFilter{}, "c,b,a"},
		{api.ListFilter{Service: "web"}, "b,a"},
		{api.ListFilter{Environment: "prod"}, "c,a"},
		{api.ListFilter{Active: true}, "c,b"},
		{api.ListFilter{Limit: 1}, "c"},
	} {
		rs, err := c.List(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		if got := strings.Join(ids, ","); got != tc.want {
			t.Errorf("list %+v: %s, want %s", tc.f, got, tc.want)
		}
	}
	if code, _ := raw(t, s.Socket, "GET", "/api/v1/rollouts?limit=x", ""); code != 400 {
		t.Errorf("limit=x: %d, want 400", code)
	}
}

func TestErrorsCarryCodeAndStatus(t *testing.T) {
	f, s, c := serve(t)
	f.OnStart = func(*api.Rollout) error { return errors.New("disk full") }
	_, err := c.Get(context.Background(), "nope")
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeNotFound {
		t.Fatalf("get unknown: %v, want a not_found api.Error", err)
	}
	_, err = c.Start(context.Background(), api.StartRequest{})
	if !errors.As(err, &ae) || ae.Code != api.CodeInternal || !strings.Contains(ae.Message, "disk full") {
		t.Fatalf("start failing: %v, want internal carrying the cause", err)
	}
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/api/v1/rollouts", "{not json", 400},
		{"GET", "/api/v1/rollouts/x", "", 404},
		{"GET", "/api/v1/nothing", "", 404},
		{"POST", "/api/v1/rollouts/x/commands", `{}`, 400},
		{"POST", "/api/v1/rollouts/x/commands", `{"kind":"aprove"}`, 400},
		{"GET", "/api/v1/rollouts/x?wait=abc", "", 400},
	} {
		code, body := raw(t, s.Socket, tc.method, tc.path, tc.body)
		if code != tc.want || !strings.Contains(body, `"code"`) {
			t.Errorf("%s %s: %d %s, want %d with an api error", tc.method, tc.path, code, body, tc.want)
		}
	}
	f.Add(api.Rollout{ID: "done", Terminal: true, Phase: "Succeeded"})
	_, err = c.Do(context.Background(), "done", api.Command{Kind: rollout.CommandAbort})
	if !errors.As(err, &ae) || ae.Code != api.CodeConflict {
		t.Fatalf("abort a finished rollout: %v, want conflict", err)
	}
	if code, _ := raw(t, s.Socket, "POST", "/api/v1/rollouts/done/commands", `{"kind":"abort"}`); code != 409 {
		t.Errorf("conflict status %d, want 409", code)
	}
}

func TestWaitLongPolls(t *testing.T) {
	f, _, c := serve(t)
	ctx := context.Background()
	r, err := c.Start(ctx, api.StartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// A revision already passed answers at once.
	got, err := c.Wait(ctx, r.ID, 0, time.Minute)
	if err != nil || got.Revision != r.Revision {
		t.Fatalf("wait after 0: %+v, %v", got, err)
	}
	// A timeout answers the rollout as it is.
	got, err = c.Wait(ctx, r.ID, r.Revision, time.Millisecond)
	if err != nil || got.Revision != r.Revision {
		t.Fatalf("wait timing out: %+v, %v", got, err)
	}
	// A change wakes the poll.
	done := make(chan api.Rollout)
	go func() {
		got, err := c.Wait(ctx, r.ID, r.Revision, time.Minute)
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	f.Update(r.ID, func(r *api.Rollout) { r.Phase = "Paused" })
	if got := <-done; got.Phase != "Paused" || got.Revision != r.Revision+1 {
		t.Fatalf("woken with %+v", got)
	}
	if _, err := c.Wait(ctx, "nope", 0, time.Second); err == nil {
		t.Fatal("wait on an unknown rollout succeeded")
	}
}

func TestCommandsRecordTheActor(t *testing.T) {
	f, _, c := serve(t)
	ctx := context.Background()
	r, err := c.Start(ctx, api.StartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Do(ctx, r.ID, api.Command{Kind: rollout.CommandReject, Comment: "too risky"})
	if err != nil || got.Phase != "Aborted" {
		t.Fatalf("reject: %+v, %v", got, err)
	}
	cmds := f.Commands()
	if len(cmds) != 1 || cmds[0].Actor != currentUser(t) || cmds[0].Cmd.Comment != "too risky" {
		t.Fatalf("engine saw %+v", cmds)
	}
}

func TestShutdownAnswersThenStops(t *testing.T) {
	_, s, c := serve(t)
	if err := c.Shutdown(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if all := <-s.Shutdowns; !all {
		t.Error("shutdown lost all=true")
	}
	s.Close()
	_, err := c.Info(context.Background())
	if !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("after shutdown: %v, want ErrUnreachable", err)
	}
}

func TestShutdownWithoutHookIsRefused(t *testing.T) {
	dir := t.TempDir()
	l, path, err := server.ListenUnix(dir)
	if err != nil {
		t.Fatal(err)
	}
	hs := server.HTTPServer(server.New(servertest.NewFake(), server.Options{}))
	go hs.Serve(l)
	defer hs.Close()
	if code, _ := raw(t, path, "POST", "/api/v1/shutdown", ""); code != http.StatusConflict {
		t.Fatalf("shutdown without hook: %d, want 409", code)
	}
}

func TestListenUnix(t *testing.T) {
	dir := t.TempDir()
	l, path, err := server.ListenUnix(dir)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, server.SocketName) {
		t.Errorf("socket at %s, want in the data dir", path)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v, want 0600", fi.Mode(), err)
	}
	if _, _, err := server.ListenUnix(dir); err == nil || !strings.Contains(err.Error(), "another hugai server") {
		t.Fatalf("second listener on a live socket: %v", err)
	}
	// A crashed server leaves its socket file behind: the next one takes the path over.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatal("stale socket file not left:", err)
	}
	l2, _, err := server.ListenUnix(dir)
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	l2.Close()
}

func TestListenUnixLongPathMovesTheSocket(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	l, path, err := server.ListenUnix(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if len(path) > 107 || strings.HasPrefix(path, dir) {
		t.Fatalf("socket at %s (%d bytes)", path, len(path))
	}
	rec, err := os.ReadFile(filepath.Join(dir, server.SocketPathFile))
	if err != nil || strings.TrimSpace(string(rec)) != path {
		t.Fatalf("recorded %q, %v; want %s", rec, err, path)
	}
	found, err := client.FindSocket(dir, "", "/")
	if err != nil || found != path {
		t.Fatalf("client finds %q, %v; want %s", found, err, path)
	}
	if path != server.ShortSocketPath(dir) {
		t.Error("short path is not stable for the data dir")
	}
}

func TestGracefulShutdownEndsLongPolls(t *testing.T) {
	f := servertest.NewFake()
	l, path, err := server.ListenUnix(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	hs := server.HTTPServer(server.New(f, server.Options{}))
	go hs.Serve(l)
	c := client.New(path)
	defer c.Close()
	r, err := c.Start(context.Background(), api.StartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	polled := make(chan error)
	go func() {
		got, err := c.Wait(context.Background(), r.ID, r.Revision, 5*time.Minute)
		if err == nil && got.Revision != r.Revision {
			err = errors.New("answered another revision")
		}
		polled <- err
	}()
	<-f.Waiting()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown waited out the long poll: %v", err)
	}
	if err := <-polled; err != nil {
		t.Fatalf("the poll cut by shutdown: %v, want the rollout as it is", err)
	}
}
