package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/hugai-dev/hugai/internal/target"
)

// RouteHeader is the request header whose value (stable, canary, preview) reaches that version
// directly, as on the local target's proxy: with a RouteSecret, hugai adds one HTTPRoute rule per
// name, matching it and RouteSecretHeader.
const (
	RouteHeader       = "X-Hugai-Route"
	RouteSecretHeader = "X-Hugai-Route-Secret"
)

// headerRules names hugai's own HTTPRoute rules, by the header value they match.
var headerRules = []string{"stable", "canary", "preview"}

func ruleName(route string) gatewayv1.SectionName { return gatewayv1.SectionName("hugai-" + route) }

const routingKey = "routing.json"

// routing reads the routing last asked for from its ConfigMap (none yet: empty), once per Target.
func (t *Target) routing(ctx context.Context) (target.Routing, error) {
	t.rmu.Lock()
	defer t.rmu.Unlock()
	if t.recorded == nil {
		data, err := t.readRouting(ctx)
		if err != nil {
			return target.Routing{Weights: map[string]int{}}, err
		}
		t.recorded = &data
	}
	return t.decodeRouting(*t.recorded)
}

// decodeRouting is the routing a ConfigMap's routing.json holds ("": none yet).
func (t *Target) decodeRouting(data string) (target.Routing, error) {
	rt := target.Routing{Weights: map[string]int{}}
	if data != "" {
		if err := json.Unmarshal([]byte(data), &rt); err != nil {
			return rt, fmt.Errorf("routing configmap %s: %w", t.routingName(), err)
		}
	}
	if rt.Weights == nil {
		rt.Weights = map[string]int{}
	}
	return rt, nil
}

// readRouting is the routing ConfigMap's routing.json ("" when there is none), checked.
func (t *Target) readRouting(ctx context.Context) (string, error) {
	var cm corev1.ConfigMap
	if err := t.c.Get(ctx, t.key(t.routingName()), &cm); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("routing configmap %s: %w", t.routingName(), err)
	}
	if !isOwned(cm.Labels, t.opts.Service) {
		return "", fmt.Errorf("configmap %s exists and is not hugai's for %s", t.routingName(), t.opts.Service)
	}
	data := cm.Data[routingKey]
	if _, err := t.decodeRouting(data); err != nil {
		return "", err
	}
	return data, nil
}

func (t *Target) saveRouting(ctx context.Context, rt target.Routing) error {
	b, err := json.Marshal(rt)
	if err != nil {
		return err
	}
	t.rmu.Lock()
	defer t.rmu.Unlock()
	if t.recorded != nil && *t.recorded == string(b) {
		return nil // recorded already
	}
	t.recorded = nil // unknown until the write below is through
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cm corev1.ConfigMap
		err := t.c.Get(ctx, t.key(t.routingName()), &cm)
		if apierrors.IsNotFound(err) {
			cm = corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: t.routingName(), Namespace: t.opts.Namespace, Labels: t.owned()},
				Data:       map[string]string{routingKey: string(b)},
			}
			return t.c.Create(ctx, &cm)
		}
		if err != nil {
			return err
		}
		if !isOwned(cm.Labels, t.opts.Service) {
			return fmt.Errorf("configmap %s exists and is not hugai's for %s", t.routingName(), t.opts.Service)
		}
		if cm.Data[routingKey] == string(b) {
			return nil
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[routingKey] = string(b)
		return t.c.Update(ctx, &cm)
	})
	if err == nil {
		data := string(b)
		t.recorded = &data
	}
	return err
}

// Route records the routing, then writes it where traffic is split: the HTTPRoute's or the
// VirtualService's weights and header rules, or the replica counts; and points the preview Service at the preview version.
// HoldTimeout has no meaning here (a gateway answers at once when a backend has no endpoint).
func (t *Target) Route(ctx context.Context, r target.Routing) error {
	sum := 0
	for v, w := range r.Weights {
		if w < 0 || w > 100 {
			return fmt.Errorf("route: weight %d for %s is outside 0..100", w, v)
		}
		sum += w
	}
	if sum != 100 && sum != 0 {
		return fmt.Errorf("route: weights add up to %d, not 100 (or all zero)", sum)
	}
	for _, v := range r.Cut {
		if r.Weights[v] != 0 {
			return fmt.Errorf("route: %s is cut (judged bad) but has weight %d", v, r.Weights[v])
		}
	}
	r.Weights = maps.Clone(r.Weights)
	if r.Weights == nil {
		r.Weights = map[string]int{}
	}
	if err := t.saveRouting(ctx, r); err != nil {
		return fmt.Errorf("route: save routing: %w", err)
	}
	if t.opts.HTTPRoute != "" {
		if err := t.writeHTTPRoute(ctx, r); err != nil {
			return fmt.Errorf("route: %w", err)
		}
	} else if t.opts.VirtualService != "" {
		if err := t.writeVirtualService(ctx, r); err != nil {
			return fmt.Errorf("route: %w", err)
		}
	} else if err := t.rescale(ctx, r); err != nil {
		return fmt.Errorf("route: %w", err)
	}
	if err := t.writePreview(ctx, r.Preview); err != nil {
		return fmt.Errorf("route: %w", err)
	}
	return nil
}

