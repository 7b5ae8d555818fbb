// Package argo writes a DeploymentPlan as Argo Rollouts objects: a Rollout that takes its pods
// from the service's Deployment and the AnalysisTemplates its steps use, for teams that run Argo's
// controller rather than hugai's engine. What Argo cannot express is refused with the plan's or
// the service file's file:line:field, never dropped (docs/kubernetes.md, "Export to Argo Rollouts").
package argo

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/plan"
)

// Input is a parsed plan and the service file it runs against, with the positions their errors cite.
type Input struct {
	PlanFile    string
	PlanPos     plan.Positions
	Plan        *plan.DeploymentPlan
	ServiceFile string
	ServicePos  plan.Positions
	Service     *plan.Service
	// Judge, when set, names hugai's own AnalysisTemplate (config/argo/hugai-analysis.yaml,
	// hugai-analysis): every analysis of a canary also asks it for hugai's sequential verdict on
	// the canary's pod-template hash against the stable one's. It is shipped, not exported.
	Judge string
}

// Result is the exported objects, and what was translated into something weaker than hugai
// does (approvals became indefinite pauses), for the user to read before applying.
type Result struct {
	Rollout   Rollout
	Templates []AnalysisTemplate
	Notes     []string
}

// SecretName is the Secret the exported templates read ${VAR} values of the service file from.
func SecretName(service string) string { return service + "-analysis" }

// CriteriaTemplate names the template made of the plan's success criteria and rollback triggers.
func CriteriaTemplate(service string) string { return service + "-success-criteria" }

type exporter struct {
	in    Input
	env   *plan.Env
	k     *plan.KubernetesTarget
	errs  plan.Errors
	notes []string
	// templates made so far, by name, in the order the Rollout first uses them.
	templates []AnalysisTemplate
}

func (e *exporter) planErr(path, format string, a ...any) {
	e.errs = append(e.errs, &plan.FieldError{File: e.in.PlanFile, Line: e.in.PlanPos.Line(path), Path: path, Msg: fmt.Sprintf(format, a...)})
}

func (e *exporter) svcErr(path, format string, a ...any) {
	e.errs = append(e.errs, &plan.FieldError{File: e.in.ServiceFile, Line: e.in.ServicePos.Line(path), Path: path, Msg: fmt.Sprintf(format, a...)})
}

