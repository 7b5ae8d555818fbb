// Package rollout is the pure state machine of a rollout: Step(spec, state, observation, now)
// returns the next state and the audit events of the transition; Desired(spec, state) says which
// versions must run and which share of traffic each gets. It has no I/O, no goroutines and no clock,
// so a forty-minute canary runs in a test in milliseconds, and a crash at any point is recovered by
// stepping the persisted state again.
package rollout

import (
	"fmt"
	"slices"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/policy"
)

// StepKind is what one step does.
type StepKind string

const (
	KindSetWeight StepKind = "setWeight"
	KindPause     StepKind = "pause"
	KindAnalysis  StepKind = "analysis"
	KindApproval  StepKind = "approval"
	// KindSmokeTest asks the engine to run the service's smoke test against the candidate, once
	// it is ready, and waits for the result.
	KindSmokeTest StepKind = "smokeTest"
)

// Gate is an approval: who may give it, how many are needed, and for how long it waits.
type Gate struct {
	Name      string        `json:"name"`
	Approvers []string      `json:"approvers,omitempty"`
	Count     int           `json:"count"`
	Timeout   time.Duration `json:"timeout"`
	// Role is the role an approval needs (a checkpoint's policy.checkpointRoles; none: approver).
	Role policy.Role `json:"role,omitempty"`
}

// StepSpec is one compiled step: the plan's combined `setWeight` + `pause` form is split in two.
type StepSpec struct {
	Kind   StepKind `json:"kind"`
	Weight int      `json:"weight,omitempty"`
	// Duration of a pause; Indefinite pauses wait for a person.
	Duration   time.Duration `json:"duration,omitempty"`
	Indefinite bool          `json:"indefinite,omitempty"`
	// Reason is recorded when an indefinite pause stops the rollout (default "pause").
	Reason string `json:"reason,omitempty"`
	// Criteria and Windows of an analysis step: the templates' conditions, judged on Windows
	// consecutive analysis windows.
	Criteria []criteria.Condition `json:"criteria,omitempty"`
	Windows  int                  `json:"windows,omitempty"`
	// Limits of an analysis step: its templates' failureLimit, consecutiveErrorLimit and
	// inconclusiveLimit (the strictest of its metrics).
	Limits *analysis.Limits `json:"limits,omitempty"`
	Gate   *Gate            `json:"gate,omitempty"`
}

// Describe is the step for people.
func (s StepSpec) Describe() string {
	switch s.Kind {
	case KindSetWeight:
		return fmt.Sprintf("setWeight %d%%", s.Weight)
	case KindPause:
		if s.Indefinite {
			return "pause until promoted"
		}
		return fmt.Sprintf("pause %s", plan.D(s.Duration))
	case KindAnalysis:
		return fmt.Sprintf("analysis %s ×%d", criteria.Format(s.Criteria), s.Windows)
	case KindApproval:
		return fmt.Sprintf("approval (%d of %v)", s.Gate.Count, approversText(s.Gate.Approvers))
	case KindSmokeTest:
		return "smoke test"
	}
	return string(s.Kind)
}

func approversText(a []string) any {
	if len(a) == 0 {
		return "any approver"
	}
	return a
}

