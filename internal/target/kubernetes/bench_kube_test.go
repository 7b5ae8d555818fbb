//go:build e2e && kube

package kubernetes

import (
	"context"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/hugai-dev/hugai/internal/eventually"
	"github.com/hugai-dev/hugai/internal/target"
)

// BenchmarkTarget times what the engine asks of the target on every tick (Status) and on a
// weight change (Route), mid-canary with two versions of 2 pods each, against the real API
// server on loopback: the cost per service per tick.
func BenchmarkTarget(b *testing.B) {
	cl := startCluster(b)
	ctx := context.Background()
	// The peers: one read and one write of the API server, what each of the target's calls is
	// made of.
	pw := newWorld(b, cl, httpRoute)
	b.Run("Peer/OneGet", func(b *testing.B) {
		for b.Loop() {
			var d appsv1.Deployment
			if err := pw.c.Get(ctx, key(pw.ns, "demo"), &d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Peer/OneUpdate", func(b *testing.B) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "peer-", Namespace: pw.ns}, Data: map[string]string{"n": "0"}}
		if err := pw.c.Create(ctx, cm); err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			i++
			cm.Data["n"] = strconv.Itoa(i)
			if err := pw.c.Update(ctx, cm); err != nil {
				b.Fatal(err)
			}
		}
	})
	// An update of the HTTPRoute alone: the API server validates it against the Gateway API's
	// CRD, whose schema carries many CEL rules.
	b.Run("Peer/HTTPRouteUpdate", func(b *testing.B) {
		i := int32(0)
		for b.Loop() {
			var hr gatewayv1.HTTPRoute
			if err := pw.c.Get(ctx, key(pw.ns, "demo"), &hr); err != nil {
				b.Fatal(err)
			}
			i++
			hr.Spec.Rules[1].BackendRefs[0].Weight = &i
			if err := pw.c.Update(ctx, &hr); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, rk := range []router{httpRoute, istio, noRouter} {
		name := map[router]string{httpRoute: "HTTPRoute", istio: "Istio", noRouter: "ReplicaRatio"}[rk]
		w := newWorld(b, cl, rk)
		tg := w.target(b)
		for _, v := range []string{"v1", "v2"} {
			if err := tg.Deploy(ctx, target.Revision{Version: v}, 2); err != nil {
				b.Fatal(err)
			}
		}
		eventually.True(b, 15*time.Second, "both ready", func() bool {
			st, err := tg.Status(ctx)
			return err == nil && st.Revisions["v1"].Ready == 2 && st.Revisions["v2"].Ready >= 1
		})
		b.Run(name+"/Status", func(b *testing.B) {
			for b.Loop() {
				if _, err := tg.Status(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/Route", func(b *testing.B) {
			i := 0
			for b.Loop() {
				cw := []int{5, 25, 50}[i%3]
				i++
				if err := tg.Route(ctx, target.Routing{Weights: map[string]int{"v1": 100 - cw, "v2": cw}, Stable: "v1", Canary: "v2"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
