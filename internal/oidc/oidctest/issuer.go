// Package oidctest is an OpenID Connect provider for tests, written to the specification (OpenID
// Connect Core 1.0, Discovery 1.0, RFC 6749, RFC 7636): discovery, keys, an authorization
// endpoint that signs in whoever the test says, and a token endpoint that checks what a real
// provider checks (client, redirect URI, one-time code, PKCE) and issues RS256 ID tokens. No real
// provider can run here; this one refuses every request a real one would.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// User is whom the provider signs in.
type User struct {
	Subject, Email, Name string
	EmailVerified        bool
	Groups               []string
}

// Issuer is a running provider with one registered client.
type Issuer struct {
	URL                    string
	ClientID, ClientSecret string
	RedirectURL            string

	t      testing.TB
	key    *rsa.PrivateKey
	signer jose.Signer

	mu    sync.Mutex
	user  *User
	codes map[string]grant
	// Refused counts requests refused, by reason, so a test can see what a client got wrong.
	Refused map[string]int
}

type grant struct {
	user              User
	redirect, nonce   string
	challenge, method string
	expires           time.Time
}

// Start runs a provider for the client with redirectURL; it stops with the test.
func Start(t testing.TB, redirectURL string) *Issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	is := &Issuer{ClientID: "hugai-dashboard", ClientSecret: "s3cret-" + randomString(), RedirectURL: redirectURL,
		t: t, key: key, signer: signer, codes: map[string]grant{}, Refused: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", is.discovery)
	mux.HandleFunc("GET /keys", is.keys)
	mux.HandleFunc("GET /authorize", is.authorize)
	mux.HandleFunc("POST /token", is.token)
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	is.URL = s.URL
	return is
}

// SignIn makes the authorization endpoint sign in u (nil: nobody; the endpoint answers
// access_denied, as a provider does when the person declines).
func (is *Issuer) SignIn(u *User) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.user = u
}

func (is *Issuer) refuse(w http.ResponseWriter, status int, code, why string) {
	is.mu.Lock()
	is.Refused[why]++
	is.mu.Unlock()
	is.t.Logf("oidctest: refused (%s): %s", code, why)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": why})
}

func (is *Issuer) discovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                is.URL,
		"authorization_endpoint":                is.URL + "/authorize",
		"token_endpoint":                        is.URL + "/token",
		"jwks_uri":                              is.URL + "/keys",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"scopes_supported":                      []string{"openid", "email", "profile", "groups"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"claims_supported":                      []string{"sub", "email", "email_verified", "name", "groups"},
	})
}

func (is *Issuer) keys(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &is.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
}

// authorize is the authorization endpoint (Core 3.1.2.1): the request is checked before anyone
// is redirected anywhere; errors about the redirect URI itself are shown, never redirected.
func (is *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != is.ClientID {
		is.refuse(w, http.StatusBadRequest, "unauthorized_client", "unknown client_id")
		return
	}
	if q.Get("redirect_uri") != is.RedirectURL {
		is.refuse(w, http.StatusBadRequest, "invalid_request", "redirect_uri not registered")
		return
	}
	back, _ := url.Parse(is.RedirectURL)
	redirect := func(v url.Values) {
		v.Set("state", q.Get("state"))
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	}
	fail := func(code, why string) {
		is.mu.Lock()
		is.Refused[why]++
		is.mu.Unlock()
		redirect(url.Values{"error": {code}, "error_description": {why}})
	}
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "response_type must be code")
		return
	case !slices.Contains(strings.Fields(q.Get("scope")), "openid"):
		fail("invalid_scope", "scope must include openid")
		return
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "PKCE with S256 is required")
		return
	case q.Get("state") == "":
		fail("invalid_request", "state is required by this provider")
		return
	}
	is.mu.Lock()
	u := is.user
	is.mu.Unlock()
	if u == nil {
		fail("access_denied", "the person declined")
		return
	}
	code := randomString()
	is.mu.Lock()
	is.codes[code] = grant{user: *u, redirect: q.Get("redirect_uri"), nonce: q.Get("nonce"),
		challenge: q.Get("code_challenge"), method: q.Get("code_challenge_method"), expires: time.Now().Add(time.Minute)}
	is.mu.Unlock()
	redirect(url.Values{"code": {code}})
}

// token is the token endpoint (RFC 6749 4.1.3, RFC 7636 4.6): client authentication, a code
// used once, the same redirect URI, and the PKCE verifier that hashes to the challenge.
func (is *Issuer) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		is.refuse(w, http.StatusBadRequest, "invalid_request", "form: "+err.Error())
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != is.ClientID || secret != is.ClientSecret {
		w.Header().Set("WWW-Authenticate", `Basic realm="oidctest"`)
		is.refuse(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		is.refuse(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code")
		return
	}
	code := r.PostForm.Get("code")
	is.mu.Lock()
	g, ok := is.codes[code]
	delete(is.codes, code) // one use, even a failed one
	is.mu.Unlock()
	switch {
	case !ok || time.Now().After(g.expires):
		is.refuse(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
		return
	case r.PostForm.Get("redirect_uri") != g.redirect:
		is.refuse(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request's")
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		is.refuse(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
		return
	}
	now := time.Now()
	claims := map[string]any{
		"iss": is.URL, "sub": g.user.Subject, "aud": is.ClientID, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"email": g.user.Email, "email_verified": g.user.EmailVerified, "name": g.user.Name, "groups": g.user.Groups,
	}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	payload, _ := json.Marshal(claims)
	jws, err := is.signer.Sign(payload)
	if err != nil {
		is.refuse(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	idToken, _ := jws.CompactSerialize()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"access_token": randomString(), "token_type": "Bearer", "expires_in": 300, "id_token": idToken})
}

func randomString() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// String names the issuer in test logs.
func (is *Issuer) String() string { return fmt.Sprintf("oidctest issuer %s", is.URL) }
