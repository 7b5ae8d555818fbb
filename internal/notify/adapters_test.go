package notify

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/plan"
)

func testEvent() Event {
	return Event{
		Service: "checkout", Environment: "production", RolloutID: "r-42",
		Version: "1.3.0", PreviousVersion: "1.2.0", Phase: "RolledBack", Reason: "analysis",
		Message:  "error_rate 3.2% > 1% at weight 25 <see> & act",
		Severity: "critical", Time: time.Date(2026, 11, 27, 21, 0, 0, 0, time.UTC),
		URL: "http://127.0.0.1:7000/rollouts/r-42",
	}
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestSlackSendsDocumentedShape(t *testing.T) {
	fake := newFake(t, slackCheck(t))
	s := &Slack{WebhookURL: "${HOOK}", Getenv: env(map[string]string{"HOOK": fake.URL + "/services/T/B/X"})}
	if err := s.Notify(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	reqs := fake.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	var got slackPayload
	if err := json.Unmarshal(reqs[0].body, &got); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.Text, "checkout production") || !strings.Contains(got.Text, "RolledBack") {
		t.Errorf("text = %q", got.Text)
	}
	if got.Blocks[0].Type != "header" || got.Blocks[0].Text.Text != "checkout production: RolledBack" {
		t.Errorf("header = %+v", got.Blocks[0])
	}
	all := string(reqs[0].body)
	for _, want := range []string{`&lt;see&gt; &amp; act`, `*Version*\n1.3.0`, `*Previous version*\n1.2.0`, "<http://127.0.0.1:7000/rollouts/r-42|Open the rollout>"} {
		if !strings.Contains(all, want) {
			t.Errorf("body lacks %q: %s", want, all)
		}
	}
	if ua := reqs[0].header.Get("User-Agent"); !strings.HasPrefix(ua, "hugai/") {
		t.Errorf("User-Agent = %q", ua)
	}
}

func TestSlackLongFieldsStayWithinLimits(t *testing.T) {
	fake := newFake(t, slackCheck(t))
	e := testEvent()
	e.Service = strings.Repeat("s", 300)
	e.Message = strings.Repeat("m", 5000)
	if err := (&Slack{WebhookURL: fake.URL}).Notify(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookSendsSignedEvent(t *testing.T) {
	fake := newFake(t, nil)
	w := &Webhook{URL: fake.URL + "/hook", Secret: "${SECRET}", Getenv: env(map[string]string{"SECRET": "s3cret"})}
	if err := w.Notify(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	r := fake.requests()[0]
	if ua := r.header.Get("User-Agent"); !strings.HasPrefix(ua, "hugai/") {
		t.Errorf("User-Agent = %q", ua)
	}
	sig := r.header.Get("X-Hugai-Signature")
	if want := Sign([]byte("s3cret"), r.body); !hmac.Equal([]byte(sig), []byte(want)) || !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
		t.Errorf("signature %q, want %q", sig, want)
	}
	var got map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"service": "checkout", "environment": "production", "rolloutID": "r-42", "version": "1.3.0",
		"previousVersion": "1.2.0", "phase": "RolledBack", "reason": "analysis", "message": testEvent().Message,
		"severity": "critical", "time": "2026-11-27T21:00:00Z", "url": "http://127.0.0.1:7000/rollouts/r-42",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("fields %v, want exactly %v", got, want)
	}
}

// FromConfig's webhook signs with HUGAI_WEBHOOK_SECRET when it is set at send time, and only then.
func TestWebhookSecretFromEnvironment(t *testing.T) {
	fake := newFake(t, nil)
	vars := map[string]string{}
	f, err := FromConfig([]plan.Notification{{Type: "webhook", URL: fake.URL}}, env(vars))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Notify(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	if sig := fake.requests()[0].header.Get("X-Hugai-Signature"); sig != "" {
		t.Errorf("unsigned request carries %q", sig)
	}
	vars[WebhookSecretEnv] = "k"
	if err := f.Notify(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	if r := fake.requests()[1]; r.header.Get("X-Hugai-Signature") != Sign([]byte("k"), r.body) {
		t.Errorf("%s set, request not signed with it", WebhookSecretEnv)
	}
}

func TestPagerDutySendsValidTrigger(t *testing.T) {
	fake := newFake(t, pagerDutyCheck(t, false))
	key := strings.Repeat("k", 32)
	p := &PagerDuty{RoutingKey: "${PD_KEY}", URL: fake.URL + "/v2/enqueue", Getenv: env(map[string]string{"PD_KEY": key})}
	e := testEvent()
	e.Message = strings.Repeat("x", 3000)
	e.Reason = strings.Repeat("why ", 400) // a summary far past PagerDuty's 1,024 characters
	if err := p.Notify(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	var got pdEvent
	if err := json.Unmarshal(fake.requests()[0].body, &got); err != nil {
		t.Fatal(err)
	}
	if got.RoutingKey != key || got.EventAction != "trigger" || got.DedupKey != "hugai/checkout/production/r-42" {
		t.Errorf("envelope %+v", got)
	}
	if n := len([]rune(got.Payload.Summary)); n != 1024 {
		t.Errorf("summary of %d characters, want cut to 1024", n)
	}
	pl := got.Payload
	if pl.Severity != "critical" || pl.Source != "checkout/production" || pl.Timestamp != "2026-11-27T21:00:00Z" || pl.CustomDetails["rolloutID"] != "r-42" {
		t.Errorf("payload %+v", pl)
	}
	for sev, want := range map[string]string{"info": "info", "warning": "warning", "": "info"} {
		e.Severity = sev
		if got := pagerDutyEvent(key, e).Payload.Severity; got != want {
			t.Errorf("severity %q -> %q, want %q", sev, got, want)
		}
	}
}

// The fake must reject what PagerDuty rejects, or the test above proves nothing.
func TestPagerDutyFakeEnforcesDocumentedFields(t *testing.T) {
	fake := newFake(t, pagerDutyCheck(t, true))
	valid := pagerDutyEvent(strings.Repeat("k", 32), testEvent())
	for name, mutate := range map[string]func(*pdEvent){
		"long summary":  func(e *pdEvent) { e.Payload.Summary = strings.Repeat("x", 1025) },
		"no summary":    func(e *pdEvent) { e.Payload.Summary = "" },
		"no source":     func(e *pdEvent) { e.Payload.Source = "" },
		"bad severity":  func(e *pdEvent) { e.Payload.Severity = "high" },
		"bad action":    func(e *pdEvent) { e.EventAction = "fire" },
		"short key":     func(e *pdEvent) { e.RoutingKey = "abc" },
		"long dedupKey": func(e *pdEvent) { e.DedupKey = strings.Repeat("d", 256) },
	} {
		ev := valid
		ev.Payload.CustomDetails = nil
		mutate(&ev)
		body, _ := json.Marshal(ev)
		resp, err := http.Post(fake.URL, "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: fake answered %d, want 400", name, resp.StatusCode)
		}
	}
}

func TestEmailSendsPlainTextMessage(t *testing.T) {
	srv := newFakeSMTP(t)
	m := &Email{
		SMTP: "${SMTP_ADDR}", From: "hugai <hugai@example.com>",
		To:     []string{"oncall@example.com", "Ops Team <ops@example.com>"},
		Getenv: env(map[string]string{"SMTP_ADDR": srv.addr}),
	}
	e := testEvent()
	e.Message = "line one\nline two — ünïcode, long enough to need a soft break in quoted-printable " + strings.Repeat("z", 100)
	if err := m.Notify(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	msgs := srv.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if got.from != "hugai@example.com" || strings.Join(got.to, ",") != "oncall@example.com,ops@example.com" {
		t.Errorf("envelope from %q to %q", got.from, got.to)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(got.data)))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	for k, want := range map[string]string{
		"From": `"hugai" <hugai@example.com>`, "To": `<oncall@example.com>, "Ops Team" <ops@example.com>`,
		"MIME-Version": "1.0", "Content-Type": "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
	} {
		if h.Get(k) != want {
			t.Errorf("%s: %q, want %q", k, h.Get(k), want)
		}
	}
	if d, err := h.Date(); err != nil || !d.Equal(e.Time) {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<hugai.") || !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID %q", id)
	}
	if s := h.Get("Subject"); !strings.Contains(s, "checkout production: rollout r-42 of 1.3.0 RolledBack") {
		t.Errorf("Subject %q", s)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"line one\r\nline two — ünïcode", "Previous version: 1.2.0", "Link:             http://127.0.0.1:7000/rollouts/r-42"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}

func TestEmailSubjectCannotInjectHeaders(t *testing.T) {
	srv := newFakeSMTP(t)
	e := testEvent()
	e.Reason = "bad\r\nBcc: victim@example.com"
	m := &Email{SMTP: srv.addr, From: "hugai@example.com", To: []string{"a@example.com"}}
	if err := m.Notify(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(srv.messages()[0].data)))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Bcc") != "" {
		t.Errorf("reason injected a header: %v", msg.Header)
	}
}

// A relay that wants a login gets one, with the password read from the environment at send
// time; without it the relay refuses the mail.
func TestEmailLogsIn(t *testing.T) {
	srv := newFakeSMTP(t)
	srv.auth = "hugai:s3cret"
	f, err := FromConfig([]plan.Notification{{Type: "email", SMTP: srv.addr, From: "hugai@example.com", To: []string{"oncall@example.com"},
		Username: "hugai", Password: "${SMTP_PASSWORD}"}}, func(k string) string { return map[string]string{"SMTP_PASSWORD": "s3cret"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Notify(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.messages()); n != 1 {
		t.Fatalf("%d messages delivered, want 1", n)
	}
	anon := &Email{SMTP: srv.addr, From: "hugai@example.com", To: []string{"oncall@example.com"}}
	if err := anon.Notify(context.Background(), testEvent()); err == nil {
		t.Fatal("a relay that requires a login accepted mail without one")
	}
}
