// Package cli holds hugai's cobra commands. Commands stay thin: parse flags, call a package, print.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes, as DESIGN.md defines them for every acting command.
const (
	ExitOK         = 0
	ExitFailed     = 1 // failed to run, or the rollback failed
	ExitBadInput   = 2 // bad input: file:line:field
	ExitRolledBack = 3
	ExitAborted    = 4
	// ExitDenied: the environment's policy refused the caller (role, four-eyes, freeze window);
	// the message names the rule. Scripts tell it apart from a failure to run.
	ExitDenied = 5
)

// exitError carries an exit code out of a command. Its message is printed as is.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// badInput marks err as the user's mistake: exit code 2.
func badInput(err error) error { return &exitError{code: ExitBadInput, err: err} }

// withCode returns an error that makes hugai exit with code; a nil err prints nothing.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// Build information, set by the linker (-X).
var (
	version = "dev"
	commit  = "unknown"
)

// app is what every command shares: where output goes. No global state: Main builds one per run.
type app struct {
	in     io.Reader
	out    io.Writer
	errOut io.Writer
}

// Main runs hugai with args and returns the process exit code.
func Main(args []string, in io.Reader, out, errOut io.Writer) int {
	a := &app{in: in, out: out, errOut: errOut}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(errOut, "hugai:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(errOut, "hugai:", err)
	if isUsageError(err) || isCobraUsage(err) {
		return ExitBadInput
	}
	return ExitFailed
}

// isCobraUsage recognises cobra's own usage errors (an unknown command, a wrong number of
// arguments), which it returns untyped: they are bad input like any other.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command ", "accepts ", "requires at least ", "requires at most ", "invalid argument "} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// usageError marks flag and argument mistakes that cobra reports.
type usageError struct{ error }

func isUsageError(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "hugai",
		Short:         "Ship a new version of a service safely",
		Long:          "hugai plans a rollout from the change itself, moves real traffic step by step, measures the new\nversion against the old, asks people where policy says so and rolls back on its own.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nsee '%s --help'", err, c.CommandPath())}
	})
	root.AddCommand(
		a.versionCmd(),
		a.validateCmd(),
		a.schemaCmd(),
		a.deployCmd(),
		a.initCmd(),
		a.proxyCmd(),
		a.auditCmd(),
		a.serverCmd(),
		a.logsCmd(),
		a.analyzeCmd(),
		a.monitorCmd(),
		a.releaseCmd(),
		a.riskCmd(),
		a.tokenCmd(),
		a.exportCmd(),
		a.operatorCmd(),
	)
	return root
}

func (a *app) versionCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "version",
		Short: "Print hugai's version",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			info := map[string]string{"version": version, "commit": commit}
			return a.print(output, info, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "hugai %s (%s)\n", version, commit)
				return err
			})
		},
	}
	addOutputFlag(c, &output)
	return c
}
