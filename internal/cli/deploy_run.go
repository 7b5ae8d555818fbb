package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/planner"
)

// runFlags are what every command that starts a rollout shares.
type runFlags struct {
	server         string
	detach         bool
	noAutoRollback bool
	// autoRollback is the seed's --auto-rollback-on-failure: it confirms the default.
	autoRollback    bool
	requireApproval bool
	overrideFreeze  string
}

func addRunFlags(c *cobra.Command, f *runFlags) {
	addServerFlag(c, &f.server)
	fl := c.Flags()
	fl.BoolVar(&f.detach, "detach", false, "print the rollout's ID and exit 0 instead of following it")
	fl.BoolVar(&f.noAutoRollback, "no-auto-rollback", false, "do not roll back by itself when the analysis fails")
	fl.BoolVar(&f.autoRollback, "auto-rollback-on-failure", true, "roll back by itself when the analysis fails (the default)")
	fl.BoolVar(&f.requireApproval, "require-approval", false, "wait for an approval before the first step, whatever the policy says")
	fl.StringVar(&f.overrideFreeze, "override-freeze", "", "start inside a freeze window: an admin's `REASON`, recorded in the audit log")
}

// request fills what the run flags say into req; contradicting flags are bad input.
func (f *runFlags) request(c *cobra.Command, req *api.StartRequest) error {
	if f.noAutoRollback && c.Flags().Changed("auto-rollback-on-failure") && f.autoRollback {
		return badInput(errors.New("--no-auto-rollback and --auto-rollback-on-failure contradict each other"))
	}
	req.NoAutoRollback = f.noAutoRollback || !f.autoRollback
	req.RequireApproval = f.requireApproval
	req.OverrideFreeze = f.overrideFreeze
	return nil
}

// startAndFollow starts the rollout, prints its ID on the first line, and follows it unless
// detached.
func (a *app) startAndFollow(ctx context.Context, f *runFlags, req api.StartRequest) error {
	cl, err := connect(f.server)
	if err != nil {
		return err
	}
	defer cl.Close()
	r, err := cl.Start(ctx, req)
	if err != nil {
		return apiErr(err)
	}
	fmt.Fprintln(a.out, r.ID)
	if f.detach {
		return nil
	}
	return a.followToEnd(ctx, cl, r)
}

type executeFlags struct {
	run                         runFlags
	plan, version, env, service string
	monitorHealth               bool
}

func (a *app) deployExecuteCmd() *cobra.Command {
	f := &executeFlags{}
	c := &cobra.Command{
		Use:   "execute --plan FILE",
		Short: "Run a reviewed DeploymentPlan (or a HugAIDeployment)",
		Long: "execute checks the plan, starts it on the server and follows it: the rollout's ID on the first\n" +
			"line, then its progress; the exit code is its result (0 Succeeded, 3 RolledBack, 4 Aborted,\n" +
			"1 Failed, 2 bad input). --detach prints the ID and exits.\n\n" +
			"FILE holds a DeploymentPlan or a HugAIDeployment (its rollout steps run as a canary's). The\n" +
			"environment is --environment, else the file's spec.environment, else a HugAIDeployment's\n" +
			"metadata.namespace. Everything the plan names is checked against the server's service file\n" +
			"first: a metric no provider measures, an automated checkpoint hugai cannot run or an alerting\n" +
			"channel the service file lacks is refused (exit 2) before anything starts.\n\n" +
			"Flags that confirm the plan (--auto-rollback-on-failure, --monitor-health) change nothing;\n" +
			"--no-auto-rollback and --monitor-health=false override it, and the live view says so.",
		Example: "  hugai deploy execute --plan deployment-plan.yaml --require-approval --monitor-health --auto-rollback-on-failure",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			req, err := f.request(c)
			if err != nil {
				return err
			}
			return a.startAndFollow(c.Context(), &f.run, req)
		},
	}
	addRunFlags(c, &f.run)
	fl := c.Flags()
	fl.StringVar(&f.plan, "plan", "", "the DeploymentPlan file (from 'hugai deploy plan')")
	fl.StringVar(&f.version, "version", "", "version to deploy, when the plan names none")
	fl.StringVarP(&f.env, "environment", "e", "", "environment, when the plan names none")
	fl.StringVar(&f.service, "service", "", "service, when the plan names none")
	fl.BoolVar(&f.monitorHealth, "monitor-health", true, "watch the new version after promotion as the plan's spec.monitoring says (=false: no watch, overriding the plan)")
	return c
}

