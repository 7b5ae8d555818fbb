package plan

// AnnotationPlannedBy names who made a plan (`deploy plan` writes it): with four-eyes, whoever
// last made the plan may not approve the rollout of it, as whoever started it may not.
const AnnotationPlannedBy = "hugai.io/planned-by"

// DeploymentPlan is a reviewable rollout: what to deploy, how, under which rules, and how to undo it.
// `hugai deploy plan` writes one; `hugai deploy execute` runs it unchanged.
type DeploymentPlan struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       PlanSpec `json:"spec"`
}

// PlanSpec is shared by the file, the API and the DeploymentPlan CRD.
type PlanSpec struct {
	// What it deploys. Optional in a hand-written plan; `execute` takes them from flags then.
	Service     string `json:"service,omitempty"`
	Version     string `json:"version,omitempty"`
	Environment string `json:"environment,omitempty"`

	Strategy          Strategy           `json:"strategy"`
	AnalysisTemplates []AnalysisTemplate `json:"analysisTemplates,omitempty"`
	SuccessCriteria   string             `json:"successCriteria,omitempty"`
	Governance        *Governance        `json:"governance,omitempty"`
	Rollback          *Rollback          `json:"rollback,omitempty"`
	Monitoring        *Monitoring        `json:"monitoring,omitempty"`
	Risk              *Risk              `json:"risk,omitempty"`
	Changes           *Changes           `json:"changes,omitempty"`
}

// Strategy names.
const (
	StrategyCanary    = "canary"
	StrategyBlueGreen = "blueGreen"
	StrategyRolling   = "rolling"
	StrategyRecreate  = "recreate"
)

// Strategies lists the strategy names in the order docs and errors give them.
var Strategies = []string{StrategyCanary, StrategyBlueGreen, StrategyRolling, StrategyRecreate}

// NormalizeStrategy maps the accepted spellings to the canonical name: `blue-green` (the seed's)
// and `bluegreen` read as blueGreen. It returns "" for an unknown name.
func NormalizeStrategy(s string) string {
	switch s {
	case "canary", "Canary":
		return StrategyCanary
	case "blueGreen", "blue-green", "bluegreen", "BlueGreen":
		return StrategyBlueGreen
	case "rolling", "Rolling", "rollingUpdate", "RollingUpdate":
		return StrategyRolling
	case "recreate", "Recreate":
		return StrategyRecreate
	}
	return ""
}

// Strategy is how traffic moves to the new version.
type Strategy struct {
	// Type is the strategy: canary, blueGreen (or blue-green), rolling or recreate.
	// +kubebuilder:validation:Enum=canary;Canary;blueGreen;blue-green;bluegreen;BlueGreen;rolling;Rolling;rollingUpdate;RollingUpdate;recreate;Recreate
	Type       string              `json:"type"`
	Canary     *CanaryStrategy     `json:"canary,omitempty"`
	BlueGreen  *BlueGreenStrategy  `json:"blueGreen,omitempty"`
	Rolling    *RollingStrategy    `json:"rolling,omitempty"`
	Recreate   *RecreateStrategy   `json:"recreate,omitempty"`
	Governance *StrategyGovernance `json:"governance,omitempty"`
}

// CanaryStrategy shifts traffic step by step, judging the canary on the way.
type CanaryStrategy struct {
	Steps []CanaryStep `json:"steps,omitempty"`
	// Analysis runs in the background for the whole rollout (Argo's background analysis).
	Analysis              *AnalysisRef `json:"analysis,omitempty"`
	ScaleDownDelaySeconds int          `json:"scaleDownDelaySeconds,omitempty"`
	ProgressDeadline      *Duration    `json:"progressDeadline,omitempty"`
}

// CanaryStep is one action (Argo's form), or a setWeight with its pause (the seed's form).
type CanaryStep struct {
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	SetWeight *int          `json:"setWeight,omitempty"`
	Pause     *Pause        `json:"pause,omitempty"`
	Analysis  *AnalysisRef  `json:"analysis,omitempty"`
	Approval  *ApprovalStep `json:"approval,omitempty"`
}

// AnalysisRef names analysis templates and the arguments they are run with.
type AnalysisRef struct {
	Templates []TemplateRef `json:"templates"`
	Args      []Arg         `json:"args,omitempty"`
}

type TemplateRef struct {
	TemplateName string `json:"templateName"`
	Args         []Arg  `json:"args,omitempty"`
}

type Arg struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// ApprovalStep waits for people before the rollout goes on.
type ApprovalStep struct {
	Approvers []string  `json:"approvers,omitempty"`
	Count     int       `json:"count,omitempty"`
	Timeout   *Duration `json:"timeout,omitempty"`
}

// Blue-green switch modes.
const (
	SwitchInstant = "instant"
	SwitchGradual = "gradual"
)

