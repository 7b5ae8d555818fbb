package argo

import (
	"strings"
	"testing"
)

// withCompare is the test service with the sequential comparison hugai's judge reads.
func withCompare(t *testing.T) string {
	t.Helper()
	svc := readTestdata(t, "hugai.yaml")
	svc = strings.Replace(svc, "  metrics:\n", `  metrics:
    - {name: http_requests, provider: prometheus, address: http://prometheus.monitoring:9090, query: 'sum(http_requests_total{service="{{.Service}}",rollouts_pod_template_hash="{{.Version}}"})'}
    - {name: http_errors, provider: prometheus, address: http://prometheus.monitoring:9090, query: 'sum(http_requests_total{service="{{.Service}}",rollouts_pod_template_hash="{{.Version}}",code=~"5.."}) or vector(0)'}
`, 1)
	return strings.Replace(svc, "        interval: 1m\n", "        interval: 1m\n        method: sequential\n        compare: {requests: http_requests, errors: http_errors}\n", 1)
}

// TestJudge: with --judge, every analysis of a canary also names hugai's template and passes it
// the namespace and both pod-template hashes, which Argo resolves when it starts the run; the
// judge's template is shipped, not exported. Without analysis.compare, or for a strategy without
// a canary beside its stable version, it is refused with the file and line.
func TestJudge(t *testing.T) {
	in := load(t, readTestdata(t, "canary.yaml"), withCompare(t))
	in.Judge = "hugai-analysis"
	res, err := Export(in)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, st := range res.Rollout.Spec.Strategy.Canary.Steps {
		a := st.Analysis
		if a == nil {
			continue
		}
		n++
		if last := a.Templates[len(a.Templates)-1]; last.TemplateName != "hugai-analysis" || len(a.Templates) != 2 {
			t.Errorf("step analysis %+v: want its template and hugai-analysis", a.Templates)
		}
		args := map[string]string{}
		for _, g := range a.Args {
			switch {
			case g.Value != nil:
				args[g.Name] = *g.Value
			case g.ValueFrom != nil && g.ValueFrom.PodTemplateHashValue != nil:
				args[g.Name] = "hash:" + *g.ValueFrom.PodTemplateHashValue
			}
		}
		if args["service-name"] != "my-app" || args["namespace"] != "production" || args["environment"] != "production" ||
			args["canary-hash"] != "hash:Latest" || args["stable-hash"] != "hash:Stable" {
			t.Errorf("args %v", args)
		}
	}
	if n != 2 {
		t.Errorf("%d analysis steps, want 2", n)
	}
	for _, tmpl := range res.Templates {
		if tmpl.Metadata.Name == "hugai-analysis" {
			t.Error("the judge's template was exported; it is shipped (config/argo)")
		}
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "apply config/argo/hugai-analysis.yaml") {
		t.Errorf("notes %q: want how to install the judge", res.Notes)
	}
	y, err := res.YAML()
	if err != nil || !strings.Contains(string(y), "podTemplateHashValue: Latest") {
		t.Errorf("YAML: %v\n%s", err, y)
	}

	in = load(t, readTestdata(t, "canary.yaml"), readTestdata(t, "hugai.yaml"))
	in.Judge = "hugai-analysis"
	if _, err := Export(in); err == nil || !strings.Contains(err.Error(), "hugai.yaml:47: spec.environments.production.analysis: --judge hugai-analysis reads each version's requests and errors") {
		t.Errorf("without analysis.compare: %v", err)
	}
	in = load(t, readTestdata(t, "bluegreen.yaml"), withCompare(t))
	in.Judge = "hugai-analysis"
	if _, err := Export(in); err == nil || !strings.Contains(err.Error(), "only a canary's analysis steps have both") {
		t.Errorf("blue-green: %v", err)
	}
}
