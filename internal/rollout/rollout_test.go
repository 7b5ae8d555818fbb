package rollout

import (
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/plan"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func canarySpec(t *testing.T, steps ...StepSpec) Spec {
	t.Helper()
	conds, err := criteria.Parse("error_rate<1%,latency_p95<2s")
	if err != nil {
		t.Fatal(err)
	}
	return Spec{
		Strategy: plan.StrategyCanary, Steps: steps, Replicas: 2, Criteria: conds,
		Interval: 30 * time.Second, MinimumSamples: 20, Limits: analysis.DefaultLimits(),
		ProgressDeadline: 2 * time.Minute, AutoRollback: true,
	}
}

func w(n int) StepSpec               { return StepSpec{Kind: KindSetWeight, Weight: n} }
func pause(d time.Duration) StepSpec { return StepSpec{Kind: KindPause, Duration: d} }

// sim is a world for the state machine: a target that does what Desired says (replicas become
// ready readyAfter after they are asked for), a metric source, and a clock that moves in ticks.
type sim struct {
	t          *testing.T
	spec       Spec
	st         State
	now        time.Time
	askedAt    map[string]time.Time
	readyAfter time.Duration
	neverReady bool
	crash      bool
	errorRate  float64 // of the candidate
	latency    float64 // p95 of the candidate, seconds
	requests   uint64
	events     []Event
	maxWeight  int

	// stopAfter is how long a removed version takes to go away; stableNeverBack keeps an old
	// version asked to start again from ever becoming ready.
	stopAfter time.Duration
	stopping  map[string]time.Time
	// asked is the replicas asked of each version; base those of them ready before askedAt, the
	// last scale-up (a scale-down is immediate).
	asked, base     map[string]int
	stableNeverBack bool
	smokeFails      bool
	smokeRuns       map[string]int
	dbFails         bool
	dbRuns          map[string]int
	// held counts the seconds during which traffic pointed at a version with no ready replica.
	held, maxHeld time.Duration
	weights       []int // the candidate's distinct weights, in order
	// runs are the commands of Spec.Runs run, by request ID; ran in order; runFails by name.
	runs     map[string]string
	ran      []string
	runFails map[string]bool
	// compare, when set, gives both versions' seconds of a look that asks for a comparison.
	compare func(l Look, weight int) ([]analysis.Window, []analysis.LatencyWindow)
	// perSecond, when set, makes a look's samples grow with its span: perSecond per second.
	perSecond uint64
}

func newSim(t *testing.T, spec Spec, stable string) *sim {
	s := &sim{t: t, spec: spec, st: New(stable, "v2", t0), now: t0, askedAt: map[string]time.Time{},
		readyAfter: 3 * time.Second, requests: 500, latency: 0.1, stopping: map[string]time.Time{}, smokeRuns: map[string]int{}, dbRuns: map[string]int{},
		asked: map[string]int{}, base: map[string]int{}, runs: map[string]string{}, runFails: map[string]bool{}}
	if stable != "" {
		s.askedAt[stable] = t0.Add(-time.Hour) // it has served for a while
		s.asked[stable] = spec.Replicas
	}
	return s
}

// revObs is what the target shows of version v.
func (s *sim) revObs(v string) RevisionObs {
	if at, ok := s.askedAt[v]; ok {
		o := RevisionObs{Present: true, Desired: s.asked[v]}
		broken := v == s.st.Candidate && (s.neverReady || s.crash) ||
			v == s.st.Stable && s.stableNeverBack && at.After(t0)
		o.CrashLooping = v == s.st.Candidate && s.crash
		switch {
		case broken:
		case s.now.Sub(at) >= s.readyAfter:
			o.Ready = s.asked[v]
		default:
			o.Ready = min(s.base[v], s.asked[v])
		}
		return o
	}
	if _, ok := s.stopping[v]; ok {
		return RevisionObs{Present: true}
	}
	return RevisionObs{}
}

