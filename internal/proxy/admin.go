package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

// maxRoutesBody bounds a PUT /v1/routes body; a routing table is a few kilobytes.
const maxRoutesBody = 4 << 20

// adminHandler serves the admin API. The unix socket (full) gets everything; the TCP admin address
// gets only /metrics and /healthz, since anyone on the machine can reach it.
func (p *Proxy) adminHandler(full bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", p.metricsHandler())
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
		mux.HandleFunc("POST /v1/handover", p.handover)
		mux.HandleFunc("GET /v1/info", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, Info{PID: os.Getpid(), Config: os.Getenv(ConfigEnv)})
		})
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
