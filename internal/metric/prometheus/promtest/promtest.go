// Package promtest starts a real Prometheus for tests (Debian's prometheus package), as
// ../shared/REAL-COMPONENTS.md describes: its own config, a loopback port picked at run time,
// storage in a temp dir, 1 s scrapes, stopped by its PID.
package promtest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/eventually"
)

// Start runs Debian's prometheus, started by the test with its own config and storage in a
// temp dir, on a loopback port picked at run time, scraping targets every second. It is stopped
// by its PID when the test ends; it returns its base URL. Tests that use it sit behind the
// prometheus build tag, which asks for it: without the binary the test fails
// (scripts/install-deps.sh installs it).
func Start(t testing.TB, targets ...string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("the prometheus tag needs Debian's prometheus: run scripts/install-deps.sh (%v)", err)
	}
	dir := t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}\nscrape_configs:\n")
	for i, target := range targets {
		fmt.Fprintf(&cfg, "  - job_name: t%d\n    static_configs: [{targets: [%q]}]\n", i, target)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	log, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--web.listen-address="+addr,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); log.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", b)
		}
	})
	base := "http://" + addr
	eventually.NoError(t, 20*time.Second, "prometheus ready", func() error {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("prometheus exited: %v", err)
		default:
		}
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	})
	return base
}

// freePort picks a loopback port nobody listens on. Prometheus takes an address, not a listener,
// so there is a small window in which another process could take it; a clash fails the start
// loudly (prometheus exits), never silently.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
