package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/metric"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
)

// performance are the builtin metrics every release is watched on, as the seed's performance
// monitor names them (response_time_p95, error_rate, throughput, cpu_utilization, memory_usage).
var performance = []string{"error_rate", "latency_p95", "request_rate", "cpu", "memory"}

// Monitor measures the current release of a service environment over the last settled analysis
// interval: what `hugai monitor` shows once a rollout has ended. It judges with the plan of the
// rollout that made the release (its criteria, monitors and triggers) and changes nothing: a
// trigger that holds is reported as firing, for a person to act on (`hugai deploy rollback`).
func (e *Engine) Monitor(ctx context.Context, service, envName string) (api.Monitor, error) {
	rt, err := e.runtime(ctx, service, envName)
	if err != nil {
		return api.Monitor{}, err
	}
	m := api.Monitor{Service: service, Environment: envName}
	spec := rollout.Spec{Interval: rt.env.AnalysisInterval, MinimumSamples: uint64(rt.env.MinimumSamples), Alpha: rt.env.Analysis.Alpha}
	if conds, err := criteria.Parse(rt.env.SuccessCriteria, criteria.WithMetrics(rt.svc.Service.MetricNames()...)); err == nil {
		spec.Criteria = conds
	}
	rels, err := e.cfg.Store.Releases(ctx, service, envName, 1)
	if err != nil {
		return m, err
	}
	if len(rels) > 0 {
		m.Version, m.RolloutID, m.ReleasedAt = rels[0].Version, rels[0].RolloutID, rels[0].Time
		if rels[0].RolloutID != "" {
			r, err := e.cfg.Store.Rollout(ctx, rels[0].RolloutID)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return m, err
			default:
				if s, _, err := decodeState(r); err == nil {
					spec = s
				}
			}
		}
	}
	if active, err := e.cfg.Store.Rollouts(ctx, store.Filter{Service: service, Environment: envName, Active: true, Limit: 1}); err == nil && len(active) > 0 {
		m.Active = active[0].ID
	}
	if m.Version == "" {
		return m, nil
	}
	st, err := rt.rt.Target.Status(ctx)
	if err != nil {
		m.Health.Problem = "target status: " + err.Error()
	} else if rs, ok := st.Revisions[m.Version]; ok {
		m.Health = api.Health{Desired: rs.Desired, Ready: rs.Ready, Restarts: rs.Restarts, CrashLooping: rs.CrashLooping, Problem: rs.StartFailed}
		if rs.Ready < rs.Desired && m.Health.Problem == "" {
			m.Health.Problem = fmt.Sprintf("%d of %d replicas ready", rs.Ready, rs.Desired)
		}
	} else {
		m.Health.Problem = m.Version + " has no replicas running"
	}
	interval := spec.Interval
	if interval <= 0 {
		interval = rt.env.AnalysisInterval
	}
	// The last interval whose seconds the proxy has surely recorded.
	m.To = e.cfg.Clock.Now().Add(-rollout.DefaultSettle).Truncate(time.Second)
	m.From = m.To.Add(-interval)
	cache := map[string]analysis.Value{}
	read := func(name string) analysis.Value {
		if v, ok := cache[name]; ok {
			return v
		}
		v, err := rt.rt.Metrics.Query(ctx, metric.Query{Service: service, Version: m.Version, Metric: name, From: m.From, To: m.To})
		if err != nil {
			v = analysis.Value{Err: err.Error()}
		}
		cache[name] = v
		return v
	}
	add := func(kind string, ms ...analysis.Measurement) {
		for _, x := range ms {
			m.Values = append(m.Values, api.MonitorValue{Kind: kind, Metric: x.Metric, Condition: x.Condition, Display: x.Display, Phase: string(x.Phase), Samples: x.Samples, Message: x.Message})
		}
	}
	observe := func(kind, name string) {
		k, _ := criteria.MetricKind(name)
		add(kind, analysis.Observe(name, k, read(name), m.From, m.To))
	}
	for _, name := range performance {
		var conds []criteria.Condition
		for _, c := range spec.Criteria {
			if c.Metric == name {
				conds = append(conds, c)
			}
		}
		if len(conds) == 0 {
			observe("performance", name)
			continue
		}
		add("performance", analysis.JudgeWith(conds, read, spec.Rules(), m.From, m.To)...)
	}
	for _, c := range spec.Criteria {
		if !slices.Contains(performance, c.Metric) {
			add("performance", analysis.JudgeWith([]criteria.Condition{c}, read, spec.Rules(), m.From, m.To)...)
		}
	}
	for _, name := range spec.Monitors {
		if !slices.Contains(performance, name) {
			observe("monitor", name)
		}
	}
	for _, name := range rt.svc.Service.MetricNames() {
		if !slices.Contains(spec.Monitors, name) {
			observe("metric", name)
		}
	}
	for _, x := range analysis.JudgeWith(spec.Triggers, read, spec.Rules(), m.From, m.To) {
		add("trigger", x)
		if x.Phase == analysis.Successful {
			m.Firing = append(m.Firing, x.Condition)
		}
	}
	return m, nil
}
