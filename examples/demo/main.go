// Command demo is a small HTTP service whose flags make it misbehave on purpose (errors, latency,
// crashes, never ready). hugai's own demo and end-to-end tests deploy versions of it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	host          string
	port          int
	version       string
	errorRate     float64
	latency       time.Duration
	latencyJitter time.Duration
	slowRate      float64
	slowLatency   time.Duration
	crashAfter    time.Duration
	failAfter     time.Duration
	readyAfter    time.Duration
	neverReady    bool
	failStart     bool
	smokeFail     bool
	h2cOnly       bool
}

func main() {
	// `demo smoke URL` is the demo's smoke test: hugai.yaml's smokeTest runs it against the
	// address under test, so the demo needs nothing else installed (no curl).
	if len(os.Args) == 3 && os.Args[1] == "smoke" {
		if err := smoke(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "smoke:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	defPort := 8080
	if p := os.Getenv("PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return cfg, fmt.Errorf("parse PORT %q: %w", p, err)
		}
		defPort = n
	}
	fs.StringVar(&cfg.host, "host", "127.0.0.1", "address to listen on (empty: every interface)")
	fs.IntVar(&cfg.port, "port", defPort, "port to listen on (default: $PORT, else 8080)")
	fs.StringVar(&cfg.version, "version", "dev", "version reported in answers")
	fs.Float64Var(&cfg.errorRate, "error-rate", 0, "share of requests answered 500 (0..1)")
	fs.DurationVar(&cfg.latency, "latency", 0, "latency added to each request")
	fs.DurationVar(&cfg.latencyJitter, "latency-jitter", 0, "random extra latency, up to this much")
	fs.Float64Var(&cfg.slowRate, "slow-rate", 0, "share of requests that are slow (0..1)")
	fs.DurationVar(&cfg.slowLatency, "slow-latency", time.Second, "latency of a slow request")
	fs.DurationVar(&cfg.crashAfter, "crash-after", 0, "exit 1 after this long (0: never)")
	fs.DurationVar(&cfg.failAfter, "fail-after", 0, "answer normally until this long after start, then apply --error-rate (0: from the start)")
	fs.DurationVar(&cfg.readyAfter, "ready-after", 0, "readiness answers 503 until this long after start")
	fs.BoolVar(&cfg.neverReady, "never-ready", false, "readiness always answers 503")
	fs.BoolVar(&cfg.failStart, "fail-start", false, "exit 1 at once")
	fs.BoolVar(&cfg.smokeFail, "smoke-fail", false, "/smoke answers 500 (the rest serves as usual)")
	fs.BoolVar(&cfg.h2cOnly, "h2c-only", false, "speak HTTP/2 with prior knowledge only, as a gRPC server does (no HTTP/1.1)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.errorRate < 0 || cfg.errorRate > 1 || cfg.slowRate < 0 || cfg.slowRate > 1 {
		return cfg, errors.New("--error-rate and --slow-rate must be within 0..1")
	}
	if cfg.failAfter < 0 {
		return cfg, errors.New("--fail-after must not be negative")
	}
	return cfg, nil
}

func run(cfg config) error {
	if cfg.failStart {
		return errors.New("failing at start as asked (--fail-start)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: newHandler(cfg, time.Now()), ReadHeaderTimeout: 5 * time.Second}
	if cfg.h2cOnly {
		var pr http.Protocols
		pr.SetUnencryptedHTTP2(true)
		srv.Protocols = &pr
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Printf("demo %s listening on %s", cfg.version, ln.Addr())

	var crash <-chan time.Time
	if cfg.crashAfter > 0 {
		crash = time.After(cfg.crashAfter)
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-crash:
		return fmt.Errorf("crashing after %s as asked (--crash-after)", cfg.crashAfter)
	case <-ctx.Done():
	}
	log.Printf("demo %s shutting down", cfg.version)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func newHandler(cfg config, started time.Time) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	// /smoke is what a smoke test checks: a deeper path than readiness, which a version can fail
	// while it is ready and serving (--smoke-fail).
	mux.HandleFunc("/smoke", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Demo-Version", cfg.version)
		if cfg.smokeFail {
			http.Error(w, "smoke test failed: "+cfg.version+" cannot reach its dependencies", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "smoke ok from", cfg.version)
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if cfg.neverReady || time.Since(started) < cfg.readyAfter {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if d := delay(cfg); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("X-Demo-Version", cfg.version)
		w.Header().Set("X-Demo-Proto", r.Proto) // what the proxy spoke to it
		if failing(cfg, started) && rand.Float64() < cfg.errorRate {
			http.Error(w, "injected error from "+cfg.version, http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "hello from %s\n", cfg.version)
	})
	return mux
}

// delay is the latency one request gets: the base, jitter, and for a share of requests the slow
// latency instead, so that a high percentile moves while the median does not.
func delay(cfg config) time.Duration {
	d := cfg.latency
	if cfg.latencyJitter > 0 {
		d += rand.N(cfg.latencyJitter)
	}
	if cfg.slowRate > 0 && rand.Float64() < cfg.slowRate {
		d = cfg.slowLatency
	}
	return d
}

// failing reports whether --error-rate applies now: from the start, or once --fail-after has passed.
func failing(cfg config, started time.Time) bool {
	return cfg.errorRate > 0 && time.Since(started) >= cfg.failAfter
}

// smoke GETs url and fails unless it answers 2xx within a few seconds.
func smoke(url string) error {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Printf("GET %s: %s (%s)\n", url, resp.Status, resp.Header.Get("X-Hugai-Version"))
	return nil
}
