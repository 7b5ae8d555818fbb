package proxy

import (
	"bytes"
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWeightsHonoured(t *testing.T) {
	tp := startProxy(t, Options{})
	v1a, v1b, v2 := upstream(t, "v1"), upstream(t, "v1"), upstream(t, "v2")
	setRoutes(t, tp, Routes{Generation: 1, Stable: "v1", Canary: "v2", Backends: []Backend{
		{Version: "v1", Weight: 80, Endpoints: []string{hostport(v1a), hostport(v1b)}},
		{Version: "v2", Weight: 20, Endpoints: []string{hostport(v2)}},
	}})
	c := newClient(t)
	const n = 4000
	count := map[string]int{}
	for i := 0; i < n; i++ {
		code, v, body, err := get(t, c, tp.url+"/x")
		if err != nil || code != 200 || v != body {
			t.Fatalf("request %d: %d %q %q %v", i, code, v, body, err)
		}
		count[v]++
	}
	// Binomial sd at p=0.2, n=4000 is 0.63%; 3% is almost five of them.
	if share := float64(count["v2"]) / n; math.Abs(share-0.2) > 0.03 {
		t.Errorf("v2 got %.1f%% of requests, want 20%% ± 3%%: %v", share*100, count)
	}
	w := tp.hist.counters("v1")
	if got := w.requests.Load(); got != uint64(count["v1"]) {
		t.Errorf("v1 counted %d requests, served %d", got, count["v1"])
	}
}

func TestHeaderRoutes(t *testing.T) {
	tp := startProxy(t, Options{})
	v1, v2, v3 := upstream(t, "v1"), upstream(t, "v2"), upstream(t, "v3")
	setRoutes(t, tp, Routes{Generation: 1, Stable: "v1", Canary: "v2", Preview: "v3", Backends: []Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{hostport(v1)}},
		{Version: "v2", Weight: 0, Endpoints: []string{hostport(v2)}},
		{Version: "v3", Weight: 0, Endpoints: []string{hostport(v3)}},
	}})
	c := newClient(t)
	for route, want := range map[string]string{"stable": "v1", "canary": "v2", "preview": "v3", "bogus": "v1", "": "v1"} {
		for i := 0; i < 20; i++ {
			code, v, body, err := get(t, c, tp.url+"/", "X-Hugai-Route", route)
			if err != nil || code != 200 || v != want || body != want {
				t.Fatalf("route %q: %d %q %q %v, want %s", route, code, v, body, err, want)
			}
		}
	}
}

func TestVersionHeaderOnProxyAnswers(t *testing.T) {
	tp := startProxy(t, Options{})
	c := newClient(t)
	if code, v, _, _ := get(t, c, tp.url+"/"); code != 503 || v != "none" {
		t.Errorf("no routes: %d %q, want 503 none", code, v)
	}
	fail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(fail.Close)
	dead1, dead2 := deadAddr(t), deadAddr(t)
	setRoutes(t, tp, Routes{Generation: 1, Canary: "bad", Stable: "v1", Backends: []Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{hostport(fail)}},
		{Version: "bad", Weight: 0, Endpoints: []string{dead1, dead2}},
	}})
	if code, v, _, _ := get(t, c, tp.url+"/"); code != 500 || v != "v1" {
		t.Errorf("upstream 500: %d %q, want 500 v1", code, v)
	}
	if code, v, _, _ := get(t, c, tp.url+"/", "X-Hugai-Route", "canary"); code != 502 || v != "bad" {
		t.Errorf("dead canary: %d %q, want 502 bad", code, v)
	}
	// Both tries failed, so both endpoints are out of rotation: the proxy answers 503 at once, still naming it.
	if code, v, _, _ := get(t, c, tp.url+"/", "X-Hugai-Route", "canary"); code != 503 || v != "bad" {
		t.Errorf("canary out of rotation: %d %q, want 503 bad", code, v)
	}
	st := tp.hist.counters("v1")
	if st.errors5xx.Load() != 1 || st.requests.Load() != 1 {
		t.Errorf("v1 counters: 5xx %d requests %d, want 1 and 1", st.errors5xx.Load(), st.requests.Load())
	}
	if got := tp.hist.counters("bad").connFailures.Load(); got != 2 {
		t.Errorf("bad conn failures %d, want 2", got)
	}
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	l := listen(t)
	a := l.Addr().String()
	l.Close()
	return a
}

