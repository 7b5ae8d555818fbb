package plan

import (
	"fmt"
	"github.com/hugai-dev/hugai/internal/analysis"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/hugai-dev/hugai/internal/criteria"
)

// checker collects problems by field path; lines are filled in from the positions of the file the
// document came from.
type checker struct {
	file  string
	pos   Positions
	errs  Errors
	warns Errors
	// rename maps a path of the document checked to the path in the file (a HugAIDeployment
	// checked as the DeploymentPlan it runs as); nil: the same.
	rename func(string) string
}

func (c *checker) at(path string) *FieldError {
	if c.rename != nil {
		path = c.rename(path)
	}
	return &FieldError{File: c.file, Line: c.pos.Line(path), Path: path}
}

func (c *checker) errorf(path, format string, args ...any) {
	e := c.at(path)
	e.Msg = fmt.Sprintf(format, args...)
	c.errs = append(c.errs, e)
}

func (c *checker) warnf(path, format string, args ...any) {
	e := c.at(path)
	e.Msg = fmt.Sprintf(format, args...)
	c.warns = append(c.warns, e)
}

var (
	dnsName   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	identName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Levels are the risk levels, lowest first.
var Levels = []string{"low", "medium", "high", "critical"}

func (c *checker) header(apiVersion, kind, wantKind string) {
	if apiVersion != APIVersion {
		if apiVersion == "" {
			c.errorf("apiVersion", "missing; want %s", APIVersion)
		} else {
			c.errorf("apiVersion", "%q is not supported; want %s", apiVersion, APIVersion)
		}
	}
	if kind != wantKind {
		c.errorf("kind", "%q: want %s", kind, wantKind)
	}
}

func (c *checker) name(path, name string, required bool) {
	switch {
	case name == "" && required:
		c.errorf(path, "missing")
	case name != "" && (len(name) > 63 || !dnsName.MatchString(name)):
		c.errorf(path, "%q: want lowercase letters, digits and '-' (at most 63)", name)
	}
}

func (c *checker) positive(path string, d *Duration) {
	if d != nil && d.Duration <= 0 {
		c.errorf(path, "must be more than 0s")
	}
}

func (c *checker) oneOf(path, v string, allowed []string) bool {
	if slices.Contains(allowed, v) {
		return true
	}
	msg := fmt.Sprintf("%q is not one of %s", v, strings.Join(allowed, ", "))
	if s := didYouMean(v, allowed); s != "" {
		msg = fmt.Sprintf("%q is not one of %s (did you mean %q?)", v, strings.Join(allowed, ", "), s)
	}
	c.errorf(path, "%s", msg)
	return false
}

// criteria checks a criteria text; metrics nil accepts any metric name (a plan read without its
// service file: CheckAgainst checks the names once the service is known).
func (c *checker) criteria(path, s string, metrics []string) {
	if s == "" {
		return
	}
	opt := criteria.WithMetrics(metrics...)
	if metrics == nil {
		opt = criteria.AnyMetric()
	}
	if _, err := criteria.Parse(s, opt); err != nil {
		c.errorf(path, "%v", err)
	}
}

func (c *checker) hostPort(path, addr string) {
	if addr == "" {
		return
	}
	i := strings.LastIndexByte(addr, ':')
	port, err := strconv.Atoi(addr[i+1:])
	if i < 0 || err != nil || port < 0 || port > 65535 || strings.ContainsAny(addr[:i], " /") {
		c.errorf(path, "%q: want host:port, e.g. 127.0.0.1:8080", addr)
	}
}

// headerName is an HTTP header's name (RFC 9110's token).
var headerName = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_|~-]+$")

