// Package plan holds the files users write — the service file (hugai.yaml) and the DeploymentPlan —
// with their line-aware parsing, defaults and validation; internal/schema makes their JSON Schema
// from these types. It is part of the pure core: no network, no processes, no clock.
package plan

// APIVersion is the version of every hugai document.
const APIVersion = "hugai.io/v1"

// Document kinds.
const (
	KindService         = "Service"
	KindDeploymentPlan  = "DeploymentPlan"
	KindHugAIDeployment = "HugAIDeployment"
)

// Metadata names a document. It is hugai's own type, so the core needs no Kubernetes import; the
// CRD types wrap the specs with ObjectMeta.
type Metadata struct {
	Name        string            `json:"name,omitempty"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Service is hugai.yaml: a service described once, read by every command.
type Service struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   Metadata    `json:"metadata"`
	Spec       ServiceSpec `json:"spec"`
}

// ServiceSpec is where and how a service runs, and the rules its deployments follow.
type ServiceSpec struct {
	Target           Target                 `json:"target"`
	ProgressDeadline *Duration              `json:"progressDeadline,omitempty"`
	HealthChecks     []HealthCheck          `json:"healthChecks,omitempty"`
	Metrics          []Metric               `json:"metrics,omitempty"`
	Environments     map[string]Environment `json:"environments,omitempty"`
	Database         *Database              `json:"database,omitempty"`
	SmokeTest        []string               `json:"smokeTest,omitempty"`
	// Checkpoints are the commands (argv, no shell) of automated checkpoints a plan names that
	// hugai does not know itself, e.g. security-scan: ["trivy", "fs", "--exit-code", "1", "."].
	// Exit 0 passes; $HUGAI_URL is the service's address.
	Checkpoints   map[string][]string `json:"checkpoints,omitempty"`
	Notifications []Notification      `json:"notifications,omitempty"`
	// Release is how `hugai release execute` ships a release: its stages, in order.
	Release *ReleaseConfig `json:"release,omitempty"`
}

// ReleaseConfig is the path a release takes to production: stages run one after the other, each
// a rollout of the release's plan for its environment, and the first that does not succeed stops
// the release.
type ReleaseConfig struct {
	Stages []ReleaseStage `json:"stages"`
}

// ReleaseStage is one environment a release passes through.
type ReleaseStage struct {
	// Name names the stage in status and the audit log (default: its environment).
	Name string `json:"name,omitempty"`
	// Environment is the environment of spec.environments the stage deploys to.
	Environment string `json:"environment"`
	// PreChecks run before the stage's rollout starts: smoke-test or a command of spec.checkpoints.
	// One that fails stops the release before the stage changes anything.
	PreChecks []string `json:"preChecks,omitempty"`
	// Validation runs once the stage's rollout has succeeded (smoke-test or a command of
	// spec.checkpoints); one that fails rolls the stage back and stops the release.
	Validation []string `json:"validation,omitempty"`
	// Approval holds the stage's rollout for an approval before its first step, whatever the
	// environment's policy says (the policy may ask for one anyway).
	Approval bool `json:"approval,omitempty"`
}

// StageName is the stage's name: its own, else its environment's.
func (s ReleaseStage) StageName() string {
	if s.Name != "" {
		return s.Name
	}
	return s.Environment
}

// Target types.
const (
	TargetLocal      = "local"
	TargetKubernetes = "kubernetes"
)

// Target says where versions run. An environment may override parts of it.
type Target struct {
	Type       string            `json:"type,omitempty"`
	Local      *LocalTarget      `json:"local,omitempty"`
	Kubernetes *KubernetesTarget `json:"kubernetes,omitempty"`
}

// LocalTarget runs each version as processes behind hugai's own proxy.
type LocalTarget struct {
	// Command is an argv (no shell); {{.Port}}, {{.Version}}, {{.Replica}} and {{.DataDir}} are
	// filled per process. The port is also in the PORT environment variable.
	Command     []string          `json:"command,omitempty"`
	Workdir     string            `json:"workdir,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	Replicas    int               `json:"replicas,omitempty"`
	Listen      string            `json:"listen,omitempty"`
	Admin       string            `json:"admin,omitempty"`
	Preview     string            `json:"preview,omitempty"`
	GracePeriod *Duration         `json:"gracePeriod,omitempty"`
	// UpstreamProtocol is what the replicas speak to the proxy: http1 (the default), h2c (HTTP/2
	// without TLS, as gRPC servers speak it) or h2 (HTTP/2 over TLS, the replica's certificate
	// unchecked since the proxy reaches it on loopback). Clients reach the proxy in HTTP/1.1 or
	// HTTP/2 whichever it is.
	UpstreamProtocol string `json:"upstreamProtocol,omitempty"`
	// TLSCert and TLSKey are PEM files (relative to the service file) for TLS on listen, so that the
	// proxy can face users directly: HTTP/2 and HTTP/1.1 by ALPN, the files read again when they
	// change (a renewed certificate needs no restart). Without them listen is plain TCP.
	TLSCert string `json:"tlsCert,omitempty"`
	TLSKey  string `json:"tlsKey,omitempty"`
	// HeaderRouting lets clients of listen pick a version with the X-Hugai-Route header
	// (stable, canary, preview). Off unless set, so that nobody reaches a version that is not
	// released just by asking; then honoured only with the secret or from an allowed address. The
	// header and its secret are never forwarded.
	HeaderRouting *HeaderRouting `json:"headerRouting,omitempty"`
}

