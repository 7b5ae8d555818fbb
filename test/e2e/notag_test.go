//go:build !e2e

package e2e

import "testing"

// Without the tag this package would pass with "no test files": say where the tests went.
func TestNeedsTheE2ETag(t *testing.T) {
	t.Skip("the end-to-end tests build only with -tags e2e (docs/testing.md)")
}