// validate checks a service file; it returns every error and warning at once.
func (s *Service) validate(c *checker) {
	c.header(s.APIVersion, s.Kind, KindService)
	c.name("metadata.name", s.Metadata.Name, true)
	sp := &s.Spec
	c.target("spec.target", &sp.Target, true)
	if sp.Target.Type == TargetKubernetes && len(sp.SmokeTest) > 0 {
		// It is run against the local target's listen and preview addresses, which a cluster
		// does not have; accepted and skipped, it would be a gate that does not exist.
		c.errorf("spec.smokeTest", "runs against the local target's addresses; the kubernetes target cannot run it yet: remove it, or gate on metrics")
	}
	c.positive("spec.progressDeadline", sp.ProgressDeadline)
	c.healthChecks("spec.healthChecks", sp.HealthChecks)

	metricNames := []string{}
	for i, m := range sp.Metrics {
		p := fmt.Sprintf("spec.metrics[%d]", i)
		switch {
		case m.Name == "":
			c.errorf(p+".name", "missing")
		case !identName.MatchString(m.Name):
			c.errorf(p+".name", "%q: want letters, digits and '_' (it is used in criteria)", m.Name)
		case slices.Contains(metricNames, m.Name):
			c.errorf(p+".name", "%q is defined twice", m.Name)
		}
		metricNames = append(metricNames, m.Name)
		provider := m.Provider
		if provider == "" {
			provider = ProviderPrometheus
		}
		if provider == ProviderBuiltin && m.Name != "" {
			if _, ok := criteria.MetricKind(criteria.Canonical(m.Name)); !ok {
				c.errorf(p+".name", "%q: the builtin provider measures only %s", m.Name, strings.Join(criteria.Builtins(), ", "))
			}
			for f, v := range map[string]string{"address": m.Address, "query": m.Query, "jsonPath": m.JSONPath} {
				if v != "" {
					c.errorf(p+"."+f, "the builtin provider takes no %s", f)
				}
			}
			if len(m.Headers) > 0 {
				c.errorf(p+".headers", "the builtin provider takes no headers")
			}
		}
		for _, k := range sortedKeys(m.Headers) {
			if !headerName.MatchString(k) {
				c.errorf(p+".headers", "%q is not a header name", k)
			}
		}
		if m.JSONPath != "" && provider != ProviderWeb {
			c.errorf(p+".jsonPath", "only the web provider reads a JSONPath")
		}
		if c.oneOf(p+".provider", provider, []string{ProviderBuiltin, ProviderPrometheus, ProviderWeb}) {
			if provider != ProviderBuiltin && m.Address == "" {
				c.errorf(p+".address", "missing: the %s provider needs an address", provider)
			}
			if provider == ProviderPrometheus && m.Query == "" {
				c.errorf(p+".query", "missing: the prometheus provider needs a query")
			}
			if provider == ProviderWeb && m.Query != "" {
				c.errorf(p+".query", "the web provider takes no query: template its address, e.g. http://host/kpi?version={{.Version}}")
			}
			if provider == ProviderWeb && m.JSONPath == "" {
				c.errorf(p+".jsonPath", "missing: the web provider needs a JSONPath to the value, e.g. $.data.value")
			}
		}
		if m.Query != "" {
			if _, err := template.New("q").Parse(m.Query); err != nil {
				c.errorf(p+".query", "bad template: %v", err)
			}
		}
		if provider == ProviderWeb && m.Address != "" {
			if _, err := template.New("a").Parse(m.Address); err != nil {
				c.errorf(p+".address", "bad template: %v", err)
			}
		}
	}

	for _, envName := range sortedKeys(sp.Environments) {
		env := sp.Environments[envName]
		p := "spec.environments." + envName
		c.name(p, envName, true)
		if env.Target != nil {
			c.target(p+".target", env.Target, false)
			if env.Target.Type != "" && env.Target.Type != sp.Target.Type {
				c.errorf(p+".target.type", "%q differs from spec.target.type %q; an environment overrides fields, not the kind of target", env.Target.Type, sp.Target.Type)
			}
		}
		c.criteria(p+".successCriteria", env.SuccessCriteria, metricNames)
		if env.SuccessCriteria != "" {
			for _, why := range s.unmeasurable(env.SuccessCriteria, envTargetType(sp.Target, env.Target)) {
				c.errorf(p+".successCriteria", "%s", why)
			}
		}
		if a := env.Analysis; a != nil {
			c.positive(p+".analysis.interval", a.Interval)
			if a.MinimumSamples < 0 {
				c.errorf(p+".analysis.minimumSamples", "must not be negative")
			}
			if a.Method != "" {
				c.oneOf(p+".analysis.method", a.Method, []string{MethodThreshold, MethodSequential})
			}
			if a.Alpha != nil && !(*a.Alpha > 0 && *a.Alpha <= 0.5) {
				c.errorf(p+".analysis.alpha", "%v is not in (0, 0.5]: the false-rollback rate allowed, e.g. 0.01", *a.Alpha)
			}
			sequential := a.Method == MethodSequential
			kube := envTargetType(sp.Target, env.Target) == TargetKubernetes
			if sequential && kube && a.Compare == nil {
				c.errorf(p+".analysis.method", "sequential compares both versions' requests and errors, which the kubernetes target has no proxy to count: name two prometheus metrics counting them in analysis.compare (requests, errors), or use threshold")
			}
			if a.Compare != nil {
				c.compare(p+".analysis.compare", a.Compare, sp.Metrics, sequential, kube)
			}
			if m := a.MaxRegression; m != nil {
				if !sequential {
					c.errorf(p+".analysis.maxRegression", "only the sequential method reads it: set analysis.method: sequential, or remove it")
				}
				if m.ErrorRate != "" {
					if v, err := analysis.ParsePoints(m.ErrorRate); err != nil {
						c.errorf(p+".analysis.maxRegression.errorRate", "%v", err)
					} else if !(v > 0 && v < 1) {
						c.errorf(p+".analysis.maxRegression.errorRate", "%s is not in (0pp, 100pp)", m.ErrorRate)
					}
				}
				if m.LatencyP95 != "" {
					if v, err := analysis.ParsePercent(m.LatencyP95); err != nil {
						c.errorf(p+".analysis.maxRegression.latencyP95", "%v", err)
					} else if !(v > 0 && v <= 10) {
						c.errorf(p+".analysis.maxRegression.latencyP95", "%s is not in (0%%, 1000%%]", m.LatencyP95)
					}
				}
			}
			if a.EarlyPromotion != nil && *a.EarlyPromotion && !sequential {
				c.errorf(p+".analysis.earlyPromotion", "only the sequential method can rule a regression out: set analysis.method: sequential, or remove it")
			}
		}
		if m := env.Monitoring; m != nil && m.Duration != nil && m.Duration.Duration < 0 {
			c.errorf(p+".monitoring.duration", "must not be negative")
		}
		for _, level := range sortedKeys(env.StrategyByRisk) {
			lp := p + ".strategyByRisk." + level
			c.oneOf(lp, level, Levels)
			if st := env.StrategyByRisk[level]; NormalizeStrategy(st) == "" {
				c.oneOf(lp, st, Strategies)
			} else if NormalizeStrategy(st) == StrategyBlueGreen && envTargetType(sp.Target, env.Target) == TargetLocal && localPreview(sp.Target, env.Target) == "" {
				c.warnf(lp, "blue-green on the local target needs a preview address (target.local.preview) where green is served alone: a plan with it is refused until one is set")
			}
		}
		if env.Policy != nil {
			c.policy(p+".policy", env.Policy)
		}
	}

	if db := sp.Database; db != nil {
		if db.Rollback == nil && db.Migrate == nil {
			c.errorf("spec.database", "want migrate and rollback commands")
		}
		if len(db.Migrate) > 0 && len(db.Rollback) == 0 {
			c.errorf("spec.database.rollback", "missing: a release that migrates must be able to roll the migration back")
		}
	}
	names := map[string]bool{}
	for i, n := range sp.Notifications {
		np := fmt.Sprintf("spec.notifications[%d]", i)
		c.notification(np, n)
		if n.Name != "" {
			c.name(np+".name", n.Name, false)
			if names[n.Name] {
				c.errorf(np+".name", "%q is used twice: a plan's alerting channels name one channel each", n.Name)
			}
			names[n.Name] = true
		}
	}
	for _, name := range sortedKeys(sp.Checkpoints) {
		cp := "spec.checkpoints." + name
		c.name(cp, name, true)
		if slices.Contains(KnownCheckpoints, name) {
			c.errorf(cp, "hugai runs %s itself; name your own checkpoint differently", name)
		}
		if len(sp.Checkpoints[name]) == 0 || sp.Checkpoints[name][0] == "" {
			c.errorf(cp, "missing: the argv to run, e.g. [\"trivy\", \"fs\", \".\"]")
		}
	}
	if sp.Release != nil {
		c.releaseStages(s)
	}
	if len(sp.HealthChecks) > 1 && sp.Target.Type == TargetLocal {
		c.errorf("spec.healthChecks[1]", "the local target probes one health check per replica: keep one (a path can check several things)")
	}
	for i, m := range sp.Metrics {
		if provider := providerOf(&m); m.Name != "" && !slices.Contains(AvailableProviders, provider) {
			c.warnf(fmt.Sprintf("spec.metrics[%d].provider", i), "%s is not available in this hugai yet: a criterion, trigger or monitor on %s is refused until it is", provider, m.Name)
		}
	}
}

