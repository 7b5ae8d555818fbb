package fields

import (
	"time"

	"github.com/hugai-dev/hugai/internal/plan"
)

func prod(f *fx) *plan.Environment {
	e := f.svc.Spec.Environments["production"]
	return &e
}

// setProd edits the production environment of the fixture's service.
func setProd(edit func(e *plan.Environment)) func(*fx) {
	return func(f *fx) {
		e := prod(f)
		edit(e)
		f.svc.Spec.Environments["production"] = *e
	}
}

func kubernetes(f *fx) { f.svc.Spec.Target.Type = plan.TargetKubernetes }

var serviceEffects = map[string]effect{
	"apiVersion":           {"must be hugai.io/v1", func(f *fx) { f.svc.APIVersion = "v2" }},
	"kind":                 {"must be Service", func(f *fx) { f.svc.Kind = "Deployment" }},
	"metadata.name":        {"the service's name: plans name it in spec.service, analysis args must match it", func(f *fx) { f.svc.Metadata.Name = "cart" }},
	"metadata.namespace":   {"recorded; a Service file has no namespace of its own", nil},
	"metadata.labels":      {"recorded", nil},
	"metadata.annotations": {"recorded", nil},

	"spec.target.type":                       {"local runs processes behind hugai's proxy; kubernetes runs Deployments in a cluster (docs/kubernetes.md)", kubernetes},
	"spec.target.local.command":              {"the argv of one replica (the local target)", func(f *fx) { f.svc.Spec.Target.Local.Command = []string{"./other"} }},
	"spec.target.local.workdir":              {"where replicas run", func(f *fx) { f.svc.Spec.Target.Local.Workdir = "/srv" }},
	"spec.target.local.env":                  {"the replicas' environment", func(f *fx) { f.svc.Spec.Target.Local.Env = map[string]string{"X": "1"} }},
	"spec.target.local.replicas":             {"replicas per version", func(f *fx) { f.svc.Spec.Target.Local.Replicas = 5 }},
	"spec.target.local.listen":               {"where the proxy serves users", func(f *fx) { f.svc.Spec.Target.Local.Listen = "127.0.0.1:7070" }},
	"spec.target.local.admin":                {"the proxy's /metrics and /healthz", func(f *fx) { f.svc.Spec.Target.Local.Admin = "127.0.0.1:7071" }},
	"spec.target.local.preview":              {"the preview address (green before a switch, a canary's smoke test)", func(f *fx) { f.svc.Spec.Target.Local.Preview = "127.0.0.1:7072" }},
	"spec.target.local.gracePeriod":          {"SIGTERM, then SIGKILL after it", func(f *fx) { f.svc.Spec.Target.Local.GracePeriod = durp(time.Second) }},
	"spec.target.local.tlsCert":              {"TLS on listen (with tlsKey): the certificate file", func(f *fx) { f.svc.Spec.Target.Local.TLSCert, f.svc.Spec.Target.Local.TLSKey = "cert.pem", "key.pem" }},
	"spec.target.local.tlsKey":               {"TLS on listen (with tlsCert): the key file; one without the other is refused", func(f *fx) { f.svc.Spec.Target.Local.TLSKey = "key.pem" }},
	"spec.target.local.headerRouting.secret": {"X-Hugai-Route is honoured from clients that send it in X-Hugai-Route-Secret (${VAR}, read by the server)", func(f *fx) { f.svc.Spec.Target.Local.HeaderRouting = &plan.HeaderRouting{Secret: "${ROUTE_SECRET}"} }},
	"spec.target.local.headerRouting.allowFrom": {"X-Hugai-Route is honoured from these client addresses", func(f *fx) {
		f.svc.Spec.Target.Local.HeaderRouting = &plan.HeaderRouting{AllowFrom: []string{"10.0.0.0/8"}}
	}},
	"spec.target.local.upstreamProtocol":    {"what the proxy and the readiness probe speak to replicas (http1, h2c, h2)", func(f *fx) { f.svc.Spec.Target.Local.UpstreamProtocol = "h2c" }},
	"spec.target.kubernetes.namespace":      {"where hugai finds the Deployment, Service and HTTPRoute and makes its own (type kubernetes)", func(f *fx) { f.svc.Spec.Target.Kubernetes.Namespace = "staging" }},
	"spec.target.kubernetes.deployment":     {"the user's Deployment each version is made from", func(f *fx) { f.svc.Spec.Target.Kubernetes.Deployment = "cart" }},
	"spec.target.kubernetes.container":      {"the container whose image and env carry the version", func(f *fx) { f.svc.Spec.Target.Kubernetes.Container = "main" }},
	"spec.target.kubernetes.image":          {"the image of a version ({{.Version}} filled)", func(f *fx) { f.svc.Spec.Target.Kubernetes.Image = "registry.example.com/cart:{{.Version}}" }},
	"spec.target.kubernetes.env":            {"environment variables of a version ({{.Version}} filled)", func(f *fx) { f.svc.Spec.Target.Kubernetes.Env = map[string]string{"APP_VERSION": "{{.Version}}"} }},
	"spec.target.kubernetes.service":        {"the user's Service: ports of the per-version and preview Services; with no router, what splits traffic", func(f *fx) { f.svc.Spec.Target.Kubernetes.Service = "cart" }},
	"spec.target.kubernetes.replicas":       {"pods per version at full size", func(f *fx) { f.svc.Spec.Target.Kubernetes.Replicas = 4 }},
	"spec.target.kubernetes.scaleDownDelay": {"how long a version that left the routes keeps running", func(f *fx) { f.svc.Spec.Target.Kubernetes.ScaleDownDelay = durp(time.Minute) }},
	"spec.target.kubernetes.headerRouting.secret": {"X-Hugai-Route is honoured (HTTPRoute rules or VirtualService routes) from clients that send it in X-Hugai-Route-Secret", func(f *fx) {
		f.svc.Spec.Target.Kubernetes.HeaderRouting = &plan.HeaderRouting{Secret: "${ROUTE_SECRET}"}
	}},
	"spec.target.kubernetes.headerRouting.allowFrom": {"refused: neither an HTTPRoute nor a VirtualService matches client addresses", func(f *fx) {
		f.svc.Spec.Target.Kubernetes.HeaderRouting = &plan.HeaderRouting{Secret: "${ROUTE_SECRET}", AllowFrom: []string{"10.0.0.0/8"}}
	}},
	"spec.target.kubernetes.trafficRouter.gatewayAPI.httpRoute": {"the HTTPRoute whose backend weights hugai sets", func(f *fx) {
		f.svc.Spec.Target.Kubernetes.TrafficRouter = &plan.TrafficRouter{GatewayAPI: &plan.GatewayAPIRouter{HTTPRoute: "cart"}}
	}},
	"spec.target.kubernetes.trafficRouter.istio.virtualService": {"the Istio VirtualService whose http routes get one destination per version with its weight (instead of gatewayAPI)", func(f *fx) {
		f.svc.Spec.Target.Kubernetes.TrafficRouter = &plan.TrafficRouter{Istio: &plan.IstioRouter{VirtualService: "cart"}}
	}},
	"spec.target.kubernetes.trafficRouter.istio.routes": {"the VirtualService's http routes hugai drives (default: those sending to the service)", func(f *fx) {
		f.svc.Spec.Target.Kubernetes.TrafficRouter = &plan.TrafficRouter{Istio: &plan.IstioRouter{VirtualService: "cart", Routes: []string{"primary"}}}
	}},
	"spec.progressDeadline":                {"a version not ready (or a check without result) by then fails", func(f *fx) { f.svc.Spec.ProgressDeadline = durp(time.Minute) }},
	"spec.healthChecks[].name":             {"names the probe in messages", func(f *fx) { f.svc.Spec.HealthChecks[0].Name = "live" }},
	"spec.healthChecks[].path":             {"the probe's path; readiness gates all traffic (the health-check checkpoint)", func(f *fx) { f.svc.Spec.HealthChecks[0].Path = "/live" }},
	"spec.healthChecks[].interval":         {"how often each replica is probed", func(f *fx) { f.svc.Spec.HealthChecks[0].Interval = durp(time.Second) }},
	"spec.healthChecks[].timeout":          {"one probe's timeout", func(f *fx) { f.svc.Spec.HealthChecks[0].Timeout = durp(time.Second) }},
	"spec.healthChecks[].failureThreshold": {"failed probes before a replica is not ready", func(f *fx) { f.svc.Spec.HealthChecks[0].FailureThreshold = 9 }},
	"spec.healthChecks[].successThreshold": {"passed probes before a replica is ready", func(f *fx) { f.svc.Spec.HealthChecks[0].SuccessThreshold = 9 }},
	"spec.metrics[].name":                  {"a named metric criteria, triggers and monitors use", func(f *fx) { f.svc.Spec.Metrics[0].Name = "queue" }},
	"spec.metrics[].provider":              {"where it is measured: builtin, prometheus (the default) or web; the server reads each named metric from it", func(f *fx) { f.svc.Spec.Metrics[0].Provider = plan.ProviderPrometheus }},
	"spec.metrics[].address":               {"prometheus: its base URL; web: the URL fetched, a template like the query", func(f *fx) { f.svc.Spec.Metrics[0].Address = "http://x" }},
	"spec.metrics[].query":                 {"prometheus: the PromQL template ({{.Service}}, {{.Version}}, {{.Environment}}, {{.Window}}, {{.From}}, {{.To}}); refused for web and builtin", func(f *fx) { f.svc.Spec.Metrics[0].Query = "up" }},
	"spec.metrics[].jsonPath":              {"the web provider's JSONPath to the value ($.a.b, $.a[0].b, $['a'])", func(f *fx) { f.svc.Spec.Metrics[0].JSONPath = "$.v" }},
	"spec.metrics[].headers":               {"sent with each web or prometheus request, ${VAR} read from the environment then; refused for builtin", func(f *fx) { f.svc.Spec.Metrics[0].Headers = map[string]string{"Authorization": "Bearer ${T}"} }},

	"spec.environments.*.target.type":              {"must equal spec.target.type (an environment overrides fields, not the kind)", setProd(func(e *plan.Environment) { e.Target.Type = plan.TargetKubernetes })},
	"spec.environments.*.target.local.command":     {"overrides spec.target.local.command", setProd(func(e *plan.Environment) { e.Target.Local.Command = []string{"./x"} })},
	"spec.environments.*.target.local.workdir":     {"overrides spec.target.local.workdir", setProd(func(e *plan.Environment) { e.Target.Local.Workdir = "/srv" })},
	"spec.environments.*.target.local.env":         {"overrides spec.target.local.env", setProd(func(e *plan.Environment) { e.Target.Local.Env = map[string]string{"X": "2"} })},
	"spec.environments.*.target.local.replicas":    {"overrides spec.target.local.replicas", setProd(func(e *plan.Environment) { e.Target.Local.Replicas = 7 })},
	"spec.environments.*.target.local.listen":      {"overrides spec.target.local.listen", setProd(func(e *plan.Environment) { e.Target.Local.Listen = "127.0.0.1:6060" })},
	"spec.environments.*.target.local.admin":       {"overrides spec.target.local.admin", setProd(func(e *plan.Environment) { e.Target.Local.Admin = "127.0.0.1:6061" })},
	"spec.environments.*.target.local.preview":     {"overrides spec.target.local.preview", setProd(func(e *plan.Environment) { e.Target.Local.Preview = "127.0.0.1:6062" })},
	"spec.environments.*.target.local.gracePeriod": {"overrides spec.target.local.gracePeriod", setProd(func(e *plan.Environment) { e.Target.Local.GracePeriod = durp(time.Second) })},
	"spec.environments.*.target.local.tlsCert":     {"overrides spec.target.local.tlsCert", setProd(func(e *plan.Environment) { e.Target.Local.TLSCert, e.Target.Local.TLSKey = "prod.pem", "prod.key" })},
	"spec.environments.*.target.local.tlsKey":      {"overrides spec.target.local.tlsKey", setProd(func(e *plan.Environment) { e.Target.Local.TLSCert, e.Target.Local.TLSKey = "prod.pem", "prod.key" })},
	"spec.environments.*.target.local.headerRouting.secret": {"overrides spec.target.local.headerRouting (as a whole)", setProd(func(e *plan.Environment) {
		e.Target.Local.HeaderRouting = &plan.HeaderRouting{Secret: "${PROD_ROUTE_SECRET}"}
	})},
	"spec.environments.*.target.local.headerRouting.allowFrom": {"overrides spec.target.local.headerRouting (as a whole)", setProd(func(e *plan.Environment) {
		e.Target.Local.HeaderRouting = &plan.HeaderRouting{AllowFrom: []string{"10.1.0.0/16"}}
	})},
	"spec.environments.*.target.local.upstreamProtocol": {"overrides spec.target.local.upstreamProtocol", setProd(func(e *plan.Environment) { e.Target.Local.UpstreamProtocol = "h2" })},
	"spec.environments.*.target.kubernetes.namespace": {"overrides spec.target.kubernetes.namespace", setProd(func(e *plan.Environment) {
		e.Target.Kubernetes = &plan.KubernetesTarget{}
		e.Target.Kubernetes.Namespace = "staging"
	})},
	"spec.environments.*.target.kubernetes.deployment": {"overrides spec.target.kubernetes.deployment", setProd(func(e *plan.Environment) {
		e.Target.Kubernetes = &plan.KubernetesTarget{}
		e.Target.Kubernetes.Deployment = "cart"
	})},
	"spec.environments.*.target.kubernetes.container": {"overrides spec.target.kubernetes.container", setProd(func(e *plan.Environment) {
		e.Target.Kubernetes = &plan.KubernetesTarget{}
		e.Target.Kubernetes.Container = "main"
	})},
	"spec.environments.*.target.kubernetes.image": {"overrides spec.target.kubernetes.image", setProd(func(e *plan.Environment) {
		e.Target.Kubernetes = &plan.KubernetesTarget{}
		e.Target.Kubernetes.Image = "registry.example.com/cart:{{.Version}}"
	})},
	"spec.environments.*.target.kubernetes.env": {"overrides spec.target.kubernetes.env", setProd(func(e *plan.Environment) {
		e.Target.Kubernetes = &plan.KubernetesTarget{}
		e.Target.Kubernetes.Env = map[string]string{"APP_VERSION": "{{.Version}}"}
	})},
	"spec.environments.*.target.kubernetes.service": {"overrides spec.target.kubernetes.service", setProd(func(e *plan.Environment) {
		e.Target.Kubernetes = &plan.KubernetesTarget{}
		e.Target.Kubernetes.Service = "cart"
	})},
	"spec.environments.*.target.kubernetes.replicas": {"overrides spec.target.kubernetes.replicas", setProd(func(e *plan.Environment) {
		e.Target.Kubernetes = &plan.KubernetesTarget{}
		e.Target.Kubernetes.Replicas = 4
	})},
	"spec.environments.*.target.kubernetes.scaleDownDelay": {"overrides spec.target.kubernetes.scaleDownDelay", setProd(func(e *plan.Environment) {
		e.Target.Kubernetes = &plan.KubernetesTarget{}
		e.Target.Kubernetes.ScaleDownDelay = durp(time.Minute)
	})},
	"spec.environments.*.target.kubernetes.headerRouting.secret": {"overrides spec.target.kubernetes.headerRouting (as a whole)", setProd(func(e *plan.Environment) {
		e.Target.Kubernetes = &plan.KubernetesTarget{HeaderRouting: &plan.HeaderRouting{Secret: "${PROD_ROUTE_SECRET}"}}
	})},
	"spec.environments.*.target.kubernetes.headerRouting.allowFrom": {"refused: neither an HTTPRoute nor a VirtualService matches client addresses", setProd(func(e *plan.Environment) {
		e.Target.Kubernetes = &plan.KubernetesTarget{HeaderRouting: &plan.HeaderRouting{Secret: "${PROD_ROUTE_SECRET}", AllowFrom: []string{"10.1.0.0/16"}}}
	})},
	"spec.environments.*.target.kubernetes.trafficRouter.gatewayAPI.httpRoute": {"overrides spec.target.kubernetes.trafficRouter.gatewayAPI.httpRoute", setProd(func(e *plan.Environment) {
		e.Target.Kubernetes = &plan.KubernetesTarget{}
		e.Target.Kubernetes.TrafficRouter = &plan.TrafficRouter{GatewayAPI: &plan.GatewayAPIRouter{HTTPRoute: "cart"}}
	})},
	"spec.environments.*.target.kubernetes.trafficRouter.istio.virtualService": {"overrides spec.target.kubernetes.trafficRouter.istio.virtualService", setProd(func(e *plan.Environment) {
		e.Target.Kubernetes = &plan.KubernetesTarget{}
		e.Target.Kubernetes.TrafficRouter = &plan.TrafficRouter{Istio: &plan.IstioRouter{VirtualService: "cart"}}
	})},
	"spec.environments.*.target.kubernetes.trafficRouter.istio.routes": {"overrides spec.target.kubernetes.trafficRouter.istio.routes", setProd(func(e *plan.Environment) {
		e.Target.Kubernetes = &plan.KubernetesTarget{}
		e.Target.Kubernetes.TrafficRouter = &plan.TrafficRouter{Istio: &plan.IstioRouter{VirtualService: "cart", Routes: []string{"primary"}}}
	})},
	"spec.environments.*.successCriteria":         {"judged on every window when the plan names none; every metric must be measurable", setProd(func(e *plan.Environment) { e.SuccessCriteria = "error_rate<5%" })},
	"spec.environments.*.analysis.interval":       {"how often the judge looks (each look covers the step so far); --health-check-interval is how long a weight is held", setProd(func(e *plan.Environment) { e.Analysis.Interval = durp(time.Minute) })},
	"spec.environments.*.analysis.minimumSamples": {"requests a step needs before it may pass (fewer is Pending, never a pass; never gates a failure)", setProd(func(e *plan.Environment) { e.Analysis.MinimumSamples = 50 })},
	"spec.environments.*.analysis.method": {"threshold judges the criteria alone; sequential also compares the candidate with the baseline second by second (docs/analysis.md)", setProd(func(e *plan.Environment) {
		e.Analysis.Method = plan.MethodThreshold
		e.Analysis.MaxRegression = nil
		e.Analysis.EarlyPromotion = nil
	})},
	"spec.environments.*.analysis.alpha":                    {"the false-rollback rate: a rate criterion fails only beyond doubt at it; the comparison's two tests share it", setProd(func(e *plan.Environment) { a := 0.05; e.Analysis.Alpha = &a })},
	"spec.environments.*.analysis.maxRegression.errorRate":  {"the error-rate rise ruled out before an early promotion (0.5pp)", setProd(func(e *plan.Environment) { e.Analysis.MaxRegression.ErrorRate = "1pp" })},
	"spec.environments.*.analysis.maxRegression.latencyP95": {"the p95 rise ruled out before an early promotion (10%)", setProd(func(e *plan.Environment) { e.Analysis.MaxRegression.LatencyP95 = "20%" })},
	"spec.environments.*.analysis.earlyPromotion":           {"an analysis step ends once a regression of maxRegression is ruled out; never a pause", setProd(func(e *plan.Environment) { f := false; e.Analysis.EarlyPromotion = &f })},
	"spec.environments.*.analysis.compare.requests":         {"kubernetes target: the named prometheus metric totalling each version's requests, read per step by the sequential comparison (docs/kubernetes.md); refused on the local target, whose proxy counts", setProd(func(e *plan.Environment) { e.Analysis.Compare = &plan.Compare{Requests: "business_conversion_rate"} })},
	"spec.environments.*.analysis.compare.errors":           {"kubernetes target: the named prometheus metric totalling each version's failed requests; refused on the local target", setProd(func(e *plan.Environment) { e.Analysis.Compare = &plan.Compare{Errors: "business_conversion_rate"} })},
	"spec.environments.*.analysis.compare.step":             {"kubernetes target: how far apart the comparison's points are, each step counting the difference of the totals (30s); refused on the local target", setProd(func(e *plan.Environment) { e.Analysis.Compare = &plan.Compare{Step: durp(time.Minute)} })},
	"spec.environments.*.monitoring.duration":               {"the watch after promotion when the plan sets none", setProd(func(e *plan.Environment) { e.Monitoring.Duration = durp(time.Minute) })},
	"spec.environments.*.strategyByRisk":                    {"the strategy deploy plan picks per risk level", setProd(func(e *plan.Environment) { e.StrategyByRisk = map[string]string{"critical": "canary"} })},
	"spec.environments.*.policy.roles.viewer":               {"who may read rollouts, plans and the audit (naming any role closes the environment to those named)", setProd(func(e *plan.Environment) { e.Policy.Roles.Viewer = []string{"erin"} })},
	"spec.environments.*.policy.roles.deployer":             {"who may also start, promote, resume, abort and roll back", setProd(func(e *plan.Environment) { e.Policy.Roles.Deployer = []string{"erin"} })},
	"spec.environments.*.policy.roles.approver":             {"who may also approve gates and sign off checkpoints", setProd(func(e *plan.Environment) { e.Policy.Roles.Approver = []string{"erin"} })},
	"spec.environments.*.policy.roles.admin":                {"who may also override a freeze window (with a reason)", setProd(func(e *plan.Environment) { e.Policy.Roles.Admin = []string{"erin"} })},
	"spec.environments.*.policy.approvers":                  {"who may approve gates (and sign off checkpoints): they hold the approver role", setProd(func(e *plan.Environment) { e.Policy.Approvers = []string{"dave"} })},
	"spec.environments.*.policy.approvalExpiry":             {"an approval older than this no longer counts toward a gate", setProd(func(e *plan.Environment) { e.Policy.ApprovalExpiry = durp(time.Minute) })},
	"spec.environments.*.policy.quorum[].name":              {"names a quorum group in the live view and in what a gate still needs", setProd(func(e *plan.Environment) { e.Policy.Quorum[0].Name = "owners" })},
	"spec.environments.*.policy.quorum[].from":              {"who belongs to a quorum group: every gate needs approvals from its members", setProd(func(e *plan.Environment) { e.Policy.Quorum[0].From = []string{"erin"} })},
	"spec.environments.*.policy.quorum[].count":             {"approvals from distinct members of the group a gate needs (default 1)", setProd(func(e *plan.Environment) { e.Policy.Quorum[0].Count = 2 })},
	"spec.environments.*.policy.checkpointRoles": {"the role that approves or signs off a manual checkpoint (default approver)", setProd(func(e *plan.Environment) {
		e.Policy.CheckpointRoles = map[string]string{"database-migration-review": "approver"}
	})},
	"spec.environments.*.policy.approvalsRequired":        {"approvals a gate needs", setProd(func(e *plan.Environment) { e.Policy.ApprovalsRequired = 2 })},
	"spec.environments.*.policy.approvalTimeout":          {"how long a gate waits before the rollout is aborted", setProd(func(e *plan.Environment) { e.Policy.ApprovalTimeout = durp(time.Minute) })},
	"spec.environments.*.policy.fourEyes":                 {"whoever started a rollout may not approve it; on by default where the environment names approvers", setProd(func(e *plan.Environment) { e.Policy.FourEyes = boolp(false) })},
	"spec.environments.*.policy.requireApprovalFrom":      {"the risk level from which deploy plan adds an approval", setProd(func(e *plan.Environment) { e.Policy.RequireApprovalFrom = "low" })},
	"spec.environments.*.policy.timezone":                 {"the time zone freeze windows and late hours are read in", setProd(func(e *plan.Environment) { e.Policy.Timezone = "America/Los_Angeles" })},
	"spec.environments.*.policy.freezeWindows[].name":     {"named in the risk factor and the approval's reason", setProd(func(e *plan.Environment) { e.Policy.FreezeWindows[0].Name = "friday" })},
	"spec.environments.*.policy.freezeWindows[].start":    {"cron start of a freeze window: deploy plan requires an approval inside it", setProd(func(e *plan.Environment) { e.Policy.FreezeWindows[0].Start = "0 9 * * MON" })},
	"spec.environments.*.policy.freezeWindows[].duration": {"how long the window lasts", setProd(func(e *plan.Environment) { e.Policy.FreezeWindows[0].Duration = plan.D(time.Hour) })},

	"spec.database.migrate":             {"run before anything is deployed when the release changed migrations, after its review", func(f *fx) { f.svc.Spec.Database.Migrate = nil }},
	"spec.database.rollback":            {"the rollback's database step", func(f *fx) { f.svc.Spec.Database.Rollback = nil }},
	"spec.smokeTest":                    {"the smoke-test checkpoint and the rollback's verification", func(f *fx) { f.svc.Spec.SmokeTest = nil }},
	"spec.checkpoints":                  {"commands of automated checkpoints, run before anything is deployed", func(f *fx) { f.svc.Spec.Checkpoints = nil }},
	"spec.release.stages[].name":        {"names the stage in release status and the audit log (default: its environment)", func(f *fx) { f.svc.Spec.Release.Stages[0].Name = "qa" }},
	"spec.release.stages[].environment": {"where the stage's rollout runs, with the release's plan for it; an environment the service lacks is refused", func(f *fx) { f.svc.Spec.Release.Stages[0].Environment = "qa" }},
	"spec.release.stages[].preChecks":   {"run before the stage's rollout (smoke-test or spec.checkpoints); one that fails stops the release", func(f *fx) { f.svc.Spec.Release.Stages[0].PreChecks = nil }},
	"spec.release.stages[].validation":  {"run once the stage's rollout succeeded; one that fails rolls the stage back and stops the release", func(f *fx) { f.svc.Spec.Release.Stages[1].Validation = []string{"smoke-test"} }},
	"spec.release.stages[].approval":    {"holds the stage's rollout for an approval before its first step", func(f *fx) { f.svc.Spec.Release.Stages[1].Approval = true }},
	"spec.notifications[].name":         {"what a plan's alerting channels call it", func(f *fx) { f.svc.Spec.Notifications[0].Name = "pager" }},
	"spec.notifications[].type":         {"slack, email, webhook or pagerduty", func(f *fx) { f.svc.Spec.Notifications[2].Type = "slack" }},
	"spec.notifications[].webhookURL":   {"Slack's incoming webhook", func(f *fx) { f.svc.Spec.Notifications[0].WebhookURL = "${OTHER}" }},
	"spec.notifications[].url":          {"the webhook's URL", func(f *fx) { f.svc.Spec.Notifications[2].URL = "http://127.0.0.1:1/other" }},
	"spec.notifications[].routingKey":   {"PagerDuty's routing key", func(f *fx) { f.svc.Spec.Notifications[3].RoutingKey = "${OTHER}" }},
	"spec.notifications[].secret":       {"signs webhook requests", func(f *fx) { f.svc.Spec.Notifications[2].Secret = "${OTHER}" }},
	"spec.notifications[].smtp":         {"the SMTP relay", func(f *fx) { f.svc.Spec.Notifications[1].SMTP = "mail:25" }},
	"spec.notifications[].username":     {"SMTP login", func(f *fx) { f.svc.Spec.Notifications[1].Username = "other" }},
	"spec.notifications[].password":     {"SMTP password", func(f *fx) { f.svc.Spec.Notifications[1].Password = "${OTHER}" }},
	"spec.notifications[].from":         {"the sender", func(f *fx) { f.svc.Spec.Notifications[1].From = "x@example.com" }},
	"spec.notifications[].to":           {"the recipients", func(f *fx) { f.svc.Spec.Notifications[1].To = []string{"y@example.com"} }},
	"spec.notifications[].severity":     {"the least severe event the channel is told", func(f *fx) { f.svc.Spec.Notifications[0].Severity = "info" }},
}

