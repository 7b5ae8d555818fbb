package server_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/release/stages"
	"github.com/hugai-dev/hugai/internal/server"
)

type openAPIDoc struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

func loadOpenAPI(t *testing.T) (openAPIDoc, string) {
	t.Helper()
	js, err := yaml.YAMLToJSON(server.OpenAPI())
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	var doc openAPIDoc
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	return doc, string(js)
}

// The document names exactly the routes the server serves, each of them answers on a real
// socket, every $ref resolves, and each schema has exactly the JSON fields of its Go type.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc, js := loadOpenAPI(t)
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	served := append(server.Routes(), "GET /metrics")
	sort.Strings(documented)
	sort.Strings(served)
	if !slices.Equal(documented, served) {
		t.Errorf("openapi.yaml documents\n  %s\nthe server serves\n  %s", strings.Join(documented, "\n  "), strings.Join(served, "\n  "))
	}

	for _, ref := range strings.Split(js, `"$ref":"`)[1:] {
		ref = ref[:strings.IndexByte(ref, '"')]
		parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
		var ok bool
		switch parts[0] {
		case "schemas":
			_, ok = doc.Components.Schemas[parts[1]]
		case "responses", "parameters":
			ok = strings.Contains(js, `"`+parts[1]+`":{`)
		}
		if !ok {
			t.Errorf("unresolved $ref %s", ref)
		}
	}

	types := map[string]any{
		"Error": api.Error{}, "ServerInfo": api.ServerInfo{}, "ServiceInfo": api.ServiceInfo{},
		"StartRequest": api.StartRequest{}, "Command": api.Command{}, "ShutdownRequest": server.ShutdownRequest{},
		"Rollout": api.Rollout{}, "Step": api.Step{}, "Criterion": api.Criterion{}, "Comparison": api.Comparison{},
		"Result": analysis.Result{}, "Counts": analysis.Counts{}, "Ratio": analysis.Ratio{},
		"PendingApproval": api.PendingApproval{}, "Checkpoint": api.Checkpoint{}, "Approval": api.Approval{},
		"Measurement": api.Measurement{}, "AuditEvent": audit.Event{}, "AuditVerify": api.AuditVerify{},
		"Monitor": api.Monitor{}, "Health": api.Health{}, "MonitorValue": api.MonitorValue{},
		"ReleaseExecuteRequest": api.ReleaseExecuteRequest{}, "ReleaseRun": api.ReleaseRun{}, "ReleaseStage": api.ReleaseStage{},
		"Check": stages.Check{},
	}
	for name, schema := range doc.Components.Schemas {
		v, ok := types[name]
		if !ok {
			if name != "Status" {
				t.Errorf("schema %s has no Go type in this test", name)
			}
			continue
		}
		want := jsonFields(reflect.TypeOf(v))
		var got []string
		for p := range schema.Properties {
			got = append(got, p)
		}
		sort.Strings(want)
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("schema %s has %v, %T has %v", name, got, v, want)
		}
	}
}

// jsonFields are the JSON names of a struct's fields, an embedded struct's flattened as
// encoding/json does.
func jsonFields(rt reflect.Type) []string {
	var out []string
	for i := range rt.NumField() {
		f := rt.Field(i)
		tag := strings.Split(f.Tag.Get("json"), ",")[0]
		switch {
		case f.Anonymous && tag == "":
			out = append(out, jsonFields(f.Type)...)
		case tag != "" && tag != "-":
			out = append(out, tag)
		}
	}
	return out
}

// Every documented route is served: none answers the catch-all "no such endpoint".
func TestEveryDocumentedRouteAnswers(t *testing.T) {
	_, s, _ := serve(t)
	for _, rt := range server.Routes() {
		method, path, _ := strings.Cut(rt, " ")
		if path == "/api/v1/shutdown" || strings.HasSuffix(path, "/events") {
			continue // these stop the server or stream; server_test and events_test cover them
		}
		path = strings.ReplaceAll(path, "{id}", "nope")
		code, body := raw(t, s.Socket, method, path, "{}")
		if strings.Contains(body, "no such endpoint") {
			t.Errorf("%s %s: %d %s", method, path, code, body)
		}
	}
	if code, body := raw(t, s.Socket, "GET", "/api/v1/openapi.yaml", ""); code != 200 || !strings.HasPrefix(body, "openapi: 3.1") {
		t.Errorf("openapi.yaml: %d %.40s", code, body)
	}
}
