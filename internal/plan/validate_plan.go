package plan

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"

	"github.com/hugai-dev/hugai/internal/criteria"
)

// BuiltinTemplates are the analysis templates hugai ships, so the seed's plan runs as written.
var BuiltinTemplates = map[string]AnalysisTemplate{
	"success-rate": {Name: "success-rate", Metrics: []AnalysisMetric{{
		Name: "success-rate", SuccessCondition: "success_rate>=99%",
	}}},
	"error-rate": {Name: "error-rate", Metrics: []AnalysisMetric{{
		Name: "error-rate", SuccessCondition: "error_rate<1%",
	}}},
	"avg-response-time": {Name: "avg-response-time", Metrics: []AnalysisMetric{{
		Name: "avg-response-time", SuccessCondition: "latency_mean<1s",
	}}},
	"latency-p95": {Name: "latency-p95", Metrics: []AnalysisMetric{{
		Name: "latency-p95", SuccessCondition: "latency_p95<2s",
	}}},
}

// Template finds an analysis template by name: the plan's own first, then hugai's built-ins.
func (s *PlanSpec) Template(name string) (AnalysisTemplate, bool) {
	for _, t := range s.AnalysisTemplates {
		if t.Name == name {
			return t, true
		}
	}
	t, ok := BuiltinTemplates[name]
	return t, ok
}

// UnknownTemplates lists template references that name neither a built-in nor one of the plan's
// own; `validate` warns about them and `execute` refuses them.
func (s *PlanSpec) UnknownTemplates() []string {
	var unknown []string
	check := func(a *AnalysisRef) {
		if a == nil {
			return
		}
		for _, t := range a.Templates {
			if _, ok := s.Template(t.TemplateName); !ok && !slices.Contains(unknown, t.TemplateName) {
				unknown = append(unknown, t.TemplateName)
			}
		}
	}
	if c := s.Strategy.Canary; c != nil {
		check(c.Analysis)
		for _, st := range c.Steps {
			check(st.Analysis)
		}
	}
	return unknown
}

func (c *checker) templateNames(s *PlanSpec) []string {
	names := []string{}
	for n := range BuiltinTemplates {
		names = append(names, n)
	}
	for _, t := range s.AnalysisTemplates {
		names = append(names, t.Name)
	}
	slices.Sort(names)
	return names
}

func (p *DeploymentPlan) validate(c *checker) {
	c.header(p.APIVersion, p.Kind, KindDeploymentPlan)
	c.name("metadata.name", p.Metadata.Name, false)
	s := &p.Spec
	c.name("spec.service", s.Service, false)
	c.strategy("spec.strategy", &s.Strategy)
	c.criteria("spec.successCriteria", s.SuccessCriteria, nil)

	known := c.templateNames(s)
	seen := map[string]bool{}
	for i, t := range s.AnalysisTemplates {
		tp := fmt.Sprintf("spec.analysisTemplates[%d]", i)
		if t.Name == "" {
			c.errorf(tp+".name", "missing")
		} else if seen[t.Name] {
			c.errorf(tp+".name", "%q is defined twice", t.Name)
		}
		seen[t.Name] = true
		if len(t.Metrics) == 0 {
			c.errorf(tp+".metrics", "missing: a template judges at least one metric")
		}
		for j, m := range t.Metrics {
			c.analysisMetric(fmt.Sprintf("%s.metrics[%d]", tp, j), m)
		}
	}
	refs := func(path string, a *AnalysisRef) {
		if a == nil {
			return
		}
		if len(a.Templates) == 0 {
			c.errorf(path+".templates", "missing: name at least one analysis template")
		}
		for i, t := range a.Templates {
			tp := fmt.Sprintf("%s.templates[%d].templateName", path, i)
			if t.TemplateName == "" {
				c.errorf(tp, "missing")
			} else if !slices.Contains(known, t.TemplateName) {
				msg := fmt.Sprintf("unknown analysis template %q (known: %v)", t.TemplateName, known)
				if m := didYouMean(t.TemplateName, known); m != "" {
					msg = fmt.Sprintf("unknown analysis template %q (did you mean %q?)", t.TemplateName, m)
				}
				c.warnf(tp, "%s", msg)
			}
		}
	}
	if cn := s.Strategy.Canary; cn != nil {
		refs("spec.strategy.canary.analysis", cn.Analysis)
		for i, st := range cn.Steps {
			refs(fmt.Sprintf("spec.strategy.canary.steps[%d].analysis", i), st.Analysis)
		}
	}

	if g := s.Governance; g != nil {
		for i, a := range g.Approvals {
			ap := fmt.Sprintf("spec.governance.approvals[%d]", i)
			if a.Name == "" {
				c.errorf(ap+".name", "missing")
			}
			if a.Count < 0 {
				c.errorf(ap+".count", "must not be negative")
			}
			c.positive(ap+".timeout", a.Timeout)
		}
		for i, cp := range g.Checkpoints {
			if cp.Name == "" {
				c.errorf(fmt.Sprintf("spec.governance.checkpoints[%d].name", i), "missing")
			}
		}
	}
	c.rollback("spec.rollback", s.Rollback)
	c.monitoring("spec.monitoring", s.Monitoring)
	if r := s.Risk; r != nil {
		if r.Score < 0 || r.Score > 100 {
			c.errorf("spec.risk.score", "%d is not within 0..100", r.Score)
		}
		c.oneOf("spec.risk.level", r.Level, Levels)
	}
}

