package coredeps

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The core decides; adapters do I/O. A core package that imports the network, a database driver,
// process execution or Kubernetes is a design bug, caught here (Tailscale's tstest/deptest idea).
var core = []string{"plan", "criteria", "risk", "change", "policy", "planner", "rollout", "analysis"}

var forbidden = []string{"net/http", "database/sql", "os/exec", "k8s.io/", "sigs.k8s.io/controller-runtime", "net"}

func TestCoreImportsNoAdapters(t *testing.T) {
	const mod = "github.com/hugai-dev/hugai/internal/"
	for _, pkg := range core {
		if _, err := os.Stat("../" + pkg); err != nil {
			continue // a core package not written yet
		}
		out, err := exec.Command("go", "list", "-deps", "-json=ImportPath", "../"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		dec := json.NewDecoder(strings.NewReader(string(out)))
		for dec.More() {
			var p struct{ ImportPath string }
			if err := dec.Decode(&p); err != nil {
				t.Fatal(err)
			}
			for _, f := range forbidden {
				if p.ImportPath == f || strings.HasSuffix(f, "/") && strings.HasPrefix(p.ImportPath, f) {
					t.Errorf("core package %s depends on %s", pkg, p.ImportPath)
				}
			}
			if strings.HasPrefix(p.ImportPath, mod) {
				dep := strings.TrimPrefix(p.ImportPath, mod)
				if !isCore(dep) {
					t.Errorf("core package %s imports hugai's non-core package %s", pkg, dep)
				}
			}
		}
	}
}

func isCore(p string) bool {
	for _, c := range core {
		if p == c || strings.HasPrefix(p, c+"/") {
			return true
		}
	}
	return false
}
