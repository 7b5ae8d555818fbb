// Package preflight judges a change before it ships, for `hugai analyze deployment`: a quality
// score with its factors, the secrets found in the lines it adds, its deployment risk, and
// concrete recommendations (strategy, bake time, approvals, splitting it). It is part of the pure
// core: the change, the findings and the plan are inputs.
package preflight

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hugai-dev/hugai/internal/change"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/risk"
	"github.com/hugai-dev/hugai/internal/secretscan"
)

// Input is what a report is made from.
type Input struct {
	Environment string
	Changes     *change.Set
	Findings    []secretscan.Finding
	Risk        risk.Assessment
	// Plan is the DeploymentPlan the planner decides for the environment, when a service file
	// names it; without one the strategy comes from the risk's default mapping.
	Plan *plan.DeploymentPlan
}

// Report is what `hugai analyze deployment` prints; the JSON names are the ones the seed's
// pipelines read (quality_score, security_issues, deployment_risk, recommendations).
type Report struct {
	QualityScore    int                  `json:"quality_score"`
	QualityFactors  []Factor             `json:"quality_factors"`
	SecurityIssues  []secretscan.Finding `json:"security_issues"`
	DeploymentRisk  Risk                 `json:"deployment_risk"`
	Recommendations []Recommendation     `json:"recommendations"`
	Environment     string               `json:"environment,omitempty"`
	From            string               `json:"from,omitempty"`
	To              string               `json:"to"`
	FromCommit      string               `json:"from_commit,omitempty"`
	ToCommit        string               `json:"to_commit"`
	Commits         int                  `json:"commits"`
	Files           int                  `json:"files"`
	LinesAdded      int                  `json:"lines_added"`
	LinesDeleted    int                  `json:"lines_deleted"`
}

// Factor is one reason the quality score is what it is: points taken off 100 (0 for a factor
// that holds).
type Factor struct {
	Name   string `json:"name"`
	Points int    `json:"points"`
	Reason string `json:"reason"`
}

// Risk is the deployment risk, as internal/risk scores it for the environment.
type Risk struct {
	Score   int          `json:"score"`
	Level   string       `json:"level"`
	Factors []RiskFactor `json:"factors"`
}

// RiskFactor is one contribution to the risk score.
type RiskFactor struct {
	Name         string  `json:"name"`
	Contribution float64 `json:"contribution"`
	Reason       string  `json:"reason"`
}

// Recommendation is one concrete thing to do.
type Recommendation struct {
	Topic          string `json:"topic"` // security, strategy, bake-time, approvals, split, migrations, tests
	Recommendation string `json:"recommendation"`
	Reason         string `json:"reason"`
}

// Thresholds of the quality factors; docs/deployment-analysis.md says where they come from.
const (
	largeChange    = 400  // lines: review effectiveness drops past about 400 (SmartBear/Cisco)
	veryLarge      = 1000 // lines: split it
	hotFileCommits = 5    // commits of the range touching one file: churn
	wideSubsystems = 4    // top-level directories touched: diffusion (Kamei et al.)
)

// Analyze makes the report.
func Analyze(in Input) Report {
	r := Report{Environment: in.Environment, SecurityIssues: in.Findings}
	if r.SecurityIssues == nil {
		r.SecurityIssues = []secretscan.Finding{}
	}
	cs := in.Changes
	if cs != nil {
		t := cs.Totals()
		r.From, r.To, r.FromCommit, r.ToCommit = cs.From, cs.To, cs.FromHash, cs.ToHash
		r.Commits, r.Files, r.LinesAdded, r.LinesDeleted = t.Commits, t.Files, t.Added, t.Deleted
	}
	r.QualityFactors = qualityFactors(cs, in.Findings)
	score := 100
	for _, f := range r.QualityFactors {
		score += f.Points
	}
	r.QualityScore = max(0, min(100, score))
	r.DeploymentRisk = Risk{Score: in.Risk.Score, Level: string(in.Risk.Level), Factors: []RiskFactor{}}
	for _, f := range in.Risk.Factors {
		r.DeploymentRisk.Factors = append(r.DeploymentRisk.Factors, RiskFactor{Name: f.Name, Contribution: f.Contribution, Reason: f.Reason})
	}
	r.Recommendations = recommend(in, cs)
	return r
}

