package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
)

// Observer learns of every committed change of a rollout, after the store has it: the server's
// Prometheus metrics are one. It is called on the engine's goroutines and must not block.
type Observer interface {
	Committed(c Change)
}

// Change is one committed step of a rollout.
type Change struct {
	RolloutID   string
	Service     string
	Environment string
	Strategy    string
	// Before is the state before the change; its Phase is "" for a rollout just created.
	Before, After rollout.State
	// Measurements are the criteria judged by the look this change consumed, if any.
	Measurements []analysis.Measurement
	At           time.Time
}

// Changed is closed the next time any rollout changes: a watcher takes it, reads what it
// watches, and waits on it.
func (e *Engine) Changed() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changed
}

// Ready says whether the engine can serve: its store answers.
func (e *Engine) Ready(ctx context.Context) error {
	if _, err := e.cfg.Store.Rollouts(ctx, store.Filter{Limit: 1}); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Approvals lists the decisions people took on a rollout, oldest first.
func (e *Engine) Approvals(ctx context.Context, id string) ([]api.Approval, error) {
	if _, err := e.load(ctx, id); err != nil {
		return nil, err
	}
	as, err := e.cfg.Store.Approvals(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("approvals of %s: %w", id, err)
	}
	out := make([]api.Approval, 0, len(as))
	for _, a := range as {
		out = append(out, api.Approval{Gate: a.Gate, Actor: a.Actor, Decision: a.Decision, Comment: a.Comment, Time: a.Time})
	}
	return out, nil
}

// Measurements lists every judged look of a rollout, oldest first.
func (e *Engine) Measurements(ctx context.Context, id string) ([]api.Measurement, error) {
	if _, err := e.load(ctx, id); err != nil {
		return nil, err
	}
	ms, err := e.cfg.Store.Measurements(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("measurements of %s: %w", id, err)
	}
	out := make([]api.Measurement, 0, len(ms))
	for _, m := range ms {
		out = append(out, api.Measurement{Step: m.Step, Metric: m.Metric, Version: m.Version, Phase: m.Phase,
			Value: m.Value, Message: m.Message, StartedAt: m.StartedAt, FinishedAt: m.FinishedAt})
	}
	return out, nil
}

// Audit lists audit events in chain order.
func (e *Engine) Audit(ctx context.Context, f api.AuditFilter) ([]audit.Event, error) {
	evs, err := e.cfg.Store.Events(ctx, store.EventFilter{Subject: f.Subject, AfterSeq: f.AfterSeq, Limit: f.Limit})
	if err != nil {
		return nil, fmt.Errorf("audit events: %w", err)
	}
	return evs, nil
}

// VerifyAudit checks the whole audit chain. A broken chain is an answer, not an error.
func (e *Engine) VerifyAudit(ctx context.Context) (api.AuditVerify, error) {
	res, err := e.cfg.Store.VerifyAudit(ctx)
	var bad *audit.VerifyError
	switch {
	case errors.As(err, &bad):
		return api.AuditVerify{BadSeq: bad.Seq, Error: bad.Error()}, nil
	case err != nil:
		return api.AuditVerify{}, fmt.Errorf("verify audit: %w", err)
	}
	return api.AuditVerify{OK: true, Events: res.Events, Head: res.Head}, nil
}

// Plan is the DeploymentPlan a rollout runs, as it was frozen when the rollout started.
func (e *Engine) Plan(ctx context.Context, id string) ([]byte, error) {
	r, err := e.load(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.Plan, nil
}
