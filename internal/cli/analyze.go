package cli

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/analysis/backtest"
)

// analyzeCmd groups the commands that need no rollout: pre-flight checks of what is about to ship,
// what hugai measures, and how it judges.
func (a *app) analyzeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "analyze",
		Short: "Check what is about to ship, what hugai measures and how it judges, without a rollout",
		Args:  cobra.NoArgs,
	}
	c.AddCommand(a.analyzeDockerCmd(), a.analyzeMetricsCmd(), a.backtestCmd(), a.replayCmd(), a.analyzeDeploymentCmd())
	return c
}

type backtestFlags struct {
	rps                         float64
	weight, errorRate, driftTo  string
	errorEffects, latencyEffect []string
	latency                     bool
	duration, look, window      time.Duration
	alpha                       float64
	runs                        int
	seed                        uint64
	output                      string
}

func (a *app) backtestCmd() *cobra.Command {
	var f backtestFlags
	c := &cobra.Command{
		Use:   "backtest",
		Short: "Simulate canaries and compare hugai's sequential test with a threshold rule",
		Long: `backtest simulates canaries (A/A: the candidate is like the baseline; A/B: it regresses) and
reports, for hugai's sequential test and for a per-window threshold rule tuned on A/A runs to the
same false-alarm rate: the share of runs rolled back (with its Wilson 95% interval), the seconds of
canary traffic to the rollback (median, p90; a miss counts as never) and the misses within the
horizon. One scenario per --error-effect and per --latency-effect; 1 is the A/A run.

Without --latency a third row, known-rate, is a reference and not a judge: the sequential test's
error bets told the baseline's true error rate of each second instead of measuring it. The gap
between it and the sequential row is what measuring the baseline (and so staying valid when it
drifts) costs.`,
		Example: `  hugai analyze backtest --runs 10000
  hugai analyze backtest --error-effect 1,2,4,10 --drift-to 1% -o json
  hugai analyze backtest --latency-effect 50% --runs 2000`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			scenarios, err := f.scenarios()
			if err != nil {
				return badInput(err)
			}
			reports := make([]backtest.Report, 0, len(scenarios))
			for _, s := range scenarios {
				if err := c.Context().Err(); err != nil {
					return err
				}
				r, err := backtest.Run(s)
				if err != nil {
					return fmt.Errorf("backtest: %w", err)
				}
				reports = append(reports, r)
			}
			return a.print(f.output, reports, func(w io.Writer) error { return backtestTable(w, reports) })
		},
	}
	fl := c.Flags()
	fl.Float64Var(&f.rps, "rps", 100, "requests per second, both versions together")
	fl.StringVar(&f.weight, "weight", "5%", "the canary's share of traffic")
	fl.StringVar(&f.errorRate, "error-rate", "0.5%", "the baseline's error rate when the canary starts")
	fl.StringVar(&f.driftTo, "drift-to", "", "both versions' error rate at the end of the rollout (linear drift; default none)")
	fl.StringSliceVar(&f.errorEffects, "error-effect", []string{"1", "2", "4", "10"}, "the canary's error rate as a multiple of the baseline's (1: A/A); a list runs one scenario each")
	fl.StringSliceVar(&f.latencyEffect, "latency-effect", nil, "the canary's p95 rise, e.g. 50%; a list runs one scenario each (implies --latency)")
	fl.BoolVar(&f.latency, "latency", false, "judge latency too (α is then split evenly between the two tests)")
	fl.DurationVar(&f.duration, "duration", 10*time.Minute, "seconds of canary traffic in a rollout: the horizon")
	fl.DurationVar(&f.look, "look", time.Second, "time between looks of the sequential test")
	fl.DurationVar(&f.window, "window", 10*time.Second, "the threshold rule's window")
	fl.Float64Var(&f.alpha, "alpha", analysis.DefaultAlpha, "false-rollback rate allowed over a whole rollout")
	fl.IntVar(&f.runs, "runs", 1000, "simulated rollouts per scenario")
	fl.Uint64Var(&f.seed, "seed", 1, "random seed: the same seed gives the same report")
	fl.StringVarP(&f.output, "output", "o", "table", "output format: table|json")
	return c
}