// HeaderRouting says whose X-Hugai-Route header the proxy honours.
type HeaderRouting struct {
	// Secret is the value a client sends in X-Hugai-Route-Secret (compared in constant time);
	// write it as ${VAR}: it is read from the server's environment and never stored.
	Secret string `json:"secret,omitempty"`
	// AllowFrom lists client addresses (IPs or CIDR ranges) whose X-Hugai-Route is honoured
	// without the secret.
	AllowFrom []string `json:"allowFrom,omitempty"`
}

// Upstream protocols of a local target's replicas.
const (
	UpstreamHTTP1 = "http1"
	UpstreamH2C   = "h2c"
	UpstreamH2    = "h2"
)

// KubernetesTarget drives a workload and a traffic router in a cluster (docs/kubernetes.md).
type KubernetesTarget struct {
	Namespace string `json:"namespace,omitempty"`
	// Deployment is the user's Deployment each version is made from (hugai never writes it).
	Deployment string `json:"deployment,omitempty"`
	// Container is the container that carries the version (default: the first).
	Container string `json:"container,omitempty"`
	// Image is the container's image for a version, a template of {{.Version}}.
	Image string `json:"image,omitempty"`
	// Env sets the container's environment variables for a version, each a template of
	// {{.Version}}: for services that take their version from the environment, not the image.
	Env map[string]string `json:"env,omitempty"`
	// Service is the user's Service: its ports are given to the per-version and preview Services;
	// with no trafficRouter, its pods' replica counts split the traffic.
	Service string `json:"service,omitempty"`
	// Replicas is how many pods a version runs at full size (default 1).
	Replicas int `json:"replicas,omitempty"`
	// ScaleDownDelay keeps a version that left the routes running this long before it is deleted,
	// so gateways still sending to it drain and a rollback in that time finds it warm.
	ScaleDownDelay *Duration      `json:"scaleDownDelay,omitempty"`
	TrafficRouter  *TrafficRouter `json:"trafficRouter,omitempty"`
	// HeaderRouting lets clients of the HTTPRoute or VirtualService pick a version with
	// X-Hugai-Route (stable, canary, preview) when they also send the secret in
	// X-Hugai-Route-Secret: off unless set. allowFrom cannot be had here (neither router matches
	// client addresses).
	HeaderRouting *HeaderRouting `json:"headerRouting,omitempty"`
}

// TrafficRouter names the object hugai sets weights on.
type TrafficRouter struct {
	GatewayAPI *GatewayAPIRouter `json:"gatewayAPI,omitempty"`
	Istio      *IstioRouter      `json:"istio,omitempty"`
}

type GatewayAPIRouter struct {
	HTTPRoute string `json:"httpRoute"`
}

// IstioRouter is an Istio VirtualService in the target's namespace whose http routes hugai gives
// one destination per version (the version's Service) with its weight.
type IstioRouter struct {
	// VirtualService is the VirtualService's name.
	VirtualService string `json:"virtualService"`
	// Routes names the http routes hugai drives (as Argo Rollouts' trafficRouting.istio does).
	// Empty: every http route whose destinations are all the target's Service.
	Routes []string `json:"routes,omitempty"`
}

