//go:build e2e && kube

package manifests

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/hugai-dev/hugai/internal/eventually"
	"github.com/hugai-dev/hugai/internal/kube/kubetest"
	"github.com/hugai-dev/hugai/internal/target"
	"github.com/hugai-dev/hugai/internal/target/kubernetes"
)

const (
	serviceAccount = "system:serviceaccount:hugai-system:hugai"
	ns             = "production" // where config/rbac/role_binding.yaml binds the role
)

// TestServiceAccountDoesWhatTheTargetDoesAndNoMore applies config/manager and config/rbac as they
// ship, then, as hugai's ServiceAccount (impersonated: the API server authorizes and admits each
// request as it would the pod's), runs the kubernetes target through a whole canary — the proof
// that the role holds every verb the target uses — and tries what hugai must never do.
func TestServiceAccountDoesWhatTheTargetDoesAndNoMore(t *testing.T) {
	cl := kubetest.Start(t, kubetest.Options{CRDPaths: []string{"../../target/kubernetes/testdata/gateway-api", "../../target/kubernetes/testdata/istio"}})
	ctx := context.Background()
	admin, err := kubernetes.NewClient(cl.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"../../../config/manager", "../../../config/rbac"} {
		apply(t, admin, dir)
	}
	userWorld(t, admin)
	kubetest.StartKubelet(t, admin, ns, func(*corev1.PodTemplateSpec) kubetest.Behaviour { return kubetest.Good })

	cfg := rest.CopyConfig(cl.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: serviceAccount, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:hugai-system", "system:authenticated"}}
	sa, err := kubernetes.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}

	// The admission policy is loaded by the API server some time after it is created; until it
	// is, a write it should refuse would go through. A dry run asks admission without changing
	// anything.
	// The probe needs only the role's create on ConfigMaps; it is refused by the policy alone.
	var last error
	eventually.True(t, 30*time.Second, "the admission policy refusing hugai an unlabelled ConfigMap (dry run)", func() bool {
		last = sa.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns}}, client.DryRunAll)
		if !admissionRefused(last) {
			t.Logf("not yet: %v", last)
			return false
		}
		return true
	})

	t.Run("the target runs a canary as the ServiceAccount", func(t *testing.T) {
		canary(t, sa, kubernetes.Options{
			Client: sa, Service: "demo", Namespace: ns, Deployment: "demo", Container: "app",
			Image: "registry.example/demo:{{.Version}}", KubeService: "demo", HTTPRoute: "demo",
		})
		var hr gatewayv1.HTTPRoute
		if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo"}, &hr); err != nil {
			t.Fatal(err)
		}
		if b := hr.Spec.Rules[0].BackendRefs; len(b) != 1 || b[0].Weight == nil || *b[0].Weight != 100 {
			t.Errorf("route after promotion: %+v, want v2's Service alone at 100", b)
		}
	})

	t.Run("the target runs a canary through an Istio VirtualService as the ServiceAccount", func(t *testing.T) {
		canary(t, sa, kubernetes.Options{
			Client: sa, Service: "mesh", Namespace: ns, Deployment: "mesh", Container: "app",
			Image: "registry.example/mesh:{{.Version}}", KubeService: "mesh", VirtualService: "mesh",
			RouteSecret: "let-me-in",
		})
		vs := &unstructured.Unstructured{}
		vs.SetGroupVersionKind(virtualService)
		if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "mesh"}, vs); err != nil {
			t.Fatal(err)
		}
		http, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
		last, _ := http[len(http)-1].(map[string]any)
		if ds, _ := last["route"].([]any); len(ds) != 1 || ds[0].(map[string]any)["weight"] != int64(100) {
			t.Errorf("virtualservice after promotion: %v, want v2's Service alone at 100", http)
		}
	})

	t.Run("what hugai never does is refused", func(t *testing.T) {
		var user appsv1.Deployment
		if err := sa.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo"}, &user); err != nil {
			t.Fatalf("read the user's Deployment: %v", err)
		}
		forbidden := func(what string, err error) {
			t.Helper()
			if !apierrors.IsForbidden(err) {
				t.Errorf("%s as %s: %v, want Forbidden", what, serviceAccount, err)
			}
		}
		forbidden("delete the user's Deployment", sa.Delete(ctx, &user))
		user.Spec.Replicas = ptr(int32(3))
		forbidden("scale the user's Deployment", sa.Update(ctx, &user))
		var svc corev1.Service
		if err := sa.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo"}, &svc); err != nil {
			t.Fatal(err)
		}
		svc.Labels = map[string]string{"app.kubernetes.io/managed-by": "hugai"}
		forbidden("take the user's Service over by labelling it", sa.Update(ctx, &svc))
		forbidden("create an unlabelled ConfigMap", sa.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: ns}}))
		forbidden("read a Secret", sa.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db-password"}, &corev1.Secret{}))
		forbidden("list Secrets", sa.List(ctx, &corev1.SecretList{}, client.InNamespace(ns)))
		forbidden("create a Deployment in a namespace it is not bound in", sa.Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "hugai-system", Labels: map[string]string{"app.kubernetes.io/managed-by": "hugai"}},
			Spec:       user.Spec,
		}))
		forbidden("delete the user's HTTPRoute", sa.Delete(ctx, &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: ns}}))
		uvs := &unstructured.Unstructured{}
		uvs.SetGroupVersionKind(virtualService)
		uvs.SetNamespace(ns)
		uvs.SetName("mesh")
		forbidden("delete the user's VirtualService", sa.Delete(ctx, uvs))
		// The user's own Deployment is still there, as it was.
		var after appsv1.Deployment
		if err := admin.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo"}, &after); err != nil || *after.Spec.Replicas != 0 {
			t.Errorf("the user's Deployment after hugai's attempts: %v, replicas %v", err, after.Spec.Replicas)
		}
		// The policy binds hugai only: the user still edits their own objects.
		after.Spec.Replicas = ptr(int32(0))
		after.Annotations = map[string]string{"edited-by": "user"}
		if err := admin.Update(ctx, &after); err != nil {
			t.Errorf("the user (admin) updating their own Deployment: %v", err)
		}
	})

	t.Run("SubjectAccessReview agrees with the role", func(t *testing.T) {
		cases := []struct {
			verb, group, resource, namespace string
			allowed                          bool
		}{
			{"get", "apps", "deployments", ns, true},
			{"create", "", "services", ns, true},
			{"list", "", "pods", ns, true},
			{"update", "gateway.networking.k8s.io", "httproutes", ns, true},
			{"get", "", "secrets", ns, false},
			{"create", "", "pods", ns, false},
			{"delete", "gateway.networking.k8s.io", "httproutes", ns, false},
			{"get", "networking.istio.io", "virtualservices", ns, true},
			{"update", "networking.istio.io", "virtualservices", ns, true},
			{"create", "networking.istio.io", "virtualservices", ns, false},
			{"delete", "networking.istio.io", "virtualservices", ns, false},
			{"create", "", "pods/exec", ns, false},
			// Outside the namespaces the target's role is bound in, hugai writes nothing; the
			// operator's cache watches Deployments and pods everywhere (operator_role.yaml: it
			// keeps only hugai's, by label, but RBAC cannot grant a watch by label).
			{"update", "apps", "deployments", "default", false},
			{"delete", "apps", "deployments", "default", false},
			{"create", "", "services", "default", false},
			{"get", "", "secrets", "default", false},
			{"list", "apps", "deployments", "default", true},
			{"watch", "", "pods", "default", true},
			{"create", "", "namespaces", "", false},
		}
		for _, c := range cases {
			sar := &authv1.SubjectAccessReview{Spec: authv1.SubjectAccessReviewSpec{
				User:   serviceAccount,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:hugai-system", "system:authenticated"},
				ResourceAttributes: &authv1.ResourceAttributes{
					Verb: c.verb, Group: c.group, Resource: strings.TrimSuffix(c.resource, "/exec"), Namespace: c.namespace,
					Subresource: map[bool]string{true: "exec"}[strings.HasSuffix(c.resource, "/exec")],
				},
			}}
			if err := admin.Create(ctx, sar); err != nil {
				t.Fatal(err)
			}
			if sar.Status.Allowed != c.allowed {
				t.Errorf("%s %s.%s in %q: allowed=%v, want %v (%s)", c.verb, c.resource, c.group, c.namespace, sar.Status.Allowed, c.allowed, sar.Status.Reason)
			}
		}
	})
}

