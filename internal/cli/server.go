package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/hugai-dev/hugai/internal/engine"
	"github.com/hugai-dev/hugai/internal/metric/builtin"
	"github.com/hugai-dev/hugai/internal/notify"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/proxy"
	"github.com/hugai-dev/hugai/internal/releaserun"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/server"
	"github.com/hugai-dev/hugai/internal/store/sqlite"
	"github.com/hugai-dev/hugai/internal/target/kubernetes"
	"github.com/hugai-dev/hugai/internal/target/local"
	"github.com/hugai-dev/hugai/internal/telemetry"
)

func (a *app) serverCmd() *cobra.Command {
	var files []string
	var dataDir string
	var kf kubeFlags
	var sn serverNet
	c := &cobra.Command{
		Use:   "server",
		Short: "Run hugai's server: the rollout engine, the local target and the API",
		Long: "server reads the service files it is given, keeps each service's stable version running behind\n" +
			"its proxy, runs every rollout, and serves the API on a unix socket in its data dir (.hugai/ in\n" +
			"the current directory by default). Killed and started again, it re-adopts its proxies and\n" +
			"processes and resumes every rollout. Stop it with `hugai server stop [--all]`.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return a.runServer(c.Context(), files, dataDir, &sn, kf) },
	}
	c.AddCommand(a.serverStopCmd())
	c.Flags().StringArrayVarP(&files, "file", "f", nil, "service file (repeatable; default: hugai.yaml, found walking up)")
	c.Flags().StringVar(&dataDir, "data-dir", "", "data dir (default: $HUGAI_DATA_DIR, else ./.hugai)")
	sn.addFlags(c)
	kf.add(c)
	return c
}

