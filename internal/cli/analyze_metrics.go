package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/metric"
	"github.com/hugai-dev/hugai/internal/metric/builtin"
	"github.com/hugai-dev/hugai/internal/proxy"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/sqlite"
)

type analyzeMetricsFlags struct {
	file, environment, dataDir, output string
	metrics, versions                  []string
	window                             time.Duration
}

// analyzeMetricsCmd is a dry run for the authors of metric templates: each metric read once, for
// each current version, as a rollout's window would read it.
func (a *app) analyzeMetricsCmd() *cobra.Command {
	var f analyzeMetricsFlags
	c := &cobra.Command{
		Use:   "metrics --environment E [--metric M] [--version V]",
		Short: "Read each metric once per version, as a rollout would: a dry run for metric templates",
		Long: "analyze metrics reads the service file's named metrics (spec.metrics; with --metric, the ones named,\n" +
			"builtin ones too) over the last window (--window, default the environment's analysis interval)\n" +
			"for each version: those given with --version, else the environment's current ones from the\n" +
			"server's store (the stable release and a live rollout's candidate). It prints each value as the\n" +
			"judge would see it: a number, no value (no data: never a pass), or the query's error. Builtin\n" +
			"metrics and request counts come from the environment's proxy when a server runs it.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return a.analyzeMetrics(c.Context(), f) },
	}
	fl := c.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "service file (default: hugai.yaml, found walking up)")
	fl.StringVar(&f.environment, "environment", "", "the environment whose versions are measured (required)")
	fl.StringArrayVar(&f.metrics, "metric", nil, "a metric to read (repeatable; default: every named metric of spec.metrics)")
	fl.StringArrayVar(&f.versions, "version", nil, "a version to read (repeatable; default: the environment's current versions)")
	fl.DurationVar(&f.window, "window", 0, "the window read, ending now (default: the environment's analysis interval)")
	fl.StringVar(&f.dataDir, "data-dir", "", "the server's data dir (default: $HUGAI_DATA_DIR, else the nearest .hugai/ from the service file)")
	addOutputFlag(c, &f.output)
	_ = c.MarkFlagRequired("environment")
	return c
}

// metricReading is one metric of one version, as printed.
type metricReading struct {
	Metric   string   `json:"metric"`
	Provider string   `json:"provider"`
	Version  string   `json:"version"`
	Value    *float64 `json:"value,omitempty"` // nil: no value
	Display  string   `json:"display,omitempty"`
	Samples  *uint64  `json:"samples,omitempty"` // the version's requests in the window; nil: unknown
	Error    string   `json:"error,omitempty"`
}

type metricsReport struct {
	Service     string          `json:"service"`
	Environment string          `json:"environment"`
	From        time.Time       `json:"from"`
	To          time.Time       `json:"to"`
	Readings    []metricReading `json:"readings"`
}

