package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/client"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/server"
	"github.com/hugai-dev/hugai/internal/server/servertest"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/token"
)

// governedYAML closes both environments to the people it names; production wants two approvals
// (four-eyes on by default) and freezes at weekends.
const governedYAML = `apiVersion: hugai.io/v1
kind: Service
metadata: {name: demo}
spec:
  target: {type: local, local: {command: ["./demo"], listen: "127.0.0.1:1", replicas: 2}}
  environments:
    production:
      successCriteria: error_rate<1%
      analysis: {interval: 5s, minimumSamples: 20}
      policy:
        roles: {viewer: [vic], deployer: [dan], approver: [ann, ari], admin: [ada]}
        approvalsRequired: 2
        freezeWindows:
          - {name: weekend, start: "0 18 * * FRI", duration: 62h}
    staging:
      successCriteria: error_rate<1%
      analysis: {interval: 5s, minimumSamples: 20}
      policy:
        roles: {viewer: [vic], deployer: [dan], approver: [ann, ari], admin: [ada]}
`

// tcpServer is a harness engine behind the guard, served over real TCP with TLS on a loopback
// port picked at run time.
type tcpServer struct {
	h           *servertest.Harness
	url         string
	fingerprint string
	tokens      store.TokenStore
	secrets     map[string]string // by caller name
}

func newTCPServer(t *testing.T) *tcpServer { return newTCPServerB(t) }

func newTCPServerB(t testing.TB) *tcpServer {
	t.Helper()
	h := servertest.NewHarness(t, governedYAML)
	ts, ok := h.Store.(store.TokenStore)
	if !ok {
		t.Fatal("the harness store keeps no tokens")
	}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hugai_rollouts 0\n") })
	guarded := server.Guard(server.New(h.Recorder, server.Options{Logf: t.Logf, Metrics: metrics}), server.GuardConfig{
		Engine: h.Recorder, Policies: h.Engine.Policies, Tokens: ts, Logf: t.Logf,
		Audit: func(ctx context.Context, e audit.Event) error {
			_, err := h.Store.Commit(ctx, store.Tx{Events: []audit.Event{e}})
			return err
		},
	})
	ln, fp, err := server.ListenTCP(server.TCPOptions{Addr: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	hs := server.HTTPServer(guarded)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			t.Errorf("graceful shutdown: %v", err)
		}
	})
	s := &tcpServer{h: h, url: "https://" + ln.Addr().String(), fingerprint: fp, tokens: ts, secrets: map[string]string{}}
	now := time.Now().UTC()
	past, future := now.Add(-time.Minute), now.Add(time.Hour)
	for _, tc := range []struct {
		caller, subject, role, env string
		expires                    *time.Time
		revoke                     bool
	}{
		{"viewer", "vic", "viewer", "", &future, false},
		{"deployer", "dan", "deployer", "", nil, false},
		{"approver", "ann", "approver", "", nil, false},
		{"approver2", "ari", "approver", "", nil, false},
		{"admin", "ada", "admin", "", nil, false},
		{"expired", "ada", "admin", "", &past, false},
		{"revoked", "ada", "admin", "", nil, true},
		{"other-env", "ada", "admin", "staging", nil, false},
	} {
		secret, hash, err := token.New()
		if err != nil {
			t.Fatal(err)
		}
		tok := store.Token{Name: tc.caller, Subject: tc.subject, Role: tc.role, Environment: tc.env, Hash: hash, CreatedBy: "test", CreatedAt: now, ExpiresAt: tc.expires}
		if err := ts.CreateToken(context.Background(), tok, nil); err != nil {
			t.Fatal(err)
		}
		if tc.revoke {
			if _, err := ts.RevokeToken(context.Background(), tc.caller, "test", now, nil); err != nil {
				t.Fatal(err)
			}
		}
		s.secrets[tc.caller] = secret
	}
	return s
}

