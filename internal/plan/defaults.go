package plan

import (
	"fmt"
	"github.com/hugai-dev/hugai/internal/analysis"
	"slices"
	"strings"
	"time"
)

// Defaults, in one place. Every reader of a service file or plan gets these through Env and the
// plan's accessors, so nothing else in hugai invents a default of its own.
const (
	DefaultReplicas          = 1
	DefaultGracePeriod       = 10 * time.Second
	DefaultProgressDeadline  = 2 * time.Minute
	DefaultHealthInterval    = 5 * time.Second
	DefaultHealthTimeout     = 2 * time.Second
	DefaultFailureThreshold  = 3
	DefaultSuccessThreshold  = 1
	DefaultAnalysisInterval  = 30 * time.Second
	DefaultMinimumSamples    = 20
	DefaultApprovalTimeout   = time.Hour
	DefaultApprovalFrom      = "high"
	DefaultHoldTimeout       = 30 * time.Second
	DefaultScaleDownDelay    = 30 * time.Second
	DefaultSuccessCriteria   = "error_rate<1%,latency_p95<2s"
	DefaultInconclusiveLimit = 3
	DefaultCompareStep       = 30 * time.Second
)

// Env is an environment of a service with its overrides merged and every default applied: what
// the planner and the engine read.
//
// +kubebuilder:object:generate=false
type Env struct {
	Name             string
	Target           Target
	ProgressDeadline time.Duration
	HealthChecks     []HealthCheck
	SuccessCriteria  string
	AnalysisInterval time.Duration
	MinimumSamples   int
	Method           string
	// Analysis is the sequential analysis' configuration (Alpha also rules the rate criteria
	// under either method); EarlyPromotion its opt-in.
	Analysis       analysis.Config
	EarlyPromotion bool
	// Compare is where the sequential comparison counts both versions outside hugai's proxy
	// (analysis.compare), its metrics resolved; nil on the local target, whose proxy counts.
	Compare         *CompareQueries
	MonitorDuration time.Duration
	StrategyByRisk  map[string]string
	Policy          Policy
	Location        *time.Location
}

// CompareQueries are analysis.compare with its named metrics looked up: what a prometheus
// comparer is built from.
//
// +kubebuilder:object:generate=false
type CompareQueries struct {
	Requests Metric
	Errors   Metric
	Step     time.Duration
}

// namedMetric is the metric called name (validated to exist), or one with only the name.
func (s *Service) namedMetric(name string) Metric {
	if m := s.metric(name); m != nil {
		return *m
	}
	return Metric{Name: name}
}

// EnvironmentNames lists the service's environments in order.
func (s *Service) EnvironmentNames() []string { return sortedKeys(s.Spec.Environments) }

// Env resolves environment name. A service that declares no environments accepts any name with
// the defaults; one that declares some accepts only those.
func (s *Service) Env(name string) (*Env, error) {
	env, ok := s.Spec.Environments[name]
	if !ok && len(s.Spec.Environments) > 0 {
		names := s.EnvironmentNames()
		msg := fmt.Sprintf("environment %q is not in %s (known: %s)", name, s.Metadata.Name, strings.Join(names, ", "))
		if m := didYouMean(name, names); m != "" {
			msg = fmt.Sprintf("environment %q is not in %s (did you mean %q?)", name, s.Metadata.Name, m)
		}
		return nil, fmt.Errorf("%s", msg)
	}
	e := &Env{
		Name:             name,
		Target:           mergeTarget(s.Spec.Target, env.Target),
		ProgressDeadline: durOr(s.Spec.ProgressDeadline, DefaultProgressDeadline),
		SuccessCriteria:  env.SuccessCriteria,
		AnalysisInterval: DefaultAnalysisInterval,
		MinimumSamples:   DefaultMinimumSamples,
		Method:           MethodThreshold,
		Analysis:         analysis.DefaultConfig(),
		StrategyByRisk:   map[string]string{},
		Location:         time.UTC,
	}
	if e.SuccessCriteria == "" {
		e.SuccessCriteria = DefaultSuccessCriteria
	}
	for _, h := range s.Spec.HealthChecks {
		h.Interval = ptr(D(durOr(h.Interval, DefaultHealthInterval)))
		h.Timeout = ptr(D(durOr(h.Timeout, DefaultHealthTimeout)))
		if h.FailureThreshold == 0 {
			h.FailureThreshold = DefaultFailureThreshold
		}
		if h.SuccessThreshold == 0 {
			h.SuccessThreshold = DefaultSuccessThreshold
		}
		e.HealthChecks = append(e.HealthChecks, h)
	}
	if a := env.Analysis; a != nil {
		e.AnalysisInterval = durOr(a.Interval, DefaultAnalysisInterval)
		if a.MinimumSamples > 0 {
			e.MinimumSamples = a.MinimumSamples
		}
		if a.Method != "" {
			e.Method = a.Method
		}
		if a.Alpha != nil {
			e.Analysis.Alpha = *a.Alpha
		}
		if m := a.MaxRegression; m != nil {
			// Validated before: a bad string never reaches here, and its zero would be refused.
			if m.ErrorRate != "" {
				e.Analysis.MaxRegression.ErrorRate, _ = analysis.ParsePoints(m.ErrorRate)
			}
			if m.LatencyP95 != "" {
				e.Analysis.MaxRegression.LatencyP95, _ = analysis.ParsePercent(m.LatencyP95)
			}
		}
		e.EarlyPromotion = a.EarlyPromotion != nil && *a.EarlyPromotion
		if c := a.Compare; c != nil {
			e.Compare = &CompareQueries{Requests: s.namedMetric(c.Requests), Errors: s.namedMetric(c.Errors), Step: durOr(c.Step, DefaultCompareStep)}
		}
	}
	if m := env.Monitoring; m != nil {
		e.MonitorDuration = durOr(m.Duration, 0)
	}
	for level, st := range env.StrategyByRisk {
		e.StrategyByRisk[level] = NormalizeStrategy(st)
	}
	if env.Policy != nil {
		e.Policy = *env.Policy
		e.Policy.Approvers = slices.Clone(env.Policy.Approvers)
	}
	if e.Policy.ApprovalsRequired == 0 && len(e.Policy.Approvers) > 0 {
		e.Policy.ApprovalsRequired = 1
	}
	e.Policy.ApprovalTimeout = ptr(D(durOr(e.Policy.ApprovalTimeout, DefaultApprovalTimeout)))
	if e.Policy.RequireApprovalFrom == "" {
		e.Policy.RequireApprovalFrom = DefaultApprovalFrom
	}
	if tz := e.Policy.Timezone; tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return nil, fmt.Errorf("environment %s: timezone %q: %w", name, tz, err)
		}
		e.Location = loc
	}
	if l := e.Target.Local; l != nil {
		if l.Replicas == 0 {
			l.Replicas = DefaultReplicas
		}
		if l.Workdir == "" {
			l.Workdir = "."
		}
		l.GracePeriod = ptr(D(durOr(l.GracePeriod, DefaultGracePeriod)))
	}
	if k := e.Target.Kubernetes; k != nil && k.Replicas == 0 {
		k.Replicas = DefaultReplicas
	}
	return e, nil
}

