package plan

import (
	"os"
	"strings"
	"testing"
)

// The seed's operator manifest (its CRD of HugAIDeployment and an example object) validates: the
// object is checked, the definition recognised with a pointer to hugai's own CRD.
func TestSeedOperatorManifest(t *testing.T) {
	b, err := os.ReadFile("testdata/seed-operator.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs, err := ParseFile("seed-operator.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].Kind != KindCustomResourceDefinition || docs[1].Kind != KindHugAIDeployment {
		t.Fatalf("documents: %+v", docs)
	}
	crd := docs[0].Value.(*CRD)
	if crd.Spec.Names.Kind != KindHugAIDeployment || crd.Metadata.Name != "hugaideployments.hugai.io" {
		t.Fatalf("CRD read as %+v", crd)
	}
	if len(docs[0].Warnings) != 1 || !strings.Contains(docs[0].Warnings[0].Error(), "seed-operator.yaml:2: kind: the CustomResourceDefinition of HugAIDeployment is recognised, not checked: install hugai's own (config/crd/hugai.io_hugaideployments.yaml)") {
		t.Fatalf("warnings: %v", docs[0].Warnings)
	}
	run, err := ParseRun("seed-operator.yaml", b)
	if err != nil {
		t.Fatalf("ParseRun of the manifest: %v", err)
	}
	if run.Kind != KindHugAIDeployment || len(run.Plan.Spec.Strategy.Canary.Steps) != 4 {
		t.Fatalf("run: %+v", run.Plan.Spec.Strategy)
	}
}

func TestCRDsThatAreNotHugais(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: rollouts.argoproj.io}\nspec:\n  group: argoproj.io\n  names: {kind: Rollout, plural: rollouts}\n",
			`f.yaml:5: spec.group: apiextensions.k8s.io/v1 CustomResourceDefinition of argoproj.io is not a hugai document`},
		{"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.hugai.io}\nspec:\n  group: hugai.io\n  names: {kind: Widget, plural: widgets}\n",
			`f.yaml:6: spec.names.kind: "Widget" is not a hugai kind; want one of DeploymentPlan, HugAIDeployment`},
		{"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: plans.hugai.io}\nspec:\n  group: hugai.io\n  names: {kind: DeploymentPlan, plural: deploymentplans}\n",
			`f.yaml:3: metadata.name: "plans.hugai.io": a CRD's name is <spec.names.plural>.<spec.group>, here "deploymentplans.hugai.io"`},
		{"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: x}\n",
			`CustomResourceDefinition of no group is not a hugai document`},
	} {
		_, err := ParseFile("f.yaml", []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\nerr = %v, want %q", c.doc, err, c.want)
		}
	}
	_, err := ParseRun("f.yaml", []byte("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: deploymentplans.hugai.io}\nspec:\n  group: hugai.io\n  names: {kind: DeploymentPlan, plural: deploymentplans}\n"))
	if err == nil || !strings.Contains(err.Error(), "no DeploymentPlan or HugAIDeployment, only a CustomResourceDefinition") {
		t.Errorf("ParseRun of a lone CRD: %v", err)
	}
}
