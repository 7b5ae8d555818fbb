package plan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Document is one YAML document of a file: a Service, a DeploymentPlan or a HugAIDeployment (or the
// CustomResourceDefinition of one of hugai's kinds, which is recognised and skipped).
//
// +kubebuilder:object:generate=false
type Document struct {
	Kind string
	Line int
	// Value is *Service, *DeploymentPlan, *HugAIDeployment or *CRD.
	Value     any
	Positions Positions
	// Warnings are problems that do not stop validation (an unknown analysis template: `execute`
	// refuses it, `validate` only warns).
	Warnings Errors
}

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// ParseFile decodes and validates every document in data, read from file. The error, if any, is
// an Errors listing every problem with its file:line and field path.
func ParseFile(file string, data []byte) ([]Document, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []Document
	var errs Errors
	for {
		var root yaml.Node
		err := dec.Decode(&root)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, yamlError(file, err))
			return nil, errs
		}
		if len(root.Content) == 0 || isNull(root.Content[0]) {
			continue // an empty document between separators
		}
		doc, derrs := parseDocument(file, root.Content[0])
		errs = append(errs, derrs...)
		if doc != nil {
			docs = append(docs, *doc)
		}
	}
	if len(errs) > 0 {
		return nil, errs.sorted()
	}
	if len(docs) == 0 {
		return nil, Errors{{File: file, Line: 1, Msg: "no document: want a hugai.io/v1 Service, DeploymentPlan or HugAIDeployment"}}
	}
	return docs, nil
}

func yamlError(file string, err error) *FieldError {
	msg := err.Error()
	if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FieldError{File: file, Line: line, Msg: "yaml: " + m[2]}
	}
	return &FieldError{File: file, Msg: msg}
}

// header reads apiVersion and kind before the body so the body is decoded as the right type.
func header(n *yaml.Node) (apiVersion, kind string, kindLine int) {
	if n.Kind != yaml.MappingNode {
		return "", "", n.Line
	}
	kindLine = n.Line
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "apiVersion":
			apiVersion = n.Content[i+1].Value
		case "kind":
			kind = n.Content[i+1].Value
			kindLine = n.Content[i].Line
		}
	}
	return apiVersion, kind, kindLine
}

func parseDocument(file string, n *yaml.Node) (*Document, Errors) {
	apiVersion, kind, line := header(n)
	var v interface{ validate(*checker) }
	switch kind {
	case KindService:
		v = &Service{}
	case KindDeploymentPlan:
		v = &DeploymentPlan{}
	case KindHugAIDeployment:
		v = &HugAIDeployment{}
	case KindCustomResourceDefinition:
		return parseCRD(file, n, apiVersion)
	case "":
		return nil, Errors{{File: file, Line: n.Line, Path: "kind", Msg: "missing; want Service, DeploymentPlan or HugAIDeployment"}}
	default:
		msg := fmt.Sprintf("%q is not a hugai document; want Service, DeploymentPlan or HugAIDeployment", kind)
		if apiVersion != "" && !strings.HasPrefix(apiVersion, "hugai.io/") {
			msg = fmt.Sprintf("%s %q is not a hugai document (hugai reads hugai.io/v1 Service, DeploymentPlan and HugAIDeployment)", apiVersion, kind)
		}
		return nil, Errors{{File: file, Line: line, Path: "kind", Msg: msg}}
	}
	d := &decoder{file: file, pos: Positions{"": n.Line}}
	d.decode(n, reflect.ValueOf(v).Elem(), "")
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	c := &checker{file: file, pos: d.pos}
	v.validate(c)
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	return &Document{Kind: kind, Line: n.Line, Value: v, Positions: d.pos, Warnings: c.warns.sorted()}, nil
}

// ParseService reads a service file (hugai.yaml); it must hold exactly one Service.
func ParseService(file string, data []byte) (*Service, error) {
	docs, err := ParseFile(file, data)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 || docs[0].Kind != KindService {
		return nil, Errors{{File: file, Line: docs[0].Line, Path: "kind", Msg: fmt.Sprintf("%s: want one Service document", docs[0].Kind)}}
	}
	return docs[0].Value.(*Service), nil
}

// ParsePlan reads a DeploymentPlan file; it must hold exactly one DeploymentPlan. Warnings (unknown
// templates) are returned for the caller to judge.
func ParsePlan(file string, data []byte) (*DeploymentPlan, Errors, error) {
	docs, err := ParseFile(file, data)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range docs {
		if d.Kind == KindDeploymentPlan {
			if len(docs) > 1 {
				return nil, nil, Errors{{File: file, Line: docs[1].Line, Msg: "a plan file holds one DeploymentPlan"}}
			}
			return d.Value.(*DeploymentPlan), d.Warnings, nil
		}
	}
	return nil, nil, Errors{{File: file, Line: docs[0].Line, Path: "kind", Msg: fmt.Sprintf("%s: want a DeploymentPlan", docs[0].Kind)}}
}

// Marshal writes a document as YAML, fields in declaration order, so that parsing the output gives
// back the same value.
func Marshal(v any) ([]byte, error) {
	return marshalYAML(v)
}
