package plan

import (
	"fmt"
	"strings"
	"testing"
)

// A few lines of aliases can expand to billions of values; the decoder must refuse, not hang.
func TestAliasBombIsRefused(t *testing.T) {
	const k = 60 // 60 steps × 60 templates × 60 args = 216,000 values once expanded
	rep := func(alias string) string {
		return "[" + strings.TrimSuffix(strings.Repeat("*"+alias+", ", k), ", ") + "]"
	}
	doc := fmt.Sprintf(`apiVersion: hugai.io/v1
kind: DeploymentPlan
metadata:
  annotations:
    a: &arg {name: n, value: v}
    b: &args %s
    c: &tmpl {templateName: t, args: *args}
    d: &tmpls %s
    e: &step {analysis: {templates: *tmpls}}
spec:
  strategy:
    type: canary
    canary:
      steps: %s
`, rep("arg"), rep("tmpl"), rep("step"))
	_, err := ParseFile("bomb.yaml", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), "document too large") {
		t.Fatalf("want the alias bomb refused as too large, got %v", err)
	}
}
