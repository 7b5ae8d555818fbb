package token

import (
	"strings"
	"testing"
	"time"
)

func TestNewParseHash(t *testing.T) {
	s, h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, Prefix) || len(s) != encodedLen || len(h) != 64 {
		t.Fatalf("token %q hash %q", s, h)
	}
	if got, err := HashOf(s); err != nil || got != h {
		t.Fatalf("HashOf = %q, %v; want %q", got, err, h)
	}
	s2, h2, _ := New()
	if s2 == s || h2 == h {
		t.Fatal("two tokens alike")
	}
	for _, bad := range []string{"", "hugai_", s[:len(s)-1], s + "A", "HUGAI_" + s[6:], strings.Replace(s, s[10:11], "+", 1), "xxxxx_" + s[6:]} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestFromHeader(t *testing.T) {
	s, _, _ := New()
	for _, tc := range []struct {
		h, want string
		ok      bool
	}{
		{"", "", true}, {"Bearer " + s, s, true}, {"bearer " + s, s, true}, {"Bearer  " + s + " ", s, true},
		{"Basic " + s, "", false}, {"Bearer", "", false}, {"Bearer nope", "", false}, {s, "", false},
	} {
		got, err := FromHeader(tc.h)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("FromHeader(%q) = %q, %v", tc.h, got, err)
		}
	}
}

func TestParseLifetime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{{"90d", 90 * 24 * time.Hour}, {"12h", 12 * time.Hour}, {"1d", 24 * time.Hour}} {
		if got, err := ParseLifetime(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseLifetime(%q) = %v, %v", tc.in, got, err)
		}
	}
	for _, bad := range []string{"", "0d", "-1d", "d", "3651d", "-5h", "0s", "forever", "1.5d"} {
		if _, err := ParseLifetime(bad); err == nil {
			t.Errorf("ParseLifetime(%q) accepted", bad)
		}
	}
}

func TestValidName(t *testing.T) {
	for _, ok := range []string{"ci", "deploy-bot_2", "a.b"} {
		if err := ValidName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a/b", strings.Repeat("x", 65), "é"} {
		if ValidName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzToken: whatever arrives in an Authorization header or on the command line, reading it
// never panics, and anything accepted is a well-formed token that hashes.
func FuzzToken(f *testing.F) {
	s, _, _ := New()
	for _, seed := range []string{"", "Bearer " + s, "bearer x", s, "Basic abc", "Bearer hugai_", "90d", "12h", "ci"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if tok, err := FromHeader(in); err == nil && tok != "" {
			if _, err := HashOf(tok); err != nil {
				t.Fatalf("FromHeader accepted %q, which does not hash: %v", tok, err)
			}
		}
		if b, err := Parse(in); err == nil && len(b) != secretBytes {
			t.Fatalf("Parse(%q): %d bytes", in, len(b))
		}
		if d, err := ParseLifetime(in); err == nil && d <= 0 {
			t.Fatalf("ParseLifetime(%q) = %v", in, d)
		}
		_ = ValidName(in)
	})
}
