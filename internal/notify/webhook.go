package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
)

// WebhookSecretEnv names the environment variable FromConfig signs webhook requests with.
const WebhookSecretEnv = "HUGAI_WEBHOOK_SECRET"

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the request body keyed with the
// secret, as GitHub's X-Hub-Signature-256. A receiver recomputes it over the raw body it read and
// compares with hmac.Equal.
const SignatureHeader = "X-Hugai-Signature"

// Webhook posts the Event as JSON (the field names of Event's json tags) to any HTTP endpoint, with
// Content-Type application/json, User-Agent hugai/<version> and, when a secret is set,
// X-Hugai-Signature.
type Webhook struct {
	URL    string // may hold ${VAR}, read through Getenv at send time
	Secret string // may hold ${VAR}; empty: requests are not signed
	Getenv func(string) string
	Client *http.Client

	optionalSecret bool // an unset variable in Secret means "not signed" rather than an error
}

var _ Notifier = (*Webhook)(nil)

func (w *Webhook) Notify(ctx context.Context, e Event) error {
	url, err := expand(w.URL, w.Getenv)
	if err != nil {
		return fmt.Errorf("webhook url: %w", err)
	}
	secret, err := expand(w.Secret, w.Getenv)
	if err != nil && !w.optionalSecret {
		return fmt.Errorf("webhook secret: %w", err)
	}
	e.Time = e.Time.UTC()
	body, err := marshal(e)
	if err != nil {
		return err
	}
	var h http.Header
	if secret != "" {
		h = http.Header{SignatureHeader: {Sign([]byte(secret), body)}}
	}
	if err := post(ctx, w.Client, url, body, h); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	return nil
}

// Sign returns the X-Hugai-Signature value for body: "sha256=" + hex(HMAC-SHA256(secret, body)).
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
