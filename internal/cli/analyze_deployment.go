package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hugai-dev/hugai/internal/change"
	"github.com/hugai-dev/hugai/internal/git"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/planner"
	"github.com/hugai-dev/hugai/internal/preflight"
	"github.com/hugai-dev/hugai/internal/risk"
	"github.com/hugai-dev/hugai/internal/secretscan"
)

var deploymentOutputFormats = []string{"table", "json", "yaml"}

var deploymentOutputExts = [][2]string{{".json", "json"}, {".yaml", "yaml"}, {".yml", "yaml"}}

type deploymentFlags struct {
	repo, from, to, environment, file, ignoreFile, at, output, failOn string
	listRules                                                         bool
}

func (a *app) analyzeDeploymentCmd() *cobra.Command {
	f := &deploymentFlags{}
	c := &cobra.Command{
		Use:   "deployment",
		Short: "Judge a change before it ships: quality score, secrets in the diff, deployment risk, recommendations",
		Long: `deployment reads the change between two refs (default: from the last tag to HEAD) and reports,
with the field names the seed's pipelines read:

  quality_score     0-100, with quality_factors: tests changed with the code, size, churn,
                    review-sensitive files (migrations, infrastructure, dependencies, CI, auth),
                    spread, secrets
  security_issues   credentials in the lines the range's commits add (every commit, so a secret
                    added and removed again is still found): private keys, cloud and API tokens,
                    passwords in configuration, with entropy checks; rules with --list-rules
  deployment_risk   the risk score of hugai deploy plan for --environment, with its factors
  recommendations   strategy, bake time, approvals, splitting the change, migrations, tests

Fixtures that hold fake secrets on purpose are listed in .hugai-secrets.yaml at the repository's
root (or --ignore-file), by path glob (and rules) or by a finding's fingerprint; a line holding
'hugai-secrets-ignore' is skipped. With a service file (-f, or hugai.yaml at the repository's root)
the strategy and approvals are the planner's for --environment.

Output (-o/--output): table (default), json or yaml on stdout; any other value is a file to write,
its extension naming the format (.json, .yaml/.yml); anything else is refused (exit 2).

Exit codes: 0 no security issue at or above --fail-on (critical|high|medium|none; default
critical); 1 issues at or above it, or failed to run; 2 bad input.`,
		Example: `  hugai analyze deployment --environment production
  hugai analyze deployment --from v1.4.0 --to HEAD -o json
  hugai analyze deployment --environment staging --output analysis.json --fail-on high`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if f.listRules {
				return a.listSecretRules()
			}
			return a.runAnalyzeDeployment(c.Context(), f)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.repo, "repo", "", "the git repository (default: the one the current directory is in)")
	fl.StringVar(&f.from, "from", "", "start of the change (default: the last tag before --to, else the first commit)")
	fl.StringVar(&f.to, "to", "HEAD", "end of the change")
	fl.StringVarP(&f.environment, "environment", "e", "", "environment the change goes to (risk and plan; default: the service's only one, else none)")
	fl.StringVarP(&f.file, "file", "f", "", "service file (default: hugai.yaml at the repository's root, if any)")
	fl.StringVar(&f.ignoreFile, "ignore-file", "", "secrets ignore file (default: "+secretscan.IgnoreFile+" at the repository's root, if any)")
	fl.StringVar(&f.at, "at", "", "judge the deployment for this time, RFC 3339 (default: now)")
	fl.StringVar(&f.failOn, "fail-on", "critical", "exit 1 when a security issue is at or above: critical|high|medium|none")
	fl.BoolVar(&f.listRules, "list-rules", false, "list the secret rules and exit")
	c.Flags().StringVarP(&f.output, "output", "o", "table", "table|json|yaml, or a file: FILE.json, FILE.yaml")
	return c
}

var severityRank = map[string]int{secretscan.Medium: 1, secretscan.High: 2, secretscan.Critical: 3, "none": 4}

