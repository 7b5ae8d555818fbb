package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hugai-dev/hugai/internal/plan"
)

// Event is what the engine reports when a rollout ends or needs people.
type Event struct {
	Service         string    `json:"service"`
	Environment     string    `json:"environment"`
	RolloutID       string    `json:"rolloutID"`
	Version         string    `json:"version"`
	PreviousVersion string    `json:"previousVersion,omitempty"`
	Phase           string    `json:"phase"`
	Reason          string    `json:"reason,omitempty"`
	Message         string    `json:"message,omitempty"`
	Severity        string    `json:"severity"` // info|warning|critical; empty reads as info
	Time            time.Time `json:"time"`
	URL             string    `json:"url,omitempty"` // optional link to the rollout
	// Channels, when not nil, are the only channels told: indexes of the service file's
	// notifications (a plan's monitoring.alerting.channels).
	Channels []int `json:"-"`
}

// Notifier delivers one event to one place.
type Notifier interface {
	Notify(ctx context.Context, e Event) error
}

// Severity orders events: a channel gets only those at or above its minimum.
type Severity int

const (
	Info Severity = iota
	Warning
	Critical
)

var severityNames = []string{"info", "warning", "critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("Severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads info, warning or critical; the empty string is info.
func ParseSeverity(s string) (Severity, error) {
	if s == "" {
		return Info, nil
	}
	for i, n := range severityNames {
		if s == n {
			return Severity(i), nil
		}
	}
	return Info, fmt.Errorf("unknown severity %q (known: %s)", s, strings.Join(severityNames, ", "))
}

// severityOf is an event's severity; an unknown one is treated as critical so that a typo in the
// engine over-notifies rather than silences a page.
func severityOf(e Event) Severity {
	s, err := ParseSeverity(e.Severity)
	if err != nil {
		return Critical
	}
	return s
}

// DefaultTimeout bounds each channel's delivery, retries included.
const DefaultTimeout = 10 * time.Second

// Channel is one destination of a Fanout.
type Channel struct {
	// Index is the channel's place in the service file's notifications (Event.Channels).
	Index    int
	Name     string   // for errors, e.g. "notifications[0] (slack)"
	Min      Severity // the channel gets events at or above it
	Notifier Notifier
}

// Fanout sends each event to every channel whose minimum severity it meets, concurrently, each
// bounded by Timeout. One channel failing or hanging does not stop the others.
type Fanout struct {
	Channels []Channel
	Timeout  time.Duration // per channel; zero means DefaultTimeout
}

var _ Notifier = (*Fanout)(nil)

// Notify returns the joined errors of the channels that failed, each prefixed with its name.
func (f *Fanout) Notify(ctx context.Context, e Event) error {
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	sev := severityOf(e)
	errs := make([]error, len(f.Channels))
	var wg sync.WaitGroup
	for i, ch := range f.Channels {
		if sev < ch.Min || e.Channels != nil && !slices.Contains(e.Channels, ch.Index) {
			continue
		}
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if err := ch.Notifier.Notify(cctx, e); err != nil {
				errs[i] = fmt.Errorf("%s: %w", ch.Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// builders maps a notification type to its adapter; the keys are the known types.
var builders = map[string]func(n plan.Notification, getenv func(string) string) Notifier{
	"slack": func(n plan.Notification, getenv func(string) string) Notifier {
		return &Slack{WebhookURL: n.WebhookURL, Getenv: getenv}
	},
	"webhook": func(n plan.Notification, getenv func(string) string) Notifier {
		// The channel's secret (${VAR} read at send time), else HUGAI_WEBHOOK_SECRET; neither
		// means the request is not signed.
		if n.Secret != "" {
			return &Webhook{URL: n.URL, Secret: n.Secret, Getenv: getenv}
		}
		return &Webhook{URL: n.URL, Secret: "${" + WebhookSecretEnv + "}", optionalSecret: true, Getenv: getenv}
	},
	"pagerduty": func(n plan.Notification, getenv func(string) string) Notifier {
		return &PagerDuty{RoutingKey: n.RoutingKey, Getenv: getenv}
	},
	"email": func(n plan.Notification, getenv func(string) string) Notifier {
		return &Email{SMTP: n.SMTP, From: n.From, To: append([]string(nil), n.To...), Username: n.Username, Password: n.Password, Getenv: getenv}
	},
}

// KnownTypes lists the notification types FromConfig accepts.
func KnownTypes() []string {
	ts := make([]string, 0, len(builders))
	for t := range builders {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// FromConfig builds a Fanout from hugai.yaml's notifications. String fields keep their ${VAR}
// references: each adapter reads them through getenv when it sends, so secrets are never stored
// expanded and a changed variable takes effect without a reload.
func FromConfig(ns []plan.Notification, getenv func(string) string) (*Fanout, error) {
	f := &Fanout{}
	var errs []error
	for i, n := range ns {
		name := fmt.Sprintf("notifications[%d] (%s)", i, n.Type)
		if n.Name != "" {
			name = fmt.Sprintf("notifications[%d] (%s)", i, n.Name)
		}
		build, ok := builders[n.Type]
		if !ok {
			errs = append(errs, fmt.Errorf("notifications[%d]: unknown type %q (known: %s)", i, n.Type, strings.Join(KnownTypes(), ", ")))
			continue
		}
		min, err := ParseSeverity(n.Severity)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		f.Channels = append(f.Channels, Channel{Index: i, Name: name, Min: min, Notifier: build(n, getenv)})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return f, nil
}