func (s *sim) observe() Observation {
	d := Desired(s.spec, s.st)
	for v := range s.askedAt {
		if d.Replicas[v] == 0 {
			delete(s.askedAt, v) // removed
			delete(s.asked, v)
			delete(s.base, v)
			s.stopping[v] = s.now
		}
	}
	for v, at := range s.stopping {
		if s.now.Sub(at) >= s.stopAfter {
			delete(s.stopping, v)
		}
	}
	for v, n := range d.Replicas {
		if n <= 0 {
			continue
		}
		if _, ok := s.askedAt[v]; !ok {
			s.askedAt[v] = s.now
			delete(s.stopping, v)
		} else if n > s.asked[v] {
			s.base[v] = s.revObs(v).Ready
			s.askedAt[v] = s.now
		}
		s.asked[v] = n
	}
	var obs Observation
	obs.Candidate = s.revObs(s.st.Candidate)
	if s.st.Stable != "" {
		obs.Stable = s.revObs(s.st.Stable)
	}
	if d.RunDatabaseRollback && s.dbRuns[d.DatabaseRollbackID] == 0 {
		s.dbRuns[d.DatabaseRollbackID]++
		obs.Database = &RunResult{ID: d.DatabaseRollbackID, Passed: !s.dbFails, Output: "make migrate-down", At: s.now}
	}
	if d.Run != "" && s.runs[d.RunID] == "" {
		s.runs[d.RunID] = d.Run
		s.ran = append(s.ran, d.Run)
		obs.Run = &RunResult{ID: d.RunID, Passed: !s.runFails[d.Run], Output: d.Run + " output", At: s.now}
	}
	if d.RunSmokeTest && s.smokeRuns[d.SmokeTestID] == 0 {
		s.smokeRuns[d.SmokeTestID]++
		obs.SmokeTest = &SmokeResult{ID: d.SmokeTestID, Passed: !s.smokeFails, Output: "GET /healthz 200\nPOST /orders 500", At: s.now}
	}
	if l, ok := Due(s.spec, s.st, s.now); ok {
		n := s.requests
		if s.perSecond > 0 {
			n = s.perSecond * uint64(l.To.Sub(l.Since)/time.Second)
		}
		ms := analysis.JudgeWith(l.Conditions, func(metric string) analysis.Value {
			switch metric {
			case "error_rate":
				return analysis.Value{Value: s.errorRate, Samples: n}
			case "latency_p95":
				return analysis.Value{Value: s.latency, Samples: n}
			}
			return analysis.Value{Err: "no such metric"}
		}, s.spec.Rules(), l.Since, l.To)
		obs.Window = &Window{From: l.From, To: l.To, Since: l.Since, Measurements: ms}
		if l.Compare && s.compare != nil {
			obs.Window.Pairs, obs.Window.LatencyPairs = s.compare(l, s.st.Weight)
		}
	}
	return obs
}

func (s *sim) tick(cmd *Command) {
	s.t.Helper()
	obs := s.observe()
	obs.Command = cmd
	if cmd != nil {
		if err := Validate(s.spec, s.st, *cmd); err != nil {
			s.t.Fatalf("command %s refused: %v", cmd.Kind, err)
		}
	}
	prev := s.st.Phase
	next, evs, _ := Step(s.spec, s.st, obs, s.now)
	if next.Phase != prev && !hasPhaseEvent(evs) {
		s.t.Fatalf("%s → %s without an audit event", prev, next.Phase)
	}
	s.st = next
	s.events = append(s.events, evs...)
	d := Desired(s.spec, s.st)
	sum := 0
	for _, wt := range d.Weights {
		if wt < 0 || wt > 100 {
			s.t.Fatalf("weight %d out of 0..100", wt)
		}
		sum += wt
	}
	if len(d.Weights) > 0 && sum != 100 {
		s.t.Fatalf("weights %v do not add up to 100", d.Weights)
	}
	s.maxWeight = max(s.maxWeight, d.Weights[s.st.Candidate])
	if wt := d.Weights[s.st.Candidate]; len(s.weights) == 0 || s.weights[len(s.weights)-1] != wt {
		s.weights = append(s.weights, wt)
	}
	// A request routed to a version with no ready replica waits (recreate's hold) or fails.
	if s.heldNow(d) {
		s.held += time.Second
		s.maxHeld = max(s.maxHeld, s.held)
	} else {
		s.held = 0
	}
}

// heldNow reports whether some traffic goes to a version with no ready replica.
func (s *sim) heldNow(d DesiredState) bool {
	for v, wt := range d.Weights {
		if wt > 0 && s.revObs(v).Ready == 0 {
			return true
		}
	}
	return false
}

func hasPhaseEvent(evs []Event) bool {
	for _, e := range evs {
		if e.Type == "rollout.phase" {
			return true
		}
	}
	return false
}

// run ticks every second until the rollout is terminal or limit passes.
func (s *sim) run(limit time.Duration) {
	s.t.Helper()
	end := s.now.Add(limit)
	for !s.st.Phase.Terminal() && s.now.Before(end) {
		s.tick(nil)
		s.now = s.now.Add(time.Second)
	}
}

