// Package fields proves, field by field, that every field of the three documents hugai reads
// (the Service, the DeploymentPlan and the HugAIDeployment) takes effect or is refused: changing
// it changes what runs (the compiled rollout, the environment the target and the engine read, the
// notification channels, or the plan the planner writes) or is refused before anything starts. A
// field that is only informational is listed as such. A field added to the types without an entry
// here fails the test, so none slips in unread. docs/fields.md is written from the same table.
package fields

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/notify"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/planner"
	"github.com/hugai-dev/hugai/internal/release/stages"
	"github.com/hugai-dev/hugai/internal/rollout"
)

var update = flag.Bool("update", false, "rewrite docs/fields.md")

// fx is one version of the three documents.
type fx struct {
	svc *plan.Service
	p   *plan.DeploymentPlan
	d   *plan.HugAIDeployment
}

func load(t *testing.T) fx {
	t.Helper()
	svc, err := plan.ParseService("hugai.yaml", []byte(serviceYAML))
	if err != nil {
		t.Fatalf("the fixture's service does not validate: %v", err)
	}
	run, err := plan.ParseRun("plan.yaml", []byte(planYAML))
	if err != nil {
		t.Fatalf("the fixture's plan does not validate: %v", err)
	}
	docs, err := plan.ParseFile("deployment.yaml", []byte(deploymentYAML))
	if err != nil {
		t.Fatalf("the fixture's HugAIDeployment does not validate: %v", err)
	}
	return fx{svc: svc, p: run.Plan, d: docs[0].Value.(*plan.HugAIDeployment)}
}

// outcome is everything a document's fields can change, or the error that refuses them. Each
// document is written out and read back, so validation runs as for a user's file.
func (f fx) outcome(doc string) (string, error) {
	b, err := plan.Marshal(f.svc)
	if err != nil {
		return "", err
	}
	svc, err := plan.ParseService("hugai.yaml", b)
	if err != nil {
		return "", err
	}
	var v any = f.p
	if doc == plan.KindHugAIDeployment {
		v = f.d
	}
	if b, err = plan.Marshal(v); err != nil {
		return "", err
	}
	run, err := plan.ParseRun("plan.yaml", b)
	if err != nil {
		return "", err
	}
	envName := run.Plan.Spec.Environment
	if errs := plan.CheckAgainst("plan.yaml", run.Positions, run.Plan, run.Rename, svc, envName); len(errs) > 0 {
		return "", errs
	}
	env, err := svc.Env(envName)
	if err != nil {
		return "", err
	}
	var envs []*plan.Env // every environment, for the fields another one overrides
	for _, name := range svc.EnvironmentNames() {
		e, err := svc.Env(name)
		if err != nil {
			return "", err
		}
		envs = append(envs, e)
	}
	spec, err := rollout.Compile(run.Plan, rollout.Options{Service: svc, Env: env})
	if err != nil {
		return "", err
	}
	channels, err := notify.FromConfig(svc.Spec.Notifications, func(string) string { return "" })
	if err != nil {
		return "", err
	}
	planned, _, err := planner.Build(planner.Input{Service: svc, Environment: envName, Version: "v9",
		At: time.Date(2026, 11, 27, 19, 0, 0, 0, time.UTC), RollbackSteps: true})
	if err != nil {
		return "", err
	}
	// The stages `release execute` runs (an error only when the file has none, which is refused
	// there).
	releaseStages, _ := stages.Compile(svc, "v9", "v9")
	var told []map[string]any
	for _, ch := range channels.Channels {
		told = append(told, map[string]any{"index": ch.Index, "name": ch.Name, "min": ch.Min.String(), "adapter": settings(ch.Notifier)})
	}
	out, err := json.Marshal(map[string]any{"spec": spec, "envs": envs, "planned": planned, "channels": told, "releaseStages": releaseStages,
		"target": run.Plan.Spec.Service + "/" + run.Plan.Spec.Version + "/" + envName})
	return string(out), err
}

// settings are an adapter's exported settings (its functions left out): what it was built with.
func settings(n any) map[string]any {
	v := reflect.Indirect(reflect.ValueOf(n))
	out := map[string]any{"type": v.Type().String()}
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if f.IsExported() && f.Type.Kind() != reflect.Func {
			out[f.Name] = v.Field(i).Interface()
		}
	}
	return out
}

// effect is what a field does, and a change of it that must show.
type effect struct {
	what   string
	change func(*fx) // nil: informational
}

// prepares make, for some paths, the fixture a change is measured against (a HugAIDeployment
// that carries a DeploymentPlan's strategy block).
var prepares = map[string]func(*fx){}

