package cli

import (
	"context"
	"fmt"
	"math"
	"os"

	"github.com/spf13/cobra"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/engine"
	"github.com/hugai-dev/hugai/internal/metric"
	"github.com/hugai-dev/hugai/internal/metric/prometheus"
	"github.com/hugai-dev/hugai/internal/operator"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/target/kubernetes"
)

// kubeFlags say where the server finds the cluster of its services of type kubernetes, as
// kubectl does: --kubeconfig, else $KUBECONFIG, else ~/.kube/config, else the pod's own
// service account when hugai runs in the cluster.
type kubeFlags struct {
	kubeconfig string
	context    string
}

func (f *kubeFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig for services of type kubernetes (default: $KUBECONFIG, else ~/.kube/config, else in-cluster)")
	c.Flags().StringVar(&f.context, "context", "", "the kubeconfig context to use (default: its current context)")
}

// loader is the kubeconfig as kubectl reads it.
func (f *kubeFlags) loader() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: f.context})
}

// restConfig loads the cluster's address and credentials.
func (f *kubeFlags) restConfig() (*restclient.Config, error) {
	cfg, err := f.loader().ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}

// hugaiClient opens the cluster with hugai's kinds for a command that reads or acts on
// HugAIDeployments, and names the namespace as kubectl does: namespace (-n), else the context's,
// else default.
func (f *kubeFlags) hugaiClient(namespace string) (client.Client, string, error) {
	cfg, err := f.restConfig()
	if err != nil {
		return nil, "", badInput(err)
	}
	if namespace == "" {
		if namespace, _, err = f.loader().Namespace(); err != nil {
			return nil, "", badInput(fmt.Errorf("kubeconfig: %w", err))
		}
	}
	scheme, err := operator.Scheme()
	if err != nil {
		return nil, "", err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", withCode(ExitFailed, fmt.Errorf("kubernetes client: %w", err))
	}
	return c, namespace, nil
}

// kubeRuntime is the runtime of a service environment of type kubernetes: the same engine, the
// kubernetes target, and the metrics of the service file's own providers (kubeMetrics).
// c talks to the cluster (the operator shares one among every service); cached, when not nil, is
// where the target's Status lists hugai's Deployments and pods from (the operator's cache).
func kubeRuntime(ctx context.Context, sf *engine.ServiceFile, env *plan.Env, c client.Client, cached client.Reader) (*engine.Runtime, error) {
	k := env.Target.Kubernetes
	if k == nil {
		return nil, fmt.Errorf("%s: type kubernetes needs spec.target.kubernetes", sf.Path)
	}
	o := kubernetes.Options{
		Client: c, Reader: cached, Service: sf.Service.Metadata.Name, Namespace: k.Namespace, Deployment: k.Deployment,
		Container: k.Container, Image: k.Image, Env: k.Env, KubeService: k.Service,
	}
	if r := k.TrafficRouter; r != nil && r.GatewayAPI != nil {
		o.HTTPRoute = r.GatewayAPI.HTTPRoute
	} else if r != nil && r.Istio != nil {
		o.VirtualService, o.VirtualServiceRoutes = r.Istio.VirtualService, r.Istio.Routes
	}
	if k.ScaleDownDelay != nil {
		o.ScaleDownDelay = k.ScaleDownDelay.Duration
	}
	if hr := k.HeaderRouting; hr != nil {
		// ${VAR} is read from the server's environment now; an empty one would turn header
		// routing off while the file says it is on.
		if o.RouteSecret = os.ExpandEnv(hr.Secret); o.RouteSecret == "" {
			return nil, fmt.Errorf("%s: target.kubernetes.headerRouting.secret %s is empty in the server's environment", sf.Path, hr.Secret)
		}
	}
	t, err := kubernetes.New(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("%s (environment %s): %w", sf.Path, env.Name, err)
	}
	metrics, err := kubeMetrics(sf.Service, env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sf.Path, err)
	}
	// No smoke test (validation refuses one on this target), no checkpoint commands or database
	// steps: the engine fails a rollout that asks for them, saying this server cannot run them.
	return &engine.Runtime{Target: t, Metrics: metrics}, nil
}

// kubeMetrics is the metric source of a service in a cluster. There is no proxy counting
// requests, so the builtin source's place (metric.Router's Default, which also gives every outside
// value the request count the judge weighs it by) is taken by the service's own request_rate:
// requests per second of the version, times the window's seconds, is how many it served.
// Validation requires request_rate there; any other builtin metric is an Error measurement
// saying why (validation refuses those too).
// The sequential comparison reads the two prometheus metrics analysis.compare names.
func kubeMetrics(svc *plan.Service, env *plan.Env) (metric.Provider, error) {
	ps, routes, err := outsideMetrics(svc)
	if err != nil {
		return nil, err
	}
	var counter metric.Provider
	if name, ok := routes["request_rate"]; ok {
		counter = ps[name]
	}
	ps[metric.Builtin] = metric.Func(func(ctx context.Context, q metric.Query) (analysis.Value, error) {
		if q.Metric != "request_rate" || counter == nil {
			return analysis.Value{Err: fmt.Sprintf("metric %s: builtin metrics are counted by hugai's proxy, which the kubernetes target does not have; declare it in spec.metrics with provider prometheus or web", q.Metric)}, nil
		}
		v, err := counter.Query(ctx, q)
		if err != nil || v.Err != "" || v.Samples > 0 || math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
			return v, err
		}
		v.Samples = uint64(math.Round(max(v.Value, 0) * q.To.Sub(q.From).Seconds()))
		return v, nil
	})
	r, err := metric.NewRouter(env.Name, ps, routes)
	if err != nil || env.Compare == nil {
		return r, err
	}
	if r.Comparer, err = prometheus.ComparerOf(env.Compare, prometheus.Options{}); err != nil {
		return nil, fmt.Errorf("analysis.compare: %w", err)
	}
	return r, nil
}
