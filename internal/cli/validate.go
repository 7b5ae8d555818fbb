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
			var plans []fileDoc // DeploymentPlans, for the HugAIDeployments whose planRef names them
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
						if d.Kind == plan.KindDeploymentPlan {
							plans = append(plans, fileDoc{path, d})
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
				errs, notes := checkPlanRefs(r.File, files[r.File], plans, services)
				for _, e := range errs {
					r.Errors = append(r.Errors, e.Error())
				}
				r.Warnings = append(r.Warnings, notes...)
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

// fileDoc is a document and the file it was read from.
type fileDoc struct {
	file string
	doc  plan.Document
}

// checkPlanRefs checks the HugAIDeployments of file that name a DeploymentPlan (spec.planRef).
// Without the cluster, what can be checked is the object itself (ParseFile did) and, when the
// DeploymentPlan it names is among the files given, that plan run with the object's service,
// version and environment: they must agree with the plan's, and with the service file given too,
// the plan is checked against it as the operator's engine will. Otherwise a note says what was
// left to the cluster.
func checkPlanRefs(file string, docs []plan.Document, plans []fileDoc, services []*plan.Service) (plan.Errors, []string) {
	var errs plan.Errors
	var notes []string
	for _, d := range docs {
		hd, ok := d.Value.(*plan.HugAIDeployment)
		if !ok || hd.Spec.PlanRef == nil {
			continue
		}
		name := hd.Spec.PlanRef.Name
		var ref *fileDoc
		for i, p := range plans {
			dp := p.doc.Value.(*plan.DeploymentPlan)
			if dp.Metadata.Name == name && (dp.Metadata.Namespace == "" || hd.Metadata.Namespace == "" || dp.Metadata.Namespace == hd.Metadata.Namespace) {
				ref = &plans[i]
				break
			}
		}
		if ref == nil {
			notes = append(notes, fmt.Sprintf("%s: spec.planRef: DeploymentPlan %s is read in the cluster; give its file too to check the two together", hd.Metadata.Name, name))
			continue
		}
		dp := *ref.doc.Value.(*plan.DeploymentPlan)
		// In the cluster the plan lives in the object's namespace, which names the environment
		// unless spec.environment does (hd's own defaults, as the operator applies them).
		what := *hd
		if what.Spec.Service == "" {
			what.Spec.Service = hd.Metadata.Name
		}
		if what.Spec.Environment == "" {
			what.Spec.Environment = hd.Metadata.Namespace
		}
		p, err := what.WithPlan(&dp)
		if err != nil {
			errs = append(errs, &plan.FieldError{File: file, Line: d.Positions.Line("spec.planRef"), Path: "spec.planRef", Msg: err.Error()})
			continue
		}
		svc := serviceFor(p.Spec.Service, services)
		if svc == nil {
			continue
		}
		envs := []string{p.Spec.Environment}
		if envs[0] == "" {
			envs = svc.EnvironmentNames()
		}
		for _, env := range envs {
			errs = append(errs, plan.CheckAgainst(ref.file, ref.doc.Positions, p, nil, svc, env)...)
		}
	}
	return errs, notes
}
