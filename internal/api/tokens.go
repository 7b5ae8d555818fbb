package api

import "time"

// CodeUnauthenticated is the code of a 401 (exit 5): no credentials, or ones not (or no longer)
// valid. Its message is the same whatever was wrong, so a guesser learns nothing.
const CodeUnauthenticated = "unauthenticated"

// Token is an API token as `hugai token list` shows it: never its secret.
type Token struct {
	Name        string     `json:"name"`
	Subject     string     `json:"subject"`
	Role        string     `json:"role"`
	Environment string     `json:"environment,omitempty"`
	CreatedBy   string     `json:"createdBy"`
	CreatedAt   time.Time  `json:"createdAt"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
	RevokedAt   *time.Time `json:"revokedAt,omitempty"`
	RevokedBy   string     `json:"revokedBy,omitempty"`
}

// CreateToken is the body of POST /api/v1/tokens (`hugai token create`).
type CreateToken struct {
	Name string `json:"name"`
	// Role caps what Subject may do under each environment's policy.
	Role string `json:"role"`
	// Environment scopes the token to one environment ("": all).
	Environment string `json:"environment,omitempty"`
	// Subject is whose policy roles the token carries (default: its name, so a policy names a
	// machine as `token:ci` or `ci`).
	Subject string `json:"subject,omitempty"`
	// Expires is its lifetime: days ("90d") or a duration ("12h"); "": it never expires.
	Expires string `json:"expires,omitempty"`
}

// CreatedToken answers a CreateToken: the token and, this once, its secret.
type CreatedToken struct {
	Token
	Secret string `json:"secret"`
}
