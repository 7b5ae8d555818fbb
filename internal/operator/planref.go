package operator

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/yaml"

	hugaiv1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/store"
)

// A HugAIDeployment with spec.planRef says what to deploy; the DeploymentPlan it names, in its
// namespace, says how. The functions here find that plan, build the document the engine runs from
// it, and tell from the cluster alone whether it changed under a rollout.

// referencedPlan reads the DeploymentPlan hd's spec.planRef names, from the cache (DeploymentPlans
// are watched: its creation wakes hd, so a missing one is said and waited for, not retried).
func (r *Reconciler) referencedPlan(ctx context.Context, hd *hugaiv1.HugAIDeployment) (*hugaiv1.DeploymentPlan, error) {
	key := types.NamespacedName{Namespace: hd.Namespace, Name: hd.Spec.PlanRef.Name}
	var dp hugaiv1.DeploymentPlan
	if err := r.cache.Get(ctx, key, &dp); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &invalidError{"PlanMissing", fmt.Sprintf("DeploymentPlan %s, named by spec.planRef of HugAIDeployment %s/%s, does not exist: the rollout starts when it is created", key, hd.Namespace, hd.Name)}
		}
		return nil, fmt.Errorf("DeploymentPlan %s of %s/%s: %w", key, hd.Namespace, hd.Name, err)
	}
	return &dp, nil
}

// deploymentsOfPlan are the HugAIDeployments of a DeploymentPlan's namespace whose spec.planRef
// names it.
func (r *Reconciler) deploymentsOfPlan(ctx context.Context, o client.Object) []reconcile.Request {
	var list hugaiv1.HugAIDeploymentList
	if err := r.cache.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, d := range list.Items {
		if ref := d.Spec.PlanRef; ref != nil && ref.Name == o.GetName() {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: d.Namespace, Name: d.Name}})
		}
	}
	return out
}

// planRefDocument is the DeploymentPlan dp as the engine runs it for hd: dp's spec whole, with
// hd's service (default: its name), version and environment (default: its namespace) — which dp
// may leave out or must repeat exactly — and annotations saying which plan, at which uid and
// generation, it was built from.
func planRefDocument(hd *hugaiv1.HugAIDeployment, dp *hugaiv1.DeploymentPlan) ([]byte, error) {
	if dp == nil {
		return nil, fmt.Errorf("hugaideployment %s/%s: no DeploymentPlan given for spec.planRef", hd.Namespace, hd.Name)
	}
	what := plan.HugAIDeployment{Metadata: plan.Metadata{Name: hd.Name, Namespace: hd.Namespace}, Spec: hd.Spec}
	// The operator's defaults, as for a HugAIDeployment of its own strategy: the service file and
	// the rollouts are looked up by these, so a plan naming others is a mismatch, not a choice.
	what.Spec.Service, what.Spec.Environment = serviceName(hd), environment(hd)
	how := plan.DeploymentPlan{
		APIVersion: hugaiv1.GroupVersion.String(), Kind: plan.KindDeploymentPlan,
		Metadata: plan.Metadata{Name: dp.Name, Namespace: dp.Namespace, Labels: dp.Labels, Annotations: dp.Annotations},
		Spec:     dp.Spec,
	}
	p, err := what.WithPlan(&how)
	if err != nil {
		var mm *plan.MismatchError
		if errors.As(err, &mm) {
			return nil, &invalidError{"InvalidSpec", err.Error()}
		}
		return nil, err
	}
	p.Metadata.Annotations[plan.AnnotationPlanGeneration] = planSource(dp)
	if by := hd.Annotations[AnnotationRequestedBy]; by != "" {
		p.Metadata.Annotations[plan.AnnotationPlannedBy] = by
	}
	b, err := plan.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("hugaideployment %s/%s with DeploymentPlan %s: %w", hd.Namespace, hd.Name, dp.Name, err)
	}
	return b, nil
}

// planSource is what identifies one version of a DeploymentPlan: its uid (a plan deleted and
// created again is another plan) and its generation (every edit of the spec bumps it).
func planSource(dp *hugaiv1.DeploymentPlan) string {
	if dp == nil {
		return ""
	}
	return fmt.Sprintf("%s/%d", dp.UID, dp.Generation)
}

// frozenPlanSource is the planSource the current rollout's frozen plan was built from ("" when it
// was not built from a DeploymentPlan, or there is no rollout).
func frozenPlanSource(hd *hugaiv1.HugAIDeployment) string {
	rec := hd.Status.Rollout
	if rec == nil || rec.Plan == "" {
		return ""
	}
	var frozen struct {
		Metadata struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal([]byte(rec.Plan), &frozen); err != nil {
		return ""
	}
	return frozen.Metadata.Annotations[plan.AnnotationPlanGeneration]
}

// inFlight says whether hd's current rollout has not ended.
func inFlight(hd *hugaiv1.HugAIDeployment) bool {
	return hd.Status.Rollout != nil && store.IsActive(hd.Status.Rollout.Phase)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
