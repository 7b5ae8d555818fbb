package plan

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	_ "time/tzdata" // as the binary does: time zones resolve without a zoneinfo database
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReferenceServiceValidates(t *testing.T) {
	// The reference shape in shared/examples must validate as it is.
	for _, path := range []string{"testdata/service-reference.yaml", "../../examples/demo/hugai.yaml"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseService(path, b)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if s.Metadata.Name == "" || s.Spec.Target.Type != TargetLocal {
			t.Fatalf("%s: decoded %+v", path, s.Metadata)
		}
	}
}

func TestReferenceServiceFields(t *testing.T) {
	s, err := ParseService("hugai.yaml", readTestdata(t, "service-reference.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	l := s.Spec.Target.Local
	if l.Replicas != 2 || l.Listen != "127.0.0.1:8080" || l.GracePeriod.String() != "10s" {
		t.Errorf("local target: %+v", l)
	}
	prod := s.Spec.Environments["production"]
	if prod.Policy.FreezeWindows[0].Duration.String() != "62h" || prod.StrategyByRisk["critical"] != "blueGreen" {
		t.Errorf("production: %+v", prod.Policy)
	}
	if got := s.Spec.Notifications[0].WebhookURL; got != "${SLACK_WEBHOOK_URL}" {
		t.Errorf("a ${VAR} stays literal in the file, got %q", got)
	}
}

func TestSeedDocumentsValidate(t *testing.T) {
	docs, err := ParseFile("seed.yaml", readTestdata(t, "seed-plan.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].Kind != KindDeploymentPlan || docs[1].Kind != KindHugAIDeployment {
		t.Fatalf("docs: %+v", docs)
	}
	p := docs[0].Value.(*DeploymentPlan)
	steps := p.Spec.Strategy.Canary.Steps
	if len(steps) != 4 || *steps[1].SetWeight != 25 || steps[1].Pause.Duration.String() != "10m" || steps[3].Pause != nil {
		t.Fatalf("steps: %+v", steps)
	}
	if len(docs[0].Warnings) != 0 {
		t.Fatalf("built-in templates must be known: %v", docs[0].Warnings)
	}
	d := docs[1].Value.(*HugAIDeployment)
	if d.Spec.Rollout.Steps[0].Pause.String() != "5m" || d.Spec.Rollback.Triggers[1].LatencyThreshold.String() != "2s" {
		t.Fatalf("HugAIDeployment: %+v", d.Spec)
	}
}

// broken copies of the seed plan: each must fail with file:line: field: message.
func TestBrokenPlans(t *testing.T) {
	seed := string(readTestdata(t, "seed-plan.yaml"))
	cases := []struct {
		name, old, new, want string
	}{
		{"weight 140", "setWeight: 50", "setWeight: 140", "plan.yaml:17: spec.strategy.canary.steps[2].setWeight: 140 is not within 0..100"},
		{"unknown strategy", "type: canary\n    canary:", "type: canery\n    canary:", `plan.yaml:8: spec.strategy.type: "canery" is not one of canary, blueGreen, blue-green, rolling, recreate (did you mean "canary"?)`},
		{"pause 10x", "duration: 10m", "duration: 10x", `plan.yaml:16: spec.strategy.canary.steps[1].pause: duration: "10x" is not a duration (e.g. 30s, 5m, 1h)`},
		{"yaml syntax", "      - setWeight: 25\n", "      - setWeight: 25\n\tbad: 1\n", "plan.yaml:14: yaml: found a tab character that violates indentation"},
		{"unknown field", "scaleDownDelaySeconds: 30", "scaleDownDelaySecs: 30", `plan.yaml:33: spec.strategy.canary.scaleDownDelaySecs: unknown field "scaleDownDelaySecs" (did you mean "scaleDownDelaySeconds"?)`},
		{"wrong type", "setWeight: 5\n", "setWeight: five\n", `plan.yaml:11: spec.strategy.canary.steps[0].setWeight: want a whole number, got "five"`},
		{"trigger unit", "latencyThreshold: 2000ms", "latencyThreshold: 2000", `spec.rollback.triggers[1].latencyThreshold: "2000" needs a unit`},
		{"two actions", "      - setWeight: 100\n", "      - setWeight: 100\n        approval: {}\n", "spec.strategy.canary.steps[3]: a step does one thing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(seed, tc.old) {
				t.Fatalf("seed lacks %q", tc.old)
			}
			broken := strings.Replace(seed, tc.old, tc.new, 1)
			_, err := ParseFile("plan.yaml", []byte(broken))
			if err == nil {
				t.Fatal("want an error")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want Errors, got %T", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

func TestUnknownTemplateWarns(t *testing.T) {
	seed := strings.Replace(string(readTestdata(t, "seed-plan.yaml")), "templateName: success-rate", "templateName: succes-rate", 1)
	p, warns, err := ParsePlan("plan.yaml", []byte(strings.SplitN(seed, "---", 2)[0]))
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0].Error(), `did you mean "success-rate"`) {
		t.Fatalf("warnings: %v", warns)
	}
	if got := p.Spec.UnknownTemplates(); !reflect.DeepEqual(got, []string{"succes-rate"}) {
		t.Fatalf("UnknownTemplates = %v", got)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, name := range []string{"seed-plan.yaml", "service-reference.yaml"} {
		docs, err := ParseFile(name, readTestdata(t, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			out, err := Marshal(d.Value)
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParseFile("out.yaml", out)
			if err != nil {
				t.Fatalf("re-parse:\n%s\n%v", out, err)
			}
			if !reflect.DeepEqual(again[0].Value, d.Value) {
				t.Fatalf("%s: parse → write → parse changed the value:\n%s", name, out)
			}
			out2, _ := Marshal(again[0].Value)
			if string(out2) != string(out) {
				t.Fatalf("writing is not stable:\n%s\n---\n%s", out, out2)
			}
		}
	}
}

func TestBlueGreenSpelling(t *testing.T) {
	for _, typ := range []string{"blueGreen", "blue-green"} {
		doc := "apiVersion: hugai.io/v1\nkind: DeploymentPlan\nspec:\n  strategy:\n    type: " + typ + "\n    blueGreen:\n      switch: gradual\n"
		p, _, err := ParsePlan("p.yaml", []byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if NormalizeStrategy(p.Spec.Strategy.Type) != StrategyBlueGreen {
			t.Fatalf("%s read as %q", typ, p.Spec.Strategy.Type)
		}
	}
}

func TestPauseShapes(t *testing.T) {
	for in, want := range map[string]string{"30": "30s", "5m": "5m", "{duration: 90}": "1m30s", "{duration: 2m}": "2m"} {
		doc := "apiVersion: hugai.io/v1\nkind: DeploymentPlan\nspec:\n  strategy:\n    type: canary\n    canary:\n      steps:\n      - pause: " + in + "\n"
		p, _, err := ParsePlan("p.yaml", []byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := p.Spec.Strategy.Canary.Steps[0].Pause.Duration.String(); got != want {
			t.Errorf("pause %s = %s, want %s", in, got, want)
		}
	}
	doc := "apiVersion: hugai.io/v1\nkind: DeploymentPlan\nspec:\n  strategy:\n    type: canary\n    canary:\n      steps:\n      - pause: {}\n"
	p, _, err := ParsePlan("p.yaml", []byte(doc))
	if err != nil || p.Spec.Strategy.Canary.Steps[0].Pause.Duration != nil {
		t.Fatalf("pause {} waits for promote: %v", err)
	}
}

func TestServiceErrors(t *testing.T) {
	base := string(readTestdata(t, "service-reference.yaml"))
	cases := []struct{ old, new, want string }{
		{"type: local                        # local | kubernetes", "type: lokal", `spec.target.type: "lokal" is not one of local, kubernetes (did you mean "local"?)`},
		{"successCriteria: error_rate<1%,latency_p95<2s", "successCriteria: error_rate<1%%", "spec.environments.production.successCriteria: col 14: unexpected '%'"},
		{"path: /readyz", "path: readyz", `spec.healthChecks[0].path: "readyz": want a path starting with /`},
		{"approvalsRequired: 1", "approvalsRequired: 3", "3 approvals required but only 2 approvers listed"},
		{"low: rolling", "low: rollout", `spec.environments.production.strategyByRisk.low: "rollout" is not one of`},
		{`"{{.Port}}"]`, `"{{.Prot}}"]`, `spec.target.local.command[2]: bad template`},
		{"timezone: Europe/Berlin", "timezone: Mars/Base", `"Mars/Base" is not a known time zone`},
		{"admin: 127.0.0.1:9090", "tlsCert: cert.pem", "spec.target.local.tlsKey: missing: tlsCert cert.pem needs its key file"},
		{"gracePeriod: 10s", "upstreamProtocol: http2", `spec.target.local.upstreamProtocol: "http2" is not one of http1, h2c, h2`},
		{"approvalsRequired: 1", "roles: {admin: [\"team:ops\"]}", `spec.environments.production.policy.roles.admin[0]: "team:ops" has an unknown prefix team: (known: user:, group:, token:)`},
		{"approvalsRequired: 1", "roles: {owner: [alice]}", `unknown field`},
		{"approvalsRequired: 1", "approvalExpiry: 0s", "spec.environments.production.policy.approvalExpiry: must be more than 0s"},
		{"approvalsRequired: 1", "quorum: [{from: [alice]}]", "spec.environments.production.policy.quorum[0].name: missing"},
		{"approvalsRequired: 1", "quorum: [{name: sec}]", "spec.environments.production.policy.quorum[0].from: missing"},
		{"approvalsRequired: 1", "quorum: [{name: a, from: [x], count: -1}, {name: a, from: [\"group:\"]}]", `policy.quorum[1].name: "a" is named twice`},
		{"approvalsRequired: 1", "checkpointRoles: {security-review: owner}", `policy.checkpointRoles.security-review: role "owner" is unknown (known: viewer, deployer, approver, admin)`},
		{"gracePeriod: 10s", "headerRouting: {}", `spec.target.local.headerRouting: set secret (${VAR}) or allowFrom`},
		{"gracePeriod: 10s", "headerRouting: {allowFrom: [10.0.0.0/8, 10.0.0/33]}", `spec.target.local.headerRouting.allowFrom[1]: "10.0.0/33": want an IP address or a CIDR range`},
	}
	for _, tc := range cases {
		if !strings.Contains(base, tc.old) {
			t.Fatalf("reference lacks %q", tc.old)
		}
		_, err := ParseService("hugai.yaml", []byte(strings.Replace(base, tc.old, tc.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s → %v, want %q", tc.new, err, tc.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "hugai.yaml:") {
			t.Errorf("error must name file:line: %v", err)
		}
	}
}

// Named metrics of the prometheus and web providers are measurable: criteria on them run. A
// provider hugai does not have is refused with the known ones, and each provider's own fields are
// checked with the file's line.
func TestNamedMetricProviders(t *testing.T) {
	base := string(readTestdata(t, "service-reference.yaml"))
	const metrics = `      query: sum(rate(orders_total{version="{{.Version}}"}[1m])) / sum(rate(visits_total{version="{{.Version}}"}[1m])) * 100
`
	const kpi = `    - name: kpi
      provider: web
      address: http://127.0.0.1:9092/kpi?version={{.Version}}
      jsonPath: $.data.value
      headers: {Authorization: "Bearer ${KPI_TOKEN}"}
`
	withCriteria := func(s string) string {
		s = strings.Replace(s, metrics, metrics+kpi, 1)
		return strings.Replace(s, "successCriteria: error_rate<1%,latency_p95<2s", "successCriteria: error_rate<1%,business_conversion_rate>95,kpi>1", 1)
	}
	if !strings.Contains(base, metrics) {
		t.Fatal("the reference's metric changed")
	}
	if _, err := ParseService("hugai.yaml", []byte(withCriteria(base))); err != nil {
		t.Fatalf("criteria on prometheus and web metrics: %v", err)
	}
	for _, tc := range []struct{ old, new, want string }{
		{"provider: prometheus", "provider: datadog", `hugai.yaml:45: spec.metrics[0].provider: "datadog" is not one of builtin, prometheus, web`},
		{"      jsonPath: $.data.value\n", "", "hugai.yaml:48: spec.metrics[1].jsonPath: missing: the web provider needs a JSONPath"},
		{"jsonPath: $.data.value", "jsonPath: $.data.value\n      query: up", "hugai.yaml:52: spec.metrics[1].query: the web provider takes no query"},
		{"kpi?version={{.Version}}", "kpi?version={{.Version}", "hugai.yaml:50: spec.metrics[1].address: bad template"},
		{"headers: {Authorization:", `headers: {"Bad Name": x, Authorization:`, `hugai.yaml:52: spec.metrics[1].headers: "Bad Name" is not a header name`},
	} {
		s := withCriteria(base)
		if !strings.Contains(s, tc.old) {
			t.Fatalf("fixture lacks %q", tc.old)
		}
		_, err := ParseService("hugai.yaml", []byte(strings.Replace(s, tc.old, tc.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s → %v, want %q", tc.new, err, tc.want)
		}
	}
}

func TestHeaderRouting(t *testing.T) {
	base := string(readTestdata(t, "service-reference.yaml"))
	svc, err := ParseService("hugai.yaml", []byte(strings.Replace(base, "gracePeriod: 10s", "headerRouting: {secret: \"${ROUTE_SECRET}\", allowFrom: [127.0.0.1, \"::1\", 10.1.2.3/8]}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	env, err := svc.Env("production")
	if err != nil {
		t.Fatal(err)
	}
	if hr := env.Target.Local.HeaderRouting; hr == nil || hr.Secret != "${ROUTE_SECRET}" || len(hr.AllowFrom) != 3 {
		t.Fatalf("production's header routing: %+v", hr)
	}
	for in, want := range map[string]string{"127.0.0.1": "127.0.0.1/32", "::1": "::1/128", "10.1.2.3/8": "10.0.0.0/8", "::ffff:10.0.0.1": "10.0.0.1/32"} {
		if p, err := ParseAddressRange(in); err != nil || p.String() != want {
			t.Errorf("%s: %v %v, want %s", in, p, err, want)
		}
	}
	// A secret written in the file is a warning, not an error: it works, and it should not be there.
	docs, err := ParseFile("hugai.yaml", []byte(strings.Replace(base, "gracePeriod: 10s", "headerRouting: {secret: hunter2}", 1)))
	if err != nil || !strings.Contains(fmt.Sprint(docs[0].Warnings), "headerRouting.secret: written in the file") {
		t.Errorf("literal secret: %v %v", docs, err)
	}
}

// A blue-green on the local target needs the preview address: without it green could be reached
// only by X-Hugai-Route (off by default), and its smoke test would test blue and pass it.
func TestBlueGreenNeedsPreviewOnTheLocalTarget(t *testing.T) {
	base := string(readTestdata(t, "service-reference.yaml"))
	const bg = "apiVersion: hugai.io/v1\nkind: DeploymentPlan\nspec:\n  service: checkout\n  environment: production\n  version: v2\n  strategy: {type: blueGreen}\n"
	for _, tc := range []struct {
		name, svc string
		refused   bool
	}{
		{"no preview", base, true},
		{"preview", strings.Replace(base, "gracePeriod: 10s", "gracePeriod: 10s\n      preview: 127.0.0.1:8081", 1), false},
	} {
		svc, err := ParseService("hugai.yaml", []byte(tc.svc))
		if err != nil {
			t.Fatal(err)
		}
		run, err := ParseRun("p.yaml", []byte(bg))
		if err != nil {
			t.Fatal(err)
		}
		errs := CheckAgainst("p.yaml", run.Positions, run.Plan, run.Rename, svc, "production")
		got := strings.Contains(errs.Error(), "spec.strategy.type: blue-green on the local target needs a preview address")
		if got != tc.refused {
			t.Errorf("%s: refused %t, want %t: %v", tc.name, got, tc.refused, errs)
		}
	}
}