func (a *app) runAnalyzeDeployment(ctx context.Context, f *deploymentFlags) error {
	format, outFile, err := outputTarget(f.output, deploymentOutputFormats, deploymentOutputExts)
	if err != nil {
		return err
	}
	failRank, ok := severityRank[f.failOn]
	if !ok {
		return badInput(fmt.Errorf("--fail-on %q: want critical, high, medium or none", f.failOn))
	}
	at := time.Now().UTC()
	if f.at != "" {
		if at, err = time.Parse(time.RFC3339, f.at); err != nil {
			return badInput(fmt.Errorf("--at %q: want RFC 3339, e.g. 2026-11-27T14:00:00Z", f.at))
		}
	}
	start := f.repo
	if start == "" {
		if start, err = os.Getwd(); err != nil {
			return err
		}
	}
	repo, err := git.TopLevel(ctx, start)
	if err != nil {
		if errors.Is(err, git.ErrNotRepo) {
			return badInput(fmt.Errorf("analyze deployment reads a git repository: %w", err))
		}
		return err
	}
	svc, err := optionalService(f.file, repo)
	if err != nil {
		return err
	}
	env := f.environment
	if env == "" && svc != nil {
		if names := svc.EnvironmentNames(); len(names) == 1 {
			env = names[0]
		}
	}
	if env != "" && svc != nil {
		if _, err := svc.Env(env); err != nil {
			return badInput(err)
		}
	}
	ignore, err := loadSecretsIgnore(f.ignoreFile, repo)
	if err != nil {
		return err
	}

	from := f.from
	if from == "" {
		from, err = tagBefore(ctx, repo, f.to)
		if err != nil {
			return err
		}
	}
	// The change (numstat) and the added lines (patches) are two git runs over the same range:
	// run them side by side, so the report costs about the slower of the two.
	type changesResult struct {
		cs  *change.Set
		err error
	}
	done := make(chan changesResult, 1)
	go func() {
		cs, err := git.Changes(ctx, repo, from, f.to)
		done <- changesResult{cs, err}
	}()
	scanner := secretscan.New(ignore)
	findings := []secretscan.Finding{}
	serr := git.AddedLines(ctx, repo, from, f.to, nil, func(l git.AddedLine) error {
		findings = append(findings, scanner.Scan(secretscan.Line{Commit: l.Commit, Path: l.Path, Line: l.Line, Text: l.Text})...)
		return nil
	})
	res := <-done
	if res.err != nil {
		return refError("--from/--to", res.err)
	}
	if serr != nil {
		return fmt.Errorf("scan the diff: %w", serr)
	}
	cs := res.cs
	cs.From, cs.To = from, f.to

	in := preflight.Input{Environment: env, Changes: cs, Findings: findings}
	if svc != nil && env != "" {
		p, _, err := planner.Build(planner.Input{Service: svc, Environment: env, Version: shortRef(cs.ToHash), Changes: cs, At: at})
		if err != nil {
			return badInput(err)
		}
		in.Plan = p
		in.Risk = risk.Assess(risk.Input{Changes: cs, Environment: env, At: at, Location: envLocation(svc, env)})
	} else {
		in.Risk = risk.Assess(risk.Input{Changes: cs, Environment: env, At: at})
	}
	report := preflight.Analyze(in)

	worst := 0
	for _, fd := range findings {
		worst = max(worst, severityRank[fd.Severity])
	}
	var fail error
	if worst >= failRank {
		fail = withCode(ExitFailed, fmt.Errorf("%d security issue(s), the worst %s (--fail-on %s)", len(findings), rankName(worst), f.failOn))
	}
	if outFile != "" {
		saved := a.out
		defer func() { a.out = saved }()
		err := a.writeStreamed(outFile, func(w io.Writer) error {
			a.out = w
			return a.print(format, report, nil)
		})
		if err != nil {
			return err
		}
		a.out = saved
		fmt.Fprintf(a.out, "quality %d/100, %d security issue(s), risk %s (%d/100): written to %s\n",
			report.QualityScore, len(report.SecurityIssues), report.DeploymentRisk.Level, report.DeploymentRisk.Score, outFile)
		return fail
	}
	if err := a.print(format, report, func(w io.Writer) error { return printDeploymentReport(w, report) }); err != nil {
		return err
	}
	return fail
}

