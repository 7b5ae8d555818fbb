package argo

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/plan"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the exporter's output")

// load parses a plan and a service file given as text, as the CLI reads them from files.
func load(t *testing.T, planText, svcText string) Input {
	t.Helper()
	pdocs, err := plan.ParseFile("plan.yaml", []byte(planText))
	if err != nil {
		t.Fatalf("parse plan: %v", err)
	}
	sdocs, err := plan.ParseFile("hugai.yaml", []byte(svcText))
	if err != nil {
		t.Fatalf("parse service: %v", err)
	}
	return Input{
		PlanFile: "plan.yaml", PlanPos: pdocs[0].Positions, Plan: pdocs[0].Value.(*plan.DeploymentPlan),
		ServiceFile: "hugai.yaml", ServicePos: sdocs[0].Positions, Service: sdocs[0].Value.(*plan.Service),
	}
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// render is what `hugai export argo-rollouts` prints: the notes (as comments) and the objects.
func render(t *testing.T, res *Result) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, n := range res.Notes {
		b.WriteString("# note: " + n + "\n")
	}
	y, err := res.YAML()
	if err != nil {
		t.Fatal(err)
	}
	b.Write(y)
	return b.Bytes()
}

// TestGolden exports each strategy the export supports and compares with testdata/golden (go test
// -update rewrites them; review the diff as a change of the mapping).
func TestGolden(t *testing.T) {
	svc := readTestdata(t, "hugai.yaml")
	for _, name := range []string{"canary", "bluegreen", "rolling"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := load(t, readTestdata(t, name+".yaml"), svc)
			if errs := plan.CheckAgainst(in.PlanFile, in.PlanPos, in.Plan, nil, in.Service, in.Plan.Spec.Environment); len(errs) > 0 {
				t.Fatalf("the testdata plan does not pass hugai's own check: %v", errs)
			}
			res, err := Export(in)
			if err != nil {
				t.Fatalf("export: %v", err)
			}
			got := render(t, res)
			golden := filepath.Join("testdata", "golden", name+".yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("export of %s differs from %s (go test -update rewrites it):\n%s", name, golden, got)
			}
		})
	}
}

// TestMapping checks the parts of the mapping that matter most one by one, so that a golden file
// rewritten by mistake cannot hide them.
func TestMapping(t *testing.T) {
	svc := readTestdata(t, "hugai.yaml")
	res, err := Export(load(t, readTestdata(t, "canary.yaml"), svc))
	if err != nil {
		t.Fatal(err)
	}
	c := res.Rollout.Spec.Strategy.Canary
	if c == nil || res.Rollout.Spec.WorkloadRef.Name != "my-app" || res.Rollout.Spec.WorkloadRef.Kind != "Deployment" {
		t.Fatalf("want a canary Rollout on Deployment my-app, got %+v", res.Rollout.Spec)
	}
	// The plan's required approval, then 5 (pause 5m) analysis 25 (pause 10m) analysis 50 (pause) 100.
	var kinds []string
	for _, s := range c.Steps {
		switch {
		case s.SetWeight != nil:
			kinds = append(kinds, "w"+itoa(*s.SetWeight))
		case s.Pause != nil:
			kinds = append(kinds, "p"+s.Pause.Duration)
		case s.Analysis != nil:
			kinds = append(kinds, "a:"+s.Analysis.Templates[0].TemplateName)
		}
	}
	want := "p w5 p5m a:success-rate w25 p10m a:avg-response-time w50 p w100"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("steps %q, want %q", got, want)
	}
	if p := c.TrafficRouting.Plugins[GatewayAPIPluginName]; p.HTTPRoute != "my-app" || p.Namespace != "production" {
		t.Errorf("gatewayAPI plugin %+v", p)
	}
	if c.Analysis == nil || c.Analysis.Templates[0].TemplateName != "my-app-success-criteria" {
		t.Errorf("background analysis %+v, want the success criteria", c.Analysis)
	}
	byName := map[string]AnalysisTemplate{}
	for _, tpl := range res.Templates {
		byName[tpl.Metadata.Name] = tpl
	}
	crit := byName["my-app-success-criteria"].Spec.Metrics
	if len(crit) != 4 || crit[0].SuccessCondition != "result[0] < 1" || crit[1].SuccessCondition != "result[0] < 2" || crit[2].FailureCondition != "result[0] > 5" {
		t.Errorf("success criteria metrics %+v", crit)
	}
	if q := crit[0].Provider.Prometheus.Query; strings.Contains(q, "{{.") || !strings.Contains(q, `version="{{args.version}}"`) || !strings.Contains(q, "[1m]") {
		t.Errorf("query not translated: %s", q)
	}
	web := byName["avg-response-time"].Spec.Metrics[0].Provider.Web
	if web == nil || web.JSONPath != "{$.data.mean}" || web.Headers[0].Value != "Bearer {{args.METRICS_TOKEN}}" {
		t.Errorf("web provider %+v", web)
	}

	// Without a router the canary is replica-based: no traffic routing, no Services to name.
	noRouter := strings.Replace(svc, "      trafficRouter:\n        gatewayAPI: {httpRoute: my-app}\n", "", 1)
	planNoDelay := strings.Replace(readTestdata(t, "canary.yaml"), "      scaleDownDelaySeconds: 30\n", "", 1)
	res, err = Export(load(t, planNoDelay, noRouter))
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Rollout.Spec.Strategy.Canary; c.TrafficRouting != nil || c.CanaryService != "" || c.ScaleDownDelaySeconds != nil {
		t.Errorf("replica-based canary: %+v", c)
	}
}

