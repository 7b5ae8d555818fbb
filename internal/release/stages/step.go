package stages

import (
	"fmt"
	"slices"
	"time"
)

// maxTransitions bounds the transitions of one Step: a run of n stages takes a few per stage, so
// more means a bug, which must end the run rather than spin.
const maxTransitions = 1000

// Step takes what happened (obs, possibly empty) into the run's state and says what to do next.
// The caller persists the returned state with its events before it acts: an action interrupted by
// a crash is asked for again by the next Step, and every action is safe to repeat (a check runs
// again; a rollout or a rollback asked for since RequestedAt is found, not started twice).
func Step(spec Spec, st State, obs Observation, now time.Time) (State, []Event, Action) {
	st = clone(st)
	s := &stepper{spec: spec, st: &st, now: now.UTC()}
	act := s.run(obs)
	return st, s.events, act
}

type stepper struct {
	spec   Spec
	st     *State
	now    time.Time
	events []Event
}

func (s *stepper) run(obs Observation) Action {
	if s.st.Phase.Terminal() {
		return Action{}
	}
	if err := s.st.CheckState(s.spec); err != nil {
		s.finish(Failed, "invalid-state", err.Error())
		return Action{}
	}
	if s.st.Phase == Pending {
		s.phase(Running, "", "")
	}
	for range maxTransitions {
		act, done := s.advance(&obs)
		if done {
			return act
		}
	}
	s.finish(Failed, "internal-error", "the stages did not settle: a bug in hugai")
	return Action{}
}

