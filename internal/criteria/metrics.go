package criteria

import (
	"slices"
	"strconv"
	"strings"
)

// builtins are the metrics hugai measures itself, in the order error messages list them.
var builtins = []struct {
	name string
	kind Kind
}{
	{"error_rate", Rate},
	{"success_rate", Rate},
	{"latency_mean", Duration},
	{"latency_p50", Duration},
	{"latency_p90", Duration},
	{"latency_p95", Duration},
	{"latency_p99", Duration},
	{"request_rate", Throughput},
	{"cpu", Percent},
	{"memory", Bytes},
}

// aliases are the seed's names for builtin metrics (its DeploymentMonitor and HugAIDeployment
// write them): a condition on an alias judges the builtin metric and prints under hugai's name.
var aliases = map[string]string{
	"response_time_mean":    "latency_mean",
	"response_time_p50":     "latency_p50",
	"response_time_p90":     "latency_p90",
	"response_time_p95":     "latency_p95",
	"response_time_p99":     "latency_p99",
	"http_request_duration": "latency_p95",
	"throughput":            "request_rate",
	"cpu_utilization":       "cpu",
	"memory_usage":          "memory",
}

// Canonical is hugai's name for a metric: the builtin an alias stands for, else name itself.
func Canonical(name string) string {
	if a, ok := aliases[name]; ok {
		return a
	}
	return name
}

// MetricKind is the kind of a builtin metric; ok is false for any other name.
func MetricKind(name string) (k Kind, ok bool) {
	for _, b := range builtins {
		if b.name == name {
			return b.kind, true
		}
	}
	return Number, false
}

// Builtins lists the builtin metric names.
func Builtins() []string {
	names := make([]string, len(builtins))
	for i, b := range builtins {
		names[i] = b.name
	}
	return names
}

// Option adjusts Parse.
type Option func(*config)

type config struct {
	extra []string
	any   bool
}

// AnyMetric accepts any metric name as a named metric: for a file read without the service file
// that declares its metrics (a plan on its own), whose names are checked once it is known.
func AnyMetric() Option {
	return func(c *config) { c.any = true }
}

// WithMetrics allows named metrics (hugai.yaml's metrics) besides the builtins. They take plain
// numbers (a '%' is accepted and dropped). A builtin name listed here keeps its builtin kind,
// since listing a builtin only overrides where it is measured, not what it means.
func WithMetrics(names ...string) Option {
	return func(c *config) { c.extra = append(c.extra, names...) }
}

// resolve is the metric a condition's name judges and its kind: a builtin, a named metric of
// hugai.yaml (which wins over an alias of the same name), or an alias's builtin.
func (c *config) resolve(name string) (string, Kind, bool) {
	if k, ok := MetricKind(name); ok {
		return name, k, true
	}
	if slices.Contains(c.extra, name) {
		return name, Number, true
	}
	if a, ok := aliases[name]; ok {
		k, _ := MetricKind(a)
		return a, k, true
	}
	return name, Number, c.any
}

func (c *config) known() []string {
	names := Builtins()
	for _, n := range c.extra {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// unknownMetric words the error for a name that is neither builtin nor allowed.
func (c *config) unknownMetric(name string) string {
	known := c.known()
	if best := closest(name, known); best != "" {
		return "unknown metric " + strconv.Quote(clip(name)) + " (did you mean " + best + "?)"
	}
	return "unknown metric " + strconv.Quote(clip(name)) + " (known: " + strings.Join(known, ", ") + ")"
}

// closest returns the known name nearest to name when it is near enough to be a typo.
func closest(name string, known []string) string {
	best, bestDist := "", -1
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return k
		}
		d := levenshtein(name, k)
		limit := 2
		if len(k) <= 4 {
			limit = 1
		}
		if d <= limit && (bestDist < 0 || d < bestDist) {
			best, bestDist = k, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 { // typos are short; don't spend quadratic time on junk
		return len(a) + len(b)
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// expects describes, for messages, what a metric of kind k takes.
func expects(k Kind) string {
	switch k {
	case Rate:
		return "a percentage such as 1%"
	case Duration:
		return "a duration such as 500ms, 2s or 1m"
	case Throughput:
		return "requests per second such as 100rps"
	case Percent:
		return "a percentage such as 80%"
	case Bytes:
		return "bytes such as 536870912 or 512MiB"
	}
	return "a plain number"
}

// unitName describes, for messages, what a unit makes a value.
func unitName(unit string) string {
	switch unit {
	case "":
		return "a bare number"
	case "%":
		return "a percentage"
	case "rps":
		return "a rate (rps)"
	}
	return "a duration (" + unit + ")"
}

// unitFits reports whether a value written with unit suits a metric of kind k.
func unitFits(k Kind, unit string) bool {
	switch k {
	case Rate, Percent:
		return unit == "" || unit == "%"
	case Duration:
		return unit == "ms" || unit == "s" || unit == "m"
	case Throughput:
		return unit == "" || unit == "rps"
	case Bytes:
		_, ok := byteUnits[unit]
		return unit == "" || ok
	}
	return unit == "" || unit == "%"
}

// byteUnits are what a memory threshold may be written in.
var byteUnits = map[string]float64{
	"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
}

func isUnit(u string) bool {
	switch u {
	case "%", "ms", "s", "m", "rps":
		return true
	}
	_, ok := byteUnits[u]
	return ok
}
