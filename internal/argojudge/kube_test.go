//go:build e2e && kube

package argojudge

import (
	"context"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/hugai-dev/hugai/internal/export/argo"
	"github.com/hugai-dev/hugai/internal/kube/kubetest"
	"github.com/hugai-dev/hugai/internal/plan"
)

// seedRollout is the seed's Rollout (../shared/seed), its analysis steps naming hugai-analysis
// with only service-name, and one step passing the pod-template hashes as the template's args
// doc says.
const seedRollout = `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: my-app
  namespace: production
spec:
  replicas: 5
  strategy:
    canary:
      canaryService: my-app-canary
      stableService: my-app-stable
      trafficRouting:
        istio:
          virtualService:
            name: my-app-vs
            routes:
            - primary
      steps:
      - setWeight: 5
      - pause:
          duration: 5m
      - analysis:
          templates:
          - templateName: hugai-analysis
          args:
          - name: service-name
            value: my-app
      - setWeight: 25
      - analysis:
          templates:
          - templateName: hugai-analysis
          args:
          - name: service-name
            value: my-app
          - name: namespace
            value: production
          - name: canary-hash
            valueFrom:
              podTemplateHashValue: Latest
          - name: stable-hash
            valueFrom:
              podTemplateHashValue: Stable
  selector:
    matchLabels:
      app: my-app
  template:
    metadata:
      labels:
        app: my-app
    spec:
      containers:
      - name: my-app
        image: my-app:latest
        ports:
        - containerPort: 8080
`

// TestArgoAcceptsTheTemplate: a real API server with Argo Rollouts' own CRDs accepts the shipped
// hugai-analysis template with strict field validation (a field Argo's schema does not know is
// refused, not pruned) and stores it as written, and accepts the seed's Rollout naming it.
func TestArgoAcceptsTheTemplate(t *testing.T) {
	cl := kubetest.Start(t, kubetest.Options{CRDPaths: []string{"../export/argo/testdata/crds"}})
	ctx := context.Background()
	if err := cl.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "production"}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../config/argo/hugai-analysis.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []string{string(b), seedRollout} {
		o := &unstructured.Unstructured{Object: map[string]any{}}
		if err := yaml.Unmarshal([]byte(doc), &o.Object); err != nil {
			t.Fatal(err)
		}
		if o.GetNamespace() == "" {
			o.SetNamespace("production")
		}
		if err := cl.Client.Create(ctx, o, client.FieldValidation(metav1.FieldValidationStrict)); err != nil {
			t.Fatalf("the API server refused %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		if err := cl.Client.Get(ctx, client.ObjectKeyFromObject(o), got); err != nil {
			t.Fatal(err)
		}
		x, _ := yaml.Marshal(got.Object["spec"])
		y, _ := yaml.Marshal(o.Object["spec"])
		if string(x) != string(y) {
			t.Errorf("%s: stored spec differs from the file:\n%s\nwant\n%s", o.GetKind(), x, y)
		}
	}
	// The export with --judge hugai-analysis: its Rollout (pod-template hashes as arguments) and
	// templates are accepted beside the shipped one.
	if err := cl.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "exported"}}); err != nil {
		t.Fatal(err)
	}
	for _, o := range exportWithJudge(t) {
		o.SetNamespace("exported")
		if err := cl.Client.Create(ctx, o, client.FieldValidation(metav1.FieldValidationStrict)); err != nil {
			t.Fatalf("the API server refused the exported %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}

	// The same server refuses a template whose web provider has a field Argo does not know: the
	// acceptance above means something.
	bad := strings.Replace(string(b), "jsonPath:", "jsonPth:", 1)
	o := &unstructured.Unstructured{Object: map[string]any{}}
	if err := yaml.Unmarshal([]byte(bad), &o.Object); err != nil {
		t.Fatal(err)
	}
	o.SetNamespace("production")
	o.SetName("misspelt")
	if err := cl.Client.Create(ctx, o, client.FieldValidation(metav1.FieldValidationStrict)); err == nil || !strings.Contains(err.Error(), "jsonPth") {
		t.Errorf("a misspelt field: %v, want it refused", err)
	}
}

// exportWithJudge exports the export's canary test plan with --judge hugai-analysis, the
// service file given analysis.compare.
func exportWithJudge(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	svc := strings.Replace(string(read("../export/argo/testdata/hugai.yaml")), "  metrics:\n", `  metrics:
    - {name: http_requests, provider: prometheus, address: http://prometheus.monitoring:9090, query: 'sum(http_requests_total{rollouts_pod_template_hash="{{.Version}}"})'}
    - {name: http_errors, provider: prometheus, address: http://prometheus.monitoring:9090, query: 'sum(http_requests_total{rollouts_pod_template_hash="{{.Version}}",code=~"5.."}) or vector(0)'}
`, 1)
	svc = strings.Replace(svc, "        interval: 1m\n", "        interval: 1m\n        method: sequential\n        compare: {requests: http_requests, errors: http_errors}\n", 1)
	pdocs, err := plan.ParseFile("canary.yaml", read("../export/argo/testdata/canary.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sdocs, err := plan.ParseFile("hugai.yaml", []byte(svc))
	if err != nil {
		t.Fatal(err)
	}
	res, err := argo.Export(argo.Input{PlanFile: "canary.yaml", PlanPos: pdocs[0].Positions, Plan: pdocs[0].Value.(*plan.DeploymentPlan),
		ServiceFile: "hugai.yaml", ServicePos: sdocs[0].Positions, Service: sdocs[0].Value.(*plan.Service), Judge: "hugai-analysis"})
	if err != nil {
		t.Fatal(err)
	}
	y, err := res.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(y), "templateName: hugai-analysis") {
		t.Fatalf("the export names no judge:\n%s", y)
	}
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(string(y), "\n---\n") {
		o := &unstructured.Unstructured{Object: map[string]any{}}
		if err := yaml.Unmarshal([]byte(doc), &o.Object); err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}
