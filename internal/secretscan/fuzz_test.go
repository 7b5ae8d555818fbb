package secretscan

import (
	"strings"
	"testing"
)

// FuzzScan: any line scans without panicking; every finding names a known rule, its line and
// path, shows no more than 4 characters of the secret, and a line holding the inline ignore
// marker has none.
func FuzzScan(f *testing.F) {
	for _, s := range []string{pemHeader, "token: " + ghToken, "password: Zx9q7LmP2w", "postgres://a:b@c", jwt, "AWS_SECRET_ACCESS_KEY=" + awsSecret, strings.Repeat("x", 5000)} {
		f.Add("config/a.yaml", s)
	}
	known := map[string]bool{}
	for _, r := range Rules() {
		known[r.ID] = true
	}
	s := New(nil)
	f.Fuzz(func(t *testing.T, path, text string) {
		fs := s.Scan(Line{Path: path, Line: 1, Text: text})
		for _, f := range fs {
			if !known[f.Rule] || f.Path != path || f.Line != 1 {
				t.Fatalf("finding %+v", f)
			}
			head, _, _ := strings.Cut(f.Match, "…")
			if len(head) > 4 {
				t.Fatalf("match %q shows more than 4 characters", f.Match)
			}
		}
		if len(fs) > 0 {
			if again := s.Scan(Line{Path: path, Line: 1, Text: text + " # " + InlineIgnore}); len(again) != 0 && len(text) < maxLine {
				t.Fatalf("inline ignore did not silence %+v", again)
			}
		}
	})
}

// FuzzParseIgnore: an ignore file parses or is refused with an error, never a panic; what parses
// matches paths without panicking.
func FuzzParseIgnore(f *testing.F) {
	f.Add("ignore:\n  - path: a/**\n    rules: [HS001]\n  - fingerprint: x:y:HS001:1\n")
	f.Add("ignore: [{path: '**/testdata/**'}]")
	f.Fuzz(func(t *testing.T, data string) {
		ig, err := ParseIgnore("f.yaml", []byte(data))
		if err != nil {
			return
		}
		ig.pathIgnored("a/b/testdata/c", "HS001")
		ig.fingerprint("x")
	})
}
