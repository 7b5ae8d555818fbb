package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// What a plan asks of the service it runs against can only be checked once the service file is
// known: `validate hugai.yaml plan.yaml`, `deploy plan` and `deploy execute` (on the server) all
// check it here, before anything starts, so a plan never names a gate hugai cannot keep.

// CheckAgainst checks plan p, read from file with positions pos, against the service file svc for
// environment envName: every metric its criteria, triggers and monitors name can be measured,
// every automated checkpoint is one hugai can run, every alerting channel is configured, and no
// field asks for what the environment's target cannot do. rename maps p's paths to the file's
// (nil: the same), for a HugAIDeployment checked as the plan it runs as.
func CheckAgainst(file string, pos Positions, p *DeploymentPlan, rename func(string) string, svc *Service, envName string) Errors {
	c := &checker{file: file, pos: pos, rename: rename}
	env, err := svc.Env(envName)
	if err != nil {
		path := "spec.environment"
		if p.Spec.Environment == "" {
			path = ""
		}
		c.errorf(path, "%v", err)
		return c.errs.sorted()
	}
	s := &p.Spec
	target := env.Target.Type
	metrics := func(path, text string) {
		for _, why := range svc.unmeasurable(text, target) {
			c.errorf(path, "%s", why)
		}
	}
	metrics("spec.successCriteria", s.SuccessCriteria)
	if NormalizeStrategy(s.Strategy.Type) == StrategyBlueGreen && target == TargetLocal && (env.Target.Local == nil || env.Target.Local.Preview == "") {
		// Without a preview address green is reachable only by X-Hugai-Route, which is off by
		// default, and a smoke test of "the live address" would test blue and pass it.
		c.errorf("spec.strategy.type", "blue-green on the local target needs a preview address where green is served alone: set spec.environments.%s.target.local.preview (or spec.target.local.preview), e.g. 127.0.0.1:8081", envName)
	}

	// Analysis templates, where the steps use them.
	used := map[string]bool{}
	refs := func(path string, a *AnalysisRef) {
		if a == nil {
			return
		}
		for i, r := range a.Templates {
			used[r.TemplateName] = true
			c.args(fmt.Sprintf("%s.templates[%d].args", path, i), r.Args, svc.Metadata.Name)
		}
		c.args(path+".args", a.Args, svc.Metadata.Name)
	}
	if cn := s.Strategy.Canary; cn != nil {
		refs("spec.strategy.canary.analysis", cn.Analysis)
		for i, st := range cn.Steps {
			refs(fmt.Sprintf("spec.strategy.canary.steps[%d].analysis", i), st.Analysis)
		}
	}
	for i, t := range s.AnalysisTemplates {
		tp := fmt.Sprintf("spec.analysisTemplates[%d]", i)
		c.args(tp+".args", t.Args, svc.Metadata.Name)
		for j, m := range t.Metrics {
			mp := fmt.Sprintf("%s.metrics[%d]", tp, j)
			metrics(mp+".successCondition", m.SuccessCondition)
			if m.Provider != "" && m.Provider != ProviderBuiltin {
				c.errorf(mp+".provider", "%s: a template's metric is builtin or a named metric of the service file; declare it with its provider in the service file's spec.metrics and name it in successCondition", m.Provider)
			}
			if m.Query != "" {
				c.errorf(mp+".query", "a template's metric takes no query: declare a named metric with its query in the service file's spec.metrics and name it in successCondition")
			}
			if m.Interval != nil && m.Interval.Duration != env.AnalysisInterval {
				c.errorf(mp+".interval", "%s: every metric is measured on the environment's analysis windows (%s); set spec.environments.%s.analysis.interval instead", m.Interval, D(env.AnalysisInterval), envName)
			}
			if m.MinimumSamples != 0 && m.MinimumSamples != env.MinimumSamples {
				c.errorf(mp+".minimumSamples", "%d: every metric is judged on the environment's minimumSamples (%d); set spec.environments.%s.analysis.minimumSamples instead", m.MinimumSamples, env.MinimumSamples, envName)
			}
		}
	}

	if r := s.Rollback; r != nil {
		for i, t := range r.Triggers {
			tp := fmt.Sprintf("spec.rollback.triggers[%d]", i)
			switch {
			case t.ErrorRateThreshold != nil:
				metrics(tp+".errorRateThreshold", "error_rate>0")
			case t.LatencyThreshold != nil:
				metrics(tp+".latencyThreshold", "latency_p95>0s")
			case t.CustomMetricThreshold != nil && t.CustomMetricThreshold.Metric != "":
				if why := svc.Unmeasurable(t.CustomMetricThreshold.Metric, target); why != "" {
					c.errorf(tp+".customMetricThreshold.metric", "%s", why)
				}
			}
		}
		for i, st := range r.Steps {
			if st.Action == ActionDatabaseMigration && (svc.Spec.Database == nil || len(svc.Spec.Database.Rollback) == 0) {
				c.errorf(fmt.Sprintf("spec.rollback.steps[%d].action", i), "%s: the service file has no spec.database.rollback command to run", st.Action)
			}
			for j, check := range st.Checks {
				if check == "smoke_test" && len(svc.Spec.SmokeTest) == 0 {
					c.errorf(fmt.Sprintf("spec.rollback.steps[%d].checks[%d]", i, j), "smoke_test: the service file has no spec.smokeTest to run")
				}
			}
		}
	}
	if m := s.Monitoring; m != nil {
		for i, name := range m.Metrics {
			if why := svc.Unmeasurable(name, target); why != "" {
				c.errorf(fmt.Sprintf("spec.monitoring.metrics[%d]", i), "%s", why)
			}
		}
		for i, h := range m.HealthChecks {
			hp := fmt.Sprintf("spec.monitoring.healthChecks[%d]", i)
			j := slices.IndexFunc(env.HealthChecks, func(sh HealthCheck) bool { return sh.Path == h.Path })
			if j < 0 {
				c.errorf(hp+".path", "%s: the target probes the service file's health checks (%s); a plan cannot add one", h.Path, healthPaths(env.HealthChecks))
				continue
			}
			// The plan's copy is for the reviewer: one that says otherwise than the probe the
			// target runs would be believed.
			sh := env.HealthChecks[j]
			if h.Interval != nil && h.Interval.Duration != sh.Interval.Duration {
				c.errorf(hp+".interval", "%s: the service file probes %s every %s", h.Interval, h.Path, sh.Interval)
			}
			if h.Timeout != nil && h.Timeout.Duration != sh.Timeout.Duration {
				c.errorf(hp+".timeout", "%s: the service file's probe of %s times out after %s", h.Timeout, h.Path, sh.Timeout)
			}
			if h.FailureThreshold != 0 && h.FailureThreshold != sh.FailureThreshold {
				c.errorf(hp+".failureThreshold", "%d: the service file's probe of %s has %d", h.FailureThreshold, h.Path, sh.FailureThreshold)
			}
			if h.SuccessThreshold != 0 && h.SuccessThreshold != sh.SuccessThreshold {
				c.errorf(hp+".successThreshold", "%d: the service file's probe of %s has %d", h.SuccessThreshold, h.Path, sh.SuccessThreshold)
			}
		}
		if a := m.Alerting; a != nil {
			for i, ch := range a.Channels {
				if len(svc.Channels(ch)) == 0 {
					c.errorf(fmt.Sprintf("spec.monitoring.alerting.channels[%d]", i), "%q names no notification of the service file (by name or type: %s)", ch, svc.channelNames())
				}
			}
		}
	}
	if bg := s.Strategy.BlueGreen; bg != nil && bg.PreviewService != "" && target == TargetKubernetes {
		if k := env.Target.Kubernetes; k != nil && bg.PreviewService != k.Service+"-preview" {
			c.errorf("spec.strategy.blueGreen.previewService", "%s: the kubernetes target previews green on %s-preview (target.kubernetes.service and -preview); name that, or leave it out", bg.PreviewService, k.Service)
		}
	}
	if bg := s.Strategy.BlueGreen; bg != nil && bg.PreviewService != "" && target == TargetLocal {
		c.errorf("spec.strategy.blueGreen.previewService", "names a Kubernetes Service; on the local target green is previewed on the service file's target.local.preview")
	}

	if g := s.Governance; g != nil {
		for i, cp := range g.Checkpoints {
			if cp.Automated {
				c.checkpoint(fmt.Sprintf("spec.governance.checkpoints[%d].name", i), cp.Name, svc, env)
			}
		}
	}
	if g := s.Strategy.Governance; g != nil {
		for i, name := range g.QualityGates {
			c.checkpoint(fmt.Sprintf("spec.strategy.governance.qualityGates[%d]", i), name, svc, env)
		}
	}
	return c.errs.sorted()
}

