package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/policy"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/token"
)

// maxTokenBody bounds a token request: a few short strings.
const maxTokenBody = 4 << 10

func tokenView(t store.Token) api.Token {
	return api.Token{Name: t.Name, Subject: t.Subject, Role: t.Role, Environment: t.Environment, CreatedBy: t.CreatedBy,
		CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt, RevokedBy: t.RevokedBy}
}

// adminOver says why who may not manage a token scoped to env ("": all environments): they must
// be admin wherever the token reaches, so no one mints more than they hold.
func (g *guard) adminOver(r *http.Request, who policy.Identity, env, action string) (string, error) {
	if g.owner(r) {
		return "", nil
	}
	all, err := g.cfg.Policies()
	if err != nil {
		return "", err
	}
	scope := all
	if env != "" {
		scope = only(all, "", env)
		if len(scope) == 0 {
			return fmt.Sprintf("no environment %s is served", env), nil
		}
	}
	for _, rules := range scope {
		if d := rules.Require(who, policy.Admin, action); !d.Allowed {
			return d.Reason, nil
		}
	}
	return "", nil
}

func (g *guard) tokensOff(w http.ResponseWriter) bool {
	if g.cfg.Tokens == nil {
		writeError(w, http.StatusConflict, &api.Error{Code: api.CodeConflict, Message: "this server keeps no tokens"})
		return true
	}
	return false
}

func (g *guard) createToken(w http.ResponseWriter, r *http.Request) {
	if g.tokensOff(w) {
		return
	}
	who := Who(r.Context())
	req, role, lifetime, err := readCreateToken(http.MaxBytesReader(w, r.Body, maxTokenBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, badInput("%v", err))
		return
	}
	now := g.cfg.Now().UTC()
	t := store.Token{Name: req.Name, Subject: req.Subject, Role: role.String(), Environment: req.Environment, CreatedBy: who.Name, CreatedAt: now}
	if lifetime > 0 {
		exp := now.Add(lifetime)
		t.ExpiresAt = &exp
	}
	if reason, err := g.adminOver(r, who, req.Environment, "create a token"); err != nil {
		g.internal(w, "create token", err)
		return
	} else if reason != "" {
		g.refuse(w, r, who, http.StatusForbidden, policy.RuleRole, reason)
		return
	}
	secret, hash, err := token.New()
	if err != nil {
		g.internal(w, "create token", err)
		return
	}
	t.Hash = hash
	payload, _ := json.Marshal(map[string]any{"name": t.Name, "subject": t.Subject, "role": t.Role, "environment": t.Environment, "expiresAt": t.ExpiresAt, "auth": authPayload(who)})
	err = g.cfg.Tokens.CreateToken(r.Context(), t, []audit.Event{{Type: "token.created", Actor: who.Name, Time: now, Payload: payload}})
	if errors.Is(err, store.ErrConflict) {
		writeError(w, http.StatusConflict, &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf("a token named %s exists (revoked tokens keep their names)", t.Name)})
		return
	}
	if err != nil {
		g.internal(w, "create token", err)
		return
	}
	writeJSON(w, http.StatusCreated, api.CreatedToken{Token: tokenView(t), Secret: secret})
}

// readCreateToken reads and checks the body of POST /api/v1/tokens: the request (its subject
// defaulted to its name), its role, and its lifetime (0: never expires).
func readCreateToken(body io.Reader) (api.CreateToken, policy.Role, time.Duration, error) {
	var req api.CreateToken
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, policy.NoRole, 0, fmt.Errorf("request body: %w", err)
	}
	if dec.More() {
		return req, policy.NoRole, 0, errors.New("request body: more than one JSON value")
	}
	if req.Subject == "" {
		req.Subject = req.Name
	}
	if err := token.ValidName(req.Name); err != nil {
		return req, policy.NoRole, 0, err
	}
	role, err := policy.ParseRole(req.Role)
	if err != nil {
		return req, policy.NoRole, 0, err
	}
	if why := policy.ValidPrincipal(req.Subject); why != "" || strings.ContainsAny(req.Subject, ":*") {
		if why == "" {
			why = "is a principal, not a name"
		}
		return req, policy.NoRole, 0, fmt.Errorf("subject %q %s", req.Subject, why)
	}
	if req.Environment != "" && strings.TrimSpace(req.Environment) != req.Environment {
		return req, policy.NoRole, 0, fmt.Errorf("environment %q has spaces around it", req.Environment)
	}
	var lifetime time.Duration
	if req.Expires != "" {
		if lifetime, err = token.ParseLifetime(req.Expires); err != nil {
			return req, policy.NoRole, 0, err
		}
	}
	return req, role, lifetime, nil
}

func (g *guard) listTokens(w http.ResponseWriter, r *http.Request) {
	if g.tokensOff(w) {
		return
	}
	who := Who(r.Context())
	ts, err := g.cfg.Tokens.Tokens(r.Context())
	if err != nil {
		g.internal(w, "list tokens", err)
		return
	}
	out := []api.Token{}
	for _, t := range ts {
		// Each caller sees the tokens they could have made.
		if reason, err := g.adminOver(r, who, t.Environment, "list tokens"); err == nil && reason == "" {
			out = append(out, tokenView(t))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *guard) revokeToken(w http.ResponseWriter, r *http.Request) {
	if g.tokensOff(w) {
		return
	}
	who, name := Who(r.Context()), r.PathValue("name")
	ts, err := g.cfg.Tokens.Tokens(r.Context())
	if err != nil {
		g.internal(w, "revoke token", err)
		return
	}
	var found *store.Token
	for i := range ts {
		if ts[i].Name == name {
			found = &ts[i]
		}
	}
	if found == nil {
		writeError(w, http.StatusNotFound, &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("no token named %s", name)})
		return
	}
	if reason, err := g.adminOver(r, who, found.Environment, "revoke a token"); err != nil {
		g.internal(w, "revoke token", err)
		return
	} else if reason != "" {
		g.refuse(w, r, who, http.StatusForbidden, policy.RuleRole, reason)
		return
	}
	now := g.cfg.Now().UTC()
	payload, _ := json.Marshal(map[string]any{"name": name, "auth": authPayload(who)})
	t, err := g.cfg.Tokens.RevokeToken(r.Context(), name, who.Name, now, []audit.Event{{Type: "token.revoked", Actor: who.Name, Time: now, Payload: payload}})
	if errors.Is(err, store.ErrConflict) {
		writeError(w, http.StatusConflict, &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf("token %s is revoked already", name)})
		return
	}
	if err != nil {
		g.internal(w, "revoke token", err)
		return
	}
	writeJSON(w, http.StatusOK, tokenView(t))
}

func (g *guard) internal(w http.ResponseWriter, what string, err error) {
	g.cfg.Logf("%s: %v", what, err)
	writeError(w, http.StatusInternalServerError, &api.Error{Code: api.CodeInternal, Message: what + " failed"})
}

// authPayload is how who authenticated, as audit payloads record it.
func authPayload(who policy.Identity) map[string]any {
	a := map[string]any{"via": who.Via, "from": who.From}
	if who.Token != "" {
		a["token"] = who.Token
	}
	return a
}
