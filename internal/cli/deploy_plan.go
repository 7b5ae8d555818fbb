package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hugai-dev/hugai/internal/change"
	"github.com/hugai-dev/hugai/internal/git"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/planner"
	"github.com/hugai-dev/hugai/internal/risk/learn"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/sqlite"
)

type planFlags struct {
	dataDir                              string
	file, environment, strategy, version string
	from, to, out, at, output            string
	explain, analyzeImpact, genRollback  bool
}

func (a *app) deployCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "deploy",
		Short: "Plan and run deployments",
	}
	c.AddCommand(a.deployPlanCmd(), a.deployExecuteCmd(), a.deployCanaryCmd(), a.deployBlueGreenCmd(), a.deployRollingCmd(), a.deployRecreateCmd(), a.deployStatusCmd(), a.deployListCmd(),
		a.deployApproveCmd(), a.deployRejectCmd(), a.deployPromoteCmd(), a.deployAbortCmd(), a.deployResumeCmd(), a.deployRollbackCmd())
	return c
}

func (a *app) deployPlanCmd() *cobra.Command {
	f := &planFlags{}
	c := &cobra.Command{
		Use:   "plan",
		Short: "Score the change's risk and write a reviewable DeploymentPlan",
		Long: "plan reads the service file and the change between two git refs, scores its risk and writes a\n" +
			"DeploymentPlan: strategy and steps, quality gates, approvals, rollback plan and monitoring, with\n" +
			"every risk factor and its reason. The same inputs (including --at) give a byte-identical plan.",
		Example: "  hugai deploy plan --environment production --strategy canary --analyze-impact --generate-rollback\n" +
			"  hugai deploy plan -e staging --from v1.4.0 --to HEAD --out - --explain",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return a.runDeployPlan(c.Context(), f) },
	}
	fl := c.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "service file (default: hugai.yaml, found walking up)")
	fl.StringVarP(&f.environment, "environment", "e", "", "environment to deploy to (default: the only one the service has)")
	fl.StringVar(&f.strategy, "strategy", "", "canary|blueGreen|rolling|recreate (default: chosen from the risk)")
	fl.StringVar(&f.version, "version", "", "version to deploy (default: the tag at --to, else its short hash)")
	fl.StringVar(&f.from, "from", "", "start of the change (default: the commit the current release was planned at, else the last tag before --to)")
	fl.StringVar(&f.to, "to", "HEAD", "end of the change")
	fl.StringVar(&f.out, "out", "deployment-plan.yaml", "write the plan to FILE (- for standard output)")
	fl.StringVar(&f.at, "at", "", "judge the deployment for this time, RFC 3339 (default: now)")
	fl.BoolVar(&f.explain, "explain", false, "say why each choice was made")
	fl.BoolVar(&f.analyzeImpact, "analyze-impact", true, "analyse the change between --from and --to")
	fl.BoolVar(&f.genRollback, "generate-rollback", true, "include the ordered rollback steps")
	fl.StringVar(&f.dataDir, "data-dir", "", "hugai's data dir, for the service's rollback history (default: $HUGAI_DATA_DIR, else the nearest .hugai/ from the service file)")
	addOutputFlag(c, &f.output)
	_ = c.RegisterFlagCompletionFunc("strategy", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return plan.Strategies, cobra.ShellCompDirectiveNoFileComp
	})
	return c
}

type planSummary struct {
	Plan      string               `json:"plan"`
	Service   string               `json:"service"`
	Version   string               `json:"version,omitempty"`
	Env       string               `json:"environment"`
	Strategy  string               `json:"strategy"`
	Risk      plan.Risk            `json:"risk"`
	Approvals int                  `json:"approvalsRequired"`
	Decisions []planner.Decision   `json:"decisions"`
	Spec      *plan.DeploymentPlan `json:"deploymentPlan"`
}