func qualityFactors(cs *change.Set, findings []secretscan.Finding) []Factor {
	var fs []Factor
	if cs == nil {
		return append(fs, Factor{Name: "no-change", Points: -20, Reason: "no change to judge (no git range): quality unknown"})
	}
	var src, tests int
	var srcDirs []string
	for _, f := range cs.Files {
		switch f.Class {
		case change.Source:
			src += f.Lines()
			srcDirs = append(srcDirs, f.Dir())
		case change.Test:
			tests += f.Lines()
		}
	}
	switch {
	case src == 0:
		fs = append(fs, Factor{Name: "tests", Points: 0, Reason: "no source code changed"})
	case tests == 0:
		fs = append(fs, Factor{Name: "tests", Points: -25, Reason: fmt.Sprintf("%d lines of source changed and no test changed with them (in %s)", src, listTop(uniq(srcDirs), 3))})
	case tests*5 < src:
		fs = append(fs, Factor{Name: "tests", Points: -10, Reason: fmt.Sprintf("%d lines of tests for %d lines of source (under 1 for 5)", tests, src)})
	default:
		fs = append(fs, Factor{Name: "tests", Points: 0, Reason: fmt.Sprintf("%d lines of tests changed with %d lines of source", tests, src)})
	}

	lines := cs.Totals().Lines()
	switch {
	case lines > veryLarge:
		fs = append(fs, Factor{Name: "size", Points: -20, Reason: fmt.Sprintf("%d lines changed: past %d, a review misses most defects", lines, veryLarge)})
	case lines > largeChange:
		fs = append(fs, Factor{Name: "size", Points: -10, Reason: fmt.Sprintf("%d lines changed: past %d, review effectiveness drops", lines, largeChange)})
	default:
		fs = append(fs, Factor{Name: "size", Points: 0, Reason: fmt.Sprintf("%d lines changed", lines)})
	}

	var hot []string
	for _, f := range cs.Files {
		if f.Commits >= hotFileCommits {
			hot = append(hot, fmt.Sprintf("%s (%d commits)", f.Path, f.Commits))
		}
	}
	if len(hot) > 0 {
		fs = append(fs, Factor{Name: "churn", Points: -min(10, 2*len(hot)), Reason: fmt.Sprintf("%d file(s) changed again and again in the range: %s", len(hot), listTop(hot, 3))})
	} else {
		fs = append(fs, Factor{Name: "churn", Points: 0, Reason: fmt.Sprintf("no file changed by %d or more commits of the range", hotFileCommits)})
	}

	var sensitive []string
	for _, f := range cs.Files {
		if why := sensitiveWhy(f); why != "" {
			sensitive = append(sensitive, f.Path+" ("+why+")")
		}
	}
	if len(sensitive) > 0 {
		fs = append(fs, Factor{Name: "review-sensitive", Points: -min(20, 4*len(sensitive)), Reason: fmt.Sprintf("%d file(s) that need a careful review: %s", len(sensitive), listTop(sensitive, 4))})
	} else {
		fs = append(fs, Factor{Name: "review-sensitive", Points: 0, Reason: "no migration, infrastructure, dependency, CI or security-related file"})
	}

	if n := len(cs.Subsystems()); n > wideSubsystems {
		fs = append(fs, Factor{Name: "diffusion", Points: -5, Reason: fmt.Sprintf("the change spans %d top-level directories", n)})
	}

	var pts int
	bySev := map[string]int{}
	for _, f := range findings {
		bySev[f.Severity]++
		switch f.Severity {
		case secretscan.Critical:
			pts += 25
		case secretscan.High:
			pts += 15
		default:
			pts += 5
		}
	}
	if len(findings) > 0 {
		fs = append(fs, Factor{Name: "secrets", Points: -min(50, pts), Reason: fmt.Sprintf("%d secret(s) in added lines: %d critical, %d high, %d medium",
			len(findings), bySev[secretscan.Critical], bySev[secretscan.High], bySev[secretscan.Medium])})
	} else {
		fs = append(fs, Factor{Name: "secrets", Points: 0, Reason: "no secret found in the added lines"})
	}
	return fs
}

// sensitiveWhy says why a file needs a careful review, or "".
func sensitiveWhy(f change.File) string {
	switch f.Class {
	case change.Migration:
		return "migration"
	case change.Infrastructure:
		return "infrastructure"
	case change.Dependency:
		return "dependencies"
	}
	p := strings.ToLower(f.Path)
	if strings.HasPrefix(p, ".github/workflows/") || strings.HasSuffix(p, ".gitlab-ci.yml") || strings.HasPrefix(p, ".circleci/") || strings.HasPrefix(p, ".ci/") || p == "jenkinsfile" {
		return "CI pipeline"
	}
	for _, w := range []string{"auth", "crypto", "security", "permission", "rbac", "password", "secret", "token", "oauth", "session"} {
		if strings.Contains(p, w) && f.Class != change.Docs {
			return "security-related"
		}
	}
	return ""
}

// bakeTimes is how long to watch a release after promotion, by risk level: the longer the risk,
// the longer a slow failure (a leak, a nightly job, a cache expiring) has to show.
var bakeTimes = map[risk.Level]time.Duration{
	risk.Low: 10 * time.Minute, risk.Medium: 30 * time.Minute, risk.High: time.Hour, risk.Critical: 2 * time.Hour,
}

