package proxy

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// maxRoutesBody bounds a PUT /v1/routes body; a routing table is a few kilobytes.
const maxRoutesBody = 4 << 20

// adminHandler serves the admin API. The unix socket (full) gets everything; the TCP admin address
// gets only /metrics and /healthz, since anyone on the machine can reach it.
func (p *Proxy) adminHandler(full bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", p.serveMetrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	if full {
		mux.HandleFunc("GET /v1/routes", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, p.Routes())
		})
		mux.HandleFunc("PUT /v1/routes", p.putRoutes)
		mux.HandleFunc("GET /v1/stats", p.getStats)
	}
	return mux
}

// apiError is the body of every admin error response.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (p *Proxy) putRoutes(w http.ResponseWriter, r *http.Request) {
	var routes Routes
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRoutesBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&routes); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{fmt.Sprintf("decode routes: %v", err)})
		return
	}
	err := p.SetRoutes(routes)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, p.Routes())
	case errors.Is(err, ErrStaleGeneration):
		writeJSON(w, http.StatusConflict, apiError{err.Error()})
	case errors.Is(err, errSave):
		writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
	default:
		writeJSON(w, http.StatusBadRequest, apiError{err.Error()})
	}
}

func (p *Proxy) getStats(w http.ResponseWriter, r *http.Request) {
	var since time.Time
	if s := r.URL.Query().Get("since"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{fmt.Sprintf("since %q is not unix seconds", s)})
			return
		}
		since = time.Unix(n, 0)
	}
	writeJSON(w, http.StatusOK, p.hist.stats(since))
}

// promBuckets are the upper bounds, in seconds, of the exposed latency histogram.
var promBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10, 30, 60}

// serveMetrics writes the counters in the Prometheus text exposition format. The exposed histogram
// is folded from the fine one: a fine bucket counts under the first bound not below its upper end.
func (p *Proxy) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	all := p.hist.all()
	counter := func(name, help string, get func(*counters) uint64) {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s counter\n", name, help, name)
		for _, c := range all {
			fmt.Fprintf(bw, "%s{version=%s} %d\n", name, quoteLabel(c.version), get(c))
		}
	}
	counter("hugai_proxy_requests_total", "Requests sent to each version's upstreams.",
		func(c *counters) uint64 { return c.requests.Load() })
	counter("hugai_proxy_responses_5xx_total", "5xx responses from each version's upstreams.",
		func(c *counters) uint64 { return c.errors5xx.Load() })
	counter("hugai_proxy_upstream_connection_failures_total", "Failed connections to each version's upstreams.",
		func(c *counters) uint64 { return c.connFailures.Load() })

	const h = "hugai_proxy_request_duration_seconds"
	fmt.Fprintf(bw, "# HELP %s Time from a request's arrival to the end of its upstream response.\n# TYPE %s histogram\n", h, h)
	for _, c := range all {
		v := quoteLabel(c.version)
		var cum, total uint64
		bi := 0
		folded := make([]uint64, len(promBuckets))
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
		for i, le := range promBuckets {
			cum += folded[i]
			fmt.Fprintf(bw, "%s_bucket{version=%s,le=\"%s\"} %d\n", h, v, strconv.FormatFloat(le, 'g', -1, 64), cum)
		}
		fmt.Fprintf(bw, "%s_bucket{version=%s,le=\"+Inf\"} %d\n", h, v, total)
		fmt.Fprintf(bw, "%s_sum{version=%s} %s\n", h, v, strconv.FormatFloat(float64(c.sumMicros.Load())/1e6, 'g', -1, 64))
		fmt.Fprintf(bw, "%s_count{version=%s} %d\n", h, v, total)
	}

	fmt.Fprintf(bw, "# HELP hugai_proxy_held_requests Requests waiting for a version that can serve them.\n# TYPE hugai_proxy_held_requests gauge\nhugai_proxy_held_requests %d\n", p.held.Load())

	const g = "hugai_proxy_route_weight"
	fmt.Fprintf(bw, "# HELP %s Share of user traffic routed to each version, in percent.\n# TYPE %s gauge\n", g, g)
	for _, b := range p.Routes().Backends {
		fmt.Fprintf(bw, "%s{version=%s} %d\n", g, quoteLabel(b.Version), b.Weight)
	}
}

// quoteLabel quotes a label value as the exposition format wants: backslash, quote and newline
// escaped.
func quoteLabel(s string) string {
	out := make([]byte, 0, len(s)+2)
	out = append(out, '"')
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			out = append(out, `\\`...)
		case '"':
			out = append(out, `\"`...)
		case '\n':
			out = append(out, `\n`...)
		default:
			out = append(out, s[i])
		}
	}
	return string(append(out, '"'))
}
