package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/server"
	"github.com/hugai-dev/hugai/internal/server/servertest"
)

// FuzzAPIRequest sends every route of the API arbitrary query strings and bodies: the server never
// panics, never answers 500 (the fake engine has no failure of its own, so a 500 is the server
// mishandling input), and every error is the API's JSON error.
func FuzzAPIRequest(f *testing.F) {
	routes := server.Routes()
	f.Add(uint8(0), "", []byte(""))
	f.Add(uint8(1), "", []byte(`{"plan":"YXBp","version":"v2"}`))
	f.Add(uint8(2), "service=demo&environment=production&active=true&limit=5", []byte(""))
	f.Add(uint8(3), "wait=3&timeout=1ms", []byte(""))
	f.Add(uint8(4), "", []byte(`{"kind":"approve","comment":"ok","gate":"g"}`))
	f.Add(uint8(4), "", []byte(`{"kind":"nope"}`))
	f.Add(uint8(11), "after=-1&limit=99999", []byte(""))
	f.Add(uint8(14), "", []byte(`{"tag":"v1.2.3"}`))
	f.Add(uint8(1), "", []byte(`{"plan": 5}`))
	fake := servertest.NewFake()
	fake.Add(api.Rollout{ID: "x", Service: "demo", Environment: "production", Phase: "Progressing"})
	h := server.New(fake, server.Options{})
	f.Fuzz(func(t *testing.T, route uint8, query string, body []byte) {
		rt := routes[int(route)%len(routes)]
		method, path, _ := strings.Cut(rt, " ")
		if strings.HasSuffix(path, "/events") || path == "/api/v1/shutdown" {
			return // streams and stopping the server: events_test and server_test
		}
		path = strings.ReplaceAll(path, "{id}", "x")
		vals, _ := url.ParseQuery(query) // what a client can send: a well-formed query of any values
		query = vals.Encode()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second) // long polls end
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, method, path+"?"+query, bytes.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s?%q %q: %d %s", method, path, query, body, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var e struct{ Code, Message string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code == "" {
				t.Fatalf("%s %s: %d answered %q, not an API error", method, path, w.Code, w.Body)
			}
		}
	})
}

// A body over the limit is refused, not read whole.
func TestOversizedBodyRefused(t *testing.T) {
	h := server.New(servertest.NewFake(), server.Options{})
	big := bytes.Repeat([]byte("a"), 9<<20)
	body := append([]byte(`{"planFile":"`), append(big, '"', '}')...)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/api/v1/rollouts", bytes.NewReader(body)))
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "request body too large") {
		t.Fatalf("%d %.200s", w.Code, w.Body)
	}
}
