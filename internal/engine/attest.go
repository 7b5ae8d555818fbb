package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/attest"
	"github.com/hugai-dev/hugai/internal/store"
)

// Statement says what a finished rollout did, for signing: its plan's hash, the approvals, each
// metric's verdicts, its times, and its last event in the audit chain.
func (e *Engine) Statement(ctx context.Context, id string) (attest.Statement, error) {
	r, err := e.load(ctx, id)
	if err != nil {
		return attest.Statement{}, err
	}
	spec, st, err := decodeState(r)
	if err != nil {
		return attest.Statement{}, err
	}
	if !st.Phase.Terminal() {
		return attest.Statement{}, &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf("rollout %s is %s: a statement is made once it has finished", id, st.Phase)}
	}
	p := attest.Rollout{
		ID: r.ID, Service: r.Service, Environment: r.Environment, Version: r.Version, PreviousVersion: r.PreviousVersion,
		Strategy: r.Strategy, Phase: string(st.Phase), Reason: st.Reason, PlanSHA256: r.PlanSHA256,
		StartedBy: r.CreatedBy, StartedAt: r.CreatedAt, FourEyes: spec.FourEyes,
		Approvals: []attest.Approval{}, Verdicts: []attest.Verdict{},
	}
	if st.FinishedAt != nil {
		p.FinishedAt = st.FinishedAt.UTC()
	}
	approvals, err := e.cfg.Store.Approvals(ctx, id)
	if err != nil {
		return attest.Statement{}, err
	}
	for _, a := range approvals {
		p.Approvals = append(p.Approvals, attest.Approval{Gate: a.Gate, Actor: a.Actor, Decision: a.Decision, Comment: a.Comment, Time: a.Time.UTC()})
	}
	ms, err := e.cfg.Store.Measurements(ctx, id)
	if err != nil {
		return attest.Statement{}, err
	}
	byMetric := map[string]*attest.Verdict{}
	var order []string
	for _, m := range ms {
		v := byMetric[m.Metric]
		if v == nil {
			v = &attest.Verdict{Metric: m.Metric}
			byMetric[m.Metric] = v
			order = append(order, m.Metric)
		}
		v.Windows++
		switch m.Phase {
		case "Successful":
			v.Successful++
		case "Failed":
			v.Failed++
		case "Inconclusive":
			v.Inconclusive++
		default:
			v.Errors++
		}
		v.Last, v.LastPhase = m.Value, m.Phase
	}
	slices.Sort(order)
	for _, name := range order {
		p.Verdicts = append(p.Verdicts, *byMetric[name])
	}
	evs, err := e.cfg.Store.Events(ctx, store.EventFilter{Subject: "rollout/" + id})
	if err != nil {
		return attest.Statement{}, err
	}
	p.Audit.Events = len(evs)
	if n := len(evs); n > 0 {
		p.Audit.LastSeq, p.Audit.LastHash = evs[n-1].Seq, evs[n-1].Hash
	}
	return attest.New(p), nil
}

// finished runs the Finished hook once a rollout has ended, bounded so a slow hook (a full
// disk) cannot hold the tick.
func (e *Engine) finished(ctx context.Context, id string) {
	if e.cfg.Finished == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	e.cfg.Finished(ctx, id)
}
