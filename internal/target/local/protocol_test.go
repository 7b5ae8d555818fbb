package local

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/proxy"
	"github.com/hugai-dev/hugai/internal/target"
)

// TestUpstreamH2C runs replicas that speak HTTP/2 with prior knowledge only (as gRPC servers do):
// with UpstreamProtocol h2c the readiness probe and the proxy both speak it, so the version becomes
// ready and the users' HTTP/1.1 requests reach it in HTTP/2.
func TestUpstreamH2C(t *testing.T) {
	t.Parallel()
	o := testOptions(t, t.TempDir())
	o.UpstreamProtocol = proxy.ProtocolH2C
	ctx := context.Background()
	tg := newTarget(t, o)
	if err := tg.Deploy(ctx, target.Revision{Version: "h2c-only"}, 1); err != nil {
		t.Fatal(err)
	}
	if err := tg.Route(ctx, target.Routing{Weights: map[string]int{"h2c-only": 100}, Stable: "h2c-only"}); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	waitUntil(t, 15*time.Second, "served by the h2c-only replica over HTTP/2", func() bool {
		resp, err := c.Get("http://" + o.Listen + "/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode == 200 && resp.Header.Get("X-Hugai-Version") == "h2c-only" &&
			resp.Header.Get("X-Demo-Proto") == "HTTP/2.0"
	})
}

func TestUnknownUpstreamProtocolRefused(t *testing.T) {
	t.Parallel()
	o := testOptions(t, t.TempDir())
	o.UpstreamProtocol = "spdy"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if tg, err := New(ctx, o); err == nil {
		shutdown(t, tg)
		t.Fatal("a target with upstream protocol spdy started")
	}
}

// TestRouteCutReachesTheProxy: a rollback's Cut goes to the proxy with the routes (so it ends the
// bad version's streams at once), and a cut version that still has weight is refused.
func TestRouteCutReachesTheProxy(t *testing.T) {
	t.Parallel()
	o := testOptions(t, t.TempDir())
	ctx := context.Background()
	tg := newTarget(t, o)
	r := target.Routing{Weights: map[string]int{"good1": 100, "good2": 0}, Stable: "good1", Cut: []string{"good2"}}
	if err := tg.Route(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := tg.client.Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Cut) != 1 || got.Cut[0] != "good2" {
		t.Errorf("the proxy's routes cut %v, want [good2]", got.Cut)
	}
	r.Weights = map[string]int{"good1": 50, "good2": 50}
	if err := tg.Route(ctx, r); err == nil {
		t.Error("a cut version with weight 50 was routed to")
	}
}