// canary runs a whole canary through the target made from o (its client the ServiceAccount's):
// deploy, route, scale, preview, promote, remove, read the status.
func canary(t *testing.T, sa client.Client, o kubernetes.Options) {
	t.Helper()
	ctx := context.Background()
	tg, err := kubernetes.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s as %s: %v", what, serviceAccount, err)
		}
	}
	ready := func(v string, n int) {
		t.Helper()
		eventually.True(t, 20*time.Second, v+" ready", func() bool {
			st, err := tg.Status(ctx)
			return err == nil && st.Revisions[v].Ready == n
		})
	}
	step("deploy v1", tg.Deploy(ctx, target.Revision{Version: "v1"}, 2))
	ready("v1", 2)
	step("route to v1", tg.Route(ctx, target.Routing{Weights: map[string]int{"v1": 100}, Stable: "v1"}))
	step("deploy v2", tg.Deploy(ctx, target.Revision{Version: "v2"}, 1))
	ready("v2", 1)
	step("route 25% to v2", tg.Route(ctx, target.Routing{Weights: map[string]int{"v1": 75, "v2": 25}, Stable: "v1", Canary: "v2"}))
	step("scale v2", tg.Deploy(ctx, target.Revision{Version: "v2"}, 2))
	step("preview v2", tg.Route(ctx, target.Routing{Weights: map[string]int{"v1": 75, "v2": 25}, Stable: "v1", Canary: "v2", Preview: "v2"}))
	step("promote v2", tg.Route(ctx, target.Routing{Weights: map[string]int{"v2": 100}, Stable: "v2"}))
	step("remove v1", tg.Remove(ctx, target.Revision{Version: "v1"}))
	st, err := tg.Status(ctx)
	step("status", err)
	if _, ok := st.Revisions["v1"]; ok {
		t.Errorf("v1 still in status after its removal: %+v", st.Revisions)
	}
}