func TestRouteSwapsUnderLoad(t *testing.T) {
	tp := startProxy(t, Options{})
	v1, v2 := upstream(t, "v1"), upstream(t, "v2")
	routes := func(gen int64, w int) Routes {
		return Routes{Generation: gen, Stable: "v1", Canary: "v2", Backends: []Backend{
			{Version: "v1", Weight: 100 - w, Endpoints: []string{hostport(v1)}},
			{Version: "v2", Weight: w, Endpoints: []string{hostport(v2)}},
		}}
	}
	setRoutes(t, tp, routes(1, 0))
	c := newClient(t)
	var stop atomic.Bool
	var ok, bad atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				code, v, body, err := get(t, c, tp.url+"/")
				if err != nil || code != 200 || v != body {
					bad.Add(1)
					t.Errorf("request failed: %d %q %q %v", code, v, body, err)
					return
				}
				ok.Add(1)
			}
		}()
	}
	for i := 1; i <= 100; i++ {
		setRoutes(t, tp, routes(int64(i+1), (i*37)%101))
		target := ok.Load() + 10
		waitFor(t, "requests between swaps", func() bool { return ok.Load() >= target || bad.Load() > 0 })
	}
	stop.Store(true)
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d requests failed during route swaps", bad.Load())
	}
	t.Logf("%d requests across 100 swaps", ok.Load())
}

func TestKilledUpstreamIsDroppedAndRetried(t *testing.T) {
	tp := startProxy(t, Options{})
	a, b := upstream(t, "v1"), upstream(t, "v1")
	aAddr := hostport(a)
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{aAddr, hostport(b)}},
	}})
	c := newClient(t)
	for i := 0; i < 10; i++ {
		if code, _, _, err := get(t, c, tp.url+"/"); code != 200 {
			t.Fatalf("warm-up: %d %v", code, err)
		}
	}
	a.Close() // the replica dies: its listener and connections are gone
	for i := 0; i < 200; i++ {
		code, v, _, err := get(t, c, tp.url+"/")
		if err != nil || code != 200 || v != "v1" {
			t.Fatalf("request %d after the kill: %d %q %v", i, code, v, err)
		}
	}
	if got := tp.hist.counters("v1").connFailures.Load(); got == 0 {
		t.Error("no connection failure counted for the killed replica")
	}
	ep := tp.table.Load().backends[0].endpoints[0]
	if !ep.down.Load() {
		t.Fatal("killed replica still in rotation")
	}

	// The replica comes back on the same address: the background probe puts it back in rotation.
	var hits atomic.Int64
	l, err := net.Listen("tcp", aAddr)
	if err != nil {
		t.Skipf("cannot listen again on %s: %v", aAddr, err)
	}
	back := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.WriteString(w, "v1")
	})}
	go back.Serve(l)
	t.Cleanup(func() { back.Close() })
	waitFor(t, "the probe to revive the replica", func() bool { return !ep.down.Load() })
	for i := 0; i < 20; i++ {
		get(t, c, tp.url+"/")
	}
	if hits.Load() == 0 {
		t.Error("revived replica got no traffic")
	}
}

func TestDialFailureRetriesWithBody(t *testing.T) {
	tp := startProxy(t, Options{})
	var got atomic.Value
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
		io.WriteString(w, "ok")
	}))
	t.Cleanup(echo.Close)
	// The dead endpoint is listed once per live one, so half of the first picks hit it.
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{deadAddr(t), hostport(echo)}},
	}})
	c := newClient(t)
	for i := 0; i < 4; i++ {
		payload := strings.Repeat("x", 1000) + string(rune('a'+i))
		resp, err := c.Post(tp.url+"/", "text/plain", bytes.NewBufferString(payload))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || got.Load() != payload {
			t.Fatalf("post %d: %d, upstream got %d bytes", i, resp.StatusCode, len(got.Load().(string)))
		}
	}
}

func TestOtherVersionTakesOverWhenOneHasNoReplica(t *testing.T) {
	tp := startProxy(t, Options{})
	v2 := upstream(t, "v2")
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{
		{Version: "v1", Weight: 50, Endpoints: []string{deadAddr(t)}},
		{Version: "v2", Weight: 50, Endpoints: []string{hostport(v2)}},
	}})
	c := newClient(t)
	for i := 0; i < 100; i++ {
		if code, v, _, err := get(t, c, tp.url+"/"); code != 200 || v != "v2" {
			t.Fatalf("request %d: %d %q %v", i, code, v, err)
		}
	}
	if got := tp.hist.counters("v1").connFailures.Load(); got != 1 {
		t.Errorf("v1 conn failures %d, want 1 (then out of rotation)", got)
	}
}

func TestHoldUntilRoutesArrive(t *testing.T) {
	tp := startProxy(t, Options{})
	v1 := upstream(t, "v1")
	setRoutes(t, tp, Routes{Generation: 1, HoldTimeout: time.Minute, Backends: []Backend{
		{Version: "v1", Weight: 0},
	}})
	c := newClient(t)
	type result struct {
		code int
		v    string
	}
	res := make(chan result, 1)
	go func() {
		code, v, _, _ := get(t, c, tp.url+"/")
		res <- result{code, v}
	}()
	waitFor(t, "the request to be held", func() bool { return tp.held.Load() == 1 })
	setRoutes(t, tp, Routes{Generation: 2, HoldTimeout: time.Minute, Backends: []Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{hostport(v1)}},
	}})
	if r := <-res; r.code != 200 || r.v != "v1" {
		t.Fatalf("held request: %d %q, want 200 v1", r.code, r.v)
	}
}

