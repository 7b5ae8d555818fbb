package plan

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The committed schemas are what editors load; they must be exactly what the types generate.
// Regenerate with: go run ./cmd/hugai schema config --out schemas/config.schema.json (and plan,
// deployment).
func TestCommittedSchemasAreCurrent(t *testing.T) {
	for kind, file := range map[string]string{
		KindService: "config.schema.json", KindDeploymentPlan: "plan.schema.json", KindHugAIDeployment: "deployment.schema.json",
	} {
		got, err := Schema(kind)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("..", "..", "schemas", file)
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(want) != string(got)+"\n" {
			t.Errorf("%s is stale: regenerate it with `hugai schema` (see the test comment)", path)
		}
		var v map[string]any
		if err := json.Unmarshal(got, &v); err != nil {
			t.Fatal(err)
		}
		if v["$defs"] == nil || v["properties"] == nil {
			t.Errorf("%s: no $defs or properties", kind)
		}
	}
}
