package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hugai-dev/hugai/internal/criteria"
)

// AvailableProviders are the metric sources this hugai can query. A criterion, trigger or
// monitor on a metric no available source measures is refused before anything starts: measured
// as an error in every window, it would be a gate that does not exist.
var AvailableProviders = []string{ProviderBuiltin, ProviderPrometheus, ProviderWeb}

// Automated checkpoints hugai runs itself; any other automated checkpoint needs a command in the
// service file's spec.checkpoints.
const (
	CheckpointHealth                = "health-check"
	CheckpointPerformanceValidation = "performance-validation"
	CheckpointPerformanceTest       = "performance-test"
	CheckpointSmokeTest             = "smoke-test"
)

// KnownCheckpoints are the automated checkpoints hugai knows, in the order messages list them.
var KnownCheckpoints = []string{CheckpointHealth, CheckpointPerformanceValidation, CheckpointPerformanceTest, CheckpointSmokeTest}

// MetricNames are the names of the service's own metrics (spec.metrics).
func (s *Service) MetricNames() []string {
	names := make([]string, 0, len(s.Spec.Metrics))
	for _, m := range s.Spec.Metrics {
		names = append(names, m.Name)
	}
	return names
}

func (s *Service) metric(name string) *Metric {
	for i := range s.Spec.Metrics {
		if s.Spec.Metrics[i].Name == name {
			return &s.Spec.Metrics[i]
		}
	}
	return nil
}

// providerOf is a declared metric's source: prometheus when it names none.
func providerOf(m *Metric) string {
	if m.Provider == "" {
		return ProviderPrometheus
	}
	return m.Provider
}

// Unmeasurable says why metric (a criterion's name, alias or not) cannot be measured for a
// rollout to targetType, or "" when it can.
func (s *Service) Unmeasurable(metric, targetType string) string {
	if m := s.metric(metric); m != nil {
		provider := providerOf(m)
		if !slices.Contains(AvailableProviders, provider) {
			return fmt.Sprintf("metric %s: its provider %s is not available in this hugai (available: %s)", metric, provider, strings.Join(AvailableProviders, ", "))
		}
		if provider != ProviderBuiltin {
			if targetType == TargetKubernetes && !s.countsRequests() {
				// The judge weighs every value by the requests it stands on (minimumSamples),
				// which the local target's proxy counts; in a cluster a metric of the user's says.
				return fmt.Sprintf("metric %s: on the kubernetes target hugai needs to know how many requests a version served: declare request_rate (requests per second of {{.Version}}) in spec.metrics with provider prometheus or web", metric)
			}
			return "" // its own provider measures it, whatever the target
		}
	}
	canonical := criteria.Canonical(metric)
	if _, ok := criteria.MetricKind(canonical); !ok {
		if s.metric(metric) != nil {
			return fmt.Sprintf("metric %s: the builtin provider has no such metric (it measures %s)", metric, strings.Join(criteria.Builtins(), ", "))
		}
		known := criteria.Builtins()
		for _, n := range s.MetricNames() {
			if !slices.Contains(known, n) {
				known = append(known, n)
			}
		}
		msg := fmt.Sprintf("metric %s is neither builtin nor declared in the service file's spec.metrics (known: %s)", metric, strings.Join(known, ", "))
		if m := didYouMean(metric, known); m != "" {
			msg = fmt.Sprintf("metric %s is neither builtin nor declared in the service file's spec.metrics (did you mean %s?)", metric, m)
		}
		return msg
	}
	if targetType == TargetKubernetes {
		return fmt.Sprintf("metric %s is measured by hugai's proxy, which the kubernetes target does not have: declare it in the service file's spec.metrics with provider prometheus or web", metric)
	}
	return ""
}

// unmeasurable lists, for a criteria text, why each of its metrics cannot be measured (nothing
// for a text that does not parse: that error is reported where the text is checked).
func (s *Service) unmeasurable(text, targetType string) []string {
	conds, err := criteria.Parse(text, criteria.WithMetrics(s.MetricNames()...), criteria.AnyMetric())
	if err != nil {
		return nil
	}
	var out []string
	for _, c := range conds {
		if why := s.Unmeasurable(c.Metric, targetType); why != "" && !slices.Contains(out, why) {
			out = append(out, why)
		}
	}
	return out
}

// countsRequests says whether the service declares request_rate with a provider of its own: what
// the kubernetes target counts a version's requests with.
func (s *Service) countsRequests() bool {
	m := s.metric("request_rate")
	return m != nil && providerOf(m) != ProviderBuiltin
}