// checkpoint checks that hugai can run the automated checkpoint name.
func (c *checker) checkpoint(path, name string, svc *Service, env *Env) {
	switch name {
	case CheckpointHealth:
		if len(env.HealthChecks) == 0 {
			c.errorf(path, "%s: the service file has no spec.healthChecks to run", name)
		}
	case CheckpointSmokeTest:
		if len(svc.Spec.SmokeTest) == 0 {
			c.errorf(path, "%s: the service file has no spec.smokeTest to run", name)
		}
	case CheckpointPerformanceValidation, CheckpointPerformanceTest:
	default:
		if _, ok := svc.Spec.Checkpoints[name]; !ok {
			known := append(slices.Clone(KnownCheckpoints), sortedKeys(svc.Spec.Checkpoints)...)
			c.errorf(path, "automated checkpoint %q is not one hugai runs (known: %s): give it a command in the service file's spec.checkpoints, or make it a manual checkpoint", name, strings.Join(known, ", "))
		}
	}
}

// args checks template arguments: hugai's templates measure the service being deployed and take
// only its name.
func (c *checker) args(path string, args []Arg, service string) {
	for i, a := range args {
		ap := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case a.Name != "service-name":
			c.errorf(ap+".name", "%q: hugai's analysis templates take only service-name (templated queries come with the metric providers)", a.Name)
		case a.Value != "" && a.Value != service:
			c.errorf(ap+".value", "%q: the analysis measures the service being deployed, %s", a.Value, service)
		}
	}
}

