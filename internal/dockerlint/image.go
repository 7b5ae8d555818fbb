package dockerlint

import "strings"

// imageRef is a base image reference split into its parts.
type imageRef struct {
	repo   string // registry and path, e.g. docker.io/library/node or node
	tag    string
	digest string
}

func parseImage(s string) imageRef {
	var r imageRef
	if i := strings.IndexByte(s, '@'); i >= 0 {
		r.digest = s[i+1:]
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, ':'); i > strings.LastIndexByte(s, '/') {
		r.tag = s[i+1:]
		s = s[:i]
	}
	r.repo = s
	return r
}

// short is the image's last path element (node for docker.io/library/node).
func (r imageRef) short() string {
	if i := strings.LastIndexByte(r.repo, '/'); i >= 0 {
		return strings.ToLower(r.repo[i+1:])
	}
	return strings.ToLower(r.repo)
}

// isExternal tells whether a stage starts from an image the rules about images apply to: not
// scratch, not an earlier stage, not a reference built from ARGs the linter cannot resolve.
func (f *File) isExternal(s *Stage) bool {
	if strings.EqualFold(s.Base, "scratch") || strings.Contains(s.Base, "$") {
		return false
	}
	return f.stageByName(s.Base, s.Index) == nil
}

// parent returns the earlier stage s is built FROM, or nil when it starts from an image.
func (f *File) parent(s *Stage) *Stage { return f.stageByName(s.Base, s.Index) }

// shipped reports the stages whose layers end up in the final image: the final stage and the
// stages it is built FROM, transitively. Caches left in a builder stage do not ship.
func (f *File) shipped() map[*Stage]bool {
	out := map[*Stage]bool{}
	for s := f.Final(); s != nil && !out[s]; s = f.parent(s) {
		out[s] = true
	}
	return out
}