func boolp(b bool) *bool                  { return &b }
func intp(n int) *int                     { return &n }
func durp(d time.Duration) *plan.Duration { return &plan.Duration{Duration: d} }

// leaves lists the paths of a document type's fields, as written in YAML.
func leaves(t reflect.Type, prefix string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		switch t {
		case reflect.TypeOf(plan.Duration{}), reflect.TypeOf(plan.Seconds{}), reflect.TypeOf(plan.IntOrPercent{}), reflect.TypeOf(plan.Pause{}):
			*out = append(*out, prefix) // scalars in YAML
			return
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			p := name
			if prefix != "" {
				p = prefix + "." + name
			}
			leaves(f.Type, p, out)
		}
	case reflect.Slice:
		e := t.Elem()
		for e.Kind() == reflect.Pointer {
			e = e.Elem()
		}
		if e.Kind() == reflect.Struct {
			leaves(e, prefix+"[]", out)
		} else {
			*out = append(*out, prefix)
		}
	case reflect.Map:
		if e := t.Elem(); e.Kind() == reflect.Struct {
			leaves(e, prefix+".*", out)
		} else {
			*out = append(*out, prefix)
		}
	default:
		*out = append(*out, prefix)
	}
}

func TestEveryFieldTakesEffectOrIsRefused(t *testing.T) {
	docs := []struct {
		kind    string
		typ     reflect.Type
		effects map[string]effect
	}{
		{plan.KindService, reflect.TypeOf(plan.Service{}), serviceEffects},
		{plan.KindDeploymentPlan, reflect.TypeOf(plan.DeploymentPlan{}), planEffects},
		{plan.KindHugAIDeployment, reflect.TypeOf(plan.HugAIDeployment{}), deploymentEffects},
	}
	base := load(t)
	for _, doc := range docs {
		outKind := doc.kind
		if outKind == plan.KindService {
			outKind = plan.KindDeploymentPlan
		}
		want, err := base.outcome(outKind)
		if err != nil {
			t.Fatalf("the fixture does not run: %v", err)
		}
		var paths []string
		leaves(doc.typ, "", &paths)
		for _, path := range paths {
			e, ok := doc.effects[path]
			if !ok {
				t.Errorf("%s %s: no entry: say what it does (and prove it), or that it is informational", doc.kind, path)
				continue
			}
			if e.change == nil {
				continue
			}
			want := want
			f := load(t)
			if prepare := prepares[doc.kind+" "+path]; prepare != nil {
				prepare(&f)
				if want, err = f.outcome(outKind); err != nil {
					t.Fatalf("%s %s: the prepared fixture does not run: %v", doc.kind, path, err)
				}
			}
			e.change(&f)
			got, err := f.outcome(outKind)
			if err == nil && got == want {
				t.Errorf("%s %s (%s): changing it changed nothing and was not refused", doc.kind, path, e.what)
			}
			if testing.Verbose() {
				if err != nil {
					t.Logf("%s %s: refused: %v", doc.kind, path, firstLine(err.Error()))
				} else {
					t.Logf("%s %s: runs differently", doc.kind, path)
				}
			}
		}
		for path := range doc.effects {
			if !contains(paths, path) {
				t.Errorf("%s %s: an entry for a field that does not exist", doc.kind, path)
			}
		}
	}
	writeDoc(t, docs[0].effects, docs[1].effects, docs[2].effects)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// writeDoc writes (with -update) or checks docs/fields.md, the list of fields with what each does.
func writeDoc(t *testing.T, sections ...map[string]effect) {
	var b strings.Builder
	b.WriteString("# Every field, and what it does\n\n")
	b.WriteString("Generated by `go test ./test/fields -update` from the table that proves each entry: changing a\n")
	b.WriteString("field marked *runs* changes what the rollout does (or is refused before anything starts);\n")
	b.WriteString("*informational* fields are recorded and shown, never acted on.\n")
	for i, s := range sections {
		b.WriteString("\n## " + []string{"Service (hugai.yaml)", "DeploymentPlan", "HugAIDeployment"}[i] + "\n\n")
		b.WriteString("| field | | what it does |\n|---|---|---|\n")
		keys := make([]string, 0, len(s))
		for k := range s {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			kind := "runs"
			if s[k].change == nil {
				kind = "informational"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", k, kind, strings.ReplaceAll(s[k].what, "|", "\\|"))
		}
	}
	path := "../../docs/fields.md"
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile(path)
	if err != nil || string(have) != b.String() {
		t.Errorf("%s is stale: go test ./test/fields -update", path)
	}
}

func reflectTypeOfDeployment() reflect.Type { return reflect.TypeOf(plan.HugAIDeployment{}) }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
