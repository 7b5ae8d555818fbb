package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// deploymentReport mirrors the JSON the seed's pipelines read.
type deploymentReport struct {
	QualityScore   int `json:"quality_score"`
	QualityFactors []struct {
		Name   string `json:"name"`
		Points int    `json:"points"`
	} `json:"quality_factors"`
	SecurityIssues []struct {
		Rule, File, Commit, Severity, Match, Fingerprint string
		Line                                             int
	} `json:"security_issues"`
	DeploymentRisk struct {
		Score   int    `json:"score"`
		Level   string `json:"level"`
		Factors []struct {
			Name string `json:"name"`
		} `json:"factors"`
	} `json:"deployment_risk"`
	Recommendations []struct {
		Topic          string `json:"topic"`
		Recommendation string `json:"recommendation"`
	} `json:"recommendations"`
}

func analyzeDeployment(t *testing.T, wantCode int, args ...string) deploymentReport {
	t.Helper()
	code, stdout, stderr := run(t, append([]string{"analyze", "deployment", "-o", "json", "--at", "2026-12-01T10:00:00Z"}, args...)...)
	if code != wantCode {
		t.Fatalf("exit %d, want %d\n%s%s", code, wantCode, stdout, stderr)
	}
	var r deploymentReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	return r
}

func (r deploymentReport) factor(name string) int {
	for _, f := range r.QualityFactors {
		if f.Name == name {
			return f.Points
		}
	}
	return 999
}

func (r deploymentReport) topics() string {
	var ts []string
	for _, rec := range r.Recommendations {
		ts = append(ts, rec.Topic)
	}
	return strings.Join(ts, ",")
}

