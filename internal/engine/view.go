package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/policy"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
)

// view is a rollout as the API shows it: its steps, weights, the last judgement of each criterion
// and the approval it waits for.
func (e *Engine) view(_ context.Context, r store.Rollout) (api.Rollout, error) {
	spec, st, err := decodeState(r)
	if bad, ok := asInvalid(err); ok {
		// What the store's own columns say: a rollout whose state cannot be read is still listed,
		// and says why.
		phase := rollout.Phase(r.Phase)
		return api.Rollout{
			ID: r.ID, Service: r.Service, Environment: r.Environment, Version: r.Version, PreviousVersion: r.PreviousVersion,
			Strategy: r.Strategy, Phase: r.Phase, Reason: r.Reason, Message: bad.err.Error(), Revision: r.Revision,
			CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, PlanSHA256: r.PlanSHA256,
			Terminal: phase.Terminal(), ExitCode: phase.ExitCode(),
		}, nil
	}
	if err != nil {
		return api.Rollout{}, err
	}
	v := api.Rollout{
		ID: r.ID, Service: r.Service, Environment: r.Environment, Version: r.Version, PreviousVersion: r.PreviousVersion,
		Strategy: r.Strategy, Phase: string(st.Phase), Reason: st.Reason, Message: st.Message, Revision: r.Revision,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, PlanSHA256: r.PlanSHA256,
		CurrentStep: st.StepIndex, Terminal: st.Phase.Terminal(), ExitCode: st.Phase.ExitCode(),
	}
	for i, s := range spec.Steps {
		state := "pending"
		switch {
		case i < st.StepIndex:
			state = "done"
		case i == st.StepIndex && st.DeployedAt != nil && !st.Phase.Terminal():
			state = "running"
		}
		v.Steps = append(v.Steps, api.Step{Index: i, Description: s.Describe(), State: state})
		if i == st.StepIndex && s.Kind == rollout.KindPause && !s.Indefinite && st.Phase == rollout.Progressing {
			end := st.StepStartedAt.Add(s.Duration)
			v.StepEndsAt = &end
		}
	}
	if st.RollbackAt != nil {
		// A rollback shows its own ordered steps.
		v.Steps, v.StepEndsAt, v.CurrentStep = nil, nil, st.RollbackStep
		for i, rs := range spec.RollbackPlan() {
			state := "pending"
			switch {
			case i < st.RollbackStep || st.Phase == rollout.RolledBack:
				state = "done"
			case i == st.RollbackStep && !st.Phase.Terminal():
				state = "running"
			}
			desc := strings.ReplaceAll(rs.Name, "_", " ")
			if rs.MaxDuration > 0 {
				desc += fmt.Sprintf(" (≤%s)", plan.D(rs.MaxDuration))
			}
			if rs.Action == plan.ActionDatabaseMigration && rs.RequiresApproval && !st.Emergency {
				desc += ", approval required"
			}
			v.Steps = append(v.Steps, api.Step{Index: i, Description: desc, State: state})
		}
	}
	v.Weights = nonZero(rollout.Desired(spec, st).Weights)

	last := map[string]int{}
	for i, m := range st.Last {
		last[m.Condition] = i
	}
	for _, c := range spec.Criteria {
		cr := api.Criterion{Metric: c.Metric, Condition: c.String(), Phase: "Pending"}
		if i, ok := last[c.String()]; ok {
			m := st.Last[i]
			val := m.Value
			cr.Value, cr.Display, cr.Phase, cr.Samples, cr.At = &val, criteria.FormatValue(c.Kind, m.Value), string(m.Phase), m.Samples, m.To
			cr.Needed, cr.Since = m.Needed, m.From
		}
		v.Analysis = append(v.Analysis, cr)
	}
	if spec.Sequential != nil {
		v.Comparison = &api.Comparison{Alpha: spec.Sequential.Alpha}
		if st.Evidence != nil {
			v.Comparison.Results = st.Evidence.Results
		}
	}

	for _, name := range spec.Monitors {
		cr := api.Criterion{Metric: name, Phase: "Pending"}
		for _, m := range st.Monitors {
			if m.Metric == name {
				val := m.Value
				cr.Display, cr.Phase, cr.Samples, cr.At = m.Display, string(m.Phase), m.Samples, m.To
				if m.Phase == analysis.Successful {
					cr.Value = &val
				}
			}
		}
		v.Monitors = append(v.Monitors, cr)
	}
	v.Overrides = spec.Overrides
	v.Checkpoints = checkpointsView(spec, st)
	if st.Phase == rollout.AwaitingApproval && st.WaitingSince != nil {
		g := rollout.CurrentGate(spec, st)
		pa := &api.PendingApproval{Gate: g.Name, Approvers: g.Approvers, Needed: spec.Policy.Required(g.Count), Deadline: st.WaitingSince.Add(g.Timeout),
			FourEyes: spec.FourEyes, FourEyesWhy: spec.FourEyesWhy, StartedBy: st.StartedBy, PlannedBy: st.PlannedBy}
		votes := make([]policy.Vote, 0, len(st.Approvals))
		for _, a := range st.Approvals {
			pa.Received = append(pa.Received, a.Actor)
			votes = append(votes, policy.Vote{Actor: a.Actor, Groups: a.Groups, At: a.At})
		}
		pa.Missing = spec.Policy.Count(g.Count, votes, e.cfg.Clock.Now()).Missing
		v.Approval = pa
	}
	return v, nil
}

