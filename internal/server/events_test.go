package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
)

// event is one Server-Sent Event as a browser's EventSource would see it.
type event struct {
	id, name, data string
}

// stream opens an event stream over the socket and delivers its events until the test ends or
// the server closes it (then the channel closes).
func stream(t *testing.T, socket, path, lastID string) (<-chan event, *http.Response) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}}}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://x"+path, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := hc.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ch := make(chan event, 100)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done; hc.CloseIdleConnections() })
	go func() {
		defer close(done)
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					ch <- ev
				}
				ev = event{}
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return ch, resp
}

func next(t *testing.T, ch <-chan event) event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return event{}
}

func rolloutOf(t *testing.T, ev event) api.Rollout {
	t.Helper()
	if ev.name != "rollout" {
		t.Fatalf("event %q, want rollout: %s", ev.name, ev.data)
	}
	var r api.Rollout
	if err := json.Unmarshal([]byte(ev.data), &r); err != nil {
		t.Fatalf("event data: %v: %s", err, ev.data)
	}
	return r
}

// A rollout's stream sends each revision as it happens, ends with `end` once the rollout is
// over, and a reconnect with Last-Event-ID sends only what the reader has not seen.
func TestRolloutEventStream(t *testing.T) {
	f, s, c := serve(t)
	r, err := c.Start(context.Background(), api.StartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ch, resp := stream(t, s.Socket, "/api/v1/rollouts/"+r.ID+"/events", "")
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	ev := next(t, ch)
	if got := rolloutOf(t, ev); got.ID != r.ID || ev.id != "1" {
		t.Fatalf("first event %+v (id %s)", got, ev.id)
	}
	f.Update(r.ID, func(r *api.Rollout) { r.Phase = "Paused" })
	if got := rolloutOf(t, next(t, ch)); got.Phase != "Paused" || got.Revision != 2 {
		t.Fatalf("second event %+v", got)
	}
	f.Finish(r.ID, "Succeeded")
	if got := rolloutOf(t, next(t, ch)); got.Phase != "Succeeded" {
		t.Fatalf("third event %+v", got)
	}
	if ev := next(t, ch); ev.name != "end" || !strings.Contains(ev.data, `"exitCode":0`) {
		t.Fatalf("last event %+v", ev)
	}
	if _, ok := <-ch; ok {
		t.Fatal("the stream goes on after end")
	}

	// Reconnecting after revision 2 gets revision 3 and the end, nothing before.
	ch, _ = stream(t, s.Socket, "/api/v1/rollouts/"+r.ID+"/events", "2")
	if ev := next(t, ch); ev.id != "3" {
		t.Fatalf("resumed at %+v", ev)
	}
	if ev := next(t, ch); ev.name != "end" {
		t.Fatalf("resumed stream: %+v", ev)
	}

	// Bad input is a plain error answer, not a stream.
	if code, body := raw(t, s.Socket, "GET", "/api/v1/rollouts/nope/events", ""); code != 404 || !strings.Contains(body, "not_found") {
		t.Fatalf("unknown rollout: %d %s", code, body)
	}
}

// A service's stream starts with the rollouts under way and sends every later change of any of
// its rollouts, and nothing of another service's.
func TestServiceEventStream(t *testing.T) {
	f, s, c := serve(t)
	ctx := context.Background()
	old, err := c.Start(ctx, api.StartRequest{Service: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	f.Finish(old.ID, "Succeeded")
	live, err := c.Start(ctx, api.StartRequest{Service: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	ch, _ := stream(t, s.Socket, "/api/v1/events?service=demo", "")
	if got := rolloutOf(t, next(t, ch)); got.ID != live.ID {
		t.Fatalf("first event %+v: want the rollout under way %s only", got, live.ID)
	}
	other, err := c.Start(ctx, api.StartRequest{Service: "other"})
	if err != nil {
		t.Fatal(err)
	}
	f.Update(other.ID, func(r *api.Rollout) { r.Phase = "Paused" })
	f.Update(live.ID, func(r *api.Rollout) { r.Phase = "Paused" })
	if got := rolloutOf(t, next(t, ch)); got.ID != live.ID || got.Phase != "Paused" {
		t.Fatalf("change event %+v", got)
	}
	third, err := c.Start(ctx, api.StartRequest{Service: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	if got := rolloutOf(t, next(t, ch)); got.ID != third.ID {
		t.Fatalf("new rollout event %+v", got)
	}
	if code, body := raw(t, s.Socket, "GET", "/api/v1/events", ""); code != 400 || !strings.Contains(body, "service is required") {
		t.Fatalf("no service: %d %s", code, body)
	}
}

func TestHealthAndAuditQueries(t *testing.T) {
	_, s, _ := serve(t)
	for path, want := range map[string]int{
		"/healthz":                       200,
		"/readyz":                        200,
		"/api/v1/audit":                  200,
		"/api/v1/audit?after=3&limit=10": 200,
		"/api/v1/audit?after=-1":         400,
		"/api/v1/audit?limit=0":          400,
		"/api/v1/audit?limit=100000":     400,
		"/api/v1/audit/verify":           200,
		"/api/v1/rollouts/x/plan":        404,
		"/api/v1/rollouts/x/approvals":   404,
		"/metrics":                       404, // no registry given
	} {
		if code, body := raw(t, s.Socket, "GET", path, ""); code != want {
			t.Errorf("GET %s: %d %s, want %d", path, code, body, want)
		}
	}
	if _, body := raw(t, s.Socket, "GET", "/api/v1/audit", ""); body != "[]" {
		t.Errorf("empty audit: %s", body)
	}
}
