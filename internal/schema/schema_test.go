package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/invopop/jsonschema"

	"github.com/hugai-dev/hugai/internal/plan"
)

var files = map[string]string{
	plan.KindService:         "config.schema.json",
	plan.KindDeploymentPlan:  "plan.schema.json",
	plan.KindHugAIDeployment: "deployment.schema.json",
}

// The committed schemas are what editors load; they must be exactly what the types generate.
// Regenerate them with: go generate ./internal/schema
func TestCommittedSchemasAreCurrent(t *testing.T) {
	t.Parallel()
	for kind, file := range files {
		got, err := Generate(kind)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("..", "..", "schemas", file)
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, append(got, '\n')) {
			t.Errorf("%s is stale: regenerate it with `go generate ./internal/schema`", path)
		}
	}
}

func TestUnknownKind(t *testing.T) {
	t.Parallel()
	if _, err := Generate("Nope"); err == nil {
		t.Fatal("want an error for an unknown kind")
	}
}

// What editors rely on: closed sets complete, durations are checked by pattern, unknown fields and
// missing required ones are flagged, and apiVersion/kind have their one value.
func TestSchemaGivesEditorsWhatTheyNeed(t *testing.T) {
	t.Parallel()
	b, err := Generate(plan.KindDeploymentPlan)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties map[string]struct {
			Const string `json:"const"`
		} `json:"properties"`
		Required []string `json:"required"`
		Defs     map[string]struct {
			Type                 string   `json:"type"`
			Pattern              string   `json:"pattern"`
			AdditionalProperties *bool    `json:"additionalProperties"`
			Required             []string `json:"required"`
			Properties           map[string]struct {
				Ref         string   `json:"$ref"`
				Enum        []string `json:"enum"`
				Description string   `json:"description"`
			} `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s.Properties["apiVersion"].Const != plan.APIVersion || s.Properties["kind"].Const != plan.KindDeploymentPlan {
		t.Errorf("apiVersion/kind not pinned: %+v", s.Properties)
	}
	if got := fmt.Sprint(s.Required); got != "[apiVersion kind spec]" {
		t.Errorf("root required = %s", got)
	}
	strategy := s.Defs["Strategy"]
	if got := fmt.Sprint(strategy.Properties["type"].Enum); got != "[canary blueGreen blue-green rolling recreate]" {
		t.Errorf("strategy type enum = %s", got)
	}
	if fmt.Sprint(strategy.Required) != "[type]" {
		t.Errorf("strategy required = %v", strategy.Required)
	}
	if ap := strategy.AdditionalProperties; ap == nil || *ap {
		t.Error("unknown strategy fields are not refused (additionalProperties)")
	}
	if ref := s.Defs["AnalysisMetric"].Properties["interval"].Ref; ref != "#/$defs/Duration" {
		t.Errorf("interval refers to %q, want the Duration definition", ref)
	}
	if d := s.Defs["Trigger"].Properties["errorRateThreshold"].Description; !strings.Contains(d, "percentage") {
		t.Errorf("errorRateThreshold description %q: want its doc comment", d)
	}
	if d := s.Defs["Duration"]; d.Type != "string" || !regexp.MustCompile(d.Pattern).MatchString("1h30m") || regexp.MustCompile(d.Pattern).MatchString("30") {
		t.Errorf("duration schema %+v: want a string with a unit", d)
	}
}

// A property named in enums must exist: a renamed field must not silently lose its completion.
func TestEnumOnMissingPropertyIsAnError(t *testing.T) {
	old := enums["Strategy"]["type"]
	defs := jsonschema.Definitions{"Strategy": {Properties: jsonschema.NewProperties()}}
	enums := map[string]map[string][]string{"Strategy": {"type": old}}
	if err := addEnums(defs, enums); err == nil {
		t.Fatal("want an error for an enum on a property the type lacks")
	}
}

// comments.json is what the binary describes fields with; it must be what plan's source says.
func TestEmbeddedCommentsAreCurrent(t *testing.T) {
	t.Parallel()
	got, err := ExtractComments(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	want, err := comments()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Error("internal/schema/comments.json is stale: regenerate it with `go generate ./internal/schema`")
	}
	const key = "github.com/hugai-dev/hugai/internal/plan.Trigger.ErrorRateThreshold"
	if !strings.Contains(got[key], "percentage") {
		t.Errorf("%s = %q, want the field's doc comment", key, got[key])
	}
}
