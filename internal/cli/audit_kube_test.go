//go:build e2e && kube

package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hugai-dev/hugai/internal/audit"
	hugaiv1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
	"github.com/hugai-dev/hugai/internal/kube/kubetest"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/kubestore"
)

// `hugai audit verify --target kubernetes` reads a HugAIDeployment's chain from the cluster:
// exit 0 when it holds, 1 naming the first bad event, 2 for bad input (an unknown object is named).
func TestAuditVerifyKubernetes(t *testing.T) {
	t.Parallel()
	cl := kubetest.Start(t, kubetest.Options{CRDPaths: []string{"../../config/crd"}, AddToScheme: []func(*runtime.Scheme) error{hugaiv1.AddToScheme}})
	ctx := context.Background()
	c := cl.Client
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"checkout", "cart"} {
		hd := &hugaiv1.HugAIDeployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
			Spec: plan.HugAIDeploymentSpec{Strategy: plan.Strategy{Type: "canary"}}}
		if err := c.Create(ctx, hd); err != nil {
			t.Fatal(err)
		}
		s := kubestore.New(c, client.ObjectKeyFromObject(hd), kubestore.Options{})
		if _, err := s.Commit(ctx, store.Tx{Rollout: &store.Rollout{Service: name, Environment: "production", Version: "v2", Phase: "Progressing"}}); err != nil {
			t.Fatal(err)
		}
		for range 20 { // past the tail: some events are in segments
			if _, err := s.Commit(ctx, store.Tx{Events: []audit.Event{{Subject: "rollout/" + name + "-1", Type: "rollout.step", Actor: "alice"}, {Subject: "rollout/" + name + "-1", Type: "rollout.step", Actor: "bob"}, {Subject: "x", Type: "y"}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	verify := func(args ...string) (int, string, string) {
		return run(t, append([]string{"audit", "verify", "--target", "kubernetes", "--kubeconfig", cl.Kubeconfig}, args...)...)
	}
	code, out, errOut := verify("-n", "shop", "checkout")
	if code != 0 || !strings.Contains(out, "shop/checkout: audit log verified: 60 events") {
		t.Fatalf("verify checkout: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = verify("-n", "shop", "--all", "-o", "json")
	var all []kubeVerified
	if err := json.Unmarshal([]byte(out), &all); code != 0 || err != nil || len(all) != 2 || all[0].Events != 60 || all[1].Events != 60 {
		t.Fatalf("verify --all: exit %d %v\n%s%s", code, err, out, errOut)
	}

	// An event of cart's tail edited: exit 1 naming it, and --all fails for it alone.
	var hd hugaiv1.HugAIDeployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "cart"}, &hd); err != nil {
		t.Fatal(err)
	}
	hd.Status.Audit.Tail[2].Actor = "mallory"
	seq := hd.Status.Audit.Tail[2].Seq
	if err := c.Status().Update(ctx, &hd); err != nil {
		t.Fatal(err)
	}
	want := "shop/cart: event " + itoa(seq) + ": hash mismatch (edited)"
	if code, out, errOut := verify("-n", "shop", "cart"); code != ExitFailed || !strings.Contains(errOut, want) {
		t.Fatalf("tampered cart: exit %d, want %d with %q\n%s%s", code, ExitFailed, want, out, errOut)
	}
	if code, out, errOut := verify("-n", "shop", "--all"); code != ExitFailed || !strings.Contains(out, "shop/checkout: audit log verified") || !strings.Contains(errOut, want) {
		t.Fatalf("--all with cart tampered: exit %d\n%s%s", code, out, errOut)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-n", "shop", "payments"}, "HugAIDeployment payments not found in namespace shop"},
		{[]string{"-n", "shop"}, "name one HugAIDeployment"},
		{[]string{"-n", "shop", "--all", "cart"}, "not both"},
		{[]string{"checkout"}, "HugAIDeployment checkout not found in namespace default"},
	} {
		if code, out, errOut := verify(tc.args...); code != ExitBadInput || !strings.Contains(errOut, tc.want) {
			t.Errorf("verify %v: exit %d, want %d with %q\n%s%s", tc.args, code, ExitBadInput, tc.want, out, errOut)
		}
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
