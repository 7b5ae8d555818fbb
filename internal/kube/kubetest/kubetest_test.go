package kubetest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fatalRecorder is a testing.TB whose Fatalf ends the goroutine and records the message, to see
// what a kube test is told when the control plane is not there.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func assetsFailure(t *testing.T) string {
	r := &fatalRecorder{TB: t}
	done := make(chan string)
	go func() {
		defer func() { done <- r.msg }()
		dir := Assets(r)
		r.msg = "no failure; assets at " + dir
	}()
	return <-done
}

// Under the kube tag a missing control plane fails the test, saying how to build it; it never
// skips quietly.
func TestAssetsFailWithoutTheControlPlane(t *testing.T) {
	t.Setenv(AssetsEnv, "")
	if msg := assetsFailure(t); !strings.Contains(msg, "set KUBEBUILDER_ASSETS=$(scripts/kube-assets.sh)") {
		t.Fatalf("without %s: %q", AssetsEnv, msg)
	}

	dir := t.TempDir()
	for _, bin := range []string{"etcd", "kube-apiserver"} {
		if err := os.WriteFile(filepath.Join(dir, bin), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(AssetsEnv, dir)
	if msg := assetsFailure(t); !strings.Contains(msg, "kubectl") || !strings.Contains(msg, "rebuild it with scripts/kube-assets.sh") {
		t.Fatalf("without kubectl: %q", msg)
	}
	if err := os.WriteFile(filepath.Join(dir, "kubectl"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if msg := assetsFailure(t); msg != "no failure; assets at "+dir {
		t.Fatalf("with all three: %q", msg)
	}
}
