//go:build e2e && prometheus

package prometheus

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/eventually"
	"github.com/hugai-dev/hugai/internal/metric/prometheus/promtest"
)

func realPrometheus(t *testing.T, targets ...string) string { return promtest.Start(t, targets...) }

// freePort is a loopback address nobody listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitScraped waits until Prometheus answers expr with a value for which ok holds.
func waitScraped(t *testing.T, base, expr string, ok func(float64) bool) {
	t.Helper()
	p, err := New([]Metric{{Name: "w", Address: base, Query: expr}}, Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	eventually.NoError(t, 30*time.Second, "prometheus has "+expr, func() error {
		now := time.Now()
		v, err := p.Query(context.Background(), queryAt("w", "", now.Add(-time.Second), now))
		switch {
		case err != nil:
			return err
		case v.Err != "":
			return fmt.Errorf("%s", v.Err)
		case !ok(v.Value):
			return fmt.Errorf("value %v", v.Value)
		}
		return nil
	})
}
