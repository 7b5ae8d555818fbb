// Package oidc signs people in to the dashboard with an OpenID Connect provider: the authorization
// code flow with PKCE (RFC 7636), a state and a nonce per attempt, and the ID token verified
// against the issuer's published keys (go-oidc). What it yields is who the person is (subject,
// e-mail, groups); what they may do is the policy's business.
package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Config is the dashboard's client registration at the provider.
type Config struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is the dashboard's callback, e.g. https://hugai.example.com:8443/login/oidc/callback.
	RedirectURL string
	// Scopes are asked besides openid (default: email, profile, groups).
	Scopes []string
	// GroupsClaim names the ID token's claim that lists the person's groups (default groups).
	GroupsClaim string
}

// Claims is who signed in.
type Claims struct {
	Subject string
	Email   string // only a verified address; "" otherwise
	Name    string
	Groups  []string
}

// attemptTTL bounds how long a sign-in may take between the redirect and the callback.
const attemptTTL = 10 * time.Minute

// Provider is a configured relying party.
type Provider struct {
	cfg      Config
	oauth    oauth2.Config
	verifier *gooidc.IDTokenVerifier

	mu       sync.Mutex
	attempts map[string]attempt // by state
}

type attempt struct {
	verifier, nonce, next string
	expires               time.Time
}

// New reads the issuer's discovery document.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, errors.New("oidc: issuer, client ID and redirect URL are required")
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	scopes := cfg.Scopes
	if scopes == nil {
		scopes = []string{"email", "profile", "groups"}
	}
	p, err := gooidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc: discover %s: %w", cfg.Issuer, err)
	}
	return &Provider{
		cfg: cfg,
		oauth: oauth2.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
			Endpoint: p.Endpoint(), Scopes: append([]string{gooidc.ScopeOpenID}, scopes...),
		},
		verifier: p.Verifier(&gooidc.Config{ClientID: cfg.ClientID}),
		attempts: map[string]attempt{},
	}, nil
}

// AuthURL starts a sign-in: the URL to send the browser to, and the state the callback must
// bring back. next is where the person goes once signed in.
func (p *Provider) AuthURL(next string, now time.Time) (string, string) {
	state, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
	p.mu.Lock()
	for s, a := range p.attempts {
		if now.After(a.expires) {
			delete(p.attempts, s)
		}
	}
	p.attempts[state] = attempt{verifier: verifier, nonce: nonce, next: next, expires: now.Add(attemptTTL)}
	p.mu.Unlock()
	return p.oauth.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), state
}

// ErrBadCallback is a callback that is not the end of a sign-in this server started.
var ErrBadCallback = errors.New("oidc: not a sign-in this server started, or one that expired")

// Finish completes a sign-in from the callback's request: the state is one this server issued
// (once), the code is exchanged with its PKCE verifier, and the ID token is verified (issuer,
// audience, expiry, signature, nonce). It returns who signed in and where they were going.
func (p *Provider) Finish(ctx context.Context, r *http.Request, now time.Time) (Claims, string, error) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return Claims{}, "", fmt.Errorf("oidc: the provider refused: %s %s", e, q.Get("error_description"))
	}
	state := q.Get("state")
	p.mu.Lock()
	a, ok := p.attempts[state]
	delete(p.attempts, state)
	p.mu.Unlock()
	if !ok || state == "" || now.After(a.expires) {
		return Claims{}, "", ErrBadCallback
	}
	tok, err := p.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(a.verifier))
	if err != nil {
		return Claims{}, "", fmt.Errorf("oidc: exchange the code: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return Claims{}, "", errors.New("oidc: the token answer has no id_token")
	}
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return Claims{}, "", fmt.Errorf("oidc: %w", err)
	}
	if idt.Nonce != a.nonce {
		return Claims{}, "", errors.New("oidc: the ID token's nonce is not this sign-in's")
	}
	var all map[string]any
	if err := idt.Claims(&all); err != nil {
		return Claims{}, "", fmt.Errorf("oidc: claims: %w", err)
	}
	c := Claims{Subject: idt.Subject}
	if v, _ := all["email_verified"].(bool); v {
		c.Email, _ = all["email"].(string)
	}
	c.Name, _ = all["name"].(string)
	if gs, ok := all[p.cfg.GroupsClaim].([]any); ok {
		for _, g := range gs {
			if s, ok := g.(string); ok {
				c.Groups = append(c.Groups, s)
			}
		}
	}
	return c, a.next, nil
}

func random() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}
