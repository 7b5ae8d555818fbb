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
			"and reports every problem with its file, line and field. Exit code 2 when any file is invalid.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var results []validateResult
			bad := false
			for _, path := range args {
				r := validateResult{File: path}
				data, err := readInput(path)
				if err == nil {
					var docs []plan.Document
					docs, err = plan.ParseFile(path, data)
					for _, d := range docs {
						r.Documents = append(r.Documents, d.Kind)
						for _, w := range d.Warnings {
							r.Warnings = append(r.Warnings, w.Error())
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