// routerBackends prepares what a router (HTTPRoute or VirtualService) sends to: the versions
// with a weight, sorted, and the port of the user's Service; every version the routing names
// has its per-version Service.
func (t *Target) routerBackends(ctx context.Context, r target.Routing) ([]string, gatewayv1.PortNumber, error) {
	versions := slices.Sorted(maps.Keys(r.Weights))
	named := append(slices.Clone(versions), r.Stable, r.Canary, r.Preview)
	slices.Sort(named)
	for _, v := range slices.Compact(named) {
		if v != "" {
			if err := t.ensureVersionService(ctx, v); err != nil {
				return nil, 0, err
			}
		}
	}
	port, err := t.servicePort(ctx)
	return versions, port, err
}

// writeHTTPRoute sets the backends of the HTTPRoute's rules that send to this service (those
// naming the user's Service or hugai's per-version ones) to one per routed version with its
// weight, and keeps one rule per X-Hugai-Route value. Other rules are the user's and left alone.
func (t *Target) writeHTTPRoute(ctx context.Context, r target.Routing) error {
	versions, port, err := t.routerBackends(ctx, r)
	if err != nil {
		return err
	}
	ref := func(v string, w int) gatewayv1.HTTPBackendRef {
		return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(t.serviceName(v)), Port: &port},
			Weight:                 ptr32(int32(w)),
		}}
	}
	ours, err := t.versionServices(ctx)
	if err != nil {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var hr gatewayv1.HTTPRoute
		if err := t.c.Get(ctx, t.key(t.opts.HTTPRoute), &hr); err != nil {
			return fmt.Errorf("httproute %s/%s: %w", t.opts.Namespace, t.opts.HTTPRoute, err)
		}
		var rules []gatewayv1.HTTPRouteRule
		managed := 0
		var matches []gatewayv1.HTTPRouteMatch
		for _, rule := range hr.Spec.Rules {
			if rule.Name != nil && slices.ContainsFunc(headerRules, func(h string) bool { return *rule.Name == ruleName(h) }) {
				continue // rewritten below
			}
			if t.sendsHere(rule, ours) {
				managed++
				if len(versions) == 0 {
					rules = append(rules, rule) // nothing routed: the last backends stay
					continue
				}
				if matches == nil {
					matches = rule.Matches
				}
				rule.BackendRefs = nil
				for _, v := range versions {
					rule.BackendRefs = append(rule.BackendRefs, ref(v, r.Weights[v]))
				}
			}
			rules = append(rules, rule)
		}
		if managed == 0 {
			return fmt.Errorf("httproute %s/%s has no rule sending to service %s (or to hugai's per-version services)", t.opts.Namespace, t.opts.HTTPRoute, t.opts.KubeService)
		}
		for _, h := range headerRules {
			v := map[string]string{"stable": r.Stable, "canary": r.Canary, "preview": r.Preview}[h]
			if v == "" || t.opts.RouteSecret == "" {
				continue
			}
			rules = append(rules, gatewayv1.HTTPRouteRule{
				Name:    ptr(ruleName(h)),
				Matches: headerMatches(matches, h, t.opts.RouteSecret),
				// Neither header reaches the version, as on the local proxy.
				Filters: []gatewayv1.HTTPRouteFilter{{
					Type:                  gatewayv1.HTTPRouteFilterRequestHeaderModifier,
					RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{Remove: []string{RouteHeader, RouteSecretHeader}},
				}},
				BackendRefs: []gatewayv1.HTTPBackendRef{ref(v, 1)},
			})
		}
		hr.Spec.Rules = rules
		return t.c.Update(ctx, &hr)
	})
}

func ptr[T any](v T) *T { return &v }

// headerMatches is the managed rule's matches, each also asking for X-Hugai-Route: value and the
// secret, so that the header reaches a version only on the paths the service is routed on.
func headerMatches(base []gatewayv1.HTTPRouteMatch, value, secret string) []gatewayv1.HTTPRouteMatch {
	hs := []gatewayv1.HTTPHeaderMatch{
		{Type: ptr(gatewayv1.HeaderMatchExact), Name: RouteHeader, Value: value},
		{Type: ptr(gatewayv1.HeaderMatchExact), Name: RouteSecretHeader, Value: secret},
	}
	if len(base) == 0 {
		return []gatewayv1.HTTPRouteMatch{{Headers: hs}}
	}
	out := make([]gatewayv1.HTTPRouteMatch, len(base))
	for i, m := range base {
		m = *m.DeepCopy()
		m.Headers = append(m.Headers, hs...)
		out[i] = m
	}
	return out
}

