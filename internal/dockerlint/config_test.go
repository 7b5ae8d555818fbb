package dockerlint

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestConfigIgnoresAndReRates(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig(".hugai-docker.yaml", []byte("ignore: [HG003, hg033]\nseverity:\n  HG022: error\n  HG004: style\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := analyzeFile(t, "testdata/corpus/node-naive.Dockerfile", Options{Config: cfg})
	var rated []string
	for _, f := range got {
		if f.RuleID == "HG003" || f.RuleID == "HG033" {
			t.Errorf("%s not ignored", f.RuleID)
		}
		if f.RuleID == "HG022" || f.RuleID == "HG004" {
			rated = append(rated, f.RuleID+"="+f.Severity.String())
		}
	}
	slices.Sort(rated)
	if want := []string{"HG004=style", "HG022=error"}; !slices.Equal(rated, want) {
		t.Errorf("re-rated %v, want %v", rated, want)
	}
	if n := AtOrAbove(got, Error); n != 1 {
		t.Errorf("%d findings at error, want the one re-rated", n)
	}
}

func TestConfigErrorsNameFileLineAndField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ src, want string }{
		{"ignore: [HG003, HG999]\n", "c.yaml:1: ignore[1]: unknown rule \"HG999\""},
		{"ignore: HG003\n", "c.yaml:1: ignore: want a list of rule IDs"},
		{"severity:\n  HG003: loud\n", "c.yaml:2: severity.HG003: severity \"loud\": want error, warning, info or style"},
		{"severity:\n  HG003: none\n", "c.yaml:2: severity.HG003: severity \"none\""},
		{"ignore: []\nfail_on: error\n", "c.yaml:2: fail_on: unknown field"},
		{"ignore: [\n", "c.yaml:1: (file): yaml: line 1"},
		{"- HG003\n", "c.yaml:1: (file): want a mapping"},
		{"severity: [HG003]\n", "c.yaml:1: severity: want a mapping"},
	} {
		_, err := ParseConfig("c.yaml", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to contain %q", tc.src, err, tc.want)
			continue
		}
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%q: %T is not a *ConfigError", tc.src, err)
		}
	}
	// Every mistake at once.
	_, err := ParseConfig("c.yaml", []byte("ignore: [HG998]\nseverity: {HG997: info}\n"))
	if err == nil || !strings.Contains(err.Error(), "HG998") || !strings.Contains(err.Error(), "HG997") {
		t.Errorf("want both mistakes, got %v", err)
	}
	for _, empty := range []string{"", "# nothing\n", "~\n"} {
		if _, err := ParseConfig("c.yaml", []byte(empty)); err != nil {
			t.Errorf("%q: %v", empty, err)
		}
	}
}

func TestGroupsSelectRules(t *testing.T) {
	t.Parallel()
	all := analyzeFile(t, "testdata/corpus/ubuntu-apt-bad.Dockerfile", Options{})
	for _, g := range Groups {
		got := analyzeFile(t, "testdata/corpus/ubuntu-apt-bad.Dockerfile", Options{Groups: []Group{g}})
		var want []Finding
		for _, f := range all {
			if f.Group == g {
				want = append(want, f)
			}
		}
		if len(want) == 0 || !slices.Equal(ids(got), ids(want)) {
			t.Errorf("%s: got %v, want %v", g, ids(got), ids(want))
		}
	}
	// HG000 runs whatever the groups.
	got := analyzeFile(t, "testdata/corpus/invalid.Dockerfile", Options{Groups: []Group{Size}})
	if !slices.Equal(ids(got), []string{"HG000:2", "HG000:3"}) {
		t.Errorf("invalid with size only: %v", ids(got))
	}
}

func TestSeverityThreshold(t *testing.T) {
	t.Parallel()
	fs := []Finding{{Severity: Style}, {Severity: Info}, {Severity: Warning}, {Severity: Warning}, {Severity: Error}}
	for th, want := range map[Severity]int{Error: 1, Warning: 3, Info: 4, Style: 5, None: 0} {
		if got := AtOrAbove(fs, th); got != want {
			t.Errorf("at or above %s: %d, want %d", th, got, want)
		}
	}
	if _, err := ParseSeverity("none", false); err == nil {
		t.Error("none accepted as a rule's severity")
	}
	if s, err := ParseSeverity("WARNING", true); err != nil || s != Warning {
		t.Errorf("WARNING: %v %v", s, err)
	}
}

func TestParseRefusesWhatBuildkitRefuses(t *testing.T) {
	t.Parallel()
	if _, err := Parse("x", []byte("\n\n")); err == nil {
		t.Error("an empty Dockerfile parsed")
	}
	if _, err := Parse("x", []byte("FROM a\nENV PATH\n")); err == nil || !strings.HasPrefix(err.Error(), "x:2: ") {
		t.Errorf("ENV with no value %v, want it at x:2", err)
	}
	if _, err := Parse("x", []byte(strings.Repeat("#", maxSize+1))); err == nil {
		t.Error("an oversized Dockerfile parsed")
	}
}