// HealthCheck is an HTTP probe of each replica; it gates readiness and every analysis step.
type HealthCheck struct {
	Name             string    `json:"name,omitempty"`
	Path             string    `json:"path"`
	Interval         *Duration `json:"interval,omitempty"`
	Timeout          *Duration `json:"timeout,omitempty"`
	FailureThreshold int       `json:"failureThreshold,omitempty"`
	SuccessThreshold int       `json:"successThreshold,omitempty"`
}

// Metric providers.
const (
	ProviderBuiltin    = "builtin"
	ProviderPrometheus = "prometheus"
	ProviderWeb        = "web"
)

// Metric is a named measurement usable in success criteria and analysis templates.
type Metric struct {
	Name     string `json:"name"`
	Provider string `json:"provider,omitempty"`
	Address  string `json:"address,omitempty"`
	Query    string `json:"query,omitempty"`
	// JSONPath picks the value out of a web provider's response.
	JSONPath string `json:"jsonPath,omitempty"`
	// Headers are sent with each request of a web or prometheus provider, e.g. Authorization:
	// "Bearer ${TOKEN}"; ${VAR} is read from the environment at each request and never stored.
	Headers map[string]string `json:"headers,omitempty"`
}

// Environment is a place a service is deployed to, with its own rules.
type Environment struct {
	Target          *Target           `json:"target,omitempty"`
	SuccessCriteria string            `json:"successCriteria,omitempty"`
	Analysis        *AnalysisSettings `json:"analysis,omitempty"`
	Monitoring      *MonitorSettings  `json:"monitoring,omitempty"`
	StrategyByRisk  map[string]string `json:"strategyByRisk,omitempty"`
	Policy          *Policy           `json:"policy,omitempty"`
}

// Analysis methods.
const (
	MethodThreshold  = "threshold"
	MethodSequential = "sequential"
)

// AnalysisSettings say how often and on how much data a version is judged.
type AnalysisSettings struct {
	// Interval is how often the judge looks: every interval the criteria are measured over the
	// step so far, and the comparison reads the seconds since the last look.
	Interval       *Duration `json:"interval,omitempty"`
	MinimumSamples int       `json:"minimumSamples,omitempty"`
	Method         string    `json:"method,omitempty"`
	// Alpha is the false-rollback rate allowed: a rate criterion fails only beyond doubt at this
	// level, and the sequential comparison's two tests share it.
	Alpha *float64 `json:"alpha,omitempty"`
	// MaxRegression (sequential) is the regression small enough to accept: ruled out, it lets an
	// analysis step end early when EarlyPromotion is on.
	MaxRegression *MaxRegression `json:"maxRegression,omitempty"`
	// EarlyPromotion (sequential) ends an analysis step once a regression of MaxRegression is
	// ruled out. It never shortens a pause.
	EarlyPromotion *bool `json:"earlyPromotion,omitempty"`
	// Compare (sequential, kubernetes target) names where both versions' requests and errors are
	// counted when hugai's proxy does not count them: two named prometheus metrics of spec.metrics,
	// read as range queries. hugai as Argo Rollouts' judge reads them too (docs/kubernetes.md).
	Compare *Compare `json:"compare,omitempty"`
}

// Compare names the prometheus metrics the sequential comparison reads. Each is a named metric of
// spec.metrics whose query is the version's running total, e.g.
// sum(http_requests_total{version="{{.Version}}"}); it is run as a range query whose points are
// Step apart, and each step counts the difference between its two ends (exact, where
// increase() over step-long windows would drop or double single requests).
type Compare struct {
	// Requests is the named metric totalling a version's requests.
	Requests string `json:"requests,omitempty"`
	// Errors is the named metric totalling a version's failed requests. No series is no data,
	// never zero: write "or vector(0)" after the sum, since a version that has failed no
	// request often has no error series at all.
	Errors string `json:"errors,omitempty"`
	// Step is how far apart the points are (default 30s), no less than the scrape interval.
	Step *Duration `json:"step,omitempty"`
}

// MaxRegression is the largest regression of each metric that is still acceptable.
type MaxRegression struct {
	ErrorRate  string `json:"errorRate,omitempty"`  // percentage points: 0.5pp
	LatencyP95 string `json:"latencyP95,omitempty"` // relative: 10%
}

