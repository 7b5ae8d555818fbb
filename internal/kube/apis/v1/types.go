package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/hugai-dev/hugai/internal/plan"
)

// GroupVersion is hugai.io/v1.
var GroupVersion = schema.GroupVersion{Group: "hugai.io", Version: "v1"}

// AddToScheme registers DeploymentPlan, HugAIDeployment and DeploymentAction (and their lists) in a
// scheme.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&DeploymentPlan{}, &DeploymentPlanList{},
		&HugAIDeployment{}, &HugAIDeploymentList{},
		&DeploymentAction{}, &DeploymentActionList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// DeploymentPlan is a reviewable rollout in the cluster: the same spec as a plan file written by
// `hugai deploy plan`, and the rollout's state in its status.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dplan;dplans,categories=hugai
// +kubebuilder:printcolumn:name="Service",type=string,JSONPath=`.spec.service`,priority=1
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.version`,priority=1
// +kubebuilder:printcolumn:name="Strategy",type=string,JSONPath=`.spec.strategy.type`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Step",type=string,JSONPath=`.status.step`
// +kubebuilder:printcolumn:name="Weight",type=integer,JSONPath=`.status.weight`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DeploymentPlan struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   plan.PlanSpec `json:"spec"`
	Status RolloutStatus `json:"status,omitempty"`
}

// DeploymentPlanList is a list of DeploymentPlans.
//
// +kubebuilder:object:root=true
type DeploymentPlanList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DeploymentPlan `json:"items"`
}

// HugAIDeployment is the seed's short form of a rollout (strategy, monitoring, weight steps,
// rollback triggers), read as the plan it runs as; or, with spec.planRef, the service and version
// a DeploymentPlan of its namespace rolls out (the plan's status is then not written: the
// rollout's is this object's).
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=hd;hds,categories=hugai
// +kubebuilder:printcolumn:name="Service",type=string,JSONPath=`.spec.service`,priority=1
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.version`,priority=1
// +kubebuilder:printcolumn:name="Plan",type=string,JSONPath=`.spec.planRef.name`,priority=1
// +kubebuilder:printcolumn:name="Strategy",type=string,JSONPath=`.spec.strategy.type`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Step",type=string,JSONPath=`.status.step`
// +kubebuilder:printcolumn:name="Weight",type=integer,JSONPath=`.status.weight`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type HugAIDeployment struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   plan.HugAIDeploymentSpec `json:"spec"`
	Status RolloutStatus            `json:"status,omitempty"`
}

// HugAIDeploymentList is a list of HugAIDeployments.
//
// +kubebuilder:object:root=true
type HugAIDeploymentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []HugAIDeployment `json:"items"`
}

// RolloutStatus is where a rollout's state lives in the cluster. It is written by whoever runs the
// engine against the object (the operator, or the CLI without one), once per reconcile, through
// the status subresource.
type RolloutStatus struct {
	// Phase is the rollout's phase, as `hugai deploy status` prints it.
	// +kubebuilder:validation:Enum=Pending;AwaitingApproval;Progressing;Paused;Promoting;Verifying;Succeeded;RollingBack;RolledBack;Aborted;Failed
	// +optional
	Phase string `json:"phase,omitempty"`
	// Reason says why a rollout ended where it did (analysis, aborted, rejected, approval-timeout).
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message is a sentence for people.
	// +optional
	Message string `json:"message,omitempty"`
	// CurrentStepIndex is the index of the step in progress (0-based, as Argo Rollouts counts).
	// +kubebuilder:validation:Minimum=0
	// +optional
	CurrentStepIndex *int32 `json:"currentStepIndex,omitempty"`
	// Step is the step in progress for people, as "n/total" (kubectl's STEP column).
	// +optional
	Step string `json:"step,omitempty"`
	// Weight is the share of traffic the new version receives, in percent.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	Weight int32 `json:"weight,omitempty"`
	// StableVersion and CanaryVersion are the versions the weight is split between.
	// +optional
	StableVersion string `json:"stableVersion,omitempty"`
	// +optional
	CanaryVersion string `json:"canaryVersion,omitempty"`
	// ObservedGeneration is the spec generation this status describes: a newer spec restarts the
	// analysis instead of mixing its evidence with the old one's.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions are the standard Kubernetes conditions (Progressing, Available, Analysed…).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// The fields below are the store the engine runs on (internal/store/kubestore): written in
	// one status update per decision, with the audit events of that decision.

	// Rollout is the current rollout's record: the one running, or the last one that ran.
	// +optional
	Rollout *RolloutRecord `json:"rollout,omitempty"`
	// ReleasedRollout is the record of the rollout that made the current release, kept whole
	// once a later rollout has replaced it as the current one, so that the release can still be
	// rolled back (that needs its frozen plan and state). Empty while it is the current one.
	// +optional
	ReleasedRollout *RolloutRecord `json:"releasedRollout,omitempty"`
	// History is what is kept of earlier rollouts, newest first (at most 20).
	// +optional
	History []RolloutSummary `json:"history,omitempty"`
	// Approvals are the current rollout's decisions at its gates, oldest first (at most 32).
	// +optional
	Approvals []ApprovalRecord `json:"approvals,omitempty"`
	// Measurements are the current rollout's latest judged metric queries, oldest first (at
	// most 48).
	// +optional
	Measurements []MeasurementRecord `json:"measurements,omitempty"`
	// Releases are the last versions that became stable, newest first (at most 10).
	// +optional
	Releases []ReleaseRecord `json:"releases,omitempty"`
	// RolloutSequence is the number of the last rollout started here (IDs "<name>-<n>").
	// +optional
	RolloutSequence int64 `json:"rolloutSequence,omitempty"`
	// Audit is the object's audit chain: head, newest events, and where the older ones are.
	// +optional
	Audit *AuditStatus `json:"audit,omitempty"`
}
