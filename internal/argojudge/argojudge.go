// Package argojudge is hugai as Argo Rollouts' judge: an http.Handler answering Argo's web metric
// provider with hugai's sequential verdict on a canary against its stable version (Pass, Fail or
// Inconclusive, with the evidence), read from the Prometheus metrics the service file names.
// `hugai operator --analysis-addr` serves it; config/argo/hugai-analysis.yaml is the template
// that calls it.
package argojudge

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hugai-dev/hugai/internal/metric"
	"github.com/hugai-dev/hugai/internal/metric/prometheus"
	"github.com/hugai-dev/hugai/internal/plan"
)

// Defaults of Config.
const (
	// DefaultTimeout is under Argo's default timeoutSeconds (10): an answer that comes later is
	// an Error measurement there anyway, and a late one would only hold a connection.
	DefaultTimeout = 8 * time.Second
	// DefaultLookback is how far back the canary's first request is looked for: a rollout's
	// steps and pauses fit in it, and evidence older than a day is not this rollout's.
	DefaultLookback = 24 * time.Hour
)

// ErrNotFound is what a Find returns (wrapped) for a service it does not have: the handler answers
// 404 rather than 500.
var ErrNotFound = errors.New("no such service")

// Source reads both versions' counts step by step; prometheus.Comparer is one.
type Source interface {
	Steps(ctx context.Context, c metric.Comparison) ([]metric.Step, error)
}

// Config are the handler's dependencies, injected so that the operator reads service files from
// ConfigMaps and a test from files, and any clock.
type Config struct {
	// Find returns the service file of a service (the operator: the ConfigMap holding its
	// hugai.yaml; a test: Files). namespace may be empty.
	Find func(ctx context.Context, namespace, service string) (*plan.Service, error)
	// Source builds the source that counts an environment's versions; nil: Prometheus, from the
	// environment's analysis.compare.
	Source func(env *plan.Env) (Source, error)
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Versions, when set, finds the canary and stable versions of a request that names neither
	// (the operator: the Rollout's status.currentPodHash and status.stableRS), so that a Rollout
	// passing only service-name, as the seed's does, is judged. Without it both are required.
	Versions func(ctx context.Context, namespace, service string) (canary, stable string, err error)
	// Token returns the bearer token a request must carry in Authorization; "" (or a nil Token)
	// lets anyone ask. It is called at each request, so a rotated Secret takes effect at once.
	Token func() string
	// Lookback, Timeout: DefaultLookback, DefaultTimeout when 0.
	Lookback time.Duration
	Timeout  time.Duration
}

// New returns the handler. Find is required.
func New(c Config) (http.Handler, error) {
	if c.Find == nil {
		return nil, errors.New("argojudge: Config.Find is required")
	}
	if c.Source == nil {
		c.Source = PrometheusSource
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Token == nil {
		c.Token = func() string { return "" }
	}
	if c.Lookback <= 0 {
		c.Lookback = DefaultLookback
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	return &handler{c: c}, nil
}

// PrometheusSource is the comparer analysis.compare describes.
func PrometheusSource(env *plan.Env) (Source, error) {
	return prometheus.ComparerOf(env.Compare, prometheus.Options{})
}

type handler struct{ c Config }

// ServeHTTP answers one measurement. Argo counts any answer but a 2xx as an Error measurement
// (consecutiveErrorLimit), so everything that is not a verdict (a bad argument, an unknown
// service, Prometheus down) is a 4xx or 5xx, with the reason in the same JSON shape for the
// person who reads the AnalysisRun.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if token := h.c.Token(); token != "" {
		got := r.Header.Get("Authorization")
		if subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hugai-analysis"`)
			h.fail(w, http.StatusUnauthorized, Answer{}, "Authorization: want the bearer token of the analysis Secret")
			return
		}
	}
	req, err := ParseRequest(r)
	if errors.Is(err, errMethod) {
		w.Header().Set("Allow", "GET, POST")
		h.fail(w, http.StatusMethodNotAllowed, Answer{}, err.Error())
		return
	}
	a := Answer{Service: req.Service, Namespace: req.Namespace, Environment: req.Environment, Canary: req.Canary, Stable: req.Stable}
	if err != nil {
		h.fail(w, http.StatusBadRequest, a, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.c.Timeout)
	defer cancel()
	if req.Canary == "" && req.Stable == "" && h.c.Versions != nil {
		if req.Canary, req.Stable, err = h.c.Versions(ctx, req.Namespace, req.Service); err != nil {
			h.fail(w, http.StatusBadGateway, a, "find the versions: "+err.Error())
			return
		}
		a.Canary, a.Stable = req.Canary, req.Stable
	}
	if err := req.check(true); err != nil {
		h.fail(w, http.StatusBadRequest, a, err.Error())
		return
	}
	svc, err := h.c.Find(ctx, req.Namespace, req.Service)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, ErrNotFound) {
			status = http.StatusNotFound
		}
		h.fail(w, status, a, "find the service file: "+err.Error())
		return
	}
	env, err := environment(svc, req)
	if err != nil {
		h.fail(w, http.StatusBadRequest, a, err.Error())
		return
	}
	a.Environment = env.Name
	if env.Compare == nil {
		h.fail(w, http.StatusUnprocessableEntity, a, fmt.Sprintf("environment %s of %s sets no analysis.compare: name the prometheus metrics counting each version's requests and errors (docs/kubernetes.md)", env.Name, svc.Metadata.Name))
		return
	}
	src, err := h.c.Source(env)
	if err != nil {
		h.fail(w, http.StatusUnprocessableEntity, a, err.Error())
		return
	}
	now := h.c.Now()
	steps, err := src.Steps(ctx, metric.Comparison{Service: req.Service, Environment: env.Name, Candidate: req.Canary, Baseline: req.Stable,
		From: now.Add(-h.c.Lookback), To: now})
	if err != nil {
		status := http.StatusBadGateway
		if ctx.Err() != nil {
			status = http.StatusGatewayTimeout
		}
		h.fail(w, status, a, "read the versions' counts: "+err.Error())
		return
	}
	a.Verdict, a.Evidence, a.Reasons = Judge(steps, env)
	write(w, http.StatusOK, a)
}

// environment is the environment the request names; else the one named like the namespace;
// else the file's only one.
func environment(svc *plan.Service, req Request) (*plan.Env, error) {
	names := svc.EnvironmentNames()
	name := req.Environment
	switch {
	case name != "":
	case len(names) == 0:
		name = req.Namespace // a file without environments takes any name, with the defaults
	case slices.Contains(names, req.Namespace):
		name = req.Namespace
	case len(names) == 1:
		name = names[0]
	default:
		return nil, fmt.Errorf("environment: missing, and %s has several (%s): pass environment=", svc.Metadata.Name, strings.Join(names, ", "))
	}
	env, err := svc.Env(name)
	if err != nil {
		return nil, fmt.Errorf("environment: %w", err)
	}
	return env, nil
}

func (h *handler) fail(w http.ResponseWriter, status int, a Answer, reason string) {
	a.Verdict = "Error"
	a.Reasons = []string{reason}
	write(w, status, a)
}

func write(w http.ResponseWriter, status int, a Answer) {
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil { // only a non-finite number could do it, and Judge writes none
		status, b = http.StatusInternalServerError, []byte(`{"verdict":"Error","reasons":["encode the answer"]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