func TestHoldTimesOut(t *testing.T) {
	tp := startProxy(t, Options{})
	setRoutes(t, tp, Routes{Generation: 1, HoldTimeout: 100 * time.Millisecond, Backends: []Backend{
		{Version: "v1", Weight: 0},
	}})
	code, v, _, err := get(t, newClient(t), tp.url+"/")
	if err != nil || code != 503 || v != "none" {
		t.Fatalf("got %d %q %v, want 503 none", code, v, err)
	}
}

func TestStopFinishesHeldRequests(t *testing.T) {
	tp := startProxy(t, Options{})
	setRoutes(t, tp, Routes{Generation: 1, HoldTimeout: time.Hour, Backends: []Backend{{Version: "v1"}}})
	res := make(chan int, 1)
	go func() {
		code, _, _, _ := get(t, newClient(t), tp.url+"/")
		res <- code
	}()
	waitFor(t, "the request to be held", func() bool { return tp.held.Load() == 1 })
	if err := tp.stop(); err != nil {
		t.Fatal(err)
	}
	if code := <-res; code != 503 {
		t.Fatalf("held request at shutdown: %d, want 503", code)
	}
}

func TestClientGoneIsNotAnUpstreamFailure(t *testing.T) {
	tp := startProxy(t, Options{})
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{hostport(slow)}},
	}})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tp.url+"/", nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := newClient(t).Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-arrived
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("cancelled request succeeded")
	}
	// Stopping waits for every handler to return, so the error path has run by then.
	if err := tp.stop(); err != nil {
		t.Fatal(err)
	}
	if n := tp.hist.counters("v1").connFailures.Load(); n != 0 {
		t.Errorf("client cancellation counted as %d upstream connection failures", n)
	}
	if tp.table.Load().backends[0].endpoints[0].down.Load() {
		t.Error("client cancellation took the upstream out of rotation")
	}
}

func TestInFlightRequestFinishesWhereItStarted(t *testing.T) {
	tp := startProxy(t, Options{})
	arrived := make(chan struct{})
	release := make(chan struct{})
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		io.WriteString(w, "v1")
	}))
	t.Cleanup(old.Close)
	v2 := upstream(t, "v2")
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{hostport(old)}},
	}})
	type result struct {
		code    int
		v, body string
	}
	res := make(chan result, 1)
	go func() {
		code, v, body, _ := get(t, newClient(t), tp.url+"/")
		res <- result{code, v, body}
	}()
	<-arrived
	// v1 is rolled away while its request is in flight.
	setRoutes(t, tp, Routes{Generation: 2, Backends: []Backend{
		{Version: "v2", Weight: 100, Endpoints: []string{hostport(v2)}},
	}})
	if code, v, _, _ := get(t, newClient(t), tp.url+"/"); code != 200 || v != "v2" {
		t.Fatalf("new request after the swap: %d %q", code, v)
	}
	close(release)
	if r := <-res; r.code != 200 || r.v != "v1" || r.body != "v1" {
		t.Fatalf("in-flight request: %+v, want 200 from v1", r)
	}
}

// A held request's wait is the proxy's, not the version's: the version's latency is counted from
// when the request went to it, so a first deploy or a recreate is not judged slow for its start.
func TestHeldTimeIsNotTheVersionsLatency(t *testing.T) {
	tp := startProxy(t, Options{})
	v1 := upstream(t, "v1")
	setRoutes(t, tp, Routes{Generation: 1, HoldTimeout: time.Minute, Backends: []Backend{{Version: "v1", Weight: 0}}})
	from := time.Now()
	res := make(chan int, 1)
	go func() {
		code, _, _, _ := get(t, newClient(t), tp.url+"/")
		res <- code
	}()
	waitFor(t, "the request to be held", func() bool { return tp.held.Load() == 1 })
	time.Sleep(1500 * time.Millisecond) // held, as while a first version starts
	setRoutes(t, tp, Routes{Generation: 2, HoldTimeout: time.Minute, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{hostport(v1)}}}})
	if code := <-res; code != 200 {
		t.Fatalf("held request: %d", code)
	}
	var w Window
	waitFor(t, "the answer's second in the history", func() bool {
		w = tp.hist.stats(from).Window("v1", from.Truncate(time.Second), time.Now().Add(time.Hour))
		return w.Requests == 1
	})
	if q := w.Quantile(1); q > 500*time.Millisecond {
		t.Fatalf("v1's latency %s includes the %s the request was held", q, 1500*time.Millisecond)
	}
}
