package proxy

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestStaleGenerationRefused(t *testing.T) {
	tp := startProxy(t, Options{})
	v1 := upstream(t, "v1")
	r := Routes{Generation: 5, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{hostport(v1)}}}}
	setRoutes(t, tp, r)
	r.Generation = 4
	r.Stable = ""
	err := tp.client.SetRoutes(context.Background(), r)
	if statusCode(err) != http.StatusConflict {
		t.Fatalf("stale generation: %v, want 409", err)
	}
	got, err := tp.client.Routes(context.Background())
	if err != nil || got.Generation != 5 {
		t.Fatalf("routes after refusal: %+v %v", got, err)
	}
}

func TestInvalidRoutesRefused(t *testing.T) {
	tp := startProxy(t, Options{})
	cases := map[string]struct {
		r    Routes
		want string
	}{
		"sum":        {Routes{Backends: []Backend{{Version: "a", Weight: 60, Endpoints: []string{"127.0.0.1:1"}}}}, "add up to 60"},
		"range":      {Routes{Backends: []Backend{{Version: "a", Weight: 101, Endpoints: []string{"127.0.0.1:1"}}}}, "outside 0..100"},
		"endpoints":  {Routes{Backends: []Backend{{Version: "a", Weight: 100}}}, "needs endpoints"},
		"duplicate":  {Routes{Backends: []Backend{{Version: "a"}, {Version: "a"}}}, "appears twice"},
		"address":    {Routes{Backends: []Backend{{Version: "a", Weight: 100, Endpoints: []string{"nope"}}}}, "not host:port"},
		"named":      {Routes{Canary: "b", Backends: []Backend{{Version: "a"}}}, "no backend"},
		"no version": {Routes{Backends: []Backend{{Weight: 100}}}, "version is empty"},
	}
	for name, c := range cases {
		err := tp.client.SetRoutes(context.Background(), c.r)
		var se *StatusError
		if !errors.As(err, &se) || se.Code != http.StatusBadRequest || !strings.Contains(se.Message, c.want) {
			t.Errorf("%s: %v, want 400 mentioning %q", name, err, c.want)
		}
	}
	// Held routes may name versions without endpoints yet.
	ok := Routes{HoldTimeout: time.Second, Backends: []Backend{{Version: "a", Weight: 100}}}
	if err := tp.client.SetRoutes(context.Background(), ok); err != nil {
		t.Errorf("weight without endpoints but with a hold: %v", err)
	}
}

func TestStateFileReload(t *testing.T) {
	state := filepath.Join(t.TempDir(), "routes.json")
	v1 := upstream(t, "v1")
	r := Routes{Generation: 7, Stable: "v1", HoldTimeout: time.Second, Backends: []Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{hostport(v1)}},
		{Version: "v2", Weight: 0, Endpoints: []string{}},
	}}
	first := startProxy(t, Options{StateFile: state})
	setRoutes(t, first, r)
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	second := startProxy(t, Options{StateFile: state})
	got, err := second.client.Routes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("reloaded routes %+v, want %+v", got, r)
	}
	if code, v, _, err := get(t, newClient(t), second.url+"/"); code != 200 || v != "v1" {
		t.Fatalf("restarted proxy: %d %q %v", code, v, err)
	}
	// A stale writer is still refused after the restart.
	r.Generation = 6
	if err := second.client.SetRoutes(context.Background(), r); statusCode(err) != http.StatusConflict {
		t.Fatalf("stale generation after restart: %v, want 409", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(state))
	if len(entries) != 1 {
		t.Errorf("state dir has %d entries, want only the state file (no temp files left)", len(entries))
	}
}

func TestCorruptStateFileIsAnError(t *testing.T) {
	state := filepath.Join(t.TempDir(), "routes.json")
	if err := os.WriteFile(state, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{StateFile: state}); err == nil {
		t.Fatal("corrupt state file accepted")
	}
}

func TestAdminSocketMode(t *testing.T) {
	tp := startProxy(t, Options{})
	fi, err := os.Stat(tp.socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("admin socket mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := listenUnix(context.Background(), tp.socket); err == nil {
		t.Error("a second proxy could take a live admin socket")
	}
}

func TestMetricsExposition(t *testing.T) {
	tp := startProxy(t, Options{})
	v1 := upstream(t, "v1")
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{hostport(v1)}},
		{Version: `v"2`, Weight: 0},
	}})
	c := newClient(t)
	for i := 0; i < 5; i++ {
		get(t, c, tp.url+"/")
	}
	line := regexp.MustCompile(`^[a-z0-9_]+(\{[a-z]+="(\\.|[^"\\])*"(,[a-z]+="(\\.|[^"\\])*")*\})? [0-9.e+-]+$`)
	scrape := func() (seen map[string]string, bad []string) {
		resp, err := c.Get(tp.admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		seen = map[string]string{}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			l := sc.Text()
			if strings.HasPrefix(l, "# ") {
				continue
			}
			if !line.MatchString(l) {
				bad = append(bad, l)
				continue
			}
			i := strings.LastIndexByte(l, ' ')
			seen[l[:i]] = l[i+1:]
		}
		return seen, bad
	}
	// A request's latency is observed once its answer is through, which the client may see
	// first: scrape until the last one is in.
	seen, bad := scrape()
	for deadline := time.Now().Add(5 * time.Second); seen[`hugai_proxy_request_duration_seconds_count{version="v1"}`] != "5" && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		seen, bad = scrape()
	}
	for _, l := range bad {
		t.Errorf("bad exposition line %q", l)
	}
	want := map[string]string{
		`hugai_proxy_requests_total{version="v1"}`:                            "5",
		`hugai_proxy_responses_5xx_total{version="v1"}`:                       "0",
		`hugai_proxy_upstream_connection_failures_total{version="v1"}`:        "0",
		`hugai_proxy_request_duration_seconds_count{version="v1"}`:            "5",
		`hugai_proxy_request_duration_seconds_bucket{version="v1",le="+Inf"}`: "5",
		`hugai_proxy_request_duration_seconds_bucket{version="v1",le="60"}`:   "5",
		`hugai_proxy_route_weight{version="v1"}`:                              "100",
		`hugai_proxy_route_weight{version="v\"2"}`:                            "0",
		`hugai_proxy_held_requests`:                                           "0",
	}
	for k, v := range want {
		if seen[k] != v {
			t.Errorf("%s = %q, want %q", k, seen[k], v)
		}
	}
	// The TCP admin address serves no configuration.
	for _, path := range []string{"/v1/routes", "/v1/stats"} {
		r, err := c.Get(tp.admin + path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("TCP admin %s: %d, want 404", path, r.StatusCode)
		}
	}
	if r, err := c.Get(tp.admin + "/healthz"); err != nil || r.StatusCode != 200 {
		t.Errorf("TCP healthz: %v", err)
	} else {
		r.Body.Close()
	}
}