// checkpointsView says where each of the plan's checkpoints stands.
func checkpointsView(spec rollout.Spec, st rollout.State) []api.Checkpoint {
	var out []api.Checkpoint
	for _, c := range spec.Checkpoints {
		v := api.Checkpoint{Name: c.Name, Required: c.Required, How: c.How, State: "pending"}
		switch c.How {
		case rollout.CheckpointGate:
			i := slices.IndexFunc(spec.Gates, func(g rollout.Gate) bool { return g.Name == c.Name })
			switch {
			case i < st.GateIndex:
				v.State = "passed"
			case i == st.GateIndex && st.Phase == rollout.AwaitingApproval && st.RollbackAt == nil:
				v.State = "waiting"
			}
		case rollout.CheckpointSignOff:
			v.State = "open"
			for _, so := range st.SignOffs {
				if so.Checkpoint == c.Name {
					v.State = "signed-off"
					v.SignedOff = append(v.SignedOff, so.Actor)
				}
			}
		case rollout.CheckpointReadiness:
			if st.ReadyAt != nil {
				v.State = "passed"
			}
		case rollout.CheckpointAnalysis:
			if st.Judged {
				v.State = "passed"
			}
		case rollout.CheckpointSmoke:
			switch {
			case st.Smoke != nil && st.Smoke.Passed:
				v.State = "passed"
			case st.Smoke != nil || st.Reason == rollout.ReasonSmokeTest:
				v.State = "failed"
			case st.SmokeRequestedAt != nil:
				v.State = "running"
			}
		case rollout.CheckpointCommand:
			i := slices.IndexFunc(spec.Runs, func(r rollout.RunSpec) bool { return r.Name == c.Name })
			switch {
			case i < 0:
			case i < st.RunIndex && st.Reason == rollout.ReasonCheckpoint && i == st.RunIndex-1:
				v.State = "failed"
			case i < st.RunIndex:
				v.State = "passed"
			case i == st.RunIndex && st.RunRequestedAt != nil:
				v.State = "running"
			}
		}
		out = append(out, v)
	}
	return out
}

// View is a stored rollout as the API shows it, for a caller that reads the store itself (the
// operator writes it into the object's status).
func (e *Engine) View(r store.Rollout) (api.Rollout, error) { return e.view(context.Background(), r) }
