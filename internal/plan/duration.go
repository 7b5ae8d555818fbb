package plan

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a span of time written with a unit (`30s`, `5m`, `2000ms`, `62h`). plan has its own
// type, not metav1.Duration, so the core imports nothing of Kubernetes.
//
// +kubebuilder:validation:Type=string
type Duration struct{ time.Duration }

// D is shorthand for building Durations in code.
func D(d time.Duration) Duration { return Duration{d} }

// ParseDuration reads a duration with a unit. A bare number is refused: `timeout: 5` could mean
// seconds or minutes, and a wrong guess here shows up in production.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return Duration{}, fmt.Errorf("%q needs a unit (e.g. %ss or %sm)", s, s, s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return Duration{}, fmt.Errorf("%q is not a duration (e.g. 30s, 5m, 1h)", s)
	}
	if d < 0 {
		return Duration{}, fmt.Errorf("%q is negative", s)
	}
	return Duration{d}, nil
}

// String writes the shortest form that reads back the same: 5m, not 5m0s.
func (d Duration) String() string {
	if d.Duration == 0 {
		return "0s"
	}
	s := d.Duration.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (d *Duration) unmarshalNode(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a duration such as 30s, got %s", describe(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func (d Duration) marshalNode() (*yaml.Node, error) { return strNode(d.String()), nil }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"30s\": %w", err)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Seconds is a duration where a bare number means seconds, as Argo Rollouts reads a pause
// (`pause: 30`, `pause: {duration: 30}`); a unit is accepted too (`5m`).
type Seconds struct{ Duration }

// ParseSeconds reads a bare number of seconds or a duration with a unit.
func ParseSeconds(s string) (Seconds, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n < 0 {
			return Seconds{}, fmt.Errorf("%q is negative", s)
		}
		if n > float64(1<<62)/float64(time.Second) {
			return Seconds{}, fmt.Errorf("%q is too long", s)
		}
		return Seconds{Duration{time.Duration(n * float64(time.Second))}}, nil
	}
	d, err := ParseDuration(s)
	if err != nil {
		return Seconds{}, err
	}
	return Seconds{d}, nil
}

func (s *Seconds) unmarshalNode(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a duration such as 30s or a number of seconds, got %s", describe(n))
	}
	v, err := ParseSeconds(n.Value)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

func (s *Seconds) UnmarshalJSON(b []byte) error {
	var n float64
	if err := json.Unmarshal(b, &n); err == nil {
		v, err := ParseSeconds(strconv.FormatFloat(n, 'f', -1, 64))
		*s = v
		return err
	}
	var str string
	if err := json.Unmarshal(b, &str); err != nil {
		return fmt.Errorf("duration: want a string such as \"30s\" or a number of seconds")
	}
	v, err := ParseSeconds(str)
	*s = v
	return err
}

// Pause holds a canary at its weight: for Duration, or, with none, until a person promotes.
type Pause struct {
	Duration *Seconds `json:"duration,omitempty"`
}

// unmarshalNode accepts the three shapes seen in the wild: `pause: {duration: 5m}`, `pause: 30`
// and `pause: 5m`, and `pause: {}` for an indefinite pause.
func (p *Pause) unmarshalNode(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		v, err := ParseSeconds(n.Value)
		if err != nil {
			return err
		}
		p.Duration = &v
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value != "duration" {
				msg := fmt.Sprintf("unknown field %q", k.Value)
				if didYouMean(k.Value, []string{"duration"}) != "" {
					msg += ` (did you mean "duration"?)`
				}
				return fmt.Errorf("%s", msg)
			}
			if isNull(v) {
				continue
			}
			var s Seconds
			if err := s.unmarshalNode(v); err != nil {
				return fmt.Errorf("duration: %w", err)
			}
			p.Duration = &s
		}
		return nil
	}
	return fmt.Errorf("want a duration or {duration: …}, got %s", describe(n))
}

func (p Pause) marshalNode() (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	if p.Duration != nil {
		n.Content = append(n.Content, strNode("duration"), strNode(p.Duration.String()))
	} else {
		n.Style = yaml.FlowStyle
	}
	return n, nil
}

// IntOrPercent is a count or a share of replicas (`maxSurge: 1`, `maxSurge: 25%`).
type IntOrPercent struct {
	Value   int
	Percent bool
}

func (v IntOrPercent) String() string {
	if v.Percent {
		return strconv.Itoa(v.Value) + "%"
	}
	return strconv.Itoa(v.Value)
}

// Resolve returns the count for n replicas; percentages round up when roundUp (maxSurge, as in
// Kubernetes) and down otherwise (maxUnavailable).
func (v IntOrPercent) Resolve(n int, roundUp bool) int {
	if !v.Percent {
		return v.Value
	}
	if roundUp {
		return (v.Value*n + 99) / 100
	}
	return v.Value * n / 100
}

func parseIntOrPercent(s string) (IntOrPercent, error) {
	pct := strings.HasSuffix(s, "%")
	n, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
	if err != nil || n < 0 {
		return IntOrPercent{}, fmt.Errorf("%q: want a count such as 1 or a share such as 25%%", s)
	}
	if pct && n > 100 {
		return IntOrPercent{}, fmt.Errorf("%q is more than 100%%", s)
	}
	return IntOrPercent{Value: n, Percent: pct}, nil
}

func (v *IntOrPercent) unmarshalNode(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a count or a percentage, got %s", describe(n))
	}
	r, err := parseIntOrPercent(n.Value)
	if err != nil {
		return err
	}
	*v = r
	return nil
}

func (v IntOrPercent) marshalNode() (*yaml.Node, error) {
	if v.Percent {
		return strNode(v.String()), nil
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: v.String()}, nil
}

func (v IntOrPercent) MarshalJSON() ([]byte, error) {
	if v.Percent {
		return json.Marshal(v.String())
	}
	return json.Marshal(v.Value)
}

func (v *IntOrPercent) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		s = string(b)
	}
	r, err := parseIntOrPercent(s)
	*v = r
	return err
}
