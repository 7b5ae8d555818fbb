// Package server serves hugai's HTTP API (/api/v1) over the engine, on the unix socket of the data
// dir, where the OS user of the peer is the identity of every request.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/policy"
	"github.com/hugai-dev/hugai/internal/rollout"
)

// Engine runs rollouts; the server is its API. Errors of type *api.Error carry their code, any
// other error is internal.
type Engine interface {
	Start(ctx context.Context, who policy.Identity, req api.StartRequest) (api.Rollout, error)
	Get(ctx context.Context, id string) (api.Rollout, error)
	List(ctx context.Context, f api.ListFilter) ([]api.Rollout, error)
	Do(ctx context.Context, id string, who policy.Identity, cmd api.Command) (api.Rollout, error)
	// Wait blocks until the rollout's Revision > afterRevision or ctx ends.
	Wait(ctx context.Context, id string, afterRevision int64) (api.Rollout, error)
	Info() api.ServerInfo
	// Monitor measures the current release of a service environment now.
	Monitor(ctx context.Context, service, env string) (api.Monitor, error)
	// Changed is closed at the next change of any rollout.
	Changed() <-chan struct{}
	// Ready fails while the engine cannot serve (its store does not answer).
	Ready(ctx context.Context) error
	Approvals(ctx context.Context, id string) ([]api.Approval, error)
	Measurements(ctx context.Context, id string) ([]api.Measurement, error)
	// Plan is the DeploymentPlan YAML the rollout runs, as frozen.
	Plan(ctx context.Context, id string) ([]byte, error)
	Audit(ctx context.Context, f api.AuditFilter) ([]audit.Event, error)
	VerifyAudit(ctx context.Context) (api.AuditVerify, error)
}

// Options are the server's hooks into the process that runs it.
type Options struct {
	// Logf logs internal errors; nil discards them.
	Logf func(format string, args ...any)
	// Shutdown is called once POST /api/v1/shutdown has been answered; all asks for the proxies
	// and services to be stopped too.
	Shutdown func(all bool)
	// Metrics serves GET /metrics (the server's Prometheus registry); nil: no /metrics.
	Metrics http.Handler
	// Releases runs releases through their stages (/api/v1/release-runs); nil: not served.
	Releases Releases
}

// Long polls are bounded so that a forgotten client does not hold a goroutine for ever.
const (
	defaultWaitTimeout = 30 * time.Second
	maxWaitTimeout     = 5 * time.Minute
	maxBodyBytes       = 8 << 20 // a plan is a few kilobytes; this is room, not a target
)

type handler struct {
	e    Engine
	opts Options
	mux  *http.ServeMux
	// quit is done at shutdown: it ends every long poll and event stream at once, so that a
	// graceful shutdown does not wait out their timeouts; followers then find the server gone
	// and retry.
	quit    context.Context
	endQuit context.CancelFunc
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// endWaits answers every long poll now and every later one at once. HTTPServer registers it to
// run on shutdown.
func (h *handler) endWaits() { h.endQuit() }

// New returns the API handler. Serve it with HTTPServer so that requests carry the peer's identity.
func New(e Engine, opts Options) http.Handler {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	mux := http.NewServeMux()
	h := &handler{e: e, opts: opts, mux: mux}
	h.quit, h.endQuit = context.WithCancel(context.Background())
	for _, rt := range h.routes() {
		mux.HandleFunc(rt.method+" "+rt.path, rt.serve)
	}
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", opts.Metrics)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path)})
	})
	return h
}

// route is one endpoint of the API; openapi.yaml documents each (TestOpenAPIMatchesRoutes).
type route struct {
	method, path string
	serve        http.HandlerFunc
}