func (a *app) runServer(parent context.Context, files []string, dataDir string, sn *serverNet, kf kubeFlags) error {
	if dataDir == "" {
		dataDir = os.Getenv("HUGAI_DATA_DIR")
	}
	if dataDir == "" {
		dataDir = ".hugai"
	}
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		f, err := findServiceFile("")
		if err != nil {
			return err
		}
		files = []string{f}
	}
	var services []*engine.ServiceFile
	for _, f := range files {
		data, err := readInput(f)
		if err != nil {
			return err
		}
		svc, err := plan.ParseService(f, data)
		if err != nil {
			return badInput(err)
		}
		abs, _ := filepath.Abs(f)
		services = append(services, &engine.ServiceFile{Path: abs, Data: data, Service: svc})
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	unlock, err := lockDataDir(dataDir)
	if err != nil {
		return err
	}
	defer unlock()

	st, err := sqlite.Open(filepath.Join(dataDir, DatabaseFile))
	if err != nil {
		return err
	}
	defer st.Close()

	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(a.errOut, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	var mu sync.Mutex
	var targets []*local.Target
	newRuntime := func(rctx context.Context, sf *engine.ServiceFile, env *plan.Env) (*engine.Runtime, error) {
		if env.Target.Type == plan.TargetKubernetes {
			cfg, err := kf.restConfig()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", sf.Path, err)
			}
			c, err := kubernetes.NewClient(cfg)
			if err != nil {
				return nil, err
			}
			return kubeRuntime(ctx, sf, env, c, nil)
		}
		if env.Target.Type != plan.TargetLocal || env.Target.Local == nil {
			return nil, fmt.Errorf("%s: the %s target is not available yet (local is)", sf.Path, env.Target.Type)
		}
		opts, err := localOptions(sf, env, dataDir, exe, logf)
		if err != nil {
			return nil, err
		}
		t, err := local.New(ctx, opts)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		targets = append(targets, t)
		mu.Unlock()
		pc := proxy.NewClient(t.AdminSocket())
		usage := func(version string) (float64, int64, bool) {
			s, err := t.Status(ctx)
			if err != nil {
				return 0, 0, false
			}
			rs, ok := s.Revisions[version]
			return rs.CPUPercent, rs.MemoryBytes, ok
		}
		metrics, err := metricSource(sf.Service, env.Name, builtin.New(pc.Stats, usage))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sf.Path, err)
		}
		return &engine.Runtime{
			Target:           t,
			Metrics:          metrics,
			Check:            t.Check,
			SmokeTest:        smokeTester(sf, env, t.Run),
			DatabaseRollback: databaseRollback(sf, t.Run),
			Run:              commandRunner(sf, env, t.Run),
		}, nil
	}
	for _, sf := range services {
		// A named metric whose provider cannot be built would fail every window of a rollout:
		// refuse it before the server starts.
		if _, _, err := outsideMetrics(sf.Service); err != nil {
			return badInput(fmt.Errorf("%s: %w", sf.Path, err))
		}
	}
	notifiers := map[string]engine.Notifier{}
	for _, sf := range services {
		if len(sf.Service.Spec.Notifications) == 0 {
			continue
		}
		// ${VAR} in a channel is read from the environment when a message is sent, never stored.
		n, err := notify.FromConfig(sf.Service.Spec.Notifications, os.Getenv)
		if err != nil {
			return badInput(fmt.Errorf("%s: notifications: %w", sf.Path, err))
		}
		notifiers[sf.Service.Metadata.Name] = n
	}
	key, err := signingKey(dataDir)
	if err != nil {
		return err
	}
	metrics := telemetry.New(st)
	var eng *engine.Engine
	eng = engine.New(engine.Config{
		Store: st, Services: services, NewRuntime: newRuntime, Logf: logf, Notifiers: notifiers, Observer: metrics,
		Version: version, PID: os.Getpid(), DataDir: dataDir, Started: time.Now().UTC(),
		// Each finished rollout's statement is signed into the data dir (docs/governance.md).
		Finished: attestor(dataDir, key, func() *engine.Engine { return eng }, st, logf),
	})
	if err := eng.Recover(ctx); err != nil {
		return err
	}
	// Release runs drive the engine as `hugai deploy` does; unfinished ones resume in Run.
	releases := releaserun.New(releaserun.Config{Store: st, Rollouts: engine.ByName{Engine: eng}, Services: services, Logf: logf})

	stopAll := false
	ln, sock, err := server.ListenUnix(dataDir)
	if err != nil {
		return err
	}
	if sn.socketGroup != "" {
		if err := server.ShareSocket(dataDir, sock, sn.socketGroup); err != nil {
			ln.Close()
			return badInput(err)
		}
	}
	api, err := sn.guard(server.New(eng, server.Options{Logf: logf, Metrics: metrics.Handler(), Releases: releases, Shutdown: func(all bool) {
		mu.Lock()
		stopAll = all
		mu.Unlock()
		cancel()
	}}), eng, st, logf)
	if err != nil {
		ln.Close()
		return err
	}
	srv := server.HTTPServer(api)
	tcp, err := sn.serveTCP(api, dataDir, logf, cancel)
	if err != nil {
		ln.Close()
		return err
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("serve: %v", err)
			cancel()
		}
	}()
	var names []string
	for _, s := range services {
		names = append(names, s.Service.Metadata.Name)
	}
	fmt.Fprintf(a.out, "hugai server: serving %s on %s (data dir %s, pid %d)\n", strings.Join(names, ", "), sock, dataDir, os.Getpid())

	engineDone := make(chan struct{})
	go func() {
		defer close(engineDone)
		_ = eng.Run(ctx)
	}()
	releasesDone := make(chan struct{})
	go func() {
		defer close(releasesDone)
		if err := releases.Run(ctx); err != nil {
			logf("release runs: %v", err)
		}
	}()
	<-ctx.Done()

	<-releasesDone
	<-engineDone
	shutdownCtx, done := context.WithTimeout(context.Background(), 30*time.Second)
	defer done()
	mu.Lock()
	all := stopAll
	ts := targets
	mu.Unlock()
	for _, t := range ts {
		if all {
			if err := t.Shutdown(shutdownCtx); err != nil {
				logf("shutdown: %v", err)
			}
		} else {
			_ = t.Close()
		}
	}
	// The API goes last: a client that sees the socket gone knows everything above is done.
	for _, s := range tcp {
		_ = s.Shutdown(shutdownCtx)
	}
	_ = srv.Shutdown(shutdownCtx)
	if all {
		fmt.Fprintln(a.out, "hugai server: stopped, with its proxies and services")
	} else {
		fmt.Fprintln(a.out, "hugai server: stopped; proxies and services keep serving")
	}
	return nil
}

// localOptions fills the local target's options from a service environment. Relative paths are
// relative to the service file, not to where the server was started.
func localOptions(sf *engine.ServiceFile, env *plan.Env, dataDir, exe string, logf func(string, ...any)) (local.Options, error) {
	l := env.Target.Local
	workdir := l.Workdir
	if !filepath.IsAbs(workdir) {
		workdir = filepath.Join(filepath.Dir(sf.Path), workdir)
	}
	o := local.Options{
		Service: sf.Service.Metadata.Name, DataDir: filepath.Join(dataDir, "targets", sf.Service.Metadata.Name+"-"+env.Name),
		Command: l.Command, Workdir: workdir, Env: l.Env, Listen: l.Listen, Admin: l.Admin, Preview: l.Preview,
		UpstreamProtocol: l.UpstreamProtocol, ProxyCommand: []string{exe, "proxy"}, Logf: logf,
	}
	if l.GracePeriod != nil {
		o.GracePeriod = l.GracePeriod.Duration
	}
	if hr := l.HeaderRouting; hr != nil {
		o.RouteAllowFrom = hr.AllowFrom
		if hr.Secret != "" {
			// ${VAR} is read from the server's environment now; an empty one would turn header
			// routing off while the file says it is on.
			o.RouteSecret = os.ExpandEnv(hr.Secret)
			if o.RouteSecret == "" {
				return local.Options{}, fmt.Errorf("%s: target.local.headerRouting.secret %s is empty in the server's environment", sf.Path, hr.Secret)
			}
		}
	}
	for _, f := range []struct {
		in  string
		out *string
	}{{l.TLSCert, &o.TLSCert}, {l.TLSKey, &o.TLSKey}} {
		if f.in != "" && !filepath.IsAbs(f.in) {
			*f.out = filepath.Join(filepath.Dir(sf.Path), f.in)
		} else {
			*f.out = f.in
		}
	}
	if len(env.HealthChecks) > 0 {
		h := env.HealthChecks[0]
		o.Health = local.HealthCheck{Path: h.Path, FailureThreshold: h.FailureThreshold, SuccessThreshold: h.SuccessThreshold}
		if h.Interval != nil {
			o.Health.Interval = h.Interval.Duration
		}
		if h.Timeout != nil {
			o.Health.Timeout = h.Timeout.Duration
		}
	}
	return o, nil
}

