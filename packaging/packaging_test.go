//go:build e2e && packaging

// Package packaging tests the npm package @hugai/cli and the Python package hugai the seed's
// pipelines use: each is built from this checkout, installed offline into a temp dir, and called
// as the seed calls it.
package packaging

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func cmd(t *testing.T, dir string, env []string, name string, args ...string) (string, int) {
	t.Helper()
	c := exec.Command(name, args...)
	c.Dir = dir
	c.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return out.String(), code
}

func must(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, code := cmd(t, dir, env, name, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\n%s", name, strings.Join(args, " "), code, out)
	}
	return out
}

func npmPlatform(t *testing.T) string {
	cpu := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	if runtime.GOOS != "linux" || cpu == "" {
		t.Skipf("no npm platform package for %s/%s here", runtime.GOOS, runtime.GOARCH)
	}
	return "linux-" + cpu
}

// TestNPMPackageOffline: npm pack of @hugai/cli and this platform's binary package, npm install
// of both with no registry reachable, then `npx @hugai/cli analyze docker …` as the seed's
// Dockerfile stage runs it: its report, its --output file and its exit codes come through.
func TestNPMPackageOffline(t *testing.T) {
	t.Parallel()
	plat := npmPlatform(t)
	tmp := t.TempDir()
	// No registry: anything npm would fetch fails, so nothing is downloaded. npm's cache and user
	// config are the test's own (HOME stays: go build keeps its cache there).
	env := []string{"npm_config_cache=" + filepath.Join(tmp, "cache"), "npm_config_registry=http://127.0.0.1:9/",
		"npm_config_userconfig=" + filepath.Join(tmp, "npmrc"), "npm_config_update_notifier=false",
		"npm_config_audit=false", "npm_config_fund=false"}
	out := filepath.Join(tmp, "dist")
	must(t, "..", append(env, "VERSION=0.0.0-test", "PLATFORMS="+plat, "OUT="+out), "packaging/npm/build.sh")

	proj := filepath.Join(tmp, "proj")
	os.MkdirAll(proj, 0o755)
	os.WriteFile(filepath.Join(proj, "package.json"), []byte(`{"name":"app","version":"1.0.0","private":true}`), 0o644)
	must(t, proj, env, "npm", "install", "--offline",
		filepath.Join(out, "hugai-cli-"+plat+"-0.0.0-test.tgz"), filepath.Join(out, "hugai-cli-0.0.0-test.tgz"))
	os.WriteFile(filepath.Join(proj, "Dockerfile"), []byte("FROM node:latest\nCOPY . .\nRUN npm install\nCMD node server.js\n"), 0o644)

	report := must(t, proj, env, "npx", "--offline", "@hugai/cli", "analyze", "docker", "--optimize-layers", "--security-scan", "--size-optimization")
	if !strings.Contains(report, "HG002") || !strings.Contains(report, "Dockerfile:1") {
		t.Errorf("report:\n%s", report)
	}
	must(t, proj, env, "npx", "--offline", "@hugai/cli", "analyze", "docker", "--optimize-layers", "--security-scan", "--size-optimization", "--output", "analysis.json")
	var sarifOrJSON map[string]any
	b, err := os.ReadFile(filepath.Join(proj, "analysis.json"))
	if err != nil || json.Unmarshal(b, &sarifOrJSON) != nil {
		t.Fatalf("analysis.json: %v\n%s", err, b)
	}
	// hugai's exit code comes through the launcher.
	if out, code := cmd(t, proj, env, "npx", "--offline", "@hugai/cli", "analyze", "docker", "--fail-on", "warning"); code != 1 {
		t.Errorf("--fail-on warning: exit %d\n%s", code, out)
	}
	if out := must(t, proj, env, "npx", "--offline", "@hugai/cli", "version"); !strings.Contains(out, "hugai 0.0.0-test") {
		t.Errorf("version: %s", out)
	}
}

// TestPythonPackageInLambda: the wheel (bundling the binary) built from this checkout, pip
// installed with no index into a fresh venv, and the seed's Lambda handler run verbatim against a
// repository with a leaked key: statusCode 200 and a body with the four fields.
func TestPythonPackageInLambda(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is needed (scripts/install-deps.sh)")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "hugai")
	must(t, "..", []string{"CGO_ENABLED=0", "GOFLAGS=-buildvcs=false"}, "go", "build", "-trimpath", "-o", bin, "./cmd/hugai")
	whl := strings.TrimSpace(must(t, "..", nil, "python3", "packaging/python/build_wheel.py", "--version", "0.0.0", "--out", filepath.Join(tmp, "dist"), "--binary", bin))
	venv := filepath.Join(tmp, "venv")
	must(t, tmp, nil, "python3", "-m", "venv", venv)
	must(t, tmp, []string{"PIP_NO_INDEX=1", "PIP_DISABLE_PIP_VERSION_CHECK=1"}, filepath.Join(venv, "bin", "pip"), "install", "--no-index", whl)

	repo := filepath.Join(tmp, "repo")
	git := func(args ...string) {
		must(t, repo, []string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1"},
			"git", append([]string{"-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	}
	os.MkdirAll(filepath.Join(repo, "config"), 0o755)
	must(t, tmp, nil, "git", "init", "-q", "-b", "main", repo)
	os.WriteFile(filepath.Join(repo, "app.py"), []byte("print('hi')\n"), 0o644)
	git("add", "-A")
	git("commit", "-q", "-m", "feat: app")
	git("tag", "v1.0.0")
	os.WriteFile(filepath.Join(repo, "config", "prod.yaml"), []byte("db:\n  password: Zx9q7LmP2wVb\n"), 0o644)
	git("add", "-A")
	git("commit", "-q", "-m", "feat: config")

	lambda := filepath.Join(tmp, "lambda")
	os.MkdirAll(lambda, 0o755)
	for _, f := range []string{"lambda_index.py", "boto3.py"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(lambda, strings.TrimPrefix(f, "lambda_")), b, 0o644)
	}
	// PATH without hugai: the bundled binary must be the one that runs.
	env := []string{"PATH=/usr/bin:/bin", "HUGAI_BINARY="}
	out := must(t, lambda, env, filepath.Join(venv, "bin", "python"), "-c",
		"import index, json, sys; r = index.handler({'source_location': sys.argv[1]}, None); print(json.dumps(r))", repo)
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || resp.StatusCode != 200 {
		t.Fatalf("handler: %v\n%s", err, out)
	}
	var body struct {
		QualityScore   *int             `json:"quality_score"`
		SecurityIssues []map[string]any `json:"security_issues"`
		DeploymentRisk map[string]any   `json:"deployment_risk"`
		Recs           []map[string]any `json:"recommendations"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatal(err)
	}
	if body.QualityScore == nil || len(body.SecurityIssues) != 1 || body.SecurityIssues[0]["rule"] != "HS013" ||
		body.DeploymentRisk["level"] == nil || len(body.Recs) == 0 || body.Recs[0]["topic"] != "security" {
		t.Errorf("body = %s", resp.Body)
	}
	// A bad input raises HugaiError with hugai's message.
	out, code := cmd(t, lambda, env, filepath.Join(venv, "bin", "python"), "-c",
		"import hugai\ntry:\n  hugai.analyze_deployment('/nonexistent')\nexcept hugai.HugaiError as e:\n  print('HugaiError', e.exit_code, e)")
	if code != 0 || !strings.Contains(out, "HugaiError 2") {
		t.Errorf("bad input: exit %d %s", code, out)
	}
}
