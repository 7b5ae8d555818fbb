package release

import (
	"testing"
)

func TestNext(t *testing.T) {
	cases := []struct {
		cur  string
		bump Bump
		pre  string
		want string
	}{
		{"1.2.3", Patch, "", "1.2.4"},
		{"1.2.3", Minor, "", "1.3.0"},
		{"1.2.3", Major, "", "2.0.0"},
		{"0.4.2", Major, "", "0.5.0"}, // pre-1.0: breaking moves the minor
		{"0.4.2", Minor, "", "0.5.0"},
		{"0.4.2", Patch, "", "0.4.3"},
		{"1.2.3", Minor, "rc", "1.3.0-rc.1"},
		{"1.3.0-rc.1", Minor, "rc", "1.3.0-rc.2"},
		{"1.3.0-rc.1", Patch, "rc", "1.3.0-rc.2"},
		{"1.3.0-rc.9", Minor, "rc", "1.3.0-rc.10"},
		{"1.3.0-rc.2", Major, "rc", "2.0.0-rc.1"}, // 1.3.0 does not hold a major
		{"2.0.0-rc.2", Major, "rc", "2.0.0-rc.3"},
		{"1.3.1-rc.1", Minor, "rc", "1.4.0-rc.1"},
		{"1.3.0-beta.3", Patch, "rc", "1.3.0-rc.1"},
		{"1.3.0-rc.2", Minor, "", "1.3.0"}, // graduate
		{"1.3.0-rc.2", Patch, "", "1.3.0"},
		{"1.3.0-rc.2", Major, "", "2.0.0"},
		{"0.3.0-rc.1", Major, "rc", "0.3.0-rc.2"}, // pre-1.0 major is a minor, which 0.3.0 holds
	}
	for _, c := range cases {
		cur, err := ParseVersion(c.cur)
		if err != nil {
			t.Fatal(err)
		}
		if got := next(cur, c.bump, c.pre).String(); got != c.want {
			t.Errorf("next(%s, %s, %q) = %s, want %s", c.cur, c.bump, c.pre, got, c.want)
		}
	}
}

func TestParseAndCompareVersions(t *testing.T) {
	bad := []string{"", "1", "1.2", "1.2.3.4", "01.2.3", "1.2.3-", "1.2.3-rc..1", "1.2.3-rc.01", "a.b.c", "1.2.-3", "1.2.3-ü"}
	for _, s := range bad {
		if _, err := ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q): no error", s)
		}
	}
	// semver.org's precedence example, in order.
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "v1.0.1+build.5", "1.1.0", "2.0.0"}
	for i := 1; i < len(order); i++ {
		a, _ := ParseVersion(order[i-1])
		b, err := ParseVersion(order[i])
		if err != nil {
			t.Fatal(err)
		}
		if a.Compare(b) != -1 || b.Compare(a) != 1 || a.Compare(a) != 0 {
			t.Errorf("%s < %s does not hold", order[i-1], order[i])
		}
	}
}

func TestParseForge(t *testing.T) {
	cases := map[string]string{
		"https://github.com/hugai-dev/hugai":         "https://github.com/hugai-dev/hugai",
		"https://github.com/hugai-dev/hugai.git/":    "https://github.com/hugai-dev/hugai",
		"git@github.com:hugai-dev/hugai.git":         "https://github.com/hugai-dev/hugai",
		"ssh://git@gitlab.com:2222/grp/sub/proj.git": "https://gitlab.com/grp/sub/proj",
		"https://user:secret@github.com/o/r":         "https://github.com/o/r",
		"/srv/git/repo.git":                          "",
		"file:///srv/git/repo.git":                   "",
		"https://github.com/":                        "",
		"":                                           "",
	}
	for in, want := range cases {
		if got := ParseForge(in).Base; got != want {
			t.Errorf("ParseForge(%q) = %q, want %q", in, got, want)
		}
	}
	gl := ParseForge("https://gitlab.com/grp/proj")
	if gl.CommitURL("abc") != "https://gitlab.com/grp/proj/-/commit/abc" || gl.CompareURL("v1", "v2") != "https://gitlab.com/grp/proj/-/compare/v1...v2" {
		t.Errorf("gitlab links: %s %s", gl.CommitURL("abc"), gl.CompareURL("v1", "v2"))
	}
	if (Forge{}).CommitURL("abc") != "" {
		t.Error("the zero forge links")
	}
}
