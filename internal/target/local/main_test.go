package local

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/proxy"
	"github.com/hugai-dev/hugai/internal/target"
	"github.com/hugai-dev/hugai/internal/target/targettest"
)

// bins holds the real hugai (for `hugai proxy`) and the demo service's releases, built once.
var bins struct {
	hugai    string
	releases string // workdir: releases/<version>/demo
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hugai-local-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "build test binaries:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func build(dir string) error {
	root, err := filepath.Abs("../../..")
	if err != nil {
		return err
	}
	bins.hugai = filepath.Join(dir, "hugai")
	demo := filepath.Join(dir, "demo")
	pkgs := map[string]string{bins.hugai: "./cmd/hugai", demo: "./examples/demo"}
	// HUGAI_TEST_BINARY names an already built hugai (CI builds it once for every package).
	if b := os.Getenv("HUGAI_TEST_BINARY"); b != "" {
		bins.hugai = b
		delete(pkgs, filepath.Join(dir, "hugai"))
	}
	for out, pkg := range pkgs {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
		}
	}
	bins.releases = filepath.Join(dir, "work")
	for v, flags := range map[string]string{
		"good1":       "",
		"good2":       "",
		"good3":       "",
		"never-ready": "--never-ready",
		"crash-loop":  "--crash-after 200ms",
		"h2c-only":    "--h2c-only",
	} {
		d := filepath.Join(bins.releases, "releases", v)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		script := fmt.Sprintf("#!/bin/sh\nexec '%s' \"$@\" %s\n", demo, flags)
		if err := os.WriteFile(filepath.Join(d, "demo"), []byte(script), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// testOptions are Options for a fresh service in dataDir, with short timings.
func testOptions(t *testing.T, dataDir string) Options {
	return Options{
		Service: "demo",
		DataDir: dataDir,
		Command: []string{"./releases/{{.Version}}/demo", "--port", "{{.Port}}", "--version", "{{.Version}}"},
		Workdir: bins.releases,
		Env:     map[string]string{"DEMO_TEST": "1"},
		Health: HealthCheck{
			Path: "/readyz", Interval: 100 * time.Millisecond, Timeout: 500 * time.Millisecond,
			FailureThreshold: 2, SuccessThreshold: 1,
		},
		GracePeriod:  2 * time.Second,
		Listen:       loopbackAddr(t),
		Admin:        loopbackAddr(t),
		ProxyCommand: []string{bins.hugai, "proxy"},
		// targettest reaches versions with X-Hugai-Route from loopback.
		RouteAllowFrom:    []string{"127.0.0.1"},
		RestartBackoff:    100 * time.Millisecond,
		MaxRestartBackoff: time.Second,
		Logf:              t.Logf,
	}
}

// loopbackAddr picks an address for a proxy to listen on later. It draws from below the kernel's
// ephemeral range (32768 up): a port from there (a replica's, a client's) is handed out by the
// kernel meanwhile and would collide, as seen in CI ("bind: address already in use").
func loopbackAddr(t *testing.T) string {
	t.Helper()
	for range 200 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(20000+rand.IntN(12000)))
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			return addr
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return ""
}

// newTarget starts a Target and makes sure everything it started is stopped when the test ends.
func newTarget(t *testing.T, o Options) *Target {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tg, err := New(ctx, o)
	if err != nil {
		t.Fatalf("new local target: %v", err)
	}
	t.Cleanup(func() { shutdown(t, tg) })
	return tg
}

func shutdown(t *testing.T, tg *Target) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tg.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// frontDoor sends requests to the proxy's listen address. Its timeout is above the longest hold
// the conformance suite sets (10 s).
func frontDoor(listen string) func(ctx context.Context, h http.Header) (string, int, error) {
	c := &http.Client{Timeout: 15 * time.Second}
	return func(ctx context.Context, h http.Header) (string, int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+listen+"/", nil)
		if err != nil {
			return "", 0, err
		}
		for k, vs := range h {
			req.Header[k] = vs
		}
		resp, err := c.Do(req)
		if err != nil {
			return "", 0, err
		}
		defer resp.Body.Close()
		return resp.Header.Get("X-Hugai-Version"), resp.StatusCode, nil
	}
}

type harness struct{}

// New starts a target whose Reopen closes it (proxy and processes keep running, as when the
// server is killed) and adopts them with a new Target on the same data dir; the last one is
// shut down when the test ends.
func (harness) New(t *testing.T) targettest.Instance {
	o := testOptions(t, t.TempDir())
	var mu sync.Mutex
	cur := newTarget(t, o)
	reopen := func(t *testing.T) target.Target {
		mu.Lock()
		defer mu.Unlock()
		if err := cur.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		// newTarget shuts the new one down at cleanup; the closed one's cleanup finds its
		// processes adopted by the new one, already stopped.
		cur = newTarget(t, o)
		return cur
	}
	routes := func(ctx context.Context) (target.Routing, error) {
		mu.Lock()
		c := proxy.NewClient(cur.AdminSocket())
		mu.Unlock()
		rt, err := c.Routes(ctx)
		if err != nil {
			return target.Routing{}, err
		}
		r := target.Routing{Weights: map[string]int{}, Stable: rt.Stable, Canary: rt.Canary, Preview: rt.Preview, HoldTimeout: rt.HoldTimeout, Cut: rt.Cut}
		for _, b := range rt.Backends {
			r.Weights[b.Version] = b.Weight
		}
		return r, nil
	}
	return targettest.Instance{Target: cur, Reopen: reopen, Routes: routes, Do: frontDoor(o.Listen)}
}
func (harness) Good(n int) target.Revision  { return target.Revision{Version: fmt.Sprintf("good%d", n)} }
func (harness) NeverReady() target.Revision { return target.Revision{Version: "never-ready"} }
func (harness) CrashLoop() target.Revision  { return target.Revision{Version: "crash-loop"} }
func (harness) Missing() target.Revision    { return target.Revision{Version: "missing"} }
func (harness) Timeout() time.Duration      { return 15 * time.Second }

func TestConformance(t *testing.T) {
	targettest.Run(t, harness{})
}
