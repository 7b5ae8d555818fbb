package conventional

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseHeader(t *testing.T) {
	cases := []struct {
		subject              string
		conventional         bool
		typ, scope, desc     string
		breaking, releasable bool
	}{
		{"feat: add login", true, "feat", "", "add login", false, true},
		{"feat(api): add login", true, "feat", "api", "add login", false, true},
		{"feat(api)!: drop v1", true, "feat", "api", "drop v1", true, true},
		{"fix!: change default", true, "fix", "", "change default", true, true},
		{"defeat: the bug", true, "defeat", "", "the bug", false, false},
		{"defeat!: the bug", true, "defeat", "", "the bug", true, true},
		{"Feat: capitalised", true, "feat", "", "capitalised", false, true},
		{"chore: bump deps", true, "chore", "", "bump deps", false, false},
		{"chore!: drop node 14", true, "chore", "", "drop node 14", true, true},
		{"docs(readme): typo", true, "docs", "readme", "typo", false, false},
		{"perf: faster", true, "perf", "", "faster", false, true},
		{"feat:no space", false, "", "", "", false, false},
		{"feat: ", false, "", "", "", false, false},
		{"feat(): empty scope", false, "", "", "", false, false},
		{"feat(api: unclosed", false, "", "", "", false, false},
		{"WIP stuff: x", false, "", "", "", false, false},
		{"1feat: digits first", false, "", "", "", false, false},
		{"update README", false, "", "", "", false, false},
		{"", false, "", "", "", false, false},
		{"feat(a-b_c): scope chars", true, "feat", "a-b_c", "scope chars", false, true},
		{"fix(deps)!: x", true, "fix", "deps", "x", true, true},
	}
	for _, c := range cases {
		got := Parse(c.subject, "")
		if got.Conventional != c.conventional || got.Type != c.typ || got.Scope != c.scope ||
			got.Description != c.desc || got.Breaking != c.breaking || got.Releasable() != c.releasable {
			t.Errorf("Parse(%q) = %+v (releasable %v), want conventional=%v type=%q scope=%q desc=%q breaking=%v releasable=%v",
				c.subject, got, got.Releasable(), c.conventional, c.typ, c.scope, c.desc, c.breaking, c.releasable)
		}
	}
}

func TestFooters(t *testing.T) {
	cases := []struct {
		name      string
		subject   string
		body      string
		wantBody  string
		footers   []Footer
		breaking  bool
		note      string
		releaseAs string
	}{
		{
			name:     "breaking change footer",
			subject:  "feat: new config",
			body:     "Longer text.\n\nBREAKING CHANGE: the config key `port` is now `listen`",
			wantBody: "Longer text.",
			footers:  []Footer{{"BREAKING CHANGE", "the config key `port` is now `listen`"}},
			breaking: true, note: "the config key `port` is now `listen`",
		},
		{
			name:     "hyphenated breaking footer with continuation",
			subject:  "fix: x",
			body:     "BREAKING-CHANGE: first line\ncontinues here\nReviewed-by: Z",
			footers:  []Footer{{"BREAKING-CHANGE", "first line\ncontinues here"}, {"Reviewed-by", "Z"}},
			breaking: true, note: "first line\ncontinues here",
		},
		{
			name:     "bang without footer: the description is the note",
			subject:  "feat!: remove v1",
			breaking: true, note: "remove v1",
		},
		{
			name:      "release-as",
			subject:   "chore: release 2.0.0",
			body:      "Release-As: v2.0.0",
			footers:   []Footer{{"Release-As", "v2.0.0"}},
			releaseAs: "2.0.0",
		},
		{
			name:      "release-as in lower case, after a body",
			subject:   "chore: release",
			body:      "text\n\nrelease-as: 1.5.0\nRefs #12",
			wantBody:  "text",
			footers:   []Footer{{"release-as", "1.5.0"}, {"Refs", "#12"}},
			releaseAs: "1.5.0",
		},
		{
			name:     "a colon in prose is not a footer",
			subject:  "fix: y",
			body:     "Note: this paragraph is prose.\nIt goes on without tokens\nand more prose",
			wantBody: "Note: this paragraph is prose.\nIt goes on without tokens\nand more prose",
		},
		{
			name:     "breaking in a non-conventional commit is not breaking",
			subject:  "Update things",
			body:     "BREAKING CHANGE: nope",
			footers:  []Footer{{"BREAKING CHANGE", "nope"}},
			breaking: false, note: "",
		},
		{
			name:     "breaking change mentioned mid-paragraph is prose",
			subject:  "fix: z",
			body:     "this is not a BREAKING CHANGE: really",
			wantBody: "this is not a BREAKING CHANGE: really",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Parse(c.subject, c.body)
			if got.Body != c.wantBody || !reflect.DeepEqual(got.Footers, c.footers) || got.Breaking != c.breaking ||
				got.BreakingNote != c.note || got.ReleaseAs != c.releaseAs {
				t.Errorf("got body %q footers %q breaking %v note %q releaseAs %q", got.Body, got.Footers, got.Breaking, got.BreakingNote, got.ReleaseAs)
			}
		})
	}
}

func TestRevertsMergesRefs(t *testing.T) {
	r := Parse(`Revert "feat: add login"`, "This reverts commit 0123456789abcdef0123456789abcdef01234567.")
	if !r.Conventional || r.Type != "revert" || r.Revert == nil || r.Revert.Header != "feat: add login" ||
		r.Revert.Hash != "0123456789abcdef0123456789abcdef01234567" || !r.Releasable() {
		t.Errorf("git revert: %+v %+v", r, r.Revert)
	}
	r = Parse("revert: feat: add login", "Refs: 0123abc")
	if r.Revert == nil || r.Revert.Header != "feat: add login" || r.Revert.Hash != "" {
		t.Errorf("conventional revert: %+v", r.Revert)
	}
	for _, s := range []string{"Merge branch 'feat/x'", "Merge pull request #42 from me/feat-x", "Merge remote-tracking branch 'origin/main'"} {
		m := Parse(s, "feat: would be read if it were a subject")
		if !m.Merge || m.Conventional || m.Releasable() {
			t.Errorf("Parse(%q) = %+v: want a merge, not releasable", s, m)
		}
	}
	if m := Parse("Merge pull request #42 from me/feat-x", ""); !reflect.DeepEqual(m.Refs, []string{"42"}) {
		t.Errorf("merge refs = %q", m.Refs)
	}
	c := Parse("fix: crash on empty input (#12)", "Closes #7, fixes #12 and #x and a#9 and C#\nSee #1234567890123")
	if !reflect.DeepEqual(c.Refs, []string{"12", "7"}) {
		t.Errorf("refs = %q, want [12 7]", c.Refs)
	}
}

// TestHeaderRoundTrip: a header built from parsed fields parses back to the same fields.
func TestHeaderRoundTrip(t *testing.T) {
	for _, s := range []string{"feat(api)!: a", "fix: b c", "perf(x-y): d"} {
		c := Parse(s, "")
		if got := Format(c); got != s {
			t.Errorf("Format(Parse(%q)) = %q", s, got)
		}
	}
	if !strings.HasPrefix(Format(Parse("x", "")), "") {
		t.Fatal("unreachable")
	}
}
