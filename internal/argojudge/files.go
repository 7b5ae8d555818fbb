package argojudge

import (
	"context"
	"fmt"
	"os"

	"github.com/hugai-dev/hugai/internal/plan"
)

// Files is a Find over service files on disk, read at each request (an edited file takes effect
// at the next measurement, as a ConfigMap's would): the service whose metadata.name is asked for,
// and whose metadata.namespace, when the file sets one, is the one asked for.
func Files(paths ...string) func(ctx context.Context, namespace, service string) (*plan.Service, error) {
	return func(_ context.Context, namespace, service string) (*plan.Service, error) {
		var found *plan.Service
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			svc, err := plan.ParseService(p, b)
			if err != nil {
				return nil, err
			}
			if svc.Metadata.Name != service || (namespace != "" && svc.Metadata.Namespace != "" && svc.Metadata.Namespace != namespace) {
				continue
			}
			if found != nil {
				return nil, fmt.Errorf("%s is defined twice (%s)", service, p)
			}
			found = svc
		}
		if found == nil {
			return nil, fmt.Errorf("%s in namespace %q: %w", service, namespace, ErrNotFound)
		}
		return found, nil
	}
}
