// Package conventional parses commit messages written to the Conventional Commits 1.0 format
// (type(scope)!: description, a body, and git-trailer-style footers) as release-please and
// git-cliff read them, so that a version and release notes can be derived from history. It is
// part of the pure core: it reads strings and nothing else.
package conventional

import (
	"strings"
)

// Commit is what one commit message says.
type Commit struct {
	// Conventional is false when the subject does not follow the format (it is then not
	// releasable, and Type, Scope and Description are empty).
	Conventional bool     `json:"conventional"`
	Type         string   `json:"type,omitempty"` // lower case: "feat", "fix", "perf", …
	Scope        string   `json:"scope,omitempty"`
	Description  string   `json:"description,omitempty"`
	Body         string   `json:"body,omitempty"`
	Footers      []Footer `json:"footers,omitempty"`
	// Breaking is set by a "!" before the colon or by a BREAKING CHANGE (or BREAKING-CHANGE)
	// footer; BreakingNote is that footer's text, else the description.
	Breaking     bool   `json:"breaking,omitempty"`
	BreakingNote string `json:"breakingNote,omitempty"`
	// ReleaseAs is the value of a Release-As footer (release-please's way to force a version).
	ReleaseAs string `json:"releaseAs,omitempty"`
	// Revert is set for a revert: git's own `Revert "…"` subject or a `revert:` commit.
	Revert *Revert `json:"revert,omitempty"`
	// Merge is set for a merge commit's subject (`Merge branch …`, `Merge pull request #N …`).
	Merge bool `json:"merge,omitempty"`
	// Refs are the issue and pull request numbers the message names (#12), in order, once each.
	Refs []string `json:"refs,omitempty"`
}

// Footer is one git trailer of the message's last paragraph.
type Footer struct {
	Token string `json:"token"`
	Value string `json:"value"`
}

// Revert names what a revert undoes.
type Revert struct {
	Header string `json:"header,omitempty"` // the reverted commit's subject
	Hash   string `json:"hash,omitempty"`   // from "This reverts commit <hash>."
}

// Parse reads a commit's subject (its first line) and body (the rest, after the blank line).
func Parse(subject, body string) Commit {
	subject = strings.TrimSpace(firstLine(subject))
	body = strings.Trim(strings.ReplaceAll(body, "\r\n", "\n"), "\n")
	c := Commit{}
	if isMerge(subject) {
		c.Merge = true
		c.Refs = refs(nil, subject)
		return c
	}
	if h, ok := parseHeader(subject); ok {
		c.Conventional = true
		c.Type, c.Scope, c.Description, c.Breaking = h.typ, h.scope, h.desc, h.bang
	}
	c.Body, c.Footers = splitFooters(body)
	for _, f := range c.Footers {
		switch {
		case f.Token == "BREAKING CHANGE" || f.Token == "BREAKING-CHANGE":
			c.Breaking = c.Breaking || c.Conventional
			if c.Conventional && c.BreakingNote == "" {
				c.BreakingNote = f.Value
			}
		case strings.EqualFold(f.Token, "Release-As"):
			c.ReleaseAs = strings.TrimPrefix(strings.TrimSpace(f.Value), "v")
		}
	}
	if c.Breaking && c.BreakingNote == "" {
		c.BreakingNote = c.Description
	}
	c.Revert = revertOf(c, subject, body)
	if c.Revert != nil && !c.Conventional {
		// git's own `Revert "…"` reads as a revert commit, as release-please reads it.
		c.Conventional, c.Type, c.Description = true, "revert", c.Revert.Header
	}
	c.Refs = refs(refs(nil, subject), body)
	return c
}

type header struct {
	typ, scope, desc string
	bang             bool
}

