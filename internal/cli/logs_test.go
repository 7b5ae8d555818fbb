package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/target"
	"github.com/hugai-dev/hugai/internal/target/local"
)

// TestMain removes the binaries the logs tests build (once, for the tests that need them).
func TestMain(m *testing.M) {
	code := m.Run()
	if logBins.dir != "" {
		os.RemoveAll(logBins.dir)
	}
	os.Exit(code)
}

var logBins struct {
	once        sync.Once
	dir         string
	hugai, demo string
	err         error
}

// buildLogBins builds hugai (for `hugai proxy`) and the demo service, once per test binary.
func buildLogBins(t *testing.T) (hugai, demo string) {
	t.Helper()
	logBins.once.Do(func() {
		logBins.dir, logBins.err = os.MkdirTemp("", "hugai-cli-logs")
		if logBins.err != nil {
			return
		}
		root, _ := filepath.Abs("../..")
		logBins.hugai, logBins.demo = filepath.Join(logBins.dir, "hugai"), filepath.Join(logBins.dir, "demo")
		for out, pkg := range map[string]string{logBins.hugai: "./cmd/hugai", logBins.demo: "./examples/demo"} {
			cmd := exec.Command("go", "build", "-o", out, pkg)
			cmd.Dir = root
			if b, err := cmd.CombinedOutput(); err != nil {
				logBins.err = fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
				return
			}
		}
	})
	if logBins.err != nil {
		t.Fatal(logBins.err)
	}
	return logBins.hugai, logBins.demo
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startDemoTarget runs the demo service on the local target of environment env in dataDir, laid
// out as the server lays it out, with version v1 (2 replicas, stable) and v2 (1 replica).
func startDemoTarget(t *testing.T, dataDir, env string) *local.Target {
	t.Helper()
	hugai, demo := buildLogBins(t)
	ctx := context.Background()
	tg, err := local.New(ctx, local.Options{
		Service: "demo", DataDir: filepath.Join(dataDir, "targets", "demo-"+env),
		Command: []string{demo, "--port", "{{.Port}}", "--version", "{{.Version}}"},
		Workdir: t.TempDir(),
		Health:  local.HealthCheck{Path: "/readyz", Interval: 100 * time.Millisecond},
		Listen:  freeAddr(t), ProxyCommand: []string{hugai, "proxy"},
		GracePeriod: 2 * time.Second, RestartBackoff: 100 * time.Millisecond, Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := tg.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	for v, n := range map[string]int{"v1": 2, "v2": 1} {
		if err := tg.Deploy(ctx, target.Revision{Version: v}, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := tg.Route(ctx, target.Routing{Weights: map[string]int{"v1": 100}, Stable: "v1"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every replica ready", func() bool {
		st, err := tg.Status(ctx)
		return err == nil && st.Revisions["v1"].Ready == 2 && st.Revisions["v2"].Ready == 1
	})
	return tg
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestLogsShowsTheReplicas: `hugai logs` prints the current release's replicas' output, each line
// prefixed with its replica; a named version alone; a single replica unprefixed.
func TestLogsShowsTheReplicas(t *testing.T) {
	data := t.TempDir()
	tg := startDemoTarget(t, data, "staging")

	code, out, errOut := run(t, "logs", "--data-dir", data)
	if code != 0 {
		t.Fatalf("hugai logs: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"[v1/0] ", "[v1/1] ", "demo v1 listening on"} {
		if !strings.Contains(out, want) {
			t.Fatalf("hugai logs:\n%s\nwant %q", out, want)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, "[v1/0] ") && !strings.HasPrefix(l, "[v1/1] ") {
			t.Fatalf("line %q of hugai logs is not prefixed with a replica of v1", l)
		}
	}

	code, out, errOut = run(t, "logs", "--data-dir", data, "-e", "staging", "v2")
	if code != 0 || !strings.Contains(out, "demo v2 listening on") || strings.Contains(out, "[") {
		t.Fatalf("hugai logs v2: exit %d:\n%s%s\nwant v2's one replica, unprefixed", code, out, errOut)
	}
	if code, out, _ = run(t, "logs", "--data-dir", data, "--proxy"); code != 0 {
		t.Fatalf("hugai logs --proxy: exit %d:\n%s", code, out)
	}
	ok, _ := tg.Run(context.Background(), "smoke-test", []string{"sh", "-c", "echo smoke passed"}, t.TempDir(), nil, 10*time.Second)
	code, out, errOut = run(t, "logs", "--data-dir", data, "--run", "smoke-test")
	if !ok || code != 0 || !strings.HasPrefix(out, "--- ") || !strings.HasSuffix(out, "smoke passed\n") {
		t.Fatalf("hugai logs --run smoke-test: exit %d:\n%s%s", code, out, errOut)
	}
}

// TestLogsUnknownIsBadInput: an environment, version or service with no logs exits 2, naming what
// there is.
func TestLogsUnknownIsBadInput(t *testing.T) {
	data := t.TempDir()
	startDemoTarget(t, data, "staging")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-e", "production"}, `no logs of demo in environment "production" (environments with logs: staging)`},
		{[]string{"v9"}, `no logs of version "v9" of demo in staging (versions with logs: v1 (current), v2)`},
		{[]string{"--service", "shop"}, `no logs of service "shop"`},
		{[]string{"v1", "--proxy"}, "give one of VERSION, --proxy and --run"},
		{[]string{"--run", "smoke-test"}, `no log of a "smoke-test" run of demo in staging (runs with logs: none)`},
	} {
		code, _, errOut := run(t, append([]string{"logs", "--data-dir", data}, c.args...)...)
		if code != ExitBadInput || !strings.Contains(errOut, c.want) {
			t.Errorf("hugai logs %v: exit %d, %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
	if code, _, errOut := run(t, "logs", "--data-dir", t.TempDir()); code != ExitBadInput || !strings.Contains(errOut, "no logs in") {
		t.Errorf("hugai logs in an empty data dir: exit %d, %q", code, errOut)
	}
}

// TestLogsSeveralEnvironments: with logs in two environments, one must be named.
func TestLogsSeveralEnvironments(t *testing.T) {
	data := t.TempDir()
	startDemoTarget(t, data, "staging")
	// A second environment with logs: the layout is all `hugai logs` reads.
	dir := filepath.Join(data, "targets", "demo-production", "logs", "demo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "v0-0.log"), []byte("production line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "logs", "--data-dir", data)
	if code != ExitBadInput || !strings.Contains(errOut, "pass --environment (one of production, staging)") {
		t.Fatalf("hugai logs with two environments: exit %d, %q", code, errOut)
	}
	code, out, errOut := run(t, "logs", "--data-dir", data, "--environment", "production")
	if code != 0 || out != "production line\n" {
		t.Fatalf("hugai logs -e production: exit %d, %q %q", code, out, errOut)
	}
}

// syncWriter is safe to read while the command writes.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsFollow: -f goes on printing what the replicas write: a replica killed and started again
// by the target shows its new start.
func TestLogsFollow(t *testing.T) {
	data := t.TempDir()
	tg := startDemoTarget(t, data, "staging")

	var out, errOut syncWriter
	a := &app{in: strings.NewReader(""), out: &out, errOut: &errOut}
	root := a.rootCmd()
	root.SetArgs([]string{"logs", "--data-dir", data, "-f"})
	root.SetOut(&out)
	root.SetErr(&errOut)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hugai logs -f: %v", err)
		}
	}()
	waitFor(t, "v1/1's start", func() bool { return strings.Contains(out.String(), "[v1/1] ") })
	before := strings.Count(out.String(), "[v1/1] ")

	// Replica 1 of v1 is killed: its supervisor starts it again, and its log says so.
	pid := replicaPID(t, data, "v1", 1)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "v1/1's new start followed", func() bool {
		return strings.Count(out.String(), "[v1/1] ") > before && strings.Count(out.String(), "listening on") >= 3
	})
	if st, err := tg.Status(context.Background()); err != nil || st.Revisions["v1"].Restarts == 0 {
		t.Fatalf("status after the kill: %+v %v, want a restart of v1", st.Revisions["v1"], err)
	}
}

// replicaPID reads the pid file of replica i of version v.
func replicaPID(t *testing.T, data, v string, i int) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "targets", "demo-staging", "run", "demo", "replica-"+v+"-"+strconv.Itoa(i)+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var pf struct {
		PID int `json:"pid"`
	}
	if err := json.Unmarshal(b, &pf); err != nil || pf.PID == 0 {
		t.Fatalf("pid file %s: %v", b, err)
	}
	return pf.PID
}
