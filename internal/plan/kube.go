// The +kubebuilder lines in plan are comments for controller-gen, which generates the CRDs of
// internal/kube/apis/v1 and the deep copies in zz_generated.deepcopy.go from these very types, so
// that a plan file and a DeploymentPlan object cannot drift apart; plan imports nothing of
// Kubernetes. Run `go generate ./internal/kube/apis/v1` after changing a spec type.
//
// +kubebuilder:object:generate=true
package plan
