// Package secretscan finds credentials in the lines a change adds: private keys, cloud and API
// tokens, passwords in configuration, with entropy checks against false positives and an ignore
// file for test fixtures that hold fake secrets on purpose. It reads strings; the caller feeds it
// the diff.
package secretscan

import (
	"fmt"
	"math"
	"strings"
)

// Line is one added line of a change.
type Line struct {
	Commit string // the commit that added it ("" for a working-tree diff)
	Path   string
	Line   int // 1-based, in the file as of Commit
	Text   string
}

// Finding is a secret found on a line.
type Finding struct {
	Rule     string  `json:"rule"`
	Title    string  `json:"title"`
	Severity string  `json:"severity"`
	Path     string  `json:"file"`
	Line     int     `json:"line"`
	Commit   string  `json:"commit,omitempty"`
	Match    string  `json:"match"` // redacted: its first 4 characters and its length
	Entropy  float64 `json:"entropy"`
	Fix      string  `json:"fix"`
	// Fingerprint names this finding in an ignore file: commit:path:rule:line.
	Fingerprint string `json:"fingerprint"`
}

// InlineIgnore on an added line (in a comment) silences every rule on it, as gitleaks:allow does.
const InlineIgnore = "hugai-secrets-ignore"

// Scanner matches the rules against lines, less what its ignore list allows.
type Scanner struct {
	ignore *Ignore
}

// New returns a scanner; a nil ignore ignores nothing.
func New(ignore *Ignore) *Scanner { return &Scanner{ignore: ignore} }

// maxLine bounds the text matched on one line: minified bundles and data files have lines of
// megabytes, and a secret is found in its first kilobytes or is not a line a person wrote.
const maxLine = 4096

// Scan returns the findings on one line, in rule order.
func (s *Scanner) Scan(l Line) []Finding {
	text := l.Text
	if len(text) > maxLine {
		text = text[:maxLine]
	}
	if strings.Contains(text, InlineIgnore) || strings.Contains(text, "gitleaks:allow") {
		return nil
	}
	if s.ignore.pathIgnored(l.Path, "") {
		return nil
	}
	lower := strings.ToLower(text)
	config := IsConfig(l.Path)
	var out []Finding
	for i := range rules {
		r := &rules[i]
		if r.configOnly && !config || !hasAny(lower, r.keywords) {
			continue
		}
		for _, m := range r.re.FindAllStringSubmatchIndex(text, 4) {
			start, end := m[2*r.group], m[2*r.group+1]
			if start < 0 {
				continue
			}
			secret := text[start:end]
			if len(secret) < r.minLen {
				continue
			}
			e := Entropy(secret)
			if e < r.minEntropy || looksExample(secret) {
				continue
			}
			if r.valueCheck && placeholder(secret) {
				continue
			}
			f := Finding{Rule: r.ID, Title: r.Title, Severity: r.Severity, Path: l.Path, Line: l.Line, Commit: l.Commit,
				Match: redact(secret), Entropy: math.Round(e*100) / 100, Fix: r.Fix}
			f.Fingerprint = fmt.Sprintf("%s:%s:%s:%d", l.Commit, l.Path, r.ID, l.Line)
			if s.ignore.pathIgnored(l.Path, r.ID) || s.ignore.fingerprint(f.Fingerprint) {
				continue
			}
			out = append(out, f)
			break // one finding per rule and line
		}
	}
	return out
}

// hasAny reports whether the lower-cased line s holds one of the (lower-case) words.
func hasAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// Entropy is the Shannon entropy of s in bits per character.
func Entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// looksExample recognises the documented example credentials (AWS's AKIAIOSFODNN7EXAMPLE and
// the like): they are published, not secret.
func looksExample(s string) bool {
	u := strings.ToUpper(s)
	return strings.Contains(u, "EXAMPLE")
}

// placeholder recognises values that stand for a secret without being one: references to the
// environment or a secret manager, template holes, masks and the words people put there.
func placeholder(v string) bool {
	v = strings.Trim(v, `"'`+"`;,)")
	if v == "" {
		return true
	}
	switch v[0] {
	case '$', '%', '<', '{', '[', '(', '&', '*', '@':
		return true
	}
	lower := strings.ToLower(v)
	for _, p := range []string{"{{", "${", "env(", "environ", "getenv", "process.env", "secretref", "secretkeyref", "vault:",
		"arn:aws:secretsmanager", "ssm:", "example", "placeholder", "changeme", "change_me", "change-me", "redacted", "dummy", "fake",
		"your_", "your-", "xxxx", "****", "....", "replace", "todo", "none", "null", "nil", "undefined", "secret", "password", "token",
		"true", "false", "required", "optional", "string", "sample", "test", "mock"} {
		if strings.Contains(lower, p) {
			return true
		}
	}
	// One character repeated (xxxxxx, 000000) is a mask.
	if strings.Count(v, v[:1]) == len(v) {
		return true
	}
	// An identifier (a variable or a field, e.g. password: cfg.DBPassword) is not a literal.
	if strings.ContainsAny(v, ".(") && !strings.ContainsAny(v, "/+=") && isIdentPath(v) {
		return true
	}
	return false
}

func isIdentPath(v string) bool {
	for _, r := range v {
		if !(r == '.' || r == '_' || r == '(' || r == ')' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func redact(s string) string {
	n := min(4, len(s))
	return fmt.Sprintf("%s… (%d chars)", s[:n], len(s))
}
