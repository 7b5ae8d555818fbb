package kubernetes

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hugai-dev/hugai/internal/target"
)

// Deploy creates the version's Deployment from the template, or scales the one there. A version
// kept for its scale-down delay is taken back as it is: its pods are warm.
func (t *Target) Deploy(ctx context.Context, rev target.Revision, n int) error {
	v := rev.Version
	if v == "" {
		return fmt.Errorf("deploy: empty version")
	}
	if n < 0 {
		return fmt.Errorf("deploy %s: negative replica count %d", v, n)
	}
	rt, err := t.routing(ctx)
	if err != nil {
		return fmt.Errorf("deploy %s: %w", v, err)
	}
	if t.routed() {
		// The backend exists before any weight names it.
		if err := t.ensureVersionService(ctx, v); err != nil {
			return fmt.Errorf("deploy %s: %w", v, err)
		}
	}
	// With no router the replica counts are the split: this version's depends on the others'.
	var others map[string]int
	if !t.routed() {
		deps, err := t.deployments(ctx, false)
		if err != nil {
			return fmt.Errorf("deploy %s: %w", v, err)
		}
		others = map[string]int{}
		for _, d := range deps {
			others[d.Annotations[AnnotationVersion]] = desiredOf(&d)
		}
	}
	name := t.deploymentName(v)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var d appsv1.Deployment
		err := t.c.Get(ctx, t.key(name), &d)
		if apierrors.IsNotFound(err) {
			nd, err := t.candidate(ctx, v, n)
			if err != nil {
				return err
			}
			nd.Spec.Replicas = ptr32(t.replicasFor(v, n, rt, others, false))
			if rt.Weights[v] > 0 && !t.routed() {
				nd.Annotations[annotationRouted] = "true"
			}
			return t.c.Create(ctx, nd)
		}
		if err != nil {
			return err
		}
		if !isOwned(d.Labels, t.opts.Service) || d.Annotations[AnnotationVersion] != v {
			return fmt.Errorf("deployment %s exists and is not hugai's for %s %s", name, t.opts.Service, v)
		}
		routed := d.Annotations[annotationRouted] == "true"
		want := t.replicasFor(v, n, rt, others, routed)
		_, marked := d.Annotations[annotationRemoveAfter]
		mark := !routed && rt.Weights[v] > 0 && !t.routed()
		if !marked && !mark && d.Annotations[annotationDesired] == strconv.Itoa(n) && d.Spec.Replicas != nil && *d.Spec.Replicas == want {
			return nil
		}
		delete(d.Annotations, annotationRemoveAfter)
		if mark {
			d.Annotations[annotationRouted] = "true"
		}
		d.Annotations[annotationDesired] = strconv.Itoa(n)
		d.Spec.Replicas = ptr32(want)
		return t.c.Update(ctx, &d)
	})
	if err != nil {
		return fmt.Errorf("deploy %s: %w", v, err)
	}
	if others != nil {
		if err := t.rescale(ctx, rt); err != nil {
			return fmt.Errorf("deploy %s: %w", v, err)
		}
	}
	return nil
}

// candidate is the version's Deployment: the template's spec with the version's image and env,
// its selector and pods narrowed by the revision label.
func (t *Target) candidate(ctx context.Context, v string, n int) (*appsv1.Deployment, error) {
	tmpl, err := t.template(ctx)
	if err != nil {
		return nil, err
	}
	spec := tmpl.Spec.DeepCopy()
	spec.Paused = false
	rl := t.ownedRev(v)
	spec.Selector = spec.Selector.DeepCopy()
	spec.Selector.MatchLabels[LabelRevision] = rl[LabelRevision]
	if spec.Template.Labels == nil {
		spec.Template.Labels = map[string]string{}
	}
	maps.Copy(spec.Template.Labels, rl)
	if spec.Template.Annotations == nil {
		spec.Template.Annotations = map[string]string{}
	}
	spec.Template.Annotations[AnnotationVersion] = v
	cs := spec.Template.Spec.Containers
	i := 0
	if t.opts.Container != "" {
		i = -1
		for j := range cs {
			if cs[j].Name == t.opts.Container {
				i = j
			}
		}
		if i < 0 {
			return nil, fmt.Errorf("template deployment %s has no container %q", t.opts.Deployment, t.opts.Container)
		}
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("template deployment %s has no container", t.opts.Deployment)
	}
	c := &cs[i]
	if t.image != nil {
		if c.Image, err = render(t.image, v); err != nil {
			return nil, fmt.Errorf("image for %s: %w", v, err)
		}
	}
	for k, tm := range t.env {
		val, err := render(tm, v)
		if err != nil {
			return nil, fmt.Errorf("env %s for %s: %w", k, v, err)
		}
		set := false
		for j := range c.Env {
			if c.Env[j].Name == k {
				c.Env[j] = corev1.EnvVar{Name: k, Value: val}
				set = true
			}
		}
		if !set {
			c.Env = append(c.Env, corev1.EnvVar{Name: k, Value: val})
		}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name: t.deploymentName(v), Namespace: t.opts.Namespace, Labels: rl,
			Annotations: map[string]string{AnnotationVersion: v, annotationDesired: strconv.Itoa(n)},
		},
		Spec: *spec,
	}, nil
}

