package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/release"
	"github.com/hugai-dev/hugai/internal/release/stages"
)

func TestReleaseTag(t *testing.T) {
	for _, tc := range []struct{ arg, path, component, want string }{
		{"1.3.0", "", "", "v1.3.0"},
		{"v1.3.0", "", "", "v1.3.0"},
		{"0.4.0", "services/api", "", "api/v0.4.0"},
		{"0.4.0", "services/api", "backend", "backend/v0.4.0"},
		{"api/v0.4.0", "", "", "api/v0.4.0"},
	} {
		got, err := releaseTag(tc.arg, tc.path, tc.component)
		if err != nil || got != tc.want {
			t.Errorf("releaseTag(%q, %q, %q) = %q, %v; want %q", tc.arg, tc.path, tc.component, got, err, tc.want)
		}
	}
	if _, err := releaseTag(" ", "", ""); err == nil {
		t.Error("an empty VERSION was accepted")
	}
}

// FuzzReleaseTag: VERSION from the command line never panics, and a version is sent as its tag.
func FuzzReleaseTag(f *testing.F) {
	for _, s := range []string{"1.3.0", "v1.3.0-rc.1", "api/v1.0.0", "", "release-3"} {
		f.Add(s, "services/api")
	}
	f.Fuzz(func(t *testing.T, arg, path string) {
		tag, err := releaseTag(arg, path, "")
		if err != nil {
			return
		}
		if v, perr := release.ParseVersion(arg); perr == nil && !strings.HasSuffix(tag, "v"+v.String()) {
			t.Fatalf("version %q sent as tag %q", arg, tag)
		}
	})
}

func TestRenderRun(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	run := api.ReleaseRun{ID: "release-2", Tag: "v1.3.0", Service: "demo", Version: "v1.3.0", Phase: "RolledBack",
		Reason: "validation", Message: "stage production: validation smoke-test failed; rolled back by demo-9", CreatedAt: t0,
		FinishedAt: ptrTime(t0.Add(95 * time.Second)), Terminal: true, ExitCode: 3,
		Stages: []api.ReleaseStage{
			{StageState: stages.StageState{Name: "staging", Environment: "staging", Phase: stages.StageSucceeded, RolloutID: "demo-7", RolloutPhase: "Succeeded",
				Checks: []stages.Check{{Name: "lint", Kind: "pre", Passed: true}}}},
			{StageState: stages.StageState{Name: "production", Environment: "production", Phase: stages.StageRolledBack, Reason: "validation",
				RolloutID: "demo-8", RolloutPhase: "Succeeded", RollbackID: "demo-9", RollbackPhase: "Succeeded",
				Checks: []stages.Check{{Name: "smoke-test", Kind: "validation"}}}},
			{StageState: stages.StageState{Name: "eu", Environment: "eu", Phase: stages.StageSkipped}},
		}}
	got := renderRun(run, t0.Add(time.Hour))
	for _, want := range []string{"Release run release-2  demo v1.3.0", "RolledBack (elapsed 1m35s)", "✓ 1/3 staging", "✗ 2/3 production",
		"rollback: demo-9 Succeeded", "validation smoke-test FAILED", "- 3/3 eu"} {
		if !strings.Contains(got, want) {
			t.Errorf("the table lacks %q:\n%s", want, got)
		}
	}
	if line := runLine(run); !strings.Contains(line, "production RolledBack (demo-8 Succeeded) (rollback demo-9 Succeeded)") || strings.Contains(line, "eu") {
		t.Errorf("line: %s", line)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }
