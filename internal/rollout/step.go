package rollout

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/policy"
)

// notReadyPoll is how soon to look again while waiting for replicas to become ready.
const notReadyPoll = 500 * time.Millisecond

// stepper carries one Step call: the state being built and the events it emits.
type stepper struct {
	spec    Spec
	s       State
	obs     Observation
	now     time.Time
	events  []Event
	requeue time.Duration
}

// Step advances a rollout by what was observed. It returns the new state, the audit events of
// what changed (one at least for every phase change), and how soon it wants to be called again.
// Commands must have been checked with Validate first.
func Step(spec Spec, st State, obs Observation, now time.Time) (State, []Event, time.Duration) {
	st.Approvals = slices.Clone(st.Approvals)
	st.Last = slices.Clone(st.Last)
	st.Monitors = slices.Clone(st.Monitors)
	p := &stepper{spec: spec, s: st, obs: obs, now: now, requeue: time.Hour}
	if p.s.Phase.Terminal() {
		return p.s, nil, 0
	}
	if c := obs.Command; c != nil {
		p.command(c)
	}
	p.advance()
	return p.s, p.events, max(p.requeue, 0)
}

func (p *stepper) emit(typ, actor string, payload map[string]any) {
	p.events = append(p.events, Event{Type: typ, Actor: actor, Payload: payload})
}

func (p *stepper) wake(d time.Duration) {
	p.requeue = min(p.requeue, d)
}

func (p *stepper) setPhase(ph Phase, reason, msg string) {
	if p.s.Phase == ph && p.s.Reason == reason {
		return
	}
	from := p.s.Phase
	p.s.Phase, p.s.Reason, p.s.Message = ph, reason, msg
	payload := map[string]any{"from": string(from), "to": string(ph)}
	if reason != "" {
		payload["reason"] = reason
	}
	if msg != "" {
		payload["message"] = msg
	}
	p.emit("rollout.phase", "", payload)
	if ph == RollingBack {
		t := p.now
		p.s.RollbackAt = &t
	}
	if ph.Terminal() {
		t := p.now
		p.s.FinishedAt = &t
	}
	p.wake(0)
}

// fail ends the candidate's chances: back to stable at once when automatic rollback is on,
// otherwise a pause for a person.
func (p *stepper) fail(reason, msg string) {
	if p.spec.AutoRollback {
		p.setPhase(RollingBack, reason, msg)
		return
	}
	p.setPhase(Paused, reason, msg+"; automatic rollback is off: resume, promote, rollback or abort")
}

func (p *stepper) command(c *Command) {
	s := &p.s
	payload := map[string]any{}
	if c.Comment != "" {
		payload["comment"] = c.Comment
	}
	if _, ok := p.spec.signOffCheckpoint(c.Gate); c.Kind == CommandApprove && ok {
		p.signOff(c)
		return
	}
	switch c.Kind {
	case CommandApprove:
		who := c.identity()
		s.Approvals = append(s.Approvals, Approval{Actor: c.Actor, Comment: c.Comment, At: p.now, Via: who.Via, Groups: p.spec.Policy.GroupsOf(who)})
		payload["gate"] = p.gate().Name
		p.emit("rollout.approved", c.Actor, payload)
	case CommandReject:
		payload["gate"] = p.gate().Name
		p.emit("rollout.rejected", c.Actor, payload)
		if s.RollbackAt != nil {
			p.rollbackFailed(fmt.Sprintf("the database rollback was rejected by %s: the schema is still the release's", c.Actor))
			p.s.Reason = ReasonDatabaseRejected
			return
		}
		p.setPhase(Aborted, ReasonRejected, fmt.Sprintf("rejected by %s", c.Actor))
	case CommandAbort:
		p.emit("rollout.abort", c.Actor, payload)
		p.setPhase(Aborted, ReasonAborted, fmt.Sprintf("aborted by %s", c.Actor))
	case CommandRollback:
		payload["emergency"] = c.Emergency
		p.emit("rollout.rollback", c.Actor, payload)
		s.Emergency = c.Emergency
		p.setPhase(RollingBack, ReasonManual, fmt.Sprintf("rolled back by %s", c.Actor))
	case CommandResume:
		p.emit("rollout.resumed", c.Actor, payload)
		s.Tally = analysis.Tally{}
		s.StepTally = analysis.Tally{}
		// A person said go on: the judge starts afresh, its evidence and α with it.
		s.Evidence = nil
		if s.SpanFrom != nil {
			p.newSpan()
		}
		if s.PromotedAt != nil {
			// Paused after promotion (not judged in time): the watch starts again.
			t := p.now
			s.PromotedAt = &t
			p.setPhase(Verifying, "", fmt.Sprintf("resumed by %s: watching %s again", c.Actor, s.Candidate))
			return
		}
		if s.StepIndex < len(p.spec.Steps) && p.spec.Steps[s.StepIndex].Kind == KindPause && p.spec.Steps[s.StepIndex].Indefinite {
			p.nextStep()
		}
		p.setPhase(Progressing, "", "")
	case CommandPromote:
		payload["full"] = c.Full
		p.emit("rollout.promote", c.Actor, payload)
		if s.PromotedAt != nil {
			// Paused after promotion: a person accepts the new version unjudged.
			s.Judged = true
			p.setPhase(Succeeded, "", fmt.Sprintf("%s serves all traffic; accepted by %s", s.Candidate, c.Actor))
			return
		}
		switch {
		case s.StepIndex < len(p.spec.Steps) && p.spec.Steps[s.StepIndex].Kind == KindSmokeTest:
			// Never skipped: a green whose smoke test has not passed is never switched to.
		case c.Full:
			s.StepIndex = lastFullWeight(p.spec.Steps)
			s.StepStartedAt = p.now
		case s.StepIndex < len(p.spec.Steps) && p.spec.Steps[s.StepIndex].Kind != KindSetWeight:
			// promote ends a wait (pause, analysis, approval); a setWeight only waits for the
			// candidate to be ready, which no one can skip.
			p.nextStep()
		}
		s.StepTally = analysis.Tally{}
		p.setPhase(Progressing, "", "")
	}
}

