package dashboard_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/dashboard"
	"github.com/hugai-dev/hugai/internal/server/servertest"
)

// serve mounts the dashboard over a real engine (the harness) for a viewer of role.
func serve(t *testing.T, h *servertest.Harness, role string) *httptest.Server {
	t.Helper()
	d, err := dashboard.New(h.Engine, dashboard.Options{
		Who: func(r *http.Request) (dashboard.Viewer, bool) {
			if role == "" {
				return dashboard.Viewer{}, false
			}
			return dashboard.Viewer{Subject: "pat@company.com", Role: role, CSRF: "csrf-token"}, true
		},
		Login: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "login page") }),
		Logf:  t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(d)
	t.Cleanup(s.Close)
	return s
}

func get(t *testing.T, s *httptest.Server, path string) (int, string, http.Header) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(s.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// The pages show a real rollout as the engine has it: its steps, weights, criteria, charts,
// risk and audit trail; the buttons follow the viewer's role and the rollout's phase.
func TestPagesShowARealRollout(t *testing.T) {
	h := servertest.NewHarness(t, "")
	h.Release("production", "v1")
	plan := "apiVersion: hugai.io/v1\nkind: DeploymentPlan\nspec:\n  service: demo\n  environment: production\n" +
		"  strategy: {type: canary, canary: {steps: [{setWeight: 20}, {approval: {count: 1}}, {setWeight: 100}]}}\n" +
		"  risk: {score: 62, level: high, factors: [{name: migrations, contribution: 30, reason: \"2 migrations <b>touch</b> orders\"}]}\n"
	r := h.Begin("alice", api.StartRequest{Plan: []byte(plan), Version: "v2"})
	h.WaitFor(r.ID, "the approval gate", func(v api.Rollout) bool { return v.Approval != nil })

	approver := serve(t, h, dashboard.RoleApprover)
	code, body, hdr := get(t, approver, "/rollouts/"+r.ID)
	if code != 200 {
		t.Fatalf("rollout page: %d %s", code, body)
	}
	for _, want := range []string{
		r.ID, "v1 → <strong>v2</strong>", "Waiting for approval", `data-kind="approve"`, `data-kind="reject"`,
		`<progress max="100" value="20">`, "error_rate", "Traffic to v2", "<polyline", "Risk: high (62/100)",
		"2 migrations &lt;b&gt;touch&lt;/b&gt; orders", "rollout.requested", `data-csrf="csrf-token"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("rollout page lacks %q", want)
		}
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || hdr.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers: %v", hdr)
	}

	viewer := serve(t, h, dashboard.RoleViewer)
	_, body, _ = get(t, viewer, "/rollouts/"+r.ID)
	if strings.Contains(body, `data-kind="approve"`) || strings.Contains(body, `data-kind="abort"`) {
		t.Error("a viewer is offered commands")
	}
	deployer := serve(t, h, dashboard.RoleDeployer)
	_, body, _ = get(t, deployer, "/rollouts/"+r.ID)
	if strings.Contains(body, `data-kind="approve"`) || !strings.Contains(body, `data-kind="abort"`) {
		t.Error("a deployer must be offered abort and not approve")
	}

	code, body, _ = get(t, approver, "/rollouts/"+r.ID+"?fragment=live")
	if code != 200 || strings.Contains(body, "<html") || !strings.Contains(body, "Waiting for approval") {
		t.Errorf("live fragment: %d %.200s", code, body)
	}
	for path, want := range map[string]string{
		"/":                              r.ID,
		"/rollouts":                      r.ID,
		"/rollouts?service=nothing":      "No rollout.",
		"/audit?subject=rollout/" + r.ID: "rollout.requested",
		"/static/app.js":                 "EventSource",
	} {
		if code, body, _ := get(t, approver, path); code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d, no %q", path, code, want)
		}
	}
	if code, _, _ := get(t, approver, "/rollouts/nope"); code != 404 {
		t.Errorf("unknown rollout: %d", code)
	}
	if code, _, _ := get(t, approver, "/audit?after=x"); code != 400 {
		t.Errorf("bad after: %d", code)
	}

	anon := serve(t, h, "")
	code, _, hdr = get(t, anon, "/rollouts/"+r.ID)
	if code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/login?next=") {
		t.Errorf("anonymous: %d %s", code, hdr.Get("Location"))
	}
}