// Spec is a rollout's frozen plan, compiled for the state machine.
type Spec struct {
	Strategy string     `json:"strategy"`
	Steps    []StepSpec `json:"steps"`
	Replicas int        `json:"replicas"`
	// Criteria are judged on every analysis window while the candidate takes traffic.
	Criteria       []criteria.Condition `json:"criteria"`
	Interval       time.Duration        `json:"interval"`
	MinimumSamples uint64               `json:"minimumSamples"`
	Limits         analysis.Limits      `json:"limits"`
	// Alpha is the level at which a rate criterion (error_rate below a limit) is failed: only once
	// it is beyond its limit by an always-valid test (analysis.Rules).
	Alpha float64 `json:"alpha"`
	// Sequential, when set, compares the candidate with the baseline over the same seconds
	// (analysis.EvaluateErrors and EvaluateLatency, each at Alpha/2) beside the criteria.
	Sequential *analysis.Config `json:"sequential,omitempty"`
	// EarlyPromotion ends an analysis step early once the comparison rules out a regression of
	// Sequential.MaxRegression and the criteria passed. It never shortens a pause.
	EarlyPromotion   bool          `json:"earlyPromotion,omitempty"`
	ProgressDeadline time.Duration `json:"progressDeadline"`
	AutoRollback     bool          `json:"autoRollback"`
	// Gates are approvals needed before anything starts.
	Gates []Gate `json:"gates,omitempty"`
	// Settle is how long after a window ends it is measured: the metric source records a second
	// once it is over, and a slow request's latency once it is answered.
	Settle time.Duration `json:"settle,omitempty"`

	// MonitorDuration is the watch after promotion (phase Verifying): the new version serves all
	// traffic while windows are still judged and Triggers are armed. 0: no watch.
	MonitorDuration time.Duration `json:"monitorDuration,omitempty"`
	// Triggers fire a rollback when their condition HOLDS on a window with enough samples. They are
	// measured with the criteria on every window (Due), from the first window to the end of the watch.
	Triggers []criteria.Condition `json:"triggers,omitempty"`
	// HoldTimeout (recreate) is how long the proxy holds a request while no version is ready.
	HoldTimeout time.Duration `json:"holdTimeout,omitempty"`
	// SmokeTest (blue-green) runs the service's smoke test against green before any switch.
	SmokeTest bool `json:"smokeTest,omitempty"`
	// ScaleDownDelay (blue-green) keeps blue running, at weight 0, that long after the validation
	// period, so a switch back is instant; the watch lasts max(MonitorDuration, ScaleDownDelay).
	ScaleDownDelay time.Duration `json:"scaleDownDelay,omitempty"`
	// MaxSurge and MaxUnavailable (rolling) bound a batch: at most Replicas+MaxSurge replicas run, at
	// least Replicas-MaxUnavailable are ready.
	MaxSurge       int `json:"maxSurge,omitempty"`
	MaxUnavailable int `json:"maxUnavailable,omitempty"`

	// The rollback manager (rollback.go): the ordered steps, whether the service can roll its
	// database back, who approves that, and whether verification runs the smoke test.
	RollbackSteps    []RollbackStepSpec `json:"rollbackSteps,omitempty"`
	DatabaseRollback bool               `json:"databaseRollback,omitempty"`
	RollbackGate     Gate               `json:"rollbackGate"`
	VerifySmoke      bool               `json:"verifySmoke,omitempty"`

	// Runs are commands run after the start gates and before anything is deployed (checkpoints.go).
	Runs []RunSpec `json:"runs,omitempty"`
	// Checkpoints are the plan's checkpoints and how each is honoured, for people and the audit.
	Checkpoints []CheckpointSpec `json:"checkpoints,omitempty"`
	// SmokeInWatch runs the smoke test against the new version once it serves all traffic
	// (rolling, recreate: they have no preview before it): a failure rolls back.
	SmokeInWatch bool `json:"smokeInWatch,omitempty"`
	// FourEyes: whoever started the rollout may not approve its gates (policy.fourEyes, on by
	// default where the environment names approvers); FourEyesWhy says which, for people.
	FourEyes    bool   `json:"fourEyes,omitempty"`
	FourEyesWhy string `json:"fourEyesWhy,omitempty"`
	// Policy is the environment's governance as it was when the rollout started: who holds which
	// role, the quorum, how long an approval counts. Frozen with the plan, so a rollout is judged
	// by the rules it started under. A spec stored before roles has the zero (open) rules.
	Policy policy.Rules `json:"policy"`
	// Overrides are the flags that overrode the plan, said in the live view.
	Overrides []string `json:"overrides,omitempty"`
	// AlertsOff (monitoring.alerting.enabled: false) tells no channel about this rollout;
	// AlertChannels (monitoring.alerting.channels) names the service file's channels told, by
	// name or else type (none named: all of them).
	AlertsOff     bool     `json:"alertsOff,omitempty"`
	AlertChannels []string `json:"alertChannels,omitempty"`
	// Monitors (monitoring.metrics) are measured on every window beside the criteria and shown;
	// they judge nothing (the criteria and triggers do).
	Monitors []string `json:"monitors,omitempty"`
}

