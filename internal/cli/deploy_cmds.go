package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/client"
	"github.com/hugai-dev/hugai/internal/rollout"
)

// addServerFlag adds --server, where every acting command finds its server.
func addServerFlag(c *cobra.Command, server *string) {
	c.Flags().StringVar(server, "server", "", "the server's socket or data dir (default: $HUGAI_SERVER, else the nearest .hugai/ walking up)")
}

// connect finds the server; not finding one is the user's to fix, with the hint in the error.
func connect(serverFlag string) (*client.Client, error) {
	c, err := client.Find(serverFlag)
	if err != nil {
		return nil, withCode(ExitFailed, err)
	}
	return c, nil
}

// apiErr gives a server's answer its exit code: the user's mistakes (bad input, unknown rollout)
// exit 2, the policy's refusals 5, the rest 1.
func apiErr(err error) error {
	if err == nil {
		return nil
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		if ae.Code == api.CodeBadInput || ae.Code == api.CodeNotFound {
			return badInput(err)
		}
		if ae.Code == api.CodeDenied || ae.Code == api.CodeUnauthenticated {
			return withCode(ExitDenied, err)
		}
		return withCode(ExitFailed, err)
	}
	if errors.Is(err, client.ErrUnreachable) {
		return withCode(ExitFailed, fmt.Errorf("%w (is 'hugai server' running?)", err))
	}
	return err
}

func (a *app) deployStatusCmd() *cobra.Command {
	var server, output string
	var watch bool
	var kt kubeTarget
	c := &cobra.Command{
		Use:   "status [ID | --target kubernetes NAME]",
		Short: "Show a rollout (default: the newest); --watch follows it to its end",
		Long: "status prints a rollout: steps, traffic, analysis and any pending approval. With --watch it\n" +
			"follows it like the command that started it and exits with its result (0 Succeeded,\n" +
			"3 RolledBack, 4 Aborted, 1 Failed).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if on, err := kt.on(); err != nil || on {
				if err != nil {
					return err
				}
				if len(args) != 1 {
					return badInput(errors.New("--target kubernetes: name the HugAIDeployment"))
				}
				return a.kubeStatus(c.Context(), &kt, args[0], output, watch)
			}
			cl, err := connect(server)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := c.Context()
			var r api.Rollout
			if len(args) == 1 {
				r, err = cl.Get(ctx, args[0])
			} else {
				r, err = newest(ctx, cl)
			}
			if err != nil {
				return apiErr(err)
			}
			if watch {
				if output != "table" {
					return badInput(errors.New("--watch prints the live view; leave out --output"))
				}
				fmt.Fprintln(a.out, r.ID)
				return a.followToEnd(ctx, cl, r)
			}
			return a.print(output, r, func(w io.Writer) error {
				_, err := io.WriteString(w, renderLive(r, time.Now()))
				return err
			})
		},
	}
	addServerFlag(c, &server)
	addOutputFlag(c, &output)
	c.Flags().BoolVarP(&watch, "watch", "w", false, "follow the rollout until it ends and exit with its result")
	kt.add(c)
	return c
}

func newest(ctx context.Context, cl *client.Client) (api.Rollout, error) {
	rs, err := cl.List(ctx, api.ListFilter{Limit: 1})
	if err != nil {
		return api.Rollout{}, err
	}
	if len(rs) == 0 {
		return api.Rollout{}, &api.Error{Code: api.CodeNotFound, Message: "no rollouts yet: start one with 'hugai deploy canary' or 'hugai deploy execute'"}
	}
	return rs[0], nil
}

// followToEnd follows r and returns its result as the command's exit.
func (a *app) followToEnd(ctx context.Context, cl *client.Client, r api.Rollout) error {
	end, err := a.newFollower(cl).follow(ctx, r)
	if err != nil {
		return withCode(ExitFailed, err)
	}
	return resultOf(end)
}

func (a *app) deployListCmd() *cobra.Command {
	var server, output string
	var f api.ListFilter
	c := &cobra.Command{
		Use:   "list",
		Short: "List rollouts, newest first",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := connect(server)
			if err != nil {
				return err
			}
			defer cl.Close()
			rs, err := cl.List(c.Context(), f)
			if err != nil {
				return apiErr(err)
			}
			return a.print(output, rs, func(w io.Writer) error { return printRollouts(w, rs, time.Now()) })
		},
	}
	addServerFlag(c, &server)
	addOutputFlag(c, &output)
	fl := c.Flags()
	fl.StringVar(&f.Service, "service", "", "only this service's rollouts")
	fl.StringVarP(&f.Environment, "environment", "e", "", "only rollouts to this environment")
	fl.BoolVar(&f.Active, "active", false, "only rollouts that have not ended")
	fl.IntVar(&f.Limit, "limit", 0, "at most this many (0: all)")
	return c
}

