package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

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
	{
		id := r.PathValue("id")
		q := r.URL.Query()
		if q.Get("wait") == "" {
			run, err := rs.Get(r.Context(), id)
			if err != nil {
				h.fail(w, "get release run "+id, err)
				return
			}
			writeJSON(w, http.StatusOK, run)
			return
		}
		after, err := strconv.ParseInt(q.Get("wait"), 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, badInput("wait=%q: want a revision number", q.Get("wait")))
			return
		}
		timeout := defaultWaitTimeout
		if v := q.Get("timeout"); v != "" {
			if timeout, err = time.ParseDuration(v); err != nil || timeout <= 0 {
				writeError(w, http.StatusBadRequest, badInput("timeout=%q: want a duration such as 30s", v))
				return
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), min(timeout, maxWaitTimeout))
		defer cancel()
		go func() {
			select {
			case <-h.quit:
				cancel()
			case <-ctx.Done():
			}
		}()
		run, err := rs.Wait(ctx, id, after)
		if err != nil && ctx.Err() != nil && r.Context().Err() == nil {
			run, err = rs.Get(r.Context(), id)
		}
		if err != nil {
			h.fail(w, "wait release run "+id, err)
			return
		}
		writeJSON(w, http.StatusOK, run)
	}
}