// DefaultSettle is the wait before a window is judged.
const DefaultSettle = time.Second

// Options are what the caller adds to a plan: the service file, the environment's settings and
// the flags. A flag overrides the plan only when the user set it to turn something off; a flag
// left at its default, or one that confirms the default (--auto-rollback-on-failure,
// --monitor-health), never does.
type Options struct {
	Service *plan.Service
	Env     *plan.Env
	// NoAutoRollback: --no-auto-rollback (or --auto-rollback-on-failure=false) was given.
	NoAutoRollback bool
	// NoMonitoring: --monitor-health=false was given.
	NoMonitoring    bool
	RequireApproval bool
}

// Compile turns a validated plan into a Spec. Unknown analysis templates are refused here: a plan
// may name them (validate warns), but a rollout cannot run them.
func Compile(p *plan.DeploymentPlan, o Options) (Spec, error) {
	env := o.Env
	s := Spec{
		Strategy:         plan.NormalizeStrategy(p.Spec.Strategy.Type),
		Replicas:         plan.DefaultReplicas,
		Interval:         env.AnalysisInterval,
		MinimumSamples:   uint64(env.MinimumSamples),
		Limits:           analysis.DefaultLimits(),
		ProgressDeadline: env.ProgressDeadline,
		AutoRollback:     true,
		Settle:           DefaultSettle,
	}
	svc := o.Service
	if svc == nil {
		svc = &plan.Service{}
	}
	if rb := p.Spec.Rollback; rb != nil && rb.Automatic != nil && !*rb.Automatic {
		s.AutoRollback = false
	}
	if o.NoAutoRollback {
		if s.AutoRollback {
			s.Overrides = append(s.Overrides, "--no-auto-rollback: a failed analysis pauses for a person (the plan rolls back by itself)")
		}
		s.AutoRollback = false
	}
	s.Alpha = env.Analysis.Alpha
	switch env.Method {
	case "", plan.MethodThreshold:
	case plan.MethodSequential:
		cfg := env.Analysis
		if err := cfg.Validate(); err != nil {
			return Spec{}, err
		}
		s.Sequential = &cfg
		s.EarlyPromotion = env.EarlyPromotion
	default:
		return Spec{}, fmt.Errorf("analysis method %q is unknown (threshold, sequential)", env.Method)
	}
	if k := env.Target.Kubernetes; env.Target.Type == plan.TargetKubernetes && k != nil {
		s.Replicas = k.Replicas
	} else if env.Target.Local != nil {
		s.Replicas = env.Target.Local.Replicas
	}
	if unknown := p.Spec.UnknownTemplates(); len(unknown) > 0 {
		return Spec{}, fmt.Errorf("unknown analysis template(s) %v: define them in spec.analysisTemplates or use a built-in (success-rate, error-rate, avg-response-time, latency-p95)", unknown)
	}
	crit := p.Spec.SuccessCriteria
	if crit == "" {
		crit = env.SuccessCriteria
	}
	conds, err := criteria.Parse(crit, criteria.WithMetrics(svc.MetricNames()...))
	if err != nil {
		return Spec{}, fmt.Errorf("success criteria %q: %w", crit, err)
	}
	s.Criteria = conds

	approvalTimeout := plan.DefaultApprovalTimeout
	if env.Policy.ApprovalTimeout != nil {
		approvalTimeout = env.Policy.ApprovalTimeout.Duration
	}
	if g := p.Spec.Governance; g != nil {
		for _, a := range g.Approvals {
			if !a.Required {
				continue
			}
			approvers := a.Approvers
			if len(approvers) == 0 {
				approvers = env.Policy.Approvers
			}
			s.Gates = append(s.Gates, gateOf(a.Name, approvers, a.Count, a.Timeout, approvalTimeout))
		}
	}
	if g := p.Spec.Strategy.Governance; g != nil && g.ApprovalRequired && len(s.Gates) == 0 {
		s.Gates = append(s.Gates, gateOf(env.Name+"-approval", env.Policy.Approvers, env.Policy.ApprovalsRequired, nil, approvalTimeout))
	}
	if o.RequireApproval && len(s.Gates) == 0 {
		s.Gates = append(s.Gates, gateOf(env.Name+"-approval", env.Policy.Approvers, env.Policy.ApprovalsRequired, nil, approvalTimeout))
	}
	s.FourEyes, s.FourEyesWhy = env.Policy.FourEyesOn(env.Name)
	if s.Policy, err = env.Policy.Rules(env.Name); err != nil {
		return Spec{}, err
	}
	if m := p.Spec.Monitoring; m != nil && m.Alerting != nil {
		s.AlertsOff = m.Alerting.Enabled != nil && !*m.Alerting.Enabled
		s.AlertChannels = m.Alerting.Channels
		for _, ch := range m.Alerting.Channels {
			if len(svc.Channels(ch)) == 0 {
				return Spec{}, fmt.Errorf("alerting channel %q names no notification of the service file", ch)
			}
		}
	}

	if err := s.compileWatch(p, env); err != nil {
		return Spec{}, err
	}
	if m := p.Spec.Monitoring; m != nil && (m.Enabled == nil || *m.Enabled) && !o.NoMonitoring {
		declared := svc.MetricNames()
		for _, name := range m.Metrics {
			if !slices.Contains(declared, name) {
				name = criteria.Canonical(name)
			}
			if !slices.Contains(s.Monitors, name) {
				s.Monitors = append(s.Monitors, name)
			}
		}
	}
	if o.NoMonitoring && s.MonitorDuration > 0 {
		s.Overrides = append(s.Overrides, fmt.Sprintf("--monitor-health=false: no watch after promotion (the plan watches for %s); the new version is still judged once at full traffic", plan.D(s.MonitorDuration)))
		s.MonitorDuration = 0
	}
	switch s.Strategy {
	case plan.StrategyCanary:
		err = s.compileCanary(p, approvalTimeout, env, svc.MetricNames())
	case plan.StrategyRecreate:
		err = s.compileRecreate(p)
	case plan.StrategyBlueGreen:
		err = s.compileBlueGreen(p, len(svc.Spec.SmokeTest) > 0)
	case plan.StrategyRolling:
		err = s.compileRolling(p)
	default:
		err = fmt.Errorf("unknown strategy %q (known: %v)", p.Spec.Strategy.Type, plan.Strategies)
	}
	if err != nil {
		return Spec{}, err
	}
	s.compileRollback(p, env, svc.Spec.Database != nil && len(svc.Spec.Database.Rollback) > 0)
	s.VerifySmoke = len(svc.Spec.SmokeTest) > 0 && verifyRunsSmoke(p)
	if err := s.compileCheckpoints(p, svc, env, approvalTimeout); err != nil {
		return Spec{}, err
	}
	return s, nil
}