// TestApprovals: Argo has no approvals; each strategy waits for a person to promote instead, and
// says so.
func TestApprovals(t *testing.T) {
	svc := readTestdata(t, "hugai.yaml")
	approval := "  governance:\n    approvals:\n    - {name: prod, required: true, approvers: [ops@example.com]}\n"
	res, err := Export(load(t, strings.Replace(readTestdata(t, "bluegreen.yaml"), "      autoPromotion: false\n", "", 1)+approval, svc))
	if err != nil {
		t.Fatal(err)
	}
	if bg := res.Rollout.Spec.Strategy.BlueGreen; bg.AutoPromotionEnabled == nil || *bg.AutoPromotionEnabled {
		t.Errorf("blue-green with an approval: autoPromotionEnabled %v, want false", bg.AutoPromotionEnabled)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "spec.governance.approvals[0] (prod): Argo has no approvals") {
		t.Errorf("notes %q: the approval's weaker translation is not reported", res.Notes)
	}
	short := strings.Replace(readTestdata(t, "rolling.yaml"), "  strategy:\n    type: rolling\n", "  strategy:\n    type: rolling\n    governance: {approvalRequired: true}\n", 1)
	res, err = Export(load(t, short, svc))
	if err != nil {
		t.Fatal(err)
	}
	if c := res.Rollout.Spec.Strategy.Canary; len(c.Steps) != 1 || c.Steps[0].Pause == nil || c.Steps[0].Pause.Duration != "" {
		t.Errorf("rolling with approvalRequired: steps %+v, want one indefinite pause", c.Steps)
	}
	gate := strings.Replace(short, "approvalRequired: true", "qualityGates: [security-scan]", 1)
	svcGate := svc + "  checkpoints:\n    security-scan: [trivy, fs, .]\n"
	if _, err := Export(load(t, gate, svcGate)); err == nil || !strings.Contains(err.Error(), "spec.strategy.governance.qualityGates[0]: security-scan: a required checkpoint that Argo Rollouts cannot run") {
		t.Errorf("a quality gate Argo cannot run: %v", err)
	}
}

func itoa(v int32) string { return strconv.Itoa(int(v)) }

