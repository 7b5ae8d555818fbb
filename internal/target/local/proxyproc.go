package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hugai-dev/hugai/internal/proxy"
)

// maxSocketPath is the room for a unix socket path (sun_path is 108 bytes with its NUL).
const maxSocketPath = 107

const proxyStartTimeout = 15 * time.Second

// routeSecretEnv gives `hugai proxy` its X-Hugai-Route secret (cli.RouteSecretEnv).
const routeSecretEnv = "HUGAI_ROUTE_SECRET"

func (t *Target) proxyPidPath() string { return filepath.Join(t.runDir, "proxy.json") }

func (t *Target) proxyStatePath() string { return filepath.Join(t.runDir, "proxy-state.json") }

// socketPath picks the admin socket: in the data dir when the path fits a unix socket, else a short
// path under the runtime dir named after the data dir. The choice is recorded in the data dir so
// that every hugai command finds it.
func (t *Target) socketPath() (string, error) {
	record := filepath.Join(t.runDir, "admin-socket")
	if b, err := os.ReadFile(record); err == nil {
		if p := strings.TrimSpace(string(b)); p != "" {
			return p, nil
		}
	}
	p := filepath.Join(t.runDir, "proxy.sock")
	if len(p) > maxSocketPath {
		base := os.Getenv("XDG_RUNTIME_DIR")
		if base == "" {
			base = os.TempDir()
		}
		sum := sha256.Sum256([]byte(t.runDir))
		p = filepath.Join(base, "hugai-"+hex.EncodeToString(sum[:6])+".sock")
		if len(p) > maxSocketPath {
			return "", fmt.Errorf("admin socket path %s is longer than %d bytes", p, maxSocketPath)
		}
	}
	if err := writeFileAtomic(record, []byte(p+"\n")); err != nil {
		return "", err
	}
	return p, nil
}

// startProxy adopts the service's running proxy, or starts one in its own session and waits until
// its admin socket answers.
func (t *Target) startProxy(ctx context.Context, found []markedProc) error {
	sock, err := t.socketPath()
	if err != nil {
		return err
	}
	t.socket = sock
	t.client = proxy.NewClient(sock)
	// The recorded proxy first, then any other proxy of this target the scan found (one started
	// by a server killed before it wrote the pid file): the first that answers is adopted, the
	// others stopped, as they would hold the listen address the proxy needs.
	var candidates []pidFile
	if pf, err := readPidFile(t.proxyPidPath()); err == nil && adoptable(pf) && t.markedBy(pf.PID, roleProxy, "", 0) {
		candidates = append(candidates, pf)
	}
	for _, p := range found {
		if p.Role == roleProxy && !slices.ContainsFunc(candidates, func(c pidFile) bool { return c.PID == p.PID }) {
			candidates = append(candidates, p.pidFile)
		}
	}
	adopted := false
	for _, pf := range candidates {
		if !adopted && t.waitProxy(ctx, pf) == nil {
			if info, err := t.client.Info(ctx); err != nil || info.Config != t.proxyConfig() {
				// Started with other settings (a changed hugai.yaml) or by another hugai binary:
				// a new proxy takes its sockets over, and it drains and exits by itself.
				t.opts.Logf("local target %s: proxy (pid %d) runs with other settings or another hugai: handing its sockets to a new one", t.opts.Service, pf.PID)
				if err := t.startProxyProcess(ctx, true); err != nil {
					// An old proxy that cannot hand over (one from before hugai had take-overs):
					// stopped and replaced, with a moment in which connections are refused.
					t.opts.Logf("local target %s: take-over failed (%v): restarting the proxy", t.opts.Service, err)
					terminate(pf.PID, pf.StartTime, t.opts.GracePeriod)
					continue
				}
				adopted = true
				continue
			}
			if err := writePidFile(t.proxyPidPath(), pf); err != nil {
				return err
			}
			t.setProxyPID(pf)
			t.opts.Logf("local target %s: adopted proxy (pid %d)", t.opts.Service, pf.PID)
			adopted = true
			continue
		}
		// Alive but not answering, or a second one: replace it rather than run a deploy blind.
		t.opts.Logf("local target %s: stopping proxy pid %d", t.opts.Service, pf.PID)
		terminate(pf.PID, pf.StartTime, t.opts.GracePeriod)
	}
	if adopted {
		return nil
	}
	return t.launchProxy(ctx)
}