func (a *app) analyzeMetrics(ctx context.Context, f analyzeMetricsFlags) error {
	path, svc, err := loadServiceFile(f.file)
	if err != nil {
		return err
	}
	env, err := svc.Env(f.environment)
	if err != nil {
		return badInput(err)
	}
	outside, routes, err := outsideMetrics(svc)
	if err != nil {
		return badInput(fmt.Errorf("%s: %w", path, err))
	}
	metrics := f.metrics
	if len(metrics) == 0 {
		for _, m := range svc.Spec.Metrics {
			if _, ok := routes[m.Name]; ok {
				metrics = append(metrics, m.Name)
			}
		}
		if len(metrics) == 0 {
			return badInput(fmt.Errorf("%s declares no metric of its own (spec.metrics): name one with --metric, e.g. --metric error_rate", path))
		}
	}
	for _, m := range metrics {
		if _, ok := routes[m]; ok {
			continue
		}
		if why := svc.Unmeasurable(m, env.Target.Type); why != "" {
			return badInput(errors.New(why))
		}
	}

	abs, _ := filepath.Abs(path)
	dataDir, _ := findDataDirFrom(f.dataDir, os.Getenv("HUGAI_DATA_DIR"), filepath.Dir(abs))
	versions := f.versions
	if len(versions) == 0 {
		if versions, err = currentVersions(ctx, dataDir, svc.Metadata.Name, env.Name); err != nil {
			return err
		}
		if len(versions) == 0 {
			return badInput(fmt.Errorf("no current version of %s in %s (no server store with a release in %s): pass --version", svc.Metadata.Name, env.Name, dataDir))
		}
	}

	// Builtin reads the environment's proxy, when a server has one running.
	var bsrc metric.Provider
	if sock := proxySocket(dataDir, svc.Metadata.Name, env.Name); sock != "" {
		pc := proxy.NewClient(sock)
		defer pc.CloseIdleConnections()
		bsrc = builtin.New(pc.Stats, nil)
	}
	window := f.window
	if window <= 0 {
		window = env.AnalysisInterval
	}
	to := time.Now()
	rep := metricsReport{Service: svc.Metadata.Name, Environment: env.Name, From: to.Add(-window), To: to}
	for _, m := range metrics {
		name := routes[m]
		if name == "" {
			name = metric.Builtin
		}
		for _, v := range versions {
			q := metric.Query{Service: svc.Metadata.Name, Version: v, Environment: env.Name, Metric: m, From: rep.From, To: rep.To}
			r := metricReading{Metric: m, Provider: name, Version: v}
			var val analysis.Value
			var qerr error
			switch p := outside[name]; {
			case p != nil:
				val, qerr = p.Query(ctx, q)
			case bsrc != nil:
				val, qerr = bsrc.Query(ctx, q)
			default:
				qerr = fmt.Errorf("builtin reads the proxy of %s in %s: no server runs it from %s", svc.Metadata.Name, env.Name, dataDir)
			}
			switch {
			case qerr != nil:
				r.Error = qerr.Error()
			case val.Err != "":
				r.Error = val.Err
			case !math.IsNaN(val.Value) && !math.IsInf(val.Value, 0):
				x := val.Value
				r.Value = &x
				kind, _ := criteria.MetricKind(criteria.Canonical(m))
				r.Display = criteria.FormatValue(kind, x)
			}
			if name == metric.Builtin && qerr == nil && val.Err == "" {
				n := val.Samples
				r.Samples = &n
			} else if bsrc != nil {
				cq := q
				cq.Metric = "request_rate"
				if c, err := bsrc.Query(ctx, cq); err == nil && c.Err == "" {
					n := c.Samples
					r.Samples = &n
				}
			}
			rep.Readings = append(rep.Readings, r)
		}
	}
	return a.print(f.output, rep, func(w io.Writer) error {
		fmt.Fprintf(w, "%s in %s, %s to %s (%s)\n", rep.Service, rep.Environment, rep.From.Format(time.TimeOnly), rep.To.Format(time.TimeOnly), metric.PromDuration(window))
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "METRIC\tPROVIDER\tVERSION\tREQUESTS\tVALUE")
		for _, r := range rep.Readings {
			value := r.Display
			switch {
			case r.Error != "":
				value = "error: " + r.Error
			case r.Value == nil:
				value = "no value (no data: never a pass)"
			}
			samples := "-"
			if r.Samples != nil {
				samples = strconv.FormatUint(*r.Samples, 10)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Metric, r.Provider, r.Version, samples, value)
		}
		return tw.Flush()
	})
}

// currentVersions are the versions live in a service environment according to the server's store:
// the current release, then a live rollout's candidate. No store is no versions, not an error.
func currentVersions(ctx context.Context, dataDir, service, env string) ([]string, error) {
	if dataDir == "" {
		return nil, nil
	}
	path := filepath.Join(dataDir, DatabaseFile)
	if _, err := os.Stat(path); err != nil {
		return nil, nil
	}
	st, err := sqlite.Open(path)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var out []string
	rels, err := st.Releases(ctx, service, env, 1)
	if err != nil {
		return nil, err
	}
	if len(rels) > 0 {
		out = append(out, rels[0].Version)
	}
	live, err := st.Rollouts(ctx, store.Filter{Service: service, Environment: env, Active: true, Limit: 1})
	if err != nil {
		return nil, err
	}
	for _, r := range live {
		if !slices.Contains(out, r.Version) {
			out = append(out, r.Version)
		}
	}
	return out, nil
}

// proxySocket is the admin socket of a service environment's proxy under the server's data dir,
// or "" when there is none. The layout is the local target's (server.go's localOptions puts it in
// targets/<service>-<env>/; local records the socket's path in run/<service>/admin-socket).
func proxySocket(dataDir, service, env string) string {
	if dataDir == "" {
		return ""
	}
	run := filepath.Join(dataDir, "targets", service+"-"+env, "run", service)
	sock := filepath.Join(run, "proxy.sock")
	if b, err := os.ReadFile(filepath.Join(run, "admin-socket")); err == nil && strings.TrimSpace(string(b)) != "" {
		sock = strings.TrimSpace(string(b))
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		return ""
	}
	return sock
}
