package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// writeDockerfile puts a Dockerfile (and optionally a .hugai-docker.yaml) in a temp dir.
func writeDockerfile(t *testing.T, src, config string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "Dockerfile")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if config != "" {
		if err := os.WriteFile(filepath.Join(dir, ".hugai-docker.yaml"), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

const leakyDockerfile = "FROM python:3.12\nENV API_TOKEN=abc123\nCMD python app.py\n"

func TestAnalyzeDockerTextAndExitCodes(t *testing.T) {
	t.Parallel()
	p := writeDockerfile(t, leakyDockerfile, "")
	code, out, errOut := run(t, "analyze", "docker", p)
	if code != ExitFailed {
		t.Fatalf("exit %d, want 1 (an error-level finding)\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		p + ":2: HG005 error: ENV API_TOKEN holds a literal secret",
		"    fix: Pass it at build time as a secret",
		p + ":3: HG030 warning: CMD in shell form",
		"1 file(s): 1 error,",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "1 finding(s) at or above error") {
		t.Errorf("stderr: %q", errOut)
	}
	if code, _, _ := run(t, "analyze", "docker", "--fail-on", "none", p); code != ExitOK {
		t.Errorf("--fail-on none: exit %d", code)
	}
	warnOnly := writeDockerfile(t, "FROM alpine:3.20\nCMD echo hi\n", "")
	if code, _, _ := run(t, "analyze", "docker", warnOnly); code != ExitOK {
		t.Errorf("warnings under the default threshold: exit %d", code)
	}
	if code, _, _ := run(t, "analyze", "docker", "--fail-on", "warning", warnOnly); code != ExitFailed {
		t.Errorf("--fail-on warning: exit %d", code)
	}
	if code, _, errOut := run(t, "analyze", "docker", "--fail-on", "loud", p); code != ExitBadInput || !strings.Contains(errOut, "--fail-on") {
		t.Errorf("--fail-on loud: exit %d %q", code, errOut)
	}
	if code, _, errOut := run(t, "analyze", "docker", filepath.Join(t.TempDir(), "Dockerfile")); code != ExitBadInput || !strings.Contains(errOut, "read Dockerfile") {
		t.Errorf("missing Dockerfile: exit %d %q", code, errOut)
	}
	empty := writeDockerfile(t, "# only a comment\n", "")
	if code, _, _ := run(t, "analyze", "docker", empty); code != ExitBadInput {
		t.Errorf("empty Dockerfile: exit %d", code)
	}
}

func TestAnalyzeDockerOutputFiles(t *testing.T) {
	t.Parallel()
	p := writeDockerfile(t, leakyDockerfile, "")
	dir := t.TempDir()

	// The seed's own call: --output analysis.json writes JSON to that file.
	jsonPath := filepath.Join(dir, "analysis.json")
	code, out, _ := run(t, "analyze", "docker", "--optimize-layers", "--security-scan", "--size-optimization", "--fail-on", "none", p, "--output", jsonPath)
	if code != ExitOK || !strings.Contains(out, "to "+jsonPath+" (json)") {
		t.Fatalf("exit %d: %s", code, out)
	}
	var rep struct {
		Findings []struct{ Rule, Severity, Fix string }
		Summary  map[string]int
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Findings) == 0 || rep.Summary["error"] != 1 {
		t.Fatalf("analysis.json: %v %+v", err, rep)
	}
	for _, f := range rep.Findings {
		if f.Rule == "HG030" {
			t.Error("HG030 (best practice) ran though only three groups were asked for")
		}
	}

	sarifPath := filepath.Join(dir, "out.sarif")
	if code, _, _ := run(t, "analyze", "docker", "--fail-on", "none", p, "-o", sarifPath); code != ExitOK {
		t.Fatalf("sarif: exit %d", code)
	}
	var log struct {
		Version string
		Runs    []struct{ Results []struct{ RuleID string } }
	}
	b, _ = os.ReadFile(sarifPath)
	if err := json.Unmarshal(b, &log); err != nil || log.Version != "2.1.0" || len(log.Runs[0].Results) == 0 {
		t.Fatalf("out.sarif: %v %s", err, b)
	}

	yamlPath := filepath.Join(dir, "out.yml")
	if code, _, _ := run(t, "analyze", "docker", "--fail-on", "none", p, "-o", yamlPath); code != ExitOK {
		t.Fatalf("yaml: exit %d", code)
	}
	var y map[string]any
	b, _ = os.ReadFile(yamlPath)
	if err := yaml.Unmarshal(b, &y); err != nil || y["findings"] == nil {
		t.Fatalf("out.yml: %v %s", err, b)
	}

	// Formats on stdout.
	if code, out, _ := run(t, "analyze", "docker", "--fail-on", "none", p, "-o", "sarif"); code != ExitOK || !strings.Contains(out, `"version": "2.1.0"`) {
		t.Errorf("-o sarif: exit %d\n%s", code, out)
	}
	// Neither a format nor a known extension: refused, nothing written.
	for _, bad := range []string{filepath.Join(dir, "out.txt"), "xml", filepath.Join(dir, ".json")} {
		code, _, errOut := run(t, "analyze", "docker", p, "-o", bad)
		if code != ExitBadInput || !strings.Contains(errOut, "want a format (text, table, json, yaml, sarif) or a file ending") {
			t.Errorf("-o %s: exit %d %q", bad, code, errOut)
		}
		if _, err := os.Stat(bad); err == nil {
			t.Errorf("-o %s wrote a file", bad)
		}
	}
}

func TestAnalyzeDockerConfigAndInlineIgnores(t *testing.T) {
	t.Parallel()
	src := "# hugai-ignore=HG022\nFROM python:3.12\n# hugai-ignore=HG005\nENV API_TOKEN=abc123\nCMD python app.py\n"
	p := writeDockerfile(t, src, "ignore: [HG003]\nseverity:\n  HG030: error\n")
	code, out, _ := run(t, "analyze", "docker", "-o", "json", p)
	if code != ExitFailed {
		t.Fatalf("exit %d, want 1: HG030 re-rated to error", code)
	}
	var rep struct {
		Findings []struct{ Rule, Severity string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range rep.Findings {
		got[f.Rule] = f.Severity
	}
	for _, gone := range []string{"HG003", "HG005", "HG022"} {
		if _, ok := got[gone]; ok {
			t.Errorf("%s not ignored", gone)
		}
	}
	if got["HG030"] != "error" || got["HG004"] != "warning" {
		t.Errorf("severities %v", got)
	}

	bad := writeDockerfile(t, leakyDockerfile, "ignore: [HG003]\nseverity:\n  HG031: critical\n")
	code, _, errOut := run(t, "analyze", "docker", bad)
	if code != ExitBadInput || !strings.Contains(errOut, ".hugai-docker.yaml:3: severity.HG031: severity \"critical\"") {
		t.Errorf("bad config: exit %d %q", code, errOut)
	}
	// --config names another file.
	other := filepath.Join(t.TempDir(), "lint.yaml")
	if err := os.WriteFile(other, []byte("ignore: [HG005]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := run(t, "analyze", "docker", "--config", other, bad); code != ExitOK {
		t.Errorf("--config ignoring the only error: exit %d", code)
	}
}

// Other commands keep their -o: a file name is not a format there.
func TestOtherCommandsKeepTheirOutputFlag(t *testing.T) {
	t.Parallel()
	code, _, errOut := run(t, "version", "-o", "analysis.json")
	if code != ExitBadInput || !strings.Contains(errOut, "want table, json or yaml") {
		t.Errorf("version -o analysis.json: exit %d %q", code, errOut)
	}
}
