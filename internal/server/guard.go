package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/policy"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/token"
)

// GuardConfig is what the authentication and authorization layer needs.
type GuardConfig struct {
	// Engine finds the environment of a rollout named in a path.
	Engine Engine
	// Policies are the rules of every environment served (engine.Policies).
	Policies func() ([]policy.Rules, error)
	// Tokens verifies bearer tokens and keeps them (the token routes); nil accepts none.
	Tokens store.TokenStore
	// Audit records every refusal; a refusal that cannot be recorded is answered 500.
	Audit func(ctx context.Context, e audit.Event) error
	// Users completes a unix peer's identity (its e-mail, more groups: `hugai server --users`).
	Users func(policy.Identity) policy.Identity
	// Owner is the uid of the server's OS user; on the socket, without a token, it may call
	// Operator routes. nil: no one may that way.
	Owner *uint32
	Now   func() time.Time
	Logf  func(format string, args ...any)
}

// guard authenticates each request, checks its route's declared role (RouteRoles) and hands the
// identity on to the API, which passes it to the engine.
type guard struct {
	cfg    GuardConfig
	api    *handler
	tokens *http.ServeMux
}

// identityKey keys the authenticated identity in a request's context.
type identityKey struct{}

// Guard wraps an API handler from New: every request is authenticated (the unix peer, or a
// bearer token, which TCP requires) and authorized by RouteRoles before the API sees it, and the
// token routes are served here. Refusals are 401/403 with a JSON error, and audited.
func Guard(h http.Handler, cfg GuardConfig) http.Handler {
	inner, ok := h.(*handler)
	if !ok {
		panic("server.Guard: want the handler New returns")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	g := &guard{cfg: cfg, api: inner, tokens: http.NewServeMux()}
	g.tokens.HandleFunc("GET /api/v1/tokens", g.listTokens)
	g.tokens.HandleFunc("POST /api/v1/tokens", g.createToken)
	g.tokens.HandleFunc("DELETE /api/v1/tokens/{name}", g.revokeToken)
	return g
}

// endWaits lets HTTPServer end the API's long polls on shutdown through the guard.
func (g *guard) endWaits() { g.api.endWaits() }

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	next := http.Handler(g.api.mux)
	_, pattern := g.tokens.Handler(r)
	if pattern != "" {
		next = g.tokens
	} else {
		_, pattern = g.api.mux.Handler(r)
	}
	route, declared := RouteRoles[pattern]
	if declared && route.Public {
		next.ServeHTTP(w, r)
		return
	}
	who, why := g.authenticate(r)
	if why != "" {
		g.refuse(w, r, who, http.StatusUnauthorized, "authenticate", why)
		return
	}
	if !declared {
		g.cfg.Logf("route %q declares no role in server.RouteRoles: refused", pattern)
		g.refuse(w, r, who, http.StatusForbidden, policy.RuleRole, "this route is closed: it declares no role")
		return
	}
	if route.Operator && g.owner(r) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, who)))
		return
	}
	if reason, err := g.authorize(r, who, route); err != nil {
		g.cfg.Logf("authorize %s %s: %v", r.Method, r.URL.Path, err)
		writeError(w, http.StatusInternalServerError, &api.Error{Code: api.CodeInternal, Message: "authorization failed"})
		return
	} else if reason != "" {
		g.refuse(w, r, who, http.StatusForbidden, policy.RuleRole, reason)
		return
	}
	next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, who)))
}

// owner reports whether r comes from the server's own OS user on the socket, without a token.
func (g *guard) owner(r *http.Request) bool {
	uid, unix := r.Context().Value(peerKey{}).(uint32)
	return unix && g.cfg.Owner != nil && uid == *g.cfg.Owner && r.Header.Get("Authorization") == ""
}

// authenticate names the caller, or says (for the audit only) why it cannot.
func (g *guard) authenticate(r *http.Request) (policy.Identity, string) {
	_, unix := r.Context().Value(peerKey{}).(uint32)
	from := r.RemoteAddr
	var peer policy.Identity
	if unix {
		peer = Who(r.Context())
		if g.cfg.Users != nil {
			peer = g.cfg.Users(peer)
		}
		from = peer.From
	}
	tok, err := token.FromHeader(r.Header.Get("Authorization"))
	switch {
	case err != nil:
		return policy.Identity{Via: policy.ViaToken, From: from}, "malformed Authorization header"
	case tok == "" && unix:
		return peer, ""
	case tok == "":
		return policy.Identity{From: from}, "no bearer token (required on TCP)"
	case g.cfg.Tokens == nil:
		return policy.Identity{Via: policy.ViaToken, From: from}, "this server accepts no tokens"
	}
	hash, _ := token.HashOf(tok)
	t, err := g.cfg.Tokens.TokenByHash(r.Context(), hash)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			g.cfg.Logf("read token: %v", err)
		}
		return policy.Identity{Via: policy.ViaToken, From: from}, "unknown token"
	}
	role, err := policy.ParseRole(t.Role)
	if err != nil {
		return policy.Identity{Via: policy.ViaToken, From: from, Token: t.Name}, "token has an unknown role"
	}
	who := policy.Identity{Name: t.Subject, Via: policy.ViaToken, From: from, Token: t.Name, Ceiling: role, Environment: t.Environment}
	now := g.cfg.Now()
	switch {
	case t.RevokedAt != nil:
		return who, "revoked token"
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return who, "expired token"
	}
	return who, ""
}

