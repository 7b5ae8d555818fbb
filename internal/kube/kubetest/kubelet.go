package kubetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// Behaviour is how a pod acts on the Kubelet.
type Behaviour int

const (
	Good       Behaviour = iota // running and ready
	NeverReady                  // running, never ready
	CrashLoop                   // restarting, in CrashLoopBackOff
	NoImage                     // the image cannot be pulled: pending in ErrImagePull
)

// kubelet plays the parts of a cluster that do not run under envtest, for one namespace: the
// ReplicaSet controller (a Deployment's pods created and deleted to its replica count, the
// Deployment's status), the kubelet (each pod's phase, readiness, restarts and waiting reason,
// by the behaviour of its Deployment's pod template) and the garbage collector (pods of a
// deleted Deployment go). Code under test reads only what these write, as in a cluster.
type kubelet struct {
	c      client.Client
	r      client.Reader // where Deployments and pods are listed from: c, or an informers' cache
	ns     string
	behave func(*corev1.PodTemplateSpec) Behaviour
	// workers is how many Deployments are synced at once: one, or for hundreds of them several,
	// as a cluster has many kubelets (a serial stand-in under a loaded API server takes minutes
	// to start 1,000 pods, and rollouts hit their progress deadline waiting for it).
	workers  int
	mu       sync.Mutex // guards restarts when workers > 1
	restarts map[types.UID]int32
}

// StartKubelet runs a kubelet on ns, polling every 30 ms, until the test ends. behave says how
// the pods of a Deployment's template act.
func StartKubelet(t testing.TB, c client.Client, ns string, behave func(*corev1.PodTemplateSpec) Behaviour) {
	k := &kubelet{c: c, r: c, ns: ns, behave: behave, restarts: map[types.UID]int32{}}
	k.run(t, 30*time.Millisecond)
}

