package coredeps

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The core decides; adapters do I/O. A core package that imports the network, a database driver,
// process execution or Kubernetes is a design bug, caught here (Tailscale's tstest/deptest idea).
//
// core is every pure package under internal/. audit is core: it only hashes and checks events
// (stores persist them). Not core, though pure today, as listed in notCore below: api (the HTTP
// API's wire types, which belong to the server and its client) and the port packages target,
// metric and store (the interfaces adapters implement live with them, not with the decisions).
var core = []string{"plan", "criteria", "risk", "change", "policy", "planner", "rollout", "analysis", "analysis/backtest", "audit", "attest", "release", "release/conventional", "release/stages", "secretscan", "preflight", "risk/learn"}

// notCore is every other package directly under internal/, so that a new package is classified
// on purpose: core (and checked) or not.
var notCore = []string{
	"api", "argojudge", "cli", "client", "coredeps", "dockerlint", "engine", "eventually", "export", "git", "kube", "loadgen", "metric", "notify", "operator", "proxy", "releaserun",
	"dashboard", "oidc", "schema", "server", "store", "target", "telemetry", "token",
}

// forbidden may not be reached by the core even through a library (the source check in check.go
// also bans os in the core's own files; here os cannot be, every encoder depends on it).
var forbidden = []string{"net/http", "database/sql", "os/exec", "k8s.io/", "sigs.k8s.io/", "net"}

const mod = "github.com/hugai-dev/hugai/internal/"

func TestCoreImportsNoAdapters(t *testing.T) {
	args := []string{"list", "-deps", "-json=ImportPath,DepOnly,Error"}
	for _, pkg := range core {
		args = append(args, mod+pkg)
	}
	// go list names a missing package in its error and exits non-zero: the test fails with it.
	cmd := exec.Command("go", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr // kept apart: "go: downloading …" lines are not JSON
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list the core: %v\n%s", err, stderr.String())
	}
	// go list -deps prints each package after its dependencies, once: the dependencies printed
	// since the last core package are blamed on the next one, which does depend on them.
	var deps []string
	found := map[string]bool{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			DepOnly    bool
			Error      *struct{ Err string }
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Error != nil {
			t.Errorf("%s: %s", p.ImportPath, p.Error.Err)
		}
		if !p.DepOnly {
			found[strings.TrimPrefix(p.ImportPath, mod)] = true
			for _, d := range deps {
				checkDep(t, p.ImportPath, d)
			}
			deps = deps[:0]
			continue
		}
		deps = append(deps, p.ImportPath)
	}
	for _, pkg := range core {
		if !found[pkg] {
			t.Errorf("core package %s not found: renamed or removed? update the list in coredeps", pkg)
		}
	}
}

// checkDep reports a dependency the core may not have.
func checkDep(t *testing.T, pkg, dep string) {
	t.Helper()
	for _, f := range forbidden {
		if dep == f || strings.HasSuffix(f, "/") && strings.HasPrefix(dep, f) {
			t.Errorf("core package %s depends on %s", pkg, dep)
		}
	}
	if strings.HasPrefix(dep, mod) && !isCore(strings.TrimPrefix(dep, mod)) {
		t.Errorf("core package %s imports hugai's non-core package %s", pkg, strings.TrimPrefix(dep, mod))
	}
}

// The core's own source: no os, no wall clock, no goroutines (check.go), file:line for each.
func TestCoreSourceIsPure(t *testing.T) {
	for _, pkg := range core {
		vs, err := CheckSource(filepath.Join("..", pkg))
		if err != nil {
			t.Errorf("core package %s: %v", pkg, err)
			continue
		}
		for _, v := range vs {
			t.Errorf("core package %s: %s", pkg, v)
		}
	}
}

// Every package under internal/ is classified, so a new pure package cannot escape the checks by
// not being listed.
func TestEveryPackageIsClassified(t *testing.T) {
	entries, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		if slices.Contains(core, name) == slices.Contains(notCore, name) {
			t.Errorf("internal/%s: list it in coredeps as core (pure: no I/O, no clock, no goroutines) or as not core, once", name)
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
