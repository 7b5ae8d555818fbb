package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func TestHello(t *testing.T) {
	cfg, err := parseFlags([]string{"--version", "v7"})
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler(cfg, time.Now())
	if code, body := get(t, h, "/"); code != 200 || body != "hello from v7\n" {
		t.Fatalf("GET / = %d %q", code, body)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := get(t, h, p); code != 200 {
			t.Fatalf("GET %s = %d, want 200", p, code)
		}
	}
}

func TestErrorRate(t *testing.T) {
	cfg, err := parseFlags([]string{"--error-rate", "0.2"})
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler(cfg, time.Now())
	errs := 0
	const n = 2000
	for range n {
		if code, _ := get(t, h, "/"); code == 500 {
			errs++
		}
	}
	// 400 expected, standard deviation about 18.
	if errs < 300 || errs > 500 {
		t.Fatalf("%d of %d answered 500, want about 400", errs, n)
	}
}

// --fail-after: no error before it, --error-rate after it.
func TestFailAfter(t *testing.T) {
	cfg, err := parseFlags([]string{"--error-rate", "1", "--fail-after", "1h"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.failAfter != time.Hour {
		t.Fatalf("--fail-after parsed as %s, want 1h", cfg.failAfter)
	}
	h := newHandler(cfg, time.Now())
	for range 200 {
		if code, _ := get(t, h, "/"); code != 200 {
			t.Fatalf("GET / before --fail-after = %d, want 200", code)
		}
	}
	h = newHandler(cfg, time.Now().Add(-2*time.Hour))
	for range 200 {
		if code, _ := get(t, h, "/"); code != 500 {
			t.Fatalf("GET / after --fail-after with --error-rate 1 = %d, want 500", code)
		}
	}
	// The switch happens by the clock of the running process.
	cfg, _ = parseFlags([]string{"--error-rate", "1", "--fail-after", "150ms"})
	h = newHandler(cfg, time.Now())
	if code, _ := get(t, h, "/"); code != 200 {
		t.Fatalf("GET / at start = %d, want 200", code)
	}
	time.Sleep(200 * time.Millisecond)
	if code, _ := get(t, h, "/"); code != 500 {
		t.Fatalf("GET / once --fail-after passed = %d, want 500", code)
	}
	// A share of errors after it, as --error-rate alone gives.
	cfg, _ = parseFlags([]string{"--error-rate", "0.5", "--fail-after", "1ms"})
	h = newHandler(cfg, time.Now().Add(-time.Second))
	errs := 0
	for range 2000 {
		if code, _ := get(t, h, "/"); code == 500 {
			errs++
		}
	}
	if errs < 850 || errs > 1150 { // 1000 expected, standard deviation about 22
		t.Fatalf("%d of 2000 answered 500 after --fail-after with --error-rate 0.5, want about 1000", errs)
	}
	if _, err := parseFlags([]string{"--fail-after", "-1s"}); err == nil {
		t.Fatal("--fail-after -1s accepted")
	}
}

func TestReadiness(t *testing.T) {
	cfg, _ := parseFlags([]string{"--ready-after", "1h"})
	h := newHandler(cfg, time.Now())
	if code, _ := get(t, h, "/readyz"); code != 503 {
		t.Fatalf("readyz before --ready-after = %d, want 503", code)
	}
	if code, _ := get(t, h, "/healthz"); code != 200 {
		t.Fatalf("healthz = %d, want 200 (alive though not ready)", code)
	}
	started := time.Now().Add(-2 * time.Hour)
	if code, _ := get(t, newHandler(cfg, started), "/readyz"); code != 200 {
		t.Fatalf("readyz after --ready-after = %d, want 200", code)
	}
	cfg, _ = parseFlags([]string{"--never-ready"})
	if code, _ := get(t, newHandler(cfg, started), "/readyz"); code != 503 {
		t.Fatalf("readyz with --never-ready = %d, want 503", code)
	}
}

func TestSlowShare(t *testing.T) {
	cfg, _ := parseFlags([]string{"--latency", "10ms", "--slow-rate", "0.1", "--slow-latency", "800ms"})
	slow := 0
	for range 1000 {
		switch d := delay(cfg); d {
		case 800 * time.Millisecond:
			slow++
		case 10 * time.Millisecond:
		default:
			t.Fatalf("delay %s, want 10ms or 800ms", d)
		}
	}
	if slow < 50 || slow > 150 {
		t.Fatalf("%d of 1000 slow, want about 100", slow)
	}
}

func TestFlags(t *testing.T) {
	t.Setenv("PORT", "4321")
	cfg, err := parseFlags(nil)
	if err != nil || cfg.port != 4321 {
		t.Fatalf("port from PORT = %d (%v), want 4321", cfg.port, err)
	}
	if _, err := parseFlags([]string{"--error-rate", "1.5"}); err == nil {
		t.Fatal("--error-rate 1.5 accepted")
	}
}

// TestProcess runs the built program: it serves, and exits 0 on SIGTERM; --crash-after and
// --fail-start exit 1.
func TestProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := t.TempDir() + "/demo"
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cmd := exec.CommandContext(ctx, bin, "--port", "0", "--version", "vp")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	line, err := bufio.NewReader(stderr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSpace(line[strings.LastIndex(line, " ")+1:])
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello from vp\n" {
		t.Fatalf("body %q", body)
	}
	go io.Copy(io.Discard, stderr)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v, want 0", err)
	}

	for _, args := range [][]string{{"--fail-start"}, {"--port", "0", "--crash-after", "100ms"}} {
		err := exec.CommandContext(ctx, bin, args...).Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("%v: %v, want exit 1", args, err)
		}
	}
}

func TestSmokeEndpoint(t *testing.T) {
	for _, fail := range []bool{false, true} {
		h := newHandler(config{version: "v7", smokeFail: fail}, time.Now())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/smoke", nil))
		if want := map[bool]int{false: 200, true: 500}[fail]; rec.Code != want {
			t.Errorf("--smoke-fail=%v: /smoke answered %d, want %d", fail, rec.Code, want)
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != 200 {
			t.Errorf("--smoke-fail=%v: / answered %d; a version failing its smoke test still serves", fail, rec.Code)
		}
	}
}

func TestSmokeCommand(t *testing.T) {
	for _, fail := range []bool{false, true} {
		srv := httptest.NewServer(newHandler(config{version: "v7", smokeFail: fail}, time.Now()))
		err := smoke(srv.URL + "/smoke")
		srv.Close()
		if (err != nil) != fail {
			t.Errorf("--smoke-fail=%v: smoke returned %v", fail, err)
		}
	}
}
