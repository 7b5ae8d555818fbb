package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	_ "time/tzdata" // as the binary does: freeze windows' zones resolve on any machine
)

// run calls hugai in-process as a user would call the binary, returning exit code and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// gitRepo makes a repository in a temp dir with no global git configuration needed.
type gitRepo struct {
	t   *testing.T
	dir string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	r := &gitRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_DATE=2026-11-20T10:00:00Z", "GIT_COMMITTER_DATE=2026-11-20T10:00:00Z")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (r *gitRepo) write(path, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *gitRepo) commit(msg string) {
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
}

func demoServiceFile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/demo/hugai.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestUsageErrorsAreBadInput(t *testing.T) {
	for _, args := range [][]string{{"bogus"}, {"deploy", "plan", "--bogus"}, {"schema"}, {"deploy", "approve"}, {"version", "extra"}} {
		if code, _, _ := run(t, args...); code != ExitBadInput {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// validate given the service file too checks each plan against it: a metric no provider measures
// is refused with the plan's line, exit 2.
func TestValidateChecksPlansAgainstTheService(t *testing.T) {
	svc := writeFile(t, "hugai.yaml", demoServiceFile(t))
	p := writeFile(t, "plan.yaml", `apiVersion: hugai.io/v1
kind: DeploymentPlan
spec:
  environment: production
  strategy: {type: canary}
  successCriteria: error_rate<1%,orders_per_minute>10
  monitoring:
    metrics: [throughput, cpu_utilization]
`)
	code, _, errOut := run(t, "validate", svc, p)
	if code != ExitBadInput || !strings.Contains(errOut, "plan.yaml:6: spec.successCriteria: metric orders_per_minute is neither builtin nor declared") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	// Alone, the plan cannot be checked against a service, and is valid as a document.
	if code, _, errOut := run(t, "validate", p); code != 0 {
		t.Fatalf("the plan alone: exit %d\n%s", code, errOut)
	}
}

// validate of a HugAIDeployment naming a DeploymentPlan: alone it is checked as an object and
// says the plan is the cluster's; given the plan (and the service file) too, the two are checked
// together as the operator runs them; a strategy of its own beside planRef is refused.
func TestValidatePlanRef(t *testing.T) {
	seed, err := os.ReadFile("../plan/testdata/seed-plan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, "plan.yaml", string(seed))
	hd := writeFile(t, "hd.yaml", `apiVersion: hugai.io/v1
kind: HugAIDeployment
metadata: {name: my-app, namespace: production}
spec:
  version: v2
  planRef: {name: my-app-deployment}
`)
	code, out, errOut := run(t, "validate", hd)
	if code != 0 || !strings.Contains(errOut, "warning: my-app: spec.planRef: DeploymentPlan my-app-deployment is read in the cluster") {
		t.Fatalf("alone: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run(t, "validate", p); code != 0 {
		t.Fatalf("the seed's DeploymentPlan: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run(t, "validate", p, hd); code != 0 || strings.Contains(errOut, "warning: my-app: spec.planRef") {
		t.Fatalf("with its plan: exit %d\n%s%s", code, out, errOut)
	}
	// The plan names another version than the object.
	other := writeFile(t, "plan-v3.yaml", strings.Replace(string(seed), "spec:\n", "spec:\n  version: v3\n", 1))
	if code, _, errOut := run(t, "validate", other, hd); code != ExitBadInput || !strings.Contains(errOut, "hd.yaml:6: spec.planRef: spec.version: HugAIDeployment production/my-app says \"v2\", DeploymentPlan production/my-app-deployment says \"v3\"") {
		t.Fatalf("a version mismatch: exit %d\n%s", code, errOut)
	}
	both := writeFile(t, "both.yaml", strings.Replace(mustRead(t, hd), "  version: v2\n", "  version: v2\n  strategy: {type: canary}\n", 1))
	if code, _, errOut := run(t, "validate", both); code != ExitBadInput || !strings.Contains(errOut, "both.yaml:6: spec.strategy: set with spec.planRef") {
		t.Fatalf("planRef and a strategy: exit %d\n%s", code, errOut)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