// BlueGreenStrategy runs the new version (green) beside the old (blue) and switches traffic.
type BlueGreenStrategy struct {
	PreviewService   string    `json:"previewService,omitempty"`
	ValidationPeriod *Duration `json:"validationPeriod,omitempty"`
	// +kubebuilder:validation:Enum=instant;gradual
	Switch string `json:"switch,omitempty"`
	// SwitchSteps are the weights of a gradual switch.
	// +kubebuilder:validation:items:Minimum=1
	// +kubebuilder:validation:items:Maximum=100
	SwitchSteps    []int     `json:"switchSteps,omitempty"`
	ScaleDownDelay *Duration `json:"scaleDownDelay,omitempty"`
	AutoSwitchBack *bool     `json:"autoSwitchBack,omitempty"`
	AutoPromotion  *bool     `json:"autoPromotion,omitempty"`
}

// RollingStrategy replaces replicas in batches.
type RollingStrategy struct {
	MaxSurge       *IntOrPercent `json:"maxSurge,omitempty"`
	MaxUnavailable *IntOrPercent `json:"maxUnavailable,omitempty"`
}

// RecreateStrategy stops the old version, then starts the new one.
type RecreateStrategy struct {
	HoldTimeout *Duration `json:"holdTimeout,omitempty"`
}

// StrategyGovernance is the HugAIDeployment CRD's short form of governance.
type StrategyGovernance struct {
	ApprovalRequired bool     `json:"approvalRequired,omitempty"`
	QualityGates     []string `json:"qualityGates,omitempty"`
}

// AnalysisTemplate is a set of metrics judged together, referenced by name from steps.
type AnalysisTemplate struct {
	Name    string           `json:"name"`
	Args    []Arg            `json:"args,omitempty"`
	Metrics []AnalysisMetric `json:"metrics"`
}

// AnalysisMetric is one measurement, taken Count times every Interval and judged by
// SuccessCondition (the criteria language, e.g. `error_rate<1%`).
type AnalysisMetric struct {
	Name                  string    `json:"name"`
	Provider              string    `json:"provider,omitempty"`
	Query                 string    `json:"query,omitempty"`
	Interval              *Duration `json:"interval,omitempty"`
	Count                 int       `json:"count,omitempty"`
	SuccessCondition      string    `json:"successCondition"`
	FailureLimit          *int      `json:"failureLimit,omitempty"`
	ConsecutiveErrorLimit *int      `json:"consecutiveErrorLimit,omitempty"`
	InconclusiveLimit     *int      `json:"inconclusiveLimit,omitempty"`
	MinimumSamples        int       `json:"minimumSamples,omitempty"`
}

// Governance is who must agree, and which checks must pass.
type Governance struct {
	Approvals   []Approval   `json:"approvals,omitempty"`
	Checkpoints []Checkpoint `json:"checkpoints,omitempty"`
}

type Approval struct {
	Name      string    `json:"name"`
	Required  bool      `json:"required,omitempty"`
	Approvers []string  `json:"approvers,omitempty"`
	Count     int       `json:"count,omitempty"`
	Timeout   *Duration `json:"timeout,omitempty"`
	Reason    string    `json:"reason,omitempty"`
}