// ApprovalRequiredAt reports whether a change at risk level needs an approval under the policy.
func (p Policy) ApprovalRequiredAt(level string) bool {
	if p.RequireApprovalFrom == "never" {
		return false
	}
	return slices.Index(Levels, level) >= slices.Index(Levels, p.RequireApprovalFrom)
}

// mergeTarget overlays an environment's target on the service's, field by field.
func mergeTarget(base Target, over *Target) Target {
	out := base
	if base.Local != nil {
		l := *base.Local
		l.Env = cloneMap(base.Local.Env)
		out.Local = &l
	}
	if base.Kubernetes != nil {
		k := *base.Kubernetes
		k.Env = cloneMap(base.Kubernetes.Env)
		out.Kubernetes = &k
	}
	if over == nil {
		return out
	}
	if ol := over.Local; ol != nil {
		if out.Local == nil {
			out.Local = &LocalTarget{}
		}
		l := out.Local
		if ol.Command != nil {
			l.Command = ol.Command
		}
		setIf(&l.Workdir, ol.Workdir)
		setIf(&l.Listen, ol.Listen)
		setIf(&l.Admin, ol.Admin)
		setIf(&l.Preview, ol.Preview)
		setIf(&l.UpstreamProtocol, ol.UpstreamProtocol)
		setIf(&l.TLSCert, ol.TLSCert)
		setIf(&l.TLSKey, ol.TLSKey)
		if ol.Replicas != 0 {
			l.Replicas = ol.Replicas
		}
		if ol.GracePeriod != nil {
			l.GracePeriod = ol.GracePeriod
		}
		if ol.HeaderRouting != nil {
			l.HeaderRouting = ol.HeaderRouting // whole: an environment's secret and addresses are its own
		}
		for k, v := range ol.Env {
			if l.Env == nil {
				l.Env = map[string]string{}
			}
			l.Env[k] = v
		}
	}
	if ok := over.Kubernetes; ok != nil {
		if out.Kubernetes == nil {
			out.Kubernetes = &KubernetesTarget{}
		}
		k := out.Kubernetes
		setIf(&k.Namespace, ok.Namespace)
		setIf(&k.Deployment, ok.Deployment)
		setIf(&k.Container, ok.Container)
		setIf(&k.Image, ok.Image)
		setIf(&k.Service, ok.Service)
		if ok.Replicas != 0 {
			k.Replicas = ok.Replicas
		}
		if ok.ScaleDownDelay != nil {
			k.ScaleDownDelay = ok.ScaleDownDelay
		}
		for name, v := range ok.Env {
			if k.Env == nil {
				k.Env = map[string]string{}
			}
			k.Env[name] = v
		}
		if ok.HeaderRouting != nil {
			k.HeaderRouting = ok.HeaderRouting // whole, as for the local target
		}
		if ok.TrafficRouter != nil {
			k.TrafficRouter = ok.TrafficRouter
		}
	}
	return out
}

func setIf(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func durOr(d *Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return d.Duration
}

func ptr[T any](v T) *T { return &v }
