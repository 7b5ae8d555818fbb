package local

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hugai-dev/hugai/internal/proxy"
)

// stableRun is how long a replica must run, ready, for its exit not to count towards a crash loop.
const stableRun = 10 * time.Second

// crashLoopRestarts is how many unstable restarts in a row make a replica crash-looping.
const crashLoopRestarts = 3

// quickExit is how soon an exit counts as "at once": the port picked may have been taken meanwhile,
// so the first such exit is retried at once on another port.
const quickExit = time.Second

type revision struct {
	version     string
	desired     int
	replicas    map[int]*replica
	startFailed string
}

// replica is one process slot of a revision; the process in it changes on every restart. Its fields
// are guarded by Target.mu.
type replica struct {
	version   string
	index     int
	proc      pidFile // PID 0: no process right now
	exited    <-chan struct{}
	adopted   bool
	startedAt time.Time
	ready     bool
	everReady bool // ready at some point since the process started
	removing  bool // scaled down or removed: out of the routes before it is stopped
	restarts  int
	unstable  int // exits in a row without a stable run
	stop      context.CancelFunc
	done      chan struct{}
}

func (t *Target) newReplica(version string, index int) *replica {
	return &replica{version: version, index: index, startedAt: time.Now(), done: make(chan struct{})}
}

func (t *Target) pidPath(version string, index int) string {
	return filepath.Join(t.runDir, fmt.Sprintf("replica-%s-%d.json", version, index))
}

// superviseLocked starts the replica's supervisor goroutine; t.mu is held.
func (t *Target) superviseLocked(r *replica) {
	ctx, cancel := context.WithCancel(t.ctx)
	r.stop = cancel
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer close(r.done)
		t.supervise(ctx, r)
	}()
}

// supervise keeps one process running in the slot: start, probe readiness until it exits, restart
// with exponential backoff. It returns when ctx ends and leaves the process running: stopping it is
// the caller's decision (Remove and scale-down do; Close does not).
func (t *Target) supervise(ctx context.Context, r *replica) {
	backoff := t.opts.RestartBackoff
	quickRetried := false
	for {
		t.mu.Lock()
		running := r.proc.PID != 0
		t.mu.Unlock()
		if !running {
			if err := t.startReplica(r); err != nil {
				t.opts.Logf("local target %s: start %s replica %d: %v", t.opts.Service, r.version, r.index, err)
				t.mu.Lock()
				r.restarts++
				r.unstable++
				t.mu.Unlock()
				if !sleepCtx(ctx, backoff) {
					return
				}
				backoff = min(2*backoff, t.opts.MaxRestartBackoff)
				continue
			}
		}
		if !t.watch(ctx, r) {
			return
		}
		t.mu.Lock()
		ran := time.Since(r.startedAt)
		stable := r.everReady && ran >= stableRun
		wasReady := r.ready
		pf := r.proc
		r.ready, r.proc, r.exited = false, pidFile{}, nil
		delay := backoff
		switch {
		case ran < quickExit && !quickRetried && !r.everReady:
			quickRetried, delay = true, 0
		case stable:
			r.restarts++
			r.unstable = 0
			backoff, delay = t.opts.RestartBackoff, t.opts.RestartBackoff
		default:
			r.restarts++
			r.unstable++
			backoff = min(2*backoff, t.opts.MaxRestartBackoff)
		}
		if r.everReady {
			quickRetried = false
		}
		t.mu.Unlock()
		_ = os.Remove(t.pidPath(r.version, r.index))
		t.opts.Logf("local target %s: %s replica %d (pid %d) exited after %s; restarting in %s",
			t.opts.Service, r.version, r.index, pf.PID, ran.Round(time.Millisecond), delay)
		if wasReady {
			t.kickPush()
		}
		if !sleepCtx(ctx, delay) {
			return
		}
	}
}

// startReplica starts a process in the slot on a port picked now.
func (t *Target) startReplica(r *replica) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	argv, err := t.render(r.version, r.index, port)
	if err != nil {
		return err
	}
	env := os.Environ()
	for k, v := range t.opts.Env {
		env = append(env, k+"="+v)
	}
	env = append(env, "PORT="+strconv.Itoa(port))
	env = append(env, t.markEnv(roleReplica, r.version, r.index)...)
	logPath := filepath.Join(t.logDir, fmt.Sprintf("%s-%d.log", r.version, r.index))
	pf, exited, err := t.spawnWatched(argv, env, logPath)
	if err != nil {
		return err
	}
	pf.Port, pf.Version, pf.Replica = port, r.version, r.index
	t.mu.Lock()
	hook := t.afterSpawn
	t.mu.Unlock()
	if hook != nil {
		hook(pf) // a test stops here: the process runs, no pid file names it
	}
	if err := writePidFile(t.pidPath(r.version, r.index), pf); err != nil {
		terminate(pf.PID, pf.StartTime, t.opts.GracePeriod)
		return err
	}
	t.mu.Lock()
	r.proc, r.exited, r.startedAt = pf, exited, time.Now()
	r.ready, r.everReady, r.adopted = false, false, false
	t.mu.Unlock()
	return nil
}

