package release

import (
	"strings"
)

// Forge makes links to a repository's commits, issues and comparisons on GitHub, Gitea or
// GitLab. The zero Forge makes no links.
type Forge struct {
	Base   string // https://github.com/owner/repo
	gitlab bool   // GitLab puts its pages under /-/
}

// ParseForge reads a forge URL as users write it or as `git remote get-url` prints it:
// https://github.com/o/r(.git), git@github.com:o/r.git, ssh://git@host/o/r.git. Anything it cannot
// read as a web address (a local path, a file:// remote) gives the zero Forge: no links.
func ParseForge(s string) Forge {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "https://"), strings.HasPrefix(s, "http://"):
		// kept as is, minus credentials
		scheme, rest, _ := strings.Cut(s, "://")
		if at := strings.LastIndexByte(hostPart(rest), '@'); at >= 0 {
			rest = rest[at+1:]
		}
		s = scheme + "://" + rest
	case strings.HasPrefix(s, "ssh://"):
		rest := strings.TrimPrefix(s, "ssh://")
		if at := strings.LastIndexByte(hostPart(rest), '@'); at >= 0 {
			rest = rest[at+1:]
		}
		host, path, _ := strings.Cut(rest, "/")
		if i := strings.IndexByte(host, ':'); i >= 0 {
			host = host[:i] // an ssh port says nothing of the web address
		}
		s = "https://" + host + "/" + path
	case strings.Contains(s, "@") && strings.Contains(s, ":") && !strings.Contains(s, "://"):
		// scp-like: git@github.com:o/r.git
		rest := s[strings.IndexByte(s, '@')+1:]
		host, path, _ := strings.Cut(rest, ":")
		s = "https://" + host + "/" + strings.TrimPrefix(path, "/")
	default:
		return Forge{}
	}
	s = strings.TrimSuffix(strings.TrimRight(s, "/"), ".git")
	scheme, rest, _ := strings.Cut(s, "://")
	host, path, ok := strings.Cut(rest, "/")
	if host == "" || !ok || strings.Trim(path, "/") == "" || strings.ContainsAny(s, " \t\n\"'<>()[]`") {
		return Forge{}
	}
	return Forge{Base: scheme + "://" + host + "/" + strings.Trim(path, "/"), gitlab: strings.Contains(host, "gitlab")}
}

func hostPart(rest string) string {
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[:i]
	}
	return rest
}

func (f Forge) page(kind string) string {
	if f.gitlab {
		return f.Base + "/-/" + kind + "/"
	}
	return f.Base + "/" + kind + "/"
}

// CommitURL links a commit ("" without a forge).
func (f Forge) CommitURL(hash string) string {
	if f.Base == "" {
		return ""
	}
	return f.page("commit") + hash
}

// IssueURL links an issue or pull request by number: GitHub and Gitea send /issues/N to the pull
// request when N is one.
func (f Forge) IssueURL(n string) string {
	if f.Base == "" {
		return ""
	}
	return f.page("issues") + n
}

// CompareURL links the comparison of two tags ("" without a forge or a previous tag).
func (f Forge) CompareURL(from, to string) string {
	if f.Base == "" || from == "" {
		return ""
	}
	return f.page("compare") + from + "..." + to
}