// parseHeader reads "type(scope)!: description". The type is a word of letters, digits, '-' or
// '_' starting with a letter, so "defeat: x" is of type defeat (not feat) and "WIP stuff: x" is
// not conventional; the colon must be followed by a space and a description.
func parseHeader(s string) (header, bool) {
	var h header
	i := 0
	for i < len(s) && isTypeByte(s[i], i == 0) {
		i++
	}
	if i == 0 {
		return h, false
	}
	h.typ = strings.ToLower(s[:i])
	rest := s[i:]
	if strings.HasPrefix(rest, "(") {
		end := strings.IndexByte(rest, ')')
		if end < 0 {
			return h, false
		}
		h.scope = strings.TrimSpace(rest[1:end])
		if h.scope == "" || strings.ContainsAny(h.scope, "()") {
			return h, false
		}
		rest = rest[end+1:]
	}
	if strings.HasPrefix(rest, "!") {
		h.bang = true
		rest = rest[1:]
	}
	if !strings.HasPrefix(rest, ": ") {
		return h, false
	}
	h.desc = strings.TrimSpace(rest[2:])
	if h.desc == "" {
		return h, false
	}
	return h, true
}

func isTypeByte(b byte, first bool) bool {
	switch {
	case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z':
		return true
	case first:
		return false
	}
	return b >= '0' && b <= '9' || b == '-' || b == '_'
}

// isMerge recognises the subjects git, GitHub and GitLab give merge commits; the caller also
// knows merges by their parents.
func isMerge(s string) bool {
	for _, p := range []string{"Merge branch ", "Merge pull request #", "Merge remote-tracking branch ", "Merge tag ", "Merge commit "} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// splitFooters splits the body's last paragraph off when it is made of trailers ("Token: value"
// or "Token #value", a continuation line indented or not matching a token), as git
// interpret-trailers reads them. A BREAKING CHANGE note that opens a paragraph counts wherever it
// is, as conventional-changelog reads it.
func splitFooters(body string) (string, []Footer) {
	if body == "" {
		return "", nil
	}
	lines := strings.Split(body, "\n")
	// Find the start of the trailer block: the first line of the last paragraph that opens with a
	// token, or the first BREAKING CHANGE line that opens a paragraph.
	start := -1
	for i, l := range lines {
		if i > 0 && strings.TrimSpace(lines[i-1]) != "" {
			continue // only a paragraph's first line opens the block
		}
		if _, _, ok := footerLine(l); !ok {
			continue
		}
		if isBreakingToken(l) || allFooterParagraphs(lines[i:]) {
			start = i
			break
		}
	}
	if start < 0 {
		return body, nil
	}
	var fs []Footer
	for _, l := range lines[start:] {
		if tok, val, ok := footerLine(l); ok {
			fs = append(fs, Footer{Token: tok, Value: val})
			continue
		}
		if len(fs) == 0 {
			continue
		}
		f := &fs[len(fs)-1]
		if strings.TrimSpace(l) == "" {
			f.Value += "\n"
			continue
		}
		f.Value = strings.TrimRight(f.Value, "\n") + "\n" + strings.TrimSpace(l)
	}
	for i := range fs {
		fs[i].Value = strings.TrimSpace(fs[i].Value)
	}
	return strings.TrimRight(strings.Join(lines[:start], "\n"), "\n"), fs
}

func isBreakingToken(l string) bool {
	return strings.HasPrefix(l, "BREAKING CHANGE: ") || strings.HasPrefix(l, "BREAKING-CHANGE: ") ||
		strings.HasPrefix(l, "BREAKING CHANGE #") || strings.HasPrefix(l, "BREAKING-CHANGE #")
}

// allFooterParagraphs reports whether lines, from a paragraph start to the end, hold only
// trailers: each line is a token line, a continuation indented as git interpret-trailers wants
// it, or free text under a BREAKING CHANGE note (conventional-changelog lets those run on).
func allFooterParagraphs(lines []string) bool {
	inBreaking := false
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if tok, _, ok := footerLine(l); ok {
			inBreaking = tok == "BREAKING CHANGE" || tok == "BREAKING-CHANGE"
			continue
		}
		if !inBreaking && l[0] != ' ' && l[0] != '\t' {
			return false
		}
	}
	return true
}

