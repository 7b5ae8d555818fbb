//go:build e2e && kube

package kubernetes

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/hugai-dev/hugai/internal/kube/kubetest"
	"github.com/hugai-dev/hugai/internal/target"
	"github.com/hugai-dev/hugai/internal/target/targettest"
)

// startCluster is one API server with the Gateway API's HTTPRoute CRD and Istio's VirtualService
// CRD; each case works in a namespace of its own.
func startCluster(t testing.TB) *kubetest.Cluster {
	t.Helper()
	return kubetest.Start(t, kubetest.Options{
		CRDPaths:    []string{"testdata/gateway-api", "testdata/istio"},
		AddToScheme: []func(*runtime.Scheme) error{gatewayv1.Install},
	})
}

// router is what splits the traffic in a world.
type router int

const (
	noRouter  router = iota // replica ratio
	httpRoute               // a Gateway API HTTPRoute named demo
	istio                   // an Istio VirtualService named demo
)

// world is what a user has in a namespace before hugai: the Deployment versions are made from,
// its Service and, as router says, an HTTPRoute or a VirtualService sending to it. A kubelet
// plays the rest of the cluster.
type world struct {
	c    client.Client
	ns   string
	opts Options
}

var nsSeq atomic.Int64

func newWorld(t testing.TB, cl *kubetest.Cluster, r router) *world {
	t.Helper()
	ctx := context.Background()
	ns := fmt.Sprintf("case-%d", nsSeq.Add(1))
	c := cl.Client
	labels := map[string]string{"app": "demo"}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: ns},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr(int32(0)),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{
						Name: "app", Image: "registry.example/demo:template",
						Env:   []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}},
						Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
					}}},
				},
			},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: ns},
			Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
		},
	}
	switch r {
	case istio:
		objs = append(objs, userVirtualService(ns))
	case httpRoute:
		objs = append(objs, &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: ns},
			Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{
				{
					Name:        ptr(gatewayv1.SectionName("docs")), // the user's own, untouched
					Matches:     []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: ptr(gatewayv1.PathMatchPathPrefix), Value: ptr("/docs")}}},
					BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "docs", Port: ptr(gatewayv1.PortNumber(80))}}}},
				},
				{
					Matches:     []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: ptr(gatewayv1.PathMatchPathPrefix), Value: ptr("/")}}},
					BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "demo", Port: ptr(gatewayv1.PortNumber(80))}}}},
				},
			}},
		})
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
	kubetest.StartKubelet(t, c, ns, behaviourOf)
	o := Options{
		Client: c, Service: "demo", Namespace: ns, Deployment: "demo", Container: "app",
		Image: "registry.example/demo:{{.Version}}", Env: map[string]string{"APP_VERSION": "{{.Version}}"},
		KubeService: "demo", RouteSecret: "let-me-in",
	}
	switch r {
	case istio:
		o.VirtualService = "demo"
	case httpRoute:
		o.HTTPRoute = "demo"
	}
	return &world{c: c, ns: ns, opts: o}
}

func (w *world) target(t testing.TB) *Target {
	t.Helper()
	tg, err := New(context.Background(), w.opts)
	if err != nil {
		t.Fatalf("new kubernetes target: %v", err)
	}
	return tg
}

// behaviourOf is how the harness's versions act (good1, never-ready, crash-loop, missing); the
// user's template acts as a good one.
func behaviourOf(tmpl *corev1.PodTemplateSpec) kubetest.Behaviour {
	switch tmpl.Annotations[AnnotationVersion] {
	case "never-ready":
		return kubetest.NeverReady
	case "crash-loop":
		return kubetest.CrashLoop
	case "missing":
		return kubetest.NoImage
	default:
		return kubetest.Good
	}
}

type harness struct {
	cl     *kubetest.Cluster
	router router
}

// New is a fresh namespace with the user's objects and a kubelet. Reopen is a new Target on the
// same namespace, as a restarted hugai makes it: this target holds nothing in memory, so the old
// one needs no closing. Routes reads the router (HTTPRoute or VirtualService) and the preview
// Service. There is no Do: no
// gateway or pod runs here, so no request can be sent (the traffic half is the local target's).
func (h harness) New(t *testing.T) targettest.Instance {
	w := newWorld(t, h.cl, h.router)
	return targettest.Instance{
		Target: w.target(t),
		Reopen: func(t *testing.T) target.Target { return w.target(t) },
		Routes: func(ctx context.Context) (target.Routing, error) { return w.target(t).Routes(ctx) },
	}
}
func (harness) Good(n int) target.Revision  { return target.Revision{Version: fmt.Sprintf("good%d", n)} }
func (harness) NeverReady() target.Revision { return target.Revision{Version: "never-ready"} }
func (harness) CrashLoop() target.Revision  { return target.Revision{Version: "crash-loop"} }
func (harness) Missing() target.Revision    { return target.Revision{Version: "missing"} }
func (harness) Timeout() time.Duration      { return 15 * time.Second }

// TestConformance runs the world-state half of the target suite against a real API server, with
// each router. The traffic half needs a data plane (a gateway or mesh and running pods), which
// this machine cannot run.
func TestConformance(t *testing.T) {
	cl := startCluster(t)
	t.Run("HTTPRoute", func(t *testing.T) { targettest.RunState(t, harness{cl: cl, router: httpRoute}) })
	t.Run("Istio", func(t *testing.T) { targettest.RunState(t, harness{cl: cl, router: istio}) })
}
