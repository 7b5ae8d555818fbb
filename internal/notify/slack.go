package notify

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Slack posts to a Slack incoming webhook (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks,
// formerly api.slack.com/messaging/webhooks; blocks per https://docs.slack.dev/reference/block-kit/blocks): a JSON body with "text", the notification and fallback text, and "blocks" in Block Kit: a
// header block (plain_text, at most 150 characters), a section with the message, a section of
// fields (at most 10, each at most 2,000 characters) and, when the event has a URL, a link.
type Slack struct {
	WebhookURL string // may hold ${VAR}, read through Getenv at send time
	Getenv     func(string) string
	Client     *http.Client
}

var _ Notifier = (*Slack)(nil)

func (s *Slack) Notify(ctx context.Context, e Event) error {
	url, err := expand(s.WebhookURL, s.Getenv)
	if err != nil {
		return fmt.Errorf("slack webhookURL: %w", err)
	}
	body, err := marshal(slackMessage(e))
	if err != nil {
		return err
	}
	if err := post(ctx, s.Client, url, body, nil); err != nil {
		return fmt.Errorf("slack: %w", err)
	}
	return nil
}

type slackText struct {
	Type string `json:"type"` // plain_text or mrkdwn
	Text string `json:"text"`
}

type slackBlock struct {
	Type   string      `json:"type"`
	Text   *slackText  `json:"text,omitempty"`
	Fields []slackText `json:"fields,omitempty"`
}

type slackPayload struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

func slackMessage(e Event) slackPayload {
	title := summary(e)
	p := slackPayload{Text: slackEscape(title)}
	p.Blocks = append(p.Blocks, slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: truncate(oneLine(headline(e)), 150)}})
	if m := detail(e); m != "" {
		p.Blocks = append(p.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: truncate(slackEscape(m), 3000)}})
	}
	var fields []slackText
	field := func(name, v string) {
		if v != "" {
			fields = append(fields, slackText{Type: "mrkdwn", Text: truncate("*"+name+"*\n"+slackEscape(v), 2000)})
		}
	}
	field("Service", e.Service)
	field("Environment", e.Environment)
	field("Version", e.Version)
	field("Previous version", e.PreviousVersion)
	field("Phase", e.Phase)
	field("Severity", severityOf(e).String())
	field("Rollout", e.RolloutID)
	if !e.Time.IsZero() {
		field("Time", e.Time.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	p.Blocks = append(p.Blocks, slackBlock{Type: "section", Fields: fields})
	if e.URL != "" {
		p.Blocks = append(p.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: "<" + slackEscape(e.URL) + "|Open the rollout>"}})
	}
	return p
}

// slackEscape escapes the three characters Slack's mrkdwn reserves for links and mentions.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