func (t *Target) launchProxy(ctx context.Context) error { return t.startProxyProcess(ctx, false) }

// proxyArgv is the proxy's command line.
func (t *Target) proxyArgv() []string {
	argv := append([]string(nil), t.opts.ProxyCommand...)
	argv = append(argv, "--listen", t.opts.Listen, "--admin-socket", t.socket,
		"--state-file", t.proxyStatePath())
	if t.opts.Admin != "" {
		argv = append(argv, "--admin", t.opts.Admin)
	}
	if t.opts.Preview != "" {
		argv = append(argv, "--preview", t.opts.Preview)
	}
	if t.opts.TLSCert != "" {
		argv = append(argv, "--tls-cert", t.opts.TLSCert, "--tls-key", t.opts.TLSKey)
	}
	if len(t.opts.RouteAllowFrom) > 0 {
		argv = append(argv, "--route-allow-from", strings.Join(t.opts.RouteAllowFrom, ","))
	}
	return argv
}

// proxyConfig identifies the proxy this target would start now: its argv, its route secret and
// its executable (a replaced binary is another inode).
func (t *Target) proxyConfig() string {
	h := sha256.New()
	for _, a := range t.proxyArgv() {
		fmt.Fprintf(h, "%d:%s\n", len(a), a)
	}
	fmt.Fprintf(h, "secret:%s\n", t.opts.RouteSecret)
	if len(t.opts.ProxyCommand) > 0 {
		if fi, err := os.Stat(t.opts.ProxyCommand[0]); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				fmt.Fprintf(h, "exe:%d:%d:%d\n", st.Ino, fi.Size(), fi.ModTime().UnixNano())
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// startProxyProcess starts `hugai proxy`, taking the running one's sockets over when takeOver is
// set, and waits until it answers on the admin socket.
func (t *Target) startProxyProcess(ctx context.Context, takeOver bool) error {
	argv := t.proxyArgv()
	if takeOver {
		argv = append(argv, "--take-over")
	} else {
		_ = os.Remove(t.socket) // a stale socket of a dead proxy would refuse the bind
	}
	logPath := filepath.Join(t.logDir, "proxy.log")
	// The proxy's route secret is this target's, or none: never one inherited from the server's
	// environment by accident.
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, routeSecretEnv+"=") })
	if t.opts.RouteSecret != "" {
		env = append(env, routeSecretEnv+"="+t.opts.RouteSecret)
	}
	env = append(env, proxy.ConfigEnv+"="+t.proxyConfig())
	env = append(env, t.markEnv(roleProxy, "", 0)...)
	pf, err := t.spawn(argv, t.opts.Workdir, env, logPath)
	if err != nil {
		return fmt.Errorf("start proxy: %w", err)
	}
	t.mu.Lock()
	hook := t.afterSpawn
	t.mu.Unlock()
	if hook != nil {
		hook(pf)
	}
	if err := writePidFile(t.proxyPidPath(), pf); err != nil {
		terminate(pf.PID, pf.StartTime, t.opts.GracePeriod)
		return err
	}
	wait := t.waitProxy
	if takeOver {
		wait = t.waitSuccessor // the old proxy answers on the socket until the new one has it
	}
	if err := wait(ctx, pf); err != nil {
		terminate(pf.PID, pf.StartTime, t.opts.GracePeriod)
		return fmt.Errorf("start proxy: %w (log: %s)", err, tail(logPath))
	}
	t.setProxyPID(pf)
	t.opts.Logf("local target %s: started proxy (pid %d) on %s", t.opts.Service, pf.PID, t.opts.Listen)
	return nil
}

