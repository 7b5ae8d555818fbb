package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/analysis/backtest"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
)

func (a *app) replayCmd() *cobra.Command {
	var dataDir, service, env, rule, output string
	var alpha float64
	var minimum int64
	c := &cobra.Command{
		Use:   "replay",
		Short: "Replay the finished rollouts of the store through the sequential test and a per-window rule",
		Long: `replay reads the seconds each finished rollout's judge read (both versions' requests, errors
and latency counts, kept in the audit trail with each look of a sequential analysis) and decides
each again, side by side: hugai's sequential test (both tests at --alpha/2, looked at as the
rollout did) and a per-window threshold rule (--window-rule over each look alone, on at least
--minimum-samples requests). It prints, per rollout, how it ended and the seconds of canary
traffic until each method would have rolled it back; then how many each rolled back. Rollouts
judged without method: sequential recorded no seconds and are left out.`,
		Example: `  hugai analyze replay --service demo --environment production
  hugai analyze replay --window-rule "error_rate<2%" -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return badInput(fmt.Errorf("--output %q: want table or json", output))
			}
			conds, err := criteria.Parse(rule)
			if err != nil || len(conds) != 1 || conds[0].Metric != "error_rate" || (conds[0].Op != criteria.Less && conds[0].Op != criteria.LessEqual) {
				return badInput(fmt.Errorf("--window-rule %q: want one error-rate limit such as error_rate<1%%", rule))
			}
			if minimum < 0 {
				return badInput(fmt.Errorf("--minimum-samples %d: must not be negative", minimum))
			}
			cfg := analysis.DefaultConfig()
			cfg.Alpha = alpha
			if err := cfg.Validate(); err != nil {
				return badInput(fmt.Errorf("--alpha: %w", err))
			}
			st, err := openStoreIn(dataDir)
			if err != nil {
				return badInput(err)
			}
			defer st.Close()
			recs, err := recordedRollouts(c.Context(), st, service, env)
			if err != nil {
				return err
			}
			out, err := backtest.Replay(recs, cfg, backtest.WindowRule{ErrorRate: conds[0].Value / 100, MinimumSamples: minimum})
			if err != nil {
				return fmt.Errorf("replay: %w", err)
			}
			return a.print(output, out, func(w io.Writer) error { return replayTable(w, out, rule) })
		},
	}
	fl := c.Flags()
	fl.StringVar(&dataDir, "data-dir", "", "the server's data dir (default: .hugai beside hugai.yaml, found walking up)")
	fl.StringVar(&service, "service", "", "only this service's rollouts")
	fl.StringVarP(&env, "environment", "e", "", "only this environment's rollouts")
	fl.StringVar(&rule, "window-rule", "error_rate<1%", "the per-window rule to compare with")
	fl.Int64Var(&minimum, "minimum-samples", 20, "requests a look needs for the window rule to judge it")
	fl.Float64Var(&alpha, "alpha", analysis.DefaultAlpha, "the sequential test's false-rollback rate")
	fl.StringVarP(&output, "output", "o", "table", "output format: table|json")
	return c
}

// recordedRollouts reads the finished rollouts' looks from their audit events, oldest first.
func recordedRollouts(ctx context.Context, st store.Store, service, env string) ([]backtest.Recorded, error) {
	rs, err := st.Rollouts(ctx, store.Filter{Service: service, Environment: env})
	if err != nil {
		return nil, err
	}
	var out []backtest.Recorded
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i]
		if !rollout.Phase(r.Phase).Terminal() {
			continue
		}
		evs, err := st.Events(ctx, store.EventFilter{Subject: "rollout/" + r.ID})
		if err != nil {
			return nil, err
		}
		rec := backtest.Recorded{ID: r.ID, Outcome: r.Phase}
		if r.Reason != "" {
			rec.Outcome += " (" + r.Reason + ")"
		}
		for _, ev := range evs {
			if ev.Type != "rollout.analysis" {
				continue
			}
			var p struct {
				Seconds [][9]int64 `json:"seconds"`
			}
			if err := json.Unmarshal(ev.Payload, &p); err != nil {
				return nil, fmt.Errorf("rollout %s event %d: %w", r.ID, ev.Seq, err)
			}
			if len(p.Seconds) == 0 {
				continue
			}
			var look backtest.RecordedLook
			for _, s := range p.Seconds {
				w, l := rollout.ReplaySecond(s)
				look.Errors = append(look.Errors, w)
				look.Latency = append(look.Latency, l)
			}
			rec.Looks = append(rec.Looks, look)
		}
		if len(rec.Looks) > 0 {
			out = append(out, rec)
		}
	}
	return out, nil
}

func replayTable(w io.Writer, out []backtest.Replayed, rule string) error {
	if len(out) == 0 {
		_, err := fmt.Fprintln(w, "no finished rollout recorded its seconds (only method: sequential does)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ROLLOUT\tENDED\tSECONDS\tCANARY REQUESTS\tSEQUENTIAL\tWINDOW RULE (%s)\n", rule)
	at := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("rolled back at %gs", *v)
	}
	var seq, thr int
	for _, o := range out {
		if o.Sequential != nil {
			seq++
		}
		if o.Threshold != nil {
			thr++
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", o.ID, o.Outcome, o.Seconds, o.CanaryRequests, at(o.Sequential), at(o.Threshold))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d rollouts: the sequential test rolls back %d, the window rule %d\n", len(out), seq, thr)
	return err
}
