package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

// X-Hugai-Route is a privilege: off by default, then honoured with the secret or from an allowed
// address only; a refused one is routed by weight as if it asked nothing. The upstream never sees
// the header or its secret.
func TestRouteHeaderIsAPrivilege(t *testing.T) {
	leaked := make(chan string, 100)
	versioned := func(v string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for _, k := range []string{"X-Hugai-Route", "X-Hugai-Route-Secret"} {
				if r.Header.Get(k) != "" {
					leaked <- k
				}
			}
			fmt.Fprint(w, v)
		}))
		t.Cleanup(s.Close)
		return s
	}
	v1, v2 := versioned("v1"), versioned("v2")
	routes := Routes{Generation: 1, Stable: "v1", Canary: "v2", Backends: []Backend{
		{Version: "v1", Weight: 100, Endpoints: []string{hostport(v1)}},
		{Version: "v2", Weight: 0, Endpoints: []string{hostport(v2)}},
	}}
	other := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name    string
		routing HeaderRouting
		hdr     []string
		want    string
	}{
		{"off", HeaderRouting{AllowFrom: []netip.Prefix{}}, []string{"X-Hugai-Route", "canary"}, "v1"},
		{"off, with a secret", HeaderRouting{AllowFrom: []netip.Prefix{}}, []string{"X-Hugai-Route", "canary", "X-Hugai-Route-Secret", "x"}, "v1"},
		{"secret", HeaderRouting{Secret: "s3cret"}, []string{"X-Hugai-Route", "canary", "X-Hugai-Route-Secret", "s3cret"}, "v2"},
		{"wrong secret", HeaderRouting{Secret: "s3cret"}, []string{"X-Hugai-Route", "canary", "X-Hugai-Route-Secret", "s3cre"}, "v1"},
		{"no secret sent", HeaderRouting{Secret: "s3cret"}, []string{"X-Hugai-Route", "canary"}, "v1"},
		{"allowed address", HeaderRouting{AllowFrom: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, []string{"X-Hugai-Route", "canary"}, "v2"},
		{"another address", HeaderRouting{AllowFrom: other}, []string{"X-Hugai-Route", "canary"}, "v1"},
		{"another address, with the secret", HeaderRouting{Secret: "s3cret", AllowFrom: other}, []string{"X-Hugai-Route", "canary", "X-Hugai-Route-Secret", "s3cret"}, "v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := startProxy(t, Options{HeaderRouting: tc.routing})
			setRoutes(t, tp, routes)
			c := newClient(t)
			for range 10 {
				code, v, _, err := get(t, c, tp.url+"/", tc.hdr...)
				if err != nil || code != 200 || v != tc.want {
					t.Fatalf("%d %q %v, want %s", code, v, err, tc.want)
				}
			}
		})
	}
	select {
	case k := <-leaked:
		t.Fatalf("the upstream saw %s", k)
	default:
	}
}
