//go:build e2e && chromium

package dashboard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/dashboard"
	"github.com/hugai-dev/hugai/internal/server"
	"github.com/hugai-dev/hugai/internal/server/servertest"
)

// browser starts Debian's headless Chromium for the test (flags from REAL-COMPONENTS.md: no
// background networking on a closed network) and returns a tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium: %v (scripts/install-deps.sh installs it)", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 1600),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// screenshot keeps a picture of the page as a test artefact (HUGAI_ARTEFACTS, or the test's temp dir).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("HUGAI_ARTEFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("screenshot: %s", path)
}

// A person watches a canary progress live in the dashboard and approves it at its gate; the page
// follows the rollout over SSE to its end, without a reload.
func TestBrowserWatchAndApprove(t *testing.T) {
	h := servertest.NewHarness(t, "")
	h.Release("production", "v1")
	plan := "apiVersion: hugai.io/v1\nkind: DeploymentPlan\nspec:\n  service: demo\n  environment: production\n" +
		"  strategy: {type: canary, canary: {steps: [{setWeight: 20}, {approval: {count: 1}}, {setWeight: 100}]}}\n"
	r := h.Begin("alice", api.StartRequest{Plan: []byte(plan), Version: "v2"})

	d, err := dashboard.New(h.Engine, dashboard.Options{
		Who: func(*http.Request) (dashboard.Viewer, bool) {
			return dashboard.Viewer{Subject: "bob", Role: dashboard.RoleApprover, CSRF: "t"}, true
		},
		Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", server.New(h.Engine, server.Options{Logf: t.Logf}))
	mux.Handle("/", d)
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)

	ctx := browser(t)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(s.URL+"/rollouts/"+r.ID)); err != nil {
		t.Fatal(err)
	}
	// Live: the gate is reached after the page loaded; the page shows it without a reload.
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`button[data-kind="approve"]`))); err != nil {
		t.Fatalf("the approval gate never showed: %v", err)
	}
	screenshot(t, ctx, "rollout-awaiting-approval")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`form[data-kind="approve"] input[name="comment"]`), "looks good"),
		chromedp.Click(chromedp.CSS(`button[data-kind="approve"]`)),
	); err != nil {
		t.Fatal(err)
	}
	h.Judged(r.ID)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("phase").textContent === "Succeeded"`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("the page never showed the end: %v", err)
	}
	screenshot(t, ctx, "rollout-succeeded")
	aps, err := h.Engine.Approvals(context.Background(), r.ID)
	if err != nil || len(aps) != 1 || aps[0].Comment != "looks good" {
		t.Errorf("approvals: %+v %v", aps, err)
	}
	trail, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".trail")))
	if err != nil || !strings.Contains(trail, "rollout.approved") {
		t.Errorf("the trail on the page: %v %.300s", err, trail)
	}
}