func printRollouts(w io.Writer, rs []api.Rollout, now time.Time) error {
	if len(rs) == 0 {
		_, err := fmt.Fprintln(w, "no rollouts")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSERVICE\tVERSION\tENVIRONMENT\tSTRATEGY\tPHASE\tAGE")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Service, r.Version, r.Environment, r.Strategy, r.Phase, shortDuration(now.Sub(r.CreatedAt)))
	}
	return tw.Flush()
}

// commandSpec describes one of the commands people send to a running rollout.
type commandSpec struct {
	kind            rollout.CommandKind
	short, done     string
	comment         bool // takes --comment
	full, emergency bool // takes --full / --emergency
	follow          bool // prints the rollout's ID and follows it to its end (--detach)
}

func (a *app) deployApproveCmd() *cobra.Command {
	return a.rolloutCommandCmd(commandSpec{kind: rollout.CommandApprove, short: "Approve the gate a rollout waits at (your OS user is recorded)", done: "approved", comment: true})
}

func (a *app) deployRejectCmd() *cobra.Command {
	return a.rolloutCommandCmd(commandSpec{kind: rollout.CommandReject, short: "Reject a rollout waiting for approval: it is aborted", done: "rejected", comment: true})
}

func (a *app) deployPromoteCmd() *cobra.Command {
	return a.rolloutCommandCmd(commandSpec{kind: rollout.CommandPromote, short: "Go on past the current pause (--full: skip the remaining steps)", done: "promoted", full: true})
}

func (a *app) deployAbortCmd() *cobra.Command {
	return a.rolloutCommandCmd(commandSpec{kind: rollout.CommandAbort, short: "Abort a rollout: traffic back to stable at once, the candidate stopped", done: "aborted"})
}

func (a *app) deployResumeCmd() *cobra.Command {
	return a.rolloutCommandCmd(commandSpec{kind: rollout.CommandResume, short: "Resume a paused rollout", done: "resumed"})
}

func (a *app) deployRollbackCmd() *cobra.Command {
	return a.rolloutCommandCmd(commandSpec{kind: rollout.CommandRollback, short: "Roll a live or succeeded rollout back to the previous release", done: "rolling back", emergency: true, follow: true})
}

func (a *app) rolloutCommandCmd(s commandSpec) *cobra.Command {
	var server, output string
	var detach bool
	var kt kubeTarget
	cmd := api.Command{Kind: s.kind}
	c := &cobra.Command{
		Use:   string(s.kind) + " ID | --target kubernetes NAME",
		Short: s.short,
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if on, err := kt.on(); err != nil || on {
				if err != nil {
					return err
				}
				return a.kubeCommand(c.Context(), &kt, s, cmd, args[0], output, detach)
			}
			cl, err := connect(server)
			if err != nil {
				return err
			}
			defer cl.Close()
			r, err := cl.Do(c.Context(), args[0], cmd)
			if err != nil {
				return apiErr(err)
			}
			if s.follow && output == "table" {
				// A rollback is a rollout of its own (a new one for a release that had succeeded):
				// its ID first, then followed to its end, as every acting command does.
				fmt.Fprintln(a.out, r.ID)
				if detach {
					return nil
				}
				return a.followToEnd(c.Context(), cl, r)
			}
			return a.print(output, r, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "%s %s: %s\n", s.done, r.ID, strings.Join(nonEmpty(r.Phase, r.Reason), ", "))
				return err
			})
		},
	}
	addServerFlag(c, &server)
	addOutputFlag(c, &output)
	if s.comment {
		c.Flags().StringVar(&cmd.Comment, "comment", "", "why, for the audit log")
		c.Flags().StringVar(&cmd.Gate, "gate", "", "the gate or checkpoint this is for (default: the one the rollout waits at; an optional checkpoint is signed off at any time)")
	}
	if s.full {
		c.Flags().BoolVar(&cmd.Full, "full", false, "skip the remaining steps and promote fully")
	}
	if s.emergency {
		c.Flags().BoolVar(&cmd.Emergency, "emergency", false, "do not wait for an approval of the database step")
	}
	if s.follow {
		c.Flags().BoolVar(&detach, "detach", false, "print the rollout's ID and exit 0 instead of following it")
	}
	kt.add(c)
	return c
}
