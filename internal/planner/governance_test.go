package planner

import (
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/plan"
)

// The plan shows whether four-eyes holds, both in the approval's reason and among the decisions.
func TestPlanShowsFourEyes(t *testing.T) {
	const svcYAML = `apiVersion: hugai.io/v1
kind: Service
metadata: {name: demo}
spec:
  target: {type: local, local: {command: ["./demo"], listen: "127.0.0.1:1"}}
  environments:
    production:
      successCriteria: error_rate<1%
      policy:
        approvers: [alice, bob]
        requireApprovalFrom: low
%s`
	cases := []struct {
		name, extra, choice, why string
		inReason                 bool
	}{
		{"on by default with approvers", "", "on", "on by default", true},
		{"turned off", "        fourEyes: false\n", "off", "policy.fourEyes is false", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc, err := plan.ParseService("hugai.yaml", []byte(strings.Replace(svcYAML, "%s", tc.extra, 1)))
			if err != nil {
				t.Fatal(err)
			}
			p, decisions, err := Build(Input{Service: svc, Environment: "production", Version: "v2", At: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, d := range decisions {
				if d.Topic == "four-eyes" {
					found = d.Choice == tc.choice && strings.Contains(d.Reason, tc.why)
				}
			}
			if !found {
				t.Errorf("no four-eyes decision %s (%s) in %+v", tc.choice, tc.why, decisions)
			}
			if p.Spec.Governance == nil || len(p.Spec.Governance.Approvals) != 1 {
				t.Fatalf("governance %+v", p.Spec.Governance)
			}
			if got := strings.Contains(p.Spec.Governance.Approvals[0].Reason, "four-eyes"); got != tc.inReason {
				t.Errorf("approval reason %q", p.Spec.Governance.Approvals[0].Reason)
			}
		})
	}
}
