package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/client"
	"github.com/hugai-dev/hugai/internal/release"
	"github.com/hugai-dev/hugai/internal/release/stages"
)

const releaseExitCodes = "Exit codes: 0 every stage succeeded; 3 a stage was rolled back (its rollout rolled back, or\n" +
	"its validation failed and hugai rolled it back); 4 aborted (a pre-check failed, or a stage's\n" +
	"rollout was rejected or aborted); 1 failed to run (a rollout could not start, or a rollback\n" +
	"failed); 2 bad input (an unknown release, a stage hugai cannot run): nothing was started."

// serverOf is the server execute and status talk to: --server, else the release command's
// --data-dir (a data dir names its server), else the usual search.
func serverOf(server, dataDir string) string {
	if server != "" {
		return server
	}
	return dataDir
}

func (a *app) releaseExecuteCmd(dataDir *string) *cobra.Command {
	var server, path, component string
	var detach bool
	c := &cobra.Command{
		Use:   "execute VERSION",
		Short: "Run a recorded release through the stages of hugai.yaml's spec.release, stopping at the first that fails",
		Long: `execute runs the release through the stages of the server's service file (spec.release.stages),
one after the other: each stage's pre-checks, then its rollout — the DeploymentPlan the release
holds for the stage's environment, run by the server exactly as 'hugai deploy execute' runs one,
with its strategy, analysis, approvals and automatic rollback — then its validation (the smoke test
or commands of spec.checkpoints). A validation that fails rolls that stage back; the first stage
that does not succeed stops the release, and later stages never start. Every transition is in the
audit log (subject release/TAG); the run survives a server restart.

VERSION is the release's tag (v1.3.0, api/v1.3.0) or its version (1.3.0, with --path or
--component for a monorepo package's). The run's ID is printed first, then its progress.

` + releaseExitCodes,
		Example: "  hugai release execute 1.3.0\n  hugai release execute v1.3.0 --detach && hugai release status v1.3.0 --watch",
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			tag, err := releaseTag(args[0], path, component)
			if err != nil {
				return err
			}
			cl, err := connect(serverOf(server, *dataDir))
			if err != nil {
				return err
			}
			defer cl.Close()
			run, err := cl.ExecuteRelease(c.Context(), tag)
			if err != nil {
				return apiErr(err)
			}
			fmt.Fprintln(a.out, run.ID)
			if detach {
				return nil
			}
			return a.followRelease(c.Context(), cl, run)
		},
	}
	addServerFlag(c, &server)
	c.Flags().BoolVar(&detach, "detach", false, "print the run's ID and exit 0 instead of following it")
	c.Flags().StringVar(&path, "path", "", "the monorepo package the version is of")
	c.Flags().StringVar(&component, "component", "", "the tag prefix the version is of")
	return c
}

func (a *app) releaseStatusCmd(dataDir *string) *cobra.Command {
	var server, output, path, component string
	var watch bool
	c := &cobra.Command{
		Use:   "status VERSION",
		Short: "Show the newest run of a release through its stages; --watch follows it to its end",
		Long: `status prints the newest run of the release (or the run named by its ID, release-N): each stage,
its checks and its rollout. With --watch it follows the run as execute does, across server
restarts, and exits with its result; without, it exits 0.

` + releaseExitCodes,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := connect(serverOf(server, *dataDir))
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := c.Context()
			run, err := findRun(ctx, cl, args[0], path, component)
			if err != nil {
				return err
			}
			if watch {
				if output != "table" {
					return badInput(errors.New("--watch prints the run's progress; leave out --output"))
				}
				fmt.Fprintln(a.out, run.ID)
				return a.followRelease(ctx, cl, run)
			}
			return a.print(output, run, func(w io.Writer) error {
				_, err := io.WriteString(w, renderRun(run, time.Now()))
				return err
			})
		},
	}
	addServerFlag(c, &server)
	addOutputFlag(c, &output)
	c.Flags().BoolVarP(&watch, "watch", "w", false, "follow the run until it ends and exit with its result")
	c.Flags().StringVar(&path, "path", "", "the monorepo package the version is of")
	c.Flags().StringVar(&component, "component", "", "the tag prefix the version is of")
	return c
}

// releaseTag reads VERSION as execute and status take it: a version (of the component, with
// --path or --component) or a tag as it is.
func releaseTag(arg, path, component string) (string, error) {
	if strings.TrimSpace(arg) == "" {
		return "", badInput(errors.New("VERSION is empty: pass the release's version, e.g. 1.3.0"))
	}
	if component == "" && path != "" {
		component = filepathBase(path)
	}
	if v, err := release.ParseVersion(arg); err == nil {
		return release.TagFor(component, v), nil
	}
	return arg, nil
}

// findRun is a run by its ID, else the newest run of the release VERSION names.
func findRun(ctx context.Context, cl *client.Client, arg, path, component string) (api.ReleaseRun, error) {
	if strings.HasPrefix(arg, "release-") {
		run, err := cl.ReleaseRun(ctx, arg)
		return run, apiErr(err)
	}
	tag, err := releaseTag(arg, path, component)
	if err != nil {
		return api.ReleaseRun{}, err
	}
	runs, err := cl.ReleaseRuns(ctx, tag, 1)
	if err != nil {
		return api.ReleaseRun{}, apiErr(err)
	}
	if len(runs) == 0 {
		return api.ReleaseRun{}, badInput(fmt.Errorf("release %s has not been executed: run 'hugai release execute %s'", tag, arg))
	}
	return runs[0], nil
}

