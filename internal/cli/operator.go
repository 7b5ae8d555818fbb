package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/hugai-dev/hugai/internal/engine"
	"github.com/hugai-dev/hugai/internal/notify"
	"github.com/hugai-dev/hugai/internal/operator"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/target/kubernetes"
)

// operatorGCPercent is the operator's GOGC unless the environment sets one.
const operatorGCPercent = 50

// operatorCmd runs the Kubernetes operator: the same engine as `hugai server`, with each
// HugAIDeployment's state in its status (docs/kubernetes.md, "The operator").
func (a *app) operatorCmd() *cobra.Command {
	var kf kubeFlags
	var qps float32
	var burst int
	o := operator.Config{LeaderElection: true}
	c := &cobra.Command{
		Use:   "operator",
		Short: "Run the Kubernetes operator: reconcile HugAIDeployments with hugai's engine",
		Long: "Runs each HugAIDeployment's rollout with the same engine as `hugai server`: the service file comes\n" +
			"from the ConfigMap labelled hugai.io/service-file=<service> (key hugai.yaml) in the object's namespace,\n" +
			"state, approvals and the audit chain live in the cluster, and people act through DeploymentActions\n" +
			"(`hugai deploy approve NAME --target kubernetes`). Replicas elect one leader.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if os.Getenv("GOGC") == "" {
				// The heap is mostly the informers' long-lived objects, and the garbage is the
				// decoding of watch events: collecting at half the heap's growth rather than at
				// its doubling trades CPU the operator has to spare (the API server is what a
				// reconcile waits for) for memory (docs/benchmarks.md). GOGC (and GOMEMLIMIT)
				// set in the environment win.
				debug.SetGCPercent(operatorGCPercent)
			}
			cfg, err := kf.restConfig()
			if err != nil {
				return badInput(err)
			}
			// client-go's default (5 requests a second) would hold 500 rollouts to a few
			// reconciles a second; the API server's priority and fairness still protects it.
			cfg.QPS, cfg.Burst = qps, burst
			shared, err := kubernetes.NewClient(cfg)
			if err != nil {
				return err
			}
			o.REST = cfg
			o.Version = version
			o.Logf = func(format string, args ...any) {
				fmt.Fprintf(a.errOut, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
			}
			o.NewRuntime = func(ctx context.Context, sf *engine.ServiceFile, env *plan.Env, cached client.Reader) (*engine.Runtime, error) {
				if env.Target.Type != plan.TargetKubernetes {
					return nil, fmt.Errorf("%s: environment %s deploys to the %s target: the operator drives kubernetes ones", sf.Path, env.Name, env.Target.Type)
				}
				return kubeRuntime(ctx, sf, env, shared, cached)
			}
			o.Notifiers = func(svc *plan.Service) (engine.Notifier, error) {
				return notify.FromConfig(svc.Spec.Notifications, os.Getenv)
			}
			o.Log = logr.FromSlogHandler(slog.NewTextHandler(a.errOut, nil))
			// controller-runtime's packages log through its global logger too (the manager
			// warns once when it was never set).
			ctrllog.SetLogger(o.Log)
			return operator.Run(c.Context(), o)
		},
	}
	kf.add(c)
	f := c.Flags()
	f.StringVarP(&o.Namespace, "namespace", "n", "", "watch only this namespace (default: every namespace)")
	f.BoolVar(&o.LeaderElection, "leader-elect", true, "elect one leader among the operator's replicas (a Lease)")
	f.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "the Lease's namespace (default: the pod's own)")
	f.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long a leader that stopped renewing keeps the Lease")
	f.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", 10*time.Second, "how long the leader retries renewing before it gives up leading")
	f.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", 2*time.Second, "how often candidates try to take the Lease")
	f.StringVar(&o.HealthAddr, "health-addr", ":8081", "serve /healthz and /readyz here (\"0\": off)")
	f.StringVar(&o.MetricsAddr, "metrics-addr", "0", "serve the controller's Prometheus /metrics here (\"0\": off)")
	f.DurationVar(&o.Tick, "tick", 10*time.Second, "look at each rollout at least this often (pods can fail at any time)")
	f.IntVar(&o.Workers, "workers", 16, "HugAIDeployments reconciled at once (a reconcile mostly waits for the API server)")
	f.StringVar(&o.AnalysisAddr, "analysis-addr", "", "serve hugai as Argo Rollouts' judge here (GET /analysis, config/argo/hugai-analysis.yaml); \"\": off")
	f.StringVar(&o.Judge.TokenFile, "analysis-token-file", "", "the bearer token Argo's requests must carry (the Secret hugai-analysis, mounted); read at each request")
	f.Float32Var(&qps, "kube-api-qps", 200, "requests a second to the API server, sustained")
	f.IntVar(&burst, "kube-api-burst", 400, "requests to the API server in a burst")
	return c
}
