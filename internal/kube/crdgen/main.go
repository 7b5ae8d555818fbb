// Command crdgen writes hugai's CustomResourceDefinitions (config/crd) and the deep copies of the
// API types (zz_generated.deepcopy.go in internal/kube/apis/v1 and internal/plan) from the Go
// types, with controller-gen's own generators (sigs.k8s.io/controller-tools) used as a library.
//
// It is controller-gen plus one thing controller-gen's command line cannot say: internal/plan's
// Seconds (`pause: 30` or `pause: 5m`) and IntOrPercent (`maxSurge: 1` or `25%`) are written as
// a number or a string, which a structural schema can only express as Kubernetes' own
// IntOrString does (x-kubernetes-int-or-string with anyOf integer|string). Markers on the type
// give a type or nothing; a package override gives the exact schema.
//
// Run from the module root: go run ./internal/kube/crdgen (go generate ./internal/kube/apis/v1
// does it).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/controller-tools/pkg/crd"
	"sigs.k8s.io/controller-tools/pkg/deepcopy"
	"sigs.k8s.io/controller-tools/pkg/genall"
	"sigs.k8s.io/controller-tools/pkg/loader"
)

const (
	apiPkg  = "github.com/hugai-dev/hugai/internal/kube/apis/v1"
	planPkg = "github.com/hugai-dev/hugai/internal/plan"
	// CRDDir is where the CRDs live, relative to the module root.
	CRDDir = "config/crd"
)

func main() {
	crds := flag.String("crd-dir", CRDDir, "write the CRDs here")
	flag.Parse()
	if err := generate(*crds, ""); err != nil {
		fmt.Fprintln(os.Stderr, "crdgen:", err)
		os.Exit(1)
	}
}

// generate writes the CRDs into crdDir and the deep-copy files next to the types, or, when codeDir
// is set, into codeDir/<package name>/ (for the test that compares them with the committed ones).
// Package paths are resolved from the current directory, which must be inside the module.
func generate(crdDir, codeDir string) error {
	overridePlanTypes()
	maxDesc := 400
	dangerous := true // the seed's thresholds are floats (errorRateThreshold: 1.0)
	var gens genall.Generators
	crdGen := genall.Generator(crd.Generator{CRDVersions: []string{"v1"}, MaxDescLen: &maxDesc, AllowDangerousTypes: &dangerous})
	objGen := genall.Generator(deepcopy.Generator{})
	gens = append(gens, &crdGen, &objGen)
	rt, err := gens.ForRoots(apiPkg, planPkg)
	if err != nil {
		return fmt.Errorf("load %s and %s: %w", apiPkg, planPkg, err)
	}
	rt.OutputRules = genall.OutputRules{Default: genall.OutputArtifacts{Config: genall.OutputToDirectory(crdDir)}}
	if codeDir != "" {
		rt.OutputRules.ByGenerator = map[*genall.Generator]genall.OutputRule{&objGen: byPackage(codeDir)}
	}
	var msgs errWriter
	rt.ErrorWriter = &msgs
	if failed := rt.Run(); failed {
		return errors.New("generators failed:\n" + string(msgs))
	}
	return nil
}

// overridePlanTypes gives plan's number-or-string types the schema of Kubernetes' IntOrString.
// The rest of plan is generated from its fields and markers as usual.
func overridePlanTypes() {
	intOrString := apiextensionsv1.JSONSchemaProps{
		XIntOrString: true,
		AnyOf:        []apiextensionsv1.JSONSchemaProps{{Type: "integer"}, {Type: "string"}},
	}
	crd.KnownPackages[planPkg] = func(p *crd.Parser, pkg *loader.Package) {
		for _, name := range []string{"Seconds", "IntOrPercent"} {
			s := intOrString
			p.Schemata[crd.TypeIdent{Name: name, Package: pkg}] = s
		}
		p.AddPackage(pkg) // every other type of plan, from its source
	}
}

// byPackage writes each package's generated code into its own folder under a directory.
type byPackage string

func (o byPackage) Open(pkg *loader.Package, itemPath string) (io.WriteCloser, error) {
	if pkg == nil {
		return nil, fmt.Errorf("code output %s without a package", itemPath)
	}
	return genall.OutputToDirectory(filepath.Join(string(o), pkg.Name)).Open(pkg, itemPath)
}

type errWriter []byte

func (w *errWriter) Write(b []byte) (int, error) { *w = append(*w, b...); return len(b), nil }