// localPreview is an environment's local preview address, its own or the service's.
func localPreview(service Target, env *Target) string {
	if env != nil && env.Local != nil && env.Local.Preview != "" {
		return env.Local.Preview
	}
	if service.Local != nil {
		return service.Local.Preview
	}
	return ""
}

// compare checks analysis.compare: two named prometheus metrics and a step, read only by the
// sequential method on the kubernetes target (on the local target the proxy counts).
func (c *checker) compare(p string, cmp *Compare, metrics []Metric, sequential, kube bool) {
	if !sequential {
		c.errorf(p, "only the sequential method reads it: set analysis.method: sequential, or remove it")
	}
	if !kube {
		c.errorf(p, "the local target's proxy counts both versions itself: remove it (it is for the kubernetes target)")
	}
	for _, f := range []struct{ field, name string }{{"requests", cmp.Requests}, {"errors", cmp.Errors}} {
		if f.name == "" {
			c.errorf(p+"."+f.field, "missing: the name of a prometheus metric in spec.metrics counting each version's %s over {{.Window}}", f.field)
			continue
		}
		i := slices.IndexFunc(metrics, func(m Metric) bool { return m.Name == f.name })
		if i < 0 {
			c.errorf(p+"."+f.field, "%q is not a metric of spec.metrics", f.name)
			continue
		}
		if pr := metrics[i].Provider; pr != "" && pr != ProviderPrometheus {
			c.errorf(p+"."+f.field, "%q is read from %s; the comparison reads prometheus range queries", f.name, pr)
		} else if q := metrics[i].Query; strings.Contains(q, ".Window") || strings.Contains(q, ".From") || strings.Contains(q, ".To") || strings.Contains(q, "rate(") || strings.Contains(q, "increase(") {
			c.errorf(p+"."+f.field, "the query of %q is a rate or reads the window: want a running total, e.g. sum(http_requests_total{version=\"{{.Version}}\"}); hugai takes the differences between steps", f.name)
		}
	}
	if cmp.Requests != "" && cmp.Requests == cmp.Errors {
		c.errorf(p+".errors", "%q also counts the requests: errors need a query of their own", cmp.Errors)
	}
	c.positive(p+".step", cmp.Step)
	if cmp.Step != nil && cmp.Step.Duration > 0 && (cmp.Step.Duration < time.Second || cmp.Step.Duration%time.Second != 0) {
		c.errorf(p+".step", "%s: want whole seconds, at least 1s (Prometheus' resolution)", cmp.Step.Duration)
	}
}

