package operator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/yaml"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/engine"
	hugaiv1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/policy"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/kubestore"
	"github.com/hugai-dev/hugai/internal/target/kubernetes"
)

const (
	// LabelService marks the ConfigMap holding a service's hugai.yaml; its value is the service's
	// name (metadata.name in the file, spec.service of the HugAIDeployment).
	LabelService = "hugai.io/service-file"
	// ServiceFileKey is the ConfigMap key holding hugai.yaml.
	ServiceFileKey = "hugai.yaml"
	// AnnotationRequestedBy names who asked for a HugAIDeployment's current spec; when present
	// the admission policy makes the API server check it is the requester (config/rbac). The
	// operator records it as who started the rollout, which four-eyes approvals then exclude.
	AnnotationRequestedBy = "hugai.io/requested-by"

	// actionDeployment indexes DeploymentActions by the HugAIDeployment they are for.
	actionDeployment = "spec.deployment"
)

// Config is what `hugai operator` runs with.
type Config struct {
	REST *rest.Config
	// Namespace limits the operator to one namespace; "": every namespace.
	Namespace string
	// LeaderElection makes replicas elect one leader (a Lease in LeaderElectionNamespace);
	// only the leader reconciles.
	LeaderElection          bool
	LeaderElectionNamespace string
	LeaseDuration           time.Duration
	RenewDeadline           time.Duration
	RetryPeriod             time.Duration
	// HealthAddr serves /healthz and /readyz; MetricsAddr controller-runtime's /metrics ("0":
	// off, as controller-runtime reads it).
	HealthAddr  string
	MetricsAddr string
	// AnalysisAddr, when set, serves hugai as Argo Rollouts' judge (Judge) there, on every
	// replica, leader or not.
	AnalysisAddr string
	Judge        JudgeConfig
	// NewRuntime makes the runtime of a service environment (the kubernetes target and the
	// service's metric providers), as for `hugai server`.
	// cached reads the Deployments and pods labelled app.kubernetes.io/managed-by=hugai from the
	// operator's informers, for the target's Status (kubernetes.Options.Reader).
	NewRuntime func(ctx context.Context, sf *engine.ServiceFile, env *plan.Env, cached client.Reader) (*engine.Runtime, error)
	// Notifiers tells people about a service's rollouts (nil: nobody is told).
	Notifiers func(svc *plan.Service) (engine.Notifier, error)
	// Tick bounds how long a rollout waits between two reconciles: pods die at any time.
	Tick time.Duration
	// Workers is how many HugAIDeployments are reconciled at once.
	Workers int
	Logf    func(format string, args ...any)
	// Log is controller-runtime's logger (leader election, caches, reconcile errors); zero: none.
	Log     logr.Logger
	Version string
}

