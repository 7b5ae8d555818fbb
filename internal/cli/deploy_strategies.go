package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/plan"
)

// adhocFlags are what every ad-hoc strategy command shares with `deploy canary`.
type adhocFlags struct {
	run                                 runFlags
	file, env, version, successCriteria string
}

func addAdhocFlags(c *cobra.Command, f *adhocFlags) {
	addRunFlags(c, &f.run)
	fl := c.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "service file (default: hugai.yaml, found walking up)")
	fl.StringVarP(&f.env, "environment", "e", "", "environment to deploy to (default: the only one the service has)")
	fl.StringVar(&f.version, "version", "", "version to deploy (default: the tag at HEAD, else its short hash)")
	fl.StringVar(&f.successCriteria, "success-criteria", "", "what the new version must meet (default: the environment's)")
}

// plan plans the rollout for strategy, lets adjust change the strategy's block, and asks to start it.
func (f *adhocFlags) plan(ctx context.Context, strategy, source string, adjust func(*plan.DeploymentPlan, *plan.Env) error) (api.StartRequest, error) {
	if f.successCriteria != "" {
		if _, err := criteria.Parse(f.successCriteria, criteria.AnyMetric()); err != nil {
			return api.StartRequest{}, badInput(fmt.Errorf("--success-criteria %q: %w", f.successCriteria, err))
		}
	}
	p, svc, env, err := adhocPlan(ctx, f.file, f.env, f.version, strategy)
	if err != nil {
		return api.StartRequest{}, err
	}
	if f.successCriteria != "" {
		p.Spec.SuccessCriteria = f.successCriteria
	}
	if err := adjust(p, env); err != nil {
		return api.StartRequest{}, err
	}
	return startRequest(p, svc, source)
}

func (a *app) runAdhoc(c *cobra.Command, f *adhocFlags, build func(ctx context.Context) (api.StartRequest, error)) error {
	req, err := build(c.Context())
	if err != nil {
		return err
	}
	if err := f.run.request(c, &req); err != nil {
		return err
	}
	return a.startAndFollow(c.Context(), &f.run, req)
}

func durationFlag(name, v string) (*plan.Duration, error) {
	if v == "" {
		return nil, nil
	}
	d, err := plan.ParseDuration(v)
	if err != nil || d.Duration <= 0 {
		return nil, badInput(fmt.Errorf("--%s %q: want a positive duration such as 30s or 10m", name, v))
	}
	return &d, nil
}

func (a *app) deployBlueGreenCmd() *cobra.Command {
	f := &adhocFlags{}
	var switchMode, switchSteps, validation, scaleDown string
	var manual bool
	c := &cobra.Command{
		Use:   "blue-green --version V",
		Short: "Plan and run a blue-green deployment in one go",
		Long: "blue-green starts the new version (green) beside the running one (blue), reachable only on the\n" +
			"preview address (hugai.yaml target.local.preview, or X-Hugai-Route: preview); judges it by its\n" +
			"health checks and the smoke test; switches traffic to it (instant, or gradual in steps); judges\n" +
			"it on real traffic for the validation period and switches back to blue at once if it fails.\n" +
			"Blue is kept for the scale-down delay, then stopped.",
		Example: "  hugai deploy blue-green --environment production --version v2 --switch-strategy gradual \\\n" +
			"    --validation-period 10m --auto-switch-back-on-failure",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return a.runAdhoc(c, f, func(ctx context.Context) (api.StartRequest, error) {
				if switchMode != plan.SwitchInstant && switchMode != plan.SwitchGradual {
					return api.StartRequest{}, badInput(fmt.Errorf("--switch-strategy %q: want instant or gradual", switchMode))
				}
				var steps []int
				if switchSteps != "" {
					ws, err := parseSplit(switchSteps)
					if err != nil {
						return api.StartRequest{}, badInput(fmt.Errorf("--switch-steps %q: %w", switchSteps, err))
					}
					steps = ws
				}
				vp, err := durationFlag("validation-period", validation)
				if err != nil {
					return api.StartRequest{}, err
				}
				sd, err := durationFlag("scale-down-delay", scaleDown)
				if err != nil {
					return api.StartRequest{}, err
				}
				return f.plan(ctx, plan.StrategyBlueGreen, "deploy blue-green", func(p *plan.DeploymentPlan, _ *plan.Env) error {
					bg := p.Spec.Strategy.BlueGreen
					if bg == nil {
						return errors.New("planner made no blue-green strategy (a bug in hugai)")
					}
					bg.Switch, bg.SwitchSteps = switchMode, steps
					if vp != nil {
						bg.ValidationPeriod = vp
					}
					if sd != nil {
						bg.ScaleDownDelay = sd
					}
					auto := !manual
					bg.AutoPromotion = &auto
					back := !f.run.noAutoRollback && f.run.autoRollback
					bg.AutoSwitchBack = &back
					return nil
				})
			})
		},
	}
	addAdhocFlags(c, f)
	fl := c.Flags()
	fl.StringVar(&switchMode, "switch-strategy", plan.SwitchInstant, "instant: all traffic at once; gradual: in --switch-steps")
	fl.StringVar(&switchSteps, "switch-steps", "", "weights of a gradual switch, e.g. 25,50,100 (default 25,50,100)")
	fl.StringVar(&validation, "validation-period", "", "how long green is judged on real traffic after the switch (default 4× the analysis interval)")
	fl.StringVar(&scaleDown, "scale-down-delay", "", "how long blue is kept after the switch (default 30s)")
	fl.BoolVar(&manual, "manual-promotion", false, "wait for 'hugai deploy promote' before the switch")
	// The seed's name for automatic rollback in a blue-green: it switches back to blue.
	fl.BoolVar(&f.run.autoRollback, "auto-switch-back-on-failure", true, "switch back to blue by itself when green fails (the default)")
	return c
}

