package cli

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hugai-dev/hugai/internal/client"
)

// runStop runs `server stop` on its own: the server command it hangs under is attached elsewhere.
func runStop(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &app{out: &out, errOut: &errOut}
	c := a.serverStopCmd()
	c.SetArgs(args)
	c.SetOut(&out)
	c.SetErr(&errOut)
	c.SilenceUsage, c.SilenceErrors = true, true
	err := c.ExecuteContext(context.Background())
	return out.String(), err
}

func TestServerStopWaitsUntilItIsGone(t *testing.T) {
	s := startServer(t)
	out, err := runStop(t, "--all", "--server", s.socket())
	if err != nil {
		t.Fatal(err)
	}
	if all := <-s.Server().Shutdowns; !all {
		t.Error("--all was not sent")
	}
	if !strings.Contains(out, "stopped hugai server and its proxies and services (pid 0") {
		t.Errorf("printed %q", out)
	}
	if _, err := client.New(s.socket()).Info(context.Background()); !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("server still answers after stop: %v", err)
	}
}

func TestServerStopWithNoServer(t *testing.T) {
	_, err := runStop(t, "--server", filepath.Join(t.TempDir(), "none.sock"))
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != ExitFailed || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("stop with no server: %v", err)
	}
}