// Scheme is the operator's: Kubernetes' own types and hugai.io/v1.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, hugaiv1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Run runs the operator until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Tick <= 0 {
		cfg.Tick = 10 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.MetricsAddr == "" {
		cfg.MetricsAddr = "0"
	}
	scheme, err := Scheme()
	if err != nil {
		return err
	}
	opts := manager.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: cfg.MetricsAddr},
		HealthProbeBindAddress:        cfg.HealthAddr,
		LeaderElection:                cfg.LeaderElection,
		LeaderElectionID:              "hugai-operator",
		LeaderElectionNamespace:       cfg.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		Logger:                        cfg.Log,
	}
	if cfg.HealthAddr == "" {
		opts.HealthProbeBindAddress = "0"
	}
	if cfg.LeaseDuration > 0 {
		opts.LeaseDuration = &cfg.LeaseDuration
	}
	if cfg.RenewDeadline > 0 {
		opts.RenewDeadline = &cfg.RenewDeadline
	}
	if cfg.RetryPeriod > 0 {
		opts.RetryPeriod = &cfg.RetryPeriod
	}
	// The cache holds only the ConfigMaps that are service files, not every ConfigMap of the
	// cluster (the audit segments are read from the API server, and only when verifying).
	serviceFiles, err := labels.Parse(LabelService)
	if err != nil {
		return err
	}
	// The target's Status, at every look, lists the versions' Deployments and pods: from the
	// cache, which holds only hugai's own (the user's are read from the API server when needed).
	hugais, err := labels.Parse(kubernetes.LabelManagedBy + "=" + kubernetes.ManagedBy)
	if err != nil {
		return err
	}
	opts.Cache = cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}:  {Label: serviceFiles},
			&appsv1.Deployment{}: {Label: hugais},
			&corev1.Pod{}:        {Label: hugais},
		},
		// Nothing reads managedFields: they stay out of the cache. (A status Update without
		// managedFields leaves the API server's as they are.)
		DefaultTransform: cache.TransformStripManagedFields(),
	}
	if cfg.Namespace != "" {
		opts.Cache.DefaultNamespaces = map[string]cache.Config{cfg.Namespace: {}}
	}
	mgr, err := ctrl.NewManager(cfg.REST, opts)
	if err != nil {
		return fmt.Errorf("operator: %w", err)
	}
	for _, o := range []client.Object{&appsv1.Deployment{}, &corev1.Pod{}} {
		if err := mgr.GetFieldIndexer().IndexField(ctx, o, kubernetes.IndexService, kubernetes.IndexServiceOf); err != nil {
			return fmt.Errorf("operator: index %T: %w", o, err)
		}
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &hugaiv1.DeploymentAction{}, actionDeployment, func(o client.Object) []string {
		return []string{o.(*hugaiv1.DeploymentAction).Spec.Deployment}
	}); err != nil {
		return fmt.Errorf("operator: index actions: %w", err)
	}
	// The target reads what it just wrote: it uses the API server, not the manager's cache,
	// which lags behind writes. The store reads HugAIDeployments from the cache and remembers
	// its own writes until the cache has them (kubestore.Options.Reader).
	direct, err := client.New(cfg.REST, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("operator: %w", err)
	}
	if cfg.AnalysisAddr != "" {
		// From the API server: the judge reads Argo's Rollouts, whose CRD may not be installed
		// (a cache would fail to start without it), and only when Argo asks.
		h, err := Judge(direct, cfg.Judge)
		if err != nil {
			return err
		}
		if err := mgr.Add(analysisServer(cfg.AnalysisAddr, h)); err != nil {
			return err
		}
	}
	r := &Reconciler{
		cfg: cfg, cache: mgr.GetClient(), direct: direct,
		events:  mgr.GetEventRecorder("hugai-operator"),
		engines: map[types.NamespacedName]*deployment{},
	}
	if err := r.setup(mgr); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	cfg.Logf("hugai operator %s: watching %s", cfg.Version, orAll(cfg.Namespace))
	return mgr.Start(ctx)
}

func orAll(ns string) string {
	if ns == "" {
		return "every namespace"
	}
	return "namespace " + ns
}

// analysisServer serves the judge's endpoint on every replica, leader or not: Argo asks
// whichever pod the Service picks, and the answer is computed from metrics, not from state.
func analysisServer(addr string, h http.Handler) manager.Runnable {
	return everyReplica(func(ctx context.Context) error {
		srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
		errc := make(chan error, 1)
		go func() { errc <- srv.ListenAndServe() }()
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		case err := <-errc:
			return fmt.Errorf("analysis endpoint %s: %w", addr, err)
		}
	})
}

// everyReplica is a runnable the manager starts whether or not this replica leads.
type everyReplica func(ctx context.Context) error

func (f everyReplica) Start(ctx context.Context) error { return f(ctx) }
func (everyReplica) NeedLeaderElection() bool          { return false }

// Reconciler reconciles HugAIDeployments.
type Reconciler struct {
	cfg    Config
	cache  client.Client // the manager's: reads from the informers' cache
	direct client.Client // reads and writes through the API server
	events events.EventRecorder

	mu      sync.Mutex
	engines map[types.NamespacedName]*deployment
}

// deployment is what the operator keeps of one HugAIDeployment between reconciles: its engine,
// rebuilt when the service file changes. The state is not here: it is in the object's status.
type deployment struct {
	mu      sync.Mutex // one reconcile of a HugAIDeployment at a time
	eng     *engine.Engine
	store   *kubestore.Store // the engine's, which knows our own writes the cache has not seen yet
	fileRV  string           // the ConfigMap's resourceVersion the engine was built from
	service string
	env     string
	obj     *hugaiv1.HugAIDeployment // for Events
}

