package proxy

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// promBuckets are the upper bounds, in seconds, of the exposed latency histogram.
var promBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10, 30, 60}

// metricsHandler serves /metrics with client_golang: its exposition (text, OpenMetrics or
// protobuf, as the scraper asks), plus the Go runtime and process metrics of the proxy itself. The
// registry is the proxy's own, not the global default, so proxies in one process never collide.
func (p *Proxy) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collector{p},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// collector exposes the proxy's hand-kept counters at scrape time. The hot path keeps adding to
// its atomics (it must anyway: they feed the per-second history of /v1/stats), and Collect reads
// them, so the exposition costs the requests nothing. Per-request CounterVec/HistogramVec updates
// would count everything twice and cost 2-4x the atomics (docs/benchmarks.md, "Proxy metrics").
type collector struct{ p *Proxy }

var (
	descRequests = prometheus.NewDesc("hugai_proxy_requests_total",
		"Requests sent to each version's upstreams.", []string{"version"}, nil)
	descErrors5xx = prometheus.NewDesc("hugai_proxy_responses_5xx_total",
		"5xx responses from each version's upstreams.", []string{"version"}, nil)
	descConnFailures = prometheus.NewDesc("hugai_proxy_upstream_connection_failures_total",
		"Failed connections to each version's upstreams.", []string{"version"}, nil)
	descGRPCErrors = prometheus.NewDesc("hugai_proxy_grpc_errors_total",
		"gRPC calls to each version that ended with a grpc-status other than OK.", []string{"version"}, nil)
	descStreams = prometheus.NewDesc("hugai_proxy_open_streams",
		"Open upgraded connections (WebSockets) through the proxy.", nil, nil)
	descDuration = prometheus.NewDesc("hugai_proxy_request_duration_seconds",
		"Time from a request's arrival to the end of its upstream response.", []string{"version"}, nil)
	descHeld = prometheus.NewDesc("hugai_proxy_held_requests",
		"Requests waiting for a version that can serve them.", nil, nil)
	descWeight = prometheus.NewDesc("hugai_proxy_route_weight",
		"Share of user traffic routed to each version, in percent.", []string{"version"}, nil)
)

func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descErrors5xx, descConnFailures, descGRPCErrors, descStreams, descDuration, descHeld, descWeight} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	// A version comes from the routes the server sets; one that is not valid UTF-8 cannot be a
	// label value. client_golang's Must* constructors would panic in the scrape and take the data
	// plane down, so such a metric is reported as invalid (the scrape answers 500) instead.
	send := func(m prometheus.Metric, err error) {
		if err != nil {
			m = prometheus.NewInvalidMetric(descRequests, err)
		}
		ch <- m
	}
	for _, v := range c.p.hist.all() {
		send(prometheus.NewConstMetric(descRequests, prometheus.CounterValue, float64(v.requests.Load()), v.version))
		send(prometheus.NewConstMetric(descErrors5xx, prometheus.CounterValue, float64(v.errors5xx.Load()), v.version))
		send(prometheus.NewConstMetric(descConnFailures, prometheus.CounterValue, float64(v.connFailures.Load()), v.version))
		send(prometheus.NewConstMetric(descGRPCErrors, prometheus.CounterValue, float64(v.grpcErrors.Load()), v.version))
		total, buckets := foldHistogram(v)
		send(prometheus.NewConstHistogram(descDuration, total, float64(v.sumMicros.Load())/1e6, buckets, v.version))
	}
	send(prometheus.NewConstMetric(descHeld, prometheus.GaugeValue, float64(c.p.held.Load())))
	send(prometheus.NewConstMetric(descStreams, prometheus.GaugeValue, float64(c.p.streams.open())))
	for _, b := range c.p.Routes().Backends {
		send(prometheus.NewConstMetric(descWeight, prometheus.GaugeValue, float64(b.Weight), b.Version))
	}
}

// foldHistogram folds a version's fine histogram into promBuckets: a fine bucket counts under the
// first bound not below its upper end (so no sample is counted under a bound it may exceed), and
// past the last bound only in +Inf. It returns the total count and the cumulative count per bound.
func foldHistogram(c *counters) (uint64, map[float64]uint64) {
	folded := make([]uint64, len(promBuckets))
	var total uint64
	bi := 0
	for i := range c.hist {
		n := c.hist[i].Load()
		if n == 0 {
			continue
		}
		total += n
		_, hi := bucketBounds(i)
		for bi < len(promBuckets) && hi.Seconds() > promBuckets[bi] {
			bi++
		}
		if bi < len(promBuckets) {
			folded[bi] += n
		}
	}
	cum := make(map[float64]uint64, len(promBuckets))
	var sum uint64
	for i, le := range promBuckets {
		sum += folded[i]
		cum[le] = sum
	}
	return total, cum
}