func gateOf(name string, approvers []string, count int, timeout *plan.Duration, def time.Duration) Gate {
	g := Gate{Name: name, Approvers: approvers, Count: max(count, 1), Timeout: def}
	if timeout != nil {
		g.Timeout = timeout.Duration
	}
	return g
}

func (s *Spec) compileCanary(p *plan.DeploymentPlan, approvalTimeout time.Duration, env *plan.Env, metrics []string) error {
	c := p.Spec.Strategy.Canary
	if c != nil && c.ProgressDeadline != nil {
		s.ProgressDeadline = c.ProgressDeadline.Duration
	}
	if c != nil && c.ScaleDownDelaySeconds > 0 {
		// The stable version is kept, out of rotation, that long after promotion: the watch
		// lasts at least as long, so a rollback within it is a routing change.
		s.ScaleDownDelay = time.Duration(c.ScaleDownDelaySeconds) * time.Second
	}
	var steps []plan.CanaryStep
	if c != nil {
		steps = c.Steps
	}
	if c != nil && c.Analysis != nil {
		conds, err := s.templateConditions(p, c.Analysis, metrics)
		if err != nil {
			return err
		}
		s.Criteria = append(s.Criteria, conds...)
		s.Limits = templateLimits(p, c.Analysis)
	}
	for i, st := range steps {
		if st.SetWeight != nil {
			s.Steps = append(s.Steps, StepSpec{Kind: KindSetWeight, Weight: *st.SetWeight})
		}
		if st.Pause != nil {
			ps := StepSpec{Kind: KindPause, Indefinite: st.Pause.Duration == nil}
			if st.Pause.Duration != nil {
				ps.Duration = st.Pause.Duration.Duration.Duration
			}
			s.Steps = append(s.Steps, ps)
		}
		if st.Analysis != nil {
			conds, err := s.templateConditions(p, st.Analysis, metrics)
			if err != nil {
				return fmt.Errorf("step %d: %w", i, err)
			}
			windows := 1
			for _, ref := range st.Analysis.Templates {
				t, _ := p.Spec.Template(ref.TemplateName)
				for _, m := range t.Metrics {
					windows = max(windows, m.Count)
				}
			}
			lim := templateLimits(p, st.Analysis)
			s.Steps = append(s.Steps, StepSpec{Kind: KindAnalysis, Criteria: conds, Windows: windows, Limits: &lim})
		}
		if a := st.Approval; a != nil {
			approvers := a.Approvers
			if len(approvers) == 0 {
				approvers = env.Policy.Approvers
			}
			g := gateOf(fmt.Sprintf("step-%d-approval", i), approvers, a.Count, a.Timeout, approvalTimeout)
			s.Steps = append(s.Steps, StepSpec{Kind: KindApproval, Gate: &g})
		}
	}
	// A canary always ends with all traffic on the new version.
	if n := len(s.Steps); n == 0 || !(s.Steps[n-1].Kind == KindSetWeight && s.Steps[n-1].Weight == 100) {
		s.Steps = append(s.Steps, StepSpec{Kind: KindSetWeight, Weight: 100})
	}
	return nil
}

