// Package schema generates the JSON Schemas of hugai's documents (hugai.yaml, DeploymentPlan,
// HugAIDeployment) from plan's Go types, for editors to validate and complete files. It lives
// outside plan because the generator, github.com/invopop/jsonschema, imports net and the core may
// not. The schemas committed in schemas/ are regenerated with one command, after any change to
// plan's types (a test fails until then): go generate ./internal/schema
package schema

//go:generate go run ./gencomments -root ../.. -out comments.json
//go:generate go run ../../cmd/hugai schema config --out ../../schemas/config.schema.json
//go:generate go run ../../cmd/hugai schema plan --out ../../schemas/plan.schema.json
//go:generate go run ../../cmd/hugai schema deployment --out ../../schemas/deployment.schema.json

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/invopop/jsonschema"

	"github.com/hugai-dev/hugai/internal/plan"
)

// Generate returns the JSON Schema (draft 2020-12) of a document kind (plan.KindService,
// plan.KindDeploymentPlan, plan.KindHugAIDeployment), generated from the Go types so it cannot
// drift from what the parser accepts.
func Generate(kind string) ([]byte, error) {
	var v any
	var title string
	switch kind {
	case plan.KindService:
		v, title = plan.Service{}, "hugai service file (hugai.yaml)"
	case plan.KindDeploymentPlan:
		v, title = plan.DeploymentPlan{}, "hugai DeploymentPlan"
	case plan.KindHugAIDeployment:
		v, title = plan.HugAIDeployment{}, "hugai HugAIDeployment"
	default:
		return nil, fmt.Errorf("unknown kind %q", kind)
	}
	cm, err := comments()
	if err != nil {
		return nil, err
	}
	r := &jsonschema.Reflector{
		CommentMap: cm,
		// Properties without omitempty are required and unknown properties are refused
		// (additionalProperties false), as plan's decoder does: those are invopop's defaults.
		ExpandedStruct: true,
		Anonymous:      true, // the $id is hugai's, set below
	}
	shared := jsonschema.Definitions{}
	r.Mapper = func(t reflect.Type) *jsonschema.Schema { return mapType(t, shared) }
	s := r.Reflect(v)
	for name, def := range shared {
		s.Definitions[name] = def
	}
	s.ID = jsonschema.ID("https://hugai.io/schemas/v1/" + strings.ToLower(kind) + ".json")
	s.Title = title
	// apiVersion and kind are strings in the Go type; in a file they have one possible value.
	s.Properties.Set("apiVersion", &jsonschema.Schema{Const: plan.APIVersion})
	s.Properties.Set("kind", &jsonschema.Schema{Const: kind})
	s.Required = []string{"apiVersion", "kind", "spec"}
	if err := addEnums(s.Definitions, enums); err != nil {
		return nil, err
	}
	return json.MarshalIndent(s, "", "  ")
}

// enums lists the closed sets of string values, by type and property, so editors complete them.
// invopop reads enums from struct tags; plan's types carry no schema tags (the values live in
// plan's constants, which its validation uses), so they are set here after reflection. The
// strategy lists `blue-green`, the seed's spelling, which the decoder accepts as blueGreen.
var enums = map[string]map[string][]string{
	"Target":                {"type": {plan.TargetLocal, plan.TargetKubernetes}},
	"Strategy":              {"type": {plan.StrategyCanary, plan.StrategyBlueGreen, "blue-green", plan.StrategyRolling, plan.StrategyRecreate}},
	"BlueGreenStrategy":     {"switch": {plan.SwitchInstant, plan.SwitchGradual}},
	"AnalysisSettings":      {"method": {plan.MethodThreshold, plan.MethodSequential}},
	"Policy":                {"requireApprovalFrom": append(append([]string{}, plan.Levels...), "never")},
	"Notification":          {"type": {"slack", "pagerduty", "email", "webhook"}, "severity": {"info", "warning", "critical"}},
	"Metric":                {"provider": {plan.ProviderBuiltin, plan.ProviderPrometheus, plan.ProviderWeb}},
	"AnalysisMetric":        {"provider": {plan.ProviderBuiltin, plan.ProviderPrometheus, plan.ProviderWeb}},
	"CustomMetricThreshold": {"comparison": plan.Comparisons},
	"Risk":                  {"level": plan.Levels},
}

// addEnums sets the enums on the definitions present in defs. A property named in enums that its
// type does not have is an error, so a renamed field cannot silently lose its completion.
func addEnums(defs jsonschema.Definitions, enums map[string]map[string][]string) error {
	for typ, props := range enums {
		def, ok := defs[typ]
		if !ok {
			continue // a type this document does not use
		}
		for prop, values := range props {
			p, ok := def.Properties.Get(prop)
			if !ok {
				return fmt.Errorf("schema enum for %s.%s: %s has no such property", typ, prop, typ)
			}
			p.Type = "string"
			p.Enum = make([]any, len(values))
			for i, v := range values {
				p.Enum[i] = v
			}
		}
	}
	return nil
}

const durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`

// mapType gives the schema of plan's types that read from a string or from more than one YAML
// shape: their Go structs say nothing of the forms a file may use, so these few schemas are
// written by hand (the decoder in plan/duration.go is the reference for each form). Each is a
// definition of its own, referenced from every field of that type, and added to shared.
func mapType(t reflect.Type, shared jsonschema.Definitions) *jsonschema.Schema {
	var s *jsonschema.Schema
	switch t {
	case reflect.TypeFor[plan.Duration]():
		s = durationSchema()
	case reflect.TypeFor[plan.Seconds]():
		s = secondsSchema()
	case reflect.TypeFor[plan.Pause]():
		shared["Seconds"] = secondsSchema()
		props := jsonschema.NewProperties()
		props.Set("duration", &jsonschema.Schema{Ref: "#/$defs/Seconds"})
		s = &jsonschema.Schema{
			Description: "a pause in seconds or with a unit; {} or {duration: …} in Argo's form, where no duration waits for promote",
			OneOf: []*jsonschema.Schema{
				{Type: "number", Minimum: "0", Description: "seconds"},
				{Type: "string", Pattern: durationPattern},
				{Type: "object", AdditionalProperties: jsonschema.FalseSchema, Properties: props},
			},
		}
	case reflect.TypeFor[plan.IntOrPercent]():
		s = &jsonschema.Schema{
			Description: "a number of replicas, or a percentage of them such as 25%",
			OneOf: []*jsonschema.Schema{
				{Type: "integer", Minimum: "0"},
				{Type: "string", Pattern: `^[0-9]+%$`},
			},
		}
	default:
		return nil
	}
	shared[t.Name()] = s
	return &jsonschema.Schema{Ref: "#/$defs/" + t.Name()}
}

func durationSchema() *jsonschema.Schema {
	return &jsonschema.Schema{Type: "string", Pattern: durationPattern, Description: "a duration with a unit, e.g. 30s, 5m, 1h"}
}

func secondsSchema() *jsonschema.Schema {
	return &jsonschema.Schema{
		Description: "a number of seconds, or a duration with a unit",
		OneOf: []*jsonschema.Schema{
			{Type: "number", Minimum: "0", Description: "seconds"},
			{Type: "string", Pattern: durationPattern},
		},
	}
}
