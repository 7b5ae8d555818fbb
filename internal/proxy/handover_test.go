package proxy

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A new proxy takes the running one's sockets over under load: no request fails, the old proxy's
// open WebSocket goes on (and is still cut by a rollback the new one is told of), and the new
// proxy's counters end up holding every request either of them served.
func TestHandOverDropsNothing(t *testing.T) {
	t.Parallel()
	a := startProxy(t, Options{})
	v1, v2 := wsUpstream(t, "v1"), wsUpstream(t, "v2")
	setRoutes(t, a, wsRoutes(1, v1, v2, 100))
	addr := strings.TrimPrefix(a.url, "http://")
	ws := dialWS(t, addr)
	if ws.version != "v1" {
		t.Fatalf("stream on %s", ws.version)
	}

	var ok atomic.Int64
	var mu sync.Mutex
	var failures []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t)
			if i%4 == 0 { // HTTP/2 with prior knowledge: it gets a GOAWAY, not Connection: close
				var protos http.Protocols
				protos.SetUnencryptedHTTP2(true)
				tr := &http.Transport{Protocols: &protos}
				t.Cleanup(tr.CloseIdleConnections)
				c = &http.Client{Transport: tr, Timeout: 30 * time.Second}
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, v, body, err := get(t, c, a.url+"/")
				if err != nil || code != 200 || body != v {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%d %q %q %v", code, v, body, err))
					mu.Unlock()
					continue
				}
				ok.Add(1)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)

	b, err := New(Options{Listen: addr, Admin: strings.TrimPrefix(a.admin, "http://"), AdminSocket: a.socket, TakeOver: true,
		HeaderRouting: HeaderRouting{AllowFrom: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- b.runTakingOver(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("successor: %v", err)
		}
	})
	waitFor(t, "the successor to serve", func() bool { return b.hist.counters("v1").requests.Load() > 100 })
	if got := b.Routes(); got.Generation != 1 {
		t.Errorf("the successor's routes: generation %d, want the handed-over 1", got.Generation)
	}
	if got := ws.echo(t, "still here"); got != "v1:still here" {
		t.Errorf("the old proxy's stream answered %q", got)
	}
	select {
	case <-a.done:
		t.Fatal("the old proxy stopped while its stream was open")
	default:
	}

	// A rollback pushed to the admin socket (the successor's now) reaches the old proxy too.
	rb := wsRoutes(2, v1, v2, 0)
	rb.Stable, rb.Canary, rb.Cut = "v2", "", []string{"v1"}
	rb.Backends = rb.Backends[1:]
	setRoutes(t, a, rb) // a.client dials the socket path, which is b's now
	if got := b.Routes(); got.Generation != 2 {
		t.Fatalf("the successor did not get the routes: generation %d", got.Generation)
	}
	if code := ws.expectClose(t, 5*time.Second); code != closeServiceRestart {
		t.Errorf("the old proxy's stream ended with %d, want %d", code, closeServiceRestart)
	}
	waitFor(t, "the old proxy to finish", func() bool {
		select {
		case <-a.done:
			return true
		default:
			return false
		}
	})
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d requests failed across the hand-over, e.g. %s", len(failures), int(ok.Load())+len(failures), failures[0])
	}
	want := uint64(ok.Load()) + 1 // and the stream's handshake
	waitFor(t, "every request in the successor's counters", func() bool {
		var got uint64
		for _, secs := range b.hist.stats(time.Unix(0, 0)).Versions {
			for _, s := range secs {
				got += s.Requests
			}
		}
		if got != want {
			t.Logf("counted %d of %d", got, want)
		}
		return got == want
	})
}
