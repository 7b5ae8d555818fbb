package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/plan"
)

// fakeHTTP is a loopback stand-in for a service that cannot run here. check validates one request
// the way the real service documents it and returns the status and body to answer with.
type fakeHTTP struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

type request struct {
	header http.Header
	body   []byte
}

func newFake(t *testing.T, check func(n int, r *http.Request, body []byte) (int, string)) *fakeHTTP {
	t.Helper()
	f := &fakeHTTP{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, request{r.Header.Clone(), body})
		n := len(f.reqs)
		f.mu.Unlock()
		if r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			http.Error(w, "content-type "+ct, http.StatusUnsupportedMediaType)
			return
		}
		code, resp := http.StatusOK, "ok"
		if check != nil {
			code, resp = check(n, r, body)
		}
		w.WriteHeader(code)
		io.WriteString(w, resp)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeHTTP) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

// slackCheck enforces Slack's incoming-webhook format: a JSON object whose "text" is required
// (the notification and fallback text) and whose "blocks" are Block Kit blocks within their limits
// (header: plain_text up to 150 characters; section: text up to 3,000 characters and/or up to 10
// fields of up to 2,000). Slack answers 200 "ok", or 400 with invalid_payload, no_text or
// invalid_blocks.
func slackCheck(t *testing.T) func(int, *http.Request, []byte) (int, string) {
	return func(_ int, _ *http.Request, body []byte) (int, string) {
		var msg struct {
			Text   *string `json:"text"`
			Blocks []struct {
				Type   string      `json:"type"`
				Text   *slackText  `json:"text"`
				Fields []slackText `json:"fields"`
			} `json:"blocks"`
		}
		if err := json.Unmarshal(body, &msg); err != nil {
			t.Errorf("slack: body is not JSON: %v", err)
			return 400, "invalid_payload"
		}
		if msg.Text == nil || strings.TrimSpace(*msg.Text) == "" {
			t.Errorf("slack: no text: %s", body)
			return 400, "no_text"
		}
		bad := func(format string, args ...any) (int, string) {
			t.Errorf("slack: "+format, args...)
			return 400, "invalid_blocks"
		}
		if len(msg.Blocks) == 0 || len(msg.Blocks) > 50 {
			return bad("%d blocks", len(msg.Blocks))
		}
		for i, b := range msg.Blocks {
			switch b.Type {
			case "header":
				if b.Text == nil || b.Text.Type != "plain_text" || b.Text.Text == "" || len([]rune(b.Text.Text)) > 150 || strings.Contains(b.Text.Text, "\n") {
					return bad("block %d: header needs plain_text of 1-150 characters: %+v", i, b.Text)
				}
			case "section":
				if b.Text == nil && len(b.Fields) == 0 {
					return bad("block %d: section needs text or fields", i)
				}
				if b.Text != nil && (b.Text.Type != "mrkdwn" && b.Text.Type != "plain_text" || b.Text.Text == "" || len([]rune(b.Text.Text)) > 3000) {
					return bad("block %d: section text %+v", i, b.Text)
				}
				if len(b.Fields) > 10 {
					return bad("block %d: %d fields", i, len(b.Fields))
				}
				for _, f := range b.Fields {
					if f.Type != "mrkdwn" && f.Type != "plain_text" || f.Text == "" || len([]rune(f.Text)) > 2000 {
						return bad("block %d: field %+v", i, f)
					}
				}
			case "context", "divider", "actions":
			default:
				return bad("block %d: unknown type %q", i, b.Type)
			}
		}
		return 200, "ok"
	}
}

// pagerDutyCheck enforces the Events API v2 trigger format: routing_key (the 32-character
// integration key), event_action trigger|acknowledge|resolve, dedup_key up to 255 characters, and
// for a trigger a payload with summary (1-1,024 characters), source and severity
// (critical|error|warning|info) required, timestamp ISO 8601 when given, custom_details an object.
// PagerDuty answers 202 with {"status":"success",...} or 400 {"status":"invalid event",...}.
func pagerDutyCheck(t *testing.T, wantInvalid bool) func(int, *http.Request, []byte) (int, string) {
	return func(_ int, _ *http.Request, body []byte) (int, string) {
		invalid := func(format string, args ...any) (int, string) {
			if !wantInvalid {
				t.Errorf("pagerduty: "+format, args...)
			}
			return 400, `{"status":"invalid event","message":"Event object is invalid"}`
		}
		var ev map[string]json.RawMessage
		if err := json.Unmarshal(body, &ev); err != nil {
			return invalid("not JSON: %v", err)
		}
		str := func(m map[string]json.RawMessage, k string) (string, bool) {
			var s string
			raw, ok := m[k]
			return s, ok && json.Unmarshal(raw, &s) == nil
		}
		if k, ok := str(ev, "routing_key"); !ok || len(k) != 32 {
			return invalid("routing_key %q", k)
		}
		action, _ := str(ev, "event_action")
		if action != "trigger" && action != "acknowledge" && action != "resolve" {
			return invalid("event_action %q", action)
		}
		if d, ok := str(ev, "dedup_key"); ok && len(d) > 255 || !ok && action != "trigger" {
			return invalid("dedup_key %q", d)
		}
		var p map[string]json.RawMessage
		if err := json.Unmarshal(ev["payload"], &p); err != nil || p == nil {
			return invalid("payload missing")
		}
		if s, ok := str(p, "summary"); !ok || s == "" || len([]rune(s)) > 1024 {
			return invalid("summary of %d characters", len([]rune(s)))
		}
		if s, ok := str(p, "source"); !ok || s == "" {
			return invalid("source missing")
		}
		switch s, _ := str(p, "severity"); s {
		case "critical", "error", "warning", "info":
		default:
			return invalid("severity %q", s)
		}
		if raw, ok := p["timestamp"]; ok {
			s, _ := str(p, "timestamp")
			if _, err := time.Parse(time.RFC3339, s); err != nil {
				return invalid("timestamp %s", raw)
			}
		}
		if raw, ok := p["custom_details"]; ok {
			var obj map[string]any
			if json.Unmarshal(raw, &obj) != nil {
				return invalid("custom_details %s", raw)
			}
		}
		if raw, ok := ev["links"]; ok {
			var links []map[string]any
			if json.Unmarshal(raw, &links) != nil {
				return invalid("links %s", raw)
			}
			for _, l := range links {
				if h, _ := l["href"].(string); h == "" {
					return invalid("link without href: %v", l)
				}
			}
		}
		d, _ := str(ev, "dedup_key")
		out, _ := json.Marshal(map[string]string{"status": "success", "message": "Event processed", "dedup_key": d})
		return 202, string(out)
	}
}

// A webhook channel with its own secret in hugai.yaml signs with it, read when sending.
func TestWebhookSecretFromConfig(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("X-Hugai-Signature") != Sign([]byte("s3cret"), body) {
			got = "bad signature: " + r.Header.Get("X-Hugai-Signature")
		} else {
			got = "signed"
		}
	}))
	defer srv.Close()
	f, err := FromConfig([]plan.Notification{{Type: "webhook", URL: srv.URL, Secret: "${HOOK_SECRET}"}},
		func(k string) string { return map[string]string{"HOOK_SECRET": "s3cret"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Notify(context.Background(), Event{Service: "demo", Phase: "Failed", Severity: "critical"}); err != nil {
		t.Fatal(err)
	}
	if got != "signed" {
		t.Fatalf("webhook: %s", got)
	}
}