// sendsHere says whether every backend of rule is this service: the user's Service or a
// per-version Service of hugai's.
func (t *Target) sendsHere(rule gatewayv1.HTTPRouteRule, ours map[string]string) bool {
	if len(rule.BackendRefs) == 0 {
		return false
	}
	for _, b := range rule.BackendRefs {
		if b.Kind != nil && *b.Kind != "Service" || b.Group != nil && *b.Group != "" {
			return false
		}
		if b.Namespace != nil && string(*b.Namespace) != t.opts.Namespace {
			return false
		}
		n := string(b.Name)
		if _, ok := ours[n]; !ok && n != t.opts.KubeService {
			return false
		}
	}
	return true
}

// versionServices maps hugai's per-version Service names of this service to their versions.
func (t *Target) versionServices(ctx context.Context) (map[string]string, error) {
	var l corev1.ServiceList
	if err := t.c.List(ctx, &l, client.InNamespace(t.opts.Namespace), client.MatchingLabels(t.owned())); err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	out := map[string]string{}
	for _, s := range l.Items {
		if _, rev := s.Labels[LabelRevision]; rev && s.Name != t.opts.PreviewService {
			out[s.Name] = s.Annotations[AnnotationVersion]
		}
	}
	return out, nil
}

// servicePort is the port backends are reached on: the user's Service's first.
func (t *Target) servicePort(ctx context.Context) (gatewayv1.PortNumber, error) {
	var s corev1.Service
	if err := t.c.Get(ctx, t.key(t.opts.KubeService), &s); err != nil {
		return 0, fmt.Errorf("service %s/%s: %w", t.opts.Namespace, t.opts.KubeService, err)
	}
	if len(s.Spec.Ports) == 0 {
		return 0, fmt.Errorf("service %s/%s has no port", t.opts.Namespace, t.opts.KubeService)
	}
	return gatewayv1.PortNumber(s.Spec.Ports[0].Port), nil
}

// writePreview points the preview Service at version v, or deletes it when there is none.
func (t *Target) writePreview(ctx context.Context, v string) error {
	name := t.opts.PreviewService
	if name == "" {
		return nil
	}
	if v == "" {
		var s corev1.Service
		if err := t.c.Get(ctx, t.key(name), &s); err != nil {
			return client.IgnoreNotFound(err)
		}
		if !isOwned(s.Labels, t.opts.Service) {
			return nil
		}
		if err := t.c.Delete(ctx, &s); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete preview service %s: %w", name, err)
		}
		return nil
	}
	want, err := t.serviceFor(ctx, name, v, t.owned())
	if err != nil {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var s corev1.Service
		err := t.c.Get(ctx, t.key(name), &s)
		if apierrors.IsNotFound(err) {
			return t.c.Create(ctx, want.DeepCopy())
		}
		if err != nil {
			return err
		}
		if !isOwned(s.Labels, t.opts.Service) {
			return fmt.Errorf("preview service %s exists and is not hugai's", name)
		}
		if maps.Equal(s.Spec.Selector, want.Spec.Selector) && s.Annotations[AnnotationVersion] == v {
			return nil
		}
		s.Spec.Selector = want.Spec.Selector
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[AnnotationVersion] = v
		return t.c.Update(ctx, &s)
	})
}

// rescale sets every version's replicas from what Deploy asked and the weights: with no router,
// replicas are the split (replicasFor).
func (t *Target) rescale(ctx context.Context, r target.Routing) error {
	deps, err := t.deployments(ctx, false)
	if err != nil {
		return err
	}
	desired := map[string]int{}
	for _, d := range deps {
		desired[d.Annotations[AnnotationVersion]] = desiredOf(&d)
	}
	for _, d := range deps {
		v := d.Annotations[AnnotationVersion]
		routed := d.Annotations[annotationRouted] == "true"
		want := t.replicasFor(v, desired[v], r, desired, routed)
		mark := !routed && r.Weights[v] > 0
		if d.Spec.Replicas != nil && *d.Spec.Replicas == want && !mark {
			continue
		}
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var cur appsv1.Deployment
			if err := t.c.Get(ctx, t.key(d.Name), &cur); err != nil {
				return client.IgnoreNotFound(err)
			}
			if mark {
				if cur.Annotations == nil {
					cur.Annotations = map[string]string{}
				}
				cur.Annotations[annotationRouted] = "true"
			}
			cur.Spec.Replicas = ptr32(want)
			return t.c.Update(ctx, &cur)
		})
		if err != nil {
			return fmt.Errorf("scale %s to %d: %w", d.Name, want, err)
		}
	}
	return nil
}

// deployments lists hugai's Deployments of this service.
// look: from the Reader (Status), else from the API server (writes decide on what they read).
func (t *Target) deployments(ctx context.Context, look bool) ([]appsv1.Deployment, error) {
	var l appsv1.DeploymentList
	if err := t.listOwned(ctx, &l, look); err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	return l.Items, nil
}

// desiredOf is the replica count Deploy asked of d.
func desiredOf(d *appsv1.Deployment) int {
	if n, err := strconv.Atoi(d.Annotations[annotationDesired]); err == nil {
		return n
	}
	if d.Spec.Replicas != nil {
		return int(*d.Spec.Replicas)
	}
	return 1
}
