package v1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// The types below are what internal/store/kubestore keeps in a HugAIDeployment's status: the
// engine's whole state for the object's one service environment, so that an operator (or the CLI
// without one) holds nothing in memory and a restarted one carries on from the object. Times
// that are hashed or compared to the microsecond are MicroTime (metav1.Time keeps seconds only).

// RolloutRecord is the rollout the engine is running (or ran last): its frozen plan and service
// file and the engine's state, as internal/store keeps a rollout.
type RolloutRecord struct {
	// ID is "<hugaideployment-name>-<n>", n from rolloutSequence.
	ID string `json:"id"`
	// Service and Environment are the plan's; one HugAIDeployment holds one of each.
	Service string `json:"service"`
	// +optional
	Environment string `json:"environment,omitempty"`
	// Version is the candidate; PreviousVersion the stable version it started from.
	Version string `json:"version"`
	// +optional
	PreviousVersion string `json:"previousVersion,omitempty"`
	// Strategy is the strategy the plan was frozen with (canary, blueGreen, rolling, recreate…).
	// +optional
	Strategy string `json:"strategy,omitempty"`
	// Phase and Reason are the engine's, as the summary's phase and reason repeat them.
	Phase string `json:"phase"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// Plan is the frozen plan (YAML) the rollout runs, whatever the spec says since.
	// +optional
	Plan string `json:"plan,omitempty"`
	// PlanSHA256 is the hex SHA-256 of Plan, as audited when the rollout was requested.
	// +optional
	PlanSHA256 string `json:"planSHA256,omitempty"`
	// ServiceFile is the frozen service file (YAML) the rollout runs with.
	// +optional
	ServiceFile string `json:"serviceFile,omitempty"`
	// State is the engine's state of the rollout, JSON the store keeps as it was given.
	// +optional
	State string `json:"state,omitempty"`
	// Revision is bumped by every write of the record: a writer holding an older one loses.
	Revision int64 `json:"revision"`
	// Generation is the metadata.generation of the HugAIDeployment the rollout was started for;
	// status.observedGeneration is set from it.
	// +optional
	Generation int64 `json:"generation,omitempty"`
	// CreatedBy is who started the rollout.
	// +optional
	CreatedBy string           `json:"createdBy,omitempty"`
	CreatedAt metav1.MicroTime `json:"createdAt"`
	UpdatedAt metav1.MicroTime `json:"updatedAt"`
}

// RolloutSummary is what is kept of an earlier rollout once a new one starts.
type RolloutSummary struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	// +optional
	PreviousVersion string `json:"previousVersion,omitempty"`
	// +optional
	Strategy string `json:"strategy,omitempty"`
	Phase    string `json:"phase"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	CreatedBy string           `json:"createdBy,omitempty"`
	CreatedAt metav1.MicroTime `json:"createdAt"`
	UpdatedAt metav1.MicroTime `json:"updatedAt"`
}

// ApprovalRecord is a person's decision at an approval gate of the current rollout.
type ApprovalRecord struct {
	Gate string `json:"gate"`
	// Actor is the identity that decided, as the engine was told it (for the operator: the
	// Kubernetes user the API server authenticated).
	Actor string `json:"actor"`
	// +kubebuilder:validation:Enum=approved;rejected
	Decision string `json:"decision"`
	// +optional
	Comment string           `json:"comment,omitempty"`
	Time    metav1.MicroTime `json:"time"`
}

// MeasurementRecord is one judged metric query of the current rollout.
type MeasurementRecord struct {
	Step    int32  `json:"step"`
	Metric  string `json:"metric"`
	Version string `json:"version"`
	// Phase is Successful, Failed, Inconclusive or Error.
	Phase string `json:"phase"`
	// Value is the measured value, as a decimal string: CRDs have no float type that round-trips.
	Value string `json:"value"`
	// +optional
	Message    string           `json:"message,omitempty"`
	StartedAt  metav1.MicroTime `json:"startedAt"`
	FinishedAt metav1.MicroTime `json:"finishedAt"`
}

// ReleaseRecord says a version became the stable one of the service in the environment.
type ReleaseRecord struct {
	Version string `json:"version"`
	// +optional
	RolloutID string           `json:"rolloutID,omitempty"`
	Time      metav1.MicroTime `json:"time"`
}

// AuditStatus is the object's audit chain: its head, and its newest events; older events are
// sealed, in order, into immutable ConfigMaps labelled hugai.io/audit-of=<name>.
type AuditStatus struct {
	// HeadSeq and HeadHash are the last event's sequence number and hash, kept apart from the
	// events so that cutting events off the end is detected.
	// +optional
	HeadSeq int64 `json:"headSeq,omitempty"`
	// +optional
	HeadHash string `json:"headHash,omitempty"`
	// SealedThrough is the last seq written to a segment ConfigMap; the tail starts after it.
	// +optional
	SealedThrough int64 `json:"sealedThrough,omitempty"`
	// Tail is the newest events (at most a bound the store sets), oldest first.
	// +optional
	Tail []AuditEvent `json:"tail,omitempty"`
}

// AuditEvent is one event of the chain, exactly as hashed (internal/audit).
type AuditEvent struct {
	Seq     int64  `json:"seq"`
	Subject string `json:"subject"`
	Type    string `json:"type"`
	// +optional
	Actor string           `json:"actor,omitempty"`
	Time  metav1.MicroTime `json:"time"`
	// Payload is the event's compact JSON text.
	// +optional
	Payload  string `json:"payload,omitempty"`
	PrevHash string `json:"prevHash"`
	Hash     string `json:"hash"`
}