func (c *checker) strategy(p string, st *Strategy) {
	if st.Type == "" {
		c.errorf(p+".type", "missing; want one of canary, blueGreen, rolling, recreate")
		return
	}
	typ := NormalizeStrategy(st.Type)
	if typ == "" {
		c.oneOf(p+".type", st.Type, []string{StrategyCanary, StrategyBlueGreen, "blue-green", StrategyRolling, StrategyRecreate})
		return
	}
	blocks := map[string]bool{
		StrategyCanary: st.Canary != nil, StrategyBlueGreen: st.BlueGreen != nil,
		StrategyRolling: st.Rolling != nil, StrategyRecreate: st.Recreate != nil,
	}
	for _, name := range Strategies {
		if blocks[name] && name != typ {
			c.errorf(p+"."+name, "set, but the strategy type is %s", typ)
		}
	}
	if cn := st.Canary; cn != nil {
		for i, step := range cn.Steps {
			c.canaryStep(fmt.Sprintf("%s.canary.steps[%d]", p, i), step)
		}
		if cn.ScaleDownDelaySeconds < 0 {
			c.errorf(p+".canary.scaleDownDelaySeconds", "must not be negative")
		}
		c.positive(p+".canary.progressDeadline", cn.ProgressDeadline)
	}
	if bg := st.BlueGreen; bg != nil {
		bp := p + ".blueGreen"
		if bg.Switch != "" {
			c.oneOf(bp+".switch", bg.Switch, []string{SwitchInstant, SwitchGradual})
		}
		last := 0
		for i, w := range bg.SwitchSteps {
			sp := fmt.Sprintf("%s.switchSteps[%d]", bp, i)
			switch {
			case w < 1 || w > 100:
				c.errorf(sp, "%d is not within 1..100", w)
			case w <= last:
				c.errorf(sp, "%d: switch steps must increase", w)
			}
			last = w
		}
	}
	if rl := st.Rolling; rl != nil {
		if rl.MaxSurge != nil && rl.MaxUnavailable != nil && rl.MaxSurge.Value == 0 && rl.MaxUnavailable.Value == 0 {
			c.errorf(p+".rolling", "maxSurge and maxUnavailable cannot both be 0: no replica could ever be replaced")
		}
	}
}

func (c *checker) canaryStep(p string, st CanaryStep) {
	actions := 0
	for _, set := range []bool{st.SetWeight != nil, st.Pause != nil, st.Analysis != nil, st.Approval != nil} {
		if set {
			actions++
		}
	}
	combined := actions == 2 && st.SetWeight != nil && st.Pause != nil
	switch {
	case actions == 0:
		c.errorf(p, "empty step: want one of setWeight, pause, analysis, approval")
	case actions > 1 && !combined:
		c.errorf(p, "a step does one thing (setWeight, pause, analysis or approval); only setWeight may carry its pause")
	}
	if w := st.SetWeight; w != nil && (*w < 0 || *w > 100) {
		c.errorf(p+".setWeight", "%d is not within 0..100", *w)
	}
	if a := st.Approval; a != nil {
		if a.Count < 0 {
			c.errorf(p+".approval.count", "must not be negative")
		}
		c.positive(p+".approval.timeout", a.Timeout)
	}
}

func (c *checker) analysisMetric(p string, m AnalysisMetric) {
	if m.Name == "" {
		c.errorf(p+".name", "missing")
	}
	if m.SuccessCondition == "" {
		c.errorf(p+".successCondition", "missing: e.g. error_rate<1%%")
	} else {
		c.criteria(p+".successCondition", m.SuccessCondition, nil)
	}
	c.positive(p+".interval", m.Interval)
	for f, v := range map[string]int{"count": m.Count, "minimumSamples": m.MinimumSamples} {
		if v < 0 {
			c.errorf(p+"."+f, "must not be negative")
		}
	}
	for f, v := range map[string]*int{"failureLimit": m.FailureLimit, "consecutiveErrorLimit": m.ConsecutiveErrorLimit, "inconclusiveLimit": m.InconclusiveLimit} {
		if v != nil && *v < 0 {
			c.errorf(p+"."+f, "must not be negative")
		}
	}
	if m.Provider != "" {
		c.oneOf(p+".provider", m.Provider, []string{ProviderBuiltin, ProviderPrometheus, ProviderWeb})
	}
}

// VerifyChecks are what a rollback's verification step may run.
var VerifyChecks = []string{"health_check", "smoke_test"}

// Comparisons a custom metric trigger may use.
var Comparisons = []string{"less_than", "less_than_or_equal", "greater_than", "greater_than_or_equal", "equal", "not_equal"}