// lastFullWeight is the index of the step that puts all traffic on the candidate: the last one
// of a canary, the switch to 100 of a blue-green (before its validation period).
func lastFullWeight(steps []StepSpec) int {
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].Kind == KindSetWeight && steps[i].Weight == 100 {
			return i
		}
	}
	return max(len(steps)-1, 0)
}

// Validate says whether cmd makes sense for the rollout now, and whether its actor may give it:
// the environment's policy (spec.Policy) decides who may, and its reason is the refusal's.
func Validate(spec Spec, st State, cmd Command) error {
	if st.Phase.Terminal() {
		return &CommandError{Conflict: true, Msg: fmt.Sprintf("the rollout is %s: nothing to %s", st.Phase, cmd.Kind)}
	}
	who := cmd.identity()
	switch cmd.Kind {
	case CommandApprove, CommandReject:
		if cp, ok := spec.signOffCheckpoint(cmd.Gate); ok {
			if cmd.Kind == CommandReject {
				return &CommandError{Conflict: true, Msg: fmt.Sprintf("%s is an optional checkpoint: sign it off, or leave it", cmd.Gate)}
			}
			g := policy.Gate{Name: cp.Name, Approvers: cp.Approvers, Role: cp.Role}
			if err := denied(spec.Policy.MayApproveOf(who, g, spec.FourEyes, st.StartedBy, st.PlannedBy)); err != nil {
				return err
			}
			for _, so := range st.SignOffs {
				if so.Checkpoint == cmd.Gate && so.Actor == cmd.Actor {
					return &CommandError{Conflict: true, Msg: fmt.Sprintf("%s already signed off %s", cmd.Actor, cmd.Gate)}
				}
			}
			return nil
		}
		if st.Phase != AwaitingApproval {
			return &CommandError{Conflict: true, Msg: fmt.Sprintf("the rollout is %s, not waiting for an approval", st.Phase)}
		}
		g := CurrentGate(spec, st)
		if cmd.Gate != "" && cmd.Gate != g.Name {
			return &CommandError{Conflict: true, Msg: fmt.Sprintf("the rollout waits at %s, not %s", g.Name, cmd.Gate)}
		}
		// Four-eyes is about saying yes: the starter may still say no to their own rollout.
		fourEyes := spec.FourEyes && cmd.Kind == CommandApprove
		if err := denied(spec.Policy.MayApproveOf(who, policy.Gate{Name: g.Name, Approvers: g.Approvers, Role: g.Role}, fourEyes, st.StartedBy, st.PlannedBy)); err != nil {
			return err
		}
		for _, a := range st.Approvals {
			if a.Actor == cmd.Actor && cmd.Kind == CommandApprove {
				return &CommandError{Conflict: true, Msg: fmt.Sprintf("%s already approved %s", cmd.Actor, g.Name)}
			}
		}
	case CommandPromote:
		if err := denied(spec.Policy.Require(who, policy.Deployer, "promote a rollout")); err != nil {
			return err
		}
		if st.Phase != Progressing && st.Phase != Paused {
			return &CommandError{Conflict: true, Msg: fmt.Sprintf("the rollout is %s: only a progressing or paused rollout can be promoted", st.Phase)}
		}
	case CommandResume:
		if err := denied(spec.Policy.Require(who, policy.Deployer, "resume a rollout")); err != nil {
			return err
		}
		if st.Phase != Paused {
			return &CommandError{Conflict: true, Msg: fmt.Sprintf("the rollout is %s, not paused", st.Phase)}
		}
	case CommandAbort, CommandRollback:
		if err := denied(spec.Policy.Require(who, policy.Deployer, string(cmd.Kind)+" a rollout")); err != nil {
			return err
		}
		if st.RollbackAt != nil {
			return &CommandError{Conflict: true, Msg: "the rollout is already rolling back"}
		}
	default:
		return &CommandError{Msg: fmt.Sprintf("unknown command %q", cmd.Kind)}
	}
	return nil
}

// identity is who gave the command, as the policy sees them.
func (c Command) identity() policy.Identity {
	if c.Who.Name != "" {
		return c.Who
	}
	return policy.User(c.Actor)
}

// denied turns the policy's refusal into a command error that names its rule.
func denied(d policy.Decision) error {
	if d.Allowed {
		return nil
	}
	return &CommandError{Denied: true, Rule: d.Rule, Msg: d.Reason}
}

// CommandError is a command refused by Validate.
type CommandError struct {
	Msg      string
	Conflict bool // does not fit the rollout's phase
	Denied   bool // the actor may not give it
	// Rule is the policy's rule that denied it (policy.RuleFourEyes, …).
	Rule string
}

func (e *CommandError) Error() string { return e.Msg }

// CurrentGate is the gate the rollout is at: the database-rollback gate during a rollback, a
// start gate (an approval or a required manual checkpoint), or the current approval step's. It is
// the one place that decides; the API's view and the approvals recorded use it too.
func CurrentGate(spec Spec, st State) Gate {
	if st.RollbackAt != nil {
		return spec.RollbackGate
	}
	if st.GateIndex < len(spec.Gates) {
		return spec.Gates[st.GateIndex]
	}
	if st.StepIndex < len(spec.Steps) && spec.Steps[st.StepIndex].Gate != nil {
		return *spec.Steps[st.StepIndex].Gate
	}
	return Gate{Name: "approval", Count: 1}
}

func (p *stepper) gate() Gate { return CurrentGate(p.spec, p.s) }

func (p *stepper) nextStep() {
	p.s.SmokeRequestedAt = nil // a smoke test skipped by promote is no longer wanted
	p.s.StepIndex++
	p.s.StepStartedAt = p.now
	p.s.StepTally = analysis.Tally{}
	if p.s.StepIndex < len(p.spec.Steps) {
		p.emit("rollout.step", "", map[string]any{"index": p.s.StepIndex, "step": p.spec.Steps[p.s.StepIndex].Describe()})
	}
}

func (p *stepper) advance() {
	s := &p.s
	switch s.Phase {
	case Pending:
		p.emit("rollout.created", "", map[string]any{"stable": s.Stable, "candidate": s.Candidate, "strategy": p.spec.Strategy})
		if len(p.spec.Gates) > 0 {
			p.waitApproval()
			return
		}
		p.start()
		p.progress()
	case AwaitingApproval:
		p.awaitApproval()
	case Progressing:
		p.progress()
	case Paused:
		// A candidate failing its health check is rolled back: no window may then pause it again.
		if p.health() {
			p.consumeWindow()
		}
	case Verifying:
		p.watch()
	case RollingBack:
		p.rollBack()
	}
}

// start begins the rollout proper once the start gates are passed: recreate first stops the old
// version, every other strategy starts the candidate beside it.
func (p *stepper) start() {
	if !p.runs() {
		return
	}
	if p.spec.Strategy == plan.StrategyRecreate && p.s.Stable != "" {
		p.stopStable()
		return
	}
	if p.spec.Strategy == plan.StrategyRolling {
		p.startRolling()
		return
	}
	p.startCandidate()
}

func (p *stepper) waitApproval() {
	t := p.now
	p.s.WaitingSince = &t
	p.s.Approvals = nil
	g := p.gate()
	msg := fmt.Sprintf("waiting for %d approval(s) of %s", p.spec.Policy.Required(g.Count), g.Name)
	if len(p.spec.Policy.Quorum) > 0 {
		msg += " (" + p.spec.Policy.Count(g.Count, nil, p.now).Missing + ")"
	}
	p.setPhase(AwaitingApproval, "", msg)
	p.wake(g.Timeout)
}

// tally counts the gate's approvals under the policy, dropping (and auditing) those that expired.
func (p *stepper) tally(g Gate) policy.Tally {
	votes := make([]policy.Vote, len(p.s.Approvals))
	for i, a := range p.s.Approvals {
		votes[i] = policy.Vote{Actor: a.Actor, Groups: a.Groups, At: a.At}
	}
	t := p.spec.Policy.Count(g.Count, votes, p.now)
	if len(t.Expired) > 0 {
		kept := p.s.Approvals[:0]
		for _, a := range p.s.Approvals {
			if p.now.Before(a.At.Add(p.spec.Policy.ApprovalExpiry)) {
				kept = append(kept, a)
				continue
			}
			p.emit("rollout.approvalExpired", "", map[string]any{"gate": g.Name, "approver": a.Actor, "approvedAt": a.At, "expiry": p.spec.Policy.ApprovalExpiry.String()})
		}
		p.s.Approvals = kept
	}
	return t
}

func (p *stepper) awaitApproval() {
	s := &p.s
	g := p.gate()
	if s.RollbackAt != nil {
		p.awaitRollbackApproval(g)
		return
	}
	t := p.tally(g)
	if t.Met {
		approvers := make([]string, len(t.Counted))
		for i, v := range t.Counted {
			approvers[i] = v.Actor
		}
		p.emit("rollout.gatePassed", "", map[string]any{"gate": g.Name, "approvals": len(t.Counted), "approvers": approvers})
		s.Approvals = nil
		s.WaitingSince = nil
		if s.GateIndex < len(p.spec.Gates) {
			s.GateIndex++
			if s.GateIndex < len(p.spec.Gates) {
				p.waitApproval()
				return
			}
			p.start()
		} else {
			p.setPhase(Progressing, "", "")
			p.nextStep()
		}
		p.progress()
		return
	}
	deadline := s.WaitingSince.Add(g.Timeout)
	if !p.now.Before(deadline) {
		msg := fmt.Sprintf("no approval of %s within %s", g.Name, g.Timeout)
		if len(t.Counted) > 0 {
			msg = fmt.Sprintf("%s not approved within %s: %s", g.Name, g.Timeout, t.Missing)
		}
		p.setPhase(Aborted, ReasonApprovalTimeout, msg)
		return
	}
	if !t.NextExpiry.IsZero() {
		p.wake(t.NextExpiry.Sub(p.now))
	}
	if s.DeployedAt != nil {
		// An approval step mid-canary: the candidate keeps being judged while people look.
		if !p.health() {
			return
		}
		p.consumeWindow()
	}
	p.wake(deadline.Sub(p.now))
}

func (p *stepper) startCandidate() {
	t := p.now
	p.s.DeployedAt = &t
	p.s.StepStartedAt = p.now
	p.setPhase(Progressing, "", "")
	p.emit("rollout.deploy", "", map[string]any{"version": p.s.Candidate, "replicas": p.spec.Replicas})
}

// ready reports whether every replica of the candidate is ready.
func (p *stepper) ready() bool {
	return p.obs.Candidate.Present && p.obs.Candidate.Ready >= max(p.spec.Replicas, 1)
}

// health fails the candidate that cannot start, crash-loops, or is not ready by the deadline.
// It reports whether the rollout may go on.
func (p *stepper) health() bool {
	s := &p.s
	c := p.obs.Candidate
	switch {
	case c.StartFailed != "":
		p.fail(ReasonStartFailed, "the candidate cannot start: "+c.StartFailed)
		return false
	case c.CrashLooping:
		p.fail(ReasonCrashLoop, fmt.Sprintf("%s is crash-looping", s.Candidate))
		return false
	}
	if p.ready() {
		if s.ReadyAt == nil {
			t := p.now
			s.ReadyAt = &t
			p.emit("rollout.ready", "", map[string]any{"version": s.Candidate, "replicas": c.Ready})
			p.checkpointsPassed(CheckpointReadiness)
		}
		return true
	}
	if s.ReadyAt == nil && s.DeployedAt != nil {
		deadline := s.DeployedAt.Add(p.spec.ProgressDeadline)
		if !p.now.Before(deadline) {
			p.fail(ReasonProgressDeadline, fmt.Sprintf("%s not ready within the progress deadline %s (%d/%d ready)", s.Candidate, p.spec.ProgressDeadline, c.Ready, p.spec.Replicas))
			return false
		}
		p.wake(min(notReadyPoll, deadline.Sub(p.now)))
	}
	return true
}