// StartWatchingKubelet is StartKubelet for hundreds of Deployments: it lists them and their pods
// from informers (a watch each, as the real ReplicaSet controller and kubelets do) rather than
// from the API server every 30 ms, so that the load on the API server is the code under test's
// and not the stand-in's. It looks every 100 ms.
func StartWatchingKubelet(t testing.TB, cl *Cluster, ns string, behave func(*corev1.PodTemplateSpec) Behaviour) {
	// controller-runtime's informers log through its global logger, which warns with a stack
	// trace when nobody set it; the stand-in has nothing to say.
	ctrllog.SetLogger(logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	informers, err := cache.New(cl.Config, cache.Options{Scheme: cl.Scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		t.Fatalf("kubelet %s: %v", ns, err)
	}
	// Both informers exist before the cache starts, so WaitForCacheSync waits for both lists.
	for _, o := range []client.Object{&appsv1.Deployment{}, &corev1.Pod{}} {
		if _, err := informers.GetInformer(ctx, o); err != nil {
			t.Fatalf("kubelet %s: %v", ns, err)
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = informers.Start(ctx)
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	if !informers.WaitForCacheSync(ctx) {
		t.Fatalf("kubelet %s: the informers did not sync", ns)
	}
	k := &kubelet{c: cl.Client, r: informers, ns: ns, behave: behave, restarts: map[types.UID]int32{}, workers: 8}
	k.run(t, 100*time.Millisecond)
}

// run syncs every period until the test ends.
func (k *kubelet) run(t testing.TB, period time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			if err := k.sync(ctx); err != nil && ctx.Err() == nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) && !apierrors.IsAlreadyExists(err) {
				t.Logf("kubelet %s: %v", k.ns, err)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func (k *kubelet) sync(ctx context.Context) error {
	var deps appsv1.DeploymentList
	if err := k.r.List(ctx, &deps, client.InNamespace(k.ns)); err != nil {
		return err
	}
	var pods corev1.PodList
	if err := k.r.List(ctx, &pods, client.InNamespace(k.ns)); err != nil {
		return err
	}
	owned := map[types.UID][]corev1.Pod{}
	for _, p := range pods.Items {
		if len(p.OwnerReferences) == 1 {
			owned[p.OwnerReferences[0].UID] = append(owned[p.OwnerReferences[0].UID], p)
		}
	}
	live := map[types.UID]bool{}
	// One Deployment's failure (a conflict on a stale read) does not hold up the others.
	var first error
	var mu sync.Mutex
	failed := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
	}
	work := make(chan *appsv1.Deployment)
	var wg sync.WaitGroup
	for range max(k.workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				if err := k.syncDeployment(ctx, d, owned[d.UID]); err != nil {
					failed(err)
				}
			}
		}()
	}
	for i := range deps.Items {
		d := &deps.Items[i]
		live[d.UID] = true
		work <- d
	}
	close(work)
	wg.Wait()
	for uid, ps := range owned {
		if !live[uid] {
			for i := range ps {
				if err := k.c.Delete(ctx, &ps[i]); client.IgnoreNotFound(err) != nil && first == nil {
					first = err
				}
			}
		}
	}
	return first
}

func (k *kubelet) syncDeployment(ctx context.Context, d *appsv1.Deployment, pods []corev1.Pod) error {
	n := 0
	if d.Spec.Replicas != nil {
		n = int(*d.Spec.Replicas)
	}
	beh := k.behave(&d.Spec.Template)
	have := map[string]*corev1.Pod{}
	for i := range pods {
		have[pods[i].Name] = &pods[i]
	}
	var ready, running int32
	for i := range max(n, len(pods)) {
		name := fmt.Sprintf("%s-%d", d.Name, i)
		p := have[name]
		if i >= n {
			if p != nil {
				if err := k.c.Delete(ctx, p); client.IgnoreNotFound(err) != nil {
					return err
				}
			}
			continue
		}
		if p == nil {
			controller := true
			p = &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{
					Name: name, Namespace: k.ns, Labels: d.Spec.Template.Labels, Annotations: d.Spec.Template.Annotations,
					OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: &controller}},
				},
				Spec: *d.Spec.Template.Spec.DeepCopy(),
			}
			if err := k.c.Create(ctx, p); err != nil {
				return err
			}
		}
		if err := k.setPodStatus(ctx, p, beh); err != nil {
			return err
		}
		if p.Status.Phase == corev1.PodRunning {
			running++
		}
		if beh == Good {
			ready++
		}
	}
	want := appsv1.DeploymentStatus{
		ObservedGeneration: d.Generation, Replicas: int32(n), UpdatedReplicas: int32(n),
		ReadyReplicas: ready, AvailableReplicas: ready, UnavailableReplicas: int32(n) - ready,
	}
	if d.Status.ObservedGeneration == want.ObservedGeneration && d.Status.Replicas == want.Replicas && d.Status.ReadyReplicas == want.ReadyReplicas {
		return nil
	}
	d.Status = want
	return k.c.Status().Update(ctx, d)
}

func (k *kubelet) setPodStatus(ctx context.Context, p *corev1.Pod, beh Behaviour) error {
	ready := corev1.ConditionFalse
	if beh == Good {
		ready = corev1.ConditionTrue
	}
	cs := corev1.ContainerStatus{Name: p.Spec.Containers[0].Name, Image: p.Spec.Containers[0].Image, Ready: beh == Good}
	phase := corev1.PodRunning
	switch beh {
	case Good, NeverReady:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: p.CreationTimestamp}
	case CrashLoop:
		k.mu.Lock()
		k.restarts[p.UID]++ // one more exit on every look
		cs.RestartCount = k.restarts[p.UID]
		k.mu.Unlock()
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off restarting failed container"}
	case NoImage:
		phase = corev1.PodPending
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: fmt.Sprintf("failed to pull image %q: not found", p.Spec.Containers[0].Image)}
	}
	want := corev1.PodStatus{
		Phase:             phase,
		Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}},
		ContainerStatuses: []corev1.ContainerStatus{cs},
	}
	if p.Status.Phase == want.Phase && len(p.Status.ContainerStatuses) == 1 && beh != CrashLoop &&
		p.Status.ContainerStatuses[0].Ready == cs.Ready && strings.EqualFold(string(p.Status.Conditions[0].Status), string(ready)) {
		return nil
	}
	p.Status = want
	return k.c.Status().Update(ctx, p)
}