func rankName(r int) string {
	for k, v := range severityRank {
		if v == r {
			return k
		}
	}
	return ""
}

func shortRef(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func envLocation(svc *plan.Service, env string) *time.Location {
	if e, err := svc.Env(env); err == nil {
		return e.Location
	}
	return nil
}

// optionalService reads -f, else hugai.yaml at the repository's root when there is one.
func optionalService(flagValue, repo string) (*plan.Service, error) {
	p := flagValue
	if p == "" {
		p = filepath.Join(repo, "hugai.yaml")
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	data, err := readInput(p)
	if err != nil {
		return nil, err
	}
	svc, err := plan.ParseService(p, data)
	if err != nil {
		return nil, badInput(err)
	}
	return svc, nil
}

func loadSecretsIgnore(flagValue, repo string) (*secretscan.Ignore, error) {
	p := flagValue
	if p == "" {
		p = filepath.Join(repo, secretscan.IgnoreFile)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	data, err := readInput(p)
	if err != nil {
		return nil, err
	}
	ig, err := secretscan.ParseIgnore(p, data)
	if err != nil {
		return nil, badInput(err)
	}
	return ig, nil
}

// tagBefore is the last tag reachable from to that is not to itself, else "" (the whole history).
func tagBefore(ctx context.Context, repo, to string) (string, error) {
	toHash, err := git.ResolveRef(ctx, repo, to)
	if err != nil {
		return "", refError("--to", err)
	}
	tag, err := git.LastTag(ctx, repo, toHash)
	if err == nil {
		if th, _ := git.ResolveRef(ctx, repo, tag); th == toHash {
			tag, err = git.LastTag(ctx, repo, toHash+"^")
		}
	}
	if err != nil {
		return "", nil // no tag (or no parent): from the first commit
	}
	return tag, nil
}

func printDeploymentReport(w io.Writer, r preflight.Report) error {
	from := r.From
	if from == "" {
		from = "(first commit)"
	}
	fmt.Fprintf(w, "Change:   %s..%s — %d commits, %d files, +%d −%d\n", from, r.To, r.Commits, r.Files, r.LinesAdded, r.LinesDeleted)
	if r.Environment != "" {
		fmt.Fprintf(w, "Target:   %s\n", r.Environment)
	}
	fmt.Fprintf(w, "Quality:  %d/100\n", r.QualityScore)
	fmt.Fprintf(w, "Risk:     %s (%d/100)\n", r.DeploymentRisk.Level, r.DeploymentRisk.Score)
	fmt.Fprintf(w, "Secrets:  %d\n", len(r.SecurityIssues))

	fmt.Fprintln(w, "\nQuality factors:")
	for _, f := range r.QualityFactors {
		fmt.Fprintf(w, "  %+4d  %-17s %s\n", f.Points, f.Name, f.Reason)
	}
	if len(r.SecurityIssues) > 0 {
		fmt.Fprintln(w, "\nSecurity issues:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, s := range r.SecurityIssues {
			fmt.Fprintf(tw, "  %s\t%s\t%s:%d\t%s\t%s\t%s\n", s.Severity, s.Rule, s.Path, s.Line, shortRef(s.Commit), s.Title, s.Match)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "\nRisk factors:")
	for _, f := range r.DeploymentRisk.Factors {
		fmt.Fprintf(w, "  %+6.1f  %-14s %s\n", f.Contribution, f.Name, f.Reason)
	}
	fmt.Fprintln(w, "\nRecommendations:")
	for _, rec := range r.Recommendations {
		fmt.Fprintf(w, "  - [%s] %s\n      %s\n", rec.Topic, rec.Recommendation, rec.Reason)
	}
	return nil
}

func (a *app) listSecretRules() error {
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tTITLE")
	for _, r := range secretscan.Rules() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.ID, r.Severity, r.Title)
	}
	return tw.Flush()
}