// Export translates in into Argo Rollouts objects. The error is a plan.Errors naming every part
// of the plan or service file that has no Argo equivalent.
func Export(in Input) (*Result, error) {
	e := &exporter{in: in}
	s := &in.Plan.Spec
	env, err := in.Service.Env(s.Environment)
	if err != nil {
		e.planErr("spec.environment", "%v", err)
		return nil, e.errs
	}
	e.env = env
	if env.Target.Type != plan.TargetKubernetes || env.Target.Kubernetes == nil || env.Target.Kubernetes.Deployment == "" {
		e.svcErr("spec.target.type", "%s: an Argo Rollout takes its pods from the service's Deployment (workloadRef): export needs target.type kubernetes with target.kubernetes.deployment", orNone(env.Target.Type))
		return nil, e.errs
	}
	e.k = env.Target.Kubernetes
	if s.Version == "" {
		e.planErr("spec.version", "missing: set it or pass --version; the exported analysis measures the version the plan deploys (hugai's {{.Version}})")
	}
	if r := s.Rollback; r != nil && r.Automatic != nil && !*r.Automatic {
		e.planErr("spec.rollback.automatic", "false: Argo Rollouts always aborts a rollout whose analysis fails; it has no rollout that stays on a failed version")
	}
	name := in.Service.Metadata.Name
	ro := Rollout{
		APIVersion: APIVersion,
		Kind:       "Rollout",
		Metadata: Metadata{
			Name:        name,
			Namespace:   e.k.Namespace,
			Labels:      map[string]string{"app.kubernetes.io/managed-by": "hugai-export", "hugai.io/service": name},
			Annotations: map[string]string{"hugai.io/version": s.Version},
		},
		Spec: RolloutSpec{
			Replicas:    ptr(int32(max(e.k.Replicas, 1))),
			WorkloadRef: &WorkloadRef{APIVersion: "apps/v1", Kind: "Deployment", Name: e.k.Deployment},
		},
	}
	if env.ProgressDeadline > 0 {
		ro.Spec.ProgressDeadlineSeconds = ptr(seconds(env.ProgressDeadline))
	}
	if cn := s.Strategy.Canary; cn != nil && cn.ProgressDeadline != nil {
		ro.Spec.ProgressDeadlineSeconds = ptr(seconds(cn.ProgressDeadline.Duration))
	}
	switch strategy := plan.NormalizeStrategy(s.Strategy.Type); strategy {
	case plan.StrategyCanary:
		ro.Spec.Strategy.Canary = e.canary()
	case plan.StrategyRolling:
		ro.Spec.Strategy.Canary = e.rolling()
	case plan.StrategyBlueGreen:
		ro.Spec.Strategy.BlueGreen = e.blueGreen()
	case plan.StrategyRecreate:
		e.planErr("spec.strategy.type", "recreate has no Argo Rollouts equivalent (a Rollout is canary or blueGreen; Argo leaves recreate to a Deployment's own strategy): plan canary, blueGreen or rolling to export")
	default:
		e.planErr("spec.strategy.type", "%q: want canary, blueGreen or rolling", s.Strategy.Type)
	}
	e.judge()
	e.unexported()
	if len(e.errs) > 0 {
		return nil, e.errs
	}
	return &Result{Rollout: ro, Templates: e.templates, Notes: e.notes}, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// args are what every analysis of the Rollout passes its templates: the service, the version the
// plan deploys, its environment.
func (e *exporter) args() []Arg {
	s := &e.in.Plan.Spec
	return []Arg{
		{Name: ArgService, Value: ptr(e.in.Service.Metadata.Name)},
		{Name: ArgVersion, Value: ptr(s.Version)},
		{Name: ArgEnvironment, Value: ptr(s.Environment)},
	}
}

// trafficRouting is the Gateway API plugin's configuration or Argo's Istio router's, or nil for a
// replica-based canary.
func (e *exporter) trafficRouting(c *Canary) {
	tr := e.k.TrafficRouter
	if tr == nil || tr.GatewayAPI == nil && tr.Istio == nil {
		return
	}
	svc := e.k.Service
	c.StableService, c.CanaryService = svc+"-stable", svc+"-canary"
	if tr.Istio != nil {
		c.TrafficRouting = &TrafficRouting{Istio: &IstioTrafficRouting{VirtualService: &IstioVirtualService{
			Name: tr.Istio.VirtualService, Routes: slices.Clone(tr.Istio.Routes),
		}}}
		routes := "its only http route"
		if len(tr.Istio.Routes) > 0 {
			routes = "http routes " + strings.Join(tr.Istio.Routes, ", ")
		}
		e.note("traffic: Argo sets the weights of VirtualService %s (%s) between Services %s and %s; create both as copies of Service %s (Argo points their selectors at each version's pods) and give each of those routes both as destinations: Argo changes weights, never destinations (hugai writes them itself)", tr.Istio.VirtualService, routes, c.StableService, c.CanaryService, svc)
		return
	}
	c.TrafficRouting = &TrafficRouting{Plugins: map[string]GatewayAPIPlugin{
		GatewayAPIPluginName: {HTTPRoute: tr.GatewayAPI.HTTPRoute, Namespace: e.k.Namespace},
	}}
	e.note("traffic: Argo's Gateway API plugin sets the weights of HTTPRoute %s between Services %s and %s; create both as copies of Service %s (Argo points their selectors at each version's pods), and register the plugin in argo-rollouts-config", tr.GatewayAPI.HTTPRoute, c.StableService, c.CanaryService, svc)
}

func (e *exporter) canary() *Canary {
	s := &e.in.Plan.Spec
	cn := s.Strategy.Canary
	c := &Canary{}
	e.trafficRouting(c)
	e.approvals(c)
	if cn != nil {
		for i, st := range cn.Steps {
			p := fmt.Sprintf("spec.strategy.canary.steps[%d]", i)
			if st.SetWeight != nil {
				c.Steps = append(c.Steps, Step{SetWeight: ptr(int32(*st.SetWeight))})
			}
			if st.Pause != nil {
				c.Steps = append(c.Steps, Step{Pause: e.pause(st.Pause)})
			}
			if st.Analysis != nil {
				c.Steps = append(c.Steps, Step{Analysis: e.analysis(p+".analysis", st.Analysis)})
			}
			if st.Approval != nil {
				c.Steps = append(c.Steps, Step{Pause: &Pause{}})
				e.note("%s.approval: Argo has no approvals; an indefinite pause stands for it, ended by `kubectl argo rollouts promote %s` (whoever may patch the Rollout may promote it)", p, e.in.Service.Metadata.Name)
			}
		}
		if cn.Analysis != nil {
			c.Analysis = e.analysis("spec.strategy.canary.analysis", cn.Analysis)
		}
		if cn.ScaleDownDelaySeconds > 0 {
			if c.TrafficRouting == nil {
				e.planErr("spec.strategy.canary.scaleDownDelaySeconds", "Argo Rollouts honours scaleDownDelaySeconds only with traffic routing; set target.kubernetes.trafficRouter or leave it out")
			} else {
				c.ScaleDownDelaySeconds = ptr(int32(cn.ScaleDownDelaySeconds))
			}
		}
	}
	if c.ScaleDownDelaySeconds == nil && c.TrafficRouting != nil && e.k.ScaleDownDelay != nil {
		c.ScaleDownDelaySeconds = ptr(seconds(e.k.ScaleDownDelay.Duration))
	}
	// The plan's success criteria and rollback triggers judge the canary for the whole rollout,
	// as Argo's background analysis does.
	if t := e.criteriaTemplate(0); t != "" {
		if c.Analysis == nil {
			c.Analysis = &RolloutAnalysis{Args: e.args()}
		}
		c.Analysis.Templates = append(c.Analysis.Templates, TemplateRef{TemplateName: t})
	}
	return c
}

// approval names the plan's required approval before the rollout (governance.approvals, or the
// HugAIDeployment's strategy.governance.approvalRequired), or "" when there is none. Argo has no
// approvals: the closest is a person promoting the Rollout.
func (e *exporter) approval() string {
	s := &e.in.Plan.Spec
	if g := s.Governance; g != nil {
		for i, a := range g.Approvals {
			if a.Required {
				return fmt.Sprintf("spec.governance.approvals[%d] (%s)", i, a.Name)
			}
		}
	}
	if g := s.Strategy.Governance; g != nil && g.ApprovalRequired {
		return "spec.strategy.governance.approvalRequired"
	}
	return ""
}

// approvals stand for the plan's approval with an indefinite first pause that a person ends by
// promoting.
func (e *exporter) approvals(c *Canary) {
	if a := e.approval(); a != "" {
		c.Steps = append(c.Steps, Step{Pause: &Pause{}})
		e.note("%s: Argo has no approvals; the first step is an indefinite pause, ended by `kubectl argo rollouts promote %s` — approvers, count and timeout are not enforced by Argo", a, e.in.Service.Metadata.Name)
	}
}

func (e *exporter) pause(p *plan.Pause) *Pause {
	if p.Duration == nil {
		return &Pause{}
	}
	return &Pause{Duration: argoDuration(p.Duration.Duration.Duration)}
}

// rolling is a canary with no steps: Argo replaces pods maxSurge/maxUnavailable at a time, as
// hugai's rolling strategy does.
func (e *exporter) rolling() *Canary {
	c := &Canary{}
	e.approvals(c) // a pause at weight 0, then the rolling replacement once promoted
	if r := e.in.Plan.Spec.Strategy.Rolling; r != nil {
		if r.MaxSurge != nil {
			c.MaxSurge = &IntOrString{Int: int32(r.MaxSurge.Value), Percent: r.MaxSurge.Percent}
		}
		if r.MaxUnavailable != nil {
			c.MaxUnavailable = &IntOrString{Int: int32(r.MaxUnavailable.Value), Percent: r.MaxUnavailable.Percent}
		}
	}
	if t := e.criteriaTemplate(0); t != "" {
		c.Analysis = &RolloutAnalysis{Templates: []TemplateRef{{TemplateName: t}}, Args: e.args()}
	}
	return c
}

// blueGreen maps hugai's switch to Argo's: green previewed on <service>-preview, traffic switched
// at once, then judged by the success criteria for validationPeriod (hugai judges a preview by
// readiness before the switch, which Argo does by itself, and by metrics after it: that is Argo's
// postPromotionAnalysis).
func (e *exporter) blueGreen() *BlueGreen {
	bg := e.in.Plan.Spec.Strategy.BlueGreen
	if bg == nil {
		bg = &plan.BlueGreenStrategy{}
	}
	if e.k.Service == "" {
		e.svcErr("spec.target.kubernetes.service", "missing: Argo's blueGreen switches the selector of the service's Service (activeService)")
	}
	out := &BlueGreen{ActiveService: e.k.Service, PreviewService: e.k.Service + "-preview"}
	if bg.PreviewService != "" {
		out.PreviewService = bg.PreviewService
	}
	if bg.Switch == plan.SwitchGradual {
		e.planErr("spec.strategy.blueGreen.switch", "gradual: Argo's blueGreen switches all traffic at once; export a canary for weighted steps")
	}
	if bg.AutoSwitchBack != nil && !*bg.AutoSwitchBack {
		e.planErr("spec.strategy.blueGreen.autoSwitchBack", "false: Argo Rollouts always switches back when the post-promotion analysis fails")
	}
	if bg.AutoPromotion != nil && !*bg.AutoPromotion {
		out.AutoPromotionEnabled = ptr(false)
	}
	if a := e.approval(); a != "" {
		out.AutoPromotionEnabled = ptr(false)
		e.note("%s: Argo has no approvals; green waits in preview until `kubectl argo rollouts promote %s` (autoPromotionEnabled: false) — approvers, count and timeout are not enforced by Argo", a, e.in.Service.Metadata.Name)
	}
	delay := plan.DefaultScaleDownDelay
	if bg.ScaleDownDelay != nil {
		delay = bg.ScaleDownDelay.Duration
	} else if e.k.ScaleDownDelay != nil {
		delay = e.k.ScaleDownDelay.Duration
	}
	out.ScaleDownDelaySeconds = ptr(seconds(delay))
	validation := 4 * e.env.AnalysisInterval
	if bg.ValidationPeriod != nil {
		validation = bg.ValidationPeriod.Duration
	}
	if validation > 0 {
		count := max(1, int32(validation/e.env.AnalysisInterval))
		if t := e.criteriaTemplate(count); t != "" {
			out.PostPromotionAnalysis = &RolloutAnalysis{Templates: []TemplateRef{{TemplateName: t}}, Args: e.args()}
		}
	}
	return out
}

// unexported refuses or notes the parts of a plan that no Argo field carries.
func (e *exporter) unexported() {
	s := &e.in.Plan.Spec
	gate := func(path, name string) {
		switch name {
		case plan.CheckpointHealth:
			// Argo waits for the pods' readiness probes at every step: the same gate.
		case plan.CheckpointPerformanceValidation:
			// hugai's performance validation is its analysis: exported as the templates.
		default:
			e.planErr(path, "%s: a required checkpoint that Argo Rollouts cannot run; make it not required, or keep the rollout on hugai", name)
		}
	}
	if g := s.Governance; g != nil {
		for i, cp := range g.Checkpoints {
			switch {
			case !cp.Required:
			case !cp.Automated:
				e.planErr(fmt.Sprintf("spec.governance.checkpoints[%d]", i), "%s: a required checkpoint that Argo Rollouts cannot run; make it not required, or keep the rollout on hugai", cp.Name)
			default:
				gate(fmt.Sprintf("spec.governance.checkpoints[%d]", i), cp.Name)
			}
		}
	}
	if g := s.Strategy.Governance; g != nil {
		for i, name := range g.QualityGates {
			gate(fmt.Sprintf("spec.strategy.governance.qualityGates[%d]", i), name)
		}
	}
	if r := s.Rollback; r != nil {
		for i, st := range r.Steps {
			if st.Action == plan.ActionDatabaseMigration {
				e.planErr(fmt.Sprintf("spec.rollback.steps[%d].action", i), "%s: Argo Rollouts rolls back pods and traffic only", st.Action)
			}
		}
		if len(r.Steps) > 0 {
			e.note("spec.rollback.steps: Argo aborts by sending traffic back to stable and scaling the new version down; the steps' order, maxDuration, approvals and checks are not exported")
		}
	}
	if m := s.Monitoring; m != nil && m.Alerting != nil && len(m.Alerting.Channels) > 0 {
		e.note("spec.monitoring.alerting: hugai's notifications are not exported; subscribe the Rollout with Argo's notification annotations")
	}
	if m := s.Monitoring; m != nil && m.Duration != nil && m.Duration.Duration > 0 {
		e.note("spec.monitoring.duration (%s): Argo has no watch after the rollout completes; it is not exported", m.Duration)
	}
	if e.k.HeaderRouting != nil {
		e.note("target.kubernetes.headerRouting: hugai's secret-guarded X-Hugai-Route rules are not exported")
	}
}

func (e *exporter) note(format string, a ...any) {
	e.notes = append(e.notes, fmt.Sprintf(format, a...))
}

// judge checks that hugai's judge (Input.Judge) can answer for this plan: it compares a canary
// with its stable version from the Prometheus totals analysis.compare names.
func (e *exporter) judge() {
	if e.in.Judge == "" {
		return
	}
	if plan.NormalizeStrategy(e.in.Plan.Spec.Strategy.Type) != plan.StrategyCanary {
		e.planErr("spec.strategy.type", "%s: --judge %s compares a canary with its stable version while both serve; only a canary's analysis steps have both", e.in.Plan.Spec.Strategy.Type, e.in.Judge)
	}
	if e.env.Compare == nil {
		e.svcErr("spec.environments."+e.env.Name+".analysis", "--judge %s reads each version's requests and errors from the prometheus totals analysis.compare names: set it (docs/kubernetes.md)", e.in.Judge)
	}
	e.note("analysis: every analysis of the canary also names AnalysisTemplate %s (hugai's sequential verdict, canary against stable by pod-template hash): apply config/argo/hugai-analysis.yaml and its Secret hugai-analysis in namespace %s, and filter the queries of analysis.compare on rollouts_pod_template_hash", e.in.Judge, orNone(e.k.Namespace))
}

// judgeArgs are what hugai's judge takes beyond service-name and environment: the namespace that
// picks the service file, and both pod-template hashes, which Argo fills in when it starts the run.
func (e *exporter) judgeArgs() []Arg {
	return []Arg{
		{Name: "namespace", Value: ptr(e.k.Namespace)},
		{Name: "canary-hash", ValueFrom: &ValueFrom{PodTemplateHashValue: ptr("Latest")}},
		{Name: "stable-hash", ValueFrom: &ValueFrom{PodTemplateHashValue: ptr("Stable")}},
	}
}

// analysis maps a step's (or the background) analysis: each template named becomes an
// AnalysisTemplate of the same name, and the Rollout passes it hugai's arguments; with a judge,
// the judge's template is named too.
func (e *exporter) analysis(path string, a *plan.AnalysisRef) *RolloutAnalysis {
	out := &RolloutAnalysis{Args: e.args()}
	if e.in.Judge != "" {
		defer func() {
			out.Templates = append(out.Templates, TemplateRef{TemplateName: e.in.Judge})
			out.Args = append(out.Args, e.judgeArgs()...)
		}()
	}
	for i, ref := range a.Templates {
		tp := fmt.Sprintf("%s.templates[%d]", path, i)
		t, ok := e.in.Plan.Spec.Template(ref.TemplateName)
		if !ok {
			e.planErr(tp+".templateName", "%q is neither one of the plan's spec.analysisTemplates nor built in", ref.TemplateName)
			continue
		}
		out.Templates = append(out.Templates, TemplateRef{TemplateName: t.Name})
		if slices.ContainsFunc(e.templates, func(x AnalysisTemplate) bool { return x.Metadata.Name == t.Name }) {
			continue
		}
		var metrics []Metric
		tr := &translation{window: argoDuration(e.env.AnalysisInterval)}
		for j, m := range t.Metrics {
			mp := fmt.Sprintf("spec.analysisTemplates[%d].metrics[%d]", slices.IndexFunc(e.in.Plan.Spec.AnalysisTemplates, func(x plan.AnalysisTemplate) bool { return x.Name == t.Name }), j)
			if _, builtin := plan.BuiltinTemplates[t.Name]; builtin && !slices.ContainsFunc(e.in.Plan.Spec.AnalysisTemplates, func(x plan.AnalysisTemplate) bool { return x.Name == t.Name }) {
				mp = tp + ".templateName" // a built-in template has no place in the file but its use
			}
			conds, err := criteria.Parse(m.SuccessCondition, criteria.WithMetrics(e.in.Service.MetricNames()...), criteria.AnyMetric())
			if err != nil {
				e.planErr(mp+".successCondition", "%v", err)
				continue
			}
			count := int32(max(m.Count, 1))
			for _, group := range byMetric(conds) {
				am, ok := e.metric(mp+".successCondition", tr, group, false)
				if !ok {
					continue
				}
				am.Name = metricName(t.Name, m.Name, group[0].Metric, len(t.Metrics) == 1 && len(conds) == len(group))
				am.Count = ptr(count)
				if count > 1 {
					am.Interval = argoDuration(e.env.AnalysisInterval)
				}
				am.FailureLimit = ptr32(m.FailureLimit)
				am.InconclusiveLimit = ptr32(m.InconclusiveLimit)
				am.ConsecutiveErrorLimit = ptr32(m.ConsecutiveErrorLimit)
				metrics = append(metrics, am)
			}
		}
		e.addTemplate(t.Name, tr, metrics)
	}
	return out
}

// metricName keeps the template's own metric name where one condition makes the metric, and
// adds hugai's metric name where a success condition names several.
func metricName(template, metric, hugaiMetric string, single bool) string {
	if metric == "" {
		metric = template
	}
	if single {
		return metric
	}
	return metric + "-" + strings.ReplaceAll(hugaiMetric, "_", "-")
}

// criteriaTemplate makes the template of the plan's success criteria and rollback triggers,
// measured every analysis interval, count times (0: for the whole rollout). It returns its name,
// or "" when the plan has neither.
func (e *exporter) criteriaTemplate(count int32) string {
	s := &e.in.Plan.Spec
	text, path := s.SuccessCriteria, "spec.successCriteria"
	if text == "" {
		text, path = e.env.SuccessCriteria, "spec.successCriteria" // the environment's default
	}
	tr := &translation{window: argoDuration(e.env.AnalysisInterval)}
	var metrics []Metric
	conds, err := criteria.Parse(text, criteria.WithMetrics(e.in.Service.MetricNames()...), criteria.AnyMetric())
	if err != nil {
		e.planErr(path, "%v", err)
		return ""
	}
	for _, group := range byMetric(conds) {
		if m, ok := e.metric(path, tr, group, false); ok {
			m.Name = strings.ReplaceAll(group[0].Metric, "_", "-")
			metrics = append(metrics, m)
		}
	}
	if r := s.Rollback; r != nil && (r.Automatic == nil || *r.Automatic) {
		for i, t := range r.Triggers {
			tp := fmt.Sprintf("spec.rollback.triggers[%d]", i)
			var c criteria.Condition
			var err error
			switch {
			case t.ErrorRateThreshold != nil:
				tp += ".errorRateThreshold"
				c, err = criteria.Trigger("error_rate", ">", strconv.FormatFloat(*t.ErrorRateThreshold, 'g', -1, 64))
			case t.LatencyThreshold != nil:
				tp += ".latencyThreshold"
				c, err = criteria.Trigger("latency_p95", ">", t.LatencyThreshold.String())
			case t.CustomMetricThreshold != nil:
				tp += ".customMetricThreshold"
				ct := t.CustomMetricThreshold
				c, err = criteria.Trigger(ct.Metric, ct.Comparison, strconv.FormatFloat(ct.Threshold, 'g', -1, 64))
			default:
				continue
			}
			if err != nil {
				e.planErr(tp, "%v", err)
				continue
			}
			// A trigger fires when its condition holds: Argo's failureCondition, one failure enough.
			if m, ok := e.metric(tp, tr, []criteria.Condition{c}, true); ok {
				m.Name = fmt.Sprintf("rollback-trigger-%d-%s", i, strings.ReplaceAll(c.Metric, "_", "-"))
				metrics = append(metrics, m)
			}
		}
	}
	if len(metrics) == 0 {
		return ""
	}
	for i := range metrics {
		metrics[i].Interval = argoDuration(e.env.AnalysisInterval)
		if count > 0 {
			metrics[i].Count = ptr(count)
		}
	}
	name := CriteriaTemplate(e.in.Service.Metadata.Name)
	e.addTemplate(name, tr, metrics)
	return name
}

func (e *exporter) addTemplate(name string, tr *translation, metrics []Metric) {
	if len(metrics) == 0 {
		return
	}
	t := AnalysisTemplate{
		APIVersion: APIVersion,
		Kind:       "AnalysisTemplate",
		Metadata:   Metadata{Name: name, Namespace: e.k.Namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "hugai-export", "hugai.io/service": e.in.Service.Metadata.Name}},
		Spec:       TemplateSpec{Metrics: metrics},
	}
	for _, a := range []string{ArgService, ArgVersion, ArgEnvironment} {
		if slices.Contains(tr.args, a) {
			t.Spec.Args = append(t.Spec.Args, Arg{Name: a})
		}
	}
	for _, v := range tr.envs {
		t.Spec.Args = append(t.Spec.Args, Arg{Name: v, ValueFrom: &ValueFrom{SecretKeyRef: &SecretKeyRef{Name: SecretName(e.in.Service.Metadata.Name), Key: v}}})
	}
	if len(tr.envs) > 0 {
		e.note("AnalysisTemplate %s reads %s from Secret %s (the service file's ${VAR}s): create it in namespace %s", name, strings.Join(tr.envs, ", "), SecretName(e.in.Service.Metadata.Name), orNone(e.k.Namespace))
	}
	e.templates = append(e.templates, t)
}

