package criteria

import (
	"fmt"
	"strings"
)

// comparisons maps the spellings a rollback trigger may use to operators.
var comparisons = map[string]Op{
	"less_than": Less, "less_than_or_equal": LessEqual,
	"greater_than": Greater, "greater_than_or_equal": GreaterEqual,
	"equal": Equal, "not_equal": NotEqual,
	"<": Less, "<=": LessEqual, ">": Greater, ">=": GreaterEqual, "==": Equal, "!=": NotEqual,
}

// Trigger compiles a rollback trigger given as separate fields, as the seed writes them
// ({metric: business_conversion_rate, comparison: less_than, threshold: 95.0}), into the same
// Condition Parse makes. The trigger FIRES when the condition Holds.
//
// comparison is less_than, less_than_or_equal, greater_than, greater_than_or_equal, equal or
// not_equal (case and '-' for '_' forgiven), or an operator symbol. threshold is a value of the
// language: "1.0" for error_rate is one percent, latencies need a unit ("2000ms", "2s"). Any
// metric name is accepted, because a trigger declares the metric it watches: builtins get their
// kind, other names are Number. A threshold error wraps a *SyntaxError whose column counts
// within threshold.
func Trigger(metric, comparison, threshold string) (Condition, error) {
	if !validName(metric) {
		return Condition{}, fmt.Errorf("trigger metric %q: want a letter or '_' then letters, digits, '_' or '.'", metric)
	}
	key := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(comparison)), "-", "_")
	op, ok := comparisons[key]
	if !ok {
		return Condition{}, fmt.Errorf("unknown comparison %q (known: less_than, less_than_or_equal, greater_than, greater_than_or_equal, equal, not_equal, or %s)", comparison, strings.Trim(opList, "()"))
	}
	metric = Canonical(metric)
	kind, _ := MetricKind(metric)
	p := parser{s: threshold, cfg: &config{}}
	p.skipSpace()
	v, err := p.value(metric, kind, "")
	if err == nil {
		p.skipSpace()
		if !p.eof() {
			err = p.errAt(p.i, "unexpected "+p.found())
		}
	}
	if err != nil {
		return Condition{}, fmt.Errorf("threshold %q: %w", threshold, err)
	}
	return Condition{Metric: metric, Op: op, Value: v, Kind: kind}, nil
}

// validName reports whether s lexes as one metric name, so the condition's String parses back.
func validName(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdent(s[i]) {
			return false
		}
	}
	return true
}
