package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/dashboard"
	"github.com/hugai-dev/hugai/internal/policy"
)

// The dashboard's sign-in: a person signs in with an API token (or with the OIDC provider when
// the server has one) and gets a session cookie; the pages and the API calls the pages make are
// authenticated by it. A session signed in with a token is that token on every request, so a
// revoked or expired token ends it at once. Every request that changes something must carry the
// session's CSRF token in X-CSRF-Token (the page has it; another site cannot read it), and the
// cookie is SameSite=Strict and HttpOnly besides.

const (
	sessionCookie = "hugai_session"
	loginCookie   = "hugai_login" // the login form's CSRF token, before there is a session
	sessionTTL    = 12 * time.Hour
	// ViaOIDC is how a person signed in with the OIDC provider authenticated.
	ViaOIDC = "oidc"
)

type session struct {
	token   string          // the API token signed in with; "" for an OIDC sign-in
	who     policy.Identity // an OIDC sign-in's identity
	csrf    string
	expires time.Time
}

type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

func (ss *sessions) add(s *session, now time.Time) string {
	id := randomToken()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = map[string]*session{}
	}
	for k, v := range ss.m {
		if now.After(v.expires) {
			delete(ss.m, k)
		}
	}
	ss.m[id] = s
	return id
}

func (ss *sessions) get(id string, now time.Time) *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[id]
	if s == nil || now.After(s.expires) {
		return nil
	}
	return s
}

func (ss *sessions) drop(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, id)
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// isAPI says whether a path is the API's (and its probes), not the dashboard's.
func isAPI(path string) bool {
	return strings.HasPrefix(path, "/api/") || path == "/healthz" || path == "/readyz" || path == "/metrics"
}

// cookieSession is the session a request's cookie names, if any (never on the unix socket,
// where the peer is who it is).
func (g *guard) cookieSession(r *http.Request) (*session, string) {
	if _, unix := r.Context().Value(peerKey{}).(uint32); unix || r.Header.Get("Authorization") != "" {
		return nil, ""
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, ""
	}
	return g.sessions.get(c.Value, g.cfg.Now()), c.Value
}

// sessionIdentity authenticates a request by its session cookie: ok is false when it has none.
func (g *guard) sessionIdentity(r *http.Request) (who policy.Identity, why string, ok bool) {
	if _, err := r.Cookie(sessionCookie); err != nil || r.Header.Get("Authorization") != "" {
		return policy.Identity{}, "", false
	}
	if _, unix := r.Context().Value(peerKey{}).(uint32); unix {
		return policy.Identity{}, "", false
	}
	s, _ := g.cookieSession(r)
	if s == nil {
		return policy.Identity{From: r.RemoteAddr}, "unknown or expired session: sign in again", true
	}
	if s.token != "" {
		who, why := g.authToken(r.Context(), s.token, r.RemoteAddr)
		return who, why, true
	}
	who = s.who
	who.From = r.RemoteAddr
	return who, "", true
}