// advance makes one transition of the current stage; done says the action is for the runner.
// obs is consumed (zeroed) once read, so a later transition of the same Step does not read it again.
func (s *stepper) advance(obs *Observation) (Action, bool) {
	i := s.st.Current
	stage, ss := s.spec.Stages[i], &s.st.Stages[i]
	take := func() Observation { o := *obs; *obs = Observation{}; return o }
	switch ss.Phase {
	case StagePending:
		ss.StartedAt = ptr(s.now)
		s.stage(StagePreChecks, "", "")
		return Action{}, false

	case StagePreChecks:
		if o := take(); o.Check != nil && ss.Next < len(stage.PreChecks) && o.Check.Name == stage.PreChecks[ss.Next] {
			s.check(KindPre, *o.Check)
			if !o.Check.Passed {
				s.stop(StageAborted, Aborted, ReasonPreCheck, fmt.Sprintf("pre-check %s failed: nothing of stage %s was deployed", o.Check.Name, ss.Name))
				return Action{}, true
			}
			ss.Next++
		}
		if ss.Next < len(stage.PreChecks) {
			return Action{Kind: ActRunCheck, Stage: i, Check: stage.PreChecks[ss.Next], CheckKind: KindPre}, true
		}
		ss.Next, ss.RequestedAt = 0, ptr(s.now)
		s.stage(StageDeploying, "", "")
		return Action{}, false

	case StageDeploying:
		o := take()
		if ss.RolloutID == "" && !ss.AlreadyDeployed {
			if o.Started == nil {
				return Action{Kind: ActStartRollout, Stage: i, Approval: stage.Approval}, true
			}
			switch {
			case o.Started.Err != "":
				s.stop(StageFailed, Failed, ReasonStartRefused, fmt.Sprintf("stage %s: its rollout could not start: %s", ss.Name, o.Started.Err))
				return Action{}, true
			case o.Started.Already:
				ss.AlreadyDeployed = true
				s.event("release.stageRollout", map[string]any{"stage": ss.Name, "environment": ss.Environment, "alreadyDeployed": true})
				return s.deployed(stage)
			}
			ss.RolloutID = o.Started.ID
			s.event("release.stageRollout", map[string]any{"stage": ss.Name, "environment": ss.Environment, "rollout": ss.RolloutID})
		}
		if ss.AlreadyDeployed {
			return s.deployed(stage)
		}
		if r := o.Rollout; r != nil && r.ID == ss.RolloutID {
			ss.RolloutPhase = r.Phase
			if r.Terminal {
				switch r.Phase {
				case rolloutSucceeded:
					return s.deployed(stage)
				case rolloutRolledBack:
					s.stop(StageRolledBack, RolledBack, ReasonRollout, fmt.Sprintf("stage %s: rollout %s rolled back%s", ss.Name, r.ID, why(r)))
				case rolloutAborted:
					s.stop(StageAborted, Aborted, ReasonRollout, fmt.Sprintf("stage %s: rollout %s was aborted%s", ss.Name, r.ID, why(r)))
				default:
					s.stop(StageFailed, Failed, ReasonRollout, fmt.Sprintf("stage %s: rollout %s ended %s%s", ss.Name, r.ID, r.Phase, why(r)))
				}
				return Action{}, true
			}
		}
		return Action{Kind: ActFollow, Stage: i, RolloutID: ss.RolloutID}, true

	case StageValidating:
		if o := take(); o.Check != nil && ss.Next < len(stage.Validation) && o.Check.Name == stage.Validation[ss.Next] {
			s.check(KindValidation, *o.Check)
			if !o.Check.Passed {
				msg := fmt.Sprintf("validation %s failed", o.Check.Name)
				if ss.AlreadyDeployed || ss.RolloutID == "" {
					// Nothing of this run to roll back: the version was there before it.
					s.stop(StageFailed, Failed, ReasonValidation, fmt.Sprintf("stage %s: %s; the environment ran the version before this run, so it is not rolled back", ss.Name, msg))
					return Action{}, true
				}
				ss.Next, ss.RequestedAt = 0, ptr(s.now)
				s.stage(StageRollingBack, ReasonValidation, msg+": rolling the stage back")
				return Action{}, false
			}
			ss.Next++
		}
		if ss.Next < len(stage.Validation) {
			return Action{Kind: ActRunCheck, Stage: i, Check: stage.Validation[ss.Next], CheckKind: KindValidation}, true
		}
		ss.Next = 0
		return s.succeed()

	case StageRollingBack:
		o := take()
		if ss.RollbackID == "" {
			if o.Started == nil {
				return Action{Kind: ActRollback, Stage: i, RolloutID: ss.RolloutID}, true
			}
			if o.Started.Err != "" || o.Started.ID == "" {
				s.stop(StageFailed, Failed, ReasonRollbackFailed, fmt.Sprintf("stage %s: %s, and its rollback could not start: %s", ss.Name, ss.Message, o.Started.Err))
				return Action{}, true
			}
			ss.RollbackID = o.Started.ID
			s.event("release.stageRollback", map[string]any{"stage": ss.Name, "environment": ss.Environment, "rollout": ss.RolloutID, "rollback": ss.RollbackID})
		}
		if r := o.Rollout; r != nil && r.ID == ss.RollbackID {
			ss.RollbackPhase = r.Phase
			if r.Terminal {
				// A release's rollback is a rollout that ends RolledBack when it brought the
				// release before back (the engine's phase for "rolled back", reason manual).
				if r.Phase == rolloutRolledBack || r.Phase == rolloutSucceeded {
					s.stop(StageRolledBack, RolledBack, ReasonValidation, fmt.Sprintf("stage %s: %s; rolled back by %s", ss.Name, failedCheck(ss), r.ID))
				} else {
					s.stop(StageFailed, Failed, ReasonRollbackFailed, fmt.Sprintf("stage %s: %s, and its rollback %s ended %s%s", ss.Name, failedCheck(ss), r.ID, r.Phase, why(r)))
				}
				return Action{}, true
			}
		}
		return Action{Kind: ActFollow, Stage: i, RolloutID: ss.RollbackID}, true
	}
	// A terminal stage of a run that is not terminal: only a state written by a broken hugai.
	s.finish(Failed, "invalid-state", fmt.Sprintf("stage %s is %s but the run is %s", ss.Name, ss.Phase, s.st.Phase))
	return Action{}, true
}

// deployed moves a stage whose rollout succeeded on to its validation, or to the next stage.
func (s *stepper) deployed(stage Stage) (Action, bool) {
	if len(stage.Validation) == 0 {
		return s.succeed()
	}
	s.st.Stages[s.st.Current].Next = 0
	s.stage(StageValidating, "", "")
	return Action{}, false
}

