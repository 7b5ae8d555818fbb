package client_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"

	"github.com/hugai-dev/hugai/internal/client"
	"github.com/hugai-dev/hugai/internal/server/servertest"
)

func TestFindSocket(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, ".hugai")
	deep := filepath.Join(root, "a", "b")
	elsewhere := filepath.Join(t.TempDir(), ".hugai")
	for _, d := range []string{data, deep, elsewhere} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(elsewhere, "socket"), []byte("/run/x.sock\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, flag, env, wd, want string
	}{
		{"walks up to .hugai", "", "", deep, filepath.Join(data, "hugai.sock")},
		{"flag socket path", "/tmp/s.sock", "/ignored", deep, "/tmp/s.sock"},
		{"flag data dir", data, "", "/", filepath.Join(data, "hugai.sock")},
		{"env data dir with a recorded socket", "", elsewhere, deep, "/run/x.sock"},
		{"relative flag", "rel.sock", "", deep, filepath.Join(deep, "rel.sock")},
	} {
		got, err := client.FindSocket(tc.flag, tc.env, tc.wd)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	_, err := client.FindSocket("", "", "/")
	if err == nil || !strings.Contains(err.Error(), "no hugai server found") || !strings.Contains(err.Error(), "hugai server -f hugai.yaml") {
		t.Fatalf("with no server: %v", err)
	}
}

func TestUnreachableIsDistinct(t *testing.T) {
	c := client.New(filepath.Join(t.TempDir(), "none.sock"))
	_, err := c.Info(context.Background())
	if !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("missing socket: %v, want ErrUnreachable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Info(ctx); errors.Is(err, client.ErrUnreachable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v, want context.Canceled", err)
	}
}

func TestLongPollCutByTheServerIsUnreachable(t *testing.T) {
	f := servertest.NewFake()
	s := servertest.Serve(t, f, t.TempDir())
	c := client.New(s.Socket)
	defer c.Close()
	r, err := c.Start(context.Background(), api.StartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error)
	go func() {
		_, err := c.Wait(context.Background(), r.ID, r.Revision, time.Minute)
		errc <- err
	}()
	s.Close()
	if err := <-errc; !errors.Is(err, client.ErrUnreachable) {
		t.Fatalf("poll cut: %v, want ErrUnreachable", err)
	}
}
