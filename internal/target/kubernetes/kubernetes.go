// Package kubernetes is the target that runs each version of a service as a Deployment in a
// cluster, made from the user's own Deployment (the template), and splits traffic between versions
// with a Gateway API HTTPRoute's backend weights, an Istio VirtualService's destination weights
// or, with no router, by replica counts.
//
// Everything hugai creates carries its labels (managed-by, service, revision) and the exact
// version in an annotation; the requested routing is kept in a ConfigMap. A new Target (a hugai
// restarted, another process) therefore finds all of it again from the cluster: it keeps no
// state in memory. There is no kubelet in the tests: they play it by writing pod and Deployment
// status, which is all this target reads.
package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"text/template"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/hugai-dev/hugai/internal/target"
)

// Labels and annotations on every object hugai owns.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedBy is LabelManagedBy's value on everything hugai creates.
	ManagedBy    = "hugai"
	managedBy    = ManagedBy
	LabelService = "hugai.io/service"
	// LabelRevision is a DNS-safe form of the version (it also selects the revision's pods).
	LabelRevision = "hugai.io/revision"
	// AnnotationVersion is the exact version: labels cannot hold every version string.
	AnnotationVersion = "hugai.io/version"
	// annotationDesired is the replica count Deploy was asked for; with no router the Deployment
	// runs a share of it that follows the weight.
	annotationDesired = "hugai.io/desired-replicas"
	// annotationRouted marks a version that has had traffic: with no router, such a version
	// back at weight 0 (promoted past, or rolled back) is scaled to none, since any pod of it
	// would still take a share of the user's Service; one never routed keeps its replicas at
	// weight 0 so it can get ready before its first step.
	annotationRouted = "hugai.io/routed"
	// annotationRemoveAfter marks a removed revision kept running for the scale-down delay.
	annotationRemoveAfter = "hugai.io/remove-after"
)

// Options describe one service in one namespace.
type Options struct {
	// Client reaches the API server; its scheme knows the built-in types and Gateway API's v1
	// (NewClient makes one).
	Client client.Client
	// Reader is where Status lists the versions' Deployments and pods from (nil: Client), e.g.
	// an operator's informer cache holding the objects labelled managed-by hugai: Status is
	// polled at every look, and a cache answers it without a request to the API server. A
	// cache lags behind the target's own writes by moments, which Status may (the next look
	// sees them); every write reads what it changes from Client. The Reader must index
	// Deployments and pods by IndexService (IndexServiceOf), so that a look reads the service's
	// objects rather than every object of the namespace.
	Reader client.Reader
	// Service is hugai's name for the service (metadata.name of hugai.yaml): it labels everything.
	Service   string
	Namespace string
	// Deployment is the user's Deployment every version is made from. hugai never writes it.
	Deployment string
	// Container is the container whose image and env carry the version (default: the first).
	Container string
	// Image is the container's image, a template of {{.Version}}, e.g. registry/app:{{.Version}}.
	// Empty keeps the template's image (then Env must carry the version).
	Image string
	// Env sets environment variables of the container, each a template of {{.Version}}.
	Env map[string]string
	// KubeService is the user's Service: its ports are copied to the per-version and preview
	// Services; with no router it is what splits traffic by replicas.
	KubeService string
	// HTTPRoute is the Gateway API HTTPRoute whose backend weights hugai sets. Empty: no router,
	// traffic follows replica counts (approximate; Status reports the real share).
	HTTPRoute string
	// VirtualService is the Istio VirtualService whose destination weights hugai sets (set it or
	// HTTPRoute, not both).
	VirtualService string
	// VirtualServiceRoutes names the VirtualService's http routes hugai drives. Empty: every http
	// route whose destinations are all KubeService or hugai's per-version Services.
	VirtualServiceRoutes []string
	// PreviewService is the Service that reaches the preview version alone (blue-green before
	// the switch); default KubeService-preview.
	PreviewService string
	// RouteSecret turns on header routing: X-Hugai-Route (stable, canary, preview) reaches that
	// version when the request also carries this value in X-Hugai-Route-Secret. Empty: hugai
	// writes no header rule, so nobody reaches a version that is not released just by asking.
	RouteSecret string
	// ScaleDownDelay keeps a removed version's pods running this long after it leaves the routes,
	// so that gateways still sending to it drain, and a rollback finds it warm.
	ScaleDownDelay time.Duration
	// Now is the clock of the scale-down delay (default time.Now).
	Now func() time.Time
}

// Target drives one service's versions in the cluster.
type Target struct {
	opts  Options
	c     client.Client
	r     client.Reader // Status' lists
	image *template.Template
	env   map[string]*template.Template

	// recorded is the routing ConfigMap's routing.json as this target last read or wrote it: the
	// ConfigMap is hugai's record, written by one engine at a time, so it is read once per Target
	// rather than at every look (a new Target, as after a restart, reads it again).
	rmu      sync.Mutex
	recorded *string
}

var _ target.Target = (*Target)(nil)

// NewClient returns a client on cfg that knows the types this target reads and writes.
func NewClient(cfg *rest.Config) (client.Client, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, gatewayv1.Install} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("kubernetes scheme: %w", err)
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return c, nil
}

