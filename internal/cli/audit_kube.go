package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hugai-dev/hugai/internal/audit"
	hugaiv1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/kubestore"
)

// kubeAuditFlags are `hugai audit verify --target kubernetes`'s: which cluster (kubeFlags),
// namespace and objects.
type kubeAuditFlags struct {
	target    string
	kube      kubeFlags
	namespace string
	all       bool
}

// kubeVerified is one HugAIDeployment's verification, as printed.
type kubeVerified struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Events    int64  `json:"events"`
	Head      string `json:"head,omitempty"`
	Error     string `json:"error,omitempty"`
}

// verifyKube checks the audit chains kept in HugAIDeployments (internal/store/kubestore): the
// named one, or with --all every one in the namespace. It reads the cluster itself, as the local
// verify reads the data dir: the check must not depend on the operator that wrote the chain.
func (a *app) verifyKube(ctx context.Context, f kubeAuditFlags, names []string, output string) error {
	switch {
	case f.all && len(names) > 0:
		return badInput(errors.New("audit verify --target kubernetes: give a HugAIDeployment's name or --all, not both"))
	case !f.all && len(names) != 1:
		return badInput(errors.New("audit verify --target kubernetes: name one HugAIDeployment (or --all)"))
	}
	c, ns, err := f.kube.hugaiClient(f.namespace)
	if err != nil {
		return err
	}
	if f.all {
		var list hugaiv1.HugAIDeploymentList
		if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return fmt.Errorf("list HugAIDeployments in %s: %w", ns, err)
		}
		names = names[:0]
		for _, hd := range list.Items {
			names = append(names, hd.Name)
		}
	}
	var out []kubeVerified
	var broken []string
	for _, name := range names {
		key := types.NamespacedName{Namespace: ns, Name: name}
		res, err := kubestore.VerifyAudit(ctx, c, key)
		var ve *audit.VerifyError
		switch {
		case errors.Is(err, store.ErrNotFound):
			return badInput(fmt.Errorf("audit verify: HugAIDeployment %s not found in namespace %s", name, ns))
		case errors.As(err, &ve):
			broken = append(broken, fmt.Sprintf("%s: %v", key, ve))
			out = append(out, kubeVerified{Namespace: ns, Name: name, Events: res.Events, Error: ve.Error()})
		case err != nil:
			return fmt.Errorf("audit verify %s: %w", key, err)
		default:
			out = append(out, kubeVerified{Namespace: ns, Name: name, Events: res.Events, Head: res.Head})
		}
	}
	var v any = out
	if !f.all {
		v = out[0]
	}
	if err := a.print(output, v, func(w io.Writer) error {
		for _, r := range out {
			if r.Error == "" {
				fmt.Fprintf(w, "%s/%s: audit log verified: %d events, head %s\n", r.Namespace, r.Name, r.Events, r.Head)
			}
		}
		if f.all && len(out) == 0 {
			fmt.Fprintf(w, "no HugAIDeployments in namespace %s\n", ns)
		}
		return nil
	}); err != nil {
		return err
	}
	if len(broken) > 0 {
		return withCode(ExitFailed, fmt.Errorf("audit verify: %s", strings.Join(broken, "; ")))
	}
	return nil
}
