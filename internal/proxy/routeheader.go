package proxy

import (
	"crypto/subtle"
	"net/http"
	"net/netip"
)

// headerRouteSecret carries the secret that lets a client's X-Hugai-Route be honoured.
const headerRouteSecret = "X-Hugai-Route-Secret"

// HeaderRouting says whose X-Hugai-Route the proxy honours. The zero value honours nobody's: a
// client of the public address must not reach a version that is not released (a blue-green's
// green before its smoke test, a canary being judged) just by asking.
type HeaderRouting struct {
	// Secret, when set, is the value X-Hugai-Route-Secret must carry (compared in constant time).
	Secret string
	// AllowFrom are the client addresses whose X-Hugai-Route is honoured without the secret.
	AllowFrom []netip.Prefix
}

// On says whether anyone may route by header.
func (h HeaderRouting) On() bool { return h.Secret != "" || len(h.AllowFrom) > 0 }

// isRouteHeader names the headers that are the proxy's, never forwarded.
func isRouteHeader(k string) bool { return k == headerRoute || k == headerRouteSecret }

// routeOf is the route r asks for and may take: its X-Hugai-Route when the secret or its address
// allows it, else "" (routed by weight, as if it had asked nothing).
func (p *Proxy) routeOf(r *http.Request) string {
	rv := r.Header[headerRoute]
	if len(rv) == 0 {
		return ""
	}
	hr := &p.opts.HeaderRouting
	if hr.Secret != "" {
		if sv := r.Header[headerRouteSecret]; len(sv) > 0 && subtle.ConstantTimeCompare([]byte(sv[0]), []byte(hr.Secret)) == 1 {
			return rv[0]
		}
	}
	if len(hr.AllowFrom) > 0 {
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			a := ap.Addr().Unmap()
			for _, pf := range hr.AllowFrom {
				if pf.Contains(a) {
					return rv[0]
				}
			}
		}
	}
	return ""
}
