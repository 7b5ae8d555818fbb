package server_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/oidc"
	"github.com/hugai-dev/hugai/internal/oidc/oidctest"
	"github.com/hugai-dev/hugai/internal/server"
	"github.com/hugai-dev/hugai/internal/server/servertest"
	"github.com/hugai-dev/hugai/internal/store"
)

// A person signs in to the dashboard with the organisation's OpenID Connect provider (a
// spec-following issuer run by the test): the provider's verified e-mail and groups are who they
// are to the policy, so carol, an approver by her e-mail, may approve, and mallory, whose address
// the provider has not verified, is known by her subject only and holds no role.
func TestDashboardSignInWithOIDC(t *testing.T) {
	yaml := strings.Replace(governedYAML, "approver: [ann, ari]", "approver: [ann, ari, carol@company.com]", 1)
	h := servertest.NewHarness(t, yaml)
	ln, _, err := server.ListenTCP(server.TCPOptions{Addr: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + ln.Addr().String()
	is := oidctest.Start(t, base+"/login/oidc/callback")
	ctx := context.Background()
	p, err := oidc.New(ctx, oidc.Config{Issuer: is.URL, ClientID: is.ClientID, ClientSecret: is.ClientSecret, RedirectURL: base + "/login/oidc/callback"})
	if err != nil {
		t.Fatal(err)
	}
	ts := h.Store.(store.TokenStore)
	guarded := server.Guard(server.New(h.Recorder, server.Options{Logf: t.Logf}), server.GuardConfig{
		Engine: h.Recorder, Policies: h.Engine.Policies, Tokens: ts, Logf: t.Logf, OIDC: p,
		Audit: func(ctx context.Context, e audit.Event) error {
			_, err := h.Store.Commit(ctx, store.Tx{Events: []audit.Event{e}})
			return err
		},
	})
	hs := server.HTTPServer(guarded)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { hs.Close() })

	r := h.Begin("dan", api.StartRequest{Plan: []byte(servertest.Plan("", "production")), Version: "v1", RequireApproval: true})
	h.WaitFor(r.ID, "the approval gate", servertest.Phase("AwaitingApproval"))

	// A browser: cookies kept, redirects followed across the server and the provider.
	newBrowser := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Jar: jar, Transport: tr, Timeout: 10 * time.Second}
	}
	get := func(c *http.Client, path string) (int, string) {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String()
	}

	is.SignIn(&oidctest.User{Subject: "u-carol", Email: "carol@company.com", EmailVerified: true, Groups: []string{"sre"}})
	carol := newBrowser()
	if code, page := get(carol, "/login"); code != 200 || !strings.Contains(page, `href="/login/oidc`) {
		t.Fatalf("the login page offers no OIDC sign-in: %d", code)
	}
	code, page := get(carol, "/login/oidc?next=/rollouts/"+r.ID)
	if code != 200 || !strings.Contains(page, "carol@company.com") || !strings.Contains(page, `data-kind="approve"`) {
		t.Fatalf("after the OIDC sign-in: %d, approve offered %t\n%.400s", code, strings.Contains(page, `data-kind="approve"`), page)
	}
	if code, _ := get(carol, "/api/v1/rollouts/"+r.ID); code != 200 {
		t.Errorf("the API with the OIDC session: %d", code)
	}

	is.SignIn(&oidctest.User{Subject: "u-mallory", Email: "carol@company.com", EmailVerified: false})
	mallory := newBrowser()
	if code, page := get(mallory, "/login/oidc?next=/"); code != 200 || !strings.Contains(page, "Sign in") {
		t.Errorf("an unverified address holds no role, so no page: %d %.200s", code, page)
	}
	is.SignIn(nil)
	if code, page := get(newBrowser(), "/login/oidc?next=/"); code != http.StatusUnauthorized || !strings.Contains(page, "failed") {
		t.Errorf("a declined sign-in: %d %.200s", code, page)
	}

	evs, err := h.Store.Events(ctx, store.EventFilter{Subject: "session"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Type+" "+e.Actor)
	}
	want := []string{"session.started carol@company.com", "session.started oidc:u-mallory", "auth.refused anonymous"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("audit %v, want %v", got, want)
	}
}