func (h *handler) routes() []route {
	return []route{
		{"GET", "/api/v1/info", h.info},
		{"POST", "/api/v1/rollouts", h.start},
		{"GET", "/api/v1/rollouts", h.list},
		{"GET", "/api/v1/rollouts/{id}", h.get},
		{"POST", "/api/v1/rollouts/{id}/commands", h.do},
		{"GET", "/api/v1/rollouts/{id}/approvals", h.approvals},
		{"GET", "/api/v1/rollouts/{id}/measurements", h.measurements},
		{"GET", "/api/v1/rollouts/{id}/plan", h.plan},
		{"GET", "/api/v1/rollouts/{id}/events", h.rolloutEvents},
		{"GET", "/api/v1/events", h.serviceEvents},
		{"GET", "/api/v1/monitor", h.monitor},
		{"GET", "/api/v1/audit", h.audit},
		{"GET", "/api/v1/audit/verify", h.verifyAudit},
		{"POST", "/api/v1/release-runs", h.executeRelease},
		{"GET", "/api/v1/release-runs", h.listReleaseRuns},
		{"GET", "/api/v1/release-runs/{id}", h.getReleaseRun},
		{"POST", "/api/v1/shutdown", h.shutdown},
		{"GET", "/api/v1/openapi.yaml", serveOpenAPI},
		{"GET", "/healthz", h.healthz},
		{"GET", "/readyz", h.readyz},
	}
}

// Routes lists every endpoint the API serves, as "METHOD /path" (and GET /metrics when the
// server is given a registry).
func Routes() []string {
	var out []string
	for _, rt := range (&handler{}).routes() {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}

func (h *handler) info(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.e.Info())
}

func (h *handler) start(w http.ResponseWriter, r *http.Request) {
	var req api.StartRequest
	if !decodeBody(w, r, &req) {
		return
	}
	ro, err := h.e.Start(r.Context(), Who(r.Context()), req)
	if err != nil {
		h.fail(w, "start", err)
		return
	}
	writeJSON(w, http.StatusCreated, ro)
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := api.ListFilter{Service: q.Get("service"), Environment: q.Get("environment")}
	if v := q.Get("active"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, badInput("active=%q: want true or false", v))
			return
		}
		f.Active = b
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, badInput("limit=%q: want a number ≥ 0", v))
			return
		}
		f.Limit = n
	}
	rs, err := h.e.List(r.Context(), f)
	if err != nil {
		h.fail(w, "list", err)
		return
	}
	if rs == nil {
		rs = []api.Rollout{} // `[]`, never `null`: scripts index into it
	}
	writeJSON(w, http.StatusOK, rs)
}