// waitProxy polls the admin socket until the proxy answers, its process is gone, or time is up.
func (t *Target) waitProxy(ctx context.Context, pf pidFile) error {
	ctx, cancel := context.WithTimeout(ctx, proxyStartTimeout)
	defer cancel()
	for {
		hctx, hcancel := context.WithTimeout(ctx, time.Second)
		err := t.client.Healthy(hctx)
		hcancel()
		if err == nil {
			return nil
		}
		if !alive(pf.PID, pf.StartTime) {
			return errors.New("proxy exited")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("proxy not answering on %s: %w", t.socket, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitSuccessor polls the admin socket until the proxy answering there is pf's process.
func (t *Target) waitSuccessor(ctx context.Context, pf pidFile) error {
	ctx, cancel := context.WithTimeout(ctx, proxyStartTimeout)
	defer cancel()
	for {
		hctx, hcancel := context.WithTimeout(ctx, time.Second)
		info, err := t.client.Info(hctx)
		hcancel()
		if err == nil && info.PID == pf.PID {
			return nil
		}
		if !alive(pf.PID, pf.StartTime) {
			return errors.New("proxy exited")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("proxy pid %d did not take the admin socket %s over", pf.PID, t.socket)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (t *Target) setProxyPID(pf pidFile) {
	t.mu.Lock()
	t.proxyPID = pf
	t.mu.Unlock()
}

// ensureProxy is polled by the sync loop: a proxy that died is started again and given the routes.
func (t *Target) ensureProxy(ctx context.Context) {
	t.mu.Lock()
	pf := t.proxyPID
	t.mu.Unlock()
	if alive(pf.PID, pf.StartTime) {
		return
	}
	t.opts.Logf("local target %s: proxy (pid %d) is gone, starting it again", t.opts.Service, pf.PID)
	if err := t.launchProxy(ctx); err != nil {
		t.opts.Logf("local target %s: %v", t.opts.Service, err)
		return
	}
	t.mu.Lock()
	t.dirty = true
	t.mu.Unlock()
}

func (t *Target) stopProxy() {
	t.mu.Lock()
	pf := t.proxyPID
	t.mu.Unlock()
	terminate(pf.PID, pf.StartTime, t.opts.GracePeriod)
	_ = os.Remove(t.proxyPidPath())
	_ = os.Remove(t.socket)
}

// spawn starts argv like startCmd, for a process whose exit nobody waits for (the proxy). Its reaper
// goroutine outlives Close on purpose: it only waits, and an unreaped child lingers as a zombie.
func (t *Target) spawn(argv []string, dir string, env []string, logPath string) (pidFile, error) {
	pf, cmd, err := t.startCmd(argv, dir, env, logPath)
	if err != nil {
		return pidFile{}, err
	}
	go func() { _ = cmd.Wait() }()
	return pf, nil
}

// startCmd starts argv in its own session (so it outlives this process and a signal to our process
// group), its output appended to logPath, and returns its record. The caller must Wait on cmd.
func (t *Target) startCmd(argv []string, dir string, env []string, logPath string) (pidFile, *exec.Cmd, error) {
	path := argv[0]
	if !filepath.IsAbs(path) && strings.ContainsRune(path, filepath.Separator) {
		path = filepath.Join(dir, path)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return pidFile{}, nil, fmt.Errorf("open log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args = argv
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return pidFile{}, nil, fmt.Errorf("exec %s: %w", argv[0], err)
	}
	pf := pidFile{PID: cmd.Process.Pid, Argv: argv}
	// Not reaped before the caller's Wait, so /proc still holds it, if only as a zombie.
	if st, err := readProcStat(pf.PID); err == nil {
		pf.StartTime = st.startTime
	}
	return pf, cmd, nil
}

// tail is the end of a log file, for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return path
	}
	if len(b) > 600 {
		b = b[len(b)-600:]
	}
	return strings.TrimSpace(string(b))
}