func (r *Reconciler) setup(mgr manager.Manager) error {
	return builder.ControllerManagedBy(mgr).
		For(&hugaiv1.HugAIDeployment{}).
		Named("hugaideployment").
		// A plain FIFO queue, not controller-runtime's priority queue: that one puts the objects
		// of the initial list behind every requeue, so with hundreds of rollouts requeueing each
		// tick, objects present at start waited minutes for their first look.
		WithOptions(controller.Options{MaxConcurrentReconciles: r.cfg.Workers, UsePriorityQueue: ptr.To(false)}).
		// A new action wakes its HugAIDeployment at once.
		Watches(&hugaiv1.DeploymentAction{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			a := o.(*hugaiv1.DeploymentAction)
			if a.Status.Result != "" {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: a.Namespace, Name: a.Spec.Deployment}}}
		})).
		// An edited service file wakes every HugAIDeployment of that service.
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.deploymentsOfServiceFile),
			builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetLabels()[LabelService] != "" }))).
		// A DeploymentPlan created, edited (a new generation) or deleted wakes every
		// HugAIDeployment whose spec.planRef names it (and puts DeploymentPlans in the cache).
		Watches(&hugaiv1.DeploymentPlan{}, handler.EnqueueRequestsFromMapFunc(r.deploymentsOfPlan),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Complete(r)
}

func (r *Reconciler) deploymentsOfServiceFile(ctx context.Context, o client.Object) []reconcile.Request {
	var list hugaiv1.HugAIDeploymentList
	if err := r.cache.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, d := range list.Items {
		if serviceName(&d) == o.GetLabels()[LabelService] {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: d.Namespace, Name: d.Name}})
		}
	}
	return out
}

// serviceName is the service a HugAIDeployment deploys: spec.service, else its own name.
func serviceName(d *hugaiv1.HugAIDeployment) string {
	if d.Spec.Service != "" {
		return d.Spec.Service
	}
	return d.Name
}

// environment is the environment it deploys to: spec.environment, else its namespace (as
// plan.HugAIDeployment.AsPlan reads it).
func environment(d *hugaiv1.HugAIDeployment) string {
	if d.Spec.Environment != "" {
		return d.Spec.Environment
	}
	return d.Namespace
}

