package server_test

import (
	"context"
	"testing"

	"github.com/hugai-dev/hugai/internal/client"
	"github.com/hugai-dev/hugai/internal/server/servertest"
)

// BenchmarkInfo is one GET /api/v1/info over a kept-alive connection: on the owner's unix socket
// without the guard, and over TLS with a bearer token through the guard (token lookup by hash in
// SQLite, the route's role in every environment). The difference is what authentication costs.
func BenchmarkInfo(b *testing.B) {
	b.Run("unix-unguarded", func(b *testing.B) {
		h := servertest.NewHarness(b, governedYAML)
		c := client.New(h.Socket())
		defer c.Close()
		ctx := context.Background()
		b.ResetTimer()
		for range b.N {
			if _, err := c.Info(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tls-token-guarded", func(b *testing.B) {
		s := newTCPServerB(b)
		c, err := client.NewTCP(s.url, client.TCPOptions{Token: s.secrets["viewer"], Fingerprint: s.fingerprint})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		ctx := context.Background()
		b.ResetTimer()
		for range b.N {
			if _, err := c.Info(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
