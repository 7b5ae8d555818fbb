package policy

import (
	"strings"
	"testing"
)

// FuzzPrincipal: whatever hugai.yaml writes as a principal or a role, reading it never panics, a
// role read back writes the same, and a valid bare principal names the user of that very name.
func FuzzPrincipal(f *testing.F) {
	for _, s := range []string{"alice", "user:alice", "group:ops", "token:ci", "*", "team:x", "", " a", "Carol@Company.com", "admin", "Viewer", "group:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if r, err := ParseRole(s); err == nil {
			b, _ := r.MarshalText()
			if !strings.EqualFold(string(b), s) {
				t.Fatalf("ParseRole(%q) writes back %q", s, b)
			}
		}
		why := ValidPrincipal(s)
		if why != "" || s == Anyone || strings.Contains(s, ":") {
			return
		}
		if !Matches(s, Identity{Name: s}) || !Matches(s, Identity{Name: "x", Groups: []string{s}}) {
			t.Fatalf("valid principal %q does not name the user or group of that name", s)
		}
		if Matches(s, Identity{}) {
			t.Fatalf("%q names an anonymous caller", s)
		}
	})
}
