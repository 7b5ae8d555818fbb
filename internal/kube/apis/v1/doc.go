// Package v1 is hugai's Kubernetes API, group hugai.io, version v1: the DeploymentPlan and
// HugAIDeployment custom resources. Their specs are internal/plan's own types, so a plan file, the
// server's API and the CRDs share one spec; this package only adds what Kubernetes needs around
// them (ObjectMeta, a status, deep copies, registration). The CRDs under config/crd are generated
// from these types by controller-gen (go generate ./internal/kube/apis/v1).
//
// +kubebuilder:object:generate=true
// +groupName=hugai.io
package v1

// The deep copies of plan's spec types are generated into internal/plan (pure Go, no imports), the
// CRDs into config/crd; TestCRDsUpToDate (internal/kube/crdgen) checks the committed CRDs.
//go:generate sh -c "cd ../../../.. && go run ./internal/kube/crdgen"