// byMetric groups conditions on the same metric, in first-seen order: one Argo metric, one query,
// all its conditions joined.
func byMetric(conds []criteria.Condition) [][]criteria.Condition {
	var groups [][]criteria.Condition
	for _, c := range conds {
		i := slices.IndexFunc(groups, func(g []criteria.Condition) bool { return g[0].Metric == c.Metric })
		if i < 0 {
			groups = append(groups, []criteria.Condition{c})
			continue
		}
		groups[i] = append(groups[i], c)
	}
	return groups
}

// metric makes the Argo metric measuring conds' metric (all the same) with the service's
// provider, conds as its successCondition (or, for a trigger, failureCondition).
func (e *exporter) metric(path string, tr *translation, conds []criteria.Condition, failure bool) (Metric, bool) {
	name := conds[0].Metric
	var sm *plan.Metric
	for i := range e.in.Service.Spec.Metrics {
		if m := &e.in.Service.Spec.Metrics[i]; m.Name == name || criteria.Canonical(m.Name) == name {
			sm = m
		}
	}
	if sm == nil || sm.Provider == plan.ProviderBuiltin {
		e.planErr(path, "metric %s is measured by hugai's proxy, which Argo Rollouts cannot read: declare it in the service file's spec.metrics with provider prometheus or web", name)
		return Metric{}, false
	}
	var out Metric
	headers := func(p string) []Header {
		var hs []Header
		for _, k := range sortedKeys(sm.Headers) {
			v, err := tr.text(sm.Headers[k])
			if err != nil {
				e.svcErr(p+"."+k, "%v", err)
			}
			hs = append(hs, Header{Key: k, Value: v})
		}
		return hs
	}
	mp := fmt.Sprintf("spec.metrics[%d]", slices.IndexFunc(e.in.Service.Spec.Metrics, func(m plan.Metric) bool { return m.Name == sm.Name }))
	result := "result[0]" // Argo's prometheus provider gives a vector's values as a list
	switch sm.Provider {
	case plan.ProviderWeb:
		u, err := tr.text(sm.Address)
		if err != nil {
			e.svcErr(mp+".address", "%v", err)
		}
		path := sm.JSONPath
		if path != "" && !strings.HasPrefix(path, "{") {
			path = "{" + path + "}" // Argo's web provider reads Kubernetes' JSONPath, in braces
		}
		out.Provider.Web = &Web{URL: u, JSONPath: path, Headers: headers(mp + ".headers")}
		result = "asFloat(result)" // a web value may come as a JSON string
	default: // prometheus, the default provider of a declared metric
		addr, err := tr.text(sm.Address)
		if err != nil {
			e.svcErr(mp+".address", "%v", err)
		}
		q, err := tr.text(sm.Query)
		if err != nil {
			e.svcErr(mp+".query", "%v", err)
		}
		out.Provider.Prometheus = &Prometheus{Address: addr, Query: q, Headers: headers(mp + ".headers")}
	}
	cond := Condition(result, conds)
	if failure {
		out.FailureCondition = cond
		out.FailureLimit = ptr(int32(0))
	} else {
		out.SuccessCondition = cond
	}
	return out, true
}

