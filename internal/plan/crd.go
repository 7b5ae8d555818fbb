package plan

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// KindCustomResourceDefinition is a CRD document. The seed ships its operator's manifest as one
// file holding the CRD of HugAIDeployment and an example object; `hugai validate` of that file
// must check the object and recognise the definition, not call it foreign.
const KindCustomResourceDefinition = "CustomResourceDefinition"

// CRD is a CustomResourceDefinition of one of hugai's kinds, as far as hugai reads it: which
// kind it defines. Its schema is the cluster's business; hugai installs its own CRDs (generated
// from these types, config/crd), which validate every field.
type CRD struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Metadata   Metadata `json:"metadata"`
	Spec       CRDSpec  `json:"spec"`
}

type CRDSpec struct {
	Group string   `json:"group"`
	Names CRDNames `json:"names"`
}

type CRDNames struct {
	Kind   string `json:"kind"`
	Plural string `json:"plural"`
}

// hugaiKinds are the kinds a hugai.io CRD may define.
var hugaiKinds = []string{KindDeploymentPlan, KindHugAIDeployment}

// parseCRD reads the identity of a CRD document and checks that it defines a hugai kind
// consistently (group hugai.io, metadata.name <plural>.hugai.io). Anything else about it is not
// checked: a CRD of another group is not a hugai document at all.
func parseCRD(file string, n *yaml.Node, apiVersion string) (*Document, Errors) {
	crd := &CRD{APIVersion: apiVersion, Kind: KindCustomResourceDefinition}
	pos := Positions{"": n.Line}
	get := func(path ...string) (string, int) {
		cur := n
		for _, key := range path {
			if cur.Kind != yaml.MappingNode {
				return "", cur.Line
			}
			var next *yaml.Node
			for i := 0; i+1 < len(cur.Content); i += 2 {
				if cur.Content[i].Value == key {
					next = cur.Content[i+1]
				}
			}
			if next == nil {
				return "", cur.Line
			}
			cur = next
		}
		if cur.Kind != yaml.ScalarNode {
			return "", cur.Line
		}
		return cur.Value, cur.Line
	}
	var groupLine, nameLine, kindLine int
	crd.Spec.Group, groupLine = get("spec", "group")
	crd.Metadata.Name, nameLine = get("metadata", "name")
	crd.Spec.Names.Kind, kindLine = get("spec", "names", "kind")
	crd.Spec.Names.Plural, _ = get("spec", "names", "plural")
	group, name, kind, plural := crd.Spec.Group, crd.Metadata.Name, crd.Spec.Names.Kind, crd.Spec.Names.Plural
	if apiVersion != "apiextensions.k8s.io/v1" || group != "hugai.io" {
		if group == "" {
			group = "no group"
		}
		return nil, Errors{{File: file, Line: groupLine, Path: "spec.group", Msg: fmt.Sprintf("%s %s of %s is not a hugai document (hugai reads hugai.io/v1 Service, DeploymentPlan and HugAIDeployment, and the CRDs of group hugai.io)", apiVersion, KindCustomResourceDefinition, group)}}
	}
	var errs Errors
	if !slices.Contains(hugaiKinds, kind) {
		errs = append(errs, &FieldError{File: file, Line: kindLine, Path: "spec.names.kind", Msg: fmt.Sprintf("%q is not a hugai kind; want one of %s", kind, strings.Join(hugaiKinds, ", "))})
	}
	if want := plural + ".hugai.io"; plural == "" || name != want {
		errs = append(errs, &FieldError{File: file, Line: nameLine, Path: "metadata.name", Msg: fmt.Sprintf("%q: a CRD's name is <spec.names.plural>.<spec.group>, here %q", name, want)})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	warn := &FieldError{File: file, Line: n.Line, Path: "kind", Msg: fmt.Sprintf("the CustomResourceDefinition of %s is recognised, not checked: install hugai's own (config/crd/hugai.io_%s.yaml), which validates every field and adds the status and printer columns", kind, plural)}
	return &Document{Kind: KindCustomResourceDefinition, Line: n.Line, Value: crd, Positions: pos, Warnings: Errors{warn}}, nil
}
