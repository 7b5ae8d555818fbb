package kubernetes

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/hugai-dev/hugai/internal/target"
)

// startFailures are the container waiting reasons that mean a version cannot start at all, as
// the kubelet reports them: no restart will fix them.
var startFailures = []string{"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError", "CreateContainerError", "RunContainerError"}

// Status reads every version from the cluster: replicas from the Deployment, readiness, restarts
// and crash loops from its pods, the weight from the router (the HTTPRoute's backends, or with no
// router the version's real share of the ready pods the Service selects). It also finishes the
// removals whose scale-down delay has passed: the engine looks every tick, nothing else may.
func (t *Target) Status(ctx context.Context) (target.Status, error) {
	st := target.Status{Revisions: map[string]target.RevisionStatus{}}
	rt, err := t.routing(ctx)
	if err != nil {
		return st, err
	}
	deps, err := t.deployments(ctx, true)
	if err != nil {
		return st, err
	}
	var pods corev1.PodList
	if err := t.listOwned(ctx, &pods, true); err != nil {
		return st, fmt.Errorf("list pods: %w", err)
	}
	byRev := map[string][]*corev1.Pod{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp == nil {
			byRev[p.Labels[LabelRevision]] = append(byRev[p.Labels[LabelRevision]], p)
		}
	}
	now := t.opts.Now()
	share := map[string]int{} // with no router: the replicas each version runs for its weight
	for i := range deps {
		d := &deps[i]
		v := d.Annotations[AnnotationVersion]
		if at, marked := removeAfter(d); marked {
			if !now.Before(at) {
				if err := t.deleteRevision(ctx, v); err != nil {
					return st, err
				}
			}
			continue // removed, as far as the engine is concerned
		}
		rs := target.RevisionStatus{Version: v, Desired: desiredOf(d)}
		for _, p := range byRev[d.Labels[LabelRevision]] {
			podStatus(p, &rs)
		}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue && rs.StartFailed == "" {
				rs.StartFailed = c.Reason + ": " + c.Message
			}
		}
		st.Revisions[v] = rs
		if d.Spec.Replicas != nil {
			share[v] = int(*d.Spec.Replicas)
		}
	}
	st.Routing = rt
	weights, observed, err := t.weights(ctx, rt, st.Revisions, byRev)
	if err != nil {
		return st, err
	}
	if t.routed() {
		// What the router holds, so that an edit of the HTTPRoute or VirtualService by hand is seen and undone.
		st.Routing.Weights = observed
	}
	for v, w := range weights {
		rs, ok := st.Revisions[v]
		if !ok {
			if _, routed := rt.Weights[v]; !routed {
				continue
			}
			rs.Version = v // routed before it runs (recreate)
		}
		rs.Weight = w
		st.Revisions[v] = rs
	}
	if !t.routed() {
		// With no router a version runs only its weight's share of its replicas (replicasFor):
		// all of that share ready is the version ready, or a canary could never be judged ready
		// for the step that gives it the rest. The weights above were computed from real pods.
		for v, rs := range st.Revisions {
			if n, ok := share[v]; ok && n > 0 && n < rs.Desired && rs.Ready >= n {
				rs.Ready = rs.Desired
				st.Revisions[v] = rs
			}
		}
	}
	return st, nil
}

// podStatus adds one pod to its version's status.
func podStatus(p *corev1.Pod, rs *target.RevisionStatus) {
	if p.Status.Phase == corev1.PodRunning {
		rs.Running++
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.Status.Phase == corev1.PodRunning {
			rs.Ready++
		}
	}
	for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
		rs.Restarts += int(cs.RestartCount)
		w := cs.State.Waiting
		if w == nil {
			continue
		}
		if w.Reason == "CrashLoopBackOff" {
			rs.CrashLooping = true
		}
		for _, r := range startFailures {
			if w.Reason == r && rs.StartFailed == "" {
				rs.StartFailed = strings.TrimSpace(r + ": " + w.Message)
			}
		}
	}
}

