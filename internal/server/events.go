package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
)

// Server-Sent Events: a rollout's every revision as it happens (GET /api/v1/rollouts/{id}/events),
// and every change of a service's rollouts (GET /api/v1/events?service=S[&environment=E]), for the
// dashboard and for scripts that would rather not poll.

// heartbeat keeps idle streams open through proxies that cut silent connections, and lets a
// stream notice a peer that went away.
const heartbeat = 15 * time.Second

// maxStreamRollouts bounds what one service stream looks at per change.
const maxStreamRollouts = 50

// sse is one open event stream.
type sse struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (h *handler) startStream(w http.ResponseWriter) *sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no") // nginx in front must not buffer the stream
	w.WriteHeader(http.StatusOK)
	s := &sse{w: w, rc: http.NewResponseController(w)}
	_, _ = fmt.Fprintf(w, "retry: 2000\n\n")
	_ = s.rc.Flush()
	return s
}

// send writes one event; an error means the peer is gone.
func (s *sse) send(event, id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if id != "" {
		if _, err := fmt.Fprintf(s.w, "id: %s\n", id); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", event, b); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *sse) ping() error {
	if _, err := fmt.Fprint(s.w, ": keep-alive\n\n"); err != nil {
		return err
	}
	return s.rc.Flush()
}

// streamContext ends with the request or when the server shuts down, as long polls do.
func (h *handler) streamContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(h.quit, cancel)
	return ctx, func() { stop(); cancel() }
}

// rolloutEvents streams event `rollout` (the API's Rollout, id = its revision) at each revision
// after Last-Event-ID (a reconnecting EventSource sends it), and `end` once the rollout is over.
func (h *handler) rolloutEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ro, err := h.e.Get(r.Context(), id)
	if err != nil {
		h.fail(w, "events of "+id, err) // a plain error answer: the stream never started
		return
	}
	after := int64(-1)
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, badInput("Last-Event-ID %q: want the revision of the last event seen", v))
			return
		}
		after = n
	}
	ctx, cancel := h.streamContext(r)
	defer cancel()
	s := h.startStream(w)
	for {
		if ro.Revision > after {
			if s.send("rollout", strconv.FormatInt(ro.Revision, 10), ro) != nil {
				return
			}
			after = ro.Revision
		}
		if ro.Terminal {
			_ = s.send("end", "", map[string]any{"id": ro.ID, "phase": ro.Phase, "exitCode": ro.ExitCode})
			return
		}
		wctx, wcancel := context.WithTimeout(ctx, heartbeat)
		next, err := h.e.Wait(wctx, id, after)
		wcancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && wctx.Err() == nil:
			h.opts.Logf("events of %s: %v", id, err)
			return
		case err != nil || next.Revision <= after:
			if s.ping() != nil {
				return
			}
			continue
		}
		ro = next
	}
}

// serviceEvents streams event `rollout` for every rollout of a service (and environment) that
// changed since the stream began, starting with those under way.
func (h *handler) serviceEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := api.ListFilter{Service: q.Get("service"), Environment: q.Get("environment"), Limit: maxStreamRollouts}
	if f.Service == "" {
		writeError(w, http.StatusBadRequest, badInput("events: service is required"))
		return
	}
	changed := h.e.Changed()
	rs, err := h.e.List(r.Context(), f)
	if err != nil {
		h.fail(w, "events of "+f.Service, err)
		return
	}
	ctx, cancel := h.streamContext(r)
	defer cancel()
	s := h.startStream(w)
	seen := map[string]int64{}
	for _, ro := range rs {
		seen[ro.ID] = ro.Revision
		if !ro.Terminal && s.send("rollout", "", ro) != nil {
			return
		}
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if s.ping() != nil {
				return
			}
			continue
		case <-changed:
		}
		changed = h.e.Changed()
		rs, err := h.e.List(ctx, f)
		if err != nil {
			if ctx.Err() == nil {
				h.opts.Logf("events of %s: %v", f.Service, err)
			}
			return
		}
		// Oldest first, so a reader sees a rollout created before one that replaced it.
		for i := len(rs) - 1; i >= 0; i-- {
			ro := rs[i]
			if rev, ok := seen[ro.ID]; ok && rev >= ro.Revision {
				continue
			}
			seen[ro.ID] = ro.Revision
			if s.send("rollout", "", ro) != nil {
				return
			}
		}
	}
}