func TestGoodCanarySucceeds(t *testing.T) {
	s := newSim(t, canarySpec(t, w(5), pause(time.Minute), w(25), pause(time.Minute), w(50), pause(time.Minute), w(100)), "v1")
	s.run(time.Hour)
	if s.st.Phase != Succeeded {
		t.Fatalf("phase %s (%s)", s.st.Phase, s.st.Message)
	}
	d := Desired(s.spec, s.st)
	if d.Weights["v2"] != 100 || d.Replicas["v1"] != 0 {
		t.Fatalf("after success: %+v", d)
	}
	if s.st.Tally.Windows < 5 {
		t.Fatalf("only %d windows judged over three minutes of pauses", s.st.Tally.Windows)
	}
	// 3 seconds to become ready + 3 minutes of pauses + the window at 100% that judges it
	// (30 s, judged 1 s after it ends), ticked by the second.
	if got := s.now.Sub(t0); got < 3*time.Minute+30*time.Second || got > 3*time.Minute+45*time.Second {
		t.Fatalf("took %s", got)
	}
}

func TestBadCanaryRollsBack(t *testing.T) {
	s := newSim(t, canarySpec(t, w(5), pause(time.Minute), w(50), pause(time.Minute), w(100)), "v1")
	s.errorRate = 20
	s.run(time.Hour)
	if s.st.Phase != RolledBack || s.st.Reason != ReasonAnalysis {
		t.Fatalf("phase %s reason %s", s.st.Phase, s.st.Reason)
	}
	if s.maxWeight != 5 {
		t.Fatalf("a canary failing its first window must not grow past 5%%, reached %d", s.maxWeight)
	}
	d := Desired(s.spec, s.st)
	if d.Weights["v2"] != 0 || d.Replicas["v2"] != 0 || d.Weights["v1"] != 100 {
		t.Fatalf("after rollback: %+v", d)
	}
	if !strings.Contains(s.st.Message, "error_rate") {
		t.Fatalf("the reason must name the metric: %q", s.st.Message)
	}
}

func TestNeverReadyHitsProgressDeadline(t *testing.T) {
	s := newSim(t, canarySpec(t, w(5), pause(time.Minute), w(100)), "v1")
	s.neverReady = true
	s.run(time.Hour)
	if s.st.Phase != RolledBack || s.st.Reason != ReasonProgressDeadline {
		t.Fatalf("phase %s reason %s", s.st.Phase, s.st.Reason)
	}
	if s.maxWeight != 0 {
		t.Fatal("a candidate that never became ready got traffic")
	}
}

func TestCrashLoopRollsBack(t *testing.T) {
	s := newSim(t, canarySpec(t, w(5), pause(time.Minute), w(100)), "v1")
	s.crash = true
	s.run(time.Hour)
	if s.st.Phase != RolledBack || s.st.Reason != ReasonCrashLoop {
		t.Fatalf("phase %s reason %s", s.st.Phase, s.st.Reason)
	}
}

func TestTooFewSamplesPausesNeverPasses(t *testing.T) {
	s := newSim(t, canarySpec(t, w(5), pause(10*time.Minute), w(100)), "v1")
	s.requests = 3
	s.run(time.Hour)
	if s.st.Phase != Paused || s.st.Reason != ReasonInconclusive {
		t.Fatalf("phase %s reason %s", s.st.Phase, s.st.Reason)
	}
	s.requests = 500
	s.tick(&Command{Kind: "resume", Actor: "alice"})
	s.run(time.Hour)
	if s.st.Phase != Succeeded {
		t.Fatalf("after resume: %s %s", s.st.Phase, s.st.Message)
	}
}

func TestApprovalGate(t *testing.T) {
	spec := canarySpec(t, w(5), pause(time.Minute), w(100))
	spec.Gates = []Gate{{Name: "production-approval", Approvers: []string{"alice", "bob"}, Count: 1, Timeout: time.Hour}}
	s := newSim(t, spec, "v1")
	s.run(10 * time.Minute)
	if s.st.Phase != AwaitingApproval || s.maxWeight != 0 {
		t.Fatalf("phase %s weight %d", s.st.Phase, s.maxWeight)
	}
	if err := Validate(spec, s.st, Command{Kind: "approve", Actor: "mallory"}); err == nil {
		t.Fatal("mallory is not an approver")
	}
	s.tick(&Command{Kind: "approve", Actor: "alice", Comment: "lgtm"})
	s.run(time.Hour)
	if s.st.Phase != Succeeded {
		t.Fatalf("phase %s", s.st.Phase)
	}

	rejected := newSim(t, spec, "v1")
	rejected.tick(nil)
	rejected.tick(&Command{Kind: "reject", Actor: "bob"})
	if rejected.st.Phase != Aborted || rejected.st.Reason != ReasonRejected || rejected.st.Phase.ExitCode() != 4 {
		t.Fatalf("reject: %s %s", rejected.st.Phase, rejected.st.Reason)
	}

	timedOut := newSim(t, spec, "v1")
	timedOut.run(2 * time.Hour)
	if timedOut.st.Phase != Aborted || timedOut.st.Reason != ReasonApprovalTimeout {
		t.Fatalf("timeout: %s %s", timedOut.st.Phase, timedOut.st.Reason)
	}
}

