package preflight

import (
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/change"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/risk"
	"github.com/hugai-dev/hugai/internal/secretscan"
)

func set(files ...change.File) *change.Set {
	s := &change.Set{From: "v1", To: "HEAD", ToHash: "abc", Commits: []change.Commit{{Hash: "abc"}}, Files: files}
	s.Classify()
	return s
}

func points(r Report, name string) int {
	for _, f := range r.QualityFactors {
		if f.Name == name {
			return f.Points
		}
	}
	return 999
}

func topics(r Report) string {
	var ts []string
	for _, rec := range r.Recommendations {
		ts = append(ts, rec.Topic)
	}
	return strings.Join(ts, ",")
}

func TestQualityFactors(t *testing.T) {
	cases := []struct {
		name   string
		files  []change.File
		find   []secretscan.Finding
		factor string
		want   int
	}{
		{"source without tests", []change.File{{Path: "svc/a.go", Added: 50, Commits: 1}}, nil, "tests", -25},
		{"thin tests", []change.File{{Path: "svc/a.go", Added: 100, Commits: 1}, {Path: "svc/a_test.go", Added: 10, Commits: 1}}, nil, "tests", -10},
		{"tests with the code", []change.File{{Path: "svc/a.go", Added: 100, Commits: 1}, {Path: "svc/a_test.go", Added: 40, Commits: 1}}, nil, "tests", 0},
		{"docs only", []change.File{{Path: "README.md", Added: 5, Commits: 1}}, nil, "tests", 0},
		{"large", []change.File{{Path: "a.go", Added: 300}, {Path: "a_test.go", Added: 200}}, nil, "size", -10},
		{"very large", []change.File{{Path: "a.go", Added: 900}, {Path: "a_test.go", Added: 200}}, nil, "size", -20},
		{"churn", []change.File{{Path: "a.go", Added: 1, Commits: 7}, {Path: "b.go", Added: 1, Commits: 5}, {Path: "c.go", Added: 1, Commits: 4}}, nil, "churn", -4},
		{"sensitive", []change.File{{Path: "db/migrations/1.sql", Added: 1}, {Path: ".github/workflows/ci.yml", Added: 1}, {Path: "internal/auth/login.go", Added: 1}}, nil, "review-sensitive", -12},
		{"secrets", []change.File{{Path: "a.yaml", Added: 1}}, []secretscan.Finding{{Severity: secretscan.Critical}, {Severity: secretscan.High}, {Severity: secretscan.Critical}}, "secrets", -50},
		{"one medium secret", []change.File{{Path: "a.yaml", Added: 1}}, []secretscan.Finding{{Severity: secretscan.Medium}}, "secrets", -5},
	}
	for _, c := range cases {
		r := Analyze(Input{Changes: set(c.files...), Findings: c.find, Risk: risk.Assess(risk.Input{Changes: set(c.files...)})})
		if got := points(r, c.factor); got != c.want {
			t.Errorf("%s: %s = %d, want %d (%+v)", c.name, c.factor, got, c.want, r.QualityFactors)
		}
		sum := 100
		for _, f := range r.QualityFactors {
			sum += f.Points
		}
		if r.QualityScore != max(0, sum) || r.QualityScore < 0 || r.QualityScore > 100 {
			t.Errorf("%s: score %d is not 100 plus its factors (%d)", c.name, r.QualityScore, sum)
		}
	}
}

func TestRecommendations(t *testing.T) {
	clean := set(change.File{Path: "svc/a.go", Added: 10, Commits: 1}, change.File{Path: "svc/a_test.go", Added: 10, Commits: 1})
	r := Analyze(Input{Changes: clean, Risk: risk.Assessment{Level: risk.Low}})
	if topics(r) != "strategy,bake-time" || !strings.Contains(r.Recommendations[1].Recommendation, "10m0s") {
		t.Errorf("clean change: %+v", r.Recommendations)
	}
	if len(r.SecurityIssues) != 0 || r.SecurityIssues == nil {
		t.Error("security_issues must be an empty list, not null, for pipelines")
	}

	short := plan.Duration{Duration: time.Minute}
	p := &plan.DeploymentPlan{Spec: plan.PlanSpec{
		Strategy:   plan.Strategy{Type: "canary", Canary: &plan.CanaryStrategy{Steps: []plan.CanaryStep{{SetWeight: ptr(5)}, {SetWeight: ptr(100)}}}},
		Monitoring: &plan.Monitoring{Duration: &short},
		Governance: &plan.Governance{Approvals: []plan.Approval{{Name: "production", Approvers: []string{"sre"}, Count: 2}}},
	}}
	r = Analyze(Input{Changes: clean, Risk: risk.Assessment{Level: risk.High}, Plan: p, Environment: "production",
		Findings: []secretscan.Finding{{Rule: "HS004", Path: "ci.yml", Line: 3, Severity: secretscan.Critical}}})
	if topics(r) != "security,strategy,bake-time,approvals" {
		t.Fatalf("topics %s", topics(r))
	}
	for i, want := range []string{"HS004 ci.yml:3", "canary rollout through 5%, 100%", "for 1h0m0s after promotion (monitoring.duration is 1m0s)", "production (2 of sre)"} {
		if !strings.Contains(r.Recommendations[i].Recommendation+r.Recommendations[i].Reason, want) {
			t.Errorf("recommendation %d = %+v, want it to say %q", i, r.Recommendations[i], want)
		}
	}

	var big []change.File
	for _, d := range []string{"api", "web", "worker", "billing", "auth"} {
		big = append(big, change.File{Path: d + "/main.go", Added: 300, Commits: 1})
	}
	big = append(big, change.File{Path: "db/migrations/2.sql", Added: 5, Commits: 1})
	r = Analyze(Input{Changes: set(big...), Risk: risk.Assessment{Level: risk.Medium}})
	if got := topics(r); got != "strategy,bake-time,approvals,split,migrations,tests" {
		t.Errorf("large change: %s", got)
	}
}

func ptr[T any](v T) *T { return &v }