// succeed ends the current stage and starts the next, or ends the run.
func (s *stepper) succeed() (Action, bool) {
	ss := &s.st.Stages[s.st.Current]
	ss.FinishedAt = ptr(s.now)
	s.stage(StageSucceeded, "", "")
	if s.st.Current+1 < len(s.st.Stages) {
		s.st.Current++
		return Action{}, false
	}
	s.finish(Succeeded, "", fmt.Sprintf("%s reached every stage", s.spec.Version))
	return Action{}, true
}

// stop ends the current stage and the run: the stages after it never start.
func (s *stepper) stop(sp StagePhase, p Phase, reason, msg string) {
	ss := &s.st.Stages[s.st.Current]
	ss.FinishedAt = ptr(s.now)
	s.stage(sp, reason, msg)
	s.finish(p, reason, msg)
}

func (s *stepper) finish(p Phase, reason, msg string) {
	// Current may be anything in a state read back broken (FuzzStep): the run ends all the same.
	for i := max(s.st.Current+1, 0); i < len(s.st.Stages); i++ {
		if s.st.Stages[i].Phase == StagePending {
			s.st.Stages[i].Phase = StageSkipped
		}
	}
	s.st.FinishedAt = ptr(s.now)
	s.phase(p, reason, msg)
}

func (s *stepper) phase(p Phase, reason, msg string) {
	from := s.st.Phase
	s.st.Phase, s.st.Reason, s.st.Message = p, reason, msg
	s.event("release.phase", map[string]any{"from": string(from), "to": string(p), "reason": reason, "message": msg})
}

func (s *stepper) stage(p StagePhase, reason, msg string) {
	ss := &s.st.Stages[s.st.Current]
	from := ss.Phase
	ss.Phase, ss.Reason, ss.Message = p, reason, msg
	payload := map[string]any{"stage": ss.Name, "environment": ss.Environment, "from": string(from), "to": string(p)}
	if reason != "" {
		payload["reason"] = reason
	}
	if msg != "" {
		payload["message"] = msg
	}
	if ss.RolloutID != "" {
		payload["rollout"] = ss.RolloutID
	}
	s.event("release.stage", payload)
}

func (s *stepper) check(kind string, r CheckResult) {
	ss := &s.st.Stages[s.st.Current]
	ss.Checks = append(ss.Checks, Check{Name: r.Name, Kind: kind, Passed: r.Passed, Output: tail(r.Output), At: s.now})
	s.event("release.check", map[string]any{"stage": ss.Name, "environment": ss.Environment, "check": r.Name, "kind": kind, "passed": r.Passed})
}

func (s *stepper) event(typ string, payload map[string]any) {
	s.events = append(s.events, Event{Type: typ, Payload: payload})
}

func failedCheck(ss *StageState) string {
	for i := len(ss.Checks) - 1; i >= 0; i-- {
		if !ss.Checks[i].Passed {
			return fmt.Sprintf("validation %s failed", ss.Checks[i].Name)
		}
	}
	return "validation failed"
}

func why(r *RolloutObs) string {
	switch {
	case r.Reason != "" && r.Message != "":
		return fmt.Sprintf(" (%s: %s)", r.Reason, r.Message)
	case r.Reason != "":
		return " (" + r.Reason + ")"
	case r.Message != "":
		return " (" + r.Message + ")"
	}
	return ""
}

// maxOutput keeps the end of a check's output, where a failing command says why.
const maxOutput = 2000

func tail(s string) string {
	if len(s) <= maxOutput {
		return s
	}
	return "…" + s[len(s)-maxOutput:]
}

func ptr[T any](v T) *T { return &v }

// clone copies what Step changes, so the caller's state is left as it was.
func clone(st State) State {
	st.Stages = slices.Clone(st.Stages)
	for i := range st.Stages {
		st.Stages[i].Checks = slices.Clone(st.Stages[i].Checks)
	}
	return st
}