// TestAnalyzeDeploymentFindsSecrets: a key added and removed again within the range is still
// found (it is in the history); fixtures listed in the ignore file are not; --fail-on sets the
// exit code; the fields are the seed's.
func TestAnalyzeDeploymentFindsSecrets(t *testing.T) {
	t.Parallel()
	r := newGitRepo(t)
	r.write("hugai.yaml", demoServiceFile(t))
	r.commitFile("main.go", "package main")
	r.git("tag", "v1.0.0")
	r.write("config/prod.yaml", "db:\n  host: db\n  password: Zx9q7LmP2wVb\n")
	r.commit("feat: prod config")
	r.write("deploy/key.pem", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n")
	r.commit("chore: key")
	r.git("rm", "-q", "deploy/key.pem")
	r.commit("chore: remove the key")
	r.write("testdata/fixture.yaml", "password: Q8vN2xLr5TzKb7\n")
	r.write(".hugai-secrets.yaml", "ignore:\n  - path: testdata/**\n    reason: fake on purpose\n")
	r.commit("test: fixture")

	rep := analyzeDeployment(t, ExitFailed, "--repo", r.dir, "-e", "production")
	got := map[string]string{}
	for _, s := range rep.SecurityIssues {
		got[s.Rule] = s.File
		if strings.Contains(s.Match, "Zx9q7LmP2wVb") {
			t.Errorf("the secret is printed: %q", s.Match)
		}
	}
	if len(rep.SecurityIssues) != 2 || got["HS001"] != "deploy/key.pem" || got["HS013"] != "config/prod.yaml" {
		t.Fatalf("security issues = %+v", rep.SecurityIssues)
	}
	if rep.factor("secrets") >= 0 || rep.QualityScore >= 60 || !strings.HasPrefix(rep.topics(), "security,strategy,bake-time") {
		t.Errorf("quality %d (secrets %d), recommendations %s", rep.QualityScore, rep.factor("secrets"), rep.topics())
	}
	if rep.DeploymentRisk.Level == "" || len(rep.DeploymentRisk.Factors) == 0 {
		t.Errorf("risk = %+v", rep.DeploymentRisk)
	}
	// --fail-on none: the same report, exit 0. A fingerprint in the ignore file silences one finding.
	rep = analyzeDeployment(t, 0, "--repo", r.dir, "--fail-on", "none")
	var fp string
	for _, s := range rep.SecurityIssues {
		if s.Rule == "HS013" {
			fp = s.Fingerprint
		}
	}
	ig := filepath.Join(t.TempDir(), "ignore.yaml")
	os.WriteFile(ig, []byte("ignore:\n  - path: testdata/**\n  - fingerprint: "+fp+"\n"), 0o644)
	rep = analyzeDeployment(t, ExitFailed, "--repo", r.dir, "--ignore-file", ig)
	if len(rep.SecurityIssues) != 1 || rep.SecurityIssues[0].Rule != "HS001" {
		t.Errorf("with the fingerprint ignored: %+v", rep.SecurityIssues)
	}
	// --output FILE.json writes the report there.
	out := filepath.Join(t.TempDir(), "analysis.json")
	code, stdout, _ := run(t, "analyze", "deployment", "--repo", r.dir, "--output", out, "--fail-on", "none")
	if b, err := os.ReadFile(out); code != 0 || err != nil || !strings.Contains(string(b), `"quality_score"`) || !strings.Contains(stdout, "written to") {
		t.Errorf("--output file: exit %d %v %s", code, err, stdout)
	}
	if code, _, stderr := run(t, "analyze", "deployment", "--repo", r.dir, "--output", "analysis.txt"); code != ExitBadInput {
		t.Errorf("--output analysis.txt: exit %d %s", code, stderr)
	}
	if code, _, _ := run(t, "analyze", "deployment", "--repo", r.dir, "--fail-on", "bad"); code != ExitBadInput {
		t.Errorf("--fail-on bad: exit %d", code)
	}
	if code, _, _ := run(t, "analyze", "deployment", "--repo", r.dir, "-e", "moon"); code != ExitBadInput {
		t.Errorf("unknown environment: exit %d", code)
	}
}

// TestAnalyzeDeploymentQuality: a large change without tests over many directories, with a
// migration, scores low and is told to split, add tests and ship the migration first; a small
// change with its tests scores 100.
func TestAnalyzeDeploymentQuality(t *testing.T) {
	t.Parallel()
	r := newGitRepo(t)
	r.commitFile("README.md", "# x")
	r.git("tag", "v1.0.0")
	r.write("svc/handler.go", "package svc\n\nfunc H() int { return 1 }\n")
	r.write("svc/handler_test.go", "package svc\n\nimport \"testing\"\n\nfunc TestH(t *testing.T) { _ = H() }\n")
	r.commit("feat: handler")
	r.git("tag", "v1.1.0")
	small := analyzeDeployment(t, 0, "--repo", r.dir, "--from", "v1.0.0", "--to", "v1.1.0")
	if small.QualityScore != 100 || len(small.SecurityIssues) != 0 || strings.Contains(small.topics(), "split") {
		t.Errorf("small change: quality %d, recommendations %s, %+v", small.QualityScore, small.topics(), small.QualityFactors)
	}

	for _, dir := range []string{"api", "web", "worker", "billing", "auth"} {
		r.write(dir+"/main.go", "package main\n"+strings.Repeat("var x = 1\n", 300))
	}
	r.write("db/migrations/0002_orders.sql", "CREATE TABLE orders (id int);\n")
	r.commit("feat: everything at once")
	big := analyzeDeployment(t, 0, "--repo", r.dir)
	if big.factor("tests") != -25 || big.factor("size") != -20 || big.factor("review-sensitive") >= 0 || big.factor("diffusion") != -5 {
		t.Errorf("factors = %+v", big.QualityFactors)
	}
	if big.QualityScore > 50 {
		t.Errorf("quality %d for 1,500 untested lines over 6 directories", big.QualityScore)
	}
	for _, topic := range []string{"split", "migrations", "tests", "approvals"} {
		if !strings.Contains(big.topics(), topic) {
			t.Errorf("no %s recommendation: %s", topic, big.topics())
		}
	}
}

// TestAnalyzeDeploymentOwnHistory: this repository's whole history holds no secret outside the
// fixtures its .hugai-secrets.yaml lists.
func TestAnalyzeDeploymentOwnHistory(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("../../.git"); err != nil {
		t.Skip("not in a git checkout")
	}
	rep := analyzeDeployment(t, 0, "--repo", "../..", "--from", "", "--fail-on", "medium")
	if len(rep.SecurityIssues) != 0 {
		t.Errorf("false positives: %+v", rep.SecurityIssues)
	}
}

func TestAnalyzeDeploymentListRules(t *testing.T) {
	code, stdout, _ := run(t, "analyze", "deployment", "--list-rules")
	if code != 0 || !strings.Contains(stdout, "HS001  critical  Private key") || strings.Count(stdout, "\nHS") != 14 {
		t.Errorf("exit %d\n%s", code, stdout)
	}
}
