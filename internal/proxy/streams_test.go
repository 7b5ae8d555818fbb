package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

// eventUpstream streams "data: <version> <n>" every 20 ms until the client goes away.
func eventUpstream(t *testing.T, version string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, "data: %s %d\n\n", version, i); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// events opens an event stream through the proxy and returns a channel of its lines, closed with
// the error that ended it.
func events(t *testing.T, url string, hdr ...string) (<-chan string, *error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	lines := make(chan string, 1024)
	var end error
	go func() {
		defer close(lines)
		br := bufio.NewReader(resp.Body)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				end = err
				return
			}
			if l != "\n" {
				lines <- strings.TrimSpace(l)
			}
		}
	}()
	return lines, &end
}

// endsWithin drains lines until the stream ends and returns when it did; it fails past limit.
func endsWithin(t *testing.T, lines <-chan string, limit time.Duration) time.Time {
	t.Helper()
	timeout := time.After(limit)
	for {
		select {
		case _, ok := <-lines:
			if !ok {
				return time.Now()
			}
		case <-timeout:
			t.Fatalf("the stream still runs %s later", limit)
		}
	}
}

// TestEventStreamsCutOnRollbackDrainOnStop: an event stream is a stream like a WebSocket: it stays
// on its version through a weight change, drains when its endpoint leaves the routes, and is cut
// at once, as an error and never as a clean end, when its version is rolled back.
func TestEventStreamsCutOnRollbackDrainOnStop(t *testing.T) {
	t.Parallel()
	tp := startProxy(t, Options{})
	v1, v2 := eventUpstream(t, "v1"), eventUpstream(t, "v2")
	setRoutes(t, tp, Routes{Generation: 1, Stable: "v1", Canary: "v2", Backends: []Backend{
		{Version: "v1", Weight: 50, Endpoints: []string{hostport(v1)}},
		{Version: "v2", Weight: 50, Endpoints: []string{hostport(v2)}},
	}})
	onV1, _ := events(t, tp.url+"/", headerRoute, "stable")
	onV2, v2end := events(t, tp.url+"/", headerRoute, "canary")
	if l := <-onV2; !strings.HasPrefix(l, "data: v2 ") {
		t.Fatalf("canary stream: %q", l)
	}
	setRoutes(t, tp, Routes{Generation: 2, Stable: "v1", Canary: "v2", Backends: []Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{hostport(v1)}},
		{Version: "v2", Weight: 0, Endpoints: []string{hostport(v2)}},
	}})
	time.Sleep(100 * time.Millisecond)
	select {
	case _, ok := <-onV2:
		if !ok {
			t.Fatal("a weight change ended the canary's stream")
		}
	default:
		t.Fatal("the canary's stream stopped after a weight change")
	}
	cut := time.Now()
	setRoutes(t, tp, Routes{Generation: 3, Stable: "v1", Cut: []string{"v2"}, Backends: []Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{hostport(v1)}},
		{Version: "v2", Weight: 0, Endpoints: []string{hostport(v2)}},
	}})
	if d := endsWithin(t, onV2, 5*time.Second).Sub(cut); d > time.Second {
		t.Errorf("the rolled-back stream ended %s after the rollback", d)
	}
	if *v2end == io.EOF {
		t.Error("the cut stream ended as if complete")
	}

	// v1 leaves the routes (v3 takes over): its stream drains for the drain timeout, then ends.
	v3 := eventUpstream(t, "v3")
	stopped := time.Now()
	setRoutes(t, tp, Routes{Generation: 4, Stable: "v3", DrainTimeout: 600 * time.Millisecond, Backends: []Backend{
		{Version: "v3", Weight: 100, Endpoints: []string{hostport(v3)}},
	}})
	if d := endsWithin(t, onV1, 5*time.Second).Sub(stopped); d < 600*time.Millisecond {
		t.Errorf("the stopped version's stream ended %s after the stop, before the drain timeout", d)
	}
	waitFor(t, "no open stream", func() bool { return tp.streams.open() == 0 })
}

// TestGRPCStreamCutOnRollback holds a gRPC server stream (health Watch) to the canary over HTTP/2
// and rolls the canary back: the call ends with an error at once.
func TestGRPCStreamCutOnRollback(t *testing.T) {
	t.Parallel()
	v1, v2 := grpcUpstream(t, health.NewServer()), grpcUpstream(t, health.NewServer())
	tp := startProxy(t, Options{})
	setRoutes(t, tp, Routes{Generation: 1, Stable: "v1", Canary: "v2", Backends: []Backend{
		{Version: "v1", Weight: 90, Endpoints: []string{v1}, Protocol: ProtocolH2C},
		{Version: "v2", Weight: 10, Endpoints: []string{v2}, Protocol: ProtocolH2C},
	}})
	conn, err := grpc.NewClient(strings.TrimPrefix(tp.url, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	watch, err := healthpb.NewHealthClient(conn).Watch(metadata.AppendToOutgoingContext(ctx, headerRoute, "canary"), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := watch.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("watch: %v %v", m, err)
	}
	cut := time.Now()
	setRoutes(t, tp, Routes{Generation: 2, Stable: "v1", Cut: []string{"v2"}, Backends: []Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{v1}, Protocol: ProtocolH2C},
		{Version: "v2", Weight: 0, Endpoints: []string{v2}, Protocol: ProtocolH2C},
	}})
	if _, err := watch.Recv(); err == nil {
		t.Fatal("the watch on the rolled-back version goes on")
	}
	if d := time.Since(cut); d > 2*time.Second {
		t.Errorf("the watch ended %s after the rollback", d)
	}
}

// TestBrokenBodyIsNotAComplete: an upstream that dies in the middle of a chunked body must not
// have it end, at the client, as a complete body.
func TestBrokenBodyIsNotAComplete(t *testing.T) {
	t.Parallel()
	l := listen(t)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				bufio.NewReader(c).ReadString('\n') // the request line is enough
				time.Sleep(20 * time.Millisecond)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
			}(c)
		}
	}()
	tp := startProxy(t, Options{})
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{l.Addr().String()}}}})
	for _, proto := range []string{ProtocolHTTP1, ProtocolH2C} {
		resp, err := clientFor(t, proto, nil).Get(tp.url + "/")
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("%s client: the broken body %q ended cleanly", proto, b)
		}
	}
}