// request checks the plan as execute will run it: a plan that does not validate, or that names
// analysis templates nobody defines, is refused here, before anything starts.
func (f *executeFlags) request(c *cobra.Command) (api.StartRequest, error) {
	var req api.StartRequest
	if f.plan == "" {
		return req, badInput(errors.New("--plan FILE is required (write one with 'hugai deploy plan')"))
	}
	data, err := readInput(f.plan)
	if err != nil {
		return req, err
	}
	run, err := plan.ParseRun(f.plan, data)
	if err != nil {
		return req, badInput(err)
	}
	p := run.Plan
	if unknown := p.Spec.UnknownTemplates(); len(unknown) > 0 {
		if len(run.Warnings) > 0 {
			return req, badInput(run.Warnings)
		}
		return req, badInput(fmt.Errorf("%s: unknown analysis templates: %s", f.plan, strings.Join(unknown, ", ")))
	}
	for _, fill := range []struct{ flag, planValue, value, field string }{
		{"--service", p.Spec.Service, f.service, "spec.service"},
		{"--version", p.Spec.Version, f.version, "spec.version"},
		{"--environment", p.Spec.Environment, f.env, "spec.environment"},
	} {
		if fill.value != "" && fill.planValue != "" && fill.value != fill.planValue {
			return req, badInput(fmt.Errorf("%s %s: the plan's %s is %s; a reviewed plan runs as written", fill.flag, fill.value, fill.field, fill.planValue))
		}
	}
	// Service and environment the server can tell when it serves only one; the version nobody can.
	if p.Spec.Version == "" && f.version == "" {
		return req, badInput(fmt.Errorf("%s: spec.version is missing: pass --version", f.plan))
	}
	abs, err := filepath.Abs(f.plan)
	if err != nil {
		abs = f.plan
	}
	req = api.StartRequest{Plan: data, PlanFile: abs, Service: f.service, Version: f.version, Environment: f.env}
	// --monitor-health confirms the plan's watch; only =false, given explicitly, overrides it.
	req.NoMonitoring = c.Flags().Changed("monitor-health") && !f.monitorHealth
	return req, f.run.request(c, &req)
}

type canaryFlags struct {
	run                                 runFlags
	file, env, version, split, interval string
	successCriteria                     string
}

func (a *app) deployCanaryCmd() *cobra.Command {
	f := &canaryFlags{}
	c := &cobra.Command{
		Use:   "canary --version V",
		Short: "Plan and run a canary in one go",
		Long: "canary plans the rollout exactly as 'hugai deploy plan --strategy canary' would (and is held to the\n" +
			"same policy), with the traffic split given here: each weight is held for one interval and judged\n" +
			"against the success criteria, then the next; after the last the new version is promoted.\n" +
			"It prints the rollout's ID on the first line and follows it; the exit code is its result.",
		Example: "  hugai deploy canary --environment production --version v2 --traffic-split 5,25,50,100 \\\n" +
			"    --health-check-interval 2m --success-criteria \"error_rate<1%,latency_p95<2s\"",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			req, err := f.request(c.Context())
			if err != nil {
				return err
			}
			if err := f.run.request(c, &req); err != nil {
				return err
			}
			return a.startAndFollow(c.Context(), &f.run, req)
		},
	}
	addRunFlags(c, &f.run)
	fl := c.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "service file (default: hugai.yaml, found walking up)")
	fl.StringVarP(&f.env, "environment", "e", "", "environment to deploy to (default: the only one the service has)")
	fl.StringVar(&f.version, "version", "", "version to deploy (default: the tag at HEAD, else its short hash)")
	fl.StringVar(&f.split, "traffic-split", "5,25,50,100", "canary weights in percent, increasing, ending at 100")
	fl.StringVar(&f.interval, "health-check-interval", "", "how long each weight is held and judged (default: the environment's analysis interval)")
	fl.StringVar(&f.successCriteria, "success-criteria", "", "what the canary must meet, e.g. \"error_rate<1%,latency_p95<2s\" (default: the environment's)")
	return c
}

// request builds the canary's plan in-process and checks every flag before anything starts.
func (f *canaryFlags) request(ctx context.Context) (api.StartRequest, error) {
	var req api.StartRequest
	weights, err := parseSplit(f.split)
	if err != nil {
		return req, badInput(fmt.Errorf("--traffic-split %q: %w", f.split, err))
	}
	var interval time.Duration
	if f.interval != "" {
		d, err := plan.ParseDuration(f.interval)
		if err != nil || d.Duration <= 0 {
			return req, badInput(fmt.Errorf("--health-check-interval %q: want a positive duration such as 30s or 2m", f.interval))
		}
		interval = d.Duration
	}
	if f.successCriteria != "" {
		if _, err := criteria.Parse(f.successCriteria, criteria.AnyMetric()); err != nil {
			return req, badInput(fmt.Errorf("--success-criteria %q: %w", f.successCriteria, err))
		}
	}
	p, svc, env, err := adhocPlan(ctx, f.file, f.env, f.version, plan.StrategyCanary)
	if err != nil {
		return req, err
	}
	if interval == 0 {
		interval = env.AnalysisInterval
	}
	c := p.Spec.Strategy.Canary
	if c == nil {
		return req, fmt.Errorf("planner made no canary strategy (a bug in hugai)")
	}
	c.Steps = splitSteps(weights, interval, c.Steps)
	if f.successCriteria != "" {
		p.Spec.SuccessCriteria = f.successCriteria
	}
	return startRequest(p, svc, "deploy canary")
}

