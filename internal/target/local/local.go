// Package local is the target that runs each version of a service as processes on this machine,
// behind hugai's own proxy (`hugai proxy`). Proxy and processes run in their own sessions and outlive
// the server: a new Target on the same data dir adopts them again.
//
// In the data dir, per service:
//
//	run/<service>/state.json               desired replicas, routing, last routes generation
//	run/<service>/replica-<v>-<i>.json     pid file of replica i of version v
//	run/<service>/proxy.json               pid file of the proxy
//	run/<service>/proxy-state.json         the proxy's own copy of its last routes
//	run/<service>/admin-socket             the admin socket's path (proxy.sock here, unless too long)
//	logs/<service>/<v>-<i>.log, proxy.log  process output, rotated by size (logrotate.go)
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/hugai-dev/hugai/internal/proxy"
	"github.com/hugai-dev/hugai/internal/target"
)

// ErrCommandNotFound is wrapped by Deploy when a version's command cannot be found: bad input,
// nothing is started.
var ErrCommandNotFound = errors.New("command not found")

// HealthCheck is the readiness probe run against every replica.
type HealthCheck struct {
	Path             string
	Interval         time.Duration
	Timeout          time.Duration
	FailureThreshold int
	SuccessThreshold int
}

// Options describe one service on the local target. The server fills them from hugai.yaml.
type Options struct {
	Service string
	DataDir string
	// Command is an argv template: {{.Port}} {{.Version}} {{.Replica}} {{.DataDir}}.
	Command     []string
	Workdir     string
	Env         map[string]string
	Health      HealthCheck
	GracePeriod time.Duration
	// Listen and Admin are the proxy's addresses (users; /metrics and /healthz).
	Listen, Admin string
	// Preview is where the proxy serves the preview version alone (blue-green before the switch).
	Preview string
	// UpstreamProtocol is what the replicas speak: proxy.ProtocolHTTP1 (also when empty),
	// ProtocolH2C or ProtocolH2. The proxy and the readiness probe both speak it.
	UpstreamProtocol string
	// TLSCert and TLSKey are PEM files for TLS on Listen (both or neither); the proxy reads them
	// again when they change.
	TLSCert, TLSKey string
	// RouteSecret and RouteAllowFrom say whose X-Hugai-Route header the proxy honours (nobody's
	// when both are empty): the secret goes to the proxy in its environment, never its argv.
	RouteSecret    string
	RouteAllowFrom []string
	// ProxyCommand is the argv that starts `hugai proxy` (the server passes its own executable and
	// "proxy"); the target appends the addresses, socket and state file.
	ProxyCommand []string
	// RestartBackoff and MaxRestartBackoff bound the delay before a replica that exited is started
	// again (default 500ms doubling to 10s).
	RestartBackoff, MaxRestartBackoff time.Duration
	// LogMaxBytes and LogFiles bound each process's log: rotated past LogMaxBytes, LogFiles files
	// kept in all (default 10 MiB and 5).
	LogMaxBytes int64
	LogFiles    int
	// LogCheckEvery is how often log sizes are checked (default 5s).
	LogCheckEvery time.Duration
	Logf          func(format string, args ...any)
}

// Target runs one service's versions. Close leaves proxy and processes running; Shutdown stops them.
type Target struct {
	opts    Options
	runDir  string // pid files, state, socket record
	logDir  string
	tmpls   []*template.Template
	socket  string
	client  *proxy.Client
	probe   *http.Client
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	pushMu  sync.Mutex // one routes push at a time, in generation order
	kick    chan struct{}
	closeMu sync.Once

	mu       sync.Mutex
	revs     map[string]*revision
	routing  target.Routing
	lastGen  int64
	dirty    bool // the proxy has not been given the latest routes
	proxyPID pidFile
	cpu      map[int]cpuSample

	// afterSpawn, when set (tests only), is called between the start of a process and the pid
	// file that records it: the moment a crash would leave a process no pid file names.
	afterSpawn func(pidFile)
}

type cpuSample struct {
	ticks uint64
	at    time.Time
}

var _ target.Target = (*Target)(nil)

