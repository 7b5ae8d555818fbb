package proxy

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// failingHealth is a version that fails every health check with a gRPC error (and an HTTP 200,
// as gRPC always answers), leaving a trailer of its own to check that trailers pass.
type failingHealth struct {
	healthpb.UnimplementedHealthServer
}

func (failingHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	grpc.SetTrailer(ctx, metadata.Pairs("x-version-trailer", "v2"))
	return nil, status.Error(codes.Internal, "v2 is broken")
}

// grpcUpstream serves the health service on a loopback port (h2c, as gRPC servers speak without
// TLS) and stops with the test.
func grpcUpstream(t *testing.T, hs healthpb.HealthServer) string {
	t.Helper()
	l := listen(t)
	s := grpc.NewServer()
	healthpb.RegisterHealthServer(s, hs)
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return l.Addr().String()
}

// TestGRPCThroughProxy sends grpc-go's health checks through the proxy at 95/5 to a healthy v1 and
// a failing v2: every call gets its own version's status and trailers, and the proxy counts v2's
// calls as errors although every one of them was an HTTP 200. A server stream (Watch) is delivered
// message by message.
func TestGRPCThroughProxy(t *testing.T) {
	t.Parallel()
	good := health.NewServer()
	v1 := grpcUpstream(t, good)
	v2 := grpcUpstream(t, failingHealth{})
	tp := startProxy(t, Options{})
	setRoutes(t, tp, Routes{Generation: 1, Stable: "v1", Canary: "v2", Backends: []Backend{
		{Version: "v1", Weight: 95, Endpoints: []string{v1}, Protocol: ProtocolH2C},
		{Version: "v2", Weight: 5, Endpoints: []string{v2}, Protocol: ProtocolH2C},
	}})
	conn, err := grpc.NewClient(strings.TrimPrefix(tp.url, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const n = 1000
	calls := map[string]int{}
	for i := range n {
		var hdr, tr metadata.MD
		resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&hdr), grpc.Trailer(&tr))
		v := strings.Join(hdr.Get(headerVersion), ",")
		if v == "" {
			// A call failed at once is answered trailers-only (one HEADERS frame): the proxy's
			// header arrives among the trailers.
			v = strings.Join(tr.Get(headerVersion), ",")
		}
		calls[v]++
		switch v {
		case "v1":
			if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Fatalf("call %d to v1: %v %v", i, resp, err)
			}
		case "v2":
			if status.Code(err) != codes.Internal || strings.Join(tr.Get("x-version-trailer"), ",") != "v2" {
				t.Fatalf("call %d to v2: %v, trailer %v; want Internal and v2's trailer", i, err, tr)
			}
		default:
			t.Fatalf("call %d answered by %q: %v", i, v, err)
		}
	}
	// Binomial sd at p=0.05, n=1000 is 0.69%; 3% is more than four of them.
	if share := float64(calls["v2"]) / n; math.Abs(share-0.05) > 0.03 {
		t.Errorf("v2 got %.1f%% of the calls, want 5%% ± 3%%: %v", share*100, calls)
	}
	for v, c := range map[string]*counters{"v1": tp.hist.counters("v1"), "v2": tp.hist.counters("v2")} {
		want := uint64(0)
		if v == "v2" {
			want = uint64(calls["v2"])
		}
		if got := c.grpcErrors.Load(); got != want {
			t.Errorf("%s: %d gRPC errors counted, want %d", v, got, want)
		}
		if got := c.requests.Load(); got != uint64(calls[v]) {
			t.Errorf("%s: %d requests counted, %d made", v, got, calls[v])
		}
		if c.errors5xx.Load() != 0 {
			t.Errorf("%s: 5xx counted for gRPC answers that were all 200", v)
		}
	}
	waitFor(t, "the calls to be in the per-second history", func() bool {
		w := tp.hist.stats(time.Time{}).Window("v2", time.Unix(0, 0), time.Now().Add(time.Hour))
		return w.Requests == uint64(calls["v2"]) && w.ErrorRate() == 100
	})

	// A server stream through the proxy, pinned to v1 by X-Hugai-Route: each status change
	// arrives while the stream is open.
	wctx := metadata.AppendToOutgoingContext(ctx, headerRoute, "stable")
	watch, err := client.Watch(wctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []healthpb.HealthCheckResponse_ServingStatus{healthpb.HealthCheckResponse_SERVING, healthpb.HealthCheckResponse_NOT_SERVING} {
		m, err := watch.Recv()
		if err != nil || m.GetStatus() != want {
			t.Fatalf("watch: %v %v, want %v", m, err, want)
		}
		good.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	}
}