// adhocPlan plans an ad-hoc rollout exactly as `deploy plan` would, so that `deploy canary` and
// friends are held to the same policy: the same history, the same change analysis (context here,
// not input: without it the plan says why).
func adhocPlan(ctx context.Context, file, envFlag, version, strategy string) (*plan.DeploymentPlan, *plan.Service, *plan.Env, error) {
	path, svc, err := loadServiceFile(file)
	if err != nil {
		return nil, nil, nil, err
	}
	envName := envFlag
	if envName == "" {
		names := svc.EnvironmentNames()
		if len(names) != 1 {
			return nil, nil, nil, badInput(fmt.Errorf("--environment is required: %s has %s", svc.Metadata.Name, describeEnvs(names)))
		}
		envName = names[0]
	}
	env, err := svc.Env(envName)
	if err != nil {
		return nil, nil, nil, badInput(fmt.Errorf("--environment: %w", err))
	}
	in := planner.Input{Service: svc, Environment: envName, Version: version, Strategy: strategy, At: time.Now().UTC(), RollbackSteps: true}
	hist, err := readHistory(ctx, "", filepath.Dir(path), svc.Metadata.Name, envName)
	if err != nil {
		return nil, nil, nil, err
	}
	in.RollbackRate = hist.rollbackRate
	cs, gitVersion, note, err := analyzeChange(ctx, filepath.Dir(path), "", "HEAD", hist.lastCommit)
	if err != nil {
		note = fmt.Sprintf("no change analysis: %v", err)
	}
	in.Changes, in.NoChangesNote = cs, note
	if in.Version == "" {
		in.Version = gitVersion
	}
	if in.Version == "" {
		return nil, nil, nil, badInput(errors.New("--version is required (no git tag or commit to take it from)"))
	}
	p, _, err := planner.Build(in)
	if err != nil {
		var pe *planner.Error
		if errors.As(err, &pe) {
			return nil, nil, nil, badInput(err)
		}
		return nil, nil, nil, err
	}
	return p, svc, env, nil
}

// startRequest marshals an ad-hoc plan, checks hugai accepts what it wrote and can run it, and
// asks to start it.
func startRequest(p *plan.DeploymentPlan, svc *plan.Service, source string) (api.StartRequest, error) {
	out, err := plan.Marshal(p)
	if err != nil {
		return api.StartRequest{}, fmt.Errorf("write plan: %w", err)
	}
	if err := checkGenerated(out, svc, p.Spec.Environment); err != nil {
		return api.StartRequest{}, err
	}
	return api.StartRequest{Plan: out, PlanFile: source, Service: p.Spec.Service, Version: p.Spec.Version, Environment: p.Spec.Environment}, nil
}

// checkGenerated checks a plan hugai wrote: one it does not accept is a bug in hugai; one that
// asks what the service file cannot give (a flag's metric no provider measures) is bad input,
// refused before anything starts.
func checkGenerated(out []byte, svc *plan.Service, env string) error {
	run, err := plan.ParseRun("generated plan", out)
	if err != nil {
		return fmt.Errorf("generated plan does not validate (a bug in hugai): %w", err)
	}
	if errs := plan.CheckAgainst("", nil, run.Plan, nil, svc, env); len(errs) > 0 {
		return badInput(fmt.Errorf("the plan cannot run against service %s:\n%w", svc.Metadata.Name, errs))
	}
	return nil
}

// splitSteps reads --traffic-split as Flagger does: each weight held for one interval, the last
// (100) promoting. An approval step the policy put into the planned steps is kept after the first
// weight, where the planner places it, so an ad-hoc canary is held to the same policy.
func splitSteps(weights []int, interval time.Duration, planned []plan.CanaryStep) []plan.CanaryStep {
	var approval *plan.ApprovalStep
	for _, s := range planned {
		if s.Approval != nil {
			approval = s.Approval
			break
		}
	}
	var steps []plan.CanaryStep
	for i, w := range weights {
		steps = append(steps, plan.CanaryStep{SetWeight: &w})
		if w < 100 {
			steps = append(steps, plan.CanaryStep{Pause: &plan.Pause{Duration: &plan.Seconds{Duration: plan.D(interval)}}})
		}
		if i == 0 && approval != nil {
			steps = append(steps, plan.CanaryStep{Approval: approval})
		}
	}
	return steps
}

// parseSplit reads "5,25,50,100": increasing weights within 1..100 ending at 100.
func parseSplit(s string) ([]int, error) {
	var ws []int
	for i, part := range strings.Split(s, ",") {
		w, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(part), "%")))
		if err != nil {
			return nil, fmt.Errorf("weight %d (%q) is not a number", i+1, strings.TrimSpace(part))
		}
		if w < 1 || w > 100 {
			return nil, fmt.Errorf("weight %d is not within 1..100", w)
		}
		if len(ws) > 0 && w <= ws[len(ws)-1] {
			return nil, fmt.Errorf("weights must increase: %d after %d", w, ws[len(ws)-1])
		}
		ws = append(ws, w)
	}
	if ws[len(ws)-1] != 100 {
		return nil, fmt.Errorf("the last weight must be 100 (the promotion), not %d", ws[len(ws)-1])
	}
	return ws, nil
}
