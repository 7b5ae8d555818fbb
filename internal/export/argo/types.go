package argo

import (
	"encoding/json"
	"strconv"
)

// The few Argo Rollouts (argoproj.io/v1alpha1) types the export writes, field names as in Argo's
// pkg/apis/rollouts/v1alpha1. Argo's Go module cannot be imported here (it pins k8s.io/kubernetes
// through replace lines), and the export needs a small, fixed subset of it; the kube-tagged test
// checks every object against Argo's published CRDs in a real API server.

// APIVersion is Argo Rollouts' API group and version.
const APIVersion = "argoproj.io/v1alpha1"

// Metadata is the part of ObjectMeta an exported object sets.
type Metadata struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Rollout is Argo's Rollout, its pod template taken from the user's Deployment (workloadRef).
type Rollout struct {
	APIVersion string      `json:"apiVersion"`
	Kind       string      `json:"kind"`
	Metadata   Metadata    `json:"metadata"`
	Spec       RolloutSpec `json:"spec"`
}

type RolloutSpec struct {
	Replicas                *int32       `json:"replicas,omitempty"`
	WorkloadRef             *WorkloadRef `json:"workloadRef"`
	Strategy                Strategy     `json:"strategy"`
	ProgressDeadlineSeconds *int32       `json:"progressDeadlineSeconds,omitempty"`
}

type WorkloadRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
}

type Strategy struct {
	Canary    *Canary    `json:"canary,omitempty"`
	BlueGreen *BlueGreen `json:"blueGreen,omitempty"`
}

type Canary struct {
	CanaryService         string           `json:"canaryService,omitempty"`
	StableService         string           `json:"stableService,omitempty"`
	Steps                 []Step           `json:"steps,omitempty"`
	Analysis              *RolloutAnalysis `json:"analysis,omitempty"`
	TrafficRouting        *TrafficRouting  `json:"trafficRouting,omitempty"`
	MaxSurge              *IntOrString     `json:"maxSurge,omitempty"`
	MaxUnavailable        *IntOrString     `json:"maxUnavailable,omitempty"`
	ScaleDownDelaySeconds *int32           `json:"scaleDownDelaySeconds,omitempty"`
}

// Step is one of Argo's one-action canary steps.
type Step struct {
	SetWeight *int32           `json:"setWeight,omitempty"`
	Pause     *Pause           `json:"pause,omitempty"`
	Analysis  *RolloutAnalysis `json:"analysis,omitempty"`
}

// Pause with no Duration waits for `kubectl argo rollouts promote`.
type Pause struct {
	Duration string `json:"duration,omitempty"`
}

type RolloutAnalysis struct {
	Templates []TemplateRef `json:"templates"`
	Args      []Arg         `json:"args,omitempty"`
}

type TemplateRef struct {
	TemplateName string `json:"templateName"`
}

// TrafficRouting holds the gatewayAPI plugin's configuration (argoproj-labs/rollouts-plugin-trafficrouter-gatewayapi)
// or Argo's built-in Istio router's.
type TrafficRouting struct {
	Plugins map[string]GatewayAPIPlugin `json:"plugins,omitempty"`
	Istio   *IstioTrafficRouting        `json:"istio,omitempty"`
}

// IstioTrafficRouting is Argo's host-level Istio splitting: it sets the weights of the stable and
// canary Services' destinations in the named http routes of the VirtualService.
type IstioTrafficRouting struct {
	VirtualService *IstioVirtualService `json:"virtualService,omitempty"`
}

type IstioVirtualService struct {
	Name   string   `json:"name"`
	Routes []string `json:"routes,omitempty"`
}

// GatewayAPIPluginName is the name Argo's configmap registers the Gateway API plugin under.
const GatewayAPIPluginName = "argoproj-labs/gatewayAPI"

type GatewayAPIPlugin struct {
	HTTPRoute string `json:"httpRoute"`
	Namespace string `json:"namespace,omitempty"`
}

type BlueGreen struct {
	ActiveService         string           `json:"activeService"`
	PreviewService        string           `json:"previewService,omitempty"`
	AutoPromotionEnabled  *bool            `json:"autoPromotionEnabled,omitempty"`
	ScaleDownDelaySeconds *int32           `json:"scaleDownDelaySeconds,omitempty"`
	PrePromotionAnalysis  *RolloutAnalysis `json:"prePromotionAnalysis,omitempty"`
	PostPromotionAnalysis *RolloutAnalysis `json:"postPromotionAnalysis,omitempty"`
}

// IntOrString is a count or a percentage, written as Kubernetes' intstr writes it.
type IntOrString struct {
	Int     int32
	Percent bool
}

func (v IntOrString) MarshalJSON() ([]byte, error) {
	if v.Percent {
		return json.Marshal(strconv.Itoa(int(v.Int)) + "%")
	}
	return json.Marshal(v.Int)
}

// AnalysisTemplate is Argo's AnalysisTemplate.
type AnalysisTemplate struct {
	APIVersion string       `json:"apiVersion"`
	Kind       string       `json:"kind"`
	Metadata   Metadata     `json:"metadata"`
	Spec       TemplateSpec `json:"spec"`
}

type TemplateSpec struct {
	Args    []Arg    `json:"args,omitempty"`
	Metrics []Metric `json:"metrics"`
}

// Arg is a template argument: a value, none (the Rollout passes it), or a Secret's key.
type Arg struct {
	Name      string     `json:"name"`
	Value     *string    `json:"value,omitempty"`
	ValueFrom *ValueFrom `json:"valueFrom,omitempty"`
}

type ValueFrom struct {
	SecretKeyRef *SecretKeyRef `json:"secretKeyRef,omitempty"`
	// PodTemplateHashValue (Latest or Stable) is a Rollout's analysis argument only: the
	// pod-template hash of the canary's or the stable ReplicaSet.
	PodTemplateHashValue *string `json:"podTemplateHashValue,omitempty"`
}

type SecretKeyRef struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

type Metric struct {
	Name                  string   `json:"name"`
	Interval              string   `json:"interval,omitempty"`
	Count                 *int32   `json:"count,omitempty"`
	SuccessCondition      string   `json:"successCondition,omitempty"`
	FailureCondition      string   `json:"failureCondition,omitempty"`
	FailureLimit          *int32   `json:"failureLimit,omitempty"`
	InconclusiveLimit     *int32   `json:"inconclusiveLimit,omitempty"`
	ConsecutiveErrorLimit *int32   `json:"consecutiveErrorLimit,omitempty"`
	Provider              Provider `json:"provider"`
}

type Provider struct {
	Prometheus *Prometheus `json:"prometheus,omitempty"`
	Web        *Web        `json:"web,omitempty"`
}

type Prometheus struct {
	Address string   `json:"address"`
	Query   string   `json:"query"`
	Headers []Header `json:"headers,omitempty"`
}

type Web struct {
	URL      string   `json:"url"`
	JSONPath string   `json:"jsonPath,omitempty"`
	Headers  []Header `json:"headers,omitempty"`
}

type Header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}
