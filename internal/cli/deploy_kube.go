package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/engine"
	hugaiv1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/kubestore"
)

// kubeTarget is --target kubernetes on the commands that act on a running rollout: the argument
// names a HugAIDeployment instead of a rollout ID, its state is read from the cluster, and a
// command becomes a DeploymentAction that `hugai operator` carries out as the user the API server
// authenticated.
type kubeTarget struct {
	kubeFlags
	target    string
	namespace string
	timeout   time.Duration
}

func (k *kubeTarget) add(c *cobra.Command) {
	c.Flags().StringVar(&k.target, "target", "", "kubernetes: act on a HugAIDeployment (the argument) through the cluster and `hugai operator`")
	c.Flags().StringVar(&k.kubeconfig, "kubeconfig", "", "with --target kubernetes: the kubeconfig (default: $KUBECONFIG, else ~/.kube/config)")
	c.Flags().StringVar(&k.context, "context", "", "with --target kubernetes: the kubeconfig context")
	c.Flags().StringVarP(&k.namespace, "namespace", "n", "", "with --target kubernetes: the HugAIDeployment's namespace (default: the context's)")
	c.Flags().DurationVar(&k.timeout, "operator-timeout", time.Minute, "with --target kubernetes: how long to wait for the operator to carry a command out")
}

// on says whether --target kubernetes was given; any other value is refused.
func (k *kubeTarget) on() (bool, error) {
	switch k.target {
	case "":
		return false, nil
	case "kubernetes":
		return true, nil
	}
	return false, badInput(fmt.Errorf("--target %q: the only target these commands reach directly is kubernetes (the local target is reached through its server)", k.target))
}

// connect opens the cluster and names the HugAIDeployment.
func (k *kubeTarget) connect(name string) (client.Client, types.NamespacedName, error) {
	c, ns, err := k.hugaiClient(k.namespace)
	if err != nil {
		return nil, types.NamespacedName{}, err
	}
	return c, types.NamespacedName{Namespace: ns, Name: name}, nil
}

// kubeRollout reads the HugAIDeployment's current rollout as `deploy status` shows one.
func kubeRollout(ctx context.Context, c client.Client, key types.NamespacedName) (api.Rollout, error) {
	st := kubestore.New(c, key, kubestore.Options{})
	rs, err := st.Rollouts(ctx, store.Filter{Limit: 1})
	if errors.Is(err, store.ErrNotFound) || apierrors.IsNotFound(err) {
		return api.Rollout{}, badInput(fmt.Errorf("no HugAIDeployment %s in namespace %s", key.Name, key.Namespace))
	}
	if err != nil {
		return api.Rollout{}, withCode(ExitFailed, fmt.Errorf("hugaideployment %s: %w", key, err))
	}
	if len(rs) == 0 {
		var hd hugaiv1.HugAIDeployment
		msg := "no rollout yet: is `hugai operator` running?"
		if err := c.Get(ctx, key, &hd); err == nil {
			for _, cond := range hd.Status.Conditions {
				if cond.Type == "Ready" && cond.Status == metav1.ConditionFalse {
					msg = fmt.Sprintf("no rollout: %s: %s", cond.Reason, cond.Message)
				}
			}
		}
		return api.Rollout{}, withCode(ExitFailed, fmt.Errorf("hugaideployment %s: %s", key, msg))
	}
	// The engine's view needs no runtime: only the rollout's own frozen plan and state.
	return engine.New(engine.Config{Store: st}).View(rs[0])
}

func (a *app) kubeStatus(ctx context.Context, k *kubeTarget, name, output string, watch bool) error {
	c, key, err := k.connect(name)
	if err != nil {
		return err
	}
	r, err := kubeRollout(ctx, c, key)
	if err != nil {
		return err
	}
	if !watch {
		return a.print(output, r, func(w io.Writer) error {
			_, err := io.WriteString(w, renderLive(r, time.Now()))
			return err
		})
	}
	if output != "table" {
		return badInput(errors.New("--watch prints the live view; leave out --output"))
	}
	fmt.Fprintln(a.out, r.ID)
	end, err := a.kubeFollow(ctx, c, key, r)
	if err != nil {
		return withCode(ExitFailed, err)
	}
	return resultOf(end)
}

