package policy

import (
	"slices"
	"strings"
)

// How an identity authenticated.
const (
	ViaUnix  = "unix"  // the OS user of a unix-socket peer (SO_PEERCRED)
	ViaToken = "token" // an API token
)

// Identity is who asks: what the policy's principals are matched against and what the audit
// records. The server builds it from the connection; the core only reads it.
type Identity struct {
	// Name is who, as recorded in the audit and on approvals: an OS user name, a token's
	// subject, an e-mail address.
	Name   string   `json:"name"`
	Email  string   `json:"email,omitempty"`
	Groups []string `json:"groups,omitempty"`
	// Via is how they authenticated (ViaUnix, ViaToken); From is where from (a socket's peer
	// uid, a TCP peer's address).
	Via  string `json:"via,omitempty"`
	From string `json:"from,omitempty"`
	// Token is the name of the token used, when Via is ViaToken.
	Token string `json:"token,omitempty"`
	// Ceiling caps the role the policy gives (a token's role); NoRole: no cap.
	Ceiling Role `json:"ceiling,omitempty"`
	// Environment limits the identity to one environment (a token's scope); "": all of them.
	Environment string `json:"environment,omitempty"`
}

// User is an identity known only by name, as the engine's tests and old records have it.
func User(name string) Identity { return Identity{Name: name} }

// Principal prefixes narrow a principal to one kind of name. A bare principal matches the
// identity's name, its e-mail or one of its groups: the seed writes
// `production-team@company.com`, a group's address, and `alice`, a user.
const (
	prefixUser  = "user:"
	prefixGroup = "group:"
	prefixToken = "token:"
	// Anyone matches every identity with a name.
	Anyone = "*"
)

// Matches reports whether the principal p names id.
func Matches(p string, id Identity) bool {
	if id.Name == "" || p == "" {
		return false
	}
	switch {
	case p == Anyone:
		return true
	case strings.HasPrefix(p, prefixUser):
		return same(strings.TrimPrefix(p, prefixUser), id.Name)
	case strings.HasPrefix(p, prefixGroup):
		g := strings.TrimPrefix(p, prefixGroup)
		return slices.ContainsFunc(id.Groups, func(x string) bool { return same(g, x) })
	case strings.HasPrefix(p, prefixToken):
		return id.Via == ViaToken && same(strings.TrimPrefix(p, prefixToken), id.Token)
	}
	return same(p, id.Name) || (id.Email != "" && same(p, id.Email)) ||
		slices.ContainsFunc(id.Groups, func(x string) bool { return same(p, x) })
}

// MatchesAny reports whether any of ps names id.
func MatchesAny(ps []string, id Identity) bool {
	return slices.ContainsFunc(ps, func(p string) bool { return Matches(p, id) })
}

// same compares names; e-mail addresses are compared without regard to case, as mail systems do.
func same(a, b string) bool {
	if strings.Contains(a, "@") || strings.Contains(b, "@") {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// ValidPrincipal says what is wrong with a principal as written in hugai.yaml, or "".
func ValidPrincipal(p string) string {
	switch {
	case strings.TrimSpace(p) != p:
		return "has leading or trailing spaces"
	case p == "":
		return "is empty"
	case p == prefixUser || p == prefixGroup || p == prefixToken:
		return "names no one after its prefix"
	}
	if i := strings.Index(p, ":"); i >= 0 && p != Anyone {
		switch p[:i+1] {
		case prefixUser, prefixGroup, prefixToken:
		default:
			return "has an unknown prefix " + p[:i+1] + " (known: user:, group:, token:)"
		}
	}
	return ""
}