func canary(f *fx) *plan.CanaryStrategy { return f.p.Spec.Strategy.Canary }

// strategy switches the fixture's plan to another strategy with its block.
func strategy(typ string, edit func(s *plan.Strategy)) func(*fx) {
	return func(f *fx) {
		f.p.Spec.Strategy = plan.Strategy{Type: typ}
		edit(&f.p.Spec.Strategy)
	}
}

var planEffects = map[string]effect{
	"apiVersion":           {"must be hugai.io/v1", func(f *fx) { f.p.APIVersion = "v2" }},
	"kind":                 {"must be DeploymentPlan", func(f *fx) { f.p.Kind = "Rollout" }},
	"metadata.name":        {"the plan's name, recorded", nil},
	"metadata.namespace":   {"names the environment when spec.environment does not (refused when it names none of the service)", func(f *fx) { f.p.Spec.Environment = ""; f.p.Metadata.Namespace = "qa" }},
	"metadata.labels":      {"recorded", nil},
	"metadata.annotations": {"recorded", nil},
	"spec.service":         {"the service deployed (the server refuses one it does not serve)", func(f *fx) { f.p.Spec.Service = "cart" }},
	"spec.version":         {"the version deployed", func(f *fx) { f.p.Spec.Version = "v3" }},
	"spec.environment":     {"the environment deployed to", func(f *fx) { f.p.Spec.Environment = "staging" }},
	"spec.strategy.type":   {"canary, blueGreen, rolling or recreate", func(f *fx) { f.p.Spec.Strategy.Type = plan.StrategyRecreate }},

	"spec.strategy.canary.steps[].setWeight":                         {"the canary's share of traffic", func(f *fx) { *canary(f).Steps[0].SetWeight = 10 }},
	"spec.strategy.canary.steps[].pause":                             {"how long a weight is held (none: until promoted)", func(f *fx) { canary(f).Steps[0].Pause = &plan.Pause{} }},
	"spec.strategy.canary.steps[].analysis.templates[].templateName": {"the templates an analysis step judges", func(f *fx) { canary(f).Steps[1].Analysis.Templates[0].TemplateName = "latency-p95" }},
	"spec.strategy.canary.steps[].analysis.templates[].args[].name":  {"only service-name is taken", func(f *fx) { canary(f).Steps[1].Analysis.Templates[0].Args[0].Name = "region" }},
	"spec.strategy.canary.steps[].analysis.templates[].args[].value": {"must be the service deployed", func(f *fx) { canary(f).Steps[1].Analysis.Templates[0].Args[0].Value = "cart" }},
	"spec.strategy.canary.steps[].analysis.args[].name":              {"only service-name is taken", func(f *fx) { canary(f).Steps[1].Analysis.Args[0].Name = "region" }},
	"spec.strategy.canary.steps[].analysis.args[].value":             {"must be the service deployed", func(f *fx) { canary(f).Steps[1].Analysis.Args[0].Value = "cart" }},
	"spec.strategy.canary.steps[].approval.approvers":                {"who may approve the step", func(f *fx) { canary(f).Steps[2].Approval.Approvers = []string{"dave"} }},
	"spec.strategy.canary.steps[].approval.count":                    {"approvals the step needs", func(f *fx) { canary(f).Steps[2].Approval.Count = 2 }},
	"spec.strategy.canary.steps[].approval.timeout":                  {"how long the step waits", func(f *fx) { canary(f).Steps[2].Approval.Timeout = durp(time.Minute) }},
	"spec.strategy.canary.analysis.templates[].templateName":         {"background analysis: judged on every window", func(f *fx) { canary(f).Analysis.Templates[0].TemplateName = "latency-p95" }},
	"spec.strategy.canary.analysis.templates[].args[].name":          {"only service-name is taken", func(f *fx) { canary(f).Analysis.Templates[0].Args[0].Name = "region" }},
	"spec.strategy.canary.analysis.templates[].args[].value":         {"must be the service deployed", func(f *fx) { canary(f).Analysis.Templates[0].Args[0].Value = "cart" }},
	"spec.strategy.canary.analysis.args[].name":                      {"only service-name is taken", func(f *fx) { canary(f).Analysis.Args[0].Name = "region" }},
	"spec.strategy.canary.analysis.args[].value":                     {"must be the service deployed", func(f *fx) { canary(f).Analysis.Args[0].Value = "cart" }},
	"spec.strategy.canary.scaleDownDelaySeconds":                     {"the stable version is kept, out of rotation, that long after promotion", func(f *fx) { canary(f).ScaleDownDelaySeconds = 900 }},
	"spec.strategy.canary.progressDeadline":                          {"overrides the service's progress deadline", func(f *fx) { canary(f).ProgressDeadline = durp(time.Minute) }},

	"spec.strategy.blueGreen.previewService":   {"a Kubernetes Service: refused on the local target (its preview is target.local.preview)", strategy("blueGreen", func(s *plan.Strategy) { s.BlueGreen = &plan.BlueGreenStrategy{PreviewService: "checkout-preview"} })},
	"spec.strategy.blueGreen.validationPeriod": {"green judged at full traffic before blue is let go", strategy("blueGreen", func(s *plan.Strategy) { s.BlueGreen = &plan.BlueGreenStrategy{ValidationPeriod: durp(time.Hour)} })},
	"spec.strategy.blueGreen.switch":           {"instant or gradual", strategy("blueGreen", func(s *plan.Strategy) { s.BlueGreen = &plan.BlueGreenStrategy{Switch: plan.SwitchGradual} })},
	"spec.strategy.blueGreen.switchSteps": {"the weights of a gradual switch", strategy("blueGreen", func(s *plan.Strategy) {
		s.BlueGreen = &plan.BlueGreenStrategy{Switch: plan.SwitchGradual, SwitchSteps: []int{10, 100}}
	})},
	"spec.strategy.blueGreen.scaleDownDelay": {"blue kept that long after the switch", strategy("blueGreen", func(s *plan.Strategy) { s.BlueGreen = &plan.BlueGreenStrategy{ScaleDownDelay: durp(time.Hour)} })},
	"spec.strategy.blueGreen.autoSwitchBack": {"false: a failure pauses instead of switching back", strategy("blueGreen", func(s *plan.Strategy) { s.BlueGreen = &plan.BlueGreenStrategy{AutoSwitchBack: boolp(false)} })},
	"spec.strategy.blueGreen.autoPromotion":  {"false: waits for deploy promote before the switch", strategy("blueGreen", func(s *plan.Strategy) { s.BlueGreen = &plan.BlueGreenStrategy{AutoPromotion: boolp(false)} })},
	"spec.strategy.rolling.maxSurge":         {"extra replicas a batch may start", strategy("rolling", func(s *plan.Strategy) { s.Rolling = &plan.RollingStrategy{MaxSurge: &plan.IntOrPercent{Value: 3}} })},
	"spec.strategy.rolling.maxUnavailable": {"replicas a batch may take away", strategy("rolling", func(s *plan.Strategy) {
		s.Rolling = &plan.RollingStrategy{MaxUnavailable: &plan.IntOrPercent{Value: 1}}
	})},
	"spec.strategy.recreate.holdTimeout": {"how long the proxy holds requests while no version is ready", strategy("recreate", func(s *plan.Strategy) { s.Recreate = &plan.RecreateStrategy{HoldTimeout: durp(time.Minute)} })},
	"spec.strategy.governance.approvalRequired": {"a start gate", func(f *fx) {
		f.p.Spec.Governance.Approvals = nil
		f.p.Spec.Strategy.Governance = &plan.StrategyGovernance{ApprovalRequired: true}
	}},
	"spec.strategy.governance.qualityGates": {"required automated checkpoints", func(f *fx) {
		f.p.Spec.Strategy.Governance = &plan.StrategyGovernance{QualityGates: []string{"smoke-test"}}
	}},

	"spec.analysisTemplates[].name":                            {"what steps reference", func(f *fx) { f.p.Spec.AnalysisTemplates[0].Name = "other" }},
	"spec.analysisTemplates[].args[].name":                     {"only service-name is taken", func(f *fx) { f.p.Spec.AnalysisTemplates[0].Args[0].Name = "region" }},
	"spec.analysisTemplates[].args[].value":                    {"must be the service deployed", func(f *fx) { f.p.Spec.AnalysisTemplates[0].Args[0].Value = "cart" }},
	"spec.analysisTemplates[].metrics[].name":                  {"a label; the condition names the metric measured", nil},
	"spec.analysisTemplates[].metrics[].provider":              {"builtin; others are refused: declare a named metric with its provider in the service file", func(f *fx) { f.p.Spec.AnalysisTemplates[0].Metrics[0].Provider = "web" }},
	"spec.analysisTemplates[].metrics[].query":                 {"refused: a named metric of the service file carries its query", func(f *fx) { f.p.Spec.AnalysisTemplates[0].Metrics[0].Query = "up" }},
	"spec.analysisTemplates[].metrics[].interval":              {"must equal the environment's analysis interval (every metric shares its windows)", func(f *fx) { f.p.Spec.AnalysisTemplates[0].Metrics[0].Interval = durp(time.Minute) }},
	"spec.analysisTemplates[].metrics[].count":                 {"windows an analysis step judges", func(f *fx) { f.p.Spec.AnalysisTemplates[0].Metrics[0].Count = 5 }},
	"spec.analysisTemplates[].metrics[].successCondition":      {"the condition judged", func(f *fx) { f.p.Spec.AnalysisTemplates[0].Metrics[0].SuccessCondition = "error_rate<3%" }},
	"spec.analysisTemplates[].metrics[].failureLimit":          {"failed windows tolerated", func(f *fx) { f.p.Spec.AnalysisTemplates[0].Metrics[0].FailureLimit = intp(3) }},
	"spec.analysisTemplates[].metrics[].consecutiveErrorLimit": {"errored windows in a row tolerated", func(f *fx) { f.p.Spec.AnalysisTemplates[0].Metrics[0].ConsecutiveErrorLimit = intp(7) }},
	"spec.analysisTemplates[].metrics[].inconclusiveLimit":     {"inconclusive windows in a row before a person decides", func(f *fx) { f.p.Spec.AnalysisTemplates[0].Metrics[0].InconclusiveLimit = intp(1) }},
	"spec.analysisTemplates[].metrics[].minimumSamples":        {"must equal the environment's minimumSamples", func(f *fx) { f.p.Spec.AnalysisTemplates[0].Metrics[0].MinimumSamples = 99 }},
	"spec.successCriteria":                                     {"judged on every window (else the environment's)", func(f *fx) { f.p.Spec.SuccessCriteria = "error_rate<2%" }},

	"spec.governance.approvals[].name":        {"the gate's name (deploy approve --gate)", func(f *fx) { f.p.Spec.Governance.Approvals[0].Name = "other" }},
	"spec.governance.approvals[].required":    {"false: listed, not waited for", func(f *fx) { f.p.Spec.Governance.Approvals[0].Required = false }},
	"spec.governance.approvals[].approvers":   {"who may approve (default: the policy's)", func(f *fx) { f.p.Spec.Governance.Approvals[0].Approvers = []string{"dave"} }},
	"spec.governance.approvals[].count":       {"approvals needed", func(f *fx) { f.p.Spec.Governance.Approvals[0].Count = 2 }},
	"spec.governance.approvals[].timeout":     {"how long the gate waits", func(f *fx) { f.p.Spec.Governance.Approvals[0].Timeout = durp(time.Minute) }},
	"spec.governance.approvals[].reason":      {"why the planner asked for it, for the reviewer", nil},
	"spec.governance.checkpoints[].name":      {"which checkpoint: hugai's own or a command of the service file's spec.checkpoints; unknown automated ones are refused", func(f *fx) { f.p.Spec.Governance.Checkpoints[1].Name = "pen-test" }},
	"spec.governance.checkpoints[].required":  {"required ones block (a manual one is a start gate); optional ones never do", func(f *fx) { f.p.Spec.Governance.Checkpoints[2].Required = true }},
	"spec.governance.checkpoints[].automated": {"automated ones hugai runs; manual ones people sign off", func(f *fx) { f.p.Spec.Governance.Checkpoints[2].Automated = true }},
	"spec.governance.checkpoints[].reason":    {"why, for the reviewer", nil},

	"spec.rollback.automatic":                                   {"false: a failure pauses for a person", func(f *fx) { f.p.Spec.Rollback.Automatic = boolp(false) }},
	"spec.rollback.triggers[].errorRateThreshold":               {"fires a rollback when the error rate passes it", func(f *fx) { *f.p.Spec.Rollback.Triggers[0].ErrorRateThreshold = 5 }},
	"spec.rollback.triggers[].latencyThreshold":                 {"fires when p95 passes it", func(f *fx) { f.p.Spec.Rollback.Triggers[1].LatencyThreshold = durp(time.Second) }},
	"spec.rollback.triggers[].customMetricThreshold.metric":     {"the metric watched (must be measurable)", func(f *fx) { f.p.Spec.Rollback.Triggers[2].CustomMetricThreshold.Metric = "business_conversion_rate" }},
	"spec.rollback.triggers[].customMetricThreshold.threshold":  {"the threshold", func(f *fx) { f.p.Spec.Rollback.Triggers[2].CustomMetricThreshold.Threshold = 5 }},
	"spec.rollback.triggers[].customMetricThreshold.comparison": {"less_than … not_equal", func(f *fx) { f.p.Spec.Rollback.Triggers[2].CustomMetricThreshold.Comparison = "less_than" }},
	"spec.rollback.steps[].name":                                {"named in the audit log and the live view", func(f *fx) { f.p.Spec.Rollback.Steps[0].Name = "traffic" }},
	"spec.rollback.steps[].action":                              {"what the step does", func(f *fx) { f.p.Spec.Rollback.Steps[1].Action = plan.ActionVerify }},
	"spec.rollback.steps[].target":                              {"previous: a rollback goes to the previous release; anything else is refused", func(f *fx) { f.p.Spec.Rollback.Steps[0].Target = "v0" }},
	"spec.rollback.steps[].maxDuration":                         {"a step that overruns fails the rollback", func(f *fx) { f.p.Spec.Rollback.Steps[0].MaxDuration = durp(time.Minute) }},
	"spec.rollback.steps[].requiresApproval":                    {"the database step waits for an approval unless --emergency", func(f *fx) { f.p.Spec.Rollback.Steps[2].RequiresApproval = false }},
	"spec.rollback.steps[].checks":                              {"what verification runs: health_check, smoke_test", func(f *fx) { f.p.Spec.Rollback.Steps[3].Checks = []string{"health_check"} }},

	"spec.monitoring.enabled":                         {"false: no watch after promotion, no monitors", func(f *fx) { f.p.Spec.Monitoring.Enabled = boolp(false) }},
	"spec.monitoring.duration":                        {"the watch after promotion", func(f *fx) { f.p.Spec.Monitoring.Duration = durp(time.Minute) }},
	"spec.monitoring.healthChecks[].name":             {"a copy of the service's probe for the reviewer; one the service lacks is refused", nil},
	"spec.monitoring.healthChecks[].path":             {"must be one of the service's probes", func(f *fx) { f.p.Spec.Monitoring.HealthChecks[0].Path = "/other" }},
	"spec.monitoring.healthChecks[].interval":         {"must match the service's probe", func(f *fx) { f.p.Spec.Monitoring.HealthChecks[0].Interval = durp(time.Minute) }},
	"spec.monitoring.healthChecks[].timeout":          {"must match the service's probe", func(f *fx) { f.p.Spec.Monitoring.HealthChecks[0].Timeout = durp(time.Minute) }},
	"spec.monitoring.healthChecks[].failureThreshold": {"must match the service's probe", func(f *fx) { f.p.Spec.Monitoring.HealthChecks[0].FailureThreshold = 9 }},
	"spec.monitoring.healthChecks[].successThreshold": {"must match the service's probe", func(f *fx) { f.p.Spec.Monitoring.HealthChecks[0].SuccessThreshold = 9 }},
	"spec.monitoring.metrics":                         {"measured on every window and shown (monitors); must be measurable", func(f *fx) { f.p.Spec.Monitoring.Metrics = []string{"cpu_utilization"} }},
	"spec.monitoring.alerting.enabled":                {"false: no channel is told about this rollout", func(f *fx) { f.p.Spec.Monitoring.Alerting.Enabled = boolp(false) }},
	"spec.monitoring.alerting.channels":               {"the service file's channels told (by name, else type); unknown ones are refused", func(f *fx) { f.p.Spec.Monitoring.Alerting.Channels = []string{"pagerduty"} }},

	"spec.risk.score":                  {"the assessed risk, for the reviewer", nil},
	"spec.risk.level":                  {"the assessed risk level, for the reviewer", nil},
	"spec.risk.factors[].name":         {"for the reviewer", nil},
	"spec.risk.factors[].contribution": {"for the reviewer", nil},
	"spec.risk.factors[].reason":       {"for the reviewer", nil},
	"spec.changes.from":                {"the change deployed, for the reviewer (deploy plan reads the last one's commit)", nil},
	"spec.changes.to":                  {"for the reviewer", nil},
	"spec.changes.fromCommit":          {"for the reviewer", nil},
	"spec.changes.toCommit":            {"the commit planned at: the next deploy plan's default --from", nil},
	"spec.changes.commits":             {"for the reviewer", nil},
	"spec.changes.added":               {"for the reviewer", nil},
	"spec.changes.deleted":             {"for the reviewer", nil},
	"spec.changes.files[].path":        {"for the reviewer", nil},
	"spec.changes.files[].oldPath":     {"for the reviewer", nil},
	"spec.changes.files[].class":       {"for the reviewer", nil},
	"spec.changes.files[].added":       {"for the reviewer", nil},
	"spec.changes.files[].deleted":     {"for the reviewer", nil},
	"spec.changes.omittedFiles":        {"for the reviewer", nil},
	"spec.changes.note":                {"why there is no change analysis, for the reviewer", nil},
}