func (a *app) deployRollingCmd() *cobra.Command {
	f := &adhocFlags{}
	var surge, unavailable string
	c := &cobra.Command{
		Use:   "rolling --version V",
		Short: "Plan and run a rolling update in one go",
		Long: "rolling replaces the running version's replicas in batches (--max-surge new ones started, as many\n" +
			"old ones stopped once they are ready, never below --max-unavailable), judging each batch on real\n" +
			"traffic before the next; a failure brings the old replicas back.",
		Example: "  hugai deploy rolling --environment production --version v2 --max-surge 1 --max-unavailable 0",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return a.runAdhoc(c, f, func(ctx context.Context) (api.StartRequest, error) {
				return f.plan(ctx, plan.StrategyRolling, "deploy rolling", func(p *plan.DeploymentPlan, _ *plan.Env) error {
					r := p.Spec.Strategy.Rolling
					if r == nil {
						return errors.New("planner made no rolling strategy (a bug in hugai)")
					}
					for _, fl := range []struct {
						name, v string
						dst     **plan.IntOrPercent
					}{{"max-surge", surge, &r.MaxSurge}, {"max-unavailable", unavailable, &r.MaxUnavailable}} {
						if fl.v == "" {
							continue
						}
						var v plan.IntOrPercent
						if err := v.UnmarshalJSON([]byte(fl.v)); err != nil {
							return badInput(fmt.Errorf("--%s: %w", fl.name, err))
						}
						*fl.dst = &v
					}
					if r.MaxSurge.Value == 0 && r.MaxUnavailable.Value == 0 {
						return badInput(errors.New("--max-surge and --max-unavailable cannot both be 0"))
					}
					return nil
				})
			})
		},
	}
	addAdhocFlags(c, f)
	c.Flags().StringVar(&surge, "max-surge", "", "new replicas started at once, a count or a share (default 1)")
	c.Flags().StringVar(&unavailable, "max-unavailable", "", "replicas that may be missing at once, a count or a share (default 0)")
	return c
}

func (a *app) deployRecreateCmd() *cobra.Command {
	f := &adhocFlags{}
	var hold string
	c := &cobra.Command{
		Use:   "recreate --version V",
		Short: "Plan and run a recreate deployment in one go",
		Long: "recreate stops the running version, then starts the new one; meanwhile hugai's proxy holds\n" +
			"incoming requests (up to --hold-timeout) so a quick restart loses none. A new version that does\n" +
			"not come up is replaced by the old one again.",
		Example: "  hugai deploy recreate --environment staging --version v2 --hold-timeout 30s",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return a.runAdhoc(c, f, func(ctx context.Context) (api.StartRequest, error) {
				ht, err := durationFlag("hold-timeout", hold)
				if err != nil {
					return api.StartRequest{}, err
				}
				return f.plan(ctx, plan.StrategyRecreate, "deploy recreate", func(p *plan.DeploymentPlan, _ *plan.Env) error {
					if p.Spec.Strategy.Recreate == nil {
						return errors.New("planner made no recreate strategy (a bug in hugai)")
					}
					if ht != nil {
						p.Spec.Strategy.Recreate.HoldTimeout = ht
					}
					return nil
				})
			})
		},
	}
	addAdhocFlags(c, f)
	c.Flags().StringVar(&hold, "hold-timeout", "", "how long the proxy holds requests while no version is ready (default 30s)")
	return c
}
