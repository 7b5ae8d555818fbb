//go:build e2e && kube

package v1_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
	"github.com/hugai-dev/hugai/internal/kube/kubetest"
)

const crdDir = "../../../../config/crd"

func cluster(t *testing.T) *kubetest.Cluster {
	t.Helper()
	c := kubetest.Start(t, kubetest.Options{CRDPaths: []string{crdDir}, AddToScheme: []func(*runtime.Scheme) error{v1.AddToScheme}})
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "production"}}
	if err := c.Client.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return c
}

// unstructuredOf reads a YAML document as the API server would receive it from kubectl: no Go
// type in between, so the CRD's schema alone decides.
func unstructuredOf(t *testing.T, doc []byte) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// The seed's two examples are accepted by the API server with hugai's CRDs; what the seed's
// schema allows and hugai cannot run is refused by the API server itself, before any controller.
func TestCRDsAcceptTheSeedAndRefuseNonsense(t *testing.T) {
	t.Parallel()
	c := cluster(t)
	ctx := context.Background()
	_, docs := seedDocs(t)
	for _, d := range docs {
		u := unstructuredOf(t, d)
		if err := c.Client.Create(ctx, u); err != nil {
			t.Fatalf("create the seed's %s: %v", u.GetKind(), err)
		}
	}
	var hd v1.HugAIDeployment
	if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "production", Name: "my-app-deployment"}, &hd); err != nil {
		t.Fatal(err)
	}
	if got := hd.Spec.Rollout.Steps[2].Pause.Duration.String(); got != "15m" || hd.Spec.Rollout.Steps[1].Weight != 25 {
		t.Fatalf("read back: steps %+v", hd.Spec.Rollout.Steps)
	}

	refused := []struct {
		name, doc, want string
	}{
		{"weight 140", `
apiVersion: hugai.io/v1
kind: HugAIDeployment
metadata: {name: w140, namespace: production}
spec:
  strategy: {type: canary}
  rollout: {steps: [{weight: 5, pause: 30}, {weight: 140}]}
`, "spec.rollout.steps[1].weight: Invalid value: 140: spec.rollout.steps[1].weight in body should be less than or equal to 100"},
		{"setWeight 140", `
apiVersion: hugai.io/v1
kind: DeploymentPlan
metadata: {name: sw140, namespace: production}
spec:
  strategy: {type: canary, canary: {steps: [{setWeight: 140}]}}
`, "should be less than or equal to 100"},
		{"unknown strategy", `
apiVersion: hugai.io/v1
kind: HugAIDeployment
metadata: {name: bigbang, namespace: production}
spec:
  strategy: {type: big-bang}
`, `spec.strategy.type: Unsupported value: "big-bang"`},
		{"two conditions in one trigger", `
apiVersion: hugai.io/v1
kind: HugAIDeployment
metadata: {name: twotriggers, namespace: production}
spec:
  strategy: {type: canary}
  rollback: {triggers: [{errorRateThreshold: 1.0, latencyThreshold: 2s}]}
`, "set exactly one of errorRateThreshold, latencyThreshold, customMetricThreshold"},
		{"planRef beside a rollout", `
apiVersion: hugai.io/v1
kind: HugAIDeployment
metadata: {name: planandsteps, namespace: production}
spec:
  version: v2
  planRef: {name: my-app-deployment}
  rollout: {steps: [{weight: 5}]}
`, "spec.planRef: the DeploymentPlan supplies strategy, rollout, monitoring and rollback"},
		{"neither strategy nor planRef", `
apiVersion: hugai.io/v1
kind: HugAIDeployment
metadata: {name: nohow, namespace: production}
spec: {version: v2}
`, "set spec.strategy, or spec.planRef naming the DeploymentPlan that supplies it"},
	}
	for _, r := range refused {
		err := c.Client.Create(ctx, unstructuredOf(t, []byte(r.doc)))
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), r.want) {
			t.Errorf("%s: err = %v, want Invalid with %q", r.name, err, r.want)
		}
	}

	// A planRef alone is accepted: the seed's DeploymentPlan says how.
	ref := "apiVersion: hugai.io/v1\nkind: HugAIDeployment\nmetadata: {namespace: production, name: by-plan}\nspec: {version: v2, planRef: {name: my-app-deployment}}\n"
	if err := c.Client.Create(ctx, unstructuredOf(t, []byte(ref))); err != nil {
		t.Errorf("a HugAIDeployment with planRef: %v", err)
	}

	// Every spelling hugai reads is accepted: the seed's blue-green and hugai's blueGreen.
	for _, typ := range []string{"blue-green", "blueGreen", "recreate", "rolling"} {
		u := unstructuredOf(t, []byte("apiVersion: hugai.io/v1\nkind: HugAIDeployment\nmetadata: {namespace: production, name: s-"+strings.ToLower(typ)+"}\nspec: {strategy: {type: "+typ+"}}\n"))
		if err := c.Client.Create(ctx, u); err != nil {
			t.Errorf("strategy %s: %v", typ, err)
		}
	}
}

// Status is a subresource (a spec write cannot change it, and the operator writes it with
// optimistic concurrency), and `kubectl get` shows it in the printer columns.
func TestStatusAndPrinterColumns(t *testing.T) {
	t.Parallel()
	c := cluster(t)
	ctx := context.Background()
	_, docs := seedDocs(t)
	if err := c.Client.Create(ctx, unstructuredOf(t, docs[1])); err != nil {
		t.Fatal(err)
	}
	var hd v1.HugAIDeployment
	key := client.ObjectKey{Namespace: "production", Name: "my-app-deployment"}
	if err := c.Client.Get(ctx, key, &hd); err != nil {
		t.Fatal(err)
	}
	hd.Status = v1.RolloutStatus{Phase: "Progressing", Step: "2/4", CurrentStepIndex: ptr.To[int32](1), Weight: 25, ObservedGeneration: hd.Generation}
	if err := c.Client.Status().Update(ctx, &hd); err != nil {
		t.Fatalf("status update: %v", err)
	}
	stale := hd.DeepCopy()
	stale.ResourceVersion = "1"
	stale.Status.Weight = 50
	if err := c.Client.Status().Update(ctx, stale); !apierrors.IsConflict(err) {
		t.Fatalf("status update from a stale copy: %v, want a conflict", err)
	}
	bad := hd.DeepCopy()
	bad.Status.Weight = 101
	if err := c.Client.Status().Update(ctx, bad); !apierrors.IsInvalid(err) {
		t.Fatalf("status weight 101: %v, want Invalid", err)
	}

	out, err := exec.Command(c.Kubectl, "--kubeconfig", c.Kubeconfig, "get", "hugaideployments", "-n", "production").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("kubectl get:\n%s", out)
	}
	header, row := strings.Fields(lines[0]), strings.Fields(lines[1])
	want := []string{"NAME", "STRATEGY", "PHASE", "STEP", "WEIGHT", "AGE"}
	if strings.Join(header, " ") != strings.Join(want, " ") {
		t.Fatalf("kubectl get columns = %v, want %v\n%s", header, want, out)
	}
	if strings.Join(row[:5], " ") != "my-app-deployment canary Progressing 2/4 25" {
		t.Fatalf("kubectl get row = %v\n%s", row, out)
	}
	// The short name works too, as `kubectl get hd`.
	if out, err := exec.Command(c.Kubectl, "--kubeconfig", c.Kubeconfig, "get", "hd", "-A", "-o", "name").CombinedOutput(); err != nil || !strings.Contains(string(out), "hugaideployment.hugai.io/my-app-deployment") {
		t.Fatalf("kubectl get hd: %v\n%s", err, out)
	}
}
