//go:build !e2e

package manifests

import "testing"

// Without the tags this package would pass with "no test files": say where the tests went.
func TestNeedsTheKubeTags(t *testing.T) {
	t.Skip("the manifests are tested against a real API server: -tags e2e,kube with KUBEBUILDER_ASSETS (docs/testing.md)")
}
