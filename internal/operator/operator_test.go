package operator

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	hugaiv1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
	"github.com/hugai-dev/hugai/internal/plan"
)

// The object the API server holds reads back, through the engine's own parser, as the plan the
// user wrote: steps, pauses, governance, and who asked for it (four-eyes reads that).
func TestPlanDocumentIsTheSpec(t *testing.T) {
	pause := plan.Seconds{Duration: plan.D(90 * time.Second)}
	hd := &hugaiv1.HugAIDeployment{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "shop", Generation: 3,
			Annotations: map[string]string{AnnotationRequestedBy: "alice"}},
		Spec: plan.HugAIDeploymentSpec{Service: "checkout", Version: "v7", Strategy: plan.Strategy{Type: "canary",
			Governance: &plan.StrategyGovernance{ApprovalRequired: true}},
			Rollout: &plan.RolloutSteps{Steps: []plan.WeightStep{{Weight: 5, Pause: &pause}, {Weight: 100}}}},
	}
	doc, err := planDocument(hd, nil)
	if err != nil {
		t.Fatal(err)
	}
	run, err := plan.ParseRun("hd.yaml", doc)
	if err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	p := run.Plan
	if p.Spec.Service != "checkout" || p.Spec.Version != "v7" || p.Spec.Environment != "shop" {
		t.Fatalf("service %q version %q environment %q (the namespace names it)", p.Spec.Service, p.Spec.Version, p.Spec.Environment)
	}
	steps := p.Spec.Strategy.Canary.Steps
	if len(steps) != 2 || *steps[0].SetWeight != 5 || steps[0].Pause.Duration.Duration.Duration != 90*time.Second || *steps[1].SetWeight != 100 {
		t.Fatalf("steps %+v\n%s", steps, doc)
	}
	if g := p.Spec.Strategy.Governance; g == nil || !g.ApprovalRequired {
		t.Fatalf("governance lost:\n%s", doc)
	}
	if by := p.Metadata.Annotations[plan.AnnotationPlannedBy]; by != "alice" {
		t.Fatalf("planned-by %q, want alice", by)
	}
	if who := requester(hd); who.Name != "alice" {
		t.Fatalf("requester %q", who.Name)
	}
	delete(hd.Annotations, AnnotationRequestedBy)
	if who := requester(hd); who.Name != "hugaideployment/shop/checkout" {
		t.Fatalf("requester without the annotation %q", who.Name)
	}
}

func TestReadyAfterCommitKeepsARefusalUntilANewRollout(t *testing.T) {
	refused := &metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "InvalidSpec", ObservedGeneration: 3}
	running := metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Running"}
	if got := readyAfterCommit(refused, running, false); got.Reason != "InvalidSpec" {
		t.Fatalf("a commit of the rollout in flight cleared the refusal: %+v", got)
	}
	if got := readyAfterCommit(refused, running, true); got.Reason != "Running" {
		t.Fatalf("a new rollout (a spec accepted) kept the refusal: %+v", got)
	}
	ok := &metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Running"}
	ended := metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Succeeded"}
	if got := readyAfterCommit(ok, ended, false); got.Reason != "Succeeded" {
		t.Fatalf("the rollout's own Ready: %+v", got)
	}
	if got := readyAfterCommit(nil, running, false); got.Reason != "Running" {
		t.Fatalf("no Ready yet: %+v", got)
	}
}
