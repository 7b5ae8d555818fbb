package kubernetes

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"

	"github.com/hugai-dev/hugai/internal/target"
)

// The VirtualService is read and written as unstructured JSON: Istio's Go module (istio.io/api
// and istio.io/client-go) is large and pins much of Kubernetes, while hugai touches only the http
// routes' names, matches and destinations. Fields it does not know (retries, timeouts, mirrors,
// the user's tcp and tls routes) round-trip untouched.
var virtualServiceGVK = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"}

// Istio's API asks for header keys in lowercase (HTTPMatchRequest.headers: "must be lowercase
// and use hyphen as the separator").
var (
	istioRouteHeader       = strings.ToLower(RouteHeader)
	istioRouteSecretHeader = strings.ToLower(RouteSecretHeader)
)

func (t *Target) getVirtualService(ctx context.Context) (*unstructured.Unstructured, error) {
	vs := &unstructured.Unstructured{}
	vs.SetGroupVersionKind(virtualServiceGVK)
	if err := t.c.Get(ctx, t.key(t.opts.VirtualService), vs); err != nil {
		return nil, fmt.Errorf("virtualservice %s/%s: %w", t.opts.Namespace, t.opts.VirtualService, err)
	}
	return vs, nil
}

// httpRoutes is the VirtualService's spec.http, each route a JSON object.
func httpRoutes(vs *unstructured.Unstructured) ([]map[string]any, error) {
	raw, _, err := unstructured.NestedSlice(vs.Object, "spec", "http")
	if err != nil {
		return nil, fmt.Errorf("virtualservice %s: spec.http: %w", vs.GetName(), err)
	}
	out := make([]map[string]any, 0, len(raw))
	for i, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("virtualservice %s: spec.http[%d] is not an object", vs.GetName(), i)
		}
		out = append(out, m)
	}
	return out, nil
}

func routeName(r map[string]any) string { s, _ := r["name"].(string); return s }

// isHeaderRoute says whether r is one of hugai's X-Hugai-Route routes.
func isHeaderRoute(r map[string]any) bool {
	return slices.ContainsFunc(headerRules, func(h string) bool { return routeName(r) == string(ruleName(h)) })
}

type istioDest struct {
	host   string
	weight int
}

// destinations are a route's destinations as (host, weight) pairs. A missing weight is 100 when
// the destination is alone (Istio's rule), else 0.
func destinations(r map[string]any) []istioDest {
	ds, _ := r["route"].([]any)
	out := make([]istioDest, 0, len(ds))
	for _, d := range ds {
		dm, _ := d.(map[string]any)
		host, _, _ := unstructured.NestedString(dm, "destination", "host")
		w, ok, _ := unstructured.NestedInt64(dm, "weight")
		if !ok && len(ds) == 1 {
			w = 100
		}
		out = append(out, istioDest{host, int(w)})
	}
	return out
}

// serviceOf is the Service a destination host names in this namespace: the short name, or
// name.namespace[.svc[.cluster.local]]. Any other host is "" (not a Service of this namespace).
func (t *Target) serviceOf(host string) string {
	name, rest, found := strings.Cut(host, ".")
	if !found {
		return name
	}
	switch rest {
	case t.opts.Namespace, t.opts.Namespace + ".svc", t.opts.Namespace + ".svc.cluster.local":
		return name
	}
	return ""
}

// drives says whether hugai sets r's destinations: it is named in VirtualServiceRoutes or, with
// none named, every destination of it is the user's Service or a per-version one of hugai's.
func (t *Target) drives(r map[string]any, ours map[string]string) bool {
	if isHeaderRoute(r) {
		return false
	}
	if len(t.opts.VirtualServiceRoutes) > 0 {
		return slices.Contains(t.opts.VirtualServiceRoutes, routeName(r))
	}
	ds := destinations(r)
	if len(ds) == 0 {
		return false
	}
	for _, d := range ds {
		s := t.serviceOf(d.host)
		if _, ok := ours[s]; !ok && (s == "" || s != t.opts.KubeService) {
			return false
		}
	}
	return true
}

