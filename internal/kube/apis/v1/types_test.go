package v1_test

import (
	"bytes"
	"os"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	v1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
	"github.com/hugai-dev/hugai/internal/plan"
)

// seedDocs splits the seed's plan file (a DeploymentPlan and a HugAIDeployment) into documents.
func seedDocs(t testing.TB) (file string, docs [][]byte) {
	t.Helper()
	file = "../../../plan/testdata/seed-plan.yaml"
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range bytes.Split(b, []byte("\n---\n")) {
		if len(bytes.TrimSpace(d)) > 0 {
			docs = append(docs, d)
		}
	}
	if len(docs) != 2 {
		t.Fatalf("%s: %d documents, want 2", file, len(docs))
	}
	return file, docs
}

// The cluster reads an object as JSON into these types, hugai reads a file with plan's line-aware
// decoder: both must give the same spec, or the CRD and the file would mean different things.
func TestClusterAndFileReadTheSameSpec(t *testing.T) {
	file, docs := seedDocs(t)
	parsed, err := plan.ParseFile(file, append(append(docs[0], "\n---\n"...), docs[1]...))
	if err != nil {
		t.Fatal(err)
	}
	var dp v1.DeploymentPlan
	if err := yaml.UnmarshalStrict(docs[0], &dp); err != nil {
		t.Fatalf("DeploymentPlan as the API reads it: %v", err)
	}
	if want := parsed[0].Value.(*plan.DeploymentPlan).Spec; !reflect.DeepEqual(dp.Spec, want) {
		t.Errorf("DeploymentPlan spec read as JSON:\n%+v\nread by plan:\n%+v", dp.Spec, want)
	}
	var hd v1.HugAIDeployment
	if err := yaml.UnmarshalStrict(docs[1], &hd); err != nil {
		t.Fatalf("HugAIDeployment as the API reads it: %v", err)
	}
	if want := parsed[1].Value.(*plan.HugAIDeployment).Spec; !reflect.DeepEqual(hd.Spec, want) {
		t.Errorf("HugAIDeployment spec read as JSON:\n%+v\nread by plan:\n%+v", hd.Spec, want)
	}

	// A deep copy shares nothing with the original: the operator's cache hands out copies.
	cp := hd.DeepCopy()
	*cp.Spec.Rollout.Steps[0].Pause = plan.Seconds{}
	cp.Spec.Rollback.Triggers[0].ErrorRateThreshold = nil
	if hd.Spec.Rollout.Steps[0].Pause.Duration.Duration == 0 || hd.Spec.Rollback.Triggers[0].ErrorRateThreshold == nil {
		t.Fatal("DeepCopy shares the steps or triggers with the original")
	}
}

func TestSchemeKnowsTheKinds(t *testing.T) {
	s := runtime.NewScheme()
	if err := v1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"DeploymentPlan", "DeploymentPlanList", "HugAIDeployment", "HugAIDeploymentList"} {
		if !s.Recognizes(v1.GroupVersion.WithKind(kind)) {
			t.Errorf("scheme does not know %s", kind)
		}
	}
}
