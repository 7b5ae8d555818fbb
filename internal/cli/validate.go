package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/schema"
)

type validateResult struct {
	File      string   `json:"file"`
	Valid     bool     `json:"valid"`
	Documents []string `json:"documents,omitempty"`
	Errors    []string `json:"errors,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

func (a *app) validateCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check service files (hugai.yaml) and DeploymentPlans",
		Long: "validate reads each file, checks every document in it (Service, DeploymentPlan, HugAIDeployment)\n" +
			"and reports every problem with its file, line and field. Exit code 2 when any file is invalid.\n\n" +
			"Given the service file too (hugai validate hugai.yaml plan.yaml), each plan is also checked\n" +
			"against it as execute would: every metric measurable, every automated checkpoint runnable,\n" +
			"every alerting channel configured.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var results []validateResult
			bad := false
			files := map[string][]plan.Document{}
			var services []*plan.Service
			for _, path := range args {
				r := validateResult{File: path}
				data, err := readInput(path)
				if err == nil {
					var docs []plan.Document
					docs, err = plan.ParseFile(path, data)
					files[path] = docs
					for _, d := range docs {
						r.Documents = append(r.Documents, d.Kind)
						for _, w := range d.Warnings {
							r.Warnings = append(r.Warnings, w.Error())
						}
						if svc, ok := d.Value.(*plan.Service); ok {
							services = append(services, svc)
						}
					}
				}
				if err != nil {
					bad = true
					var errs plan.Errors
					if errors.As(err, &errs) {
						for _, e := range errs {
							r.Errors = append(r.Errors, e.Error())
						}
					} else {
						r.Errors = append(r.Errors, err.Error())
					}
				}
				r.Valid = len(r.Errors) == 0
				results = append(results, r)
			}
			for i := range results {
				r := &results[i]
				for _, e := range checkAgainstServices(r.File, files[r.File], services) {
					r.Errors = append(r.Errors, e.Error())
				}
				if len(r.Errors) > 0 {
					r.Valid, bad = false, true
				}
			}
			err := a.print(output, results, func(w io.Writer) error {
				for _, r := range results {
					for _, e := range r.Errors {
						fmt.Fprintln(a.errOut, e)
					}
					for _, wn := range r.Warnings {
						fmt.Fprintln(a.errOut, "warning:", wn)
					}
					if r.Valid {
						fmt.Fprintf(w, "%s: valid (%d document(s): %v)\n", r.File, len(r.Documents), r.Documents)
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			if bad {
				return withCode(ExitBadInput, errors.New(""))
			}
			return nil
		},
	}
	addOutputFlag(c, &output)
	return c
}

func (a *app) schemaCmd() *cobra.Command {
	var out string
	kinds := map[string]string{
		"config": plan.KindService, "service": plan.KindService,
		"plan": plan.KindDeploymentPlan, "deployment": plan.KindHugAIDeployment,
	}
	c := &cobra.Command{
		Use:       "schema config|plan|deployment",
		Short:     "Print the JSON Schema of hugai.yaml (config), DeploymentPlan (plan) or HugAIDeployment",
		Long:      "schema prints a JSON Schema generated from hugai's own types, for editors to validate and\ncomplete files (e.g. `# yaml-language-server: $schema=...` or your editor's schema settings).",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"config", "plan", "deployment"},
		RunE: func(c *cobra.Command, args []string) error {
			kind, ok := kinds[args[0]]
			if !ok {
				return badInput(fmt.Errorf("schema %q: want config, plan or deployment", args[0]))
			}
			b, err := schema.Generate(kind)
			if err != nil {
				return err
			}
			return a.writeOutput(out, append(b, '\n'))
		},
	}
	c.Flags().StringVar(&out, "out", "-", "write the schema to FILE")
	return c
}

// checkAgainstServices checks each plan of a file against the service file given with it (the one
// its spec.service names, or the only one), for its environment or, naming none, for every
// environment of the service.
func checkAgainstServices(file string, docs []plan.Document, services []*plan.Service) plan.Errors {
	var out plan.Errors
	seen := map[string]bool{}
	for _, d := range docs {
		if d.Kind != plan.KindDeploymentPlan && d.Kind != plan.KindHugAIDeployment {
			continue
		}
		run, err := plan.RunOf(file, d)
		if err != nil {
			continue
		}
		svc := serviceFor(run.Plan.Spec.Service, services)
		if svc == nil {
			continue
		}
		envs := []string{run.Plan.Spec.Environment}
		if envs[0] == "" && len(svc.Spec.Environments) > 0 {
			envs = svc.EnvironmentNames()
		}
		for _, env := range envs {
			for _, e := range plan.CheckAgainst(file, d.Positions, run.Plan, run.Rename, svc, env) {
				if !seen[e.Error()] {
					seen[e.Error()] = true
					out = append(out, e)
				}
			}
		}
	}
	return out
}

func serviceFor(name string, services []*plan.Service) *plan.Service {
	for _, s := range services {
		if s.Metadata.Name == name {
			return s
		}
	}
	if len(services) == 1 {
		return services[0]
	}
	return nil
}
