package oidc_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/oidc"
	"github.com/hugai-dev/hugai/internal/oidc/oidctest"
)

const callback = "https://hugai.test/login/oidc/callback"

// authorize follows the provider's authorization endpoint to the redirect it answers with, and
// returns that redirect as the callback request the dashboard would get.
func authorize(t *testing.T, authURL string) *http.Request {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, callback) {
		t.Fatalf("authorize: %d %s", resp.StatusCode, loc)
	}
	return httptest.NewRequest(http.MethodGet, loc, nil)
}

func TestSignIn(t *testing.T) {
	is := oidctest.Start(t, callback)
	ctx := context.Background()
	p, err := oidc.New(ctx, oidc.Config{Issuer: is.URL, ClientID: is.ClientID, ClientSecret: is.ClientSecret, RedirectURL: callback})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	is.SignIn(&oidctest.User{Subject: "u-123", Email: "Carol@Company.com", EmailVerified: true, Name: "Carol", Groups: []string{"production-team@company.com"}})

	u, state := p.AuthURL("/rollouts/demo-7", now)
	for _, want := range []string{"code_challenge_method=S256", "nonce=", "scope=openid+email+profile+groups", "state=" + state} {
		if !strings.Contains(u, want) {
			t.Errorf("auth URL lacks %s: %s", want, u)
		}
	}
	cb := authorize(t, u)
	c, next, err := p.Finish(ctx, cb, now)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "u-123" || c.Email != "Carol@Company.com" || c.Name != "Carol" || !slices.Equal(c.Groups, []string{"production-team@company.com"}) || next != "/rollouts/demo-7" {
		t.Fatalf("claims %+v, next %s", c, next)
	}
	// The same callback again: the state was used.
	if _, _, err := p.Finish(ctx, cb, now); !errors.Is(err, oidc.ErrBadCallback) {
		t.Errorf("replayed callback: %v", err)
	}

	// An unverified address is not an identity.
	is.SignIn(&oidctest.User{Subject: "u-9", Email: "mallory@company.com"})
	u, _ = p.AuthURL("/", now)
	if c, _, err := p.Finish(ctx, authorize(t, u), now); err != nil || c.Email != "" || c.Subject != "u-9" {
		t.Errorf("unverified e-mail: %+v %v", c, err)
	}

	// A person who declines.
	is.SignIn(nil)
	u, _ = p.AuthURL("/", now)
	if _, _, err := p.Finish(ctx, authorize(t, u), now); err == nil || !strings.Contains(err.Error(), "access_denied") {
		t.Errorf("declined: %v", err)
	}

	// A sign-in that took too long.
	is.SignIn(&oidctest.User{Subject: "u-1"})
	u, _ = p.AuthURL("/", now)
	if _, _, err := p.Finish(ctx, authorize(t, u), now.Add(11*time.Minute)); !errors.Is(err, oidc.ErrBadCallback) {
		t.Errorf("expired: %v", err)
	}

	// A callback this server never started (forged state).
	forged := httptest.NewRequest(http.MethodGet, callback+"?code=x&state=forged", nil)
	if _, _, err := p.Finish(ctx, forged, now); !errors.Is(err, oidc.ErrBadCallback) {
		t.Errorf("forged state: %v", err)
	}
	if n := is.Refused["unknown, used or expired code"]; n != 0 {
		t.Errorf("the client sent %d bad codes", n)
	}
}

// A client with the wrong secret is refused by the provider, and the sign-in fails.
func TestWrongClientSecret(t *testing.T) {
	is := oidctest.Start(t, callback)
	ctx := context.Background()
	p, err := oidc.New(ctx, oidc.Config{Issuer: is.URL, ClientID: is.ClientID, ClientSecret: "wrong", RedirectURL: callback})
	if err != nil {
		t.Fatal(err)
	}
	is.SignIn(&oidctest.User{Subject: "u-1"})
	u, _ := p.AuthURL("/", time.Now())
	if _, _, err := p.Finish(ctx, authorize(t, u), time.Now()); err == nil || is.Refused["client authentication failed"] == 0 {
		t.Errorf("wrong secret: %v %v", err, is.Refused)
	}
}
