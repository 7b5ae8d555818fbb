package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const argoTestdata = "../export/argo/testdata/"

func TestExportArgoRollouts(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "rollout.yaml")
	code, stdout, stderr := run(t, "export", "argo-rollouts", "--plan", argoTestdata+"canary.yaml", "-f", argoTestdata+"hugai.yaml", "--out", out)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("with --out, nothing on standard output; got %q", stdout)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(argoTestdata + "golden/canary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The golden file is the notes as comments, then the objects: the command writes the objects
	// and prints the notes on standard error.
	var notes, objects []string
	for _, line := range strings.SplitAfter(string(golden), "\n") {
		if n, ok := strings.CutPrefix(line, "# note: "); ok {
			notes = append(notes, "hugai: note: "+n)
			continue
		}
		objects = append(objects, line)
	}
	if string(data) != strings.Join(objects, "") {
		t.Errorf("written file differs from %sgolden/canary.yaml:\n%s", argoTestdata, data)
	}
	if stderr != strings.Join(notes, "") {
		t.Errorf("notes on standard error:\n%s\nwant:\n%s", stderr, strings.Join(notes, ""))
	}
}

func TestExportArgoRolloutsBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	builtin := filepath.Join(dir, "plan.yaml")
	canary, err := os.ReadFile(argoTestdata + "canary.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(builtin, []byte(strings.Replace(string(canary), "latency_p95<2s", "latency_p99<2s", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	svc := argoTestdata + "hugai.yaml"
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"recreate", []string{"--plan", argoTestdata + "recreate.yaml", "-f", svc}, "recreate.yaml:10: spec.strategy.type: recreate has no Argo Rollouts equivalent"},
		{"missing plan file", []string{"--plan", filepath.Join(dir, "nope.yaml"), "-f", svc}, "nope.yaml: no such file or directory"},
		{"not a plan", []string{"--plan", svc, "-f", svc}, "hugai.yaml:1: kind: Service: want one DeploymentPlan"},
		{"no --plan", []string{"-f", svc}, "--plan FILE is required"},
		{"unmeasurable metric", []string{"--plan", builtin, "-f", svc}, "plan.yaml:30: spec.successCriteria: metric latency_p99"},
		{"flag against the plan", []string{"--plan", argoTestdata + "canary.yaml", "-f", svc, "--version", "v3"}, "canary.yaml:8: spec.version: v2.1.0: --version v3 differs"},
		{"no version anywhere", []string{"--plan", argoTestdata + "seed-plan.yaml", "-f", svc}, "seed-plan.yaml:7: spec.version: missing: set it or pass --version"},
		{"missing service file", []string{"--plan", argoTestdata + "canary.yaml", "-f", filepath.Join(dir, "hugai.yaml")}, "service file"},
	}
	for _, tc := range cases {
		code, stdout, stderr := run(t, append([]string{"export", "argo-rollouts"}, tc.args...)...)
		if code != ExitBadInput || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 naming %q", tc.name, code, stderr, tc.want)
		}
		if stdout != "" {
			t.Errorf("%s: refused, yet wrote %q", tc.name, stdout)
		}
	}
}

// TestExportTheSeedsPlan: the seed's own DeploymentPlan, which names no version or environment,
// exports with --version (the environment is the service's only one), as execute runs it.
func TestExportTheSeedsPlan(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := run(t, "export", "argo-rollouts", "--plan", argoTestdata+"seed-plan.yaml", "-f", argoTestdata+"hugai.yaml", "--version", "v2")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"name: success-rate\n", "name: avg-response-time\n", "name: my-app-success-criteria\n", "kind: Rollout\n", "value: v2\n", "value: production\n", "duration: 5m\n", "setWeight: 25\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("export of the seed's plan lacks %q:\n%s", want, stdout)
		}
	}
}
