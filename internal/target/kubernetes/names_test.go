package kubernetes

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/hugai-dev/hugai/internal/target"
)

// FuzzObjectName: any version string (user input: --version, a plan's spec.version) gives names
// the API server accepts for Deployments and Services, and a label value, and two versions that
// differ never share them.
func FuzzObjectName(f *testing.F) {
	for _, s := range []string{"v1.2.3", "1.2", "1-2", "", "1.2.0+build.7/EXP", strings.Repeat("x", 300), "---", "ÄÖ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		id := revisionID(v)
		if errs := validation.IsValidLabelValue(id); len(errs) > 0 {
			t.Fatalf("revision %q of %q is not a label value: %v", id, v, errs)
		}
		for _, prefix := range []string{"demo", strings.Repeat("checkout-service", 5)} {
			n := objectName(prefix, v)
			if errs := validation.IsDNS1035Label(n); len(errs) > 0 {
				t.Fatalf("name %q of %q is not a DNS-1035 label: %v", n, v, errs)
			}
		}
		if other := v + "."; revisionID(other) == id {
			t.Fatalf("%q and %q share revision %q", v, other, id)
		}
	})
}

// TestReplicasFor: with no router, weights become replica counts.
func TestReplicasFor(t *testing.T) {
	noRouter := &Target{}
	withRouter := &Target{opts: Options{HTTPRoute: "r"}}
	desired := map[string]int{"s": 4, "c": 4}
	for _, c := range []struct {
		tg      *Target
		weights map[string]int
		v       string
		n       int
		routed  bool
		want    int32
	}{
		{noRouter, map[string]int{"s": 95, "c": 5}, "c", 4, false, 1},
		{noRouter, map[string]int{"s": 95, "c": 5}, "s", 4, false, 4},
		{noRouter, map[string]int{"s": 75, "c": 25}, "s", 4, false, 3},
		{noRouter, map[string]int{"s": 50, "c": 50}, "c", 4, false, 2},
		{noRouter, map[string]int{"s": 100, "c": 0}, "c", 4, false, 4}, // weight 0: gets ready first
		{noRouter, map[string]int{"s": 100, "c": 0}, "c", 4, true, 0},  // rolled back: drained
		{noRouter, map[string]int{"s": 0, "c": 100}, "s", 4, true, 0},  // promoted past: drained
		{noRouter, map[string]int{"s": 0, "c": 100}, "c", 4, false, 4},
		{noRouter, map[string]int{"s": 99, "c": 1}, "c", 0, false, 0}, // asked for none: none
		{withRouter, map[string]int{"s": 95, "c": 5}, "c", 4, false, 4},
	} {
		if got := c.tg.replicasFor(c.v, c.n, target.Routing{Weights: c.weights}, desired, c.routed); got != c.want {
			t.Errorf("replicasFor(%s, %d, %v, router %v) = %d, want %d", c.v, c.n, c.weights, c.tg.opts.HTTPRoute != "", got, c.want)
		}
	}
}
