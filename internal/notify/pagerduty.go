package notify

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// PagerDutyURL is the Events API v2 endpoint.
const PagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// PagerDuty triggers an alert through the Events API v2
// (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/): a JSON body with
// routing_key, event_action "trigger", dedup_key "hugai/<service>/<env>/<rolloutID>" (at most 255
// characters; events of one rollout group into one alert) and a payload with summary (at most
// 1,024 characters), source, severity (critical, warning or info, from the event's; PagerDuty's
// "error" is not used), timestamp (RFC 3339), component, group, class and custom_details; the
// event's URL goes in links. PagerDuty answers 202; 400 is a bad event and 429 a rate limit, which
// like every 4xx is not retried here.
type PagerDuty struct {
	RoutingKey string // the integration key; may hold ${VAR}, read through Getenv at send time
	URL        string // the endpoint; empty means PagerDutyURL
	Getenv     func(string) string
	Client     *http.Client
}

var _ Notifier = (*PagerDuty)(nil)

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

type pdPayload struct {
	Summary       string            `json:"summary"`
	Source        string            `json:"source"`
	Severity      string            `json:"severity"`
	Timestamp     string            `json:"timestamp,omitempty"`
	Component     string            `json:"component,omitempty"`
	Group         string            `json:"group,omitempty"`
	Class         string            `json:"class,omitempty"`
	CustomDetails map[string]string `json:"custom_details,omitempty"`
}

type pdEvent struct {
	RoutingKey  string    `json:"routing_key"`
	EventAction string    `json:"event_action"`
	DedupKey    string    `json:"dedup_key,omitempty"`
	Client      string    `json:"client,omitempty"`
	ClientURL   string    `json:"client_url,omitempty"`
	Payload     pdPayload `json:"payload"`
	Links       []pdLink  `json:"links,omitempty"`
}

func (p *PagerDuty) Notify(ctx context.Context, e Event) error {
	key, err := expand(p.RoutingKey, p.Getenv)
	if err != nil {
		return fmt.Errorf("pagerduty routingKey: %w", err)
	}
	url := p.URL
	if url == "" {
		url = PagerDutyURL
	}
	body, err := marshal(pagerDutyEvent(key, e))
	if err != nil {
		return err
	}
	if err := post(ctx, p.Client, url, body, nil); err != nil {
		return fmt.Errorf("pagerduty: %w", err)
	}
	return nil
}

func pagerDutyEvent(key string, e Event) pdEvent {
	details := map[string]string{}
	for k, v := range map[string]string{
		"service": e.Service, "environment": e.Environment, "rolloutID": e.RolloutID,
		"version": e.Version, "previousVersion": e.PreviousVersion, "phase": e.Phase,
		"reason": e.Reason, "message": e.Message, "url": e.URL,
	} {
		if v != "" {
			details[k] = v
		}
	}
	source := e.Service
	if e.Environment != "" {
		source += "/" + e.Environment
	}
	ev := pdEvent{
		RoutingKey:  key,
		EventAction: "trigger",
		DedupKey:    truncate(strings.Join([]string{"hugai", e.Service, e.Environment, e.RolloutID}, "/"), 255),
		Client:      "hugai",
		ClientURL:   e.URL,
		Payload: pdPayload{
			Summary:       truncate(summary(e), 1024),
			Source:        source,
			Severity:      severityOf(e).String(), // hugai's names are PagerDuty's
			Component:     e.Service,
			Group:         e.Environment,
			Class:         e.Phase,
			CustomDetails: details,
		},
	}
	if ev.Payload.Source == "" {
		ev.Payload.Source = "hugai"
	}
	if !e.Time.IsZero() {
		ev.Payload.Timestamp = e.Time.UTC().Format(time.RFC3339Nano)
	}
	if e.URL != "" {
		ev.Links = []pdLink{{Href: e.URL, Text: "Rollout " + e.RolloutID}}
	}
	return ev
}
