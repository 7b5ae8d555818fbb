package plan

import (
	"encoding/json"
	"reflect"
	"strings"
)

// Schema returns the JSON Schema (draft 2020-12) of a document type, generated from the Go types so
// it can never drift from what the parser accepts. Editors use it to validate and complete
// hugai.yaml and plans (`hugai schema config|plan`).
func Schema(kind string) ([]byte, error) {
	var v any
	var title string
	switch kind {
	case KindService:
		v, title = Service{}, "hugai service file (hugai.yaml)"
	case KindDeploymentPlan:
		v, title = DeploymentPlan{}, "hugai DeploymentPlan"
	case KindHugAIDeployment:
		v, title = HugAIDeployment{}, "hugai HugAIDeployment"
	default:
		return nil, &FieldError{Msg: "unknown kind " + kind}
	}
	g := &schemaGen{defs: map[string]any{}}
	root := g.schemaOf(reflect.TypeOf(v)).(map[string]any)
	// The root is a reference into $defs; inline the top type and pin apiVersion and kind.
	name := reflect.TypeOf(v).Name()
	top := g.defs[name].(map[string]any)
	delete(g.defs, name)
	props := top["properties"].(map[string]any)
	props["apiVersion"] = map[string]any{"const": APIVersion}
	props["kind"] = map[string]any{"const": kind}
	top["required"] = []string{"apiVersion", "kind", "spec"}
	_ = root
	out := map[string]any{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$id":     "https://hugai.io/schemas/v1/" + strings.ToLower(kind) + ".json",
		"title":   title,
	}
	for k, val := range top {
		out[k] = val
	}
	out["$defs"] = g.defs
	return json.MarshalIndent(out, "", "  ")
}

type schemaGen struct {
	defs map[string]any
}

var (
	durationType     = reflect.TypeFor[Duration]()
	secondsType      = reflect.TypeFor[Seconds]()
	pauseType        = reflect.TypeFor[Pause]()
	intOrPercentType = reflect.TypeFor[IntOrPercent]()
)

const durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`

// enums lists closed sets of values by field path tail, so editors complete them.
var schemaEnums = map[string][]string{
	"Target.Type":                      {TargetLocal, TargetKubernetes},
	"Strategy.Type":                    {StrategyCanary, StrategyBlueGreen, "blue-green", StrategyRolling, StrategyRecreate},
	"BlueGreenStrategy.Switch":         {SwitchInstant, SwitchGradual},
	"AnalysisSettings.Method":          {MethodThreshold, MethodSequential},
	"Policy.RequireApprovalFrom":       {"low", "medium", "high", "critical", "never"},
	"Notification.Type":                {"slack", "pagerduty", "email", "webhook"},
	"Notification.Severity":            {"info", "warning", "critical"},
	"Metric.Provider":                  {ProviderBuiltin, ProviderPrometheus, ProviderWeb},
	"AnalysisMetric.Provider":          {ProviderBuiltin, ProviderPrometheus, ProviderWeb},
	"CustomMetricThreshold.Comparison": Comparisons,
	"Risk.Level":                       Levels,
}

func (g *schemaGen) schemaOf(t reflect.Type) any {
	switch t {
	case durationType:
		return map[string]any{"type": "string", "pattern": durationPattern, "description": "a duration with a unit, e.g. 30s, 5m, 1h"}
	case secondsType:
		return map[string]any{"oneOf": []any{
			map[string]any{"type": "number", "minimum": 0, "description": "seconds"},
			map[string]any{"type": "string", "pattern": durationPattern},
		}}
	case pauseType:
		return map[string]any{"oneOf": []any{
			map[string]any{"type": "number", "minimum": 0, "description": "seconds"},
			map[string]any{"type": "string", "pattern": durationPattern},
			map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{
				"duration": g.schemaOf(secondsType),
			}},
		}}
	case intOrPercentType:
		return map[string]any{"oneOf": []any{
			map[string]any{"type": "integer", "minimum": 0},
			map[string]any{"type": "string", "pattern": `^[0-9]+%$`},
		}}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schemaOf(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schemaOf(t.Elem())}
	case reflect.Struct:
		name := t.Name()
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = nil // break cycles
			props := map[string]any{}
			var required []string
			for _, f := range structFields(t).list {
				sf := t.FieldByIndex(f.index)
				s := g.schemaOf(sf.Type)
				if enum, ok := schemaEnums[name+"."+sf.Name]; ok {
					s = map[string]any{"type": "string", "enum": enum}
				}
				props[f.name] = s
				if !f.omitEmpty && sf.Type.Kind() != reflect.Pointer {
					required = append(required, f.name)
				}
			}
			def := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
			if len(required) > 0 {
				def["required"] = required
			}
			g.defs[name] = def
		}
		return map[string]any{"$ref": "#/$defs/" + name}
	}
	return map[string]any{}
}