// csrfOK says whether an unsafe request authenticated by a session carries its CSRF token.
func (g *guard) csrfOK(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	s, _ := g.cookieSession(r)
	if s == nil {
		return true // not a session: a bearer token or the socket, which no other site can send
	}
	got := r.Header.Get("X-CSRF-Token")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

// viewer is the dashboard's view of a request's caller.
func (g *guard) viewer(r *http.Request) (dashboard.Viewer, bool) {
	who, why := g.authenticate(r)
	if why != "" || who.Name == "" {
		return dashboard.Viewer{}, false
	}
	all, err := g.cfg.Policies()
	if err != nil {
		g.cfg.Logf("dashboard: policies: %v", err)
		return dashboard.Viewer{}, false
	}
	best := policy.NoRole
	for _, rules := range all {
		if role, _ := rules.RoleOf(who); role > best {
			best = role
		}
	}
	if best == policy.NoRole {
		return dashboard.Viewer{}, false
	}
	v := dashboard.Viewer{Subject: who.Name, Role: best.String(),
		Can: func(ro api.Rollout, kind string) bool {
			need := policy.Deployer
			if kind == "approve" || kind == "reject" {
				need = policy.Approver
			}
			for _, rules := range only(all, ro.Service, ro.Environment) {
				return rules.Require(who, need, kind).Allowed
			}
			return false
		}}
	if s, _ := g.cookieSession(r); s != nil {
		v.CSRF = s.csrf
	}
	return v, true
}

// web serves the dashboard and its sign-in.
func (g *guard) web() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", g.loginPage)
	mux.HandleFunc("POST /login", g.login)
	mux.HandleFunc("POST /logout", g.logout)
	if g.cfg.OIDC != nil {
		mux.HandleFunc("GET /login/oidc", g.oidcStart)
		mux.HandleFunc("GET /login/oidc/callback", g.oidcCallback)
	}
	d, err := dashboard.New(g.cfg.Engine, dashboard.Options{Who: g.viewer, Login: mux, Logf: g.cfg.Logf})
	if err != nil {
		g.cfg.Logf("dashboard: %v", err)
		return mux
	}
	return d
}

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · hugai</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body><header><span class="brand">hugai</span></header><main>
<form class="login" method="post" action="/login">
<h1>Sign in</h1>
{{if .Error}}<p class="bad" id="login-error">{{.Error}}</p>{{end}}
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="off" placeholder="hugai_…" required>
<input type="hidden" name="next" value="{{.Next}}">
<input type="hidden" name="login_csrf" value="{{.CSRF}}">
<button type="submit">Sign in</button>
{{if .OIDC}}<p>or <a id="oidc" href="/login/oidc?next={{.Next}}">sign in with your organisation's account</a></p>{{end}}
</form></main></body></html>`))

func (g *guard) renderLogin(w http.ResponseWriter, r *http.Request, status int, next, msg string) {
	csrf := randomToken()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: csrf, Path: "/login", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: 600})
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'")
	w.WriteHeader(status)
	_ = loginTmpl.Execute(w, struct {
		Next, CSRF, Error string
		OIDC              bool
	}{next, csrf, msg, g.cfg.OIDC != nil})
}

// localNext keeps a redirect after sign-in on this server.
func localNext(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") {
		return "/"
	}
	return s
}

func (g *guard) loginPage(w http.ResponseWriter, r *http.Request) {
	g.renderLogin(w, r, http.StatusOK, localNext(r.URL.Query().Get("next")), "")
}

func (g *guard) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		g.renderLogin(w, r, http.StatusBadRequest, "/", "the form could not be read")
		return
	}
	next := localNext(r.PostForm.Get("next"))
	c, err := r.Cookie(loginCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get("login_csrf"))) != 1 {
		g.renderLogin(w, r, http.StatusForbidden, next, "the sign-in form expired: try again")
		return
	}
	tok := strings.TrimSpace(r.PostForm.Get("token"))
	who, why := g.authToken(r.Context(), tok, r.RemoteAddr)
	if why != "" {
		g.refuseQuietly(r, who, http.StatusUnauthorized, "sign in: "+why)
		// The same words whatever was wrong, as the API's 401.
		g.renderLogin(w, r, http.StatusUnauthorized, next, "That token is not valid (unknown, revoked or expired).")
		return
	}
	g.startSession(w, r, &session{token: tok}, who, next)
}

func (g *guard) startSession(w http.ResponseWriter, r *http.Request, s *session, who policy.Identity, next string) {
	now := g.cfg.Now()
	s.csrf = randomToken()
	s.expires = now.Add(sessionTTL)
	id := g.sessions.add(s, now)
	if g.cfg.Audit != nil {
		payload, _ := json.Marshal(map[string]any{"auth": authPayload(who)})
		if err := g.cfg.Audit(r.Context(), audit.Event{Subject: "session", Type: "session.started", Actor: who.Name, Time: now.UTC(), Payload: payload}); err != nil {
			g.sessions.drop(id)
			g.cfg.Logf("audit a sign-in: %v", err)
			http.Error(w, "the sign-in could not be audited", http.StatusInternalServerError)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, Expires: s.expires})
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/login", MaxAge: -1})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (g *guard) logout(w http.ResponseWriter, r *http.Request) {
	s, id := g.cookieSession(r)
	if s != nil {
		_ = r.ParseForm()
		if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(s.csrf)) != 1 {
			http.Error(w, "missing or wrong CSRF token", http.StatusForbidden)
			return
		}
		g.sessions.drop(id)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (g *guard) oidcStart(w http.ResponseWriter, r *http.Request) {
	u, _ := g.cfg.OIDC.AuthURL(localNext(r.URL.Query().Get("next")), g.cfg.Now())
	http.Redirect(w, r, u, http.StatusFound)
}

func (g *guard) oidcCallback(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	c, next, err := g.cfg.OIDC.Finish(ctx, r, g.cfg.Now())
	if err != nil {
		g.refuseQuietly(r, policy.Identity{Via: ViaOIDC, From: r.RemoteAddr}, http.StatusUnauthorized, "sign in: "+err.Error())
		g.renderLogin(w, r, http.StatusUnauthorized, "/", "The sign-in with your organisation's account failed; the server's audit log says why.")
		return
	}
	who := policy.Identity{Name: c.Email, Email: c.Email, Groups: c.Groups, Via: ViaOIDC, From: r.RemoteAddr}
	if who.Name == "" {
		who.Name = "oidc:" + c.Subject // no verified address: known by the provider's subject only
	}
	g.startSession(w, r, &session{who: who}, who, localNext(next))
}

// refuseQuietly audits a refused sign-in without answering (the caller renders the page).
func (g *guard) refuseQuietly(r *http.Request, who policy.Identity, status int, reason string) {
	if g.cfg.Audit == nil {
		return
	}
	payload, _ := json.Marshal(map[string]any{"method": r.Method, "path": r.URL.Path, "status": status, "reason": reason, "auth": authPayload(who)})
	actor := who.Name
	if actor == "" {
		actor = "anonymous"
	}
	if err := g.cfg.Audit(r.Context(), audit.Event{Subject: "session", Type: "auth.refused", Actor: actor, Time: g.cfg.Now().UTC(), Payload: payload}); err != nil {
		g.cfg.Logf("audit a refused sign-in: %v", err)
	}
}
