package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hugai-dev/hugai/internal/release"
)

const releaseAt = "--at=2026-12-01T10:00:00Z"

// commitFile writes a file and commits it with msg (subject, blank line, body).
func (r *gitRepo) commitFile(path, msg string) {
	r.t.Helper()
	r.write(path, msg+"\n")
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
}

func (r *gitRepo) head() string { return strings.TrimSpace(r.git("rev-parse", "HEAD")) }

// releaseCreate runs `release create -o json` in the repo with its own data dir and returns the
// release, or nil when there was nothing to release.
func releaseCreate(t *testing.T, r *gitRepo, extra ...string) (*release.Release, string) {
	t.Helper()
	args := append([]string{"release", "create", "--repo", r.dir, "--data-dir", filepath.Join(r.dir, ".hugai"), releaseAt, "-o", "json"}, extra...)
	code, stdout, stderr := run(t, args...)
	if code != 0 {
		t.Fatalf("release create %v: exit %d\n%s%s", extra, code, stdout, stderr)
	}
	var probe struct {
		Released *bool `json:"released"`
	}
	if err := json.Unmarshal([]byte(stdout), &probe); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout)
	}
	if probe.Released != nil {
		return nil, stderr
	}
	var rel release.Release
	if err := json.Unmarshal([]byte(stdout), &rel); err != nil {
		t.Fatal(err)
	}
	return &rel, stderr
}

func sectionTexts(r *release.Release) map[string][]string {
	out := map[string][]string{}
	for _, s := range r.NotesData.Sections {
		for _, e := range s.Entries {
			text := e.Text
			if e.Scope != "" {
				text = e.Scope + ": " + text
			}
			out[s.Title] = append(out[s.Title], text)
		}
	}
	return out
}

