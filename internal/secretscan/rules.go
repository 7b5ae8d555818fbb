package secretscan

import (
	"regexp"
	"strings"
)

// Severities, from the worst.
const (
	Critical = "critical"
	High     = "high"
	Medium   = "medium"
)

// Rule is one kind of secret the scanner knows.
type Rule struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Severity    string `json:"severity"`
	Description string `json:"description"`
	Fix         string `json:"fix"`

	keywords   []string // lower-case: a line holding none of them is not matched (speed)
	re         *regexp.Regexp
	group      int     // the submatch that is the secret (0: the whole match)
	minEntropy float64 // bits per character the secret must reach (0: none)
	minLen     int
	configOnly bool // only in configuration files (see IsConfig)
	valueCheck bool // the secret must not look like a placeholder or a reference
}

const rotate = "Revoke and rotate the credential now (it is in the history from this commit on), " +
	"then load it from the environment or a secret manager; rewrite history only after rotating."

// rules is the documented rule list: docs/deployment-analysis.md has a row for each, and a test
// keeps the two in step.
var rules = []Rule{
	{ID: "HS001", Title: "Private key", Severity: Critical,
		Description: "A PEM private key block (RSA, EC, DSA, OpenSSH, PGP, PKCS#8, encrypted or not).",
		Fix:         "Remove the key, revoke it (and any certificate issued for it) and generate a new one outside the repository.",
		keywords:    []string{"private key"},
		re:          regexp.MustCompile(`-----BEGIN[ A-Z0-9]{0,20} PRIVATE KEY( BLOCK)?-----`)},
	{ID: "HS002", Title: "AWS access key ID", Severity: Critical,
		Description: "An AWS access key ID (AKIA…, ASIA… and the other key prefixes), 20 characters.",
		Fix:         rotate,
		keywords:    []string{"akia", "asia", "abia", "acca", "a3t"},
		re:          regexp.MustCompile(`\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b`), group: 1, minEntropy: 3.0},
	{ID: "HS003", Title: "AWS secret access key", Severity: Critical,
		Description: "A 40-character AWS secret access key assigned to a name that says so (aws…secret…), with an entropy of at least 4 bits per character.",
		Fix:         rotate,
		keywords:    []string{"aws"},
		re:          regexp.MustCompile(`(?i)aws[a-z0-9_.\-]{0,24}(?:secret|sk)[a-z0-9_.\-]{0,24}["']?\s*[:=]+\s*["']?([A-Za-z0-9/+]{40})\b`), group: 1, minEntropy: 4.0},
	{ID: "HS004", Title: "GitHub token", Severity: Critical,
		Description: "A GitHub personal access, OAuth, app or refresh token (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_).",
		Fix:         rotate,
		keywords:    []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
		re:          regexp.MustCompile(`\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})\b`), group: 1, minEntropy: 3.0},
	{ID: "HS005", Title: "GitLab token", Severity: Critical,
		Description: "A GitLab personal, project or group access token (glpat-).",
		Fix:         rotate,
		keywords:    []string{"glpat-"},
		re:          regexp.MustCompile(`\b(glpat-[A-Za-z0-9_\-]{20})\b`), group: 1, minEntropy: 3.0},
	{ID: "HS006", Title: "Slack token or webhook", Severity: High,
		Description: "A Slack bot, user or app token (xoxb-, xoxp-, xoxa-, xoxr-, xoxs-) or an incoming-webhook URL.",
		Fix:         rotate,
		keywords:    []string{"xox", "hooks.slack.com"},
		re:          regexp.MustCompile(`\b(xox[baprs]-[0-9A-Za-z\-]{10,}|https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{16,})`), group: 1, minEntropy: 3.0},
	{ID: "HS007", Title: "Stripe live key", Severity: Critical,
		Description: "A Stripe live secret or restricted key (sk_live_, rk_live_); test keys (sk_test_) are not secrets.",
		Fix:         rotate,
		keywords:    []string{"_live_"},
		re:          regexp.MustCompile(`\b((?:sk|rk)_live_[0-9A-Za-z]{24,})\b`), group: 1, minEntropy: 3.0},
	{ID: "HS008", Title: "Google API key", Severity: High,
		Description: "A Google Cloud / Firebase API key (AIza…, 39 characters).",
		Fix:         rotate,
		keywords:    []string{"aiza"},
		re:          regexp.MustCompile(`\b(AIza[0-9A-Za-z_\-]{35})(?:[^0-9A-Za-z_\-]|$)`), group: 1, minEntropy: 3.0},
	{ID: "HS009", Title: "npm or PyPI token", Severity: Critical,
		Description: "An npm access token (npm_…) or a PyPI upload token (pypi-AgEI…).",
		Fix:         rotate,
		keywords:    []string{"npm_", "pypi-agei"},
		re:          regexp.MustCompile(`\b(npm_[A-Za-z0-9]{36}|pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})\b`), group: 1, minEntropy: 3.0},
	{ID: "HS010", Title: "AI provider API key", Severity: Critical,
		Description: "An OpenAI (sk-…T3BlbkFJ…, sk-proj-…) or Anthropic (sk-ant-…) API key.",
		Fix:         rotate,
		keywords:    []string{"sk-"},
		re:          regexp.MustCompile(`\b(sk-(?:proj-|ant-[a-z0-9]{2,6}-)[A-Za-z0-9_\-]{40,}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})\b`), group: 1, minEntropy: 3.5},
	{ID: "HS011", Title: "JSON Web Token", Severity: Medium,
		Description: "A signed JWT (three base64url parts, the first two JSON): a session or service credential until it expires.",
		Fix:         "Remove the token and revoke the session or key it belongs to; tests should mint their own tokens at run time.",
		keywords:    []string{"eyj"},
		re:          regexp.MustCompile(`\b(eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{16,})`), group: 1, minEntropy: 3.0},
	{ID: "HS012", Title: "Password in a URL", Severity: High,
		Description: "A URL with a user and a literal password (scheme://user:password@host); ${VAR} and other placeholders are not flagged.",
		Fix:         "Take the password out of the URL: pass it through the environment (${DB_PASSWORD}) or the client's credential option, and rotate it.",
		keywords:    []string{"://"},
		re:          regexp.MustCompile(`\b[a-zA-Z][a-zA-Z0-9+.\-]{1,20}://[^\s/:@"'<>]{1,64}:([^\s/@"'<>]{3,128})@[A-Za-z0-9.\-]+`), group: 1, valueCheck: true},
	{ID: "HS013", Title: "Password in configuration", Severity: High,
		Description: "A literal value (6 or more characters, not a placeholder, a ${VAR} reference or a secret-manager reference) for a key named password, passwd, secret, token, api key, access key, private key or client secret in a configuration file (YAML, JSON, TOML, INI, .env, properties, Terraform variables, Docker Compose, XML).",
		Fix:         "Reference the value instead of writing it (${DB_PASSWORD}, a Kubernetes Secret, a secret manager) and rotate it.",
		keywords:    []string{"pass", "pwd", "secret", "token", "key"},
		re:          regexp.MustCompile(`(?i)(?:^|[\s"'{,])(?:[a-z0-9_.\-]*(?:password|passwd|pwd|secret|token|api[_\-.]?key|access[_\-.]?key|private[_\-.]?key|client[_\-.]?secret))["']?\s*(?:[:=]|=>)\s*["']?([^\s"',#}]{6,})`),
		group:       1, minLen: 6, configOnly: true, valueCheck: true},
	{ID: "HS014", Title: "High-entropy secret in code", Severity: Medium,
		Description: "A string literal of 20 or more characters with at least 4.0 bits of entropy per character assigned to a name that says secret, token, api key, password or credential, in any file.",
		Fix:         "Load the value from the environment or a secret manager at run time, and rotate it.",
		keywords:    []string{"secret", "token", "key", "password", "credential"},
		re:          regexp.MustCompile(`(?i)(?:secret|token|api_?key|apikey|password|credential)[a-z0-9_]*["']?\s*(?::=|[:=]|=>)\s*["'\x60]([A-Za-z0-9/+_=\-.]{20,})["'\x60]`),
		group:       1, minEntropy: 4.0, minLen: 20, valueCheck: true},
}

// Rules returns the rule list, in ID order.
func Rules() []Rule { return append([]Rule(nil), rules...) }

// IsConfig reports whether a path is a configuration file, where HS013 looks.
func IsConfig(path string) bool {
	base := strings.ToLower(path[strings.LastIndexByte(path, '/')+1:])
	if base == ".env" || strings.HasPrefix(base, ".env.") || strings.HasPrefix(base, "docker-compose") || strings.HasPrefix(base, "compose.") {
		return true
	}
	for _, ext := range []string{".yaml", ".yml", ".json", ".toml", ".ini", ".env", ".properties", ".conf", ".cfg", ".tfvars", ".xml", ".npmrc", ".pypirc", ".netrc"} {
		if strings.HasSuffix(base, ext) {
			return true
		}
	}
	return base == ".npmrc" || base == ".pypirc" || base == ".netrc" || base == "credentials"
}