var deploymentEffects = map[string]effect{
	"apiVersion":                  {"must be hugai.io/v1", func(f *fx) { f.d.APIVersion = "v2" }},
	"kind":                        {"must be HugAIDeployment", func(f *fx) { f.d.Kind = "Rollout" }},
	"metadata.name":               {"recorded", nil},
	"metadata.namespace":          {"names the environment when spec.environment does not", func(f *fx) { f.d.Spec.Environment = ""; f.d.Metadata.Namespace = "qa" }},
	"metadata.labels":             {"recorded", nil},
	"metadata.annotations":        {"recorded", nil},
	"spec.service":                {"the service deployed", func(f *fx) { f.d.Spec.Service = "cart" }},
	"spec.version":                {"the version deployed", func(f *fx) { f.d.Spec.Version = "v3" }},
	"spec.environment":            {"the environment deployed to", func(f *fx) { f.d.Spec.Environment = "staging" }},
	"spec.rollout.steps[].weight": {"a canary step's weight", func(f *fx) { f.d.Spec.Rollout.Steps[0].Weight = 10 }},
	"spec.rollout.steps[].pause":  {"how long it is held", func(f *fx) { f.d.Spec.Rollout.Steps[0].Pause = &plan.Seconds{Duration: plan.D(time.Minute)} }},
	// Set, the named DeploymentPlan of the namespace supplies everything but service, version and
	// environment (the operator runs plan.HugAIDeployment.WithPlan); beside a strategy of the
	// object's own it is refused, as here.
	"spec.planRef.name": {"a DeploymentPlan of the namespace that supplies how (the operator runs it); refused beside strategy, rollout, monitoring or rollback", func(f *fx) { f.d.Spec.PlanRef = &plan.PlanRef{Name: "checkout-plan"} }},
}

