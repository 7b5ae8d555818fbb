package local

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/target"
)

// TestChangedProxySettingsTakeOver restarts the target with other proxy settings (header routing
// turned on) under load: the running proxy is not adopted as it is, a new one takes its sockets
// over, no request fails, the old one exits by itself, and the new settings are in force.
func TestChangedProxySettingsTakeOver(t *testing.T) {
	t.Parallel()
	o := testOptions(t, t.TempDir())
	o.RouteAllowFrom = nil // header routing off at first
	ctx := context.Background()
	a, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	current := a
	var curMu sync.Mutex
	t.Cleanup(func() {
		curMu.Lock()
		defer curMu.Unlock()
		shutdown(t, current)
	})
	for _, v := range []string{"good1", "good2"} {
		if err := a.Deploy(ctx, target.Revision{Version: v}, 1); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 15*time.Second, "both ready", func() bool { return readyCount(a, "good1") == 1 && readyCount(a, "good2") == 1 })
	routing := target.Routing{Weights: map[string]int{"good1": 100, "good2": 0}, Stable: "good1", Canary: "good2"}
	if err := a.Route(ctx, routing); err != nil {
		t.Fatal(err)
	}
	do := frontDoor(o.Listen)
	canary := http.Header{"X-Hugai-Route": {"canary"}}
	waitUntil(t, 15*time.Second, "served by good1", func() bool {
		v, s, err := do(ctx, nil)
		return err == nil && s == 200 && v == "good1"
	})
	if v, _, _ := do(ctx, canary); v != "good1" {
		t.Fatalf("header routing is off, yet X-Hugai-Route reached %s", v)
	}
	old := a.proxyPID

	var sent, failed atomic.Int64
	var lastErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				v, s, err := do(ctx, nil)
				sent.Add(1)
				if err != nil || s != http.StatusOK || v != "good1" {
					failed.Add(1)
					lastErr.Store([]any{v, s, err})
				}
			}
		}()
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopLoad)

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	o.RouteAllowFrom = []string{"127.0.0.1"}
	b, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	curMu.Lock()
	current = b
	curMu.Unlock()
	if b.proxyPID.PID == old.PID {
		t.Fatalf("the proxy (pid %d) was adopted although its settings changed", old.PID)
	}
	waitUntil(t, 20*time.Second, "the old proxy to drain and exit", func() bool { return !alive(old.PID, old.StartTime) })
	mark := sent.Load()
	waitUntil(t, 10*time.Second, "requests through the new proxy", func() bool { return sent.Load() > mark+50 })
	stopLoad()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed across the take-over; last: %v", n, sent.Load(), lastErr.Load())
	}
	if v, _, err := do(ctx, canary); err != nil || v != "good2" {
		t.Errorf("the new setting is not in force: X-Hugai-Route: canary reached %s (%v)", v, err)
	}
	got, err := b.client.Routes(ctx)
	if err != nil || got.Canary != "good2" {
		t.Errorf("the routes were not handed over: %+v %v", got, err)
	}
}