// client is the CLI's client, as `--server URL` with HUGAI_TOKEN and a pinned fingerprint makes it.
func (s *tcpServer) client(t *testing.T, caller string) *client.Client {
	t.Helper()
	c, err := client.NewTCP(s.url, client.TCPOptions{Token: s.secrets[caller], Fingerprint: s.fingerprint})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// raw sends one request as caller ("" sends no token) and returns the status and body.
func (s *tcpServer) raw(t *testing.T, caller, method, path, body string) (int, []byte) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // pinned below
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends an event stream once its status is read
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if caller != "" {
		req.Header.Set("Authorization", "Bearer "+s.secrets[caller])
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp.StatusCode, nil
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestAuthorizationMatrix(t *testing.T) {
	s := newTCPServer(t)
	r := s.h.Begin("dan", api.StartRequest{Plan: []byte(servertest.Plan("", "production")), Version: "v1", RequireApproval: true})
	s.h.WaitFor(r.ID, "the approval gate", servertest.Phase("AwaitingApproval"))

	callers := []string{"", "expired", "revoked", "viewer", "deployer", "approver", "admin", "other-env"}
	const no = http.StatusUnauthorized
	const ban = http.StatusForbidden
	// Each row: a request to a route, then the status for each caller in the order above. The
	// route's own answer (400 for a bad body, 409 for a command that does not fit) shows the
	// guard let the request through.
	rows := []struct {
		route        string // the RouteRoles key the row covers
		method, path string
		body         string
		want         [8]int
	}{
		{"GET /api/v1/info", "GET", "/api/v1/info", "", [8]int{no, no, no, 200, 200, 200, 200, 200}},
		{"GET /api/v1/rollouts", "GET", "/api/v1/rollouts?environment=production", "", [8]int{no, no, no, 200, 200, 200, 200, ban}},
		{"GET /api/v1/rollouts", "GET", "/api/v1/rollouts", "", [8]int{no, no, no, 200, 200, 200, 200, 200}},
		{"GET /api/v1/rollouts/{id}", "GET", "/api/v1/rollouts/" + r.ID, "", [8]int{no, no, no, 200, 200, 200, 200, ban}},
		{"GET /api/v1/rollouts/{id}", "GET", "/api/v1/rollouts/nope-1", "", [8]int{no, no, no, 404, 404, 404, 404, 404}},
		{"GET /api/v1/rollouts/{id}/approvals", "GET", "/api/v1/rollouts/" + r.ID + "/approvals", "", [8]int{no, no, no, 200, 200, 200, 200, ban}},
		{"GET /api/v1/rollouts/{id}/measurements", "GET", "/api/v1/rollouts/" + r.ID + "/measurements", "", [8]int{no, no, no, 200, 200, 200, 200, ban}},
		{"GET /api/v1/rollouts/{id}/plan", "GET", "/api/v1/rollouts/" + r.ID + "/plan", "", [8]int{no, no, no, 200, 200, 200, 200, ban}},
		{"GET /api/v1/rollouts/{id}/events", "GET", "/api/v1/rollouts/" + r.ID + "/events", "", [8]int{no, no, no, 200, 200, 200, 200, ban}},
		{"GET /api/v1/events", "GET", "/api/v1/events?service=demo&environment=production", "", [8]int{no, no, no, 200, 200, 200, 200, ban}},
		{"GET /api/v1/events", "GET", "/api/v1/events?service=demo", "", [8]int{no, no, no, 200, 200, 200, 200, 200}},
		{"GET /api/v1/audit", "GET", "/api/v1/audit", "", [8]int{no, no, no, 200, 200, 200, 200, ban}},
		{"GET /api/v1/audit/verify", "GET", "/api/v1/audit/verify", "", [8]int{no, no, no, 200, 200, 200, 200, ban}},
		{"GET /metrics", "GET", "/metrics", "", [8]int{no, no, no, 200, 200, 200, 200, 200}},
		// This server runs no releases: who gets through learns that (404).
		{"POST /api/v1/release-runs", "POST", "/api/v1/release-runs", `{}`, [8]int{no, no, no, ban, 404, 404, 404, ban}},
		{"GET /api/v1/release-runs", "GET", "/api/v1/release-runs", "", [8]int{no, no, no, 404, 404, 404, 404, ban}},
		{"GET /api/v1/release-runs/{id}", "GET", "/api/v1/release-runs/x", "", [8]int{no, no, no, 404, 404, 404, 404, ban}},
		{"POST /api/v1/rollouts", "POST", "/api/v1/rollouts", `{"plan":"a2luZDogTm9wZQ=="}`, [8]int{no, no, no, ban, 400, 400, 400, 400}},
		{"POST /api/v1/rollouts/{id}/commands", "POST", "/api/v1/rollouts/" + r.ID + "/commands", `{"kind":"resume"}`, [8]int{no, no, no, ban, 409, 409, 409, ban}},
		{"GET /api/v1/monitor", "GET", "/api/v1/monitor?service=demo&environment=production", "", [8]int{no, no, no, 200, 200, 200, 200, ban}},
		{"POST /api/v1/shutdown", "POST", "/api/v1/shutdown", "", [8]int{no, no, no, ban, ban, ban, 409, ban}},
		{"GET /api/v1/tokens", "GET", "/api/v1/tokens", "", [8]int{no, no, no, ban, ban, ban, 200, 200}},
		{"POST /api/v1/tokens", "POST", "/api/v1/tokens", `{"name":"x","role":"owner"}`, [8]int{no, no, no, ban, ban, ban, 400, 400}},
		{"DELETE /api/v1/tokens/{name}", "DELETE", "/api/v1/tokens/nope", "", [8]int{no, no, no, ban, ban, ban, 404, 404}},
		{"/", "GET", "/api/v1/nope", "", [8]int{no, no, no, 404, 404, 404, 404, 404}},
	}
	covered := map[string]bool{}
	refusals := 0
	var unauthBody []byte
	for _, row := range rows {
		covered[row.route] = true
		for i, caller := range callers {
			status, body := s.raw(t, caller, row.method, row.path, row.body)
			name := caller
			if name == "" {
				name = "no token"
			}
			if status != row.want[i] {
				t.Errorf("%s %s as %s: %d, want %d: %s", row.method, row.path, name, status, row.want[i], body)
			}
			for secret := range maps(s.secrets) {
				if bytes.Contains(body, []byte(secret)) {
					t.Errorf("%s %s as %s: the answer carries a token", row.method, row.path, name)
				}
			}
			switch status {
			case no:
				refusals++
				// A 401 says the same whatever was wrong: no token, an expired or a revoked one.
				if unauthBody == nil {
					unauthBody = body
				} else if !bytes.Equal(body, unauthBody) {
					t.Errorf("401 bodies differ: %s vs %s", body, unauthBody)
				}
			case ban:
				refusals++
				var e api.Error
				if err := json.Unmarshal(body, &e); err != nil || e.Code != api.CodeDenied || !strings.HasPrefix(e.Message, "denied by role: ") {
					t.Errorf("%s %s as %s: 403 body %s", row.method, row.path, name, body)
				}
			}
		}
	}
	for route := range server.RouteRoles {
		if !covered[route] && !server.RouteRoles[route].Public {
			t.Errorf("route %s is not in the matrix", route)
		}
	}
	// Public routes answer without a token; every route the API serves declares its role.
	for _, path := range []string{"/healthz", "/readyz", "/api/v1/openapi.yaml"} {
		if status, body := s.raw(t, "", "GET", path, ""); status != 200 {
			t.Errorf("public %s without a token: %d %s", path, status, body)
		}
	}
	for _, route := range server.Routes() {
		if _, ok := server.RouteRoles[route]; !ok {
			t.Errorf("the API serves %s, which declares no role in server.RouteRoles (it is closed)", route)
		}
	}
	evs, err := s.h.Store.Events(context.Background(), store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	audited := 0
	for _, e := range evs {
		if e.Type == "auth.refused" || e.Type == "policy.denied" {
			audited++
			var p map[string]any
			_ = json.Unmarshal(e.Payload, &p)
			auth, _ := p["auth"].(map[string]any)
			if auth == nil || !strings.HasPrefix(fmt.Sprint(auth["from"]), "127.0.0.1:") {
				t.Errorf("refusal %s does not say where from: %s", e.Type, e.Payload)
			}
		}
	}
	if audited != refusals {
		t.Errorf("%d refusals answered, %d audited", refusals, audited)
	}
	if _, err := s.h.Store.VerifyAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The expired and revoked tokens' refusals say why, in the audit only.
	reasons := map[string]bool{}
	for _, e := range evs {
		var p map[string]any
		_ = json.Unmarshal(e.Payload, &p)
		if e.Type == "auth.refused" {
			reasons[fmt.Sprint(p["reason"])] = true
		}
	}
	for _, want := range []string{"expired token", "revoked token", "no bearer token (required on TCP)"} {
		if !reasons[want] {
			t.Errorf("no audited refusal says %q: %v", want, reasons)
		}
	}
}

func maps(m map[string]string) map[string]bool {
	out := map[string]bool{}
	for _, v := range m {
		out[v] = true
	}
	return out
}

// Over TCP, as the CLI talks: the starter's approval is refused naming four-eyes; a quorum of
// two needs two distinct approvers; a freeze window blocks a start unless an admin overrides it.
func TestFourEyesQuorumAndFreezeOverTCP(t *testing.T) {
	s := newTCPServer(t)
	ctx := context.Background()
	ann, ari, ada := s.client(t, "approver"), s.client(t, "approver2"), s.client(t, "admin")
	r, err := ann.Start(ctx, api.StartRequest{Plan: []byte(servertest.Plan("", "production")), Version: "v1", RequireApproval: true})
	if err != nil {
		t.Fatal(err)
	}
	r = s.h.WaitFor(r.ID, "the approval gate", servertest.Phase("AwaitingApproval"))
	if r.CreatedBy != "ann" || r.Approval.Needed != 2 || !r.Approval.FourEyes {
		t.Fatalf("rollout %+v approval %+v", r, r.Approval)
	}
	_, err = ann.Do(ctx, r.ID, api.Command{Kind: rollout.CommandApprove})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeDenied || !strings.Contains(ae.Message, "denied by four-eyes: ann started this rollout and may not approve") {
		t.Fatalf("the starter's approval: %v", err)
	}
	if _, err := ari.Do(ctx, r.ID, api.Command{Kind: rollout.CommandApprove}); err != nil {
		t.Fatal(err)
	}
	if _, err := ari.Do(ctx, r.ID, api.Command{Kind: rollout.CommandApprove}); err == nil || !strings.Contains(err.Error(), "already approved") {
		t.Fatalf("one approver twice: %v", err)
	}
	v, err := ari.Get(ctx, r.ID)
	if err != nil || v.Phase != "AwaitingApproval" || v.Approval.Missing != "1 more approval(s) of 2" {
		t.Fatalf("after one approval: %s %+v %v", v.Phase, v.Approval, err)
	}
	if _, err := ada.Do(ctx, r.ID, api.Command{Kind: rollout.CommandApprove, Comment: "second pair of eyes"}); err != nil {
		t.Fatal(err)
	}
	s.h.WaitFor(r.ID, "the gate passed", func(v api.Rollout) bool { return v.Phase != "AwaitingApproval" })
	if _, err := ada.Do(ctx, r.ID, api.Command{Kind: rollout.CommandAbort}); err != nil {
		t.Fatal(err)
	}
	s.h.WaitFor(r.ID, "the abort", func(v api.Rollout) bool { return v.Terminal })

	// Saturday noon: the weekend freeze is open.
	now := s.h.Clock.Now()
	days := (int(time.Saturday) - int(now.Weekday()) + 7) % 7
	sat := time.Date(now.Year(), now.Month(), now.Day()+days, 12, 0, 0, 0, time.UTC)
	s.h.Clock.Add(sat.Sub(now))
	dan := s.client(t, "deployer")
	start := func(c *client.Client, override string) (api.Rollout, error) {
		return c.Start(ctx, api.StartRequest{Plan: []byte(servertest.Plan("", "production")), Version: "v2", OverrideFreeze: override})
	}
	if _, err := start(dan, ""); err == nil || !strings.Contains(err.Error(), `denied by freeze: production is in the freeze window "weekend"`) {
		t.Fatalf("a start in the freeze: %v", err)
	}
	if _, err := start(dan, "urgent"); err == nil || !strings.Contains(err.Error(), "only an admin may override it, and dan holds deployer") {
		t.Fatalf("a deployer's override: %v", err)
	}
	r2, err := start(ada, "CVE fix: cannot wait for Monday")
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.h.Store.Events(ctx, store.EventFilter{Subject: "rollout/" + r2.ID})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(evs, func(e audit.Event) bool { return e.Type == "policy.freezeOverridden" })
	if i < 0 || evs[i].Actor != "ada" || !bytes.Contains(evs[i].Payload, []byte(`"reason":"CVE fix: cannot wait for Monday"`)) || !bytes.Contains(evs[i].Payload, []byte(`"via":"token"`)) {
		t.Fatalf("the override is not audited: %+v", evs)
	}
}

func TestPlainHTTPOnlyOnLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0"} {
		if ln, _, err := server.ListenTCP(server.TCPOptions{Addr: addr, Insecure: true}); err == nil {
			ln.Close()
			t.Errorf("plain HTTP on %s was accepted", addr)
		}
	}
	ln, _, err := server.ListenTCP(server.TCPOptions{Addr: "127.0.0.1:0", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if _, err := client.NewTCP("http://example.com:8080", client.TCPOptions{}); err == nil {
		t.Error("the client sends a token in the clear to another host")
	}
}

func TestSelfSignedCertificateIsKeptAndTrustedByFile(t *testing.T) {
	dir := t.TempDir()
	ln, fp1, err := server.ListenTCP(server.TCPOptions{Addr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	ln, fp2, err := server.ListenTCP(server.TCPOptions{Addr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if fp1 != fp2 || len(fp1) != 64 {
		t.Fatalf("a restart made another certificate: %s then %s", fp1, fp2)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"version":"x"}`) })}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	url := "https://" + ln.Addr().String()
	c, err := client.NewTCP(url, client.TCPOptions{CAFile: filepath.Join(dir, "tls", "cert.pem")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Info(context.Background()); err != nil {
		t.Fatalf("trusting the certificate by file: %v", err)
	}
	bad, _ := client.NewTCP(url, client.TCPOptions{Fingerprint: strings.Repeat("ab", 32)})
	if _, err := bad.Info(context.Background()); err == nil || !strings.Contains(err.Error(), "not the pinned") {
		t.Fatalf("a wrong pin: %v", err)
	}
	untrusted, _ := client.NewTCP(url, client.TCPOptions{})
	if _, err := untrusted.Info(context.Background()); err == nil {
		t.Fatal("a self-signed certificate was trusted without a pin or CA file")
	}
}

// Four-eyes holds for whoever made the plan too (its hugai.io/planned-by, which `deploy plan`
// writes): ari planned it, dan starts it, and ari may not approve it; ann may.
func TestFourEyesKeepsThePlannerFromApproving(t *testing.T) {
	s := newTCPServer(t)
	ctx := context.Background()
	plan := strings.Replace(servertest.Plan("", "production"), "kind: DeploymentPlan\n", "kind: DeploymentPlan\nmetadata: {annotations: {hugai.io/planned-by: ari}}\n", 1)
	r, err := s.client(t, "deployer").Start(ctx, api.StartRequest{Plan: []byte(plan), Version: "v1", RequireApproval: true})
	if err != nil {
		t.Fatal(err)
	}
	s.h.WaitFor(r.ID, "the approval gate", servertest.Phase("AwaitingApproval"))
	_, err = s.client(t, "approver2").Do(ctx, r.ID, api.Command{Kind: rollout.CommandApprove})
	if err == nil || !strings.Contains(err.Error(), "denied by four-eyes: ari made this rollout's plan and may not approve") {
		t.Fatalf("the planner's approval: %v", err)
	}
	if _, err := s.client(t, "approver").Do(ctx, r.ID, api.Command{Kind: rollout.CommandApprove}); err != nil {
		t.Fatalf("another approver: %v", err)
	}
}
