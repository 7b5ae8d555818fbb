package operator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hugai-dev/hugai/internal/argojudge"
	"github.com/hugai-dev/hugai/internal/engine"
	"github.com/hugai-dev/hugai/internal/plan"
)

// JudgeConfig is hugai as Argo Rollouts' judge, served by the operator (docs/kubernetes.md).
type JudgeConfig struct {
	// TokenFile holds the bearer token Argo's requests must carry (the Secret hugai-analysis,
	// mounted); read at each request, so a rotated Secret takes effect. "": no token asked.
	TokenFile string
}

// Judge is the analysis endpoint: service files from the same ConfigMaps the reconciler reads,
// and a request that names no versions judged on the Argo Rollout's own: status.currentPodHash
// (the canary) against status.stableRS.
func Judge(c client.Reader, jc JudgeConfig) (http.Handler, error) {
	h, err := argojudge.New(argojudge.Config{
		Find: func(ctx context.Context, namespace, service string) (*plan.Service, error) {
			cm, err := serviceFileMap(ctx, c, namespace, service)
			if err == nil {
				var sf *engine.ServiceFile
				if sf, err = parseServiceFile(cm, service); err == nil {
					return sf.Service, nil
				}
			}
			var bad *invalidError
			if errors.As(err, &bad) && (bad.reason == "ServiceFileMissing" || bad.reason == "ServiceFileAmbiguous") {
				return nil, fmt.Errorf("%v: %w", err, argojudge.ErrNotFound)
			}
			return nil, err
		},
		Versions: func(ctx context.Context, namespace, service string) (string, string, error) {
			ro := &unstructured.Unstructured{}
			ro.SetGroupVersionKind(schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Rollout"})
			if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: service}, ro); err != nil {
				return "", "", fmt.Errorf("Rollout %s/%s: %w", namespace, service, err)
			}
			canary, _, _ := unstructured.NestedString(ro.Object, "status", "currentPodHash")
			stable, _, _ := unstructured.NestedString(ro.Object, "status", "stableRS")
			if canary == "" || stable == "" {
				return "", "", fmt.Errorf("Rollout %s/%s has no currentPodHash and stableRS in its status yet", namespace, service)
			}
			return canary, stable, nil
		},
		Token: func() string {
			if jc.TokenFile == "" {
				return ""
			}
			b, err := os.ReadFile(jc.TokenFile)
			if err != nil {
				// A token that cannot be read must not open the endpoint to anyone.
				return "\x00unreadable token file"
			}
			return strings.TrimSpace(string(b))
		},
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/analysis", h)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	return mux, nil
}