// Reconcile is one look at a HugAIDeployment.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	// From the cache: a look at a rollout that changes nothing costs the API server nothing.
	// The cache lags behind our own writes; the deployment's store knows them (below).
	var hd hugaiv1.HugAIDeployment
	if err := r.cache.Get(ctx, req.NamespacedName, &hd); err != nil {
		if apierrors.IsNotFound(err) {
			r.mu.Lock()
			delete(r.engines, req.NamespacedName)
			r.mu.Unlock()
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	if hd.DeletionTimestamp != nil {
		return reconcile.Result{}, nil
	}
	d, err := r.deployment(ctx, &hd)
	if err != nil {
		var bad *invalidError
		if errors.As(err, &bad) {
			return reconcile.Result{}, r.markInvalid(ctx, &hd, bad.reason, bad.msg)
		}
		return reconcile.Result{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	fresh, err := d.store.Object(ctx)
	if err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	hd = *fresh
	d.obj = hd.DeepCopy()
	if err := r.startIfNew(ctx, d, &hd); err != nil {
		var bad *invalidError
		if !errors.As(err, &bad) {
			return reconcile.Result{}, err
		}
		// Said, and the rollout in flight (of an earlier, valid spec) goes on being judged:
		// a typo in an edit must not freeze a canary at 25% with nobody watching it.
		if err := r.markInvalid(ctx, &hd, bad.reason, bad.msg); err != nil {
			return reconcile.Result{}, err
		}
	}
	if err := r.carryOutActions(ctx, d, &hd); err != nil {
		return reconcile.Result{}, err
	}
	next, err := d.eng.Tick(ctx, d.service, d.env)
	if err != nil {
		return reconcile.Result{}, err
	}
	return reconcile.Result{RequeueAfter: next}, nil
}

// invalidError is a HugAIDeployment hugai cannot run as it is: said in its status and in an
// Event, and not retried until the object or its service file changes.
type invalidError struct{ reason, msg string }

func (e *invalidError) Error() string { return e.reason + ": " + e.msg }

func (r *Reconciler) markInvalid(ctx context.Context, hd *hugaiv1.HugAIDeployment, reason, msg string) error {
	before := meta.FindStatusCondition(hd.Status.Conditions, "Ready")
	cond := metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: reason, Message: msg, ObservedGeneration: hd.Generation}
	if before != nil && before.Status == cond.Status && before.Reason == reason && before.Message == msg && before.ObservedGeneration == hd.Generation {
		return nil
	}
	patch := client.MergeFrom(hd.DeepCopy())
	meta.SetStatusCondition(&hd.Status.Conditions, cond)
	if err := r.direct.Status().Patch(ctx, hd, patch); err != nil {
		return fmt.Errorf("status of %s/%s: %w", hd.Namespace, hd.Name, err)
	}
	r.events.Eventf(hd, nil, corev1.EventTypeWarning, reason, "Invalid", "%s", msg)
	r.cfg.Logf("%s/%s: %s: %s", hd.Namespace, hd.Name, reason, msg)
	return nil
}

// deployment returns the engine of a HugAIDeployment, building it (again) when its service file
// is new or changed.
func (r *Reconciler) deployment(ctx context.Context, hd *hugaiv1.HugAIDeployment) (*deployment, error) {
	key := types.NamespacedName{Namespace: hd.Namespace, Name: hd.Name}
	cm, err := serviceFileMap(ctx, r.cache, hd.Namespace, serviceName(hd))
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if d, ok := r.engines[key]; ok && d.fileRV == cm.ResourceVersion {
		return d, nil // parsed when it changed, not at every look
	}
	sf, err := parseServiceFile(cm, serviceName(hd))
	if err != nil {
		return nil, err
	}
	d := &deployment{fileRV: cm.ResourceVersion, service: sf.Service.Metadata.Name, env: environment(hd), obj: hd.DeepCopy()}
	var notifiers map[string]engine.Notifier
	if r.cfg.Notifiers != nil && len(sf.Service.Spec.Notifications) > 0 {
		n, err := r.cfg.Notifiers(sf.Service)
		if err != nil {
			return nil, &invalidError{"ServiceFile", fmt.Sprintf("%s: notifications: %v", sf.Path, err)}
		}
		notifiers = map[string]engine.Notifier{d.service: n}
	}
	var eng *engine.Engine
	st := kubestore.New(r.direct, key, kubestore.Options{Reader: r.cache, Summarize: func(rec store.Rollout, status *hugaiv1.RolloutStatus) {
		summarize(eng, rec, status)
	}})
	d.store = st
	eng = engine.New(engine.Config{
		Store: st, Services: []*engine.ServiceFile{sf}, Notifiers: notifiers,
		NewRuntime: func(ctx context.Context, sf *engine.ServiceFile, env *plan.Env) (*engine.Runtime, error) {
			return r.cfg.NewRuntime(ctx, sf, env, r.cache)
		},
		Tick: r.cfg.Tick, Logf: r.cfg.Logf, Version: r.cfg.Version,
		Observer: observer(func(c engine.Change) { r.transition(d, c) }),
	})
	d.eng = eng
	r.engines[key] = d
	return d, nil
}

// serviceFileMap finds the one ConfigMap holding a service's hugai.yaml in namespace ("": in any).
func serviceFileMap(ctx context.Context, c client.Reader, namespace, service string) (*corev1.ConfigMap, error) {
	var cms corev1.ConfigMapList
	opts := []client.ListOption{client.MatchingLabels{LabelService: service}}
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	if err := c.List(ctx, &cms, opts...); err != nil {
		return nil, fmt.Errorf("service file of %s: %w", service, err)
	}
	switch len(cms.Items) {
	case 0:
		return nil, &invalidError{"ServiceFileMissing", fmt.Sprintf("no ConfigMap labelled %s=%s in namespace %q holds the service's %s", LabelService, service, namespace, ServiceFileKey)}
	case 1:
		return &cms.Items[0], nil
	}
	var names []string
	for _, cm := range cms.Items {
		names = append(names, cm.Namespace+"/"+cm.Name)
	}
	sort.Strings(names)
	return nil, &invalidError{"ServiceFileAmbiguous", fmt.Sprintf("ConfigMaps %s are all labelled %s=%s: keep one", strings.Join(names, ", "), LabelService, service)}
}

// parseServiceFile reads the service file a ConfigMap holds.
func parseServiceFile(cm *corev1.ConfigMap, service string) (*engine.ServiceFile, error) {
	data, ok := cm.Data[ServiceFileKey]
	if !ok {
		return nil, &invalidError{"ServiceFileMissing", fmt.Sprintf("ConfigMap %s has no key %s", cm.Name, ServiceFileKey)}
	}
	path := fmt.Sprintf("configmap/%s/%s", cm.Namespace, cm.Name)
	svc, err := plan.ParseService(path, []byte(data))
	if err != nil {
		return nil, &invalidError{"ServiceFileInvalid", err.Error()}
	}
	if svc.Metadata.Name != service {
		return nil, &invalidError{"ServiceFileInvalid", fmt.Sprintf("%s describes service %q, not %q", path, svc.Metadata.Name, service)}
	}
	return &engine.ServiceFile{Path: path, Data: []byte(data), Service: svc}, nil
}

// startIfNew starts the rollout of the spec's generation if none was started for it. A rollout
// of an older generation still in flight is aborted first: its evidence belongs to a spec that no
// longer exists.
//
// With spec.planRef the rollout runs the referenced DeploymentPlan, and that plan changing under a
// rollout in flight (a new generation, or a new uid: deleted and created again) replaces it the
// same way. Whether it changed is read from the cluster (the frozen plan's annotations in the
// status), not remembered, so a restarted operator decides the same.
func (r *Reconciler) startIfNew(ctx context.Context, d *deployment, hd *hugaiv1.HugAIDeployment) error {
	newSpec := hd.Status.ObservedGeneration < hd.Generation
	var dp *hugaiv1.DeploymentPlan
	if hd.Spec.PlanRef != nil && (newSpec || inFlight(hd)) {
		var err error
		if dp, err = r.referencedPlan(ctx, hd); err != nil {
			return err
		}
	}
	why := fmt.Sprintf("generation %d of %s/%s replaced the spec this rollout was started for", hd.Generation, hd.Namespace, hd.Name)
	if !newSpec {
		was, now := frozenPlanSource(hd), planSource(dp)
		if dp == nil || was == now {
			return nil
		}
		why = fmt.Sprintf("DeploymentPlan %s/%s changed under this rollout (%s, started with %s)", dp.Namespace, dp.Name, now, orNone(was))
	}
	who := requester(hd)
	doc, err := planDocument(hd, dp)
	if err != nil {
		return err
	}
	req := api.StartRequest{Plan: doc, PlanFile: fmt.Sprintf("hugaideployment/%s/%s", hd.Namespace, hd.Name)}
	if dp != nil {
		req.PlanFile = fmt.Sprintf("deploymentplan/%s/%s", dp.Namespace, dp.Name)
	}
	// Start checks the spec before it looks for a rollout in flight: an invalid new spec is
	// refused without touching the rollout it would replace.
	_, err = d.eng.Start(ctx, who, req)
	var ae *api.Error
	if errors.As(err, &ae) && ae.Code == api.CodeConflict {
		active, lerr := d.eng.List(ctx, api.ListFilter{Service: d.service, Environment: d.env, Active: true, Limit: 1})
		if lerr != nil {
			return lerr
		}
		if len(active) == 0 {
			return err
		}
		if _, err := d.eng.Do(ctx, active[0].ID, operatorIdentity(), api.Command{Kind: rollout.CommandAbort, Comment: why}); err != nil {
			return fmt.Errorf("abort %s: %s: %w", active[0].ID, why, err)
		}
		_, err = d.eng.Start(ctx, who, req)
	}
	switch {
	case errors.As(err, &ae) && ae.Code == api.CodeBadInput && strings.Contains(ae.Message, "is already the stable version"):
		// Nothing to roll out: the version asked for already runs. Said, not retried.
		return r.markInvalid(ctx, hd, "AlreadyStable", ae.Message)
	case errors.As(err, &ae) && ae.Code == api.CodeBadInput:
		return &invalidError{"InvalidSpec", ae.Message}
	case errors.As(err, &ae) && ae.Code == api.CodeDenied:
		return &invalidError{"Denied", ae.Message}
	}
	return err
}

// planDocument is the HugAIDeployment as the YAML document the engine parses (plan.ParseRun
// reads a HugAIDeployment as the plan it runs as), or with spec.planRef the DeploymentPlan dp it
// references, deploying the HugAIDeployment's service, version and environment (planRefDocument).
func planDocument(hd *hugaiv1.HugAIDeployment, dp *hugaiv1.DeploymentPlan) ([]byte, error) {
	if hd.Spec.PlanRef != nil {
		return planRefDocument(hd, dp)
	}
	doc := map[string]any{
		"apiVersion": hugaiv1.GroupVersion.String(), "kind": plan.KindHugAIDeployment,
		"metadata": map[string]any{"name": hd.Name, "namespace": hd.Namespace},
		"spec":     hd.Spec,
	}
	if by := hd.Annotations[AnnotationRequestedBy]; by != "" {
		doc["metadata"].(map[string]any)["annotations"] = map[string]string{plan.AnnotationPlannedBy: by}
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("hugaideployment %s/%s as a plan: %w", hd.Namespace, hd.Name, err)
	}
	return b, nil
}

// requester is who asked for the spec: the admission-checked annotation, else the object itself.
func requester(hd *hugaiv1.HugAIDeployment) policy.Identity {
	if by := hd.Annotations[AnnotationRequestedBy]; by != "" {
		return policy.Identity{Name: by, Via: "kubernetes"}
	}
	return policy.Identity{Name: fmt.Sprintf("hugaideployment/%s/%s", hd.Namespace, hd.Name), Via: "kubernetes"}
}

func operatorIdentity() policy.Identity {
	return policy.Identity{Name: "hugai-operator", Via: "kubernetes"}
}

// carryOutActions runs the HugAIDeployment's new DeploymentActions, oldest first, each once.
func (r *Reconciler) carryOutActions(ctx context.Context, d *deployment, hd *hugaiv1.HugAIDeployment) error {
	var list hugaiv1.DeploymentActionList
	if err := r.cache.List(ctx, &list, client.InNamespace(hd.Namespace), client.MatchingFields{actionDeployment: hd.Name}); err != nil {
		return fmt.Errorf("actions of %s/%s: %w", hd.Namespace, hd.Name, err)
	}
	var todo []hugaiv1.DeploymentAction
	for _, a := range list.Items {
		if a.Status.Result == "" {
			todo = append(todo, a)
		}
	}
	sort.Slice(todo, func(i, j int) bool {
		a, b := todo[i].CreationTimestamp, todo[j].CreationTimestamp
		if a.Equal(&b) {
			return todo[i].Name < todo[j].Name
		}
		return a.Before(&b)
	})
	for i := range todo {
		if err := r.carryOut(ctx, d, &todo[i]); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reconciler) carryOut(ctx context.Context, d *deployment, a *hugaiv1.DeploymentAction) error {
	// The cache may be behind an action we already carried out: read it from the API server.
	if err := r.direct.Get(ctx, client.ObjectKeyFromObject(a), a); err != nil {
		return client.IgnoreNotFound(err)
	}
	if a.Status.Result != "" {
		return nil
	}
	result, code, msg, id, phase := "Refused", api.CodeConflict, "", a.Spec.Rollout, ""
	rolls, err := d.eng.List(ctx, api.ListFilter{Service: d.service, Environment: d.env, Limit: 1})
	switch {
	case err != nil:
		return err
	case len(rolls) == 0:
		code, msg = api.CodeNotFound, "no rollout of "+a.Spec.Deployment+" yet"
	case id != "" && id != rolls[0].ID:
		msg = fmt.Sprintf("rollout %s is not the current one (%s): the action is for an earlier rollout", id, rolls[0].ID)
	default:
		id = rolls[0].ID
		who := policy.Identity{Name: a.Spec.User, Groups: a.Spec.Groups, Via: "kubernetes", From: "deploymentaction/" + a.Namespace + "/" + a.Name}
		v, err := d.eng.Do(ctx, id, who, api.Command{Kind: rollout.CommandKind(a.Spec.Action), Gate: a.Spec.Gate, Comment: a.Spec.Comment, Full: a.Spec.Full, Emergency: a.Spec.Emergency})
		var ae *api.Error
		switch {
		case errors.As(err, &ae):
			code, msg = ae.Code, ae.Message
		case err != nil:
			return fmt.Errorf("%s %s: %w", a.Spec.Action, id, err)
		default:
			result, code, phase = "Done", "", v.Phase
			msg = fmt.Sprintf("%s by %s: rollout %s is %s", a.Spec.Action, a.Spec.User, id, v.Phase)
		}
	}
	now := metav1.Now()
	patch := client.MergeFrom(a.DeepCopy())
	a.Status = hugaiv1.DeploymentActionStatus{Result: result, Code: code, Message: msg, Rollout: id, Phase: phase, Time: &now}
	if err := r.direct.Status().Patch(ctx, a, patch); err != nil {
		return fmt.Errorf("status of action %s/%s: %w", a.Namespace, a.Name, err)
	}
	kind := corev1.EventTypeNormal
	if result != "Done" {
		kind = corev1.EventTypeWarning
	}
	r.events.Eventf(d.obj, a, kind, "Action"+result, titleCase(a.Spec.Action), "%s", msg)
	return nil
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// transition records a committed change of the rollout as a Kubernetes Event.
func (r *Reconciler) transition(d *deployment, c engine.Change) {
	b, a := c.Before, c.After
	if d.obj == nil {
		return
	}
	switch {
	case b.Phase != a.Phase:
		kind := corev1.EventTypeNormal
		switch a.Phase {
		case rollout.RollingBack, rollout.RolledBack, rollout.Failed, rollout.Aborted:
			kind = corev1.EventTypeWarning
		}
		from := string(b.Phase)
		if from == "" {
			from = "new"
		}
		msg := fmt.Sprintf("rollout %s of %s: %s → %s", c.RolloutID, a.Candidate, from, a.Phase)
		if a.Message != "" {
			msg += ": " + a.Message
		}
		r.events.Eventf(d.obj, nil, kind, string(a.Phase), "Transition", "%s", msg)
	case b.StepIndex != a.StepIndex:
		r.events.Eventf(d.obj, nil, corev1.EventTypeNormal, "StepCompleted", "Step", "rollout %s of %s: step %d done, now step %d", c.RolloutID, a.Candidate, b.StepIndex+1, a.StepIndex+1)
	}
}

type observer func(engine.Change)

func (o observer) Committed(c engine.Change) { o(c) }

// summarize writes what people read in `kubectl get hugaideployments` from the engine's view of
// the rollout being committed.
func summarize(eng *engine.Engine, rec store.Rollout, st *hugaiv1.RolloutStatus) {
	if eng == nil {
		return
	}
	v, err := eng.View(rec)
	if err != nil {
		return
	}
	st.Message = v.Message
	st.StableVersion, st.CanaryVersion = v.PreviousVersion, v.Version
	step := int32(v.CurrentStep)
	st.CurrentStepIndex = &step
	if n := len(v.Steps); n > 0 {
		shown := min(v.CurrentStep+1, n)
		st.Step = fmt.Sprintf("%d/%d", shown, n)
	}
	st.Weight = int32(v.Weights[v.Version])
	progressing := metav1.Condition{Type: "Progressing", Status: metav1.ConditionTrue, Reason: v.Phase, Message: v.Message}
	if v.Terminal {
		progressing.Status = metav1.ConditionFalse
	}
	meta.SetStatusCondition(&st.Conditions, progressing)
	ready := metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Running", Message: "the spec is being rolled out"}
	if v.Terminal {
		ready.Reason = v.Phase
		ready.Message = "the rollout ended " + v.Phase
	}
	meta.SetStatusCondition(&st.Conditions, readyAfterCommit(meta.FindStatusCondition(st.Conditions, "Ready"), ready, rec.Revision == 1))
}

// readyAfterCommit is the Ready condition a commit leaves: the rollout's, unless a refusal stands
// (Ready=False is only ever set by markInvalid: an edit refused, a plan or service file missing)
// and the commit is not a new rollout's. A refused edit beside the rollout still in flight stays
// said until a spec is accepted; put back to True at each commit, it was said again, with a
// Warning Event, at every look.
func readyAfterCommit(standing *metav1.Condition, rollout metav1.Condition, newRollout bool) metav1.Condition {
	if standing != nil && standing.Status == metav1.ConditionFalse && !newRollout {
		return *standing
	}
	return rollout
}