// New checks the options and that the template Deployment exists. It creates nothing.
func New(ctx context.Context, o Options) (*Target, error) {
	if o.Client == nil {
		return nil, errors.New("kubernetes target: no client")
	}
	for f, v := range map[string]string{"service": o.Service, "namespace": o.Namespace, "deployment": o.Deployment} {
		if v == "" {
			return nil, fmt.Errorf("kubernetes target: %s is missing", f)
		}
	}
	if o.HTTPRoute != "" && o.KubeService == "" {
		return nil, fmt.Errorf("kubernetes target: httpRoute %s needs the service whose ports the backends use", o.HTTPRoute)
	}
	if o.VirtualService != "" && o.KubeService == "" {
		return nil, fmt.Errorf("kubernetes target: virtualService %s needs the service whose ports the destinations use", o.VirtualService)
	}
	if o.HTTPRoute != "" && o.VirtualService != "" {
		return nil, fmt.Errorf("kubernetes target: httpRoute %s and virtualService %s: one router at a time", o.HTTPRoute, o.VirtualService)
	}
	for _, r := range o.VirtualServiceRoutes {
		if r == "" || strings.HasPrefix(r, "hugai-") {
			return nil, fmt.Errorf("kubernetes target: virtualService route %q: a route needs a name, and hugai- names are hugai's own", r)
		}
	}
	if o.PreviewService == "" && o.KubeService != "" {
		o.PreviewService = o.KubeService + "-preview"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	t := &Target{opts: o, c: o.Client, r: o.Reader, env: map[string]*template.Template{}}
	if t.r == nil {
		t.r = o.Client
	}
	var err error
	if o.Image != "" {
		if t.image, err = parseTemplate(o.Image); err != nil {
			return nil, fmt.Errorf("kubernetes target: image %q: %w", o.Image, err)
		}
	}
	for k, v := range o.Env {
		if t.env[k], err = parseTemplate(v); err != nil {
			return nil, fmt.Errorf("kubernetes target: env %s=%q: %w", k, v, err)
		}
	}
	if _, err := t.template(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

func parseTemplate(s string) (*template.Template, error) {
	return template.New("v").Option("missingkey=error").Parse(s)
}

func render(tm *template.Template, version string) (string, error) {
	var b strings.Builder
	if err := tm.Execute(&b, struct{ Version string }{version}); err != nil {
		return "", err
	}
	return b.String(), nil
}

// template reads the user's Deployment.
func (t *Target) template(ctx context.Context) (*appsv1.Deployment, error) {
	var d appsv1.Deployment
	if err := t.c.Get(ctx, t.key(t.opts.Deployment), &d); err != nil {
		return nil, fmt.Errorf("template deployment %s/%s: %w", t.opts.Namespace, t.opts.Deployment, err)
	}
	if d.Spec.Selector == nil || len(d.Spec.Selector.MatchLabels) == 0 {
		return nil, fmt.Errorf("template deployment %s/%s: its selector has no matchLabels to extend per version", t.opts.Namespace, t.opts.Deployment)
	}
	return &d, nil
}

// routed says whether a router (HTTPRoute or VirtualService) splits the traffic; if not, replica
// counts do.
func (t *Target) routed() bool { return t.opts.HTTPRoute != "" || t.opts.VirtualService != "" }

func (t *Target) key(name string) types.NamespacedName {
	return types.NamespacedName{Namespace: t.opts.Namespace, Name: name}
}

// owned are the labels of every object hugai makes for this service.
func (t *Target) owned() map[string]string {
	return map[string]string{LabelManagedBy: managedBy, LabelService: t.opts.Service}
}

func (t *Target) ownedRev(version string) map[string]string {
	l := t.owned()
	l[LabelRevision] = revisionID(version)
	return l
}

// IndexService is the field index a Reader (Options.Reader) has on Deployments and pods: the
// service of the objects hugai manages.
const IndexService = "hugai.io/service"

// IndexServiceOf is IndexService's value of an object: its service if hugai manages it.
func IndexServiceOf(o client.Object) []string {
	l := o.GetLabels()
	if l[LabelManagedBy] != managedBy || l[LabelService] == "" {
		return nil
	}
	return []string{l[LabelService]}
}

// listOwned lists the objects of this service hugai made into list, from the Client; or, for a
// look, from the Reader, by its index when one was given.
func (t *Target) listOwned(ctx context.Context, list client.ObjectList, look bool) error {
	opts := []client.ListOption{client.InNamespace(t.opts.Namespace), client.MatchingLabels(t.owned())}
	if !look {
		return t.c.List(ctx, list, opts...)
	}
	if t.opts.Reader != nil {
		opts = append(opts, client.MatchingFields{IndexService: t.opts.Service})
	}
	return t.r.List(ctx, list, opts...)
}

func isOwned(labels map[string]string, service string) bool {
	return labels[LabelManagedBy] == managedBy && labels[LabelService] == service
}

// revisionID is a DNS label for a version: its readable part (lowercase, [a-z0-9-]) and a hash of
// the exact string, so that 1.2 and 1-2 never share objects.
func revisionID(version string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(version) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	sum := sha256.Sum256([]byte(version))
	readable := strings.Trim(b.String(), "-")
	if len(readable) > 40 {
		readable = strings.TrimRight(readable[:40], "-")
	}
	h := hex.EncodeToString(sum[:4])
	if readable == "" {
		return h
	}
	return readable + "-" + h
}

// objectName is prefix-revision, cut to a DNS label's 63 characters from the prefix's side.
func objectName(prefix, version string) string {
	id := revisionID(version)
	if room := 63 - len(id) - 1; len(prefix) > room {
		prefix = strings.TrimRight(prefix[:room], "-")
	}
	return prefix + "-" + id
}

func (t *Target) deploymentName(version string) string { return objectName(t.opts.Deployment, version) }
func (t *Target) serviceName(version string) string    { return objectName(t.opts.KubeService, version) }
func (t *Target) routingName() string                  { return t.opts.Service + "-hugai-routing" }