// weights is each version's weight as reported (and, with a router, the router's weights as
// they stand). With a router: the HTTPRoute's weights of hugai's backends in percent. Without:
// the share of ready pods behind the user's Service that are the version's, in percent, which is
// what a Service's load spreading gives, give or take.
func (t *Target) weights(ctx context.Context, rt target.Routing, revs map[string]target.RevisionStatus, byRev map[string][]*corev1.Pod) (map[string]int, map[string]int, error) {
	if t.routed() {
		w, err := t.routeWeights(ctx)
		return w, w, err
	}
	total := 0
	ready := map[string]int{}
	for v, rs := range revs {
		ready[v] = rs.Ready
		total += rs.Ready
	}
	if t.opts.KubeService != "" {
		// The user's own pods behind the Service (their Deployment before hugai) take a share too.
		n, err := t.foreignReady(ctx)
		if err != nil {
			return nil, nil, err
		}
		total += n
	}
	out := map[string]int{}
	for v := range rt.Weights {
		out[v] = 0
	}
	for v, n := range ready {
		if total > 0 {
			out[v] = (n*100 + total/2) / total
		} else {
			out[v] = 0
		}
	}
	return out, out, nil
}

// foreignReady counts the ready pods the user's Service selects that are not hugai's.
func (t *Target) foreignReady(ctx context.Context) (int, error) {
	var s corev1.Service
	if err := t.c.Get(ctx, t.key(t.opts.KubeService), &s); err != nil {
		return 0, client.IgnoreNotFound(err)
	}
	if len(s.Spec.Selector) == 0 {
		return 0, nil
	}
	var pods corev1.PodList
	if err := t.c.List(ctx, &pods, client.InNamespace(t.opts.Namespace), client.MatchingLabelsSelector{Selector: labels.SelectorFromSet(s.Spec.Selector)}); err != nil {
		return 0, fmt.Errorf("list pods of service %s: %w", s.Name, err)
	}
	n := 0
	for i := range pods.Items {
		p := &pods.Items[i]
		if isOwned(p.Labels, t.opts.Service) || p.DeletionTimestamp != nil {
			continue
		}
		var rs target.RevisionStatus
		podStatus(p, &rs)
		n += rs.Ready
	}
	return n, nil
}

// routeWeights reads the HTTPRoute: the weight of each of hugai's backends in its first rule
// sending to this service, in percent of that rule's total.
func (t *Target) routeWeights(ctx context.Context) (map[string]int, error) {
	r, err := t.Routes(ctx)
	if err != nil {
		return nil, err
	}
	return r.Weights, nil
}

// Routes reads the routing as the HTTPRoute (or VirtualService) and the preview Service hold it, not as it was asked
// for: the weight of each version, in percent, and which version each X-Hugai-Route rule and the
// preview Service reach. With no router the weights are the replica shares Status reports.
func (t *Target) Routes(ctx context.Context) (target.Routing, error) {
	out := target.Routing{Weights: map[string]int{}}
	ours, err := t.versionServices(ctx)
	if err != nil {
		return out, err
	}
	if t.opts.VirtualService != "" {
		if err := t.virtualServiceRoutes(ctx, ours, &out); err != nil {
			return out, err
		}
	} else if t.opts.HTTPRoute == "" {
		st, err := t.Status(ctx)
		if err != nil {
			return out, err
		}
		for v, rs := range st.Revisions {
			out.Weights[v] = rs.Weight
		}
	} else {
		var hr gatewayv1.HTTPRoute
		if err := t.c.Get(ctx, t.key(t.opts.HTTPRoute), &hr); err != nil {
			return out, fmt.Errorf("httproute %s/%s: %w", t.opts.Namespace, t.opts.HTTPRoute, err)
		}
		found := false
		for _, rule := range hr.Spec.Rules {
			if rule.Name != nil && strings.HasPrefix(string(*rule.Name), "hugai-") {
				if len(rule.BackendRefs) == 1 {
					v := ours[string(rule.BackendRefs[0].Name)]
					switch *rule.Name {
					case ruleName("stable"):
						out.Stable = v
					case ruleName("canary"):
						out.Canary = v
					case ruleName("preview"):
						out.Preview = v
					}
				}
				continue
			}
			if found || !t.sendsHere(rule, ours) {
				continue
			}
			found = true
			total := 0
			raw := map[string]int{}
			for _, b := range rule.BackendRefs {
				w := 1 // the Gateway API default
				if b.Weight != nil {
					w = int(*b.Weight)
				}
				total += w
				if v, ok := ours[string(b.Name)]; ok {
					raw[v] += w
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
	}
	if t.opts.PreviewService != "" {
		var s corev1.Service
		err := t.c.Get(ctx, t.key(t.opts.PreviewService), &s)
		if err == nil && isOwned(s.Labels, t.opts.Service) {
			out.Preview = s.Annotations[AnnotationVersion]
		} else if client.IgnoreNotFound(err) != nil {
			return out, fmt.Errorf("preview service %s: %w", t.opts.PreviewService, err)
		}
	}
	return out, nil
}
