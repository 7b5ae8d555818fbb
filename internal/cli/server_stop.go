package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/hugai-dev/hugai/internal/client"
)

// stopWait bounds how long `server stop` waits for the server to go; a server that finishes its
// current tick and closes its store takes well under this.
const stopWait = 30 * time.Second

// serverStopCmd is `hugai server stop`; the server command attaches it.
func (a *app) serverStopCmd() *cobra.Command {
	var server string
	var all bool
	c := &cobra.Command{
		Use:   "stop",
		Short: "Stop the hugai server (--all: its proxies and services too)",
		Long: "stop asks the server to stop and waits until its socket no longer answers. Without --all the\n" +
			"proxies and services keep serving the last routes, and a server started again takes them over.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := connect(server)
			if err != nil {
				return err
			}
			defer cl.Close()
			return a.stopServer(c.Context(), cl, all, stopWait)
		},
	}
	addServerFlag(c, &server)
	c.Flags().BoolVar(&all, "all", false, "stop the proxies and the services' processes too")
	return c
}

func (a *app) stopServer(ctx context.Context, cl *client.Client, all bool, wait time.Duration) error {
	info, err := cl.Info(ctx)
	if err != nil {
		return apiErr(err)
	}
	if err := cl.Shutdown(ctx, all); err != nil {
		return apiErr(err)
	}
	deadline := time.Now().Add(wait)
	for {
		cl.Close() // a kept-alive connection would outlive the listener and answer for it
		_, err := cl.Info(ctx)
		if errors.Is(err, client.ErrUnreachable) {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return withCode(ExitFailed, fmt.Errorf("hugai server (pid %d) still answers on %s after %s", info.PID, cl.Socket(), wait))
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	// The socket goes last, but the process may still be on its way out: wait for it too, so that
	// whatever runs next (a new server, a test's cleanup) finds nothing of this one.
	for info.PID > 0 && unix.Kill(info.PID, 0) == nil {
		if time.Now().After(deadline) {
			return withCode(ExitFailed, fmt.Errorf("hugai server (pid %d) still runs after %s", info.PID, wait))
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	what := "stopped hugai server"
	if all {
		what += " and its proxies and services"
	}
	fmt.Fprintf(a.out, "%s (pid %d, data dir %s)\n", what, info.PID, info.DataDir)
	return nil
}