// Look is one look of the judge, due now: the engine measures the criteria over the span
// [Since, To) and, when Compare, both versions second by second over [From, To), and hands it to
// the next Step as a Window.
type Look struct {
	From, To, Since time.Time
	Conditions      []criteria.Condition
	Compare         bool
}

// Due says whether a look is due: the judge looks at the end of each analysis interval, laid end
// to end from the moment the candidate first took traffic. A late look (an engine restarted, or
// an operator with more rollouts than it can look at every interval) covers every whole interval
// it missed, so time is measured without a gap and the judge is back in step at once, instead of
// replaying one missed interval per look while falling further behind. Each look measures the
// criteria over the whole span so far (since the weight was set, the batch was ready or the
// promotion), so evidence accumulates within a step.
func Due(spec Spec, st State, now time.Time) (Look, bool) {
	if st.AnalysisFrom == nil || st.Phase.Terminal() || st.Phase == RollingBack || spec.Interval <= 0 {
		return Look{}, false
	}
	l := Look{From: *st.AnalysisFrom}
	l.To = l.From.Add(spec.Interval)
	if now.Before(l.To.Add(spec.Settle)) {
		return Look{}, false
	}
	if n := now.Sub(l.From.Add(spec.Settle)) / spec.Interval; n > 1 {
		l.To = l.From.Add(n * spec.Interval)
	}
	l.Since = l.From
	if st.SpanFrom != nil && st.SpanFrom.Before(l.To) {
		l.Since = *st.SpanFrom
	}
	l.Conditions = slices.Clone(spec.Criteria)
	if st.StepIndex < len(spec.Steps) && spec.Steps[st.StepIndex].Kind == KindAnalysis {
		l.Conditions = append(l.Conditions, spec.Steps[st.StepIndex].Criteria...)
	}
	// Triggers last, each measured once, so a measurement's condition text says which it is.
	for _, c := range spec.Triggers {
		if !slices.Contains(l.Conditions, c) {
			l.Conditions = append(l.Conditions, c)
		}
	}
	// The comparison needs the baseline serving beside the candidate: not after the promotion.
	l.Compare = spec.Sequential != nil && st.Stable != "" && st.PromotedAt == nil
	return l, true
}

// Rules are what the criteria's measurements must meet (analysis.JudgeWith).
func (s Spec) Rules() analysis.Rules {
	return analysis.Rules{MinimumSamples: s.MinimumSamples, Alpha: s.Alpha}
}

// NextDue is when the next window ends, for the engine to wake up then.
func NextDue(spec Spec, st State) (time.Time, bool) {
	if st.AnalysisFrom == nil {
		return time.Time{}, false
	}
	return st.AnalysisFrom.Add(spec.Interval).Add(spec.Settle), true
}