// Condition writes hugai's conditions on one metric as Argo's expr text over result: the value is
// compared in hugai's canonical unit (rates in percent, durations in seconds), which is the unit
// hugai reads the same query's result in, so `error_rate<1%` is `result[0] < 1` and
// `latency_p95<2000ms` is `result[0] < 2`.
func Condition(result string, conds []criteria.Condition) string {
	parts := make([]string, len(conds))
	for i, c := range conds {
		parts[i] = fmt.Sprintf("%s %s %s", result, c.Op, number(c.Value))
	}
	return strings.Join(parts, " && ")
}

func number(v float64) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return "0" // criteria.Parse never gives one; kept total so the output always parses
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// argoDuration writes d as Argo's DurationString: whole seconds, minutes or hours where exact.
func argoDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0 && d > 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0 && d > 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

func seconds(d time.Duration) int32 { return int32(math.Ceil(d.Seconds())) }

func ptr[T any](v T) *T { return &v }

func ptr32(p *int) *int32 {
	if p == nil {
		return nil
	}
	return ptr(int32(*p))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// YAML writes the Rollout and its templates as one multi-document file, templates first so that
// `kubectl apply -f` creates them before the Rollout that names them.
func (r *Result) YAML() ([]byte, error) {
	var b bytes.Buffer
	objs := make([]any, 0, len(r.Templates)+1)
	for _, t := range r.Templates {
		objs = append(objs, t)
	}
	objs = append(objs, r.Rollout)
	for i, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			return nil, fmt.Errorf("marshal %T: %w", o, err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(y)
	}
	return b.Bytes(), nil
}
