package plan

import (
	"os"
	"reflect"
	"testing"
)

// FuzzParseFile feeds arbitrary bytes to the parser: it must never panic, every error must be an
// Errors list, and whatever it accepts must survive write → parse unchanged.
func FuzzParseFile(f *testing.F) {
	for _, name := range []string{"seed-plan.yaml", "service-reference.yaml"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("apiVersion: hugai.io/v1\nkind: DeploymentPlan\nspec:\n  strategy:\n    type: canary\n    canary:\n      steps:\n      - pause: 30\n"))
	f.Add([]byte("apiVersion: hugai.io/v1\nkind: DeploymentPlan\nspec:\n  strategy: {type: rolling, rolling: {maxSurge: 25%, maxUnavailable: 0}}\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("---\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := ParseFile("f.yaml", data)
		if err != nil {
			if _, ok := err.(Errors); !ok {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			return
		}
		for _, d := range docs {
			out, err := Marshal(d.Value)
			if err != nil {
				t.Fatalf("marshal accepted document: %v", err)
			}
			again, err := ParseFile("out.yaml", out)
			if err != nil {
				t.Fatalf("re-parse of written document failed: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(again[0].Value, d.Value) {
				t.Fatalf("write → parse changed the document:\n%s", out)
			}
		}
	})
}
