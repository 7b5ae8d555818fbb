package release

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a semantic version (semver.org 2.0), without build metadata.
type Version struct {
	Major, Minor, Patch int
	Pre                 string // "rc.1"; "" for a release
}

// ParseVersion reads "1.2.3" or "1.2.3-rc.1" (a leading "v" and build metadata are allowed and
// dropped). Numbers have no leading zeros, as semver requires.
func ParseVersion(s string) (Version, error) {
	var v Version
	in := s
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i]
	}
	core, pre, hasPre := strings.Cut(s, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return v, fmt.Errorf("version %q: want MAJOR.MINOR.PATCH", in)
	}
	nums := [3]*int{&v.Major, &v.Minor, &v.Patch}
	for i, p := range parts {
		n, err := number(p)
		if err != nil {
			return v, fmt.Errorf("version %q: %w", in, err)
		}
		*nums[i] = n
	}
	if hasPre {
		if pre == "" {
			return v, fmt.Errorf("version %q: empty pre-release", in)
		}
		for _, id := range strings.Split(pre, ".") {
			if id == "" || strings.Trim(id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-") != "" {
				return v, fmt.Errorf("version %q: bad pre-release identifier %q", in, id)
			}
			if isDigits(id) && len(id) > 1 && id[0] == '0' {
				return v, fmt.Errorf("version %q: pre-release number %q has a leading zero", in, id)
			}
		}
		v.Pre = pre
	}
	return v, nil
}

func number(p string) (int, error) {
	if p == "" || !isDigits(p) || len(p) > 1 && p[0] == '0' || len(p) > 9 {
		return 0, fmt.Errorf("bad number %q", p)
	}
	return strconv.Atoi(p)
}

func isDigits(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }

func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if v.Pre != "" {
		s += "-" + v.Pre
	}
	return s
}

// Compare orders versions as semver does: a pre-release comes before its release, and
// pre-release identifiers compare numerically when both are numbers.
func (v Version) Compare(w Version) int {
	for _, d := range [3]int{v.Major - w.Major, v.Minor - w.Minor, v.Patch - w.Patch} {
		if d != 0 {
			return sign(d)
		}
	}
	switch {
	case v.Pre == w.Pre:
		return 0
	case v.Pre == "":
		return 1
	case w.Pre == "":
		return -1
	}
	a, b := strings.Split(v.Pre, "."), strings.Split(w.Pre, ".")
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		an, bn := isDigits(a[i]), isDigits(b[i])
		switch {
		case an && bn:
			x, _ := strconv.Atoi(a[i])
			y, _ := strconv.Atoi(b[i])
			return sign(x - y)
		case an:
			return -1
		case bn:
			return 1
		}
		return strings.Compare(a[i], b[i])
	}
	return sign(len(a) - len(b))
}

func sign(d int) int {
	switch {
	case d < 0:
		return -1
	case d > 0:
		return 1
	}
	return 0
}

// Bump is the size of a release.
type Bump int

// The bumps, smallest first.
const (
	None Bump = iota
	Patch
	Minor
	Major
)

func (b Bump) String() string {
	return [...]string{"none", "patch", "minor", "major"}[b]
}

// ParseBump reads a --bump value; "auto" (and "") is None: derive it from the commits.
func ParseBump(s string) (Bump, error) {
	switch s {
	case "", "auto":
		return None, nil
	case "patch":
		return Patch, nil
	case "minor":
		return Minor, nil
	case "major":
		return Major, nil
	}
	return None, fmt.Errorf("bump %q: want auto, major, minor or patch", s)
}

// next applies a bump to the current version as release-please's default and pre-release
// strategies do. Below 1.0.0 a major bump moves the minor (0.x is where breaking changes are
// expected), and everything else the patch's way. With a pre-release identifier, a bump the
// current pre-release already covers only advances its number (1.3.0-rc.1 → 1.3.0-rc.2); without
// one, a pre-release graduates to its own release when that covers the bump.
func next(cur Version, b Bump, pre string) Version {
	if cur.Major == 0 && b == Major {
		b = Minor
	}
	base := Version{Major: cur.Major, Minor: cur.Minor, Patch: cur.Patch}
	if cur.Pre != "" && covers(cur, b) {
		if pre == "" {
			return base
		}
		id, n, ok := preNumber(cur.Pre)
		if ok && id == pre {
			base.Pre = fmt.Sprintf("%s.%d", pre, n+1)
			return base
		}
		if cand := (Version{Major: base.Major, Minor: base.Minor, Patch: base.Patch, Pre: pre + ".1"}); cand.Compare(cur) > 0 {
			return cand // beta.3 -> rc.1: a later identifier for the same version
		}
		// An identifier that sorts before the current one cannot follow it on the same version.
	}
	switch b {
	case Major:
		base = Version{Major: cur.Major + 1}
	case Minor:
		base = Version{Major: cur.Major, Minor: cur.Minor + 1}
	default:
		base = Version{Major: cur.Major, Minor: cur.Minor, Patch: cur.Patch + 1}
	}
	if pre != "" {
		base.Pre = pre + ".1"
	}
	return base
}

// covers reports whether a pre-release's own version already holds a bump of size b over the
// release before it: 2.0.0-rc.1 holds a major, 1.3.0-rc.1 a minor, any pre-release a patch.
func covers(cur Version, b Bump) bool {
	switch b {
	case Major:
		return cur.Minor == 0 && cur.Patch == 0
	case Minor:
		return cur.Patch == 0
	}
	return true
}

// preNumber splits "rc.3" into ("rc", 3). Only digits make a number: "-0" is an alphanumeric
// identifier to SemVer (and sorts after every number), though strconv reads it as 0.
func preNumber(pre string) (string, int, bool) {
	i := strings.LastIndexByte(pre, '.')
	digits := pre[i+1:]
	if i < 0 || digits == "" || strings.Trim(digits, "0123456789") != "" {
		return "", 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil {
		return "", 0, false
	}
	return pre[:i], n, true
}
