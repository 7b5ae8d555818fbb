package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DeploymentAction is a person's command to a HugAIDeployment's rollout: approve, reject,
// promote, abort, resume or roll back. It is how `hugai deploy approve … --target kubernetes` and
// `kubectl create` reach the operator, and it is what records who decided: the admission policy
// in config/rbac (hugai-action-identity) makes the API server refuse an action whose spec.user and
// spec.groups are not those of the request that creates it, and refuses any change to its spec
// afterwards, so the name the operator audits is the one the API server authenticated.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=hda,categories=hugai
// +kubebuilder:printcolumn:name="Deployment",type=string,JSONPath=`.spec.deployment`
// +kubebuilder:printcolumn:name="Action",type=string,JSONPath=`.spec.action`
// +kubebuilder:printcolumn:name="User",type=string,JSONPath=`.spec.user`
// +kubebuilder:printcolumn:name="Result",type=string,JSONPath=`.status.result`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DeploymentAction struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DeploymentActionSpec   `json:"spec"`
	Status DeploymentActionStatus `json:"status,omitempty"`
}

// DeploymentActionSpec is the command.
type DeploymentActionSpec struct {
	// Deployment names the HugAIDeployment, in the action's namespace.
	// +kubebuilder:validation:MinLength=1
	Deployment string `json:"deployment"`
	// Rollout names the rollout the command is for (status.rolloutID when it was given); a
	// command for an earlier rollout is refused instead of acting on a newer one. Empty: the
	// current rollout.
	// +optional
	Rollout string `json:"rollout,omitempty"`
	// Action is the command, as `hugai deploy <action>` names it.
	// +kubebuilder:validation:Enum=approve;reject;promote;abort;resume;rollback
	Action string `json:"action"`
	// Gate names the approval gate or optional checkpoint an approve or reject is for.
	// +optional
	Gate string `json:"gate,omitempty"`
	// Comment is recorded with the decision.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Comment string `json:"comment,omitempty"`
	// Full: a promote skips the remaining steps.
	// +optional
	Full bool `json:"full,omitempty"`
	// Emergency: a rollback skips the database approval.
	// +optional
	Emergency bool `json:"emergency,omitempty"`
	// User and Groups are who creates the action, as the API server authenticated them: the
	// admission policy refuses any other value.
	// +kubebuilder:validation:MinLength=1
	User string `json:"user"`
	// +optional
	Groups []string `json:"groups,omitempty"`
}

// DeploymentActionStatus is what the operator did with the action. An action is carried out
// once: an action with a result is never acted on again.
type DeploymentActionStatus struct {
	// Result is Done when the command was carried out, Refused when hugai refused it (policy,
	// a rollout that is not waiting for it, an earlier rollout).
	// +kubebuilder:validation:Enum=Done;Refused
	// +optional
	Result string `json:"result,omitempty"`
	// Code says why a command was refused, as hugai's API says it: denied (the policy),
	// conflict (the rollout is not where the command applies), bad_input, not_found.
	// +optional
	Code string `json:"code,omitempty"`
	// Message says why a command was refused, or what it did.
	// +optional
	Message string `json:"message,omitempty"`
	// Rollout is the rollout the command acted on.
	// +optional
	Rollout string `json:"rollout,omitempty"`
	// Phase is the rollout's phase after the command.
	// +optional
	Phase string `json:"phase,omitempty"`
	// +optional
	Time *metav1.Time `json:"time,omitempty"`
}

// DeploymentActionList is a list of DeploymentActions.
//
// +kubebuilder:object:root=true
type DeploymentActionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DeploymentAction `json:"items"`
}
