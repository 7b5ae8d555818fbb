package operator

import (
	"errors"
	"os"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	hugaiv1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
	"github.com/hugai-dev/hugai/internal/plan"
)

// seedPlan is the seed's DeploymentPlan as the API server would hold it.
func seedPlan(t *testing.T) *hugaiv1.DeploymentPlan {
	t.Helper()
	b, err := os.ReadFile("../plan/testdata/seed-plan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	docs, err := plan.ParseFile("seed-plan.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	p := docs[0].Value.(*plan.DeploymentPlan)
	return &hugaiv1.DeploymentPlan{
		ObjectMeta: metav1.ObjectMeta{Name: p.Metadata.Name, Namespace: p.Metadata.Namespace, UID: types.UID("u-1"), Generation: 4,
			Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{…}"}},
		Spec: p.Spec,
	}
}

// A HugAIDeployment naming the seed's DeploymentPlan runs the plan's steps and governance with its
// own service and version, and the document says which plan it came from; read back from the
// frozen plan in the status, that is what a restarted operator compares with the cluster.
func TestPlanRefDocumentIsThePlanWithTheDeploymentsWhat(t *testing.T) {
	dp := seedPlan(t)
	hd := &hugaiv1.HugAIDeployment{
		ObjectMeta: metav1.ObjectMeta{Name: "my-app", Namespace: "production", Generation: 2,
			Annotations: map[string]string{AnnotationRequestedBy: "alice"}},
		Spec: plan.HugAIDeploymentSpec{Version: "v2", PlanRef: &plan.PlanRef{Name: dp.Name}},
	}
	doc, err := planDocument(hd, dp)
	if err != nil {
		t.Fatal(err)
	}
	run, err := plan.ParseRun("plan", doc)
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	p := run.Plan
	if p.Spec.Service != "my-app" || p.Spec.Version != "v2" || p.Spec.Environment != "production" {
		t.Fatalf("what: %s %s %s\n%s", p.Spec.Service, p.Spec.Version, p.Spec.Environment, doc)
	}
	if c := p.Spec.Strategy.Canary; c == nil || len(c.Steps) != 4 || *c.Steps[1].SetWeight != 25 || c.Analysis == nil || p.Spec.Governance == nil {
		t.Fatalf("the plan's how was not carried:\n%s", doc)
	}
	a := p.Metadata.Annotations
	if a[plan.AnnotationPlan] != dp.Name || a[plan.AnnotationPlanGeneration] != "u-1/4" || a[plan.AnnotationPlannedBy] != "alice" {
		t.Fatalf("annotations %v", a)
	}
	if strings.Contains(string(doc), "last-applied") {
		t.Fatalf("kubectl's bookkeeping in the plan:\n%s", doc)
	}

	// What the engine freezes is what the status holds; the source is read back from it.
	frozen, err := plan.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	hd.Status.Rollout = &hugaiv1.RolloutRecord{ID: "my-app-1", Phase: "Progressing", Plan: string(frozen)}
	if got := frozenPlanSource(hd); got != planSource(dp) || !inFlight(hd) {
		t.Fatalf("frozen source %q (want %q), in flight %v", got, planSource(dp), inFlight(hd))
	}
	dp.Generation++ // an edit
	if frozenPlanSource(hd) == planSource(dp) {
		t.Fatal("an edit of the plan is not seen as a change")
	}
	dp.Generation, dp.UID = 4, "u-2" // deleted and created again
	if frozenPlanSource(hd) == planSource(dp) {
		t.Fatal("a re-created plan is not seen as a change")
	}
	hd.Status.Rollout.Phase = "Succeeded"
	if inFlight(hd) {
		t.Fatal("a Succeeded rollout is in flight")
	}

	// A plan that names another service than the HugAIDeployment (whose service defaults to its
	// name) is InvalidSpec, naming both objects.
	dp.Spec.Service = "cart"
	_, err = planDocument(hd, dp)
	var bad *invalidError
	if !errors.As(err, &bad) || bad.reason != "InvalidSpec" || !strings.Contains(bad.msg, "production/my-app") || !strings.Contains(bad.msg, "production/"+dp.Name) {
		t.Fatalf("service mismatch: %v", err)
	}
	// Without a version of its own the HugAIDeployment runs the plan's.
	dp.Spec.Service, dp.Spec.Version, hd.Spec.Version = "", "v9", ""
	if doc, err = planDocument(hd, dp); err != nil || !strings.Contains(string(doc), "version: v9") {
		t.Fatalf("the plan's version: %v\n%s", err, doc)
	}
}
