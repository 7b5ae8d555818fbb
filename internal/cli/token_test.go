package cli

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/client"
)

// The real `hugai server --listen` in this process: a token made on the socket by its owner
// (the environment is open: its owner is admin) reaches the API over TLS with a pinned
// fingerprint, and stops working once revoked (exit 5, nothing said about why).
func TestTokensOverTCP(t *testing.T) {
	dir := t.TempDir()
	svc := filepath.Join(dir, "hugai.yaml")
	if err := os.WriteFile(svc, []byte(`apiVersion: hugai.io/v1
kind: Service
metadata: {name: demo}
spec:
  target: {type: local, local: {command: ["./demo"], listen: "127.0.0.1:1", replicas: 1}}
  environments:
    production: {successCriteria: error_rate<1%}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"server", "-f", svc, "--data-dir", data, "--listen", "127.0.0.1:0"}, strings.NewReader(""), io.Discard, pw)
		pw.Close()
	}()
	addrRE := regexp.MustCompile(`serving the API on (https://[0-9.:]+); certificate SHA-256 fingerprint ([0-9a-f]{64})`)
	lines := bufio.NewScanner(pr)
	var url, fp string
	for lines.Scan() {
		if m := addrRE.FindStringSubmatch(lines.Text()); m != nil {
			url, fp = m[1], m[2]
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if url == "" {
		t.Fatal("the server printed no address and fingerprint")
	}
	t.Cleanup(func() {
		// Not `server stop`: it waits for the server's pid to end, which is this test's own.
		c, err := client.Find(data)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Shutdown(context.Background(), false); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the server did not stop")
		}
	})

	code, out, errOut := run(t, "token", "create", "--name", "ci", "--role", "viewer", "--expires", "1d", "--server", data)
	if code != 0 || !strings.Contains(errOut, "token ci (subject ci, role viewer, all environments, expires ") {
		t.Fatalf("token create: %d %s %s", code, out, errOut)
	}
	secret := strings.TrimSpace(out)
	if !strings.HasPrefix(secret, "hugai_") {
		t.Fatalf("secret %q", secret)
	}
	if _, err := os.Stat(filepath.Join(data, "tls", "key.pem")); err != nil {
		t.Fatalf("the self-signed key is not kept: %v", err)
	}
	if code, out, errOut := run(t, "token", "list", "-o", "json", "--server", data); code != 0 || strings.Contains(out, secret) || !strings.Contains(out, `"name": "ci"`) {
		t.Fatalf("token list: %d %s %s", code, out, errOut)
	}

	t.Setenv("HUGAI_SERVER", url)
	t.Setenv("HUGAI_SERVER_FINGERPRINT", fp)
	t.Setenv("HUGAI_TOKEN", secret)
	if code, out, errOut := run(t, "deploy", "list", "-o", "json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("deploy list over TCP: %d %q %s", code, out, errOut)
	}
	// A viewer's token cannot start anything, even where its subject could.
	plan := filepath.Join(dir, "plan.yaml")
	os.WriteFile(plan, []byte("apiVersion: hugai.io/v1\nkind: DeploymentPlan\nspec: {service: demo, environment: production, version: v1, strategy: {type: recreate}}\n"), 0o644)
	if code, _, errOut := run(t, "deploy", "execute", "--plan", plan, "--detach"); code != ExitDenied || !strings.Contains(errOut, `denied by role: ci may not POST /api/v1/rollouts in production: that needs the deployer role, and ci holds admin: environment production declares no roles or approvers (policy.roles); the "ci" token used caps it at viewer`) {
		t.Fatalf("a viewer token's start: %d %s", code, errOut)
	}
	t.Setenv("HUGAI_SERVER", "")
	t.Setenv("HUGAI_TOKEN", "")
	if code, _, errOut := run(t, "token", "revoke", "ci", "--server", data); code != 0 {
		t.Fatalf("revoke: %s", errOut)
	}
	t.Setenv("HUGAI_SERVER", url)
	t.Setenv("HUGAI_TOKEN", secret)
	code, _, errOut = run(t, "deploy", "list")
	if code != ExitDenied || !strings.Contains(errOut, "authentication required") || strings.Contains(errOut, "revoked") {
		t.Fatalf("a revoked token: %d %s", code, errOut)
	}
	t.Setenv("HUGAI_SERVER_FINGERPRINT", strings.Repeat("0", 64))
	if code, _, errOut := run(t, "deploy", "list"); code == 0 || !strings.Contains(errOut, "not the pinned") {
		t.Fatalf("a wrong pin: %d %s", code, errOut)
	}
}
