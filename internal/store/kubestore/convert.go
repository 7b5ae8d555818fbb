package kubestore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/hugai-dev/hugai/internal/audit"
	hugaiv1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
	"github.com/hugai-dev/hugai/internal/store"
)

// The status keeps times as MicroTime (what every store keeps: microseconds, UTC); metav1
// decodes them in the local zone, so reads turn them back to UTC.

func micro(t time.Time) metav1.MicroTime {
	return metav1.NewMicroTime(t.UTC().Truncate(time.Microsecond))
}

func utc(t metav1.MicroTime) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func toRecord(r store.Rollout, generation int64) hugaiv1.RolloutRecord {
	return hugaiv1.RolloutRecord{
		ID: r.ID, Service: r.Service, Environment: r.Environment, Version: r.Version,
		PreviousVersion: r.PreviousVersion, Strategy: r.Strategy, Phase: r.Phase, Reason: r.Reason,
		Plan: string(r.Plan), PlanSHA256: r.PlanSHA256, ServiceFile: string(r.ServiceFile),
		State: string(r.State), Revision: r.Revision, Generation: generation, CreatedBy: r.CreatedBy,
		CreatedAt: micro(r.CreatedAt), UpdatedAt: micro(r.UpdatedAt),
	}
}

func fromRecord(r hugaiv1.RolloutRecord) store.Rollout {
	out := store.Rollout{
		ID: r.ID, Service: r.Service, Environment: r.Environment, Version: r.Version,
		PreviousVersion: r.PreviousVersion, Strategy: r.Strategy, Phase: r.Phase, Reason: r.Reason,
		PlanSHA256: r.PlanSHA256, Revision: r.Revision, CreatedBy: r.CreatedBy,
		CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
	}
	if r.Plan != "" {
		out.Plan = []byte(r.Plan)
	}
	if r.ServiceFile != "" {
		out.ServiceFile = []byte(r.ServiceFile)
	}
	if r.State != "" {
		out.State = json.RawMessage(r.State)
	}
	return out
}

func toSummary(r hugaiv1.RolloutRecord) hugaiv1.RolloutSummary {
	return hugaiv1.RolloutSummary{
		ID: r.ID, Version: r.Version, PreviousVersion: r.PreviousVersion, Strategy: r.Strategy,
		Phase: r.Phase, Reason: r.Reason, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

// fromSummary is an earlier rollout as the store still knows it: no plan, service file or state
// (the audit chain keeps its story).
func fromSummary(s hugaiv1.RolloutSummary, service, env string) store.Rollout {
	return store.Rollout{
		ID: s.ID, Service: service, Environment: env, Version: s.Version, PreviousVersion: s.PreviousVersion,
		Strategy: s.Strategy, Phase: s.Phase, Reason: s.Reason, CreatedBy: s.CreatedBy,
		CreatedAt: utc(s.CreatedAt), UpdatedAt: utc(s.UpdatedAt),
	}
}

func toMeasurement(m store.Measurement) hugaiv1.MeasurementRecord {
	return hugaiv1.MeasurementRecord{
		Step: int32(m.Step), Metric: m.Metric, Version: m.Version, Phase: m.Phase,
		Value: strconv.FormatFloat(m.Value, 'g', -1, 64), Message: m.Message,
		StartedAt: micro(m.StartedAt), FinishedAt: micro(m.FinishedAt),
	}
}

func fromMeasurement(m hugaiv1.MeasurementRecord, rolloutID string) (store.Measurement, error) {
	v, err := strconv.ParseFloat(m.Value, 64)
	if err != nil {
		return store.Measurement{}, fmt.Errorf("measurement %s of step %d: value %q: %w", m.Metric, m.Step, m.Value, err)
	}
	return store.Measurement{
		RolloutID: rolloutID, Step: int(m.Step), Metric: m.Metric, Version: m.Version, Phase: m.Phase,
		Value: v, Message: m.Message, StartedAt: utc(m.StartedAt), FinishedAt: utc(m.FinishedAt),
	}, nil
}

func toApproval(a store.Approval) hugaiv1.ApprovalRecord {
	return hugaiv1.ApprovalRecord{Gate: a.Gate, Actor: a.Actor, Decision: a.Decision, Comment: a.Comment, Time: micro(a.Time)}
}

func fromApproval(a hugaiv1.ApprovalRecord, rolloutID string) store.Approval {
	return store.Approval{RolloutID: rolloutID, Gate: a.Gate, Actor: a.Actor, Decision: a.Decision, Comment: a.Comment, Time: utc(a.Time)}
}

func toEvent(e audit.Event) hugaiv1.AuditEvent {
	return hugaiv1.AuditEvent{
		Seq: e.Seq, Subject: e.Subject, Type: e.Type, Actor: e.Actor, Time: micro(e.Time),
		Payload: string(e.Payload), PrevHash: e.PrevHash, Hash: e.Hash,
	}
}

func fromEvent(e hugaiv1.AuditEvent) audit.Event {
	out := audit.Event{
		Seq: e.Seq, Subject: e.Subject, Type: e.Type, Actor: e.Actor, Time: utc(e.Time),
		PrevHash: e.PrevHash, Hash: e.Hash,
	}
	if e.Payload != "" {
		out.Payload = json.RawMessage(e.Payload)
	}
	return out
}

func fromEvents(es []hugaiv1.AuditEvent) []audit.Event {
	out := make([]audit.Event, len(es))
	for i, e := range es {
		out[i] = fromEvent(e)
	}
	return out
}