// footerLine reads "Token: value" or "Token #value"; a token is a word with '-' for spaces,
// except "BREAKING CHANGE".
func footerLine(l string) (token, value string, ok bool) {
	for _, bc := range []string{"BREAKING CHANGE", "BREAKING-CHANGE"} {
		if v, found := strings.CutPrefix(l, bc+": "); found {
			return bc, v, true
		}
		if v, found := strings.CutPrefix(l, bc+" #"); found {
			return bc, "#" + v, true
		}
	}
	i := 0
	for i < len(l) && (isTypeByte(l[i], i == 0)) {
		i++
	}
	if i == 0 {
		return "", "", false
	}
	tok, rest := l[:i], l[i:]
	switch {
	case strings.HasPrefix(rest, ": ") && len(strings.TrimSpace(rest[2:])) > 0:
		return tok, strings.TrimSpace(rest[2:]), true
	case strings.HasPrefix(rest, " #") && len(rest) > 2:
		return tok, "#" + rest[2:], true
	}
	return "", "", false
}

// revertOf recognises git's `Revert "subject"` and a conventional `revert:` commit, with the
// hash from git's "This reverts commit <hash>." line.
func revertOf(c Commit, subject, body string) *Revert {
	var r *Revert
	switch {
	case strings.HasPrefix(subject, `Revert "`) && strings.HasSuffix(subject, `"`) && len(subject) > len(`Revert ""`):
		r = &Revert{Header: subject[len(`Revert "`) : len(subject)-1]}
	case c.Conventional && c.Type == "revert":
		r = &Revert{Header: c.Description}
	default:
		return nil
	}
	const marker = "This reverts commit "
	if i := strings.Index(body, marker); i >= 0 {
		h := body[i+len(marker):]
		n := 0
		for n < len(h) && isHex(h[n]) {
			n++
		}
		if n >= 7 {
			r.Hash = strings.ToLower(h[:n])
		}
	}
	return r
}

func isHex(b byte) bool { return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' }

// refs appends the "#123" references of s to out that it does not hold yet.
func refs(out []string, s string) []string {
	for i := 0; i < len(s); i++ {
		if s[i] != '#' || i > 0 && isWordByte(s[i-1]) {
			continue
		}
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 || j-i > 10 || j < len(s) && isWordByte(s[j]) {
			continue
		}
		ref := s[i+1 : j]
		dup := false
		for _, r := range out {
			if r == ref {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, ref)
		}
		i = j - 1
	}
	return out
}

func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '&'
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Visible lists the types that call for a release and appear in release notes, as
// release-please's default changelog sections (plus deps and security, which both ship to users).
// Every other type (chore, docs, style, refactor, test, build, ci, and any type of a project's
// own, such as "defeat") changes nothing a user of the release sees: it releases nothing on its
// own and stays out of the notes, unless it is a breaking change.
var Visible = []string{"feat", "feature", "fix", "perf", "revert", "deps", "security"}

// Releasable reports whether a commit, on its own, calls for a release: a Release-As footer, or
// what belongs in the notes (InNotes).
func (c Commit) Releasable() bool { return c.ReleaseAs != "" || c.InNotes() }

// InNotes reports whether release notes list the commit: a conventional breaking change or a
// visible type.
func (c Commit) InNotes() bool {
	if c.Merge || !c.Conventional {
		return false
	}
	if c.Breaking {
		return true
	}
	for _, v := range Visible {
		if c.Type == v {
			return true
		}
	}
	return false
}

// Format writes a conventional commit's header back ("" for one that is not conventional).
func Format(c Commit) string {
	if !c.Conventional {
		return ""
	}
	h := c.Type
	if c.Scope != "" {
		h += "(" + c.Scope + ")"
	}
	if c.Breaking && c.BreakingNote == c.Description {
		h += "!"
	}
	return h + ": " + c.Description
}