func (p *stepper) consumeWindow() {
	s := &p.s
	w := p.obs.Window
	if w == nil || s.AnalysisFrom == nil || !w.From.Equal(*s.AnalysisFrom) {
		if t, ok := NextDue(p.spec, *s); ok {
			p.wake(t.Sub(p.now))
		}
		return
	}
	to := w.To
	s.AnalysisFrom = &to
	s.Last = w.Measurements
	s.Monitors = w.Monitors
	ms, trig := p.spec.splitTriggers(w.Measurements)
	var results []map[string]any
	for _, m := range w.Measurements {
		results = append(results, map[string]any{"metric": m.Metric, "condition": m.Condition, "value": m.Value, "samples": m.Samples, "phase": string(m.Phase), "trigger": p.spec.isTrigger(m)})
	}
	payload := map[string]any{"from": w.From, "to": w.To, "since": w.Since, "weight": s.Weight, "measurements": results}
	if t, ok := NextDue(p.spec, *s); ok {
		p.wake(t.Sub(p.now))
	}
	if len(w.Pairs) > 0 {
		// Each second of the comparison, recorded with the look so that a rollout can be
		// replayed later (hugai analyze replay): the audit trail is the store's measurements,
		// including the last look of a rollout a trigger ended.
		payload["seconds"] = RecordSeconds(w.Pairs, w.LatencyPairs)
	}
	if msg := fired(trig); msg != "" {
		p.emit("rollout.analysis", "", payload)
		p.fail(ReasonTrigger, msg)
		return
	}
	failed := p.compare(w, &ms)
	if s.Evidence != nil && len(s.Evidence.Results) > 0 {
		payload["evidence"] = s.Evidence.Results
	}
	p.emit("rollout.analysis", "", payload)
	if failed != "" {
		p.fail(ReasonAnalysis, failed)
		return
	}
	if len(ms) == 0 && len(p.spec.Criteria) == 0 {
		return // only triggers were measured: there is no window of criteria to count
	}
	if s.SpanFrom != nil && !w.To.After(*s.SpanFrom) {
		// The look ended before the current span began (the weight changed between its end and
		// its measurement): its criteria speak of the previous step, not this one.
		return
	}
	s.LookPhase = analysis.WindowPhase(ms)
	s.Tally = s.Tally.Add(ms)
	inStep := s.StepIndex < len(p.spec.Steps) && p.spec.Steps[s.StepIndex].Kind == KindAnalysis
	s.StepTally = s.StepTally.Add(ms)
	if !s.Judged && s.Weight == 100 && s.LookPhase == analysis.Successful {
		// The success criteria held on enough of the new version's traffic at its final weight:
		// what every rollout needs before it may succeed.
		s.Judged = true
		p.emit("rollout.judged", "", map[string]any{"version": s.Candidate, "from": w.Since, "to": w.To})
		p.checkpointsPassed(CheckpointAnalysis)
	}
	v := s.Tally.Verdict(p.spec.Limits)
	switch v.Phase {
	case analysis.Failed:
		p.fail(ReasonAnalysis, explain(ms, v.Reason))
	case analysis.Inconclusive:
		// After promotion the version already serves everyone: too little traffic to judge it is
		// no reason to call a person, the watch simply ends quietly.
		if s.Phase != Paused && s.Phase != Verifying {
			p.setPhase(Paused, ReasonInconclusive, explain(ms, v.Reason)+": resume, promote or abort")
		}
	}
	if inStep && s.Phase == Progressing {
		lim := p.spec.Limits
		if l := p.spec.Steps[s.StepIndex].Limits; l != nil {
			lim = *l
		}
		if v := s.StepTally.Verdict(lim); v.Phase == analysis.Failed {
			p.fail(ReasonAnalysis, explain(ms, v.Reason))
		}
	}
}

// LatencyWarmup is how long after the candidate first took traffic the latency comparison starts.
// The real-rollout bench (bench/judge-real.sh) rolled back one healthy candidate in 30 on the
// latency of its first six seconds (5 of 30 requests more than 5 ms past the pooled p95, against
// 4 of 508 of the warm stable version's).
const LatencyWarmup = 10 * time.Second

// compare adds the window's seconds to the sequential evidence and looks at both tests, each at
// α/2. It returns why the candidate failed ("" if it did not); seconds that could not be read are
// an Error measurement appended to ms, counted toward consecutiveErrorLimit like any failed query.
func (p *stepper) compare(w *Window, ms *[]analysis.Measurement) string {
	s := &p.s
	cfg := p.spec.Sequential
	if cfg == nil || (len(w.Pairs) == 0 && len(w.LatencyPairs) == 0 && w.PairsErr == "") {
		return ""
	}
	if w.PairsErr != "" {
		*ms = append(*ms, analysis.Measurement{Metric: "comparison", Condition: "candidate vs baseline", Phase: analysis.Error,
			Message: "comparison: query failed: " + w.PairsErr, From: w.From, To: w.To})
		return ""
	}
	ev := Evidence{}
	if s.Evidence != nil {
		ev = *s.Evidence
	}
	var err error
	for _, pw := range w.Pairs {
		if ev.Errors, err = ev.Errors.Add(pw); err != nil {
			return "sequential analysis: " + err.Error()
		}
	}
	if ev.Since == nil {
		t := w.From
		ev.Since = &t
	}
	for i, lw := range w.LatencyPairs {
		// A fresh candidate's first seconds (new connections, a cold process) are slower than
		// its steady state by more than MinLatencyShift on a loaded machine: the latency test
		// starts after a warm-up, the error test at once.
		if w.From.Add(time.Duration(i) * time.Second).Before(ev.Since.Add(LatencyWarmup)) {
			continue
		}
		if ev.Latency, err = ev.Latency.Add(lw); err != nil {
			return "sequential analysis: " + err.Error()
		}
	}
	half := *cfg
	half.Alpha /= 2
	re, err := analysis.EvaluateErrors(ev.Errors, half)
	if err != nil {
		return "sequential analysis: " + err.Error()
	}
	rl, err := analysis.EvaluateLatency(ev.Latency, half)
	if err != nil {
		return "sequential analysis: " + err.Error()
	}
	ev.Results = []analysis.Result{re, rl}
	s.Evidence = &ev
	for _, r := range ev.Results {
		if r.Decision == analysis.Fail {
			return DescribeResult(r) + ": the candidate is worse than the baseline beyond doubt (α " + strconv.FormatFloat(half.Alpha, 'g', -1, 64) + ")"
		}
	}
	return ""
}

