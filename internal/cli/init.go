package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/hugai-dev/hugai/internal/plan"
)

type initAnswers struct {
	Name    string
	Command string
	Listen  string
	Admin   string
	Health  string
}

var serviceTemplate = template.Must(template.New("hugai.yaml").Parse(`# hugai.yaml — how {{.Name}} runs and how its deployments are governed.
# Check it with ` + "`hugai validate hugai.yaml`" + `; editors can use ` + "`hugai schema config`" + `.
apiVersion: hugai.io/v1
kind: Service
metadata:
  name: {{.Name}}
spec:
  target:
    type: local                      # local (processes behind hugai's proxy) | kubernetes
    local:
      # argv, no shell; {{"{{"}}.Port{{"}}"}} and {{"{{"}}.Version{{"}}"}} are filled per process (the port is also in $PORT).
      command: {{.Command}}
      replicas: 2
      listen: {{.Listen}}            # where users reach the service, through hugai's proxy
      admin: {{.Admin}}             # the proxy's /metrics and /healthz
      gracePeriod: 10s               # SIGTERM, then SIGKILL after this

  progressDeadline: 2m               # a version not ready (or crash-looping) by then is rolled back

  healthChecks:
    - name: ready
      path: {{.Health}}
      interval: 5s
      timeout: 2s
      failureThreshold: 3
      successThreshold: 1

  environments:
    staging:
      successCriteria: error_rate<2%,latency_p95<3s
      analysis:
        method: sequential           # compare with the running version second by second (docs/analysis.md)
        interval: 30s                # how often the judge looks; each look covers the step so far
        minimumSamples: 20           # a step passes only on this many requests; fewer is never a pass
    production:
      successCriteria: error_rate<1%,latency_p95<2s
      analysis:
        method: sequential
        alpha: 0.01                  # the false-rollback rate allowed over a rollout
        interval: 30s
        minimumSamples: 20
      strategyByRisk:                # what ` + "`hugai deploy plan`" + ` picks; --strategy overrides
        low: rolling
        medium: canary
        high: canary
        critical: blueGreen
      policy:
        approvers: []                # e.g. [alice, production-team@example.com]
        requireApprovalFrom: high    # risk level from which an approval is required
        approvalTimeout: 1h
        timezone: UTC
        freezeWindows:
          - name: weekend
            start: "0 18 * * FRI"    # cron: Friday 18:00
            duration: 62h
`))

func (a *app) initCmd() *cobra.Command {
	var ans initAnswers
	var out string
	var force bool
	c := &cobra.Command{
		Use:   "init",
		Short: "Write a commented hugai.yaml for a service",
		Long:  "init writes a hugai.yaml that validates as written. On a terminal it asks for what it does not\nknow; otherwise (a script, CI) it asks nothing and uses the flags and defaults.",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if !force {
				if _, err := os.Stat(out); err == nil {
					return badInput(fmt.Errorf("%s exists; pass --force to overwrite it", out))
				} else if !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
			if ans.Name == "" {
				wd, _ := os.Getwd()
				ans.Name = sanitizeName(filepath.Base(wd))
			}
			if f, ok := a.in.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !c.Flags().Changed("name") {
				r := bufio.NewReader(a.in)
				ans.Name = a.ask(r, "Service name", ans.Name)
				ans.Command = a.ask(r, "Command that starts one replica", ans.Command)
				ans.Listen = a.ask(r, "Address users reach it on", ans.Listen)
			}
			ans.Name = sanitizeName(ans.Name)
			fields := strings.Fields(ans.Command)
			quoted := make([]string, len(fields))
			for i, f := range fields {
				quoted[i] = fmt.Sprintf("%q", f)
			}
			view := ans
			view.Command = "[" + strings.Join(quoted, ", ") + "]"
			var buf bytes.Buffer
			if err := serviceTemplate.Execute(&buf, view); err != nil {
				return err
			}
			// Never write a file that `validate` would reject.
			if _, err := plan.ParseService(out, buf.Bytes()); err != nil {
				return badInput(err)
			}
			if err := a.writeOutput(out, buf.Bytes()); err != nil {
				return err
			}
			if out != "-" {
				fmt.Fprintf(a.out, "wrote %s for service %s; check it with `hugai validate %s`\n", out, ans.Name, out)
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&ans.Name, "name", "", "service name (default: the directory's name)")
	fl.StringVar(&ans.Command, "command", "./server --port {{.Port}}", "command that starts one replica (split on spaces)")
	fl.StringVar(&ans.Listen, "listen", "127.0.0.1:8080", "address users reach the service on")
	fl.StringVar(&ans.Admin, "admin", "127.0.0.1:9090", "address of the proxy's /metrics")
	fl.StringVar(&ans.Health, "health-path", "/healthz", "readiness path of the service")
	fl.StringVar(&out, "out", "hugai.yaml", "write to FILE (- for standard output)")
	fl.BoolVar(&force, "force", false, "overwrite an existing file")
	return c
}

func (a *app) ask(r *bufio.Reader, question, def string) string {
	fmt.Fprintf(a.out, "%s [%s]: ", question, def)
	line, err := r.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return def
	}
	if line = strings.TrimSpace(line); line != "" {
		return line
	}
	return def
}

// sanitizeName turns a directory name into a valid service name.
func sanitizeName(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		out = "service"
	}
	if len(out) > 63 {
		out = strings.Trim(out[:63], "-")
	}
	return out
}
