//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Bad input is refused with exit 2 before anything starts: no rollout is recorded, no process of
// the version runs, and the stable version keeps serving.
func TestBadInputStartsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	e.startServer()
	e.deployFirst("v1")

	r := e.hugai("deploy", "plan", "-f", e.file, "--environment", "production", "--strategy", "canary",
		"--version", "v2", "--out", filepath.Join(e.dir, "good.yaml"))
	if r.code != 0 {
		t.Fatalf("deploy plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	good, err := os.ReadFile(filepath.Join(e.dir, "good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writePlan := func(name, old, new string) string {
		t.Helper()
		if !strings.Contains(string(good), old) {
			t.Fatalf("the plan has no %q to change:\n%s", old, good)
		}
		path := filepath.Join(e.dir, name)
		if err := os.WriteFile(path, []byte(strings.Replace(string(good), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	weight140 := writePlan("weight-140.yaml", "setWeight: 25", "setWeight: 140")
	v99Plan := writePlan("v99.yaml", "version: v2", "version: v99")

	canary := func(version string, extra ...string) []string {
		return append([]string{"deploy", "canary", "-f", e.file, "--environment", "production", "--version", version,
			"--traffic-split", "20,50,100", "--health-check-interval", "3s"}, extra...)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		version string // the version that must not run
		want    string // what the message must name
	}{
		{"plan with a weight of 140", []string{"deploy", "execute", "--plan", weight140}, "v2", "weight-140.yaml:"},
		{"criteria with a stray %", canary("v2", "--success-criteria", "error_rate<1%%"), "v2", "success-criteria"},
		{"criteria with no threshold", canary("v2", "--success-criteria", "error_rate<"), "v2", "success-criteria"},
		{"criteria on an unknown metric", canary("v2", "--success-criteria", "happiness>1"), "v2", "happiness"},
		{"traffic split not increasing", canary("v2", "--traffic-split", "50,20,100"), "v2", "traffic-split"},
		{"unknown version", canary("v99"), "v99", "v99"},
		{"plan of an unknown version", []string{"deploy", "execute", "--plan", v99Plan}, "v99", "v99"},
		{"unknown environment", []string{"deploy", "canary", "-f", e.file, "--environment", "nowhere", "--version", "v2"}, "v2", "nowhere"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := rolloutIDs(e)
			r := e.hugai(tc.args...)
			t.Logf("exit %d: %s", r.code, strings.TrimSpace(r.stderr))
			if r.code != 2 {
				t.Errorf("exit %d, want 2 (bad input)\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("the message must name %q: %q", tc.want, r.stderr)
			}
			if after := rolloutIDs(e); !slices.Equal(after, before) {
				t.Errorf("rollouts %v after the bad input, %v before: one was started", after, before)
			}
			if pids := e.replicas(tc.version); len(pids) != 0 {
				t.Errorf("%s runs (pids %v) after bad input", tc.version, pids)
			}
			if n := len(e.replicas("v1")); n != 2 {
				t.Errorf("%d v1 replicas run, want 2: the stable version was disturbed", n)
			}
		})
	}
}

func rolloutIDs(e *env) []string {
	var ids []string
	for _, r := range e.rollouts() {
		ids = append(ids, r.ID)
	}
	return ids
}