// RecordSeconds packs a look's seconds for the audit trail, one array per second: the candidate's
// requests and errors, the baseline's requests and errors, then the latency test's window (the
// candidate's timed requests and slow ones, the baseline's, and the candidate's beyond-maximum
// count; zeros when not measured). ReplaySecond reads one back.
func RecordSeconds(pairs []analysis.Window, lats []analysis.LatencyWindow) [][9]int64 {
	out := make([][9]int64, len(pairs))
	for i, w := range pairs {
		out[i] = [9]int64{w.Canary.Requests, w.Canary.Events, w.Baseline.Requests, w.Baseline.Events}
		if i < len(lats) {
			l := lats[i]
			out[i][4], out[i][5], out[i][6], out[i][7], out[i][8] = l.Slow.Canary.Requests, l.Slow.Canary.Events, l.Slow.Baseline.Requests, l.Slow.Baseline.Events, l.BeyondMax
		}
	}
	return out
}

// ReplaySecond unpacks one second RecordSeconds packed.
func ReplaySecond(r [9]int64) (analysis.Window, analysis.LatencyWindow) {
	return analysis.Window{Canary: analysis.Counts{Requests: r[0], Events: r[1]}, Baseline: analysis.Counts{Requests: r[2], Events: r[3]}},
		analysis.LatencyWindow{Slow: analysis.Window{Canary: analysis.Counts{Requests: r[4], Events: r[5]}, Baseline: analysis.Counts{Requests: r[6], Events: r[7]}}, BeyondMax: r[8]}
}

// ruledOut reports whether the comparison rules out a regression of the configured size on both
// tests: what an opt-in early promotion needs.
func (p *stepper) ruledOut() bool {
	ev := p.s.Evidence
	if p.spec.Sequential == nil || ev == nil || len(ev.Results) == 0 {
		return false
	}
	for _, r := range ev.Results {
		if r.Decision != analysis.PassEligible {
			return false
		}
	}
	return true
}

// Share prints a version's events over its requests for people: "0.52% (99/19000)".
func Share(c analysis.Counts) string {
	if c.Requests == 0 {
		return "no requests"
	}
	return fmt.Sprintf("%.2f%% (%d/%d)", float64(c.Events)/float64(c.Requests)*100, c.Events, c.Requests)
}

// DescribeResult says a test's look for people: "error_rate: canary 4.10% (41/1000) vs baseline
// 0.52% (99/19000), ratio 7.9 [4.1, 15], statistic 6.1 of 5.3".
func DescribeResult(r analysis.Result) string {
	what := "errors"
	if r.Metric == "latency_p95" {
		what = "slower than the pooled p95"
	}
	return fmt.Sprintf("%s: candidate %s vs baseline %s %s, ratio %.2g [%.2g, %.2g], evidence %.1f of %.1f (%s)",
		r.Metric, Share(r.Canary), Share(r.Baseline), what, r.Ratio.Estimate, r.Ratio.Low, r.Ratio.High, r.Statistic, r.Boundary, r.Decision)
}

// newSpan starts a new span of the criteria: the next looks measure from now.
func (p *stepper) newSpan() {
	t := p.now
	p.s.SpanFrom = &t
	p.s.LookPhase = ""
}

// spanJudged reports whether the step that planned to end at end may pass: every look ending by
// then was taken and the last one met the criteria on enough requests. Until then it holds; with
// too few requests past end plus the progress
// deadline, it pauses as Inconclusive for a person. No criteria, or no looks, pass at end.
func (p *stepper) spanJudged(end time.Time, what string) bool {
	s := &p.s
	if p.now.Before(end) {
		p.wake(end.Sub(p.now))
		return false
	}
	if s.AnalysisFrom == nil || p.spec.Interval <= 0 || len(p.spec.Criteria) == 0 {
		return true
	}
	if s.AnalysisFrom.Add(p.spec.Interval).After(end) && s.LookPhase == analysis.Successful {
		return true
	}
	// The deadline counts from the step's end, or from a later new span (a resume).
	deadline := end.Add(p.spec.ProgressDeadline)
	if s.SpanFrom != nil && s.SpanFrom.After(end) {
		deadline = s.SpanFrom.Add(p.spec.ProgressDeadline)
	}
	if !p.now.Before(deadline) && !s.AnalysisFrom.Add(p.spec.Interval).Before(deadline) {
		crit, _ := p.spec.splitTriggers(s.Last)
		why := explain(crit, "")
		if why == "" {
			why = "no look met the criteria"
		}
		p.setPhase(Paused, ReasonInconclusive, fmt.Sprintf("%s not judged within %s of its end: %s; resume to keep judging, promote to accept it, or roll back", what, plan.D(p.spec.ProgressDeadline), strings.TrimSuffix(why, "; ")))
		return false
	}
	if t, ok := NextDue(p.spec, *s); ok {
		p.wake(min(t.Sub(p.now), max(deadline.Sub(p.now), 0)))
	}
	return false
}