// lockDataDir takes the data dir's lock: one engine per data dir. The lock dies with the process,
// so a server killed with -9 is replaced at once.
func lockDataDir(dir string) (func(), error) {
	path := filepath.Join(dir, "server.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		return nil, fmt.Errorf("another hugai server (pid %s) runs on %s", strings.TrimSpace(string(b)), dir)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = f.Truncate(0)
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// smokeTimeout bounds one smoke test: the verification step's max duration.
const smokeTimeout = 3 * time.Minute

// smokeTester runs hugai.yaml's smokeTest argv (no shell) in the service file's directory against
// the live address or, for a version not yet switched to, the preview address: the URL is in
// $HUGAI_URL and fills {{.URL}} in the arguments. Exit 0 passes.
func smokeTester(sf *engine.ServiceFile, env *plan.Env, run runner) func(ctx context.Context, preview bool) (bool, string) {
	argv := sf.Service.Spec.SmokeTest
	if len(argv) == 0 {
		return nil
	}
	l := env.Target.Local
	return func(ctx context.Context, preview bool) (bool, string) {
		url := "http://" + l.Listen
		if l.TLSCert != "" {
			url = "https://" + l.Listen // the users' address is TLS; the preview address is not
		}
		if preview && l.Preview != "" {
			url = "http://" + l.Preview
		}
		args := make([]string, len(argv))
		for i, a := range argv {
			var b strings.Builder
			if t, err := template.New("arg").Parse(a); err == nil && t.Execute(&b, map[string]string{"URL": url}) == nil {
				a = b.String()
			}
			args[i] = a
		}
		return run(ctx, "smoke-test", args, filepath.Dir(sf.Path), []string{"HUGAI_URL=" + url}, smokeTimeout)
	}
}

// databaseTimeout bounds the database rollback: the step's max duration in the seed's plan.
const databaseTimeout = 2 * time.Minute

// databaseRollback runs hugai.yaml's database.rollback argv (no shell) in the service file's
// directory.
func databaseRollback(sf *engine.ServiceFile, run runner) func(ctx context.Context) (bool, string) {
	db := sf.Service.Spec.Database
	if db == nil || len(db.Rollback) == 0 {
		return nil
	}
	return func(ctx context.Context) (bool, string) {
		return run(ctx, "database-rollback", db.Rollback, filepath.Dir(sf.Path), nil, databaseTimeout)
	}
}

// runner runs a user's command as the local target runs its processes (local.Target.Run): marked,
// in its own session, its output in the target's logs, so a server killed meanwhile leaves
// nothing running that the next one does not find.
type runner func(ctx context.Context, name string, argv []string, dir string, env []string, timeout time.Duration) (bool, string)

// runTimeout bounds a checkpoint's command or the database migration.
const runTimeout = 10 * time.Minute

// commandRunner runs the commands a rollout asks for before anything is deployed: an automated
// checkpoint's from hugai.yaml's spec.checkpoints, or database.migrate. They run through the
// target (marked, logged as run-NAME) in the service file's directory, with $HUGAI_URL set to the
// service's address.
func commandRunner(sf *engine.ServiceFile, env *plan.Env, run runner) func(ctx context.Context, name string) (bool, string) {
	return func(ctx context.Context, name string) (bool, string) {
		argv := sf.Service.Spec.Checkpoints[name]
		if name == rollout.RunMigrate && sf.Service.Spec.Database != nil {
			argv = sf.Service.Spec.Database.Migrate
		}
		if len(argv) == 0 {
			return false, fmt.Sprintf("%s has no command for %s", sf.Path, name)
		}
		var envv []string
		if l := env.Target.Local; l != nil {
			envv = append(envv, "HUGAI_URL=http://"+l.Listen)
		}
		return run(ctx, name, argv, filepath.Dir(sf.Path), envv, runTimeout)
	}
}