func healthPaths(hcs []HealthCheck) string {
	if len(hcs) == 0 {
		return "none"
	}
	var ps []string
	for _, h := range hcs {
		ps = append(ps, h.Path)
	}
	return strings.Join(ps, ", ")
}

// Channels are the notifications a plan's alerting channel name routes to: those of that name,
// else those of that type.
func (s *Service) Channels(name string) []int {
	var byName, byType []int
	for i, n := range s.Spec.Notifications {
		switch {
		case n.Name == name:
			byName = append(byName, i)
		case n.Type == name:
			byType = append(byType, i)
		}
	}
	if len(byName) > 0 {
		return byName
	}
	return byType
}

func (s *Service) channelNames() string {
	var out []string
	for _, n := range s.Spec.Notifications {
		name := n.Type
		if n.Name != "" {
			name = n.Name + " (" + n.Type + ")"
		}
		out = append(out, name)
	}
	if len(out) == 0 {
		return "it has none"
	}
	return strings.Join(out, ", ")
}

// Run is a document hugai can run: a DeploymentPlan, or a HugAIDeployment read as the
// DeploymentPlan it stands for.
//
// +kubebuilder:object:generate=false
type Run struct {
	Plan *DeploymentPlan
	// Kind is the document's kind in the file.
	Kind      string
	Positions Positions
	// Rename maps the plan's paths to the file's (nil for a DeploymentPlan).
	Rename   func(string) string
	Warnings Errors
}