// Checkpoint is a quality gate. Automated ones hugai checks itself.
type Checkpoint struct {
	Name      string `json:"name"`
	Required  bool   `json:"required,omitempty"`
	Automated bool   `json:"automated,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// Rollback is how a release is undone, and what undoes it on its own.
type Rollback struct {
	Automatic *bool          `json:"automatic,omitempty"`
	Triggers  []Trigger      `json:"triggers,omitempty"`
	Steps     []RollbackStep `json:"steps,omitempty"`
}

// Trigger fires a rollback when its condition holds. Exactly one field is set per trigger.
//
// +kubebuilder:validation:XValidation:rule="(has(self.errorRateThreshold) ? 1 : 0) + (has(self.latencyThreshold) ? 1 : 0) + (has(self.customMetricThreshold) ? 1 : 0) == 1",message="set exactly one of errorRateThreshold, latencyThreshold, customMetricThreshold"
type Trigger struct {
	// ErrorRateThreshold is a percentage: 1.0 means one percent.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	ErrorRateThreshold    *float64               `json:"errorRateThreshold,omitempty"`
	LatencyThreshold      *Duration              `json:"latencyThreshold,omitempty"`
	CustomMetricThreshold *CustomMetricThreshold `json:"customMetricThreshold,omitempty"`
}

type CustomMetricThreshold struct {
	Metric    string  `json:"metric"`
	Threshold float64 `json:"threshold"`
	// +kubebuilder:validation:Enum=less_than;less_than_or_equal;greater_than;greater_than_or_equal;equal;not_equal
	Comparison string `json:"comparison"`
}

// Rollback step actions, in the order a rollback runs them.
const (
	ActionRedirectTraffic   = "redirect_traffic"
	ActionDeployPrevious    = "deploy_previous_version"
	ActionDatabaseMigration = "apply_database_migrations"
	ActionVerify            = "verify_rollback"
)

// RollbackStep is one ordered step of a rollback, with the time it may take.
type RollbackStep struct {
	Name string `json:"name"`
	// +kubebuilder:validation:Enum=redirect_traffic;deploy_previous_version;apply_database_migrations;verify_rollback
	Action           string    `json:"action"`
	Target           string    `json:"target,omitempty"`
	MaxDuration      *Duration `json:"maxDuration,omitempty"`
	RequiresApproval bool      `json:"requiresApproval,omitempty"`
	Checks           []string  `json:"checks,omitempty"`
}

// Monitoring is what is watched during and after the rollout.
type Monitoring struct {
	Enabled      *bool         `json:"enabled,omitempty"`
	Duration     *Duration     `json:"duration,omitempty"`
	HealthChecks []HealthCheck `json:"healthChecks,omitempty"`
	Metrics      []string      `json:"metrics,omitempty"`
	Alerting     *Alerting     `json:"alerting,omitempty"`
}

type Alerting struct {
	Enabled  *bool    `json:"enabled,omitempty"`
	Channels []string `json:"channels,omitempty"`
}

// Risk is the change's assessed risk, each factor with its reason.
type Risk struct {
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Score int `json:"score"`
	// +kubebuilder:validation:Enum=low;medium;high;critical
	Level   string       `json:"level"`
	Factors []RiskFactor `json:"factors,omitempty"`
}

type RiskFactor struct {
	Name         string  `json:"name"`
	Contribution float64 `json:"contribution"`
	Reason       string  `json:"reason"`
}

// Changes summarises the change being deployed.
type Changes struct {
	From       string        `json:"from,omitempty"`
	To         string        `json:"to,omitempty"`
	FromCommit string        `json:"fromCommit,omitempty"`
	ToCommit   string        `json:"toCommit,omitempty"`
	Commits    int           `json:"commits"`
	Added      int           `json:"added,omitempty"`
	Deleted    int           `json:"deleted,omitempty"`
	Files      []ChangedFile `json:"files,omitempty"`
	// OmittedFiles counts changed files left out of Files (the smallest changes, past the cap).
	OmittedFiles int `json:"omittedFiles,omitempty"`
	// Note says why there is no change analysis, when there is none.
	Note string `json:"note,omitempty"`
}

type ChangedFile struct {
	Path    string `json:"path"`
	OldPath string `json:"oldPath,omitempty"`
	Class   string `json:"class"`
	Added   int    `json:"added"`
	Deleted int    `json:"deleted"`
}

// HugAIDeployment is the seed's CRD form of a rollout.
type HugAIDeployment struct {
	APIVersion string              `json:"apiVersion"`
	Kind       string              `json:"kind"`
	Metadata   Metadata            `json:"metadata"`
	Spec       HugAIDeploymentSpec `json:"spec"`
}

// HugAIDeploymentSpec says what to deploy (service, version, environment) and how: either its own
// strategy (with rollout, monitoring, rollback), or a DeploymentPlan of the same namespace named by
// planRef, reviewed once and shared, which then supplies everything but what is deployed.
//
// +kubebuilder:validation:XValidation:rule="has(self.strategy) || has(self.planRef)",message="set spec.strategy, or spec.planRef naming the DeploymentPlan that supplies it"
// +kubebuilder:validation:XValidation:rule="!has(self.planRef) || !(has(self.strategy) || has(self.rollout) || has(self.monitoring) || has(self.rollback))",message="spec.planRef: the DeploymentPlan supplies strategy, rollout, monitoring and rollback; leave them out of the HugAIDeployment"
type HugAIDeploymentSpec struct {
	Service     string `json:"service,omitempty"`
	Version     string `json:"version,omitempty"`
	Environment string `json:"environment,omitempty"`
	// PlanRef names a DeploymentPlan in the HugAIDeployment's namespace that supplies how the
	// version is rolled out (strategy, governance, analysis, rollback, monitoring); the
	// HugAIDeployment then has none of its own.
	// +optional
	PlanRef *PlanRef `json:"planRef,omitempty"`
	// Strategy is required unless planRef is set.
	// +optional
	Strategy   Strategy      `json:"strategy,omitempty,omitzero"`
	Monitoring *Monitoring   `json:"monitoring,omitempty"`
	Rollout    *RolloutSteps `json:"rollout,omitempty"`
	Rollback   *Rollback     `json:"rollback,omitempty"`
}

// PlanRef names a DeploymentPlan in the same namespace.
type PlanRef struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// RolloutSteps is the CRD's short form of canary steps.
type RolloutSteps struct {
	Steps []WeightStep `json:"steps"`
}

type WeightStep struct {
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Weight int      `json:"weight"`
	Pause  *Seconds `json:"pause,omitempty"`
}