// kubeFollow prints the rollout each time it changes until it ends.
func (a *app) kubeFollow(ctx context.Context, c client.Client, key types.NamespacedName, r api.Rollout) (api.Rollout, error) {
	last := int64(-1)
	for {
		if r.Revision != last {
			last = r.Revision
			fmt.Fprintf(a.out, "%s  %s %s, step %d, weights %v\n", time.Now().Format("15:04:05"), r.ID, strings.Join(nonEmpty(r.Phase, r.Reason), " "), r.CurrentStep+1, r.Weights)
		}
		if r.Terminal {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(time.Second):
		}
		next, err := kubeRollout(ctx, c, key)
		if err != nil {
			return r, err
		}
		if next.ID != r.ID && r.ID != "" {
			// A new generation replaced the rollout being followed: that one ended (Aborted).
			return next, nil
		}
		r = next
	}
}

// kubeCommand makes a DeploymentAction and waits for the operator's answer.
func (a *app) kubeCommand(ctx context.Context, k *kubeTarget, s commandSpec, cmd api.Command, name, output string, detach bool) error {
	c, key, err := k.connect(name)
	if err != nil {
		return err
	}
	var hd hugaiv1.HugAIDeployment
	if err := c.Get(ctx, key, &hd); err != nil {
		if apierrors.IsNotFound(err) {
			return badInput(fmt.Errorf("no HugAIDeployment %s in namespace %s", key.Name, key.Namespace))
		}
		return withCode(ExitFailed, err)
	}
	// Who the API server says we are: the admission policy refuses an action naming anyone else.
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return withCode(ExitFailed, fmt.Errorf("who am I (SelfSubjectReview): %w", err))
	}
	current := ""
	if hd.Status.Rollout != nil {
		current = hd.Status.Rollout.ID
	}
	act := &hugaiv1.DeploymentAction{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, GenerateName: key.Name + "-" + string(s.kind) + "-"},
		Spec: hugaiv1.DeploymentActionSpec{
			Deployment: key.Name, Rollout: current, Action: string(s.kind), Gate: cmd.Gate, Comment: cmd.Comment,
			Full: cmd.Full, Emergency: cmd.Emergency, User: review.Status.UserInfo.Username, Groups: review.Status.UserInfo.Groups,
		},
	}
	if err := c.Create(ctx, act); err != nil {
		if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
			return withCode(ExitDenied, fmt.Errorf("%s %s: %w", s.kind, key, err))
		}
		return withCode(ExitFailed, fmt.Errorf("%s %s: %w", s.kind, key, err))
	}
	deadline := time.Now().Add(k.timeout)
	for act.Status.Result == "" {
		if time.Now().After(deadline) {
			return withCode(ExitFailed, fmt.Errorf("%s %s: no operator carried out DeploymentAction %s within %s: is `hugai operator` running?", s.kind, key, act.Name, k.timeout))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(act), act); err != nil {
			return withCode(ExitFailed, err)
		}
	}
	if act.Status.Result != "Done" {
		return apiErr(&api.Error{Code: act.Status.Code, Message: act.Status.Message})
	}
	r, err := kubeRollout(ctx, c, key)
	if err != nil {
		return err
	}
	if s.follow && output == "table" {
		fmt.Fprintln(a.out, r.ID)
		if detach {
			return nil
		}
		end, err := a.kubeFollow(ctx, c, key, r)
		if err != nil {
			return withCode(ExitFailed, err)
		}
		return resultOf(end)
	}
	return a.print(output, r, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "%s %s by %s: %s\n", s.done, r.ID, act.Spec.User, strings.Join(nonEmpty(r.Phase, r.Reason), ", "))
		return err
	})
}