// ParseRun reads a file holding one DeploymentPlan or one HugAIDeployment, and perhaps the CRD of
// its kind (the seed's operator manifest holds both): a definition deploys nothing.
func ParseRun(file string, data []byte) (*Run, error) {
	all, err := ParseFile(file, data)
	if err != nil {
		return nil, err
	}
	var docs []Document
	for _, d := range all {
		if d.Kind != KindCustomResourceDefinition {
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		return nil, Errors{{File: file, Line: all[0].Line, Msg: "no DeploymentPlan or HugAIDeployment, only a CustomResourceDefinition"}}
	}
	if len(docs) > 1 {
		return nil, Errors{{File: file, Line: docs[1].Line, Msg: "a plan file holds one DeploymentPlan or HugAIDeployment"}}
	}
	return RunOf(file, docs[0])
}

// RunOf reads a parsed document as the plan it runs.
func RunOf(file string, d Document) (*Run, error) {
	switch v := d.Value.(type) {
	case *DeploymentPlan:
		r := &Run{Plan: v, Kind: d.Kind, Positions: d.Positions, Warnings: d.Warnings}
		if v.Spec.Environment == "" && v.Metadata.Namespace != "" {
			// The CRD's namespace names the environment, as for a HugAIDeployment.
			cp := *v
			cp.Spec.Environment = v.Metadata.Namespace
			r.Plan = &cp
			r.Rename = func(path string) string {
				if path == "spec.environment" {
					return "metadata.namespace"
				}
				return path
			}
		}
		return r, nil
	case *HugAIDeployment:
		if v.Spec.PlanRef != nil {
			// How it rolls out is in a DeploymentPlan in the cluster: only the operator, which
			// reads both, can run it (it runs WithPlan's result, a DeploymentPlan).
			return nil, Errors{{File: file, Line: d.Positions.Line("spec.planRef"), Path: "spec.planRef",
				Msg: fmt.Sprintf("runs DeploymentPlan %s of the cluster: `hugai operator` runs it; to run it here, run that DeploymentPlan with --version", v.Spec.PlanRef.Name)}}
		}
		p, rename := v.AsPlan()
		return &Run{Plan: p, Kind: d.Kind, Positions: d.Positions, Rename: rename, Warnings: d.Warnings}, nil
	}
	return nil, Errors{{File: file, Line: d.Line, Path: "kind", Msg: fmt.Sprintf("%s: want a DeploymentPlan or a HugAIDeployment", d.Kind)}}
}

// AsPlan is the DeploymentPlan a HugAIDeployment runs as: its rollout steps are a canary's
// combined setWeight + pause steps, metadata.namespace names the environment when spec.environment
// does not, and strategy, monitoring and rollback carry over unchanged. rename maps the plan's
// paths back to the HugAIDeployment's, so errors name the line the user wrote.
func (d *HugAIDeployment) AsPlan() (*DeploymentPlan, func(string) string) {
	s := d.Spec
	p := &DeploymentPlan{
		APIVersion: d.APIVersion, Kind: KindDeploymentPlan, Metadata: d.Metadata,
		Spec: PlanSpec{
			Service: s.Service, Version: s.Version, Environment: s.Environment,
			Strategy: s.Strategy, Monitoring: s.Monitoring, Rollback: s.Rollback,
		},
	}
	if p.Spec.Environment == "" {
		p.Spec.Environment = d.Metadata.Namespace
	}
	if r := s.Rollout; r != nil && len(r.Steps) > 0 {
		c := CanaryStrategy{}
		if s.Strategy.Canary != nil {
			c = *s.Strategy.Canary
		}
		c.Steps = nil
		for _, st := range r.Steps {
			w := st.Weight
			step := CanaryStep{SetWeight: &w}
			if st.Pause != nil {
				step.Pause = &Pause{Duration: st.Pause}
			}
			c.Steps = append(c.Steps, step)
		}
		p.Spec.Strategy.Canary = &c
	}
	rename := func(path string) string {
		switch {
		case strings.HasPrefix(path, "spec.strategy.canary.steps["):
			rest := strings.TrimPrefix(path, "spec.strategy.canary.steps")
			rest = strings.Replace(rest, ".setWeight", ".weight", 1)
			rest = strings.Replace(rest, ".pause.duration", ".pause", 1)
			return "spec.rollout.steps" + rest
		case path == "spec.environment" && s.Environment == "":
			return "metadata.namespace"
		}
		return path
	}
	return p, rename
}

// Annotations the operator writes on the plan a HugAIDeployment with spec.planRef runs, so the
// frozen plan in its status says where it came from: a restarted operator compares them with the
// DeploymentPlan in the cluster to know whether the plan changed under a rollout in flight.
const (
	// AnnotationPlan names the DeploymentPlan.
	AnnotationPlan = "hugai.io/plan"
	// AnnotationPlanGeneration is "<uid>/<metadata.generation>" of the DeploymentPlan read: an
	// edit bumps the generation, a plan deleted and created again has a new uid.
	AnnotationPlanGeneration = "hugai.io/plan-generation"
	// AnnotationDeployment names the HugAIDeployment that ran the plan.
	AnnotationDeployment = "hugai.io/hugaideployment"
)

// MismatchError is a DeploymentPlan whose service, version or environment is not the one of the
// HugAIDeployment that references it.
//
// +kubebuilder:object:generate=false
type MismatchError struct {
	Deployment, Plan string // namespace/name of each
	Field            string // spec.service, spec.version or spec.environment
	InDeployment     string
	InPlan           string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s: HugAIDeployment %s says %q, DeploymentPlan %s says %q: leave it out of one, or make them equal",
		e.Field, e.Deployment, e.InDeployment, e.Plan, e.InPlan)
}

