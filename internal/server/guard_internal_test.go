package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/policy"
)

// A route the API gains without declaring its role in RouteRoles is refused to everyone, admins
// included: the layer fails closed.
func TestUndeclaredRouteIsClosed(t *testing.T) {
	h := New(nil, Options{}).(*handler)
	h.mux.HandleFunc("GET /api/v1/secrets", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("leaked")) })
	var audited []audit.Event
	g := Guard(h, GuardConfig{
		Policies: func() ([]policy.Rules, error) { return []policy.Rules{{Environment: "production"}}, nil }, // open: everyone is admin
		Audit:    func(_ context.Context, e audit.Event) error { audited = append(audited, e); return nil },
	})
	req := httptest.NewRequest("GET", "/api/v1/secrets", nil)
	req = req.WithContext(context.WithValue(req.Context(), peerKey{}, uint32(os.Getuid())))
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	var e api.Error
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	if rec.Code != http.StatusForbidden || e.Code != api.CodeDenied || strings.Contains(rec.Body.String(), "leaked") {
		t.Fatalf("an undeclared route: %d %s", rec.Code, rec.Body)
	}
	if len(audited) != 1 || audited[0].Type != "policy.denied" {
		t.Fatalf("the refusal was not audited: %+v", audited)
	}
}

// A refusal that cannot be audited is not answered as a refusal: the audit is the point.
func TestRefusalWithoutAuditIsAnError(t *testing.T) {
	h := New(nil, Options{}).(*handler)
	g := Guard(h, GuardConfig{
		Policies: func() ([]policy.Rules, error) { return nil, nil },
		Audit:    func(context.Context, audit.Event) error { return os.ErrPermission },
	})
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/info", nil)) // TCP, no token
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

func TestPathValue(t *testing.T) {
	for _, tc := range []struct{ pattern, path, want string }{
		{"GET /api/v1/rollouts/{id}", "/api/v1/rollouts/demo-7", "demo-7"},
		{"POST /api/v1/rollouts/{id}/commands", "/api/v1/rollouts/demo%2F7/commands", "demo/7"},
		{"GET /api/v1/info", "/api/v1/info", ""},
		{"/", "/x", ""},
	} {
		if got := pathValue(tc.pattern, tc.path, "id"); got != tc.want {
			t.Errorf("pathValue(%q, %q) = %q, want %q", tc.pattern, tc.path, got, tc.want)
		}
	}
}

func TestParseUsers(t *testing.T) {
	m, err := ParseUsers([]byte("alice: {email: alice@company.com, groups: [production-team@company.com]}\nroot: {name: ops-root}\n"))
	if err != nil {
		t.Fatal(err)
	}
	id := MapUsers(m)(policy.Identity{Name: "alice", Groups: []string{"alice"}, Via: policy.ViaUnix})
	if id.Email != "alice@company.com" || len(id.Groups) != 2 || !policy.Matches("production-team@company.com", id) {
		t.Fatalf("alice: %+v", id)
	}
	if id := MapUsers(m)(policy.Identity{Name: "root"}); id.Name != "ops-root" || policy.Matches("root", id) {
		t.Fatalf("root: %+v", id)
	}
	for _, bad := range []string{"alice: {nmae: x}", "alice: {name: \"group:x\"}", "alice: {name: \"*\"}", "[1, 2]"} {
		if _, err := ParseUsers([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzParseUsers: whatever the users file holds, reading it never panics, and what it accepts
// names no one by a prefix or *.
func FuzzParseUsers(f *testing.F) {
	for _, s := range []string{"alice: {email: a@b.c}", "root: {name: ops}", "x: {groups: [a, b]}", "", "- 1", "a: {name: \"user:x\"}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseUsers([]byte(s))
		if err != nil {
			return
		}
		for k, u := range m {
			if strings.ContainsAny(u.Name, ":*") {
				t.Fatalf("%s: name %q accepted", k, u.Name)
			}
		}
	})
}

func TestReadCreateToken(t *testing.T) {
	req, role, life, err := readCreateToken(strings.NewReader(`{"name":"ci","role":"deployer","environment":"production","expires":"90d"}`))
	if err != nil || req.Subject != "ci" || role != policy.Deployer || life.Hours() != 90*24 {
		t.Fatalf("%+v %v %v %v", req, role, life, err)
	}
	for _, bad := range []string{
		`{"name":"ci","role":"owner"}`, `{"name":"a b","role":"viewer"}`, `{"name":"ci","role":"viewer","subject":"token:x"}`,
		`{"name":"ci","role":"viewer","expires":"0d"}`, `{"name":"ci","role":"viewer","extra":1}`, `{"name":"ci","role":"viewer"} {}`, `[`,
	} {
		if _, _, _, err := readCreateToken(strings.NewReader(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// FuzzCreateTokenBody: any body of POST /api/v1/tokens is read without a panic, and what is
// accepted is a token a policy can name: a plain name, a known role, a positive lifetime.
func FuzzCreateTokenBody(f *testing.F) {
	for _, s := range []string{`{"name":"ci","role":"deployer"}`, `{"name":"ci","role":"admin","environment":"production","expires":"90d","subject":"ci-bot"}`, `{}`, `null`, `{"name":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, role, life, err := readCreateToken(strings.NewReader(body))
		if err != nil {
			return
		}
		if role < policy.Viewer || life < 0 || req.Subject == "" || strings.ContainsAny(req.Subject, ":*") {
			t.Fatalf("accepted %q as %+v %v %v", body, req, role, life)
		}
	})
}

// The server's owner may stop it on the socket even where no policy makes them admin; another
// OS user may not, and neither may the owner's token, which is judged by its subject's roles.
func TestOwnerMayStopTheServer(t *testing.T) {
	stopped := make(chan bool, 1)
	h := New(nil, Options{Shutdown: func(all bool) { stopped <- all }}).(*handler)
	me := uint32(os.Getuid())
	closed := []policy.Rules{{Environment: "production", Approvers: []string{"someone"}}} // no admin anywhere
	g := Guard(h, GuardConfig{Owner: &me,
		Policies: func() ([]policy.Rules, error) { return closed, nil },
		Audit:    func(context.Context, audit.Event) error { return nil },
	})
	call := func(uid uint32) int {
		req := httptest.NewRequest("POST", "/api/v1/shutdown", strings.NewReader(`{"all":false}`))
		req = req.WithContext(context.WithValue(req.Context(), peerKey{}, uid))
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := call(me + 1); code != http.StatusForbidden {
		t.Fatalf("another OS user stopped the server: %d", code)
	}
	if code := call(me); code != http.StatusAccepted {
		t.Fatalf("the owner could not stop the server: %d", code)
	}
	if all := <-stopped; all {
		t.Fatal("all was not asked for")
	}
	// Without an owner configured, uid 0 is nobody special.
	g = Guard(h, GuardConfig{Policies: func() ([]policy.Rules, error) { return closed, nil }, Audit: func(context.Context, audit.Event) error { return nil }})
	req := httptest.NewRequest("POST", "/api/v1/shutdown", nil)
	req = req.WithContext(context.WithValue(req.Context(), peerKey{}, uint32(0)))
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("root without an owner configured: %d", rec.Code)
	}
}