// watch probes the replica's readiness until its process exits (true) or ctx ends (false).
// Adopted processes are not our children: they are polled through /proc.
func (t *Target) watch(ctx context.Context, r *replica) bool {
	t.mu.Lock()
	pf, exited := r.proc, r.exited
	succ, fail := 0, 0
	t.mu.Unlock()
	h := t.opts.Health
	poll := time.NewTicker(min(h.Interval, 250*time.Millisecond))
	defer poll.Stop()
	next := time.Now()
	for {
		if !alive(pf.PID, pf.StartTime) {
			return true
		}
		if !time.Now().Before(next) {
			next = time.Now().Add(h.Interval)
			ok := t.check(ctx, pf.Port)
			if ctx.Err() != nil {
				return false
			}
			if ok {
				succ, fail = succ+1, 0
			} else {
				succ, fail = 0, fail+1
			}
			t.readiness(r, succ, fail)
		}
		select {
		case <-ctx.Done():
			return false
		case <-exited: // nil for adopted processes: never fires
			return true
		case <-poll.C:
		}
	}
}

// readiness applies the thresholds to a probe streak and tells the proxy when readiness changed.
func (t *Target) readiness(r *replica, succ, fail int) {
	h := t.opts.Health
	t.mu.Lock()
	changed := false
	switch {
	case !r.ready && succ >= h.SuccessThreshold:
		r.ready, r.everReady, changed = true, true, true
	case r.ready && fail >= h.FailureThreshold:
		r.ready, changed = false, true
	}
	pf, ready := r.proc, r.ready
	t.mu.Unlock()
	if !changed {
		return
	}
	if ready {
		t.recordCmdline(r, pf)
	}
	t.kickPush()
}

// recordCmdline notes the command line the process shows once it serves: a release script that
// execs the real binary has replaced the argv hugai launched, and adoption must recognise it.
func (t *Target) recordCmdline(r *replica, pf pidFile) {
	cl, err := readCmdline(pf.PID)
	if err != nil || equalArgv(cl, pf.Argv) || equalArgv(cl, pf.Cmdline) {
		return
	}
	pf.Cmdline = cl
	if err := writePidFile(t.pidPath(r.version, r.index), pf); err != nil {
		t.opts.Logf("local target %s: %v", t.opts.Service, err)
		return
	}
	t.mu.Lock()
	if r.proc.PID == pf.PID {
		r.proc.Cmdline = cl
	}
	t.mu.Unlock()
}

// check is one readiness probe.
func (t *Target) check(ctx context.Context, port int) bool {
	ctx, cancel := context.WithTimeout(ctx, t.opts.Health.Timeout)
	defer cancel()
	scheme := "http"
	if t.opts.UpstreamProtocol == proxy.ProtocolH2 {
		scheme = "https"
	}
	u := scheme + "://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + t.opts.Health.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false
	}
	resp, err := t.probe.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}

// probeClient is the readiness probe's client, speaking what the replicas speak: a replica that
// serves HTTP/2 only (a gRPC server, h2c) would fail an HTTP/1.1 probe. Under h2 the replica's
// certificate is not checked, as the proxy does not: it is reached on loopback.
func probeClient(protocol string) *http.Client {
	var pr http.Protocols
	switch protocol {
	case proxy.ProtocolH2C:
		pr.SetUnencryptedHTTP2(true)
	case proxy.ProtocolH2:
		pr.SetHTTP2(true)
	default:
		pr.SetHTTP1(true)
	}
	return &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		Protocols:         &pr,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12},
	}}
}

// spawnWatched is spawn for a replica, with a channel closed when the child has exited.
func (t *Target) spawnWatched(argv, env []string, logPath string) (pidFile, <-chan struct{}, error) {
	pf, cmd, err := t.startCmd(argv, t.opts.Workdir, env, logPath)
	if err != nil {
		return pidFile{}, nil, err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	return pf, exited, nil
}

// data is what a command template sees.
type data struct {
	Port    int
	Version string
	Replica int
	DataDir string
}

func (t *Target) render(version string, replica, port int) ([]string, error) {
	d := data{Port: port, Version: version, Replica: replica, DataDir: t.opts.DataDir}
	argv := make([]string, len(t.tmpls))
	for i, tm := range t.tmpls {
		var b bytes.Buffer
		if err := tm.Execute(&b, d); err != nil {
			return nil, fmt.Errorf("render command argument %d: %w", i, err)
		}
		argv[i] = b.String()
	}
	return argv, nil
}

// Check says whether a version's command exists, before anything is started: Deploy refuses a
// missing one, and the engine asks first so a bad version is bad input with nothing started.
func (t *Target) Check(version string) error {
	argv, err := t.render(version, 0, 0)
	if err != nil {
		return err
	}
	name := argv[0]
	if filepath.Base(name) == name {
		if _, err := exec.LookPath(name); err != nil {
			return fmt.Errorf("%w: %s (version %s, not in PATH)", ErrCommandNotFound, name, version)
		}
		return nil
	}
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(t.opts.Workdir, p)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%w: %s (version %s, workdir %s)", ErrCommandNotFound, name, version, t.opts.Workdir)
	}
	return nil
}

// freePort asks the kernel for a free loopback port. It is free when we close it, not necessarily
// when the process binds it; an exit at once is retried on another port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}