func TestApprovalStepMidCanary(t *testing.T) {
	g := Gate{Name: "step-1-approval", Count: 1, Timeout: time.Hour}
	s := newSim(t, canarySpec(t, w(5), StepSpec{Kind: KindApproval, Gate: &g}, w(50), pause(time.Minute), w(100)), "v1")
	s.run(5 * time.Minute)
	if s.st.Phase != AwaitingApproval || Desired(s.spec, s.st).Weights["v2"] != 5 {
		t.Fatalf("phase %s, desired %+v", s.st.Phase, Desired(s.spec, s.st))
	}
	s.tick(&Command{Kind: "approve", Actor: "carol"})
	s.run(time.Hour)
	if s.st.Phase != Succeeded {
		t.Fatalf("phase %s", s.st.Phase)
	}
}

func TestPromoteFullAndAbort(t *testing.T) {
	s := newSim(t, canarySpec(t, w(5), pause(time.Hour), w(100)), "v1")
	s.run(time.Minute)
	s.tick(&Command{Kind: "promote", Actor: "alice", Full: true})
	s.run(time.Minute)
	if s.st.Phase != Succeeded {
		t.Fatalf("promote --full: %s", s.st.Phase)
	}
	a := newSim(t, canarySpec(t, w(5), pause(time.Hour), w(100)), "v1")
	a.run(time.Minute)
	a.tick(&Command{Kind: "abort", Actor: "alice"})
	if a.st.Phase != Aborted || Desired(a.spec, a.st).Weights["v2"] != 0 {
		t.Fatalf("abort: %s", a.st.Phase)
	}
}

func TestFirstDeploySkipsSteps(t *testing.T) {
	s := newSim(t, canarySpec(t, w(5), pause(time.Hour), w(100)), "")
	s.run(time.Minute)
	if s.st.Phase != Succeeded || Desired(s.spec, s.st).Weights["v2"] != 100 {
		t.Fatalf("first deploy: %s", s.st.Phase)
	}
}

func TestNoAutoRollbackPauses(t *testing.T) {
	spec := canarySpec(t, w(5), pause(time.Hour), w(100))
	spec.AutoRollback = false
	s := newSim(t, spec, "v1")
	s.errorRate = 50
	s.run(10 * time.Minute)
	if s.st.Phase != Paused || s.st.Reason != ReasonAnalysis {
		t.Fatalf("phase %s reason %s", s.st.Phase, s.st.Reason)
	}
	s.tick(&Command{Kind: "rollback", Actor: "alice"})
	s.run(time.Minute)
	if s.st.Phase != RolledBack {
		t.Fatalf("phase %s", s.st.Phase)
	}
}

// Restarting from any persisted state gives the same outcome as not restarting: Step depends
// only on its inputs.
func TestStepIsDeterministic(t *testing.T) {
	a := newSim(t, canarySpec(t, w(5), pause(time.Minute), w(50), pause(time.Minute), w(100)), "v1")
	b := newSim(t, canarySpec(t, w(5), pause(time.Minute), w(50), pause(time.Minute), w(100)), "v1")
	a.run(time.Hour)
	b.run(time.Hour)
	if a.st.Phase != b.st.Phase || len(a.events) != len(b.events) || !a.now.Equal(b.now) {
		t.Fatal("two runs of the same inputs differ")
	}
}

// A bad canary must be caught at the weight it failed at: a pause ends only once the windows
// that ended within it are judged, even when judging waits for the metrics to settle.
func TestPauseWaitsForItsWindows(t *testing.T) {
	spec := canarySpec(t, w(10), pause(30*time.Second), w(50), pause(30*time.Second), w(100))
	spec.Settle = 2 * time.Second
	s := newSim(t, spec, "v1")
	s.errorRate = 20
	s.run(time.Hour)
	if s.st.Phase != RolledBack || s.maxWeight != 10 {
		t.Fatalf("phase %s, max weight %d: the canary grew before its window was judged", s.st.Phase, s.maxWeight)
	}
}

// With no traffic every window is Inconclusive: the canary must never be promoted on that.
func TestNoTrafficIsNeverAPass(t *testing.T) {
	s := newSim(t, canarySpec(t, w(20), pause(30*time.Second), w(50), pause(30*time.Second), w(100)), "v1")
	s.requests = 0
	s.run(time.Hour)
	if s.st.Phase != Paused || s.st.Reason != ReasonInconclusive || s.maxWeight > 20 {
		t.Fatalf("phase %s reason %s max weight %d", s.st.Phase, s.st.Reason, s.maxWeight)
	}
}