// scenarios validates the flags and returns the scenarios they name; an error names its flag.
func (f backtestFlags) scenarios() ([]backtest.Scenario, error) {
	if f.output != "table" && f.output != "json" {
		return nil, fmt.Errorf("--output %q: want table or json", f.output)
	}
	base := backtest.Scenario{RPS: f.rps, Alpha: f.alpha, Runs: f.runs, Seed: f.seed, Latency: f.latency || len(f.latencyEffect) > 0}
	var err error
	if base.Weight, err = percentFlag("weight", f.weight); err != nil {
		return nil, err
	}
	if base.ErrorRate, err = percentFlag("error-rate", f.errorRate); err != nil {
		return nil, err
	}
	if f.driftTo != "" {
		if base.DriftTo, err = percentFlag("drift-to", f.driftTo); err != nil {
			return nil, err
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		to   *int
	}{{"duration", f.duration, &base.Duration}, {"look", f.look, &base.Look}, {"window", f.window, &base.Window}} {
		if d.v <= 0 || d.v%time.Second != 0 {
			return nil, fmt.Errorf("--%s %v: want a positive whole number of seconds", d.name, d.v)
		}
		*d.to = int(d.v / time.Second)
	}
	var out []backtest.Scenario
	for _, e := range f.errorEffects {
		v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(e), "x"), 64)
		if err != nil {
			return nil, fmt.Errorf("--error-effect %q: want a multiple such as 4 or 4x", e)
		}
		s := base
		s.ErrorEffect = v
		out = append(out, s)
	}
	for _, e := range f.latencyEffect {
		v, err := percentFlag("latency-effect", e)
		if err != nil {
			return nil, err
		}
		s := base
		s.ErrorEffect, s.LatencyEffect = 1, v
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("--error-effect: name at least one effect")
	}
	for _, s := range out {
		if err := s.Check(); err != nil {
			return nil, fmt.Errorf("--%s", err) // Check names the field as its flag
		}
	}
	return out, nil
}

func percentFlag(name, v string) (float64, error) {
	x, err := analysis.ParsePercent(v)
	if err != nil {
		return 0, fmt.Errorf("--%s %w", name, err)
	}
	return x, nil
}

func backtestTable(w io.Writer, reports []backtest.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tMETHOD\tROLLED BACK\t95% CI\tMEDIAN\tP90\tMISSED\tRULE")
	for _, r := range reports {
		s := r.Scenario
		name := fmt.Sprintf("errors %gx", s.ErrorEffect)
		if s.LatencyEffect > 0 {
			name = fmt.Sprintf("p95 +%g%%", s.LatencyEffect*100)
		}
		if s.DriftTo > 0 {
			name += fmt.Sprintf(", drift %g%%→%g%%", s.ErrorRate*100, s.DriftTo*100)
		}
		methods := []backtest.Method{r.Sequential, r.Threshold}
		if r.KnownRate != nil {
			methods = append(methods, *r.KnownRate)
		}
		for _, m := range methods {
			fmt.Fprintf(tw, "%s\t%s\t%d/%d (%.2f%%)\t%.2f–%.2f%%\t%s\t%s\t%d\t%s\n", name, m.Name, m.Alarms, m.Runs,
				m.AlarmRate*100, m.AlarmLow*100, m.AlarmHigh*100, seconds(m.DetectMedian), seconds(m.DetectP90), m.Misses, m.Rule)
		}
	}
	if len(reports) > 0 {
		s := reports[0].Scenario
		fmt.Fprintf(tw, "\n%g req/s, canary %g%%, baseline errors %g%%, α %g, %ds horizon, looks every %ds, %d runs, seed %d\n",
			s.RPS, s.Weight*100, s.ErrorRate*100, s.Alpha, s.Duration, s.Look, s.Runs, s.Seed)
	}
	return tw.Flush()
}

func seconds(v *float64) string {
	if v == nil {
		return "never"
	}
	return fmt.Sprintf("%gs", *v)
}
