//go:build e2e

// Package e2e runs hugai as a user does: the built binary, a real server process, the real proxy
// and real demo processes, steady HTTP load, and the exit codes a pipeline sees.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/eventually"
	"github.com/hugai-dev/hugai/internal/loadgen"
)

// built holds the binaries TestMain builds once (without -race: these are the user's binaries).
var built struct {
	hugai    string
	releases string
}

// scenarios bounds how many scenarios run at once: each runs a server, a proxy, replicas and load.
var scenarios = make(chan struct{}, 2)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hugai-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		root, _ := filepath.Abs("../..")
		built.hugai = filepath.Join(dir, "hugai")
		demo := filepath.Join(dir, "demo")
		for _, b := range [][]string{{built.hugai, "./cmd/hugai"}, {demo, "./examples/demo"}} {
			cmd := exec.Command("go", "build", "-o", b[0], b[1])
			cmd.Dir = root
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b[1], err, out)
				return 1
			}
		}
		built.releases = filepath.Join(dir, "releases")
		cmd := exec.Command("sh", filepath.Join(root, "examples/demo/make-releases.sh"), demo)
		cmd.Env = append(os.Environ(), "RELEASES_DIR="+built.releases)
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "make-releases: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// env is one scenario's world: a service file on free ports, a data dir, a server.
type env struct {
	t       *testing.T
	dir     string
	dataDir string
	file    string
	listen  string
	preview string
	server  *exec.Cmd
	serverN int
	// serverArgs are added to every `hugai server` the scenario starts (e.g. --listen).
	serverArgs []string
}

// serviceYAML is the demo service with the scenario's ports and short timings; extra is appended
// under the production environment.
const serviceYAML = `apiVersion: hugai.io/v1
kind: Service
metadata:
  name: demo
spec:
  target:
    type: local
    local:
      command: ["%s/{{.Version}}/demo", "--port", "{{.Port}}", "--version", "{{.Version}}"]
      replicas: 2
      listen: %s
      admin: %s
      preview: %s
      gracePeriod: 3s
  smokeTest: ["%s", "smoke", "{{.URL}}/smoke"]
  checkpoints:
    security-scan: ["sh", "-c", "echo scanned >> scans.log"]
  progressDeadline: 10s
  healthChecks:
    - name: ready
      path: /readyz
      interval: 500ms
      timeout: 500ms
      failureThreshold: 2
      successThreshold: 1
  environments:
    production:
      successCriteria: error_rate<1%%,latency_p95<700ms
      analysis:
        interval: 3s
        minimumSamples: 10
%s`

// freeAddr picks a loopback address for a scenario's listener. It draws from below the kernel's
// ephemeral range (32768 up, here), so a port the kernel hands out meanwhile (to a replica, a
// client) can never be the one the scenario is about to listen on.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 200 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}
	t.Fatal("no free port below the ephemeral range")
	return ""
}

