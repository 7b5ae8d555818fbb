package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/plan"
)

func TestFromConfigUnknownTypeListsKnown(t *testing.T) {
	_, err := FromConfig([]plan.Notification{{Type: "slack", WebhookURL: "x"}, {Type: "teams"}}, nil)
	if err == nil || !strings.Contains(err.Error(), `notifications[1]: unknown type "teams" (known: email, pagerduty, slack, webhook)`) {
		t.Fatalf("err = %v", err)
	}
	_, err = FromConfig([]plan.Notification{{Type: "slack", Severity: "high"}}, nil)
	if err == nil || !strings.Contains(err.Error(), `unknown severity "high" (known: info, warning, critical)`) {
		t.Fatalf("err = %v", err)
	}
}

func TestSeverityIsAChannelMinimum(t *testing.T) {
	all, warn, crit := newFake(t, nil), newFake(t, nil), newFake(t, nil)
	f, err := FromConfig([]plan.Notification{
		{Type: "webhook", URL: all.URL},
		{Type: "webhook", URL: warn.URL, Severity: "warning"},
		{Type: "webhook", URL: crit.URL, Severity: "critical"},
	}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, sev := range []string{"info", "warning", "critical", ""} {
		e := testEvent()
		e.Severity = sev
		if err := f.Notify(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	for name, c := range map[string]struct {
		f    *fakeHTTP
		want int
	}{"info": {all, 4}, "warning": {warn, 2}, "critical": {crit, 1}} {
		if got := len(c.f.requests()); got != c.want {
			t.Errorf("channel with severity %s got %d events, want %d", name, got, c.want)
		}
	}
}

// An event that names its channels (a plan's monitoring.alerting.channels) reaches only those.
func TestEventChannelsRouteIt(t *testing.T) {
	a, b := newFake(t, nil), newFake(t, nil)
	f, err := FromConfig([]plan.Notification{{Type: "webhook", URL: a.URL}, {Name: "ops", Type: "webhook", URL: b.URL}}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	e := testEvent()
	e.Channels = []int{1}
	if err := f.Notify(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	e.Channels = []int{} // the plan named channels, none of them here: nobody
	if err := f.Notify(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if len(a.requests()) != 0 || len(b.requests()) != 1 {
		t.Fatalf("routed: %d to the first, %d to ops; want 0 and 1", len(a.requests()), len(b.requests()))
	}
}

// ${VAR} is read when a channel sends, so a changed variable takes effect at once, and a missing
// one fails that channel only, with an error naming the variable and nothing sent.
func TestVariablesAreReadAtSendTime(t *testing.T) {
	first, second, other := newFake(t, nil), newFake(t, nil), newFake(t, nil)
	vars := map[string]string{}
	ns := []plan.Notification{
		{Type: "slack", WebhookURL: "${SLACK_URL}/services/x"},
		{Type: "webhook", URL: other.URL},
	}
	f, err := FromConfig(ns, env(vars))
	if err != nil {
		t.Fatal(err)
	}
	if ns[0].WebhookURL != "${SLACK_URL}/services/x" {
		t.Errorf("config changed: %q", ns[0].WebhookURL)
	}

	err = f.Notify(context.Background(), testEvent())
	if err == nil || !strings.Contains(err.Error(), "notifications[0] (slack)") || !strings.Contains(err.Error(), "SLACK_URL is not set") {
		t.Errorf("err = %v, want one naming SLACK_URL", err)
	}
	if n := len(other.requests()); n != 1 {
		t.Errorf("the other channel got %d events, want 1", n)
	}

	vars["SLACK_URL"] = first.URL
	if err := f.Notify(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	vars["SLACK_URL"] = second.URL
	if err := f.Notify(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	if len(first.requests()) != 1 || len(second.requests()) != 1 {
		t.Errorf("first got %d, second %d; want 1 each", len(first.requests()), len(second.requests()))
	}
}

func TestExpand(t *testing.T) {
	get := env(map[string]string{"A": "1", "B": "two"})
	for in, want := range map[string]string{
		"":             "",
		"plain":        "plain",
		"${A}":         "1",
		"x${A}y${B}z":  "x1ytwoz",
		"$A and $$":    "$A and $$",
		"open ${A":     "open ${A",
		"pa$$w${B}ord": "pa$$wtwoord",
	} {
		got, err := expand(in, get)
		if err != nil || got != want {
			t.Errorf("expand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := expand("${A}${NOPE}${ALSO}", get); err == nil || err.Error() != "environment variable NOPE, ALSO is not set" {
		t.Errorf("err = %v", err)
	}
}

func TestRetriesServerErrorsThenSucceeds(t *testing.T) {
	fake := newFake(t, func(n int, _ *http.Request, _ []byte) (int, string) {
		if n < 3 {
			return http.StatusServiceUnavailable, "busy"
		}
		return http.StatusOK, "ok"
	})
	f := &Fanout{Channels: []Channel{{Name: "hook", Notifier: &Webhook{URL: fake.URL}}}}
	if err := f.Notify(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	reqs := fake.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d attempts, want 3", len(reqs))
	}
	if string(reqs[0].body) != string(reqs[2].body) {
		t.Error("a retry sent a different body")
	}
}

func TestGivesUpAfterTwoRetries(t *testing.T) {
	fake := newFake(t, func(int, *http.Request, []byte) (int, string) { return 502, "bad gateway" })
	err := (&Webhook{URL: fake.URL}).Notify(context.Background(), testEvent())
	if err == nil || err.Error() != "webhook: after 3 attempts: HTTP 502: bad gateway" {
		t.Errorf("err = %v", err)
	}
	if n := len(fake.requests()); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
}

func TestNoRetryOnClientError(t *testing.T) {
	fake := newFake(t, func(int, *http.Request, []byte) (int, string) { return 400, "invalid_payload" })
	err := (&Slack{WebhookURL: fake.URL + "/services/SECRET"}).Notify(context.Background(), testEvent())
	if err == nil || err.Error() != "slack: HTTP 400: invalid_payload" {
		t.Errorf("err = %v", err)
	}
	if n := len(fake.requests()); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}

func TestRetriesConnectionErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close() // a reset before any response
		}
	}()
	err = (&PagerDuty{RoutingKey: strings.Repeat("k", 32), URL: "http://" + ln.Addr().String() + "/v2/enqueue"}).Notify(context.Background(), testEvent())
	ln.Close()
	<-done
	if err == nil || !strings.HasPrefix(err.Error(), "pagerduty: after 3 attempts: ") || strings.Contains(err.Error(), "/v2/enqueue") {
		t.Errorf("err = %v", err)
	}
	if n := accepted.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
}

// A channel that hangs is cut off at its timeout; the others are delivered meanwhile and Notify
// returns soon after the timeout with that channel's error.
func TestSlowChannelDoesNotBlockOthers(t *testing.T) {
	release := make(chan struct{})
	slow := newFake(t, func(_ int, r *http.Request, _ []byte) (int, string) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
		return 200, "ok"
	})
	defer close(release) // runs before the fake's Cleanup closes the server
	fast := newFake(t, nil)
	srv := newFakeSMTP(t)
	f := &Fanout{
		Timeout: 500 * time.Millisecond,
		Channels: []Channel{
			{Name: "slow", Notifier: &Webhook{URL: slow.URL}},
			{Name: "fast", Notifier: &Slack{WebhookURL: fast.URL}},
			{Name: "mail", Notifier: &Email{SMTP: srv.addr, From: "h@example.com", To: []string{"o@example.com"}}},
		},
	}
	start := time.Now()
	err := f.Notify(context.Background(), testEvent())
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "slow: ") || strings.Contains(err.Error(), "fast") {
		t.Errorf("err = %v, want only the slow channel's deadline", err)
	}
	if len(fast.requests()) != 1 || len(srv.messages()) != 1 {
		t.Errorf("fast channels got %d and %d events, want 1 each", len(fast.requests()), len(srv.messages()))
	}
	if elapsed > 5*time.Second {
		t.Errorf("Notify took %v with a 500ms channel timeout", elapsed)
	}
}

// An email server that stops answering is cut off by the timeout too: net/smtp has no context,
// so the adapter closes the connection itself.
func TestEmailHonoursTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Read(make([]byte, 1)) // no greeting; wait for the client to give up
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = (&Email{SMTP: ln.Addr().String(), From: "h@example.com", To: []string{"o@example.com"}}).Notify(ctx, testEvent())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the deadline", err)
	}
}

// 429 is what Slack and PagerDuty answer a burst with, and both document retrying it.
func TestRetriesTooManyRequests(t *testing.T) {
	fake := newFake(t, func(n int, _ *http.Request, _ []byte) (int, string) {
		if n < 2 {
			return http.StatusTooManyRequests, "rate limited"
		}
		return http.StatusOK, "ok"
	})
	if err := (&Webhook{URL: fake.URL}).Notify(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.requests()); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}
