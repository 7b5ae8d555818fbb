package policy

import "testing"

func TestMatches(t *testing.T) {
	id := Identity{Name: "alice", Email: "Alice@Company.com", Groups: []string{"ops", "prod@company.com"}, Via: ViaToken, Token: "ci"}
	for _, tc := range []struct {
		p    string
		want bool
	}{
		{"alice", true}, {"Alice", false}, {"alice@company.com", true}, {"ops", true}, {"PROD@company.com", true},
		{"user:alice", true}, {"user:ops", false}, {"group:ops", true}, {"group:alice", false},
		{"token:ci", true}, {"token:cd", false}, {"*", true}, {"", false}, {"bob", false},
	} {
		if got := Matches(tc.p, id); got != tc.want {
			t.Errorf("Matches(%q) = %t, want %t", tc.p, got, tc.want)
		}
	}
	if Matches("*", Identity{}) {
		t.Error("* matches no anonymous caller")
	}
	if Matches("token:ci", Identity{Name: "x", Token: "ci", Via: ViaUnix}) {
		t.Error("token: matches only a token")
	}
}
