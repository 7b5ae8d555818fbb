//go:build e2e && chromium

package e2e

import (
	"context"
	"encoding/json"
	"os/user"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/dashboard/browsertest"
)

// token makes an API token on the socket (as the server's owner) and returns its secret.
func (e *env) token(name, role, subject string) string {
	e.t.Helper()
	r := e.hugai("token", "create", "--name", name, "--role", role, "--subject", subject, "-o", "json")
	if r.code != 0 {
		e.t.Fatalf("token create %s: %d %s", name, r.code, r.stderr)
	}
	var tok api.CreatedToken
	if err := json.Unmarshal([]byte(r.stdout), &tok); err != nil || tok.Secret == "" {
		e.t.Fatalf("token create %s: %v %s", name, err, r.stdout)
	}
	return tok.Secret
}

func signIn(t *testing.T, ctx context.Context, base, secret string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.SendKeys(chromedp.CSS(`#token`), secret),
		chromedp.Submit(chromedp.CSS(`#token`)),
		chromedp.WaitVisible(chromedp.CSS(`header .who`)),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
}

// The dashboard of the real server over TLS: an approver signs in with a token, watches a canary
// live and approves it at its gate, and sees it promoted; a viewer is offered no command and a
// command forged from the viewer's own page is refused by the API. Screenshots of the main pages
// are kept ($HUGAI_ARTEFACTS).
func TestDashboardInARealBrowser(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "      policy:\n        roles: {viewer: [vic], deployer: ["+me.Username+"], approver: [ann]}\n")
	addr := freeAddr(t)
	e.serverArgs = []string{"--listen", addr}
	e.startServer()
	e.deployFirst("v1")
	load := e.steadyLoad(20)
	defer load.Stop()
	ann := e.token("ann", "approver", "ann")
	vic := e.token("vic", "viewer", "vic")
	base := "https://" + addr

	run := e.hugaiStart("deploy", "canary", "-f", e.file, "--environment", "production", "--version", "v2",
		"--traffic-split", "20,50,100", "--health-check-interval", "3s", "--require-approval")
	id := e.waitForRollout("v2", 30*time.Second, "the approval gate", func(r api.Rollout) bool { return r.Phase == "AwaitingApproval" }).ID

	ctx := browsertest.Start(t, true)
	signIn(t, ctx, base, ann)
	browsertest.Screenshot(t, ctx, "dashboard-services")
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/rollouts/"+id), chromedp.WaitVisible(chromedp.CSS(`button[data-kind="approve"]`))); err != nil {
		t.Fatalf("the approver's rollout page: %v", err)
	}
	browsertest.Screenshot(t, ctx, "dashboard-rollout-awaiting-approval")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`form[data-kind="approve"] input[name="comment"]`), "metrics look fine"),
		chromedp.Click(chromedp.CSS(`button[data-kind="approve"]`)),
	); err != nil {
		t.Fatal(err)
	}
	// Live, without a reload: the weights move and the rollout ends Succeeded on the page.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("phase") && document.getElementById("phase").textContent === "Succeeded"`,
		chromedp.WithPollingTimeout(2*time.Minute))); err != nil {
		t.Fatalf("the page never showed the promotion: %v", err)
	}
	browsertest.Screenshot(t, ctx, "dashboard-rollout-succeeded")
	if r := run.wait(); r.code != 0 {
		t.Fatalf("the canary the browser approved: %d %s", r.code, r.stderr)
	}
	st := e.status(id)
	if st.Phase != "Succeeded" {
		t.Fatalf("rollout %s", st.Phase)
	}
	for _, page := range []string{"/rollouts", "/audit?subject=rollout/" + id} {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+page), chromedp.WaitVisible(chromedp.CSS(`main table`))); err != nil {
			t.Fatal(err)
		}
		browsertest.Screenshot(t, ctx, "dashboard"+strings.NewReplacer("/", "-", "?", "-", "=", "-").Replace(page))
	}
	trail, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#events`)))
	if err != nil || !strings.Contains(trail, "rollout.approved") || !strings.Contains(trail, "ann") {
		t.Errorf("the audit page: %v %.300s", err, trail)
	}

	// The viewer: a rollout waiting for approval, seen by vic, who may not approve it.
	run = e.hugaiStart("deploy", "canary", "-f", e.file, "--environment", "production", "--version", "v3",
		"--traffic-split", "20,50,100", "--health-check-interval", "3s", "--require-approval")
	id = e.waitForRollout("v3", 30*time.Second, "the second approval gate", func(r api.Rollout) bool { return r.Phase == "AwaitingApproval" }).ID
	vctx := browsertest.Start(t, true)
	signIn(t, vctx, base, vic)
	if err := chromedp.Do(vctx, chromedp.Navigate(base+"/rollouts/"+id), chromedp.WaitVisible(chromedp.CSS(`.approval`))); err != nil {
		t.Fatal(err)
	}
	browsertest.Screenshot(t, vctx, "dashboard-viewer")
	n, err := chromedp.Run(vctx, chromedp.Evaluate[int](`document.querySelectorAll("form.command").length`))
	if err != nil || n != 0 {
		t.Errorf("the viewer is offered %d commands (%v)", n, err)
	}
	// A forged approval from the viewer's page, with its CSRF token: the API refuses it.
	status, err := chromedp.Run(vctx, chromedp.Evaluate[int](`fetch("/api/v1/rollouts/`+id+`/commands", {method: "POST",
		headers: {"Content-Type": "application/json", "X-CSRF-Token": document.body.dataset.csrf},
		body: JSON.stringify({kind: "approve"})}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || status != 403 {
		t.Errorf("a viewer's forged approval: %d %v", status, err)
	}
	// And one without the CSRF token (what another site could send): refused before the policy.
	status, err = chromedp.Run(vctx, chromedp.Evaluate[int](`fetch("/api/v1/rollouts/`+id+`/commands", {method: "POST",
		headers: {"Content-Type": "application/json"}, body: JSON.stringify({kind: "abort"})}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || status != 403 {
		t.Errorf("a command without the CSRF token: %d %v", status, err)
	}
	if st := e.status(id); st.Phase != "AwaitingApproval" {
		t.Errorf("the forged commands changed the rollout: %s", st.Phase)
	}
	if r := e.hugai("deploy", "abort", id); r.code != 0 {
		t.Errorf("abort: %d %s", r.code, r.stderr)
	}
	run.wait()
}
