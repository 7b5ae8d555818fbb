//go:build !(e2e && packaging)

package packaging

import "testing"

// TestNeedsTags: the packaging tests build and install the npm and Python packages with npm and
// python3; they run with -tags e2e,packaging (docs/testing.md).
func TestNeedsTags(t *testing.T) {
	t.Skip("the npm and Python packages are tested with: go test -tags e2e,packaging ./packaging")
}