// envTargetType is the kind of target an environment deploys to.
func envTargetType(service Target, env *Target) string {
	if env != nil && env.Type != "" {
		return env.Type
	}
	return service.Type
}

func (c *checker) target(p string, t *Target, full bool) {
	if full {
		if t.Type == "" {
			c.errorf(p+".type", "missing; want local or kubernetes")
			return
		}
		if !c.oneOf(p+".type", t.Type, []string{TargetLocal, TargetKubernetes}) {
			return
		}
	}
	if l := t.Local; l != nil {
		lp := p + ".local"
		if full && t.Type == TargetLocal && len(l.Command) == 0 {
			c.errorf(lp+".command", "missing: the argv that starts one replica, e.g. [\"./server\", \"--port\", \"{{.Port}}\"]")
		}
		for i, arg := range l.Command {
			if err := checkCommandTemplate(arg); err != nil {
				c.errorf(fmt.Sprintf("%s.command[%d]", lp, i), "%v", err)
			}
		}
		if l.Replicas < 0 {
			c.errorf(lp+".replicas", "must not be negative")
		}
		if full && t.Type == TargetLocal && l.Listen == "" {
			c.errorf(lp+".listen", "missing: the address the proxy serves users on, e.g. 127.0.0.1:8080")
		}
		c.hostPort(lp+".listen", l.Listen)
		c.hostPort(lp+".admin", l.Admin)
		c.hostPort(lp+".preview", l.Preview)
		c.positive(lp+".gracePeriod", l.GracePeriod)
		if l.UpstreamProtocol != "" {
			c.oneOf(lp+".upstreamProtocol", l.UpstreamProtocol, []string{UpstreamHTTP1, UpstreamH2C, UpstreamH2})
		}
		if hr := l.HeaderRouting; hr != nil {
			hp := lp + ".headerRouting"
			if hr.Secret == "" && len(hr.AllowFrom) == 0 {
				c.errorf(hp, "set secret (${VAR}) or allowFrom: header routing needs one of them, or leave it out to keep it off")
			}
			if hr.Secret != "" && !strings.Contains(hr.Secret, "${") {
				c.warnf(hp+".secret", "written in the file: use ${VAR} so the secret is read from the environment and never stored")
			}
			for i, a := range hr.AllowFrom {
				if _, err := ParseAddressRange(a); err != nil {
					c.errorf(fmt.Sprintf("%s.allowFrom[%d]", hp, i), "%v", err)
				}
			}
		}
		if full && (l.TLSCert == "") != (l.TLSKey == "") {
			if l.TLSKey == "" {
				c.errorf(lp+".tlsKey", "missing: tlsCert %s needs its key file", l.TLSCert)
			} else {
				c.errorf(lp+".tlsCert", "missing: tlsKey %s needs its certificate file", l.TLSKey)
			}
		}
	} else if full && t.Type == TargetLocal {
		c.errorf(p+".local", "missing: type local needs spec.target.local")
	}
	if k := t.Kubernetes; k != nil && (t.Type == TargetKubernetes || !full) {
		kp := p + ".kubernetes"
		if full {
			for f, v := range map[string]string{"namespace": k.Namespace, "deployment": k.Deployment} {
				if v == "" {
					c.errorf(kp+"."+f, "missing")
				}
			}
			if k.Image == "" && len(k.Env) == 0 {
				c.errorf(kp+".image", "missing: the image of a version, e.g. registry.example.com/app:{{.Version}} (or env that carries the version)")
			}
			if r := k.TrafficRouter; r != nil && r.GatewayAPI != nil && k.Service == "" {
				c.errorf(kp+".service", "missing: the HTTPRoute's backends are per-version Services with this Service's ports")
			} else if r != nil && r.Istio != nil && k.Service == "" {
				c.errorf(kp+".service", "missing: the VirtualService's destinations are per-version Services with this Service's ports")
			}
		}
		if k.Image != "" {
			if err := checkVersionTemplate(k.Image); err != nil {
				c.errorf(kp+".image", "%v", err)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(k.Env)) {
			if err := checkVersionTemplate(k.Env[name]); err != nil {
				c.errorf(kp+".env."+name, "%v", err)
			}
		}
		if k.Replicas < 0 {
			c.errorf(kp+".replicas", "must not be negative")
		}
		if k.ScaleDownDelay != nil && k.ScaleDownDelay.Duration < 0 {
			c.errorf(kp+".scaleDownDelay", "must not be negative")
		}
		if hr := k.HeaderRouting; hr != nil {
			hp := kp + ".headerRouting"
			if len(hr.AllowFrom) > 0 {
				c.errorf(hp+".allowFrom", "an HTTPRoute or a VirtualService cannot match a client's address: use secret")
			}
			if hr.Secret == "" {
				c.errorf(hp+".secret", "missing: the value clients send in X-Hugai-Route-Secret (${VAR}), or leave headerRouting out to keep it off")
			} else if !strings.Contains(hr.Secret, "${") {
				c.warnf(hp+".secret", "written in the file: use ${VAR} so the secret is read from the environment and never stored")
			}
			if r := k.TrafficRouter; full && (r == nil || r.GatewayAPI == nil && r.Istio == nil) {
				c.errorf(hp, "needs trafficRouter.gatewayAPI or trafficRouter.istio: the header is matched by HTTPRoute rules or VirtualService routes")
			}
		}
		if r := k.TrafficRouter; r != nil && r.GatewayAPI != nil && r.Istio != nil {
			c.errorf(kp+".trafficRouter", "set one of gatewayAPI or istio, not both")
		} else if r != nil && r.Istio != nil {
			ip := kp + ".trafficRouter.istio"
			if r.Istio.VirtualService == "" {
				c.errorf(ip+".virtualService", "missing: the VirtualService whose destination weights hugai sets")
			}
			seen := map[string]bool{}
			for i, name := range r.Istio.Routes {
				switch {
				case name == "":
					c.errorf(fmt.Sprintf("%s.routes[%d]", ip, i), "empty: name an http route of the VirtualService")
				case strings.HasPrefix(name, "hugai-"):
					c.errorf(fmt.Sprintf("%s.routes[%d]", ip, i), "%q: routes named hugai-… are hugai's own (X-Hugai-Route)", name)
				case seen[name]:
					c.errorf(fmt.Sprintf("%s.routes[%d]", ip, i), "%q is named twice", name)
				}
				seen[name] = true
			}
		} else if r != nil && r.GatewayAPI != nil && r.GatewayAPI.HTTPRoute == "" {
			c.errorf(kp+".trafficRouter.gatewayAPI.httpRoute", "missing: the HTTPRoute whose backend weights hugai sets")
		}
	} else if full && t.Type == TargetKubernetes {
		c.errorf(p+".kubernetes", "missing: type kubernetes needs spec.target.kubernetes")
	}
}

// templateFields are what a local command template may use.
type templateFields struct {
	Port    int
	Version string
	Replica int
	DataDir string
}

func checkCommandTemplate(arg string) error {
	t, err := template.New("arg").Option("missingkey=error").Parse(arg)
	if err != nil {
		return fmt.Errorf("bad template: %v", strings.TrimPrefix(err.Error(), "template: arg:"))
	}
	if err := t.Execute(discard{}, templateFields{}); err != nil {
		return fmt.Errorf("bad template %q: only {{.Port}}, {{.Version}}, {{.Replica}} and {{.DataDir}} are filled", arg)
	}
	return nil
}

// checkVersionTemplate checks a kubernetes image or env template: {{.Version}} is all it has.
func checkVersionTemplate(s string) error {
	t, err := template.New("v").Option("missingkey=error").Parse(s)
	if err != nil {
		return fmt.Errorf("bad template: %v", strings.TrimPrefix(err.Error(), "template: v:"))
	}
	if err := t.Execute(discard{}, struct{ Version string }{}); err != nil {
		return fmt.Errorf("bad template %q: only {{.Version}} is filled", s)
	}
	return nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func (c *checker) healthChecks(p string, hcs []HealthCheck) {
	for i, h := range hcs {
		hp := fmt.Sprintf("%s[%d]", p, i)
		if !strings.HasPrefix(h.Path, "/") {
			c.errorf(hp+".path", "%q: want a path starting with /", h.Path)
		}
		c.positive(hp+".interval", h.Interval)
		c.positive(hp+".timeout", h.Timeout)
		if h.FailureThreshold < 0 {
			c.errorf(hp+".failureThreshold", "must not be negative")
		}
		if h.SuccessThreshold < 0 {
			c.errorf(hp+".successThreshold", "must not be negative")
		}
	}
}

func (c *checker) policy(p string, pol *Policy) {
	if pol.ApprovalsRequired < 0 {
		c.errorf(p+".approvalsRequired", "must not be negative")
	}
	if len(pol.Approvers) > 0 && pol.ApprovalsRequired > len(pol.Approvers) {
		c.errorf(p+".approvalsRequired", "%d approvals required but only %d approvers listed", pol.ApprovalsRequired, len(pol.Approvers))
	}
	c.positive(p+".approvalTimeout", pol.ApprovalTimeout)
	c.governance(p, pol)
	if pol.RequireApprovalFrom != "" {
		c.oneOf(p+".requireApprovalFrom", pol.RequireApprovalFrom, append(slices.Clone(Levels), "never"))
	}
	if pol.Timezone != "" {
		if _, err := time.LoadLocation(pol.Timezone); err != nil {
			c.errorf(p+".timezone", "%q is not a known time zone (e.g. UTC, Europe/Berlin)", pol.Timezone)
		}
	}
	for i, w := range pol.FreezeWindows {
		wp := fmt.Sprintf("%s.freezeWindows[%d]", p, i)
		if w.Name == "" {
			c.errorf(wp+".name", "missing")
		}
		if w.Start == "" {
			c.errorf(wp+".start", "missing: a cron expression such as \"0 18 * * FRI\"")
		} else if err := checkCron(w.Start); err != nil {
			c.errorf(wp+".start", "%v", err)
		}
		if w.Duration.Duration <= 0 {
			c.errorf(wp+".duration", "must be more than 0s")
		}
	}
}

func (c *checker) notification(p string, n Notification) {
	if !c.oneOf(p+".type", n.Type, []string{"slack", "pagerduty", "email", "webhook"}) {
		return
	}
	need := func(field, v string) {
		if v == "" {
			c.errorf(p+"."+field, "missing: a %s notification needs it", n.Type)
		}
	}
	switch n.Type {
	case "slack":
		need("webhookURL", n.WebhookURL)
	case "pagerduty":
		need("routingKey", n.RoutingKey)
	case "webhook":
		need("url", n.URL)
	case "email":
		need("smtp", n.SMTP)
		need("from", n.From)
		if len(n.To) == 0 {
			c.errorf(p+".to", "missing: an email notification needs recipients")
		}
		if n.Username != "" && n.Password == "" {
			c.errorf(p+".password", "missing: a username needs a password (write it as ${VAR})")
		}
	}
	if n.Severity != "" {
		c.oneOf(p+".severity", n.Severity, []string{"info", "warning", "critical"})
	}
	for field, v := range map[string]string{"password": n.Password, "secret": n.Secret} {
		if v != "" && !strings.Contains(v, "${") {
			c.warnf(p+"."+field, "written in the file: use ${VAR} so the secret is read from the environment and never stored")
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// releaseStages checks spec.release: every stage deploys to an environment of the service, once,
// and names only checks hugai can run (the smoke test, or a command of spec.checkpoints).
func (c *checker) releaseStages(s *Service) {
	sp := &s.Spec
	if len(sp.Release.Stages) == 0 {
		c.errorf("spec.release.stages", "missing: at least one stage, e.g. {environment: production}")
		return
	}
	envs := s.EnvironmentNames()
	names, targets := map[string]bool{}, map[string]bool{}
	for i, st := range sp.Release.Stages {
		p := fmt.Sprintf("spec.release.stages[%d]", i)
		if st.Name != "" {
			c.name(p+".name", st.Name, false)
		}
		switch {
		case st.Environment == "":
			c.errorf(p+".environment", "missing: the environment the stage deploys to (one of %s)", strings.Join(envs, ", "))
		case len(sp.Environments) == 0:
			c.errorf(p+".environment", "%q: the service declares no environments (spec.environments)", st.Environment)
		case !slices.Contains(envs, st.Environment):
			c.errorf(p+".environment", "%q is not an environment of %s (known: %s)", st.Environment, s.Metadata.Name, strings.Join(envs, ", "))
		case targets[st.Environment]:
			c.errorf(p+".environment", "%q is deployed by an earlier stage: a release reaches each environment once", st.Environment)
		}
		targets[st.Environment] = true
		if n := st.StageName(); n != "" {
			if names[n] {
				c.errorf(p+".name", "%q names two stages", n)
			}
			names[n] = true
		}
		for field, checks := range map[string][]string{"preChecks": st.PreChecks, "validation": st.Validation} {
			for j, name := range checks {
				cp := fmt.Sprintf("%s.%s[%d]", p, field, j)
				switch {
				case name == CheckpointSmokeTest && len(sp.SmokeTest) == 0:
					c.errorf(cp, "smoke-test: the service has no spec.smokeTest to run")
				case name == CheckpointSmokeTest:
				case len(sp.Checkpoints[name]) == 0:
					known := append([]string{CheckpointSmokeTest}, sortedKeys(sp.Checkpoints)...)
					c.errorf(cp, "%q is not a check hugai can run (known: %s): give it a command in spec.checkpoints", name, strings.Join(known, ", "))
				}
			}
		}
	}
}

// ParseAddressRange reads an IP address (one host) or a CIDR range, e.g. 10.0.0.0/8.
func ParseAddressRange(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q: want an IP address or a CIDR range such as 10.0.0.0/8", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q: want an IP address or a CIDR range such as 10.0.0.0/8", s)
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}
