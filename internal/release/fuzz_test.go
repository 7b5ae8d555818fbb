package release

import (
	"strings"
	"testing"
)

// FuzzParseVersion: what parses prints back to a string that parses to the same version, and
// compares equal to it.
func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.2.3", "v0.1.0-rc.1", "1.0.0-alpha.beta+build", "01.2.3", "1.2.3-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		w, err := ParseVersion(v.String())
		if err != nil || w != v || v.Compare(w) != 0 {
			t.Fatalf("%q -> %v -> %v (%v)", s, v, w, err)
		}
		for _, b := range []Bump{Patch, Minor, Major} {
			for _, pre := range []string{"", "rc"} {
				if n := next(v, b, pre); n.Compare(v) <= 0 {
					t.Fatalf("next(%s, %s, %q) = %s is not after it", v, b, pre, n)
				}
			}
		}
	})
}

// FuzzParseForge: a forge URL read from a remote never yields links with spaces or quotes, and
// its links start with its base.
func FuzzParseForge(f *testing.F) {
	for _, s := range []string{"https://github.com/o/r.git", "git@github.com:o/r.git", "ssh://git@h:22/o/r", "/local/path", "https://a@b@c/d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fg := ParseForge(s)
		if fg.Base == "" {
			return
		}
		if strings.ContainsAny(fg.Base, " \t\n\"'<>()`") || !strings.HasPrefix(fg.Base, "http") {
			t.Fatalf("base %q", fg.Base)
		}
		if !strings.HasPrefix(fg.CommitURL("abc"), fg.Base+"/") {
			t.Fatalf("commit url %q", fg.CommitURL("abc"))
		}
	})
}