func recommend(in Input, cs *change.Set) []Recommendation {
	var out []Recommendation
	add := func(topic, rec, format string, args ...any) {
		out = append(out, Recommendation{Topic: topic, Recommendation: rec, Reason: fmt.Sprintf(format, args...)})
	}
	var blocking []string
	for _, f := range in.Findings {
		if f.Severity == secretscan.Critical || f.Severity == secretscan.High {
			blocking = append(blocking, fmt.Sprintf("%s %s:%d", f.Rule, f.Path, f.Line))
		}
	}
	if len(blocking) > 0 {
		add("security", fmt.Sprintf("Do not deploy until the %d credential(s) found are revoked and rotated, and read from the environment or a secret manager instead", len(blocking)),
			"found: %s; a credential in git history is compromised whatever the deploy does", listTop(blocking, 5))
	} else if len(in.Findings) > 0 {
		add("security", "Check the medium-severity findings; rotate any that is real, or list the fixture in .hugai-secrets.yaml with a reason",
			"%d medium finding(s)", len(in.Findings))
	}

	level := in.Risk.Level
	if p := in.Plan; p != nil {
		add("strategy", "Deploy with "+describeStrategy(p.Spec.Strategy), "the planner's choice for %s risk in %s (hugai deploy plan --explain says why)", level, in.Environment)
	} else {
		s, why := risk.ChooseStrategy(level, nil, "")
		add("strategy", "Deploy with a "+s+" rollout", "%s", why)
	}

	bake := bakeTimes[level]
	if p := in.Plan; p != nil && p.Spec.Monitoring != nil && p.Spec.Monitoring.Duration != nil && p.Spec.Monitoring.Duration.Duration < bake {
		add("bake-time", fmt.Sprintf("Watch the new version for %s after promotion (monitoring.duration is %s)", bake, p.Spec.Monitoring.Duration.Duration),
			"%s risk: slow failures (leaks, scheduled jobs, caches expiring) need time to show", level)
	} else {
		add("bake-time", fmt.Sprintf("Watch the new version for %s after promotion before the next release", bake),
			"%s risk: slow failures (leaks, scheduled jobs, caches expiring) need time to show", level)
	}

	migrations := 0
	if cs != nil {
		migrations = len(cs.ByClass(change.Migration))
	}
	switch {
	case in.Plan != nil && in.Plan.Spec.Governance != nil && len(in.Plan.Spec.Governance.Approvals) > 0:
		var names []string
		for _, a := range in.Plan.Spec.Governance.Approvals {
			names = append(names, fmt.Sprintf("%s (%d of %s)", a.Name, max(1, a.Count), strings.Join(a.Approvers, ", ")))
		}
		add("approvals", "Get the approvals the plan requires: "+strings.Join(names, "; "), "the environment's policy for %s risk", level)
	case level == risk.High || level == risk.Critical || migrations > 0:
		add("approvals", "Have a second person approve before production (four-eyes), with the risk factors in hand",
			"%s risk%s", level, map[bool]string{true: fmt.Sprintf(" and %d migration(s)", migrations), false: ""}[migrations > 0])
	}

	if cs != nil {
		t := cs.Totals()
		subs := cs.Subsystems()
		if t.Lines() > veryLarge || len(subs) > wideSubsystems && t.Lines() > largeChange {
			add("split", fmt.Sprintf("Split the change into smaller deploys, e.g. one per area: %s", listTop(subsystemSizes(cs), 5)),
				"%d lines over %d top-level directories: a smaller change is easier to review and to roll back, and a failure points at its cause", t.Lines(), len(subs))
		}
		if migrations > 0 && len(cs.ByClass(change.Source)) > 0 {
			add("migrations", "Ship the migrations first in their own backward-compatible release (expand, then contract), then the code",
				"%d migration(s) ship with source changes: rolling the code back would leave the schema ahead of it", migrations)
		}
		for _, f := range qualityFactors(cs, nil) {
			if f.Name == "tests" && f.Points < 0 {
				add("tests", "Add tests for the changed source before deploying", "%s", f.Reason)
			}
		}
	}
	return out
}

func describeStrategy(s plan.Strategy) string {
	switch {
	case s.Canary != nil:
		var ws []string
		pause := ""
		for _, st := range s.Canary.Steps {
			if st.SetWeight != nil {
				ws = append(ws, fmt.Sprintf("%d%%", *st.SetWeight))
			}
			if st.Pause != nil && st.Pause.Duration != nil && pause == "" {
				pause = st.Pause.Duration.String()
			}
		}
		d := "a canary rollout through " + strings.Join(ws, ", ")
		if pause != "" {
			d += ", each weight held " + pause
		}
		return d
	case s.BlueGreen != nil:
		return "a blue-green rollout (the new version is checked on the preview before the switch)"
	}
	return "a " + s.Type + " rollout"
}

func subsystemSizes(cs *change.Set) []string {
	size := map[string]int{}
	for _, f := range cs.Files {
		p := f.Path
		top := "."
		if i := strings.IndexByte(p, '/'); i >= 0 {
			top = p[:i]
		}
		size[top] += f.Lines()
	}
	keys := make([]string, 0, len(size))
	for k := range size {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return size[keys[i]] > size[keys[j]] || size[keys[i]] == size[keys[j]] && keys[i] < keys[j]
	})
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%s (%d lines)", k, size[k])
	}
	return out
}

func uniq(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

func listTop(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(xs[:n], ", "), len(xs)-n)
}
