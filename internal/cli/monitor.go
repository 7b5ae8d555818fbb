package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hugai-dev/hugai/internal/api"
)

func (a *app) monitorCmd() *cobra.Command {
	var server, output, file, env, service string
	var every time.Duration
	var once bool
	c := &cobra.Command{
		Use:   "monitor --environment E",
		Short: "Watch the current release of an environment: health, performance, monitors, triggers",
		Long: "monitor measures the release serving an environment over the last analysis interval, as\n" +
			"the rollout that made it judged it: its replicas' health, the builtin performance metrics\n" +
			"against the success criteria, the plan's monitoring.metrics and the service's named metrics,\n" +
			"and each rollback trigger of its plan. On a terminal it redraws every --every until\n" +
			"interrupted; otherwise (or with --once, or -o json|yaml) it prints once. It changes nothing:\n" +
			"a trigger that holds is shown as FIRING for a person to act on (hugai deploy rollback), and\n" +
			"the exit code is 3 when one does.",
		Example: "  hugai monitor --environment production\n  hugai monitor -e production -o json",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if every <= 0 {
				return badInput(fmt.Errorf("--every %s: want a positive duration", every))
			}
			if service == "" {
				_, svc, err := loadServiceFile(file)
				if err != nil {
					return err
				}
				service = svc.Metadata.Name
				if env == "" {
					names := svc.EnvironmentNames()
					if len(names) != 1 {
						return badInput(fmt.Errorf("--environment is required: %s has %s", service, describeEnvs(names)))
					}
					env = names[0]
				}
			}
			if env == "" {
				return badInput(errors.New("--environment is required"))
			}
			cl, err := connect(server)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx := c.Context()
			width := 0
			if f, ok := a.out.(*os.File); ok && term.IsTerminal(int(f.Fd())) && output == "table" && !once {
				width = 80
				if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
					width = w
				}
			}
			var screen liveScreen
			for {
				m, err := cl.Monitor(ctx, service, env)
				if err != nil {
					return apiErr(err)
				}
				if width == 0 {
					if err := a.print(output, m, func(w io.Writer) error {
						_, err := io.WriteString(w, renderMonitor(m))
						return err
					}); err != nil {
						return err
					}
					if len(m.Firing) > 0 {
						return withCode(ExitRolledBack, fmt.Errorf("%s in %s: firing: %s", m.Version, env, strings.Join(m.Firing, ", ")))
					}
					return nil
				}
				screen.draw(a.out, renderMonitor(m)+fmt.Sprintf("(every %s; Ctrl-C to stop)\n", every), width)
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(every):
				}
			}
		},
	}
	addServerFlag(c, &server)
	addOutputFlag(c, &output)
	fl := c.Flags()
	fl.StringVarP(&file, "file", "f", "", "service file naming the service (default: hugai.yaml, found walking up)")
	fl.StringVar(&service, "service", "", "service to monitor (default: the service file's)")
	fl.StringVarP(&env, "environment", "e", "", "environment (default: the only one the service has)")
	fl.DurationVar(&every, "every", 5*time.Second, "how often the live view measures again")
	fl.BoolVar(&once, "once", false, "measure once and exit (3 if a trigger holds)")
	return c
}

// renderMonitor is the monitor's view of m. Pure, so it is golden-tested.
func renderMonitor(m api.Monitor) string {
	var b strings.Builder
	if m.Version == "" {
		fmt.Fprintf(&b, "%s in %s: no release yet\n", m.Service, m.Environment)
		return b.String()
	}
	fmt.Fprintf(&b, "%s %s in %s (released %s by %s)\n", m.Service, m.Version, m.Environment, m.ReleasedAt.Format(time.RFC3339), orDash(m.RolloutID))
	if m.Active != "" {
		fmt.Fprintf(&b, "  Rollout under way: %s (hugai deploy status %s)\n", m.Active, m.Active)
	}
	fmt.Fprintf(&b, "  Window:  %s – %s\n", m.From.Format("15:04:05"), m.To.Format("15:04:05"))
	h := m.Health
	health := fmt.Sprintf("%d/%d replicas ready, %d restarts", h.Ready, h.Desired, h.Restarts)
	if h.CrashLooping {
		health += ", crash-looping"
	}
	if h.Problem != "" {
		health += ": " + h.Problem
	}
	fmt.Fprintf(&b, "  Health:  %s\n", health)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tMETRIC\tVALUE\tCONDITION\tRESULT\tSAMPLES")
	for _, v := range m.Values {
		res := resultWord(v.Phase)
		if v.Kind == "trigger" {
			res = "quiet"
			if v.Phase == "Successful" {
				res = "FIRING"
			}
		} else if v.Condition == "" && v.Phase == "Successful" {
			res = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", v.Kind, v.Metric, orDash(v.Display), orDash(v.Condition), res, v.Samples)
	}
	tw.Flush()
	if len(m.Firing) > 0 {
		fmt.Fprintf(&b, "FIRING: %s — hugai deploy rollback %s goes back to the release before\n", strings.Join(m.Firing, ", "), orDash(m.RolloutID))
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
