//go:build e2e && kube

package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/hugai-dev/hugai/internal/eventually"
	"github.com/hugai-dev/hugai/internal/kube/kubetest"
	"github.com/hugai-dev/hugai/internal/target/kubernetes"
)

// kubeServiceYAML is a service of type kubernetes: the user's Deployment, Service and HTTPRoute
// checkout in namespace shop; its metrics from a web endpoint the test serves (%s).
const kubeServiceYAML = `apiVersion: hugai.io/v1
kind: Service
metadata:
  name: checkout
spec:
  target:
    type: kubernetes
    kubernetes:
      namespace: shop
      deployment: checkout
      container: app
      image: registry.example.com/checkout:{{.Version}}
      service: checkout
      replicas: 2
      trafficRouter:
        gatewayAPI: {httpRoute: checkout}
  progressDeadline: 20s
  metrics:
    - {name: request_rate, provider: web, address: "%[1]s/rate?version={{.Version}}", jsonPath: $.value}
    - {name: checkout_errors, provider: web, address: "%[1]s/errors?version={{.Version}}", jsonPath: $.value}
  environments:
    production:
      successCriteria: checkout_errors<1
      analysis:
        interval: 1s
        minimumSamples: 20
`

// TestKubernetesCanaryFromTheCLI runs `hugai deploy canary` against a real API server through
// `hugai server --kubeconfig`: the same engine as on the local target, the kubernetes target
// underneath. The test plays the kubelet (every pod becomes ready) and serves the metrics; it
// watches the HTTPRoute's weights move 0 → 25 → 50 → 100 for a good version (the server killed
// and started again on the way), a bad one's rollback put them back on the stable version, and a
// blue-green previewed on its own Service before the switch.
func TestKubernetesCanaryFromTheCLI(t *testing.T) {
	scenarios <- struct{}{}
	t.Cleanup(func() { <-scenarios })
	cl := kubetest.Start(t, kubetest.Options{
		CRDPaths:    []string{"../../internal/target/kubernetes/testdata/gateway-api"},
		AddToScheme: []func(*runtime.Scheme) error{gatewayv1.Install},
	})
	c := cl.Client
	kubeWorld(t, c, "shop")
	kubetest.StartKubelet(t, c, "shop", func(*corev1.PodTemplateSpec) kubetest.Behaviour { return kubetest.Good })

	// v3 is the regression: its own error metric is 5 (the criterion wants < 1).
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/rate":
			fmt.Fprint(w, `{"value": 50}`)
		case "/errors":
			if r.URL.Query().Get("version") == "v3" {
				fmt.Fprint(w, `{"value": 5}`)
			} else {
				fmt.Fprint(w, `{"value": 0}`)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(metrics.Close)

	dir := t.TempDir()
	e := &env{t: t, dir: dir, dataDir: filepath.Join(dir, ".hugai"), file: filepath.Join(dir, "hugai.yaml")}
	if err := os.WriteFile(e.file, []byte(fmt.Sprintf(kubeServiceYAML, metrics.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startKubeServer(t, e, cl.Kubeconfig)
	w := watchRoute(t, c, "shop", "checkout")

	canary := func(version string) result {
		return e.hugai("deploy", "canary", "-f", e.file, "--environment", "production", "--version", version,
			"--traffic-split", "25,50,100", "--health-check-interval", "2s")
	}
	if r := canary("v1"); r.code != 0 {
		t.Fatalf("first deploy of v1: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	w.waitFor(t, map[string]int{"v1": 100})

	// v2, with the server killed at 25% and started again: the new one reads the rollout from
	// its store and the cluster (labels, the HTTPRoute), and carries on from 25%, repeating no
	// step; the client follows it across the restart.
	run := e.hugaiStart("deploy", "canary", "-f", e.file, "--environment", "production", "--version", "v2",
		"--traffic-split", "25,50,100", "--health-check-interval", "2s")
	w.waitFor(t, map[string]int{"v1": 75, "v2": 25})
	srv.kill()
	srv.start()
	if r := run.wait(); r.code != 0 {
		t.Fatalf("canary v2 across a server restart: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	w.waitFor(t, map[string]int{"v2": 100})
	if got, want := w.steps("v2"), []int{25, 50, 100}; !slices.Equal(got, want) {
		t.Fatalf("v2's weights on the HTTPRoute went %v, want %v (history %v)", got, want, w.history())
	}
	gone(t, c, "shop", "v1")

	r := canary("v3")
	if r.code != 3 {
		t.Fatalf("canary v3 (regressed): exit %d, want 3 (RolledBack)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	w.waitFor(t, map[string]int{"v2": 100})
	if got := w.steps("v3"); len(got) == 0 || got[0] != 25 || got[len(got)-1] != 0 {
		t.Fatalf("v3's weights went %v, want 25 first and 0 after the rollback (history %v)", got, w.history())
	}
	gone(t, c, "shop", "v3")
	st := e.status(firstLine(r.stdout))
	if st.Phase != "RolledBack" || st.Weights["v2"] != 100 {
		t.Fatalf("after the rollback: %s %v", st.Phase, st.Weights)
	}

	// Blue-green to v4: green is previewed on checkout-preview with no user traffic, then takes
	// all of it; the preview Service goes with the switch.
	r = e.hugai("deploy", "blue-green", "-f", e.file, "--environment", "production", "--version", "v4",
		"--switch-strategy", "instant", "--validation-period", "3s", "--scale-down-delay", "1s")
	if r.code != 0 {
		t.Fatalf("blue-green v4: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	w.waitFor(t, map[string]int{"v4": 100})
	if got := w.steps("v4"); !slices.Equal(got, []int{100}) {
		t.Fatalf("v4's weights went %v, want straight to 100 (history %v)", got, w.history())
	}
	w.mu.Lock()
	previewed := w.previews["v4"]
	w.mu.Unlock()
	if !previewed {
		t.Fatal("the preview Service never selected v4 before the switch")
	}
	eventually.True(t, 20*time.Second, "the preview Service deleted after the switch", func() bool {
		var p corev1.Service
		return apierrors.IsNotFound(c.Get(context.Background(), types.NamespacedName{Namespace: "shop", Name: "checkout-preview"}, &p))
	})
	gone(t, c, "shop", "v2")
	if r := e.hugai("audit", "verify", "--data-dir", e.dataDir); r.code != 0 {
		t.Fatalf("audit verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	t.Logf("HTTPRoute weights seen: %v", w.history())
}

// kubeWorld creates what a user has before hugai: namespace, Deployment (the template, at 0
// replicas), Service and an HTTPRoute sending to the Service.
func kubeWorld(t *testing.T, c client.Client, ns string) {
	t.Helper()
	labels := map[string]string{"app": "checkout"}
	port := gatewayv1.PortNumber(80)
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns},
			Spec: appsv1.DeploymentSpec{
				Replicas: new(int32),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/checkout:v0"}}},
				},
			},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns},
			Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
		},
		&gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns},
			Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{
				BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "checkout", Port: &port}}}},
			}}},
		},
	} {
		if err := c.Create(context.Background(), o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
}

// kubeServer is `hugai server --kubeconfig` for e's service file; the one running when the test
// ends is stopped then.
type kubeServer struct {
	t          *testing.T
	e          *env
	kubeconfig string
	n          int
	cmd        *exec.Cmd
	done       chan struct{}
}

func startKubeServer(t *testing.T, e *env, kubeconfig string) *kubeServer {
	t.Helper()
	s := &kubeServer{t: t, e: e, kubeconfig: kubeconfig}
	s.start()
	t.Cleanup(func() {
		if s.cmd != nil {
			if r := e.hugai("server", "stop"); r.code != 0 {
				t.Errorf("server stop: %d %s %s", r.code, r.stdout, r.stderr)
				_ = s.cmd.Process.Kill()
			}
			select {
			case <-s.done:
			case <-time.After(30 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.done
			}
		}
		if t.Failed() {
			for i := 1; i <= s.n; i++ {
				b, _ := os.ReadFile(filepath.Join(e.dir, fmt.Sprintf("server-%d.log", i)))
				t.Logf("server log %d:\n%s", i, b)
			}
		}
	})
	return s
}

func (s *kubeServer) start() {
	s.t.Helper()
	s.n++
	logf, err := os.Create(filepath.Join(s.e.dir, fmt.Sprintf("server-%d.log", s.n)))
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(built.hugai, "server", "-f", s.e.file, "--data-dir", s.e.dataDir, "--kubeconfig", s.kubeconfig)
	cmd.Dir = s.e.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	s.cmd, s.done = cmd, done
	eventually.True(s.t, 30*time.Second, "the server to answer", func() bool {
		return s.e.hugai("deploy", "list", "-o", "json").code == 0
	})
}

// kill kills the server with SIGKILL, as a crash would, and waits until it is gone.
func (s *kubeServer) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	s.cmd = nil
}

// routeWatch records the HTTPRoute's weights per version every time they change, read from the
// API server as a gateway reads them: backend Service → its version.
type routeWatch struct {
	mu       sync.Mutex
	seen     []map[string]int
	previews map[string]bool // versions the preview Service ever selected
}

func watchRoute(t *testing.T, c client.Client, ns, name string) *routeWatch {
	w := &routeWatch{previews: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if m, err := routeWeights(ctx, c, ns, name); err == nil {
				w.mu.Lock()
				if len(w.seen) == 0 || !maps.Equal(w.seen[len(w.seen)-1], m) {
					w.seen = append(w.seen, m)
				}
				w.mu.Unlock()
			}
			var p corev1.Service
			if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name + "-preview"}, &p); err == nil {
				w.mu.Lock()
				w.previews[p.Annotations[kubernetes.AnnotationVersion]] = true
				w.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return w
}

func routeWeights(ctx context.Context, c client.Client, ns, name string) (map[string]int, error) {
	var hr gatewayv1.HTTPRoute
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &hr); err != nil {
		return nil, err
	}
	m := map[string]int{}
	for _, b := range hr.Spec.Rules[0].BackendRefs {
		var s corev1.Service
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: string(b.Name)}, &s); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, err
		}
		v := s.Annotations[kubernetes.AnnotationVersion]
		if v == "" {
			v = string(b.Name) // the user's own Service, before hugai
		}
		w := 1
		if b.Weight != nil {
			w = int(*b.Weight)
		}
		m[v] = w
	}
	return m, nil
}