// writeVirtualService sets the destinations of the http routes hugai drives to one per routed
// version (host: the version's Service) with its weight, and keeps one route per X-Hugai-Route
// value just before the first of them: Istio takes the first route that matches, so a header
// route after the weighted one would never be reached. Other routes and fields are the user's.
func (t *Target) writeVirtualService(ctx context.Context, r target.Routing) error {
	versions, port, err := t.routerBackends(ctx, r)
	if err != nil {
		return err
	}
	dest := func(v string, w int) any {
		return map[string]any{
			"destination": map[string]any{"host": t.serviceName(v), "port": map[string]any{"number": int64(port)}},
			"weight":      int64(w),
		}
	}
	ours, err := t.versionServices(ctx)
	if err != nil {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		vs, err := t.getVirtualService(ctx)
		if err != nil {
			return err
		}
		routes, err := httpRoutes(vs)
		if err != nil {
			return err
		}
		var out []any
		first := -1 // where the header routes go
		var matches []any
		for _, rt := range routes {
			if isHeaderRoute(rt) {
				continue // rewritten below
			}
			if t.drives(rt, ours) {
				if first < 0 {
					first = len(out)
					matches, _ = rt["match"].([]any)
				}
				if len(versions) > 0 { // nothing routed: the last destinations stay
					var ds []any
					for _, v := range versions {
						ds = append(ds, dest(v, r.Weights[v]))
					}
					rt["route"] = ds
				}
			}
			out = append(out, rt)
		}
		if first < 0 {
			if len(t.opts.VirtualServiceRoutes) > 0 {
				return fmt.Errorf("virtualservice %s/%s has no http route named %s", t.opts.Namespace, t.opts.VirtualService, strings.Join(t.opts.VirtualServiceRoutes, ", "))
			}
			return fmt.Errorf("virtualservice %s/%s has no http route sending to service %s (or to hugai's per-version services)", t.opts.Namespace, t.opts.VirtualService, t.opts.KubeService)
		}
		var header []any
		for _, h := range headerRules {
			v := map[string]string{"stable": r.Stable, "canary": r.Canary, "preview": r.Preview}[h]
			if v == "" || t.opts.RouteSecret == "" {
				continue
			}
			header = append(header, map[string]any{
				"name":  string(ruleName(h)),
				"match": istioHeaderMatches(matches, h, t.opts.RouteSecret),
				// Neither header reaches the version, as on the local proxy.
				"headers": map[string]any{"request": map[string]any{"remove": []any{istioRouteHeader, istioRouteSecretHeader}}},
				"route":   []any{dest(v, 100)},
			})
		}
		out = slices.Insert(out, first, header...)
		if err := unstructured.SetNestedSlice(vs.Object, out, "spec", "http"); err != nil {
			return fmt.Errorf("virtualservice %s: set spec.http: %w", vs.GetName(), err)
		}
		return t.c.Update(ctx, vs)
	})
}

// istioHeaderMatches is the driven route's matches, each also asking for X-Hugai-Route: value and
// the secret, so that the header reaches a version only where the service is routed.
func istioHeaderMatches(base []any, value, secret string) []any {
	hs := map[string]any{
		istioRouteHeader:       map[string]any{"exact": value},
		istioRouteSecretHeader: map[string]any{"exact": secret},
	}
	if len(base) == 0 {
		return []any{map[string]any{"headers": hs}}
	}
	out := make([]any, 0, len(base))
	for _, m := range base {
		mm, _ := runtime.DeepCopyJSONValue(m).(map[string]any)
		if mm == nil {
			mm = map[string]any{}
		}
		headers, _ := mm["headers"].(map[string]any)
		if headers == nil {
			headers = map[string]any{}
		}
		for k, v := range hs {
			headers[k] = runtime.DeepCopyJSONValue(v)
		}
		mm["headers"] = headers
		out = append(out, mm)
	}
	return out
}

// virtualServiceRoutes reads the routing as the VirtualService holds it into out: the weights of
// hugai's destinations in the first route it drives, in percent of that route's total, and which
// version each X-Hugai-Route route reaches.
func (t *Target) virtualServiceRoutes(ctx context.Context, ours map[string]string, out *target.Routing) error {
	vs, err := t.getVirtualService(ctx)
	if err != nil {
		return err
	}
	routes, err := httpRoutes(vs)
	if err != nil {
		return err
	}
	found := false
	for _, rt := range routes {
		if isHeaderRoute(rt) {
			if ds := destinations(rt); len(ds) == 1 {
				v := ours[t.serviceOf(ds[0].host)]
				switch routeName(rt) {
				case string(ruleName("stable")):
					out.Stable = v
				case string(ruleName("canary")):
					out.Canary = v
				case string(ruleName("preview")):
					out.Preview = v
				}
			}
			continue
		}
		if found || !t.drives(rt, ours) {
			continue
		}
		found = true
		total := 0
		raw := map[string]int{}
		for _, d := range destinations(rt) {
			total += d.weight
			if v, ok := ours[t.serviceOf(d.host)]; ok {
				raw[v] += d.weight
			}
		}
		for v, w := range raw {
			if total > 0 {
				out.Weights[v] = (w*100 + total/2) / total
			} else {
				out.Weights[v] = 0
			}
		}
	}
	return nil
}
