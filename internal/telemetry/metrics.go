// Package telemetry exposes the server's own Prometheus metrics: rollouts by phase, how long
// steps and approvals take, and the analysis verdicts. The engine tells it of every committed
// change (engine.Observer); the rollouts by phase are read from the store at scrape time.
package telemetry

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hugai-dev/hugai/internal/engine"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
)

// Lister lists the rollouts the store holds (store.Store does).
type Lister interface {
	Rollouts(ctx context.Context, f store.Filter) ([]store.Rollout, error)
}

// durationBuckets span a step of seconds to an approval that waited a day.
var durationBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600}

// Metrics is one server's registry: its own, never the global default, so two servers in one
// test process never collide.
type Metrics struct {
	reg      *prometheus.Registry
	steps    *prometheus.HistogramVec
	approval *prometheus.HistogramVec
	verdicts *prometheus.CounterVec
	ended    *prometheus.CounterVec
}

// New registers the server's metrics; l is read at every scrape for the rollouts by phase.
func New(l Lister) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hugai_rollout_step_duration_seconds",
			Help:    "How long each finished rollout step took, from its start to the next step.",
			Buckets: durationBuckets,
		}, []string{"service", "environment", "strategy"}),
		approval: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hugai_approval_wait_seconds",
			Help:    "How long rollouts waited for people at an approval gate, by how the wait ended.",
			Buckets: durationBuckets,
		}, []string{"service", "environment", "outcome"}),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hugai_analysis_verdicts_total",
			Help: "Success criteria judged, by metric and verdict (Successful, Failed, Inconclusive, Error, Pending).",
		}, []string{"service", "environment", "metric", "verdict"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hugai_rollouts_finished_total",
			Help: "Rollouts that ended, by their final phase and reason.",
		}, []string{"service", "environment", "phase", "reason"}),
	}
	m.reg.MustRegister(m.steps, m.approval, m.verdicts, m.ended, phases{l},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the exposition.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Committed implements engine.Observer.
func (m *Metrics) Committed(c engine.Change) {
	b, a := c.Before, c.After
	if b.Phase != "" && a.StepIndex != b.StepIndex && !b.StepStartedAt.IsZero() {
		m.steps.WithLabelValues(c.Service, c.Environment, c.Strategy).Observe(seconds(a.StepStartedAt.Sub(b.StepStartedAt)))
	}
	if b.Phase == rollout.AwaitingApproval && a.Phase != rollout.AwaitingApproval && b.WaitingSince != nil {
		outcome := "approved"
		switch {
		case a.Phase == rollout.Aborted && a.Reason != "":
			outcome = a.Reason // rejected, approval-timeout, aborted
		case a.Phase.Terminal():
			outcome = string(a.Phase)
		}
		m.approval.WithLabelValues(c.Service, c.Environment, outcome).Observe(seconds(c.At.Sub(*b.WaitingSince)))
	}
	for _, ms := range c.Measurements {
		m.verdicts.WithLabelValues(c.Service, c.Environment, ms.Metric, string(ms.Phase)).Inc()
	}
	if a.Phase.Terminal() && !b.Phase.Terminal() {
		m.ended.WithLabelValues(c.Service, c.Environment, string(a.Phase), a.Reason).Inc()
	}
}

func seconds(d time.Duration) float64 { return max(d, 0).Seconds() }

// phases counts the rollouts in each phase at scrape time, so a restarted server reports what
// the store holds rather than what it saw since it started.
type phases struct{ l Lister }

var descPhase = prometheus.NewDesc("hugai_rollouts",
	"Rollouts by service, environment and phase, as the store holds them now.",
	[]string{"service", "environment", "phase"}, nil)

func (p phases) Describe(ch chan<- *prometheus.Desc) { ch <- descPhase }

func (p phases) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rs, err := p.l.Rollouts(ctx, store.Filter{})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descPhase, err)
		return
	}
	type key struct{ svc, env, phase string }
	n := map[key]int{}
	for _, r := range rs {
		n[key{r.Service, r.Environment, r.Phase}]++
	}
	for k, v := range n {
		ch <- prometheus.MustNewConstMetric(descPhase, prometheus.GaugeValue, float64(v), k.svc, k.env, k.phase)
	}
}