func (h *handler) monitor(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	svc, env := q.Get("service"), q.Get("environment")
	if svc == "" || env == "" {
		writeError(w, http.StatusBadRequest, badInput("monitor: service and environment are required"))
		return
	}
	m, err := h.e.Monitor(r.Context(), svc, env)
	if err != nil {
		h.fail(w, "monitor "+svc+"/"+env, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	longPoll(h, w, r, "rollout "+id,
		func(ctx context.Context) (api.Rollout, error) { return h.e.Get(ctx, id) },
		func(ctx context.Context, after int64) (api.Rollout, error) { return h.e.Wait(ctx, id, after) })
}

// longPoll answers GET …/{id}: the object now, or with ?wait=REV once its revision passes REV
// (at most ?timeout=, 30 s by default and 5 min at most; the poll ends at once on shutdown). A
// poll that times out answers the object as it is, so the client sees it is still there.
func longPoll[T any](h *handler, w http.ResponseWriter, r *http.Request, what string,
	get func(context.Context) (T, error), wait func(context.Context, int64) (T, error)) {
	q := r.URL.Query()
	if q.Get("wait") == "" {
		v, err := get(r.Context())
		if err != nil {
			h.fail(w, "get "+what, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
		return
	}
	after, err := strconv.ParseInt(q.Get("wait"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, badInput("wait=%q: want a revision number", q.Get("wait")))
		return
	}
	timeout := defaultWaitTimeout
	if s := q.Get("timeout"); s != "" {
		timeout, err = time.ParseDuration(s)
		if err != nil || timeout <= 0 {
			writeError(w, http.StatusBadRequest, badInput("timeout=%q: want a duration such as 30s", s))
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), min(timeout, maxWaitTimeout))
	defer cancel()
	stop := context.AfterFunc(h.quit, cancel)
	defer stop()
	v, err := wait(ctx, after)
	if err != nil && ctx.Err() != nil && r.Context().Err() == nil {
		v, err = get(r.Context())
	}
	if err != nil && r.Context().Err() != nil {
		return // the client went away (or gave up at its own deadline) while it waited: nobody reads an answer
	}
	if err != nil {
		h.fail(w, "wait "+what, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *handler) do(w http.ResponseWriter, r *http.Request) {
	var cmd api.Command
	if !decodeBody(w, r, &cmd) {
		return
	}
	if cmd.Kind == "" {
		writeError(w, http.StatusBadRequest, badInput("command: kind is missing"))
		return
	}
	if !cmd.Kind.Known() {
		writeError(w, http.StatusBadRequest, badInput("unknown command %q (known: %v)", cmd.Kind, rollout.CommandKinds()))
		return
	}
	id := r.PathValue("id")
	ro, err := h.e.Do(r.Context(), id, Who(r.Context()), cmd)
	if err != nil {
		h.fail(w, string(cmd.Kind)+" "+id, err)
		return
	}
	writeJSON(w, http.StatusOK, ro)
}

// ShutdownRequest is the body of POST /api/v1/shutdown.
type ShutdownRequest struct {
	All bool `json:"all"`
}

func (h *handler) shutdown(w http.ResponseWriter, r *http.Request) {
	var req ShutdownRequest
	if r.ContentLength != 0 && !decodeBody(w, r, &req) {
		return
	}
	if h.opts.Shutdown == nil {
		writeError(w, http.StatusConflict, &api.Error{Code: api.CodeConflict, Message: "this server cannot be stopped through its API"})
		return
	}
	h.opts.Logf("shutdown requested by %s (all=%t)", Actor(r.Context()), req.All)
	w.Header().Set("Connection", "close")
	writeJSON(w, http.StatusAccepted, req)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	// Not inline: stopping the http.Server waits for this very request to finish.
	go h.opts.Shutdown(req.All)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, badInput("request body: %v", err))
		return false
	}
	return true
}

func badInput(format string, args ...any) *api.Error {
	return &api.Error{Code: api.CodeBadInput, Message: fmt.Sprintf(format, args...)}
}

// fail answers err: an *api.Error with its own status, anything else as internal, logged.
func (h *handler) fail(w http.ResponseWriter, what string, err error) {
	var ae *api.Error
	if errors.As(err, &ae) {
		writeError(w, statusOf(ae.Code), ae)
		return
	}
	if errors.Is(err, context.Canceled) {
		return // the client went away; nobody reads an answer
	}
	h.opts.Logf("%s: %v", what, err)
	writeError(w, http.StatusInternalServerError, &api.Error{Code: api.CodeInternal, Message: fmt.Sprintf("%s: %v", what, err)})
}

func statusOf(code string) int {
	switch code {
	case api.CodeBadInput:
		return http.StatusBadRequest
	case api.CodeNotFound:
		return http.StatusNotFound
	case api.CodeConflict:
		return http.StatusConflict
	case api.CodeDenied:
		return http.StatusForbidden
	default:
		return http.StatusInternalServerError
	}
}

func writeError(w http.ResponseWriter, status int, e *api.Error) { writeJSON(w, status, e) }

// writeJSON answers with a Content-Length, so that a flushed answer is whole even if the server
// is closed right after it (as shutdown does).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(&api.Error{Code: api.CodeInternal, Message: fmt.Sprintf("encode answer: %v", err)})
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b) // a failed write means the peer is gone
}
