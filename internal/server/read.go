package server

import (
	"github.com/hugai-dev/hugai/internal/api"
	"net/http"
	"strconv"
)

// The records of a rollout and the audit chain: what the dashboard and compliance tools read.

func (h *handler) approvals(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	as, err := h.e.Approvals(r.Context(), id)
	if err != nil {
		h.fail(w, "approvals of "+id, err)
		return
	}
	writeJSON(w, http.StatusOK, as)
}

func (h *handler) measurements(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ms, err := h.e.Measurements(r.Context(), id)
	if err != nil {
		h.fail(w, "measurements of "+id, err)
		return
	}
	writeJSON(w, http.StatusOK, ms)
}

// plan answers the DeploymentPlan a rollout runs, as YAML, byte for byte as it was frozen: its
// hash is the rollout's planSHA256.
func (h *handler) plan(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p, err := h.e.Plan(r.Context(), id)
	if err != nil {
		h.fail(w, "plan of "+id, err)
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Length", strconv.Itoa(len(p)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(p)
}

// maxAuditPage bounds one answer; a reader pages on with after=<last seq>.
const maxAuditPage = 1000

func (h *handler) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := api.AuditFilter{Subject: q.Get("subject"), Limit: maxAuditPage}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, badInput("after=%q: want a sequence number ≥ 0", v))
			return
		}
		f.AfterSeq = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > maxAuditPage {
			writeError(w, http.StatusBadRequest, badInput("limit=%q: want a number from 1 to %d", v, maxAuditPage))
			return
		}
		f.Limit = n
	}
	evs, err := h.e.Audit(r.Context(), f)
	if err != nil {
		h.fail(w, "audit", err)
		return
	}
	if evs == nil {
		writeJSON(w, http.StatusOK, []struct{}{})
		return
	}
	writeJSON(w, http.StatusOK, evs)
}

func (h *handler) verifyAudit(w http.ResponseWriter, r *http.Request) {
	v, err := h.e.VerifyAudit(r.Context())
	if err != nil {
		h.fail(w, "verify audit", err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// healthz answers while the process serves; readyz only while its engine can (its store answers).
func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *handler) readyz(w http.ResponseWriter, r *http.Request) {
	if err := h.e.Ready(r.Context()); err != nil {
		h.opts.Logf("not ready: %v", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