// newEnv prepares a scenario; policy is YAML appended to the production environment (indented 6).
func newEnv(t *testing.T, policy string) *env {
	t.Helper()
	scenarios <- struct{}{}
	t.Cleanup(func() { <-scenarios })
	dir := t.TempDir()
	e := &env{t: t, dir: dir, dataDir: filepath.Join(dir, ".hugai"), file: filepath.Join(dir, "hugai.yaml"), listen: freeAddr(t)}
	e.preview = freeAddr(t)
	demo := filepath.Join(filepath.Dir(built.releases), "demo")
	content := fmt.Sprintf(serviceYAML, built.releases, e.listen, freeAddr(t), e.preview, demo, policy)
	if err := os.WriteFile(e.file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-registered first: stop everything, then check nothing of this scenario
	// (server, proxy, replicas: all work in its directory) is left running.
	t.Cleanup(e.checkNothingLeft)
	t.Cleanup(e.stopAll)
	t.Cleanup(e.dumpLogs)
	return e
}

// startServer starts `hugai server` and waits until it answers.
func (e *env) startServer() {
	e.t.Helper()
	e.serverN++
	logf, err := os.Create(filepath.Join(e.dir, fmt.Sprintf("server-%d.log", e.serverN)))
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(built.hugai, append([]string{"server", "-f", e.file, "--data-dir", e.dataDir}, e.serverArgs...)...)
	cmd.Dir = e.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.server = cmd
	go func() { _ = cmd.Wait(); logf.Close() }()
	// Its log is shown by dumpLogs when this fails.
	eventually.True(e.t, 20*time.Second, "the server to answer", func() bool {
		return e.hugai("deploy", "list", "-o", "json").code == 0
	})
}

// killServer kills the server with SIGKILL, as a crash would.
func (e *env) killServer() {
	e.t.Helper()
	if e.server != nil && e.server.Process != nil {
		_ = e.server.Process.Signal(syscall.SIGKILL)
		// Signal 0 fails once startServer's Wait has reaped it.
		eventually.True(e.t, 10*time.Second, "the killed server to be gone", func() bool {
			return e.server.Process.Signal(syscall.Signal(0)) != nil
		})
	}
	e.server = nil
}

// stopAll stops the server with its proxies and services, and checks nothing is left behind.
func (e *env) stopAll() {
	if e.server == nil {
		e.startServerQuiet()
	}
	r := e.hugai("server", "stop", "--all")
	if r.code != 0 {
		e.t.Errorf("server stop --all: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// dumpLogs shows a failed scenario's server logs: in CI they are all there is to go on.
func (e *env) dumpLogs() {
	if !e.t.Failed() {
		return
	}
	logs, _ := filepath.Glob(filepath.Join(e.dir, "server-*.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		if len(b) > 20000 {
			b = b[len(b)-20000:]
		}
		e.t.Logf("%s:\n%s", filepath.Base(l), b)
	}
}

// checkNothingLeft fails the scenario if a process of it outlived `server stop --all`, and kills it.
func (e *env) checkNothingLeft() {
	left := e.ownProcesses()
	for pid, cmd := range left {
		e.t.Errorf("left running after server stop --all (killed now): pid %d: %s", pid, cmd)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

func (e *env) startServerQuiet() {
	defer func() { _ = recover() }()
	cmd := exec.Command(built.hugai, append([]string{"server", "-f", e.file, "--data-dir", e.dataDir}, e.serverArgs...)...)
	cmd.Dir = e.dir
	if err := cmd.Start(); err == nil {
		e.server = cmd
		go func() { _ = cmd.Wait() }()
		for i := 0; i < 100; i++ {
			if r := e.hugai("deploy", "list"); r.code == 0 {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// commandTimeout bounds any one hugai command of a scenario: a hung rollout fails its test instead
// of the whole package's timeout.
const commandTimeout = 3 * time.Minute

// hugai runs the binary against this scenario's server and waits for it.
func (e *env) hugai(args ...string) result {
	c := e.hugaiStart(args...)
	timer := time.AfterFunc(commandTimeout, func() { _ = c.cmd.Process.Kill() })
	r := c.wait()
	if !timer.Stop() {
		e.t.Errorf("hugai %v did not end within %s (killed)\n%s\n%s", args, commandTimeout, r.stdout, r.stderr)
	}
	return r
}

type running struct {
	cmd            *exec.Cmd
	stdout, stderr *bytes.Buffer
}

func (e *env) hugaiStart(args ...string) *running {
	cmd := exec.Command(built.hugai, args...)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "HUGAI_SERVER="+e.dataDir)
	r := &running{cmd: cmd, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = r.stdout, r.stderr
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	return r
}

func (r *running) wait() result {
	err := r.cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return result{code: code, stdout: r.stdout.String(), stderr: r.stderr.String()}
}

// canary runs `deploy canary` for version with the scenario's defaults.
func (e *env) canary(version string, extra ...string) result {
	args := append([]string{"deploy", "canary", "-f", e.file, "--environment", "production", "--version", version,
		"--traffic-split", "20,50,100", "--health-check-interval", "3s"}, extra...)
	return e.hugai(args...)
}

// status returns `deploy status ID -o json`.
func (e *env) status(id string) api.Rollout {
	e.t.Helper()
	r := e.hugai("deploy", "status", id, "-o", "json")
	if r.code != 0 {
		e.t.Fatalf("status %s: %d %s", id, r.code, r.stderr)
	}
	var v api.Rollout
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		e.t.Fatalf("status %s: %v\n%s", id, err, r.stdout)
	}
	return v
}

// load starts steady traffic through the scenario's proxy.
func (e *env) load(rate int) *loadgen.Run {
	run := loadgen.Start(context.Background(), "http://"+e.listen+"/", rate)
	e.t.Cleanup(func() { run.Stop() })
	return run
}

// steadyLoad starts traffic and returns once a second's worth of it has been answered, so the
// serving version has a record of traffic before a rollout starts. (A fixed sleep got fewer
// answers, or none, on a loaded machine.)
func (e *env) steadyLoad(rate int) *loadgen.Run {
	e.t.Helper()
	run := e.load(rate)
	eventually.True(e.t, 30*time.Second, fmt.Sprintf("%d answers through the proxy", rate), func() bool {
		n := 0
		for _, c := range run.Snapshot().ByVersion {
			n += c.OK + c.Errors
		}
		return n >= rate
	})
	return run
}

// firstLine is the rollout ID an acting command prints first.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// ownProcesses lists the processes working in this scenario's directory: the server, the proxy
// and the replicas it started (the harness's processesOf sees every scenario's replicas).
func (e *env) ownProcesses() map[int]string {
	procs := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", ent.Name(), "cwd"))
		if err != nil || strings.TrimSuffix(cwd, " (deleted)") != e.dir {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err != nil || len(b) == 0 { // a zombie has no command line: it is gone
			continue
		}
		procs[pid] = strings.ReplaceAll(strings.TrimSuffix(string(b), "\x00"), "\x00", " ")
	}
	return procs
}

// replicas lists the pids of this scenario's replicas serving version.
func (e *env) replicas(version string) []int {
	var pids []int
	for pid, cmd := range e.ownProcesses() {
		args := strings.Fields(cmd)
		if i := slices.Index(args, "--version"); i > 0 && i+1 < len(args) && args[i+1] == version && strings.HasSuffix(args[0], "/demo") {
			pids = append(pids, pid)
		}
	}
	return pids
}