// followRelease prints a line per change of the run until it ends, retrying a server that went
// away (it resumes the run when it comes back), and exits with the run's result.
func (a *app) followRelease(ctx context.Context, cl *client.Client, run api.ReleaseRun) error {
	f := a.newFollower(cl)
	// On a terminal the run's table is redrawn in place (its clock ticking); otherwise one line
	// per change, for logs and pipelines.
	live := f.width > 0
	pollFor := 30 * time.Second
	if live {
		pollFor = time.Second
	}
	var screen liveScreen
	last := ""
	show := func(footer string) {
		if live {
			screen.draw(a.out, renderRun(run, f.now())+footer, f.width)
			return
		}
		line := runLine(run)
		if line != last {
			fmt.Fprintf(a.out, "%s %s\n", f.now().Format("15:04:05"), line)
			last = line
		}
	}
	show("")
	var downSince time.Time
	for !run.Terminal {
		next, err := cl.WaitReleaseRun(ctx, run.ID, run.Revision, pollFor)
		if errors.Is(err, client.ErrUnreachable) {
			if downSince.IsZero() {
				downSince = f.now()
				if live {
					show("\n(hugai server unreachable: reconnecting…)\n")
				} else {
					fmt.Fprintf(a.errOut, "hugai: server unreachable, reconnecting to follow %s…\n", run.ID)
				}
			}
			if f.now().Sub(downSince) > f.giveUpAfter {
				return withCode(ExitFailed, fmt.Errorf("follow %s: server unreachable for %s; the release may still be running: %w", run.ID, f.giveUpAfter, err))
			}
			if err := sleepCtx(ctx, f.retryEvery); err != nil {
				return withCode(ExitFailed, fmt.Errorf("stopped following %s (it goes on; see 'hugai release status %s --watch'): %w", run.ID, run.Tag, err))
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return withCode(ExitFailed, fmt.Errorf("stopped following %s (it goes on; see 'hugai release status %s --watch'): %w", run.ID, run.Tag, err))
			}
			return withCode(ExitFailed, fmt.Errorf("follow %s: %w", run.ID, err))
		}
		if !downSince.IsZero() {
			downSince = time.Time{}
			if !live {
				fmt.Fprintln(a.errOut, "hugai: reconnected")
			}
		}
		run = next
		show("")
	}
	if run.ExitCode == ExitOK {
		return nil
	}
	return withCode(run.ExitCode, fmt.Errorf("release %s %s (%s: %s)", run.Tag, run.Phase, run.Reason, run.Message))
}

// runLine is a run in one line: its phase and each started stage's.
func runLine(run api.ReleaseRun) string {
	var parts []string
	for _, s := range run.Stages {
		if s.Phase == stages.StagePending || s.Phase == stages.StageSkipped {
			continue
		}
		part := s.Name + " " + string(s.Phase)
		if s.RolloutID != "" {
			part += " (" + strings.TrimSpace(s.RolloutID+" "+s.RolloutPhase) + ")"
		}
		if s.RollbackID != "" {
			part += " (rollback " + strings.TrimSpace(s.RollbackID+" "+s.RollbackPhase) + ")"
		}
		parts = append(parts, part)
	}
	line := fmt.Sprintf("%s %s %s", run.ID, run.Tag, run.Phase)
	if len(parts) > 0 {
		line += ": " + strings.Join(parts, ", ")
	}
	if run.Terminal && run.Message != "" {
		line += " — " + run.Message
	}
	return line
}

// renderRun is `release status`'s table: the run, then each stage with its checks and rollout.
func renderRun(run api.ReleaseRun, now time.Time) string {
	var b strings.Builder
	end := now
	if run.FinishedAt != nil {
		end = *run.FinishedAt
	}
	fmt.Fprintf(&b, "Release run %s  %s %s (%s)\n", run.ID, run.Service, run.Tag, run.Version)
	fmt.Fprintf(&b, "  Phase:  %s (elapsed %s)\n", run.Phase, shortDuration(end.Sub(run.CreatedAt)))
	if why := strings.Join(nonEmpty(run.Reason, run.Message), ": "); why != "" {
		fmt.Fprintf(&b, "  Reason: %s\n", why)
	}
	b.WriteString("Stages:\n")
	for i, s := range run.Stages {
		mark := map[stages.StagePhase]string{stages.StageSucceeded: "✓", stages.StageRolledBack: "✗", stages.StageAborted: "✗",
			stages.StageFailed: "✗", stages.StageSkipped: "-", stages.StagePending: "·"}[s.Phase]
		if mark == "" {
			mark = "▶"
		}
		fmt.Fprintf(&b, "  %s %d/%d %-12s → %-12s %s", mark, i+1, len(run.Stages), s.Name, s.Environment, s.Phase)
		if s.Reason != "" {
			fmt.Fprintf(&b, " (%s)", s.Reason)
		}
		b.WriteString("\n")
		if s.AlreadyDeployed {
			fmt.Fprintf(&b, "      rollout:  none: %s already ran %s\n", s.Environment, run.Version)
		}
		if s.RolloutID != "" {
			fmt.Fprintf(&b, "      rollout:  %s %s", s.RolloutID, s.RolloutPhase)
			if s.RolloutPhase == "AwaitingApproval" {
				fmt.Fprintf(&b, ": hugai deploy approve %s", s.RolloutID)
			}
			b.WriteString("\n")
		}
		if s.RollbackID != "" {
			fmt.Fprintf(&b, "      rollback: %s %s\n", s.RollbackID, s.RollbackPhase)
		}
		for _, c := range s.Checks {
			res := "passed"
			if !c.Passed {
				res = "FAILED"
			}
			fmt.Fprintf(&b, "      %-10s %s %s\n", c.Kind, c.Name, res)
		}
		if s.Message != "" {
			fmt.Fprintf(&b, "      %s\n", s.Message)
		}
	}
	return b.String()
}