// New finds (or starts) the service's proxy and adopts the replicas still running from an earlier
// Target on the same data dir.
func New(ctx context.Context, opts Options) (*Target, error) {
	if err := defaults(&opts); err != nil {
		return nil, err
	}
	tmpls := make([]*template.Template, len(opts.Command))
	for i, a := range opts.Command {
		tm, err := template.New("arg").Option("missingkey=error").Parse(a)
		if err != nil {
			return nil, fmt.Errorf("parse command argument %d %q: %w", i, a, err)
		}
		tmpls[i] = tm
	}
	t := &Target{
		opts:   opts,
		runDir: filepath.Join(opts.DataDir, "run", opts.Service),
		logDir: filepath.Join(opts.DataDir, "logs", opts.Service),
		tmpls:  tmpls,
		probe:  probeClient(opts.UpstreamProtocol),
		kick:   make(chan struct{}, 1),
		revs:   map[string]*revision{},
		cpu:    map[int]cpuSample{},
	}
	switch opts.UpstreamProtocol {
	case "", proxy.ProtocolHTTP1, proxy.ProtocolH2C, proxy.ProtocolH2:
	default:
		return nil, fmt.Errorf("upstream protocol %q is not one of http1, h2c, h2", opts.UpstreamProtocol)
	}
	for _, d := range []string{t.runDir, t.logDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	return t.start(ctx)
}

// start adopts or stops every process an earlier Target on the data dir left running, and starts
// the proxy if none is left.
func (t *Target) start(ctx context.Context) (*Target, error) {
	found, err := t.scanMarked()
	if err != nil {
		return nil, err
	}
	if err := t.startProxy(ctx, found); err != nil {
		return nil, err
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	if err := t.restore(ctx, found); err != nil {
		t.cancel()
		return nil, err
	}
	t.wg.Add(1)
	go t.syncLoop()
	return t, nil
}

func defaults(o *Options) error {
	switch {
	case o.Service == "":
		return errors.New("local target: no service name")
	case o.DataDir == "":
		return errors.New("local target: no data dir")
	case len(o.Command) == 0:
		return errors.New("local target: no command")
	case len(o.ProxyCommand) == 0:
		return errors.New("local target: no proxy command")
	case o.Listen == "":
		return errors.New("local target: no listen address")
	}
	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		return fmt.Errorf("resolve data dir: %w", err)
	}
	o.DataDir = abs
	if o.Workdir == "" {
		o.Workdir = "."
	}
	if o.Workdir, err = filepath.Abs(o.Workdir); err != nil {
		return fmt.Errorf("resolve workdir: %w", err)
	}
	h := &o.Health
	if h.Path == "" {
		h.Path = "/"
	}
	if !strings.HasPrefix(h.Path, "/") {
		return fmt.Errorf("local target: health check path %q does not start with /", h.Path)
	}
	if h.Interval <= 0 {
		h.Interval = 5 * time.Second
	}
	if h.Timeout <= 0 {
		h.Timeout = 2 * time.Second
	}
	if h.FailureThreshold <= 0 {
		h.FailureThreshold = 3
	}
	if h.SuccessThreshold <= 0 {
		h.SuccessThreshold = 1
	}
	if o.GracePeriod <= 0 {
		o.GracePeriod = 10 * time.Second
	}
	if o.RestartBackoff <= 0 {
		o.RestartBackoff = 500 * time.Millisecond
	}
	if o.MaxRestartBackoff < o.RestartBackoff {
		o.MaxRestartBackoff = max(10*time.Second, o.RestartBackoff)
	}
	if o.LogMaxBytes <= 0 {
		o.LogMaxBytes = defaultLogMaxBytes
	}
	if o.LogFiles <= 0 {
		o.LogFiles = defaultLogFiles
	}
	if o.LogCheckEvery <= 0 {
		o.LogCheckEvery = defaultLogCheckEvery
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	return nil
}

// AdminSocket is the proxy's admin socket, through which the builtin metric source reads stats.
func (t *Target) AdminSocket() string { return t.socket }

// Close stops the target's goroutines and leaves the proxy and every process running, so that a
// restarted server adopts them.
func (t *Target) Close() error {
	t.closeMu.Do(func() {
		t.cancel()
		t.wg.Wait()
	})
	return nil
}

// Shutdown stops every replica and the proxy.
func (t *Target) Shutdown(ctx context.Context) error {
	if err := t.Close(); err != nil {
		return err
	}
	t.mu.Lock()
	var reps []*replica
	for _, rv := range t.revs {
		for _, r := range rv.replicas {
			reps = append(reps, r)
		}
	}
	t.revs = map[string]*revision{}
	t.mu.Unlock()
	t.stopReplicas(reps)
	t.stopProxy()
	// Whatever else carries this target's marker (a process a crash left unrecorded that nothing
	// adopted since, a one-shot command) goes too: `server stop --all` leaves nothing running.
	t.stopStrays(nil)
	// Nothing runs any more: a later start begins afresh, not with routes to dead replicas.
	for _, f := range []string{t.statePath(), t.proxyStatePath()} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove state: %w", err)
		}
	}
	return ctx.Err()
}

// state is what a Target persists besides pid files: what was asked of it, so that a new Target
// keeps the same replicas and the same routing.
type state struct {
	Desired    map[string]int `json:"desired"`
	Routing    target.Routing `json:"routing"`
	Generation int64          `json:"generation"`
}

func (t *Target) statePath() string { return filepath.Join(t.runDir, "state.json") }