// authorize says why who may not call route with r ("": they may).
func (g *guard) authorize(r *http.Request, who policy.Identity, route Route) (string, error) {
	if route.Role == policy.NoRole {
		return "", nil
	}
	all, err := g.cfg.Policies()
	if err != nil {
		return "", err
	}
	action := r.Method + " " + r.URL.Path
	scope := all
	if p := pattern(r, g); strings.Contains(p, "/api/v1/rollouts/{id}") {
		id := pathValue(p, r.URL.Path, "id")
		ro, err := g.cfg.Engine.Get(r.Context(), id)
		var ae *api.Error
		switch {
		case errors.As(err, &ae) && ae.Code == api.CodeNotFound:
			// Only those who may call the route somewhere learn that the rollout does not exist.
			return g.anywhere(all, who, route.Role, action), nil
		case err != nil:
			return "", err
		}
		scope = only(all, ro.Service, ro.Environment)
	} else if env := r.URL.Query().Get("environment"); env != "" {
		scope = only(all, r.URL.Query().Get("service"), env)
	} else if route.Listing {
		// A list without an environment shows every environment: its caller must be allowed in
		// each. A token for one environment lists that one.
		if who.Environment != "" {
			q := r.URL.Query()
			q.Set("environment", who.Environment)
			r.URL.RawQuery = q.Encode()
			scope = only(all, q.Get("service"), who.Environment)
		} else {
			route.Everywhere = true
		}
	}
	if len(scope) == 0 {
		return g.anywhere(all, who, route.Role, action), nil
	}
	if route.Everywhere || len(scope) < len(all) {
		for _, rules := range scope {
			if d := rules.Require(who, route.Role, action); !d.Allowed {
				return d.Reason, nil
			}
		}
		return "", nil
	}
	return g.anywhere(all, who, route.Role, action), nil
}

// anywhere allows who if they hold need in at least one environment.
func (g *guard) anywhere(all []policy.Rules, who policy.Identity, need policy.Role, action string) string {
	var first string
	for _, rules := range all {
		d := rules.Require(who, need, action)
		if d.Allowed {
			return ""
		}
		if first == "" {
			first = d.Reason
		}
	}
	if first == "" {
		return fmt.Sprintf("%s may not %s: no environment is served", orUnknownName(who), action)
	}
	return first
}

func only(all []policy.Rules, service, env string) []policy.Rules {
	return slices.DeleteFunc(slices.Clone(all), func(r policy.Rules) bool {
		return r.Environment != env || (service != "" && r.Service != service)
	})
}

func orUnknownName(who policy.Identity) string {
	if who.Name == "" {
		return "an anonymous caller"
	}
	return who.Name
}

// refuse answers 401 or 403 and audits it. The answer says no more than the caller may know:
// a 401 never says whether a token exists, expired or was revoked (the audit does).
func (g *guard) refuse(w http.ResponseWriter, r *http.Request, who policy.Identity, status int, rule, reason string) {
	auth := map[string]any{"via": who.Via, "from": who.From}
	if who.Via == "" {
		auth["via"] = "none"
	}
	if who.Token != "" {
		auth["token"] = who.Token
	}
	typ := "policy.denied"
	if status == http.StatusUnauthorized {
		typ = "auth.refused"
	}
	payload, _ := json.Marshal(map[string]any{"method": r.Method, "path": r.URL.Path, "status": status, "rule": rule, "reason": reason, "auth": auth})
	actor := who.Name
	if actor == "" {
		actor = "anonymous"
	}
	ev := audit.Event{Subject: "api", Type: typ, Actor: actor, Time: g.cfg.Now().UTC(), Payload: payload}
	if g.cfg.Audit != nil {
		if err := g.cfg.Audit(r.Context(), ev); err != nil {
			g.cfg.Logf("audit a refusal: %v", err)
			writeError(w, http.StatusInternalServerError, &api.Error{Code: api.CodeInternal, Message: "the refusal could not be audited"})
			return
		}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hugai"`)
		writeError(w, status, &api.Error{Code: api.CodeUnauthenticated, Message: "authentication required: a valid bearer token (Authorization: Bearer hugai_…)"})
		return
	}
	writeError(w, status, &api.Error{Code: api.CodeDenied, Message: "denied by " + rule + ": " + strings.TrimSpace(reason)})
}

// pattern is the pattern of the route r goes to.
func pattern(r *http.Request, g *guard) string {
	if _, p := g.tokens.Handler(r); p != "" {
		return p
	}
	_, p := g.api.mux.Handler(r)
	return p
}

// pathValue is the path segment a pattern's {name} wildcard matches: the guard runs before the
// mux, which sets r.PathValue only for the handler it calls.
func pathValue(pattern, path, name string) string {
	if _, p, ok := strings.Cut(pattern, " "); ok {
		pattern = p
	}
	ps, segs := strings.Split(pattern, "/"), strings.Split(path, "/")
	for i, p := range ps {
		if p == "{"+name+"}" && i < len(segs) {
			if v, err := url.PathUnescape(segs[i]); err == nil {
				return v
			}
			return segs[i]
		}
	}
	return ""
}

// identityOf is the authenticated identity the guard put in the request's context, if any.
func identityOf(ctx context.Context) (policy.Identity, bool) {
	who, ok := ctx.Value(identityKey{}).(policy.Identity)
	return who, ok
}
