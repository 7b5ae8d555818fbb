package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The rate holds when the sending goroutine is starved of CPU: busy goroutines on one P delay
// it by tens of milliseconds at a time, and a ticker drops the ticks it missed (this sent a
// third of the rate before the count of requests due).
func TestRateHoldsWhenStarved(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Hugai-Version", "v1")
	}))
	defer srv.Close()
	var stop atomic.Bool
	var hogs sync.WaitGroup
	for range 4 {
		hogs.Add(1)
		go func() {
			defer hogs.Done()
			for !stop.Load() {
			}
		}()
	}
	run := Start(context.Background(), srv.URL, 100)
	time.Sleep(2 * time.Second)
	sum := run.Stop()
	stop.Store(true)
	hogs.Wait()
	if sum.Sent < 180 || sum.Sent > 220 {
		t.Errorf("sent %d requests in 2 s at 100/s, want 180-220 (%+v)", sum.Sent, sum)
	}
}
