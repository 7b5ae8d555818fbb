package secretscan

import (
	"os"
	"strings"
	"testing"
)

// The fake secrets are built from pieces so that this file's own lines hold none: the scanner
// runs over this repository's history in a test, with no ignore entry for this file.
func j(parts ...string) string { return strings.Join(parts, "") }

var (
	awsID     = j("AKIA", "Z7Q4LMNP2R", "TUVW3X")
	awsSecret = j("wJalrXUtnFEMI/K7MDENG/", "bPxRfiCYz8Q3kL1mN0")
	ghToken   = j("ghp_", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5")
	glToken   = j("glpat-", "xY7zQ2wE4rT6yU8iO0pA")
	slackBot  = j("xoxb-", "2534216-9384711-aZbYcXdWeVfU")
	stripe    = j("sk_", "live_", "4eC39HqLyjWDarjtT1zdp7dc")
	google    = j("AIza", "SyD3x7Q9mN2pL5kJ8hG4fD1sA6zX0cV3bN7")
	npm       = j("npm_", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8")
	openai    = j("sk-proj-", "Ab3De5Gh7Jk9Mn1Pq3St5Vw7Yz9Bc1Df3Hj5Kl7Np9Qr1T")
	jwt       = j("eyJ", "hbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", ".eyJ", "zdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ", ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
	pemHeader = j("-----BEGIN ", "RSA PRIVATE KEY-----")
)

func TestRules(t *testing.T) {
	cases := []struct {
		path, text string
		want       string // rule ID, or "" for no finding
	}{
		{"k.pem", pemHeader, "HS001"},
		{"k.pem", j("-----BEGIN ", "OPENSSH PRIVATE KEY-----"), "HS001"},
		{"k.pem", j("-----BEGIN ", "PUBLIC KEY-----"), ""},
		{"main.go", `id := "` + awsID + `"`, "HS002"},
		{"docs.md", "AKIAIOSFODNN7EXAMPLE is AWS's documented example", ""},
		{"main.go", "AKIA" + strings.Repeat("A", 16), ""}, // no entropy
		{".env", "AWS_SECRET_ACCESS_KEY=" + awsSecret, "HS003"},
		{".env", "AWS_SECRET_ACCESS_KEY=" + strings.Repeat("a", 40), ""},
		{"ci.yml", "token: " + ghToken, "HS004"},
		{"ci.yml", "token: ghp_" + strings.Repeat("x", 36), ""},
		{"x.sh", "curl -H 'PRIVATE-TOKEN: " + glToken + "'", "HS005"},
		{"bot.py", `SLACK = "` + slackBot + `"`, "HS006"},
		{"pay.rb", `Stripe.api_key = "` + stripe + `"`, "HS007"},
		{"pay.rb", `Stripe.api_key = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"`, ""},
		{"web.js", `const key = "` + google + `";`, "HS008"},
		{".npmrc", "//registry.npmjs.org/:_authToken=" + npm, "HS009"},
		{"ai.py", `client = OpenAI(api_key="` + openai + `")`, "HS010"},
		{"api_test.http", "Authorization: Bearer " + jwt, "HS011"},
		{"app.go", `db := "postgres://app:Zx9q7LmP2w@db.internal:5432/app"`, "HS012"},
		{"app.go", `db := "postgres://app:${DB_PASSWORD}@db.internal:5432/app"`, ""},
		{"README.md", `postgres://user:password@localhost/db`, ""},
		{"config/prod.yaml", "  password: Zx9q7LmP2w", "HS013"},
		{"config/prod.yaml", "  db_password: \"hunter2!x\"", "HS013"},
		{"config/prod.yaml", "  password: ${DB_PASSWORD}", ""},
		{"config/prod.yaml", "  password: {{ .Values.db.password }}", ""},
		{"config/prod.yaml", "  password: changeme", ""},
		{"config/prod.yaml", "  passwordFile: /run/secrets/db", ""}, // where the secret is, not the secret
		{"config/prod.yaml", "  secretKeyRef: {name: db}", ""},
		{"main.go", `password := "Zx9q7LmP2w"`, ""}, // HS013 is for configuration only; too short for HS014
		{"main.go", `apiToken := "` + j("Q8vN2xLr5Tz", "Kb7Wm4Hc9Pd") + `"`, "HS014"},
		{"main.go", `apiToken := "abcdefghijabcdefghijab"`, ""}, // low entropy
		{"main.go", `token := os.Getenv("API_TOKEN")`, ""},
		{"main.go", `secret := "` + j("Q8vN2xLr5Tz", "Kb7Wm4Hc9Pd") + `" // hugai-secrets-ignore`, ""},
	}
	s := New(nil)
	for _, c := range cases {
		fs := s.Scan(Line{Commit: "c0ffee", Path: c.path, Line: 3, Text: c.text})
		got := ""
		if len(fs) > 0 {
			got = fs[0].Rule
		}
		if got != c.want {
			t.Errorf("%s: %q: got %q (%+v), want %q", c.path, c.text, got, fs, c.want)
		}
		for _, f := range fs {
			if strings.Contains(c.text, f.Match[:len(f.Match)-len(" chars)")]) && len(f.Match) > 40 {
				t.Errorf("%s: the match is not redacted: %q", f.Rule, f.Match)
			}
			if f.Fingerprint != "c0ffee:"+c.path+":"+f.Rule+":3" {
				t.Errorf("fingerprint %q", f.Fingerprint)
			}
		}
	}
}

func TestIgnoreFile(t *testing.T) {
	ig, err := ParseIgnore(IgnoreFile, []byte(`ignore:
  - path: internal/**/testdata/**
    reason: fixtures
  - path: config/dev.yaml
    rules: [HS013]
  - fingerprint: abc:k.pem:HS001:1
`))
	if err != nil {
		t.Fatal(err)
	}
	s := New(ig)
	for _, c := range []struct {
		l    Line
		want int
	}{
		{Line{Commit: "abc", Path: "internal/dockerlint/testdata/x/Dockerfile", Line: 1, Text: pemHeader}, 0},
		{Line{Commit: "abc", Path: "internal/testdata.go", Line: 1, Text: pemHeader}, 1},
		{Line{Commit: "abc", Path: "config/dev.yaml", Line: 1, Text: "password: Zx9q7LmP2w"}, 0},
		{Line{Commit: "abc", Path: "config/dev.yaml", Line: 1, Text: "token: " + ghToken}, 1}, // HS004 is not ignored there
		{Line{Commit: "abc", Path: "k.pem", Line: 1, Text: pemHeader}, 0},
		{Line{Commit: "abd", Path: "k.pem", Line: 1, Text: pemHeader}, 1},
	} {
		if got := len(s.Scan(c.l)); got != c.want {
			t.Errorf("%+v: %d findings, want %d", c.l, got, c.want)
		}
	}
	for _, bad := range []string{"ignore:\n  - rules: [HS001]\n", "ignore:\n  - path: a\n    rules: [HS999]\n", "ignore:\n  - path: '['\n", "ignores: []\n"} {
		if _, err := ParseIgnore("x.yaml", []byte(bad)); err == nil {
			t.Errorf("ParseIgnore(%q): no error", bad)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pat, p string
		want   bool
	}{
		{"a/**", "a/b/c", true}, {"a/", "a/b", true}, {"**/testdata/**", "x/y/testdata/z", true},
		{"*.pem", "k.pem", true}, {"*.pem", "d/k.pem", false}, {"**/*.pem", "d/k.pem", true}, {"a/b", "a/b/c", false},
	} {
		if got := globMatch(c.pat, c.p); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v", c.pat, c.p, got)
		}
	}
}

func TestEntropy(t *testing.T) {
	if e := Entropy("aaaa"); e != 0 {
		t.Errorf("Entropy(aaaa) = %v", e)
	}
	if e := Entropy("abcd"); e != 2 {
		t.Errorf("Entropy(abcd) = %v", e)
	}
}

// TestDocListsEveryRule: docs/deployment-analysis.md has a row for every rule, as the code has it.
func TestDocListsEveryRule(t *testing.T) {
	b, err := os.ReadFile("../../docs/deployment-analysis.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules() {
		row := "| " + r.ID + " | " + r.Severity + " | " + r.Title + " | " + r.Description + " |"
		if !strings.Contains(string(b), row) {
			t.Errorf("docs/deployment-analysis.md lacks the row %q", row)
		}
	}
}

// TestKeywordsAreLowerCase: lines are lower-cased once and matched against the keywords as they
// are, so a keyword with a capital would never match.
func TestKeywordsAreLowerCase(t *testing.T) {
	for _, r := range Rules() {
		for _, k := range r.keywords {
			if k != strings.ToLower(k) {
				t.Errorf("%s: keyword %q is not lower case", r.ID, k)
			}
		}
	}
	pypi := j("pypi-", "AgEIcHlwaS5vcmc", "CJGI0ZGQ1ZjQ3LTk1YTEtNDE2Ny1hYjMwLTljZDA2NmZhNjE0ZQACKlsz")
	if fs := New(nil).Scan(Line{Path: ".pypirc", Line: 1, Text: "password = " + pypi}); len(fs) == 0 || fs[0].Rule != "HS009" {
		t.Errorf("PyPI token: %+v", fs)
	}
}
