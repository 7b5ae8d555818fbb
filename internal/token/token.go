// Package token makes and reads hugai's API tokens: "hugai_" and 32 random bytes in unpadded
// base64url. Only the SHA-256 of the 32 bytes is ever stored, so a stolen database yields no
// usable token.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Prefix marks a hugai token, so that secret scanners (and people) recognise one.
const Prefix = "hugai_"

const secretBytes = 32

// encodedLen is the length of a token: the prefix and 32 bytes in unpadded base64url.
var encodedLen = len(Prefix) + base64.RawURLEncoding.EncodedLen(secretBytes)

// New makes a token: the secret to show its owner once, and the hash to store.
func New() (secret, hash string, err error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("make token: %w", err)
	}
	return Prefix + base64.RawURLEncoding.EncodeToString(b), Hash(b), nil
}

// ErrMalformed is a string that is not a hugai token at all.
var ErrMalformed = errors.New("not a hugai token")

// Parse reads a token's 32 secret bytes.
func Parse(s string) ([]byte, error) {
	if len(s) != encodedLen || !strings.HasPrefix(s, Prefix) {
		return nil, ErrMalformed
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s[len(Prefix):])
	if err != nil || len(b) != secretBytes {
		return nil, ErrMalformed
	}
	return b, nil
}

// Hash is the stored form of a token's secret bytes: hex SHA-256.
func Hash(secret []byte) string {
	sum := sha256.Sum256(secret)
	return hex.EncodeToString(sum[:])
}

// HashOf parses a token and hashes it.
func HashOf(s string) (string, error) {
	b, err := Parse(s)
	if err != nil {
		return "", err
	}
	return Hash(b), nil
}

// FromHeader reads the token of an Authorization header: "Bearer <token>", the scheme in any
// case. An empty header is ("", nil): no token was offered.
func FromHeader(h string) (string, error) {
	if h == "" {
		return "", nil
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrMalformed
	}
	tok = strings.TrimSpace(tok)
	if _, err := Parse(tok); err != nil {
		return "", err
	}
	return tok, nil
}

// ParseLifetime reads --expires: a Go duration ("12h") or a number of days ("90d"), positive
// and at most ten years.
func ParseLifetime(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 3650 {
			return 0, fmt.Errorf("--expires %q: want a number of days from 1 to 3650 (90d) or a duration (12h)", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > 3650*24*time.Hour {
		return 0, fmt.Errorf("--expires %q: want a number of days (90d) or a positive duration (12h)", s)
	}
	return d, nil
}

// ValidName says what is wrong with a token's name, or nil: names appear in URLs, the audit
// and principals (token:NAME), so they are short and plain.
func ValidName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("token name %q: want 1 to 64 characters", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("token name %q: want letters, digits, '-', '_' or '.'", name)
		}
	}
	return nil
}