func (a *app) runDeployPlan(ctx context.Context, f *planFlags) error {
	at := time.Now().UTC()
	if f.at != "" {
		t, err := time.Parse(time.RFC3339, f.at)
		if err != nil {
			return badInput(fmt.Errorf("--at %q: want RFC 3339, e.g. 2026-11-27T14:00:00Z", f.at))
		}
		at = t
	}
	path, svc, err := loadServiceFile(f.file)
	if err != nil {
		return err
	}
	envName := f.environment
	if envName == "" {
		names := svc.EnvironmentNames()
		if len(names) != 1 {
			return badInput(fmt.Errorf("--environment is required: %s has %s", svc.Metadata.Name, describeEnvs(names)))
		}
		envName = names[0]
	}

	in := planner.Input{Service: svc, Environment: envName, Version: f.version, Strategy: f.strategy, At: at, RollbackSteps: f.genRollback}
	repo := filepath.Dir(path)
	hist, err := readHistory(ctx, f.dataDir, repo, svc.Metadata.Name, envName)
	if err != nil {
		return err
	}
	in.RollbackRate = hist.rollbackRate
	if f.analyzeImpact {
		cs, version, note, err := analyzeChange(ctx, repo, f.from, f.to, hist.lastCommit)
		if err != nil {
			return err
		}
		in.Changes, in.NoChangesNote = cs, note
		if in.Version == "" {
			in.Version = version
		}
	} else {
		in.NoChangesNote = "change analysis skipped (--analyze-impact=false)"
		if in.Version == "" && git.IsRepo(ctx, repo) {
			// The version is named by --to whether or not the change is analysed.
			toHash, err := git.ResolveRef(ctx, repo, f.to)
			if err != nil {
				return refError("--to", err)
			}
			in.Version = versionOf(ctx, repo, toHash)
		}
	}

	if in.Changes != nil {
		c := learn.FromSet(in.Changes)
		if in.Learned, err = learnedRisk(ctx, f.dataDir, repo, svc, envName, &c, at); err != nil {
			return err
		}
	}
	p, decisions, err := planner.Build(in)
	if err != nil {
		var pe *planner.Error
		if errors.As(err, &pe) {
			return badInput(err)
		}
		return err
	}
	stampPlanner(p)
	out, err := plan.Marshal(p)
	if err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	// The plan we write must be one we accept and can run: a problem here would surface only at
	// execute time.
	if err := checkGenerated(out, svc, envName); err != nil {
		return err
	}
	if err := a.writeOutput(f.out, out); err != nil {
		return err
	}
	if f.out == "-" && !f.explain && f.output == "table" {
		return nil
	}
	sum := planSummary{
		Plan: f.out, Service: p.Spec.Service, Version: p.Spec.Version, Env: p.Spec.Environment,
		Strategy: p.Spec.Strategy.Type, Risk: *p.Spec.Risk, Decisions: decisions, Spec: p,
	}
	if g := p.Spec.Governance; g != nil {
		sum.Approvals = len(g.Approvals)
	}
	if hist.note != "" {
		sum.Decisions = append(sum.Decisions, planner.Decision{Topic: "history", Choice: "rollback rate", Reason: hist.note})
	}
	w := a.out
	if f.out == "-" {
		w = a.errOut // keep standard output a clean plan
	}
	saved := a.out
	a.out = w
	defer func() { a.out = saved }()
	return a.print(f.output, sum, func(w io.Writer) error { return printPlanSummary(w, sum, f.explain) })
}

func describeEnvs(names []string) string {
	if len(names) == 0 {
		return "no environments; name one, e.g. --environment production"
	}
	return "environments " + strings.Join(names, ", ")
}

// analyzeChange reads the change from git. Without git or tags it returns no change and a note
// saying why, so a plan can still be made.
// versionOf names the commit toHash: its tag when one points at it, else its short hash.
func versionOf(ctx context.Context, repo, toHash string) string {
	if tag, err := git.LastTag(ctx, repo, toHash); err == nil {
		if th, err := git.ResolveRef(ctx, repo, tag); err == nil && th == toHash {
			return tag
		}
	}
	return toHash[:12]
}

func analyzeChange(ctx context.Context, repo, from, to, lastDeploy string) (*change.Set, string, string, error) {
	if !git.IsRepo(ctx, repo) {
		return nil, "", fmt.Sprintf("%s is not in a git repository: no change analysis", repo), nil
	}
	toHash, err := git.ResolveRef(ctx, repo, to)
	if err != nil {
		return nil, "", "", refError("--to", err)
	}
	version := versionOf(ctx, repo, toHash)
	if from == "" && lastDeploy != "" {
		// The change since what runs now: the commit the previous deploy was planned at.
		if h, err := git.ResolveRef(ctx, repo, lastDeploy); err == nil && h != toHash {
			from = h
		}
	}
	if from == "" {
		tag, err := git.LastTag(ctx, repo, toHash)
		if err == nil {
			if th, _ := git.ResolveRef(ctx, repo, tag); th == toHash {
				// --to is itself tagged: the change runs from the tag before it.
				tag, err = git.LastTag(ctx, repo, toHash+"^")
			}
		}
		if errors.Is(err, git.ErrNoTag) || err != nil && strings.Contains(err.Error(), "unknown revision") {
			return nil, version, fmt.Sprintf("no tag before %s: no change analysis (pass --from REF)", to), nil
		}
		if err != nil {
			return nil, "", "", fmt.Errorf("find the last tag: %w", err)
		}
		from = tag
	}
	cs, err := git.Changes(ctx, repo, from, toHash)
	if err != nil {
		return nil, "", "", refError("--from/--to", err)
	}
	cs.From, cs.To = from, to
	return cs, version, "", nil
}

