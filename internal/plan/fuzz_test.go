package plan

import (
	"bytes"
	"os"
	"reflect"
	"testing"
)

// FuzzParseFile feeds arbitrary bytes to the parser: it must never panic, every error must be an
// Errors list, and whatever it accepts must survive write → parse unchanged.
func FuzzParseFile(f *testing.F) {
	for _, name := range []string{"seed-plan.yaml", "service-reference.yaml", "seed-operator.yaml"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("apiVersion: hugai.io/v1\nkind: DeploymentPlan\nspec:\n  strategy:\n    type: canary\n    canary:\n      steps:\n      - pause: 30\n"))
	f.Add([]byte("apiVersion: hugai.io/v1\nkind: DeploymentPlan\nspec:\n  strategy: {type: rolling, rolling: {maxSurge: 25%, maxUnavailable: 0}}\n"))
	f.Add([]byte(planRefHD))
	f.Add([]byte(planRefHD + "  strategy: {type: canary}\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("---\n---\n"))
	// spec.release: stages naming environments and checks (the file's own, or unknown ones).
	f.Add([]byte("apiVersion: hugai.io/v1\nkind: Service\nmetadata: {name: demo}\nspec:\n  target: {type: local, local: {command: [./d], listen: \"127.0.0.1:1\"}}\n" +
		"  smokeTest: [curl, x]\n  checkpoints: {lint: [\"true\"]}\n  environments: {staging: {}, production: {}}\n" +
		"  release:\n    stages:\n    - {name: qa, environment: staging, preChecks: [lint], validation: [smoke-test]}\n" +
		"    - {environment: production, approval: true, validation: [e2e]}\n    - {environment: staging}\n"))
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

// FuzzCheckAgainst reads arbitrary bytes as a plan to run (a DeploymentPlan or a HugAIDeployment)
// and checks it against the reference service: it must never panic, and every problem must name
// the plan's file.
func FuzzCheckAgainst(f *testing.F) {
	b, err := os.ReadFile("testdata/seed-plan.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, doc := range bytes.Split(b, []byte("\n---\n")) {
		f.Add(doc)
	}
	f.Add([]byte("apiVersion: hugai.io/v1\nkind: HugAIDeployment\nmetadata: {namespace: production}\nspec:\n  strategy: {type: canary}\n  rollout: {steps: [{weight: 5, pause: 3s}, {weight: 100}]}\n"))
	ref, err := os.ReadFile("testdata/service-reference.yaml")
	if err != nil {
		f.Fatal(err)
	}
	svc, err := ParseService("hugai.yaml", ref)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		run, err := ParseRun("p.yaml", data)
		if err != nil {
			return
		}
		for _, e := range CheckAgainst("p.yaml", run.Positions, run.Plan, run.Rename, svc, run.Plan.Spec.Environment) {
			if e.File != "p.yaml" {
				t.Fatalf("a problem without the plan's file: %v", e)
			}
		}
	})
}
