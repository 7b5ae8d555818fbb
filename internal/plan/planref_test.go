package plan

import (
	"errors"
	"os"
	"strings"
	"testing"
)

const planRefHD = `apiVersion: hugai.io/v1
kind: HugAIDeployment
metadata:
  name: my-app
  namespace: production
spec:
  service: my-app
  version: v2
  planRef:
    name: my-app-deployment
`

// A HugAIDeployment with planRef says what; how is the plan's. It parses without a strategy, and
// is refused (file, line, field) with a strategy, rollout, monitoring or rollback of its own.
func TestPlanRefRefusesAHowOfItsOwn(t *testing.T) {
	docs, err := ParseFile("hd.yaml", []byte(planRefHD))
	if err != nil {
		t.Fatalf("planRef without a strategy: %v", err)
	}
	if d := docs[0].Value.(*HugAIDeployment); d.Spec.PlanRef == nil || d.Spec.PlanRef.Name != "my-app-deployment" {
		t.Fatalf("planRef read as %+v", d.Spec.PlanRef)
	}
	for _, tc := range []struct{ extra, want string }{
		{"  strategy: {type: canary}\n", "hd.yaml:11: spec.strategy: set with spec.planRef"},
		{"  rollout: {steps: [{weight: 5}]}\n", "hd.yaml:11: spec.rollout: set with spec.planRef"},
		{"  monitoring: {duration: 5m}\n", "hd.yaml:11: spec.monitoring: set with spec.planRef"},
		{"  rollback: {automatic: false}\n", "hd.yaml:11: spec.rollback: set with spec.planRef"},
	} {
		_, err := ParseFile("hd.yaml", []byte(planRefHD+tc.extra))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("planRef and %s: %v, want %q", strings.TrimSpace(tc.extra), err, tc.want)
		}
	}
	bad := strings.Replace(planRefHD, "name: my-app-deployment", "name: My_Plan", 1)
	if _, err := ParseFile("hd.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "hd.yaml:10: spec.planRef.name") {
		t.Errorf("a planRef that names no object: %v", err)
	}
	// Neither planRef nor a strategy: the strategy is what is missing.
	none := strings.Replace(planRefHD, "  planRef:\n    name: my-app-deployment\n", "", 1)
	if _, err := ParseFile("hd.yaml", []byte(none)); err == nil || !strings.Contains(err.Error(), "spec.strategy.type: missing") {
		t.Errorf("neither strategy nor planRef: %v", err)
	}
	// It cannot run without the cluster, and says who runs it.
	if _, err := ParseRun("hd.yaml", []byte(planRefHD)); err == nil || !strings.Contains(err.Error(), "spec.planRef: runs DeploymentPlan my-app-deployment") {
		t.Errorf("ParseRun of a planRef: %v", err)
	}
}

// The seed's DeploymentPlan (strategy and governance, no service or version) run by a
// HugAIDeployment: the plan's spec whole, the deployment's what, and where it came from.
func TestWithPlanIsThePlanWithTheDeploymentsWhat(t *testing.T) {
	b, err := os.ReadFile("testdata/seed-plan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seed, err := ParseFile("seed-plan.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	dp := seed[0].Value.(*DeploymentPlan)
	dp.Spec.Environment = "" // as the CRD object holds it: the namespace is not spec.environment
	dp.Metadata.Annotations = map[string]string{AnnotationPlannedBy: "bob", "kubectl.kubernetes.io/last-applied-configuration": "{…}"}
	docs, err := ParseFile("hd.yaml", []byte(planRefHD))
	if err != nil {
		t.Fatal(err)
	}
	hd := docs[0].Value.(*HugAIDeployment)
	got, err := hd.WithPlan(dp)
	if err != nil {
		t.Fatal(err)
	}
	if s := got.Spec; s.Service != "my-app" || s.Version != "v2" || s.Environment != "production" {
		t.Fatalf("what: %s %s %s", s.Service, s.Version, s.Environment)
	}
	if len(got.Spec.Strategy.Canary.Steps) != 4 || got.Spec.Governance == nil || len(got.Spec.Governance.Approvals) != 1 {
		t.Fatalf("the plan's how was not carried: %+v", got.Spec)
	}
	a := got.Metadata.Annotations
	if a[AnnotationPlan] != "my-app-deployment" || a[AnnotationDeployment] != "my-app" || a[AnnotationPlannedBy] != "bob" {
		t.Fatalf("annotations %v", a)
	}
	if _, ok := a["kubectl.kubernetes.io/last-applied-configuration"]; ok {
		t.Fatalf("kubectl's bookkeeping copied into the plan: %v", a)
	}
	// What is run reads back through the engine's parser as the same plan.
	out, err := Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseRun("plan", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if back.Plan.Spec.Version != "v2" || len(back.Plan.Spec.Strategy.Canary.Steps) != 4 {
		t.Fatalf("read back: %+v", back.Plan.Spec)
	}

	// Each of service, version, environment may come from either; set in both they must agree.
	hd.Spec.Version = ""
	dp.Spec.Version = "v3"
	if got, err := hd.WithPlan(dp); err != nil || got.Spec.Version != "v3" {
		t.Fatalf("the plan's version when the deployment names none: %v %v", got, err)
	}
	hd.Spec.Version = "v2"
	_, err = hd.WithPlan(dp)
	var mm *MismatchError
	if !errors.As(err, &mm) || mm.Field != "spec.version" || !strings.Contains(err.Error(), "production/my-app") || !strings.Contains(err.Error(), "production/my-app-deployment") {
		t.Fatalf("version v2 against the plan's v3: %v", err)
	}
	dp.Spec.Version, dp.Spec.Environment = "", "staging"
	if got, err := hd.WithPlan(dp); err != nil || got.Spec.Environment != "staging" {
		t.Fatalf("the plan's environment when the deployment names none: %v %v", got, err)
	}
	hd.Spec.Environment = "production"
	if _, err := hd.WithPlan(dp); !errors.As(err, &mm) || mm.Field != "spec.environment" || mm.InDeployment != "production" || mm.InPlan != "staging" {
		t.Fatalf("environment: %v", err)
	}
}
