package cli

import (
	"fmt"

	"github.com/hugai-dev/hugai/internal/metric"
	"github.com/hugai-dev/hugai/internal/metric/prometheus"
	"github.com/hugai-dev/hugai/internal/metric/web"
	"github.com/hugai-dev/hugai/internal/plan"
)

// outsideMetrics builds the providers of a service file's named metrics that hugai does not
// measure itself (spec.metrics with provider prometheus, the default, or web), and which provider
// reads each. A bad address, template or JSONPath is an error here, before anything starts.
func outsideMetrics(svc *plan.Service) (metric.Providers, map[string]string, error) {
	var proms []prometheus.Metric
	var webs []web.Metric
	routes := map[string]string{}
	for _, m := range svc.Spec.Metrics {
		switch m.Provider {
		case plan.ProviderBuiltin:
			continue // an override of a builtin metric: read from builtin, as if undeclared
		case plan.ProviderPrometheus, "":
			proms = append(proms, prometheus.Metric{Name: m.Name, Address: m.Address, Query: m.Query, Headers: m.Headers})
			routes[m.Name] = plan.ProviderPrometheus
		case plan.ProviderWeb:
			webs = append(webs, web.Metric{Name: m.Name, URL: m.Address, JSONPath: m.JSONPath, Headers: m.Headers})
			routes[m.Name] = plan.ProviderWeb
		default:
			// Validation refuses other names; NewRouter would too, listing the known ones.
			routes[m.Name] = m.Provider
		}
	}
	ps := metric.Providers{}
	if len(proms) > 0 {
		p, err := prometheus.New(proms, prometheus.Options{})
		if err != nil {
			return nil, nil, fmt.Errorf("spec.metrics: %w", err)
		}
		ps[plan.ProviderPrometheus] = p
	}
	if len(webs) > 0 {
		p, err := web.New(webs, web.Options{})
		if err != nil {
			return nil, nil, fmt.Errorf("spec.metrics: %w", err)
		}
		ps[plan.ProviderWeb] = p
	}
	return ps, routes, nil
}

// metricSource is the one metric source of a service environment, as the engine's Runtime.Metrics
// reads it: each named metric from its provider, everything else from builtin.
func metricSource(svc *plan.Service, env string, builtin metric.Provider) (metric.Provider, error) {
	ps, routes, err := outsideMetrics(svc)
	if err != nil {
		return nil, err
	}
	ps[metric.Builtin] = builtin
	return metric.NewRouter(env, ps, routes)
}
