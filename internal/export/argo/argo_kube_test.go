//go:build e2e && kube

package argo

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/hugai-dev/hugai/internal/kube/kubetest"
)

// TestArgoAcceptsTheExport installs Argo Rollouts' own CRDs (testdata/crds, SOURCE.md) into a
// real API server and creates what the export writes for each strategy, with strict field
// validation: a field Argo's schema does not know, or a value of the wrong type, is refused
// rather than pruned, so an object accepted here is one Argo's controller reads as written.
// Hand-written invalid objects are refused by the same server, which shows the CRDs validate.
func TestArgoAcceptsTheExport(t *testing.T) {
	cl := kubetest.Start(t, kubetest.Options{CRDPaths: []string{"testdata/crds"}})
	ctx := context.Background()
	svc := readTestdata(t, "hugai.yaml")

	// canary-istio: the canary plan on a service routed by an Istio VirtualService.
	istio := strings.Replace(svc, "gatewayAPI: {httpRoute: my-app}", "istio: {virtualService: my-app, routes: [primary]}", 1)
	for _, name := range []string{"canary", "bluegreen", "rolling", "seed-plan", "canary-istio"} {
		t.Run(name, func(t *testing.T) {
			svc, planFile := svc, name
			if p, ok := strings.CutSuffix(name, "-istio"); ok {
				svc, planFile = istio, p
			}
			in := load(t, readTestdata(t, planFile+".yaml"), strings.Replace(svc, "namespace: production", "namespace: "+name, 1))
			if in.Plan.Spec.Version == "" { // the seed's plan, as `export --version v2` fills it
				in.Plan.Spec.Version, in.Plan.Spec.Environment = "v2", "production"
			}
			res, err := Export(in)
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
				t.Fatal(err)
			}
			data, err := res.YAML()
			if err != nil {
				t.Fatal(err)
			}
			objs := decodeAll(t, data)
			if want := len(res.Templates) + 1; len(objs) != want {
				t.Fatalf("%d objects in the export, want %d", len(objs), want)
			}
			for _, o := range objs {
				if err := cl.Client.Create(ctx, o, client.FieldValidation(metav1.FieldValidationStrict)); err != nil {
					t.Fatalf("the API server refused the exported %s %s: %v", o.GetKind(), o.GetName(), err)
				}
				// What the server stored is what was sent: nothing pruned or defaulted away.
				got := &unstructured.Unstructured{}
				got.SetGroupVersionKind(o.GroupVersionKind())
				if err := cl.Client.Get(ctx, client.ObjectKeyFromObject(o), got); err != nil {
					t.Fatal(err)
				}
				if !equalJSON(t, got.Object["spec"], o.Object["spec"]) {
					t.Errorf("%s %s: stored spec differs from the export", o.GetKind(), o.GetName())
				}
			}
		})
	}

	t.Run("invalid objects are refused", func(t *testing.T) {
		if err := cl.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "invalid"}}); err != nil {
			t.Fatal(err)
		}
		rollout := func(steps string) string {
			return `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: hand-written, namespace: invalid}
spec:
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: my-app}
  strategy:
    canary:
      steps:
` + steps
		}
		cases := []struct{ name, yaml, want string }{
			{"weight of the wrong type", rollout("      - setWeight: \"140%\"\n"), "setWeight"},
			{"unknown step field", rollout("      - setWieght: 50\n"), "setWieght"},
			{"metric without a provider", `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: no-provider, namespace: invalid}
spec:
  metrics:
  - {name: error-rate, successCondition: "result[0] < 1"}
`, "provider"},
		}
		for _, tc := range cases {
			o := decodeAll(t, []byte(tc.yaml))[0]
			err := cl.Client.Create(ctx, o, client.FieldValidation(metav1.FieldValidationStrict))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: create = %v, want it refused naming %s", tc.name, err, tc.want)
			}
		}
		// Argo's CRD bounds no weight: 140 passes the API server and only Argo's controller
		// refuses it (its validation, not the schema's). The export cannot write one — plan
		// validation keeps every weight within 0..100 — and this test records the CRD's limit so
		// that nobody relies on the API server for it.
		o := decodeAll(t, []byte(rollout("      - setWeight: 140\n")))[0]
		if err := cl.Client.Create(ctx, o, client.FieldValidation(metav1.FieldValidationStrict)); err != nil {
			t.Errorf("weight 140 refused by the API server (%v): Argo's CRD now bounds weights; refuse it in this test instead", err)
		}
	})
}

func decodeAll(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(string(data), "\n---\n") {
		m := map[string]any{}
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("decode %q: %v", doc, err)
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	x, err := yaml.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(x) == string(y)
}