// templateLimits are the limits of the templates ref names: each metric's own (Argo's defaults
// where it sets none), the strictest of them, since the templates' metrics are judged together.
func templateLimits(p *plan.DeploymentPlan, ref *plan.AnalysisRef) analysis.Limits {
	var out *analysis.Limits
	for _, r := range ref.Templates {
		t, _ := p.Spec.Template(r.TemplateName)
		for _, m := range t.Metrics {
			l := analysis.LimitsFrom(m.FailureLimit, m.ConsecutiveErrorLimit, m.InconclusiveLimit)
			if out == nil {
				out = &l
				continue
			}
			out.FailureLimit = stricter(out.FailureLimit, l.FailureLimit)
			out.ConsecutiveErrorLimit = stricter(out.ConsecutiveErrorLimit, l.ConsecutiveErrorLimit)
			if l.InconclusiveLimit > 0 && (out.InconclusiveLimit <= 0 || l.InconclusiveLimit < out.InconclusiveLimit) {
				out.InconclusiveLimit = l.InconclusiveLimit
			}
		}
	}
	if out == nil {
		return analysis.DefaultLimits()
	}
	return *out
}

// stricter of two failure limits, where a negative one never fails.
func stricter(a, b int) int {
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	}
	return min(a, b)
}

func (s *Spec) templateConditions(p *plan.DeploymentPlan, ref *plan.AnalysisRef, metrics []string) ([]criteria.Condition, error) {
	var out []criteria.Condition
	for _, r := range ref.Templates {
		t, ok := p.Spec.Template(r.TemplateName)
		if !ok {
			return nil, fmt.Errorf("unknown analysis template %q", r.TemplateName)
		}
		for _, m := range t.Metrics {
			conds, err := criteria.Parse(m.SuccessCondition, criteria.WithMetrics(append(slices.Clone(metrics), m.Name)...))
			if err != nil {
				return nil, fmt.Errorf("template %s metric %s: %w", t.Name, m.Name, err)
			}
			out = append(out, conds...)
		}
	}
	return out, nil
}

// verifyRunsSmoke reports whether the plan's verification runs the smoke test: it does unless the
// verify step lists its checks without smoke_test.
func verifyRunsSmoke(p *plan.DeploymentPlan) bool {
	if r := p.Spec.Rollback; r != nil {
		for _, st := range r.Steps {
			if st.Action == plan.ActionVerify && len(st.Checks) > 0 {
				return slices.Contains(st.Checks, "smoke_test")
			}
		}
	}
	return true
}
