package risk

import (
	"fmt"
	"strings"
)

// Strategy names as plans spell them.
const (
	Canary    = "canary"
	BlueGreen = "blueGreen"
	Rolling   = "rolling"
	Recreate  = "recreate"
)

// DefaultStrategies is the mapping used where the environment's policy
// (strategyByRisk in hugai.yaml) names none for a level.
func DefaultStrategies() map[Level]string {
	return map[Level]string{Low: Rolling, Medium: Canary, High: Canary, Critical: BlueGreen}
}

// Strategies lists the known strategy names.
func Strategies() []string { return []string{Canary, BlueGreen, Rolling, Recreate} }

// ParseStrategy returns the canonical name of a strategy: `blue-green` (and
// any case) reads as blueGreen. An unknown name is an error listing the known.
func ParseStrategy(name string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "canary":
		return Canary, nil
	case "bluegreen", "blue-green", "blue_green":
		return BlueGreen, nil
	case "rolling":
		return Rolling, nil
	case "recreate":
		return Recreate, nil
	}
	return "", fmt.Errorf("unknown strategy %q (known: %s)", name, strings.Join(Strategies(), ", "))
}

// ChooseStrategy picks the rollout strategy and says which rule won: an
// explicit choice (--strategy) wins, then the environment's mapping for the
// level (byRisk), then DefaultStrategies. Known names come back canonical;
// an unknown one comes back as given, for the caller's validation (see
// ParseStrategy) to report it rather than to be replaced silently.
func ChooseStrategy(level Level, byRisk map[Level]string, explicit string) (strategy string, reason string) {
	if explicit != "" {
		s := canonical(explicit)
		return s, fmt.Sprintf("--strategy %s was given explicitly; it wins over the %s-risk mapping", s, level)
	}
	if s, ok := byRisk[level]; ok && s != "" {
		s = canonical(s)
		return s, fmt.Sprintf("the environment's strategyByRisk maps %s risk to %s", level, s)
	}
	if s, ok := DefaultStrategies()[level]; ok {
		return s, fmt.Sprintf("default mapping: %s risk uses %s (docs/risk.md)", level, s)
	}
	return Canary, fmt.Sprintf("risk level %q is unknown: canary, the most cautious gradual strategy", level)
}

func canonical(name string) string {
	if s, err := ParseStrategy(name); err == nil {
		return s
	}
	return name
}