// MonitorSettings configure the watch after promotion.
type MonitorSettings struct {
	Duration *Duration `json:"duration,omitempty"`
}

// Policy is an environment's governance: who may do what, who approves and how many, and when
// not to deploy. With no roles and no approvers anyone who reaches the server may do anything;
// naming approvers closes approving to them; naming any role closes the environment to those named.
// A principal is a user name, an e-mail address or a group (`production-team@company.com`),
// matched against the caller's name, e-mail and groups; `user:`, `group:` and `token:` narrow it
// to one kind, and `*` is anyone.
type Policy struct {
	// Roles lists who holds each role: viewer < deployer < approver < admin, each with the rights
	// of those below (viewer reads; deployer starts, promotes, aborts, rolls back; approver approves
	// and signs off; admin overrides freeze windows and manages tokens).
	Roles *Roles `json:"roles,omitempty"`
	// Approvers hold the approver role and approve gates (and sign off checkpoints).
	Approvers         []string  `json:"approvers,omitempty"`
	ApprovalsRequired int       `json:"approvalsRequired,omitempty"`
	ApprovalTimeout   *Duration `json:"approvalTimeout,omitempty"`
	// ApprovalExpiry: an approval older than this no longer counts toward a gate (default: never).
	ApprovalExpiry *Duration `json:"approvalExpiry,omitempty"`
	// Quorum groups each need approvals from their own members on every gate of the environment,
	// a person counting for one group at most: "one from security and one from production".
	Quorum []QuorumGroup `json:"quorum,omitempty"`
	// FourEyes: whoever started a rollout may not approve it. On by default wherever the
	// environment names approvers (approvers, roles.approver or quorum); false turns it off.
	FourEyes            *bool  `json:"fourEyes,omitempty"`
	RequireApprovalFrom string `json:"requireApprovalFrom,omitempty"`
	// CheckpointRoles name the role that approves or signs off a manual checkpoint, when it is not
	// approver: `{security-review: admin}`.
	CheckpointRoles map[string]string `json:"checkpointRoles,omitempty"`
	Timezone        string            `json:"timezone,omitempty"`
	// FreezeWindows: inside one, deploy plan requires an approval and nothing starts unless an
	// admin overrides it with a reason (`--override-freeze REASON`, audited).
	FreezeWindows []FreezeWindow `json:"freezeWindows,omitempty"`
}

// Roles lists the principals holding each role in an environment.
type Roles struct {
	Viewer   []string `json:"viewer,omitempty"`
	Deployer []string `json:"deployer,omitempty"`
	Approver []string `json:"approver,omitempty"`
	Admin    []string `json:"admin,omitempty"`
}

// QuorumGroup is one party of a quorum: Count (default 1) approvals from distinct members of From.
type QuorumGroup struct {
	Name  string   `json:"name"`
	From  []string `json:"from"`
	Count int      `json:"count,omitempty"`
}

// FreezeWindow is a recurring span in which deploys are risky: a cron start and a duration.
type FreezeWindow struct {
	Name     string   `json:"name"`
	Start    string   `json:"start"`
	Duration Duration `json:"duration"`
}

// Database holds the commands that move the schema forward and back.
type Database struct {
	Migrate  []string `json:"migrate,omitempty"`
	Rollback []string `json:"rollback,omitempty"`
}

// Notification is a channel hugai tells about rollouts.
type Notification struct {
	// Name is what a plan's monitoring.alerting.channels calls the channel (default: its type).
	Name       string `json:"name,omitempty"`
	Type       string `json:"type"`
	WebhookURL string `json:"webhookURL,omitempty"`
	URL        string `json:"url,omitempty"`
	RoutingKey string `json:"routingKey,omitempty"`
	// Secret signs webhook requests (X-Hugai-Signature: sha256=HMAC of the body); write it as
	// ${VAR} so it stays out of the file.
	Secret string `json:"secret,omitempty"`
	SMTP   string `json:"smtp,omitempty"`
	// Username and Password log in to the SMTP relay; write the password as ${VAR}.
	Username string   `json:"username,omitempty"`
	Password string   `json:"password,omitempty"`
	From     string   `json:"from,omitempty"`
	To       []string `json:"to,omitempty"`
	Severity string   `json:"severity,omitempty"`
}