// TestReleaseVersions: versions and notes as release-please decides them, on real repositories.
func TestReleaseVersions(t *testing.T) {
	cases := []struct {
		name     string
		setup    func(r *gitRepo)
		args     []string
		tag      string
		sections map[string][]string
	}{
		{
			name: "breaking by bang",
			setup: func(r *gitRepo) {
				r.git("tag", "v1.2.0")
				r.commitFile("a", "feat(api)!: drop the v1 endpoints")
				r.commitFile("b", "fix: typo in a message")
			},
			tag: "v2.0.0",
			sections: map[string][]string{
				release.SectionBreaking: {"api: drop the v1 endpoints"},
				release.SectionFixes:    {"typo in a message"},
			},
		},
		{
			name: "breaking by footer, feature and perf",
			setup: func(r *gitRepo) {
				r.git("tag", "v1.2.0")
				r.commitFile("a", "feat: new config\n\nBREAKING CHANGE: the key port is now listen")
				r.commitFile("b", "perf(db): batch writes")
				r.commitFile("c", "feat(ui): dark mode (#31)")
			},
			tag: "v2.0.0",
			sections: map[string][]string{
				release.SectionBreaking:    {"the key port is now listen"},
				release.SectionFeatures:    {"ui: dark mode"},
				release.SectionPerformance: {"db: batch writes"},
			},
		},
		{
			name: "feature bumps the minor; defeat is not feat; chore is hidden",
			setup: func(r *gitRepo) {
				r.git("tag", "v1.2.0")
				r.commitFile("a", "defeat: the boss")
				r.commitFile("b", "feat: search")
				r.commitFile("c", "chore: bump tooling")
			},
			tag:      "v1.3.0",
			sections: map[string][]string{release.SectionFeatures: {"search"}},
		},
		{
			name: "pre-1.0: breaking bumps the minor",
			setup: func(r *gitRepo) {
				r.git("tag", "v0.3.1")
				r.commitFile("a", "fix!: change the default port")
			},
			tag:      "v0.4.0",
			sections: map[string][]string{release.SectionBreaking: {"change the default port"}},
		},
		{
			name: "pre-1.0: fix bumps the patch",
			setup: func(r *gitRepo) {
				r.git("tag", "v0.3.1")
				r.commitFile("a", "fix: crash")
			},
			tag:      "v0.3.2",
			sections: map[string][]string{release.SectionFixes: {"crash"}},
		},
		{
			name: "Release-As wins over the commits and --bump",
			setup: func(r *gitRepo) {
				r.git("tag", "v1.2.0")
				r.commitFile("a", "feat!: big")
				r.commitFile("b", "chore: release 5.0.0\n\nRelease-As: 5.0.0")
			},
			args:     []string{"--bump", "patch"},
			tag:      "v5.0.0",
			sections: map[string][]string{release.SectionBreaking: {"big"}},
		},
		{
			name: "merges count through their commits",
			setup: func(r *gitRepo) {
				r.git("tag", "v1.2.0")
				r.git("checkout", "-q", "-b", "topic")
				r.commitFile("a", "feat(auth): tokens")
				r.git("checkout", "-q", "main")
				r.commitFile("b", "fix: log line")
				r.git("merge", "-q", "--no-ff", "-m", "Merge pull request #7 from me/topic", "topic")
			},
			tag: "v1.3.0",
			sections: map[string][]string{
				release.SectionFeatures: {"auth: tokens"},
				release.SectionFixes:    {"log line"},
			},
		},
		{
			name: "a feature reverted in the range drops out with its revert",
			setup: func(r *gitRepo) {
				r.git("tag", "v1.2.0")
				r.commitFile("a", "feat: risky thing")
				r.git("revert", "--no-edit", "HEAD")
				r.commitFile("b", "fix: small thing")
			},
			tag:      "v1.2.1",
			sections: map[string][]string{release.SectionFixes: {"small thing"}},
		},
		{
			name: "a revert of an earlier release's commit is a patch under Other",
			setup: func(r *gitRepo) {
				r.commitFile("a", "feat: shipped before")
				r.git("tag", "v1.2.0")
				r.git("revert", "--no-edit", "HEAD")
			},
			tag:      "v1.2.1",
			sections: map[string][]string{release.SectionOther: {"feat: shipped before"}},
		},
		{
			name: "pre-release",
			setup: func(r *gitRepo) {
				r.git("tag", "v1.2.0")
				r.commitFile("a", "feat: preview")
			},
			args:     []string{"--prerelease", "rc"},
			tag:      "v1.3.0-rc.1",
			sections: map[string][]string{release.SectionFeatures: {"preview"}},
		},
		{
			name: "next pre-release",
			setup: func(r *gitRepo) {
				r.git("tag", "v1.2.0")
				r.commitFile("a", "feat: preview")
				r.git("tag", "v1.3.0-rc.1")
				r.commitFile("b", "fix: preview bug")
			},
			args:     []string{"--prerelease", "rc"},
			tag:      "v1.3.0-rc.2",
			sections: map[string][]string{release.SectionFixes: {"preview bug"}},
		},
		{
			name: "graduating a pre-release",
			setup: func(r *gitRepo) {
				r.git("tag", "v1.2.0")
				r.commitFile("a", "feat: preview")
				r.git("tag", "v1.3.0-rc.1")
				r.commitFile("b", "fix: preview bug")
			},
			tag:      "v1.3.0",
			sections: map[string][]string{release.SectionFixes: {"preview bug"}},
		},
		{
			name: "explicit bump",
			setup: func(r *gitRepo) {
				r.git("tag", "v1.2.0")
				r.commitFile("a", "chore: only chores")
			},
			args: []string{"--bump", "major"},
			tag:  "v2.0.0",
		},
		{
			name: "first release",
			setup: func(r *gitRepo) {
				r.commitFile("a", "feat: everything")
			},
			tag:      "v1.0.0",
			sections: map[string][]string{release.SectionFeatures: {"everything"}},
		},
		{
			name: "monorepo path and tags",
			setup: func(r *gitRepo) {
				r.write("services/api/hugai.yaml", demoServiceFile(r.t))
				r.commitFile("services/api/x", "chore: api")
				r.commitFile("services/web/x", "chore: web")
				r.git("tag", "api/v0.1.0")
				r.git("tag", "web/v1.0.0")
				r.git("tag", "v3.0.0")
				r.commitFile("services/web/y", "feat(web)!: new look")
				r.commitFile("services/api/y", "fix(api): timeout")
				r.commitFile("README.md", "feat: root-level feature")
			},
			args:     []string{"--path", "services/api"},
			tag:      "api/v0.1.1",
			sections: map[string][]string{release.SectionFixes: {"api: timeout"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newGitRepo(t)
			r.commitFile("init", "chore: init")
			c.setup(r)
			rel, stderr := releaseCreate(t, r, c.args...)
			if rel == nil {
				t.Fatalf("nothing released: %s", stderr)
			}
			if rel.Tag != c.tag {
				t.Errorf("tag = %s (%s), want %s", rel.Tag, rel.Reason, c.tag)
			}
			if strings.HasPrefix(c.tag, "api/") && len(rel.Environments) != 2 {
				t.Errorf("the package's own hugai.yaml gave %d plans, want 2", len(rel.Environments))
			}
			if got := sectionTexts(rel); !reflect.DeepEqual(got, c.sections) && (len(got) != 0 || len(c.sections) != 0) {
				t.Errorf("sections = %q, want %q\n%s", got, c.sections, rel.Notes)
			}
		})
	}
}

// TestNothingToRelease: only hidden types gives no release, says why, records nothing, exit 0.
func TestNothingToRelease(t *testing.T) {
	t.Parallel()
	r := newGitRepo(t)
	r.commitFile("a", "feat: first")
	r.git("tag", "v1.0.0")
	r.commitFile("b", "chore: tidy")
	r.commitFile("c", "docs: more words")
	r.commitFile("d", "no convention here")
	rel, stderr := releaseCreate(t, r)
	if rel != nil || !strings.Contains(stderr, "nothing to release: none of the 3 commits since v1.0.0 calls for a release") {
		t.Fatalf("release %+v, stderr %q", rel, stderr)
	}
	code, stdout, stderr := run(t, "release", "create", "--repo", r.dir, "--data-dir", filepath.Join(r.dir, ".hugai"))
	if code != 0 || stdout != "" || !strings.Contains(stderr, "pass --bump to release anyway") {
		t.Fatalf("table: exit %d %q %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(r.dir, ".hugai", DatabaseFile)); err == nil {
		t.Error("nothing to release created a store")
	}
}

// TestReleaseRecordedShownListed: create records the release with its plans; show and list read
// it back; a second create of the same version is refused until it is tagged.
func TestReleaseRecordedShownListed(t *testing.T) {
	t.Parallel()
	r := newGitRepo(t)
	r.write("hugai.yaml", demoServiceFile(t))
	r.commitFile("a", "feat: first")
	r.git("tag", "v1.0.0")
	r.git("remote", "add", "origin", "git@github.com:acme/shop.git")
	r.commitFile("db/migrations/0002_add.sql", "feat(db): orders table\n\nCloses #9\nCo-authored-by: Grace Hopper <grace@example.com>")
	rel, _ := releaseCreate(t, r, "--tag")
	if rel.Tag != "v1.1.0" || len(rel.Environments) != 2 {
		t.Fatalf("release %s with %d environment plans", rel.Tag, len(rel.Environments))
	}
	for _, e := range rel.Environments {
		if e.Plan == nil || e.Rollback == nil || e.Monitoring == nil || e.Plan.Spec.Version != "v1.1.0" {
			t.Errorf("%s: plan %v rollback %v monitoring %v", e.Environment, e.Plan != nil, e.Rollback != nil, e.Monitoring != nil)
		}
	}
	if !strings.Contains(rel.Notes, "([#9](https://github.com/acme/shop/issues/9))") ||
		!strings.Contains(rel.Notes, "## [1.1.0](https://github.com/acme/shop/compare/v1.0.0...v1.1.0) (2026-12-01)") ||
		!strings.Contains(rel.Notes, "* Grace Hopper") {
		t.Errorf("notes:\n%s", rel.Notes)
	}
	if rel.Changes.Totals.Commits != 1 || rel.Changes.Files[0].Class != "migration" {
		t.Errorf("changes: %+v", rel.Changes)
	}
	if got := strings.TrimSpace(r.git("tag", "--points-at", "HEAD")); got != "v1.1.0" {
		t.Errorf("--tag made %q", got)
	}
	dd := filepath.Join(r.dir, ".hugai")
	code, stdout, stderr := run(t, "release", "show", "1.1.0", "--data-dir", dd, "-o", "json")
	if code != 0 {
		t.Fatalf("show: exit %d %s", code, stderr)
	}
	var shown release.Release
	if err := json.Unmarshal([]byte(stdout), &shown); err != nil || shown.Notes != rel.Notes || len(shown.Environments) != 2 {
		t.Fatalf("show: %v %+v", err, shown.Tag)
	}
	if code, stdout, _ := run(t, "release", "show", "v1.1.0", "--data-dir", dd, "--notes"); code != 0 || stdout != rel.Notes {
		t.Errorf("show --notes: exit %d\n%s", code, stdout)
	}
	if code, stdout, _ := run(t, "release", "show", "v1.1.0", "--data-dir", dd, "-o", "yaml"); code != 0 || !strings.Contains(stdout, "tag: v1.1.0") {
		t.Errorf("show -o yaml: exit %d\n%.300s", code, stdout)
	}
	if code, _, stderr := run(t, "release", "show", "v9.0.0", "--data-dir", dd); code != ExitBadInput || !strings.Contains(stderr, "no release v9.0.0") {
		t.Errorf("show unknown: exit %d %s", code, stderr)
	}
	code, stdout, _ = run(t, "release", "list", "--data-dir", dd)
	if code != 0 || !strings.Contains(stdout, "v1.1.0  v1.0.0    minor") {
		t.Errorf("list: exit %d\n%s", code, stdout)
	}
	// The tag now exists: the next create starts after it, and finds nothing.
	if rel, _ := releaseCreate(t, r); rel != nil {
		t.Errorf("released again: %s", rel.Tag)
	}
	// Recorded but untagged: a second create of the same version is refused.
	r.commitFile("b", "fix: one")
	releaseCreate(t, r)
	code, _, stderr = run(t, "release", "create", "--repo", r.dir, "--data-dir", dd, releaseAt)
	if code != ExitFailed || !strings.Contains(stderr, "release v1.1.1 is already recorded") {
		t.Errorf("second create: exit %d %s", code, stderr)
	}
	// Every release is in the audit log.
	code, stdout, _ = run(t, "audit", "log", "--data-dir", dd, "-o", "json")
	if code != 0 || strings.Count(stdout, `"release.created"`) != 2 {
		t.Errorf("audit: exit %d\n%s", code, stdout)
	}
}

// TestReleaseNotesTemplate: --notes-template changes the notes end to end (stored and shown);
// a template that does not parse, or names a field that is not there, is bad input.
func TestReleaseNotesTemplate(t *testing.T) {
	t.Parallel()
	r := newGitRepo(t)
	r.commitFile("a", "feat: first")
	r.git("tag", "v1.0.0")
	r.commitFile("b", "fix(core): second (#4)")
	tmpl := filepath.Join(t.TempDir(), "notes.tmpl")
	os.WriteFile(tmpl, []byte("Release {{.Tag}} after {{.PreviousTag}}\n{{range .Sections}}{{.Title}}:{{range .Entries}} [{{.Scope}}] {{.Text}}{{end}}\n{{end}}"), 0o644)
	rel, _ := releaseCreate(t, r, "--notes-template", tmpl)
	if want := "Release v1.0.1 after v1.0.0\nBug Fixes: [core] second\n"; rel.Notes != want {
		t.Errorf("notes = %q, want %q", rel.Notes, want)
	}
	code, stdout, _ := run(t, "release", "show", "v1.0.1", "--data-dir", filepath.Join(r.dir, ".hugai"), "--notes")
	if code != 0 || stdout != rel.Notes {
		t.Errorf("show --notes = %q", stdout)
	}
	for _, bad := range []string{"{{.Nope}}", "{{range}}"} {
		os.WriteFile(tmpl, []byte(bad), 0o644)
		code, _, stderr := run(t, "release", "create", "--repo", r.dir, "--dry-run", "--notes-template", tmpl)
		if code != ExitBadInput || !strings.Contains(stderr, "notes template") {
			t.Errorf("template %q: exit %d %s", bad, code, stderr)
		}
	}
}

func TestReleaseBadInput(t *testing.T) {
	t.Parallel()
	r := newGitRepo(t)
	r.commitFile("a", "feat: first")
	r.git("tag", "v1.0.0")
	r.commitFile("b", "chore: x\n\nRelease-As: banana")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--bump", "huge"}, "--bump"},
		{[]string{"--from", "nope"}, "nope"},
		{[]string{"--prerelease", "r c"}, "pre-release"},
		{[]string{"--path", "../x"}, "--path"},
		{[]string{}, "Release-As: version \"banana\""},
		{[]string{"--forge-url", "not a url"}, "--forge-url"},
	} {
		args := append([]string{"release", "create", "--repo", r.dir, "--dry-run"}, c.args...)
		code, _, stderr := run(t, args...)
		if code != ExitBadInput || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d %q, want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	if code, _, stderr := run(t, "release", "create", "--repo", t.TempDir()); code != ExitBadInput || !strings.Contains(stderr, "not a git repository") {
		t.Errorf("outside git: exit %d %s", code, stderr)
	}
}