// explain puts the measurements that did not pass before the verdict's reason, so a person reads
// which metric failed first ("error_rate 20.1% ≥ 1% over 412 requests; 1 failed window > …").
func explain(ms []analysis.Measurement, reason string) string {
	var parts []string
	for _, m := range ms {
		if m.Phase != analysis.Successful {
			parts = append(parts, m.Message)
		}
	}
	return strings.Join(append(parts, reason), "; ")
}

func (p *stepper) progress() {
	s := &p.s
	if s.RunIndex < len(p.spec.Runs) {
		if p.runs() {
			p.start()
		}
		return
	}
	if p.spec.Strategy == plan.StrategyRecreate && s.DeployedAt == nil && s.Stable != "" && !p.stableStopped() {
		return
	}
	if p.spec.Strategy == plan.StrategyRolling && s.Stable != "" {
		p.rolling()
		return
	}
	if !p.health() {
		return
	}
	p.consumeWindow()
	if s.Phase != Progressing {
		return
	}
	if s.Stable == "" {
		// A first deploy has nothing to compare with: it serves as soon as it is ready.
		if p.ready() {
			s.Weight = 100
			p.succeed("first release")
		}
		return
	}
	for s.StepIndex < len(p.spec.Steps) && s.Phase == Progressing {
		step := p.spec.Steps[s.StepIndex]
		switch step.Kind {
		case KindSetWeight:
			if step.Weight > 0 && !p.ready() {
				p.wake(notReadyPoll)
				return
			}
			if s.Weight != step.Weight {
				p.newSpan()
			}
			s.Weight = step.Weight
			if s.AnalysisFrom == nil && step.Weight > 0 {
				t := p.now
				s.AnalysisFrom = &t
				p.wake(p.spec.Interval)
			}
			p.emit("rollout.weight", "", map[string]any{"version": s.Candidate, "weight": step.Weight})
			p.nextStep()
		case KindPause:
			if step.Indefinite {
				reason := ReasonPause
				if step.Reason != "" {
					reason = step.Reason
				}
				p.setPhase(Paused, reason, "paused until promoted: hugai deploy promote")
				return
			}
			end := s.StepStartedAt.Add(step.Duration)
			if p.now.Before(end) {
				p.wake(end.Sub(p.now))
				return
			}
			// Every look that ended within the pause is taken before the weight grows, so a bad
			// canary is caught at the weight it failed at, not at the next one; and the step
			// passes only once a look over it met the criteria on enough requests.
			if !p.spanJudged(end, fmt.Sprintf("step %d (weight %d%%)", s.StepIndex+1, s.Weight)) {
				return
			}
			p.nextStep()
		case KindAnalysis:
			early := p.spec.EarlyPromotion && p.ruledOut() && s.LookPhase == analysis.Successful
			if s.StepTally.Windows < step.Windows && !early {
				if t, ok := NextDue(p.spec, *s); ok {
					p.wake(t.Sub(p.now))
				}
				return
			}
			if early && s.StepTally.Windows < step.Windows {
				p.emit("rollout.earlyPromotion", "", map[string]any{"step": s.StepIndex, "windows": s.StepTally.Windows, "evidence": s.Evidence.Results})
			} else if end := s.StepStartedAt.Add(time.Duration(step.Windows) * p.spec.Interval); !p.spanJudged(end, fmt.Sprintf("analysis step %d", s.StepIndex+1)) {
				return
			}
			p.nextStep()
		case KindApproval:
			p.waitApproval()
			return
		case KindSmokeTest:
			if !p.smokeTest() {
				return
			}
			p.nextStep()
		}
	}
	if s.StepIndex >= len(p.spec.Steps) && s.Phase == Progressing {
		p.succeed("all steps passed")
	}
}