func init() {
	// A HugAIDeployment's strategy, monitoring and rollback are the DeploymentPlan's, field for
	// field (plan.HugAIDeployment.AsPlan); they are proven on the HugAIDeployment itself.
	d := func(f *fx) *plan.HugAIDeploymentSpec { return &f.d.Spec }
	shared := map[string]func(*fx){
		"spec.strategy.type":                                        func(f *fx) { d(f).Strategy.Type = plan.StrategyRecreate },
		"spec.strategy.governance.approvalRequired":                 func(f *fx) { d(f).Strategy.Governance.ApprovalRequired = false },
		"spec.strategy.governance.qualityGates":                     func(f *fx) { d(f).Strategy.Governance.QualityGates = []string{"health-check"} },
		"spec.monitoring.enabled":                                   func(f *fx) { d(f).Monitoring.Enabled = boolp(false) },
		"spec.monitoring.duration":                                  func(f *fx) { d(f).Monitoring.Duration = durp(time.Minute) },
		"spec.monitoring.healthChecks[].path":                       func(f *fx) { d(f).Monitoring.HealthChecks[0].Path = "/x" },
		"spec.monitoring.healthChecks[].interval":                   func(f *fx) { d(f).Monitoring.HealthChecks[0].Interval = durp(time.Minute) },
		"spec.monitoring.healthChecks[].timeout":                    func(f *fx) { d(f).Monitoring.HealthChecks[0].Timeout = durp(time.Minute) },
		"spec.monitoring.healthChecks[].failureThreshold":           func(f *fx) { d(f).Monitoring.HealthChecks[0].FailureThreshold = 9 },
		"spec.monitoring.healthChecks[].successThreshold":           func(f *fx) { d(f).Monitoring.HealthChecks[0].SuccessThreshold = 9 },
		"spec.monitoring.metrics":                                   func(f *fx) { d(f).Monitoring.Metrics = []string{"business_kpi"} },
		"spec.monitoring.alerting.enabled":                          func(f *fx) { d(f).Monitoring.Alerting.Enabled = boolp(false) },
		"spec.monitoring.alerting.channels":                         func(f *fx) { d(f).Monitoring.Alerting.Channels = []string{"webhook"} },
		"spec.rollback.automatic":                                   func(f *fx) { d(f).Rollback.Automatic = boolp(false) },
		"spec.rollback.triggers[].errorRateThreshold":               func(f *fx) { *d(f).Rollback.Triggers[0].ErrorRateThreshold = 3 },
		"spec.rollback.triggers[].latencyThreshold":                 func(f *fx) { d(f).Rollback.Triggers[1].LatencyThreshold = durp(time.Second) },
		"spec.rollback.triggers[].customMetricThreshold.metric":     func(f *fx) { d(f).Rollback.Triggers[2].CustomMetricThreshold.Metric = "business_conversion_rate" },
		"spec.rollback.triggers[].customMetricThreshold.threshold":  func(f *fx) { d(f).Rollback.Triggers[2].CustomMetricThreshold.Threshold = 1 },
		"spec.rollback.triggers[].customMetricThreshold.comparison": func(f *fx) { d(f).Rollback.Triggers[2].CustomMetricThreshold.Comparison = "equal" },
		"spec.rollback.steps[].name":                                func(f *fx) { d(f).Rollback.Steps[0].Name = "traffic" },
		"spec.rollback.steps[].action":                              func(f *fx) { d(f).Rollback.Steps[0].Action = plan.ActionDeployPrevious },
		"spec.rollback.steps[].target":                              func(f *fx) { d(f).Rollback.Steps[0].Target = "v0" },
		"spec.rollback.steps[].maxDuration":                         func(f *fx) { d(f).Rollback.Steps[0].MaxDuration = durp(time.Minute) },
		"spec.rollback.steps[].requiresApproval":                    func(f *fx) { d(f).Rollback.Steps[0].RequiresApproval = true },
		"spec.rollback.steps[].checks":                              func(f *fx) { d(f).Rollback.Steps[1].Checks = []string{"smoke_test"} },
	}
	var paths []string
	leaves(reflectTypeOfDeployment(), "", &paths)
	for _, p := range paths {
		if _, ok := deploymentEffects[p]; ok {
			continue
		}
		pe, ok := planEffects[p]
		if !ok {
			continue // the test reports it
		}
		if pe.change == nil {
			deploymentEffects[p] = pe
			continue
		}
		if ch, ok := shared[p]; ok {
			deploymentEffects[p] = effect{what: pe.what, change: ch}
			continue
		}
		if isStrategyBlock(p) {
			// The strategy blocks are the DeploymentPlan's: AsPlan copies them unchanged. Measured
			// against a HugAIDeployment that carries the fixture plan's strategy.
			change := pe.change
			deploymentEffects[p] = effect{pe.what + " (as in a DeploymentPlan)", func(f *fx) {
				change(f)
				f.d.Spec.Strategy = builtinTemplates(f.p.Spec.Strategy)
			}}
			prepares[plan.KindHugAIDeployment+" "+p] = func(f *fx) {
				f.d.Spec.Strategy = builtinTemplates(f.p.Spec.Strategy)
				f.d.Spec.Rollout = nil
			}
		}
	}
}

// builtinTemplates points the fixture plan's analysis step at a built-in template: a
// HugAIDeployment has no templates of its own.
func builtinTemplates(s plan.Strategy) plan.Strategy {
	if c := s.Canary; c != nil {
		for _, st := range c.Steps {
			if a := st.Analysis; a != nil {
				for i := range a.Templates {
					if a.Templates[i].TemplateName == "errors" {
						a.Templates[i].TemplateName = "error-rate"
					}
				}
			}
		}
	}
	return s
}

func isStrategyBlock(p string) bool {
	for _, s := range []string{"spec.strategy.canary.", "spec.strategy.blueGreen.", "spec.strategy.rolling.", "spec.strategy.recreate."} {
		if len(p) > len(s) && p[:len(s)] == s {
			return true
		}
	}
	return false
}
