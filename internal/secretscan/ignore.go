package secretscan

import (
	"bytes"
	"fmt"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
)

// IgnoreFile is the name of the ignore file, read at the repository's root.
const IgnoreFile = ".hugai-secrets.yaml"

// Ignore is what an ignore file allows:
//
//	ignore:
//	  - path: internal/dockerlint/testdata/**   # a glob; ** spans directories
//	    rules: [HS013]                           # optional: only these rules
//	    reason: fixtures hold fake secrets on purpose
//	  - fingerprint: 0123abc…:config/dev.yaml:HS013:4
type Ignore struct {
	Entries []IgnoreEntry `yaml:"ignore"`
}

// IgnoreEntry is one allowance: a path glob (with rules, or all of them), or one finding's
// fingerprint.
type IgnoreEntry struct {
	Path        string   `yaml:"path"`
	Rules       []string `yaml:"rules"`
	Fingerprint string   `yaml:"fingerprint"`
	Reason      string   `yaml:"reason"`
}

// ParseIgnore reads an ignore file; errors name the file and line.
func ParseIgnore(name string, data []byte) (*Ignore, error) {
	var ig Ignore
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&ig); err != nil && err.Error() != "EOF" {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	known := map[string]bool{}
	for _, r := range rules {
		known[r.ID] = true
	}
	for i, e := range ig.Entries {
		if (e.Path == "") == (e.Fingerprint == "") {
			return nil, fmt.Errorf("%s: ignore[%d]: give a path or a fingerprint", name, i)
		}
		if e.Path != "" {
			if _, err := path.Match(strings.ReplaceAll(e.Path, "**", "*"), ""); err != nil {
				return nil, fmt.Errorf("%s: ignore[%d].path %q: %w", name, i, e.Path, err)
			}
		}
		for _, r := range e.Rules {
			if !known[r] {
				return nil, fmt.Errorf("%s: ignore[%d].rules: unknown rule %q (hugai analyze deployment --list-rules)", name, i, r)
			}
		}
	}
	return &ig, nil
}

// pathIgnored reports whether findings of rule (any rule when "") on p are allowed. With rule
// "", only entries for every rule count.
func (ig *Ignore) pathIgnored(p, rule string) bool {
	if ig == nil {
		return false
	}
	for _, e := range ig.Entries {
		if e.Path == "" || !globMatch(e.Path, p) {
			continue
		}
		if len(e.Rules) == 0 {
			return true
		}
		for _, r := range e.Rules {
			if rule != "" && r == rule {
				return true
			}
		}
	}
	return false
}

func (ig *Ignore) fingerprint(fp string) bool {
	if ig == nil {
		return false
	}
	for _, e := range ig.Entries {
		if e.Fingerprint != "" && e.Fingerprint == fp {
			return true
		}
	}
	return false
}

// globMatch matches a slash-separated path against a glob whose "**" segment spans any number of
// directories; a pattern ending in "/" (or "/**") covers everything under it.
func globMatch(pattern, p string) bool {
	pattern = strings.TrimPrefix(pattern, "/")
	if strings.HasSuffix(pattern, "/") {
		pattern += "**"
	}
	return matchSegs(strings.Split(pattern, "/"), strings.Split(p, "/"))
}

func matchSegs(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			pat = pat[1:]
			if len(pat) == 0 {
				return true
			}
			for i := range segs {
				if matchSegs(pat, segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], segs[0]); !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}
