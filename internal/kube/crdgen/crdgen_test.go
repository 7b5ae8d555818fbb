package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/hugai-dev/hugai/internal/plan"
)

const root = "../../.."

// The committed CRDs and deep copies are what the Go types generate today: a spec field added to
// internal/plan without `go generate ./internal/kube/apis/v1` fails here, in the fast loop.
func TestGeneratedFilesUpToDate(t *testing.T) {
	crds, code := t.TempDir(), t.TempDir()
	if err := generate(crds, code); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		filepath.Join(crds, "hugai.io_deploymentplans.yaml"):    filepath.Join(root, CRDDir, "hugai.io_deploymentplans.yaml"),
		filepath.Join(crds, "hugai.io_hugaideployments.yaml"):   filepath.Join(root, CRDDir, "hugai.io_hugaideployments.yaml"),
		filepath.Join(crds, "hugai.io_deploymentactions.yaml"):  filepath.Join(root, CRDDir, "hugai.io_deploymentactions.yaml"),
		filepath.Join(code, "v1", "zz_generated.deepcopy.go"):   filepath.Join(root, "internal/kube/apis/v1/zz_generated.deepcopy.go"),
		filepath.Join(code, "plan", "zz_generated.deepcopy.go"): filepath.Join(root, "internal/plan/zz_generated.deepcopy.go"),
	}
	for gen, committed := range want {
		g, err := os.ReadFile(gen)
		if err != nil {
			t.Fatalf("generated: %v", err)
		}
		c, err := os.ReadFile(committed)
		if err != nil {
			t.Fatalf("committed: %v", err)
		}
		if !bytes.Equal(g, c) {
			t.Errorf("%s is stale: run `go generate ./internal/kube/apis/v1`", committed)
		}
	}
	entries, err := os.ReadDir(crds)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want)-2 { // the two deep-copy files
		t.Errorf("generated %d CRD files, want %d (a new root type? list it above)", len(entries), len(want)-2)
	}
}

// The API server refuses a strategy hugai cannot run and accepts every spelling hugai reads: the
// CRD's enum and plan.NormalizeStrategy must agree both ways.
func TestStrategyEnumMatchesPlan(t *testing.T) {
	for _, file := range []string{"hugai.io_deploymentplans.yaml", "hugai.io_hugaideployments.yaml"} {
		crd := readCRD(t, filepath.Join(root, CRDDir, file))
		typ := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["strategy"].Properties["type"]
		var enum []string
		for _, v := range typ.Enum {
			var s string
			if err := yaml.Unmarshal(v.Raw, &s); err != nil {
				t.Fatal(err)
			}
			enum = append(enum, s)
			if plan.NormalizeStrategy(s) == "" {
				t.Errorf("%s: strategy enum has %q, which hugai does not read", file, s)
			}
		}
		for _, s := range append(slices.Clone(plan.Strategies), "blue-green") {
			if !slices.Contains(enum, s) {
				t.Errorf("%s: strategy enum %v lacks %q", file, enum, s)
			}
		}
	}
}

func readCRD(t *testing.T, path string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(b, &crd); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &crd
}