func (w *routeWatch) history() []map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.seen)
}

// steps is the distinct weights v had, in order, from the first time it was on the route.
func (w *routeWatch) steps(v string) []int {
	var out []int
	for _, m := range w.history() {
		x, ok := m[v]
		if !ok && len(out) == 0 {
			continue
		}
		if len(out) == 0 && x == 0 {
			continue // on the route before its first weight
		}
		if len(out) == 0 || out[len(out)-1] != x {
			out = append(out, x)
		}
	}
	return out
}

// waitFor waits until the route's non-zero weights are want.
func (w *routeWatch) waitFor(t *testing.T, want map[string]int) {
	t.Helper()
	eventually.True(t, 20*time.Second, fmt.Sprintf("HTTPRoute weights %v", want), func() bool {
		h := w.history()
		if len(h) == 0 {
			return false
		}
		got := map[string]int{}
		for v, x := range h[len(h)-1] {
			if x != 0 {
				got[v] = x
			}
		}
		return maps.Equal(got, want)
	})
}

// gone waits until version v's Deployment is deleted.
func gone(t *testing.T, c client.Client, ns, v string) {
	t.Helper()
	eventually.True(t, 30*time.Second, v+"'s Deployment deleted", func() bool {
		var l appsv1.DeploymentList
		if err := c.List(context.Background(), &l, client.InNamespace(ns), client.MatchingLabels{kubernetes.LabelService: "checkout"}); err != nil {
			return false
		}
		for _, d := range l.Items {
			if d.Annotations[kubernetes.AnnotationVersion] == v {
				return false
			}
		}
		return true
	})
}