// WithPlan is the DeploymentPlan a HugAIDeployment with spec.planRef runs: the referenced plan's
// spec whole (strategy, governance, analysis templates, success criteria, rollback, monitoring,
// and its risk and changes for the reviewer), deploying the HugAIDeployment's service, version and
// environment. Each of those may be left out of one of the two; set in both, they must be equal
// (a *MismatchError otherwise). The result carries the plan's name, namespace, labels and
// annotations, and the HugAIDeployment's name (AnnotationDeployment); the caller adds where the
// plan came from (AnnotationPlanGeneration) and who asked.
func (d *HugAIDeployment) WithPlan(p *DeploymentPlan) (*DeploymentPlan, error) {
	out := &DeploymentPlan{APIVersion: APIVersion, Kind: KindDeploymentPlan, Spec: p.Spec}
	out.Metadata = Metadata{Name: p.Metadata.Name, Namespace: d.Metadata.Namespace}
	if len(p.Metadata.Labels) > 0 {
		out.Metadata.Labels = maps.Clone(p.Metadata.Labels)
	}
	out.Metadata.Annotations = map[string]string{}
	for k, v := range p.Metadata.Annotations {
		// kubectl's bookkeeping (last-applied-configuration is the whole object again) would
		// only swell the frozen plan every status write carries.
		if !strings.HasPrefix(k, "kubectl.kubernetes.io/") {
			out.Metadata.Annotations[k] = v
		}
	}
	out.Metadata.Annotations[AnnotationPlan] = p.Metadata.Name
	out.Metadata.Annotations[AnnotationDeployment] = d.Metadata.Name
	for _, f := range []struct {
		path   string
		hd     string
		inPlan string
		dst    *string
	}{
		{"spec.service", d.Spec.Service, p.Spec.Service, &out.Spec.Service},
		{"spec.version", d.Spec.Version, p.Spec.Version, &out.Spec.Version},
		{"spec.environment", d.Spec.Environment, p.Spec.Environment, &out.Spec.Environment},
	} {
		switch {
		case f.hd != "" && f.inPlan != "" && f.hd != f.inPlan:
			return nil, &MismatchError{
				Deployment: d.Metadata.Namespace + "/" + d.Metadata.Name, Plan: p.Metadata.Namespace + "/" + p.Metadata.Name,
				Field: f.path, InDeployment: f.hd, InPlan: f.inPlan,
			}
		case f.hd != "":
			*f.dst = f.hd
		}
	}
	if out.Spec.Environment == "" {
		out.Spec.Environment = d.Metadata.Namespace
	}
	return out, nil
}