// TestRefused: what Argo cannot express is an error at the file, line and field that asks for it.
func TestRefused(t *testing.T) {
	svc := readTestdata(t, "hugai.yaml")
	canary := readTestdata(t, "canary.yaml")
	bg := readTestdata(t, "bluegreen.yaml")
	cases := []struct {
		name      string
		plan, svc string
		want      string
	}{
		{"recreate", readTestdata(t, "recreate.yaml"), svc, "plan.yaml:10: spec.strategy.type: recreate has no Argo Rollouts equivalent"},
		{"builtin metric", strings.Replace(canary, "latency_p95<2s", "latency_p99<2s", 1), svc,
			"plan.yaml:30: spec.successCriteria: metric latency_p99 is measured by hugai's proxy, which Argo Rollouts cannot read"},
		{"from", canary, strings.Replace(svc, "[{{.Window}}]))'\n    - name: success_rate", "[1m] @ {{.To}}))'\n    - name: success_rate", 1),
			"hugai.yaml:28: spec.metrics[1].query: {{.To}} has no Argo Rollouts equivalent"},
		{"pipeline", canary, strings.Replace(svc, `version="{{.Version}}"}[{{.Window}}]))'`+"\n    - name: latency_mean", `version="{{.Version | printf "%s"}}"}[{{.Window}}]))'`+"\n    - name: latency_mean", 1),
			"hugai.yaml:32: spec.metrics[2].query:"},
		{"local target", canary, strings.Replace(svc, "type: kubernetes", "type: local\n    local: {command: [./app], listen: 127.0.0.1:8080}", 1),
			"hugai.yaml:7: spec.target.type: local: an Argo Rollout takes its pods from the service's Deployment"},
		{"gradual", strings.Replace(bg, "      autoPromotion: false\n", "      autoPromotion: false\n      switch: gradual\n", 1), svc,
			"plan.yaml:15: spec.strategy.blueGreen.switch: gradual: Argo's blueGreen switches all traffic at once"},
		{"no automatic rollback", canary + "    automatic: false\n", svc, "spec.rollback.automatic: false: Argo Rollouts always aborts"},
		{"scale-down delay without router", canary, strings.Replace(svc, "      trafficRouter:\n        gatewayAPI: {httpRoute: my-app}\n", "", 1),
			"plan.yaml:29: spec.strategy.canary.scaleDownDelaySeconds: Argo Rollouts honours scaleDownDelaySeconds only with traffic routing"},
		{"manual checkpoint", strings.Replace(canary, "    - name: health-check\n      required: true\n      automated: true\n", "    - name: business-validation\n      required: true\n      automated: false\n", 1), svc,
			"plan.yaml:38: spec.governance.checkpoints[0]: business-validation: a required checkpoint that Argo Rollouts cannot run"},
		{"no version", strings.Replace(canary, "  version: v2.1.0\n", "", 1), svc, "spec.version: missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Export(load(t, tc.plan, tc.svc))
			var errs plan.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("export: %v, want plan.Errors", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

func TestCondition(t *testing.T) {
	cases := []struct{ criteria, result, want string }{
		{"error_rate<1%", "result[0]", "result[0] < 1"},
		{"error_rate<=0.5", "result[0]", "result[0] <= 0.5"}, // a bare rate is a percentage
		{"latency_p95<2000ms", "result[0]", "result[0] < 2"}, // durations in seconds
		{"latency_p95<2s,latency_p95>10ms", "asFloat(result)", "asFloat(result) < 2 && asFloat(result) > 0.01"},
		{"success_rate>=99.9%", "result[0]", "result[0] >= 99.9"},
		{"queue_depth!=0", "result[0]", "result[0] != 0"},
	}
	for _, tc := range cases {
		conds, err := criteria.Parse(tc.criteria, criteria.WithMetrics("queue_depth"))
		if err != nil {
			t.Fatalf("%s: %v", tc.criteria, err)
		}
		if got := Condition(tc.result, conds); got != tc.want {
			t.Errorf("Condition(%s) = %q, want %q", tc.criteria, got, tc.want)
		}
	}
}

func TestTranslateText(t *testing.T) {
	cases := []struct{ in, want, err string }{
		{`rate(x{version="{{.Version}}"}[{{.Window}}])`, `rate(x{version="{{args.version}}"}[2m])`, ""},
		{`{{ .Service }}/{{.Environment}}`, `{{args.service-name}}/{{args.environment}}`, ""},
		{`Bearer ${TOKEN}`, `Bearer {{args.TOKEN}}`, ""},
		{`x @ {{.From}}`, "", "{{.From}} has no Argo Rollouts equivalent"},
		{`{{printf "%s" .Version}}`, "", "only plain fields"},
		{`{{.Version}} {{ if .X }}`, "", "only plain fields"},
		{`no template`, `no template`, ""},
		{`{${A}}`, "", "not next to a brace"}, // found by FuzzTranslateText: Argo would read {{{args.A}}} wrongly
		{`x{{{.Version}}}`, "", "not next to a brace"},
	}
	for _, tc := range cases {
		tr := &translation{window: "2m"}
		got, err := tr.text(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("text(%q) = %q, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("text(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzTranslateText: any string either translates into text whose every {{ is an Argo argument
// or is refused; it never panics and never passes one of hugai's actions through.
var argName = regexp.MustCompile(`^args\.[A-Za-z0-9_-]+$`)

func FuzzTranslateText(f *testing.F) {
	for _, s := range []string{`sum(rate(x{version="{{.Version}}"}[{{.Window}}]))`, `{{.From}}`, `${A}{{.Service}}`, `{{`, `{{-.Version-}}`, `$\{X}`, `{{args.version}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tr := &translation{window: "1m"}
		out, err := tr.text(s)
		if err != nil {
			return
		}
		// Argo's substitution (fasttemplate) reads from each {{ to the next }}: every tag it finds
		// must be one argument, and no hugai action may survive.
		for rest := out; ; {
			i := strings.Index(rest, "{{")
			if i < 0 {
				break
			}
			rest = rest[i+2:]
			j := strings.Index(rest, "}}")
			if j < 0 || !argName.MatchString(rest[:j]) {
				t.Fatalf("text(%q) = %q: a {{ that is not one Argo argument", s, out)
			}
			rest = rest[j+2:]
		}
	})
}

// TestIstioRouting: a service routed by an Istio VirtualService exports to Argo's own Istio
// router (host-level splitting) on the same VirtualService and routes, with stable and canary
// Services, and no Gateway API plugin.
func TestIstioRouting(t *testing.T) {
	svc := readTestdata(t, "hugai.yaml")
	istio := strings.Replace(svc, "gatewayAPI: {httpRoute: my-app}", "istio: {virtualService: my-app-vs, routes: [primary]}", 1)
	if istio == svc {
		t.Fatal("testdata hugai.yaml lacks the gatewayAPI router")
	}
	res, err := Export(load(t, readTestdata(t, "canary.yaml"), istio))
	if err != nil {
		t.Fatal(err)
	}
	c := res.Rollout.Spec.Strategy.Canary
	tr := c.TrafficRouting
	if tr == nil || tr.Istio == nil || tr.Istio.VirtualService == nil || tr.Istio.VirtualService.Name != "my-app-vs" ||
		!slices.Equal(tr.Istio.VirtualService.Routes, []string{"primary"}) || len(tr.Plugins) != 0 {
		t.Fatalf("traffic routing %+v, want Argo's istio router on my-app-vs, route primary, and no plugin", tr)
	}
	if c.StableService == "" || c.CanaryService == "" || c.StableService == c.CanaryService {
		t.Fatalf("stable %q canary %q: Argo's Istio router needs both Services", c.StableService, c.CanaryService)
	}
	out := string(render(t, res))
	if !strings.Contains(out, "virtualService:\n") || !strings.Contains(out, "name: my-app-vs") || !strings.Contains(out, "VirtualService my-app-vs (http routes primary)") {
		t.Fatalf("rendered rollout lacks the istio router or its note:\n%s", out)
	}
}
