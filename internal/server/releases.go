package server

import (
	"context"
	"net/http"
	"strconv"

	"github.com/hugai-dev/hugai/internal/api"
)

// Releases runs releases through their stages (internal/releaserun). Errors of type *api.Error
// carry their code.
type Releases interface {
	Execute(ctx context.Context, actor string, req api.ReleaseExecuteRequest) (api.ReleaseRun, error)
	Get(ctx context.Context, id string) (api.ReleaseRun, error)
	List(ctx context.Context, tag string, limit int) ([]api.ReleaseRun, error)
	// Wait blocks until the run's Revision > afterRevision or ctx ends.
	Wait(ctx context.Context, id string, afterRevision int64) (api.ReleaseRun, error)
}

// releases is the server's release runner, or nil after answering that this server runs none.
func (h *handler) releases(w http.ResponseWriter) Releases {
	if h.opts.Releases == nil {
		writeError(w, http.StatusNotFound, &api.Error{Code: api.CodeNotFound, Message: "this server runs no releases"})
	}
	return h.opts.Releases
}

func (h *handler) executeRelease(w http.ResponseWriter, r *http.Request) {
	rs := h.releases(w)
	if rs == nil {
		return
	}
	{
		var req api.ReleaseExecuteRequest
		if !decodeBody(w, r, &req) {
			return
		}
		run, err := rs.Execute(r.Context(), Actor(r.Context()), req)
		if err != nil {
			h.fail(w, "execute release "+req.Tag, err)
			return
		}
		writeJSON(w, http.StatusCreated, run)
	}
}

func (h *handler) listReleaseRuns(w http.ResponseWriter, r *http.Request) {
	rs := h.releases(w)
	if rs == nil {
		return
	}
	{
		q := r.URL.Query()
		limit := 0
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				writeError(w, http.StatusBadRequest, badInput("limit=%q: want a number ≥ 0", v))
				return
			}
			limit = n
		}
		runs, err := rs.List(r.Context(), q.Get("tag"), limit)
		if err != nil {
			h.fail(w, "list release runs", err)
			return
		}
		writeJSON(w, http.StatusOK, runs)
	}
}

func (h *handler) getReleaseRun(w http.ResponseWriter, r *http.Request) {
	rs := h.releases(w)
	if rs == nil {
		return
	}
	id := r.PathValue("id")
	longPoll(h, w, r, "release run "+id,
		func(ctx context.Context) (api.ReleaseRun, error) { return rs.Get(ctx, id) },
		func(ctx context.Context, after int64) (api.ReleaseRun, error) { return rs.Wait(ctx, id, after) })
}