// admissionRefused tells the policy's refusal from RBAC's: both are Forbidden.
func admissionRefused(err error) bool {
	return err != nil && strings.Contains(err.Error(), "hugai-writes-only-its-own")
}

// apply creates every object of every YAML file in dir (not kustomization.yaml), with strict field
// validation: a misspelt field fails here instead of being dropped by the API server.
func apply(t *testing.T, c client.Client, dir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no YAML in %s: %v", dir, err)
	}
	// The Namespace first: the other objects live in it.
	for i, f := range files {
		if filepath.Base(f) == "namespace.yaml" {
			files[0], files[i] = files[i], files[0]
		}
	}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(data), "\n---\n") {
			m := map[string]any{}
			if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			o := &unstructured.Unstructured{Object: m}
			if err := c.Create(context.Background(), o, client.FieldValidation(metav1.FieldValidationStrict)); err != nil {
				t.Fatalf("%s: create %s %s: %v", f, o.GetKind(), o.GetName(), err)
			}
		}
	}
}

var virtualService = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"}

// userWorld is what the user has before hugai: a Deployment scaled to 0 (the template), its
// Service, and an HTTPRoute sending everything to it; and a second service, mesh, the same but
// for an Istio VirtualService in place of the HTTPRoute.
func userWorld(t *testing.T, c client.Client) {
	t.Helper()
	labels := map[string]string{"app": "demo"}
	mesh := map[string]string{"app": "mesh"}
	vs := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": "mesh", "namespace": ns},
		"spec": map[string]any{
			"hosts": []any{"mesh.example.com"},
			"http": []any{map[string]any{
				"name":  "primary",
				"route": []any{map[string]any{"destination": map[string]any{"host": "mesh", "port": map[string]any{"number": int64(80)}}}},
			}},
		},
	}}
	vs.SetGroupVersionKind(virtualService)
	objs := []client.Object{
		vs,
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "mesh", Namespace: ns},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr(int32(0)),
				Selector: &metav1.LabelSelector{MatchLabels: mesh},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: mesh},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{
						Name: "app", Image: "registry.example/mesh:template", Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
					}}},
				},
			},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "mesh", Namespace: ns},
			Spec:       corev1.ServiceSpec{Selector: mesh, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
		},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: ns},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr(int32(0)),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{
						Name: "app", Image: "registry.example/demo:template", Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
					}}},
				},
			},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: ns},
			Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
		},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db-password", Namespace: ns}, StringData: map[string]string{"password": "hunter2"}},
		&gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: ns},
			Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{
				Matches:     []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: ptr(gatewayv1.PathMatchPathPrefix), Value: ptr("/")}}},
				BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "demo", Port: ptr(gatewayv1.PortNumber(80))}}}},
			}}},
		},
	}
	for _, o := range objs {
		if err := c.Create(context.Background(), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

func ptr[T any](v T) *T { return &v }