// saveLocked persists the desired replicas and routing; t.mu is held.
func (t *Target) saveLocked() {
	st := state{Desired: map[string]int{}, Routing: t.routing, Generation: t.lastGen}
	for v, rv := range t.revs {
		if rv.startFailed == "" {
			st.Desired[v] = rv.desired
		}
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err == nil {
		err = writeFileAtomic(t.statePath(), b)
	}
	if err != nil {
		t.opts.Logf("local target %s: save state: %v", t.opts.Service, err)
	}
}

// adoptLocked takes a running replica process into its slot; t.mu is held.
func (t *Target) adoptLocked(pf pidFile, how string) *replica {
	rv := t.revs[pf.Version]
	if rv == nil {
		// Running but no longer asked for (a Remove cut short): adopted, then stopped by restore.
		rv = &revision{version: pf.Version, desired: 0, replicas: map[int]*replica{}}
		t.revs[pf.Version] = rv
	}
	r := t.newReplica(rv.version, pf.Replica)
	r.proc = pf
	r.adopted = true
	rv.replicas[pf.Replica] = r
	t.opts.Logf("local target %s: adopted %s replica %d (pid %d, port %d), found by %s",
		t.opts.Service, pf.Version, pf.Replica, pf.PID, pf.Port, how)
	return r
}

// stopStrays stops processes of this target that nothing tracks, all at once; nil scans /proc
// for every process carrying the marker.
func (t *Target) stopStrays(procs []pidFile) {
	if procs == nil {
		found, err := t.scanMarked()
		if err != nil {
			t.opts.Logf("local target %s: %v", t.opts.Service, err)
			return
		}
		for _, p := range found {
			procs = append(procs, p.pidFile)
		}
	}
	var wg sync.WaitGroup
	for _, p := range procs {
		t.opts.Logf("local target %s: stopping untracked process pid %d (%s)", t.opts.Service, p.PID, strings.Join(p.Argv, " "))
		wg.Add(1)
		go func() {
			defer wg.Done()
			terminate(p.PID, p.StartTime, t.opts.GracePeriod)
		}()
	}
	wg.Wait()
}

// restore adopts the replicas of an earlier Target, probes them once so the routes pushed next
// carry exactly the ready ones, and starts what is missing.
func (t *Target) restore(ctx context.Context, found []markedProc) error {
	var st state
	b, err := os.ReadFile(t.statePath())
	hadState := err == nil
	if hadState {
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("decode %s: %w", t.statePath(), err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read state: %w", err)
	}
	files, err := filepath.Glob(filepath.Join(t.runDir, "replica-*.json"))
	if err != nil {
		return fmt.Errorf("list pid files: %w", err)
	}
	var adopted []*replica
	t.mu.Lock()
	t.routing = st.Routing
	t.lastGen = st.Generation
	for v, n := range st.Desired {
		t.revs[v] = &revision{version: v, desired: n, replicas: map[int]*replica{}}
	}
	for _, f := range files {
		pf, err := readPidFile(f)
		if err != nil || !adoptable(pf) || !t.markedBy(pf.PID, roleReplica, pf.Version, pf.Replica) {
			_ = os.Remove(f)
			continue
		}
		adopted = append(adopted, t.adoptLocked(pf, "pid file"))
	}
	// Then every replica process the scan found that no pid file names: the server died between
	// starting it and recording it. A slot still wanted and empty adopts it (and records it now);
	// anything else is stopped, or it would run on with nothing tracking it.
	var strays []pidFile
	for _, p := range found {
		if p.Role == roleProxy || slices.ContainsFunc(adopted, func(r *replica) bool { return r.proc.PID == p.PID }) {
			continue
		}
		rv := t.revs[p.Version]
		if p.Role != roleReplica || checkVersion(p.Version) != nil || p.Port == 0 ||
			rv == nil || p.Replica < 0 || p.Replica >= rv.desired || rv.replicas[p.Replica] != nil {
			strays = append(strays, p.pidFile)
			continue
		}
		if err := writePidFile(t.pidPath(p.Version, p.Replica), p.pidFile); err != nil {
			t.mu.Unlock()
			return err
		}
		adopted = append(adopted, t.adoptLocked(p.pidFile, "its marker"))
	}
	t.mu.Unlock()
	if len(strays) > 0 {
		t.stopStrays(strays)
	}

	var wg sync.WaitGroup
	for _, r := range adopted {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok := t.check(ctx, r.proc.Port)
			t.mu.Lock()
			r.ready, r.everReady = ok, ok
			t.mu.Unlock()
		}()
	}
	wg.Wait()

	t.mu.Lock()
	for _, r := range adopted {
		t.superviseLocked(r)
	}
	// Replicas past what the state wants were being removed when the last target stopped (a
	// Remove or a scale-down cut short by a crash): finish the job, or they would run on with
	// nothing tracking them.
	var extra []*replica
	for _, rv := range t.revs {
		extra = append(extra, t.scaleLocked(rv)...)
	}
	t.mu.Unlock()
	if len(extra) > 0 {
		t.opts.Logf("local target %s: stopping %d replica(s) no longer wanted", t.opts.Service, len(extra))
		t.stopReplicas(extra)
	}
	if !hadState && len(adopted) == 0 {
		// A fresh service: its proxy has no routes either, and answers 503 until the first Route.
		return nil
	}
	if err := t.push(ctx); err != nil {
		// The proxy keeps its last routes meanwhile; the sync loop tries again.
		t.opts.Logf("local target %s: %v", t.opts.Service, err)
	}
	return nil
}
