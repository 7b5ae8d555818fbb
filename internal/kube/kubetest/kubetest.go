// Package kubetest starts a real Kubernetes API server (etcd and kube-apiserver, through
// controller-runtime's envtest) for the tests behind the `kube` build tag. The binaries are the
// ones scripts/kube-assets.sh builds from the Go module proxy and caches outside the clone; the
// test finds them through KUBEBUILDER_ASSETS. There is no kubelet: nothing runs pods, and tests
// make workloads ready by writing their status.
package kubetest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// AssetsEnv names the folder holding etcd, kube-apiserver and kubectl.
const AssetsEnv = "KUBEBUILDER_ASSETS"

// Cluster is a running control plane, stopped when the test that started it ends.
type Cluster struct {
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Client is a controller-runtime client on Config that knows Scheme's types.
	Client client.Client
	Scheme *runtime.Scheme
	// Kubeconfig is a file for kubectl and for code that takes --kubeconfig.
	Kubeconfig string
	// Kubectl is the kubectl binary built with the control plane.
	Kubectl string
}

// Options adds to the control plane.
type Options struct {
	// CRDPaths are files or folders of CustomResourceDefinitions installed before Start returns
	// (and waited for until the API server serves them). A missing path fails the test.
	CRDPaths []string
	// AddToScheme registers the types the Client must know besides the built-in ones.
	AddToScheme []func(*runtime.Scheme) error
}

// Assets returns the folder of control-plane binaries, failing the test when it is not set up:
// the `kube` tag asks for a real API server, and a test that quietly skipped without one would
// pass on every machine that never ran it.
func Assets(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(AssetsEnv)
	if dir == "" {
		t.Fatalf("the kube tag needs a control plane: set %s=$(scripts/kube-assets.sh) (it builds etcd, kube-apiserver and kubectl once)", AssetsEnv)
	}
	for _, bin := range []string{"etcd", "kube-apiserver", "kubectl"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			t.Fatalf("%s=%s: %v; rebuild it with scripts/kube-assets.sh", AssetsEnv, dir, err)
		}
	}
	return dir
}

// Start runs etcd and kube-apiserver on loopback ports picked at run time, with their data in
// temp dirs, and stops both (the API server first: stopped after etcd it hangs) when t ends.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	assets := Assets(t)
	scheme := runtime.NewScheme()
	adders := append([]func(*runtime.Scheme) error{clientgoscheme.AddToScheme}, opts.AddToScheme...)
	for _, add := range adders {
		if err := add(scheme); err != nil {
			t.Fatalf("scheme: %v", err)
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		CRDDirectoryPaths:        opts.CRDPaths,
		ErrorIfCRDPathMissing:    true,
		Scheme:                   scheme,
		ControlPlaneStartTimeout: 2 * time.Minute, // a loaded 2-core machine: etcd's first fsync is slow
		ControlPlaneStopTimeout:  time.Minute,
	}
	api := env.ControlPlane.GetAPIServer()
	// v1.37 refuses the loopback advertise address envtest passes unless no endpoint reconciler
	// runs; a single test API server has no peers to reconcile with anyway.
	api.Configure().Set("endpoint-reconciler-type", "none")
	api.Configure().Set("bind-address", "127.0.0.1")
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		t.Fatalf("start the control plane from %s: %v", assets, err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop the control plane: %v", err)
		}
	})
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := writeKubeconfig(env, kubeconfig); err != nil {
		t.Fatal(err)
	}
	return &Cluster{Config: cfg, Client: c, Scheme: scheme, Kubeconfig: kubeconfig, Kubectl: filepath.Join(assets, "kubectl")}
}

// writeKubeconfig writes an administrator's kubeconfig for the running control plane.
func writeKubeconfig(env *envtest.Environment, path string) error {
	user, err := env.ControlPlane.AddUser(envtest.User{Name: "hugai-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add a kubeconfig user: %w", err)
	}
	b, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}