func refError(flag string, err error) error {
	var ur *git.UnknownRefError
	if errors.As(err, &ur) {
		return badInput(fmt.Errorf("%s: %w", flag, err))
	}
	return err
}

func printPlanSummary(w io.Writer, s planSummary, explain bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Plan:\t%s\n", s.Plan)
	fmt.Fprintf(tw, "Service:\t%s %s → %s\n", s.Service, s.Version, s.Env)
	fmt.Fprintf(tw, "Risk:\t%s (%d/100)\n", s.Risk.Level, s.Risk.Score)
	fmt.Fprintf(tw, "Strategy:\t%s\n", s.Strategy)
	fmt.Fprintf(tw, "Approvals:\t%d required\n", s.Approvals)
	if err := tw.Flush(); err != nil {
		return err
	}
	if !explain {
		return nil
	}
	fmt.Fprintln(w, "\nRisk factors:")
	for _, f := range s.Risk.Factors {
		fmt.Fprintf(w, "  %+6.1f  %-14s %s\n", f.Contribution, f.Name, f.Reason)
	}
	fmt.Fprintln(w, "\nDecisions:")
	for _, d := range s.Decisions {
		fmt.Fprintf(w, "  %-18s %s — %s\n", d.Topic+":", d.Choice, d.Reason)
	}
	return nil
}

// minHistory is how many finished rollouts make a rollback rate worth weighing.
const minHistory = 3

// history is what the server's store knows of a service environment: the share of its recent
// finished rollouts that were rolled back (DORA's change failure rate) and the commit its current
// release was planned at. No store is no history — not an error.
type history struct {
	rollbackRate *float64
	note         string
	lastCommit   string
}

func readHistory(ctx context.Context, flagValue, from, service, env string) (history, error) {
	var h history
	dir, err := findDataDirFrom(flagValue, os.Getenv("HUGAI_DATA_DIR"), from)
	if err != nil {
		return h, nil
	}
	path := filepath.Join(dir, DatabaseFile)
	if _, err := os.Stat(path); err != nil {
		if flagValue != "" {
			return h, badInput(fmt.Errorf("--data-dir %s: no store there", flagValue))
		}
		return h, nil
	}
	st, err := sqlite.Open(path)
	if err != nil {
		return h, err
	}
	defer st.Close()
	rs, err := st.Rollouts(ctx, store.Filter{Service: service, Environment: env, Limit: 50})
	if err != nil {
		return h, err
	}
	finished, rolledBack := 0, 0
	for _, r := range rs {
		switch rollout.Phase(r.Phase) {
		case rollout.Succeeded:
			finished++
			if h.lastCommit == "" {
				if p, _, err := plan.ParsePlan("rollout "+r.ID, r.Plan); err == nil && p.Spec.Changes != nil {
					h.lastCommit = p.Spec.Changes.ToCommit
				}
			}
		case rollout.RolledBack, rollout.Failed:
			finished++
			rolledBack++
		}
		if finished == 20 {
			break
		}
	}
	if finished < minHistory {
		h.note = fmt.Sprintf("%d finished rollout(s) of %s in %s in %s: too few to weigh", finished, service, env, dir)
		return h, nil
	}
	rate := float64(rolledBack) / float64(finished)
	h.rollbackRate = &rate
	h.note = fmt.Sprintf("%d of the last %d finished rollouts of %s in %s were rolled back (%s)", rolledBack, finished, service, env, dir)
	return h, nil
}

// stampPlanner records who made the plan (the OS user running `deploy plan`), which four-eyes
// keeps from approving its rollout. The plan is reviewed as a file: a plan edited by hand says so
// by changing or dropping the annotation, which the review sees.
func stampPlanner(p *plan.DeploymentPlan) {
	u, err := user.Current()
	if err != nil || u.Username == "" {
		return
	}
	if p.Metadata.Annotations == nil {
		p.Metadata.Annotations = map[string]string{}
	}
	p.Metadata.Annotations[plan.AnnotationPlannedBy] = u.Username
}
