// Package operator is `hugai operator`: a Kubernetes controller (controller-runtime) that runs each
// HugAIDeployment's rollout with the same engine as `hugai server`, keeping the rollout's state,
// its approvals and its audit chain in the cluster (internal/store/kubestore) instead of SQLite.
//
// One reconcile of a HugAIDeployment:
//  1. reads the service file from the ConfigMap labelled hugai.io/service-file=<spec.service> in the
//     object's namespace (key hugai.yaml);
//  2. starts a rollout when the spec's generation is newer than the one the current rollout was
//     started for (a rollout still in flight is aborted first: a new generation starts its
//     analysis afresh and never mixes evidence with the old one's);
//  3. carries out the DeploymentActions made for it (approve, reject, promote, abort, resume,
//     rollback), as the user the API server authenticated (config/rbac's admission policy);
//  4. ticks the engine once — observe, rollout.Step, one status write, drive the target — and
//     requeues at the time the Step asked for.
//
// Kubernetes Events record each transition; leader election keeps one operator acting.
package operator
