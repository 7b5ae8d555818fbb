package conventional

import (
	"strings"
	"testing"
)

// FuzzParse: any message parses without panicking, and what it returns holds together: a
// conventional header has a lower-case type and a description, re-formatting and re-parsing it
// gives the same fields, refs are digits, and only a conventional commit or a merge is releasable
// without a Release-As footer.
func FuzzParse(f *testing.F) {
	for _, s := range [][2]string{
		{"feat(api)!: drop v1", "BREAKING CHANGE: gone\n\nRefs #1"},
		{"defeat: x", ""},
		{`Revert "fix: y"`, "This reverts commit abcdef0123."},
		{"Merge pull request #3 from a/b", ""},
		{"chore: release", "Release-As: 2.0.0"},
		{"fix: a (#12)", "text\n\nReviewed-by: Z\nCloses #4"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, subject, body string) {
		c := Parse(subject, body)
		if c.Conventional {
			if c.Type == "" || c.Type != strings.ToLower(c.Type) || c.Description == "" {
				t.Fatalf("conventional with type %q description %q", c.Type, c.Description)
			}
			if c.Revert == nil || c.Type != "revert" || strings.HasPrefix(strings.TrimSpace(firstLine(subject)), c.Type) {
				if h := Format(c); h != "" {
					again := Parse(h, "")
					if again.Type != c.Type || again.Scope != c.Scope || again.Description != c.Description {
						t.Fatalf("round trip %q -> %+v", h, again)
					}
				}
			}
		}
		if c.Merge && c.Conventional {
			t.Fatal("a merge is not conventional")
		}
		for _, r := range c.Refs {
			if r == "" || strings.Trim(r, "0123456789") != "" {
				t.Fatalf("ref %q", r)
			}
		}
		if c.Releasable() && !c.Conventional && c.ReleaseAs == "" {
			t.Fatal("releasable without being conventional or Release-As")
		}
		if c.Breaking && !c.Conventional {
			t.Fatal("breaking without being conventional")
		}
	})
}