// replicasFor is how many pods a version runs. With a router, what Deploy asked. Without one,
// traffic follows replicas: a weighted version runs its weight's share of the largest weighted
// version's count (at least one), so 5% of 4 replicas is 1 replica beside 4, a real share of 20%
// that Status reports. A version at weight 0 keeps its count, so it can get ready (a blue-green
// green, a canary before its first step); it takes its replica share meanwhile. desired holds
// every version's requested count.
func (t *Target) replicasFor(v string, n int, rt target.Routing, desired map[string]int, routed bool) int32 {
	if t.routed() {
		return int32(n)
	}
	w := rt.Weights[v]
	if w <= 0 && routed {
		return 0 // drained: promoted past or rolled back (annotationRouted)
	}
	if w <= 0 || w >= 100 || n == 0 {
		return int32(n)
	}
	largest := n
	for ov, d := range desired {
		if rt.Weights[ov] > 0 && d > largest {
			largest = d
		}
	}
	r := (w*largest + 50) / 100
	return int32(min(max(r, 1), n))
}

func ptr32(n int32) *int32 { return &n }

// ensureVersionService makes the Service that selects the version's pods alone: a router's
// backend for it.
func (t *Target) ensureVersionService(ctx context.Context, v string) error {
	name := t.serviceName(v)
	var s corev1.Service
	err := t.c.Get(ctx, t.key(name), &s)
	if err == nil {
		if !isOwned(s.Labels, t.opts.Service) {
			return fmt.Errorf("service %s exists and is not hugai's", name)
		}
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("service %s: %w", name, err)
	}
	ns, err := t.serviceFor(ctx, name, v, t.ownedRev(v))
	if err != nil {
		return err
	}
	if err := t.c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create service %s: %w", name, err)
	}
	return nil
}

// serviceFor is a Service named name with the user's Service's ports, selecting version v's pods.
func (t *Target) serviceFor(ctx context.Context, name, v string, labels map[string]string) (*corev1.Service, error) {
	var main corev1.Service
	if err := t.c.Get(ctx, t.key(t.opts.KubeService), &main); err != nil {
		return nil, fmt.Errorf("service %s/%s: %w", t.opts.Namespace, t.opts.KubeService, err)
	}
	tmpl, err := t.template(ctx)
	if err != nil {
		return nil, err
	}
	sel := maps.Clone(tmpl.Spec.Selector.MatchLabels)
	sel[LabelRevision] = revisionID(v)
	var ports []corev1.ServicePort
	for _, p := range main.Spec.Ports {
		ports = append(ports, corev1.ServicePort{Name: p.Name, Protocol: p.Protocol, Port: p.Port, TargetPort: p.TargetPort, AppProtocol: p.AppProtocol})
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: t.opts.Namespace, Labels: labels, Annotations: map[string]string{AnnotationVersion: v}},
		Spec:       corev1.ServiceSpec{Selector: sel, Ports: ports, Type: corev1.ServiceTypeClusterIP},
	}, nil
}

// Remove takes the version out of the routes, then deletes its Deployment and Service, or with
// a scale-down delay marks them to go once it has passed (Status finishes the removal). A version
// that still has a weight is refused: the engine routes away first.
func (t *Target) Remove(ctx context.Context, rev target.Revision) error {
	v := rev.Version
	rt, err := t.routing(ctx)
	if err != nil {
		return fmt.Errorf("remove %s: %w", v, err)
	}
	if w := rt.Weights[v]; w > 0 {
		return fmt.Errorf("remove %s: it still has %d%% of traffic; route away first", v, w)
	}
	_, named := rt.Weights[v]
	if named || rt.Stable == v || rt.Canary == v || rt.Preview == v {
		delete(rt.Weights, v)
		for _, s := range []*string{&rt.Stable, &rt.Canary, &rt.Preview} {
			if *s == v {
				*s = ""
			}
		}
		if err := t.Route(ctx, rt); err != nil {
			return fmt.Errorf("remove %s: %w", v, err)
		}
	}
	if t.opts.ScaleDownDelay > 0 {
		return t.markRemoved(ctx, v)
	}
	return t.deleteRevision(ctx, v)
}

func (t *Target) markRemoved(ctx context.Context, v string) error {
	name := t.deploymentName(v)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var d appsv1.Deployment
		if err := t.c.Get(ctx, t.key(name), &d); err != nil {
			return client.IgnoreNotFound(err)
		}
		if _, ok := d.Annotations[annotationRemoveAfter]; ok || !isOwned(d.Labels, t.opts.Service) {
			return nil
		}
		d.Annotations[annotationRemoveAfter] = t.opts.Now().Add(t.opts.ScaleDownDelay).UTC().Format(time.RFC3339)
		return t.c.Update(ctx, &d)
	})
	if err != nil {
		return fmt.Errorf("remove %s: mark for scale-down: %w", v, err)
	}
	return nil
}

// deleteRevision deletes the version's Deployment (its ReplicaSets and pods by garbage
// collection) and its Service.
func (t *Target) deleteRevision(ctx context.Context, v string) error {
	bg := client.PropagationPolicy(metav1.DeletePropagationBackground)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: t.deploymentName(v), Namespace: t.opts.Namespace}}
	if err := t.c.Delete(ctx, d, bg); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("remove %s: delete deployment: %w", v, err)
	}
	if t.opts.KubeService != "" {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: t.serviceName(v), Namespace: t.opts.Namespace}}
		if err := t.c.Delete(ctx, s); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("remove %s: delete service: %w", v, err)
		}
	}
	return nil
}

// removeAfter is when a revision marked by Remove goes, if it is marked.
func removeAfter(d *appsv1.Deployment) (time.Time, bool) {
	s, ok := d.Annotations[annotationRemoveAfter]
	if !ok {
		return time.Time{}, false
	}
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, true // unreadable: due now
	}
	return at, true
}
