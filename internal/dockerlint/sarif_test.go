package dockerlint

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
)

// TestSARIFValidatesAgainstTheSchema checks the log hugai writes against the OASIS SARIF 2.1.0
// JSON schema, the copy go-sarif embeds and validates with (gojsonschema), and that go-sarif's
// types, which follow the schema, hold every field we wrote: nothing went unchecked.
func TestSARIFValidatesAgainstTheSchema(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("testdata/corpus/*.Dockerfile")
	var all []Finding
	for _, p := range files {
		all = append(all, analyzeFile(t, p, Options{})...)
	}
	log := SARIF(NewReport(files, all), "test")
	ours, err := json.Marshal(log)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := sarif.FromBytes(ours)
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Validate(); err != nil {
		t.Fatalf("SARIF does not validate: %v", err)
	}
	theirs, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	_ = json.Unmarshal(ours, &a)
	_ = json.Unmarshal(theirs, &b)
	if path := missingIn(a, b, "$"); path != "" {
		t.Errorf("go-sarif's schema types drop %s: that field is not SARIF 2.1.0", path)
	}

	// The checks that matter to code-scanning tools, by hand.
	var m struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID   string `json:"id"`
						Help struct{ Text string }
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Message   struct{ Text string }
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
				}
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(ours, &m); err != nil {
		t.Fatal(err)
	}
	if m.Version != "2.1.0" || m.Schema == "" || len(m.Runs) != 1 || m.Runs[0].Tool.Driver.Name != "hugai" {
		t.Fatalf("header: version %q schema %q runs %d", m.Version, m.Schema, len(m.Runs))
	}
	run := m.Runs[0]
	if len(run.Tool.Driver.Rules) != len(Rules()) {
		t.Errorf("%d rules in the driver, want %d", len(run.Tool.Driver.Rules), len(Rules()))
	}
	for _, r := range run.Tool.Driver.Rules {
		if r.ID == "" || r.Help.Text == "" {
			t.Errorf("rule %+v lacks an id or help", r)
		}
	}
	if len(run.Results) != len(all) || len(all) == 0 {
		t.Fatalf("%d results for %d findings", len(run.Results), len(all))
	}
	for i, res := range run.Results {
		if run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("result %d: ruleIndex %d is not %s", i, res.RuleIndex, res.RuleID)
		}
		switch res.Level {
		case "error", "warning", "note":
		default:
			t.Errorf("result %d: level %q", i, res.Level)
		}
		if len(res.Locations) != 1 || res.Locations[0].PhysicalLocation.Region.StartLine < 1 || res.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" {
			t.Errorf("result %d: locations %+v", i, res.Locations)
		}
	}
}

// missingIn returns the first path present in a and absent (or different) in b.
func missingIn(a, b any, path string) string {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return path
		}
		for k, v := range av {
			if p := missingIn(v, bv[k], path+"."+k); p != "" {
				return p
			}
		}
	case []any:
		bv, ok := b.([]any)
		if !ok || len(bv) != len(av) {
			return path
		}
		for i := range av {
			if p := missingIn(av[i], bv[i], path+"[]"); p != "" {
				return p
			}
		}
	default:
		if !reflect.DeepEqual(a, b) {
			return path
		}
	}
	return ""
}

func TestArtifactURI(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Dockerfile":             "Dockerfile",
		"svc/api/Dockerfile":     "svc/api/Dockerfile",
		"/src/my app/Dockerfile": "file:///src/my%20app/Dockerfile",
		"dir#1/Dockerfile":       "dir%231/Dockerfile",
	} {
		if got := artifactURI(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