// TestRunEndToEnd runs the proxy as `hugai proxy` does, with real addresses, and drives it with
// the Client only.
func TestRunEndToEnd(t *testing.T) {
	dir := t.TempDir()
	o := Options{
		Listen:      freeAddr(t),
		Admin:       freeAddr(t),
		AdminSocket: filepath.Join(dir, "p.sock"),
		StateFile:   filepath.Join(dir, "routes.json"),
		History:     time.Minute,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	cl := NewClient(o.AdminSocket)
	t.Cleanup(cl.CloseIdleConnections)
	waitFor(t, "the proxy to answer on its socket", func() bool { return cl.Healthy(ctx) == nil })

	v1, v2 := upstream(t, "v1"), upstream(t, "v2")
	started := time.Now()
	if err := cl.SetRoutes(ctx, Routes{Generation: 1, Stable: "v1", Canary: "v2", Backends: []Backend{
		{Version: "v1", Weight: 50, Endpoints: []string{hostport(v1)}},
		{Version: "v2", Weight: 50, Endpoints: []string{hostport(v2)}},
	}}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	served := map[string]uint64{}
	for i := 0; i < 200; i++ {
		code, v, _, err := get(t, c, "http://"+o.Listen+"/")
		if err != nil || code != 200 {
			t.Fatalf("request %d: %d %v", i, code, err)
		}
		served[v]++
	}
	// The history holds whole seconds once they are over: poll until all requests are in it, and
	// their latencies too — a request is counted when it is sent and its latency recorded once
	// its answer is through, which can fall in the next second.
	var w1, w2 Window
	waitFor(t, "the stats to cover every request", func() bool {
		s, err := cl.Stats(ctx, started.Add(-time.Second))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().Add(time.Second)
		w1, w2 = s.Window("v1", started.Add(-time.Second), now), s.Window("v2", started.Add(-time.Second), now)
		return w1.Requests+w2.Requests == 200 && w1.Samples()+w2.Samples() == 200
	})
	if w1.Requests != served["v1"] || w2.Requests != served["v2"] {
		t.Errorf("stats %d/%d, served %v", w1.Requests, w2.Requests, served)
	}
	if w1.ErrorRate() != 0 || w1.Samples() != w1.Requests || w1.Quantile(0.99) <= 0 || w1.Mean() <= 0 {
		t.Errorf("v1 window: rate %v samples %d p99 %v mean %v", w1.ErrorRate(), w1.Samples(), w1.Quantile(0.99), w1.Mean())
	}
	resp, err := c.Get("http://" + o.Admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("metrics: %d", resp.StatusCode)
	}
}

// freeAddr returns a loopback address that was free a moment ago, for Run, which takes addresses.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// The preview address serves the preview version alone, whatever the weights say: a blue-green's
// green is reachable there before any user traffic moves to it.
func TestPreviewAddress(t *testing.T) {
	dir := t.TempDir()
	o := Options{Listen: freeAddr(t), Preview: freeAddr(t), AdminSocket: filepath.Join(dir, "p.sock")}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	cl := NewClient(o.AdminSocket)
	t.Cleanup(cl.CloseIdleConnections)
	waitFor(t, "the proxy to answer on its socket", func() bool { return cl.Healthy(ctx) == nil })
	blue, green := upstream(t, "blue"), upstream(t, "green")
	if err := cl.SetRoutes(ctx, Routes{Generation: 1, Stable: "blue", Preview: "green", Backends: []Backend{
		{Version: "blue", Weight: 100, Endpoints: []string{hostport(blue)}},
		{Version: "green", Weight: 0, Endpoints: []string{hostport(green)}},
	}}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t)
	for i := 0; i < 20; i++ {
		if _, v, _, err := get(t, c, "http://"+o.Listen+"/"); err != nil || v != "blue" {
			t.Fatalf("users reached %q (%v), want blue", v, err)
		}
		if _, v, _, err := get(t, c, "http://"+o.Preview+"/"); err != nil || v != "green" {
			t.Fatalf("the preview address reached %q (%v), want green", v, err)
		}
	}
}