func (c *checker) rollback(p string, r *Rollback) {
	if r == nil {
		return
	}
	for i, t := range r.Triggers {
		tp := fmt.Sprintf("%s.triggers[%d]", p, i)
		set := 0
		if t.ErrorRateThreshold != nil {
			set++
			if v := *t.ErrorRateThreshold; v < 0 || v > 100 {
				c.errorf(tp+".errorRateThreshold", "%v is not a percentage within 0..100", v)
			}
		}
		if t.LatencyThreshold != nil {
			set++
			c.positive(tp+".latencyThreshold", t.LatencyThreshold)
		}
		if m := t.CustomMetricThreshold; m != nil {
			set++
			mp := tp + ".customMetricThreshold"
			if m.Metric == "" {
				c.errorf(mp+".metric", "missing")
			}
			if c.oneOf(mp+".comparison", m.Comparison, Comparisons) && m.Metric != "" {
				if _, err := criteria.Trigger(m.Metric, m.Comparison, fmt.Sprint(m.Threshold)); err != nil {
					c.errorf(mp, "%v", err)
				}
			}
		}
		if set != 1 {
			c.errorf(tp, "set exactly one of errorRateThreshold, latencyThreshold, customMetricThreshold")
		}
	}
	actions := []string{ActionRedirectTraffic, ActionDeployPrevious, ActionDatabaseMigration, ActionVerify}
	for i, st := range r.Steps {
		sp := fmt.Sprintf("%s.steps[%d]", p, i)
		if st.Name == "" {
			c.errorf(sp+".name", "missing")
		}
		c.oneOf(sp+".action", st.Action, actions)
		c.positive(sp+".maxDuration", st.MaxDuration)
		if st.Target != "" && st.Target != "previous" {
			c.errorf(sp+".target", "%q: a rollback goes to the previous release (write previous, or leave it out)", st.Target)
		}
		for j, check := range st.Checks {
			if c.oneOf(fmt.Sprintf("%s.checks[%d]", sp, j), check, VerifyChecks) && st.Action != ActionVerify {
				c.errorf(fmt.Sprintf("%s.checks[%d]", sp, j), "checks are run by the %s step", ActionVerify)
			}
		}
	}
}

func (c *checker) monitoring(p string, m *Monitoring) {
	if m == nil {
		return
	}
	if m.Duration != nil && m.Duration.Duration < 0 {
		c.errorf(p+".duration", "must not be negative")
	}
	c.healthChecks(p+".healthChecks", m.HealthChecks)
}

func (d *HugAIDeployment) validate(c *checker) {
	c.header(d.APIVersion, d.Kind, KindHugAIDeployment)
	c.name("metadata.name", d.Metadata.Name, false)
	s := &d.Spec
	if s.PlanRef != nil {
		d.validatePlanRef(c)
		return
	}
	c.strategy("spec.strategy", &s.Strategy)
	if r := s.Rollout; r != nil {
		if t := NormalizeStrategy(s.Strategy.Type); t != "" && t != StrategyCanary && len(r.Steps) > 0 {
			c.errorf("spec.rollout.steps", "weights step a canary, but the strategy type is %s", t)
		}
		for i, st := range r.Steps {
			if st.Weight < 0 || st.Weight > 100 {
				c.errorf(fmt.Sprintf("spec.rollout.steps[%d].weight", i), "%d is not within 0..100", st.Weight)
			}
		}
	}
	c.rollback("spec.rollback", s.Rollback)
	c.monitoring("spec.monitoring", s.Monitoring)
}

// objectName is a Kubernetes object name (a DNS subdomain), as a DeploymentPlan's must be.
var objectName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// validatePlanRef checks a HugAIDeployment that runs a DeploymentPlan: the plan says how, so the
// object says only what; a strategy, rollout, monitoring or rollback of its own beside planRef
// would be one of two answers to the same question, and is refused rather than one of them ignored.
// The plan itself is in the cluster: the operator checks it (and that its service, version and
// environment agree with these) when it starts the rollout.
func (d *HugAIDeployment) validatePlanRef(c *checker) {
	s := &d.Spec
	switch n := s.PlanRef.Name; {
	case n == "":
		c.errorf("spec.planRef.name", "missing: the name of a DeploymentPlan in the HugAIDeployment's namespace")
	case len(n) > 253 || !objectName.MatchString(n):
		c.errorf("spec.planRef.name", "%q is not a Kubernetes object name (lowercase letters, digits, '-' and '.', at most 253)", n)
	}
	const why = "set with spec.planRef: the DeploymentPlan %s supplies it; leave it out here (or drop planRef)"
	if !reflect.ValueOf(s.Strategy).IsZero() {
		c.errorf("spec.strategy", why, s.PlanRef.Name)
	}
	if s.Rollout != nil {
		c.errorf("spec.rollout", why, s.PlanRef.Name)
	}
	if s.Monitoring != nil {
		c.errorf("spec.monitoring", why, s.PlanRef.Name)
	}
	if s.Rollback != nil {
		c.errorf("spec.rollback", why, s.PlanRef.Name)
	}
}
