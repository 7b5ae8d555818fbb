package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hugai-dev/hugai/internal/export/argo"
	"github.com/hugai-dev/hugai/internal/plan"
)

func (a *app) exportCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "export",
		Short: "Write a DeploymentPlan in another controller's terms",
	}
	c.AddCommand(a.exportArgoCmd())
	return c
}

func (a *app) exportArgoCmd() *cobra.Command {
	var planFile, serviceFile, out, version, env, judge string
	c := &cobra.Command{
		Use:   "argo-rollouts --plan deployment-plan.yaml",
		Short: "Write an Argo Rollouts Rollout and its AnalysisTemplates equivalent to a plan",
		Long: "export argo-rollouts reads a DeploymentPlan and the service file it runs against (-f, else\n" +
			"hugai.yaml walking up) and writes an Argo Rollout whose workloadRef is the service's Deployment,\n" +
			"with the AnalysisTemplates its steps, success criteria and rollback triggers become. What Argo\n" +
			"cannot express (recreate, builtin proxy metrics, a gradual blue-green switch, …) is refused\n" +
			"with file:line:field, exit 2; what it expresses more weakly (approvals as indefinite pauses)\n" +
			"is printed as a note on standard error. The mapping: docs/kubernetes.md.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if planFile == "" {
				return badInput(fmt.Errorf("--plan FILE is required: the DeploymentPlan to export"))
			}
			res, err := exportArgo(planFile, serviceFile, version, env, judge)
			if err != nil {
				return err
			}
			for _, n := range res.Notes {
				fmt.Fprintln(a.errOut, "hugai: note:", n)
			}
			data, err := res.YAML()
			if err != nil {
				return err
			}
			return a.writeOutput(out, data)
		},
	}
	c.Flags().StringVar(&planFile, "plan", "", "the DeploymentPlan to export")
	c.Flags().StringVarP(&serviceFile, "file", "f", "", "the service file (default: hugai.yaml, found walking up)")
	c.Flags().StringVar(&out, "out", "-", "write to FILE instead of standard output")
	c.Flags().StringVar(&version, "version", "", "the version the Rollout deploys, when the plan names none")
	c.Flags().StringVarP(&env, "environment", "e", "", "the environment, when the plan names none (default: the only one the service has)")
	c.Flags().StringVar(&judge, "judge", "", "also ask hugai's sequential judge in every canary analysis: the name of its AnalysisTemplate (config/argo/hugai-analysis.yaml: hugai-analysis)")
	return c
}

// exportArgo reads both files with their positions (every refusal names file:line:field), checks
// the plan against the service as execute would, then translates it.
func exportArgo(planFile, serviceFile, version, env, judge string) (*argo.Result, error) {
	data, err := readInput(planFile)
	if err != nil {
		return nil, err
	}
	docs, err := plan.ParseFile(planFile, data)
	if err != nil {
		return nil, badInput(err)
	}
	if len(docs) != 1 || docs[0].Kind != plan.KindDeploymentPlan {
		return nil, badInput(&plan.FieldError{File: planFile, Line: docs[0].Line, Path: "kind", Msg: fmt.Sprintf("%s: want one DeploymentPlan", docs[0].Kind)})
	}
	pd := docs[0]
	p := pd.Value.(*plan.DeploymentPlan)

	svcPath, err := findServiceFile(serviceFile)
	if err != nil {
		return nil, err
	}
	if data, err = readInput(svcPath); err != nil {
		return nil, err
	}
	sdocs, err := plan.ParseFile(svcPath, data)
	if err != nil {
		return nil, badInput(err)
	}
	if len(sdocs) != 1 || sdocs[0].Kind != plan.KindService {
		return nil, badInput(&plan.FieldError{File: svcPath, Line: sdocs[0].Line, Path: "kind", Msg: fmt.Sprintf("%s: want one Service", sdocs[0].Kind)})
	}
	svc := sdocs[0].Value.(*plan.Service)
	if p.Spec.Service != "" && p.Spec.Service != svc.Metadata.Name {
		return nil, badInput(&plan.FieldError{File: planFile, Line: pd.Positions.Line("spec.service"), Path: "spec.service", Msg: fmt.Sprintf("%s: the service file %s describes %s", p.Spec.Service, svcPath, svc.Metadata.Name)})
	}
	// As execute does: flags fill what a hand-written plan leaves out, and never override a
	// reviewed plan.
	for _, fill := range []struct {
		flag, value, field string
		planValue          *string
	}{
		{"--version", version, "spec.version", &p.Spec.Version},
		{"--environment", env, "spec.environment", &p.Spec.Environment},
	} {
		switch {
		case fill.value == "":
		case *fill.planValue == "":
			*fill.planValue = fill.value
		case *fill.planValue != fill.value:
			return nil, badInput(&plan.FieldError{File: planFile, Line: pd.Positions.Line(fill.field), Path: fill.field, Msg: fmt.Sprintf("%s: %s %s differs; a reviewed plan is exported as written", *fill.planValue, fill.flag, fill.value)})
		}
	}
	if p.Spec.Environment == "" && len(svc.Spec.Environments) == 1 {
		p.Spec.Environment = svc.EnvironmentNames()[0]
	}
	if errs := plan.CheckAgainst(planFile, pd.Positions, p, nil, svc, p.Spec.Environment); len(errs) > 0 {
		return nil, badInput(errs)
	}
	res, err := argo.Export(argo.Input{PlanFile: planFile, PlanPos: pd.Positions, Plan: p, ServiceFile: svcPath, ServicePos: sdocs[0].Positions, Service: svc, Judge: judge})
	if err != nil {
		return nil, badInput(err)
	}
	return res, nil
}
