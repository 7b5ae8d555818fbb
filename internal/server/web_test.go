package server_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/server/servertest"
	"github.com/hugai-dev/hugai/internal/store"
)

// browserish is an HTTP client with a cookie jar that does not follow redirects, as a test of
// what a browser would be sent.
type browserish struct {
	t  *testing.T
	s  *tcpServer
	hc *http.Client
}

func newBrowserish(t *testing.T, s *tcpServer) *browserish {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	t.Cleanup(tr.CloseIdleConnections)
	return &browserish{t: t, s: s, hc: &http.Client{Jar: jar, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browserish) do(method, path string, body io.Reader, hdr ...string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.s.url+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

var loginCSRF = regexp.MustCompile(`name="login_csrf" value="([^"]+)"`)
var pageCSRF = regexp.MustCompile(`data-csrf="([^"]+)"`)

// signIn goes through the login page with caller's token and returns the dashboard's CSRF token.
func (b *browserish) signIn(caller, next string) (*http.Response, string) {
	b.t.Helper()
	_, page := b.do("GET", "/login?next="+url.QueryEscape(next), nil)
	m := loginCSRF.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no login form: %.300s", page)
	}
	form := url.Values{"token": {b.s.secrets[caller]}, "next": {next}, "login_csrf": {m[1]}}
	return b.do("POST", "/login", strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
}

// The dashboard's sign-in: a token gives a session cookie (HttpOnly, Secure, SameSite=Strict); the
// session is that token on every request (a revoked token ends it); a change made with it needs
// the page's CSRF token; a viewer's session is refused a command even with it.
func TestDashboardSessions(t *testing.T) {
	s := newTCPServer(t)
	r := s.h.Begin("dan", api.StartRequest{Plan: []byte(servertest.Plan("", "production")), Version: "v1", RequireApproval: true})
	s.h.WaitFor(r.ID, "the approval gate", servertest.Phase("AwaitingApproval"))

	anon := newBrowserish(t, s)
	if resp, _ := anon.do("GET", "/rollouts/"+r.ID, nil); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
		t.Fatalf("anonymous page: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := anon.do("GET", "/static/app.js", nil); resp.StatusCode != 200 {
		t.Errorf("static files: %d", resp.StatusCode)
	}
	// A wrong token, and a form posted without the login page's CSRF token.
	bad := newBrowserish(t, s)
	s.secrets["nobody"] = "hugai_" + strings.Repeat("x", 43)
	if resp, page := bad.signIn("nobody", "/"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "not valid") {
		t.Errorf("wrong token: %d %.200s", resp.StatusCode, page)
	}
	form := url.Values{"token": {s.secrets["viewer"]}, "next": {"/"}}
	if resp, _ := newBrowserish(t, s).do("POST", "/login", strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("login without its CSRF token: %d", resp.StatusCode)
	}

	viewer := newBrowserish(t, s)
	resp, _ := viewer.signIn("viewer", "/rollouts/"+r.ID)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/rollouts/"+r.ID {
		t.Fatalf("sign in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	ck := resp.Cookies()
	if len(ck) == 0 || ck[0].Name != "hugai_session" || !ck[0].HttpOnly || !ck[0].Secure || ck[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie: %+v", ck)
	}
	resp, page := viewer.do("GET", "/rollouts/"+r.ID, nil)
	if resp.StatusCode != 200 || !strings.Contains(page, "vic") || strings.Contains(page, `data-kind="approve"`) {
		t.Fatalf("the viewer's page: %d (approve offered: %t)", resp.StatusCode, strings.Contains(page, `data-kind="approve"`))
	}
	csrf := pageCSRF.FindStringSubmatch(page)[1]
	if resp, _ := viewer.do("GET", "/api/v1/rollouts/"+r.ID, nil); resp.StatusCode != 200 {
		t.Errorf("the API with the session: %d", resp.StatusCode)
	}
	approve := `{"kind":"approve","comment":"forged"}`
	if resp, body := viewer.do("POST", "/api/v1/rollouts/"+r.ID+"/commands", strings.NewReader(approve), "Content-Type", "application/json"); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "csrf") {
		t.Errorf("a command without the CSRF token: %d %s", resp.StatusCode, body)
	}
	if resp, body := viewer.do("POST", "/api/v1/rollouts/"+r.ID+"/commands", strings.NewReader(approve), "Content-Type", "application/json", "X-CSRF-Token", csrf); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "holds viewer") {
		t.Errorf("a viewer's forged approval: %d %s", resp.StatusCode, body)
	}

	approver := newBrowserish(t, s)
	approver.signIn("approver", "/")
	_, page = approver.do("GET", "/rollouts/"+r.ID, nil)
	if !strings.Contains(page, `data-kind="approve"`) {
		t.Fatal("the approver is not offered approve")
	}
	csrf = pageCSRF.FindStringSubmatch(page)[1]
	if resp, body := approver.do("POST", "/api/v1/rollouts/"+r.ID+"/commands", strings.NewReader(`{"kind":"approve","comment":"ok"}`), "Content-Type", "application/json", "X-CSRF-Token", csrf); resp.StatusCode != 200 {
		t.Fatalf("the approver's approval: %d %s", resp.StatusCode, body)
	}
	aps, err := s.h.Engine.Approvals(context.Background(), r.ID)
	if err != nil || len(aps) != 1 || aps[0].Actor != "ann" {
		t.Errorf("approvals: %+v %v", aps, err)
	}

	// Revoking the token ends the session signed in with it.
	if _, err := s.tokens.RevokeToken(context.Background(), "approver", "test", time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if resp, _ := approver.do("GET", "/api/v1/rollouts/"+r.ID, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a revoked token's session: %d", resp.StatusCode)
	}
	if resp, _ := approver.do("GET", "/", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a revoked token's session on a page: %d", resp.StatusCode)
	}
	// Signing out needs the CSRF token, and ends the session.
	if resp, _ := viewer.do("POST", "/logout", strings.NewReader("csrf=nope"), "Content-Type", "application/x-www-form-urlencoded"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout without CSRF: %d", resp.StatusCode)
	}
	_, vpage := viewer.do("GET", "/rollouts/"+r.ID, nil)
	if resp, _ := viewer.do("POST", "/logout", strings.NewReader("csrf="+url.QueryEscape(pageCSRF.FindStringSubmatch(vpage)[1])), "Content-Type", "application/x-www-form-urlencoded"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("logout: %d", resp.StatusCode)
	}
	if resp, _ := viewer.do("GET", "/rollouts/"+r.ID, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout: %d", resp.StatusCode)
	}

	evs, err := s.h.Store.Events(context.Background(), store.EventFilter{Subject: "session"})
	if err != nil {
		t.Fatal(err)
	}
	var started, refused int
	for _, e := range evs {
		switch e.Type {
		case "session.started":
			started++
		case "auth.refused":
			refused++
		}
	}
	if started != 2 || refused != 1 {
		t.Errorf("audit: %d sign-ins, %d refused; want 2 and 1: %v", started, refused, types(evs))
	}
}

func types(evs []audit.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type+" by "+e.Actor)
	}
	return out
}
