package stages

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func twoStages() Spec {
	return Spec{Tag: "v1.3.0", Service: "demo", Version: "v1.3.0", Stages: []Stage{
		{Name: "staging", Environment: "staging", PreChecks: []string{"lint"}, Validation: []string{"smoke-test", "e2e"}},
		{Name: "production", Environment: "production", PreChecks: []string{"change-window"}, Validation: []string{"smoke-test"}, Approval: true},
	}}
}

// world answers the runner's actions as a scripted outside would: checks by name and
// environment, each environment's rollout outcome, the rollback's outcome.
type world struct {
	failCheck   string // "env/check" that fails
	startErr    map[string]string
	already     map[string]bool
	outcome     map[string]string // environment → the rollout's terminal phase (default Succeeded)
	rollbackErr string
	rollbackEnd string // default RolledBack, as the engine ends a release's rollback that worked
	// progress: phases a rollout passes before its end, seen one per follow
	progress []string

	rollouts map[string]string // rollout ID → environment
	seen     map[string]int    // rollout ID → follows so far
	log      []string
}

func (w *world) answer(spec Spec, a Action) Observation {
	env := spec.Stages[a.Stage].Environment
	switch a.Kind {
	case ActRunCheck:
		w.log = append(w.log, fmt.Sprintf("check %s/%s(%s)", env, a.Check, a.CheckKind))
		passed := w.failCheck != env+"/"+a.Check
		return Observation{Check: &CheckResult{Name: a.Check, Passed: passed, Output: "ran " + a.Check}}
	case ActStartRollout:
		w.log = append(w.log, fmt.Sprintf("start %s approval=%t", env, a.Approval))
		if e := w.startErr[env]; e != "" {
			return Observation{Started: &Started{Err: e}}
		}
		if w.already[env] {
			return Observation{Started: &Started{Already: true}}
		}
		id := "demo-" + env
		w.rollouts[id] = env
		return Observation{Started: &Started{ID: id}}
	case ActRollback:
		w.log = append(w.log, "rollback "+a.RolloutID)
		if w.rollbackErr != "" {
			return Observation{Started: &Started{Err: w.rollbackErr}}
		}
		id := a.RolloutID + "-rollback"
		w.rollouts[id] = "rollback"
		return Observation{Started: &Started{ID: id}}
	case ActFollow:
		w.log = append(w.log, "follow "+a.RolloutID)
		n := w.seen[a.RolloutID]
		w.seen[a.RolloutID]++
		if n < len(w.progress) {
			return Observation{Rollout: &RolloutObs{ID: a.RolloutID, Phase: w.progress[n]}}
		}
		end := w.outcome[w.rollouts[a.RolloutID]]
		if w.rollouts[a.RolloutID] == "rollback" {
			end = cmp.Or(w.rollbackEnd, "RolledBack")
		}
		if end == "" {
			end = "Succeeded"
		}
		return Observation{Rollout: &RolloutObs{ID: a.RolloutID, Phase: end, Terminal: true, Reason: "analysis"}}
	}
	panic("unknown action " + a.Kind)
}

// drive steps a run to its end, answering every action from w, and checks each state the runner
// would persist survives a round trip through JSON and a replay (a crash right after the write).
func drive(t *testing.T, spec Spec, w *world) (State, []Event) {
	t.Helper()
	w.rollouts, w.seen = map[string]string{}, map[string]int{}
	st := New(spec, "alice", t0)
	var events []Event
	obs := Observation{}
	now := t0
	for range 200 {
		now = now.Add(time.Second)
		nst, evs, act := Step(spec, st, obs, now)
		events = append(events, evs...)
		b, err := json.Marshal(nst)
		if err != nil {
			t.Fatal(err)
		}
		var back State
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		// A runner that crashes after persisting back and steps it again with nothing observed
		// must be asked for the same action: that is what makes every action safe to repeat.
		_, _, again := Step(spec, back, Observation{}, now)
		if again != act {
			t.Fatalf("replay of the persisted state asks %+v, the first Step asked %+v", again, act)
		}
		st = back
		if act.Kind == ActNone {
			return st, events
		}
		obs = w.answer(spec, act)
	}
	t.Fatalf("the run did not end: %+v", st)
	return st, nil
}

func phases(st State) string {
	var out []string
	for _, s := range st.Stages {
		out = append(out, s.Name+"="+string(s.Phase))
	}
	return strings.Join(out, " ")
}

func TestStep(t *testing.T) {
	for _, tc := range []struct {
		name   string
		w      world
		phase  Phase
		reason string
		stages string
		log    []string
	}{
		{
			name: "both stages succeed", phase: Succeeded,
			w:      world{progress: []string{"Progressing", "Verifying"}},
			stages: "staging=Succeeded production=Succeeded",
			log: []string{"check staging/lint(pre)", "start staging approval=false", "follow demo-staging", "follow demo-staging", "follow demo-staging",
				"check staging/smoke-test(validation)", "check staging/e2e(validation)",
				"check production/change-window(pre)", "start production approval=true", "follow demo-production", "follow demo-production", "follow demo-production",
				"check production/smoke-test(validation)"},
		},
		{
			name: "a pre-check fails: nothing of the stage is deployed", phase: Aborted, reason: ReasonPreCheck,
			w:      world{failCheck: "production/change-window"},
			stages: "staging=Succeeded production=Aborted",
			log: []string{"check staging/lint(pre)", "start staging approval=false", "follow demo-staging",
				"check staging/smoke-test(validation)", "check staging/e2e(validation)", "check production/change-window(pre)"},
		},
		{
			name: "the first stage's pre-check fails: the later stage is skipped", phase: Aborted, reason: ReasonPreCheck,
			w:      world{failCheck: "staging/lint"},
			stages: "staging=Aborted production=Skipped",
			log:    []string{"check staging/lint(pre)"},
		},
		{
			name: "production's rollout rolls back: the release stops there", phase: RolledBack, reason: ReasonRollout,
			w:      world{outcome: map[string]string{"production": "RolledBack"}},
			stages: "staging=Succeeded production=RolledBack",
			log: []string{"check staging/lint(pre)", "start staging approval=false", "follow demo-staging",
				"check staging/smoke-test(validation)", "check staging/e2e(validation)",
				"check production/change-window(pre)", "start production approval=true", "follow demo-production"},
		},
		{
			name: "staging's rollout rolls back: production never starts", phase: RolledBack, reason: ReasonRollout,
			w:      world{outcome: map[string]string{"staging": "RolledBack"}},
			stages: "staging=RolledBack production=Skipped",
			log:    []string{"check staging/lint(pre)", "start staging approval=false", "follow demo-staging"},
		},
		{
			name: "a rollout is rejected or aborted", phase: Aborted, reason: ReasonRollout,
			w:      world{outcome: map[string]string{"production": "Aborted"}},
			stages: "staging=Succeeded production=Aborted",
		},
		{
			name: "a rollout fails (its rollback failed)", phase: Failed, reason: ReasonRollout,
			w:      world{outcome: map[string]string{"staging": "Failed"}},
			stages: "staging=Failed production=Skipped",
		},
		{
			name: "the rollout cannot start", phase: Failed, reason: ReasonStartRefused,
			w:      world{startErr: map[string]string{"production": "rollout demo-3 of demo to production is still Progressing"}},
			stages: "staging=Succeeded production=Failed",
		},
		{
			name: "validation fails: the stage is rolled back", phase: RolledBack, reason: ReasonValidation,
			w:      world{failCheck: "production/smoke-test"},
			stages: "staging=Succeeded production=RolledBack",
			log: []string{"check staging/lint(pre)", "start staging approval=false", "follow demo-staging",
				"check staging/smoke-test(validation)", "check staging/e2e(validation)",
				"check production/change-window(pre)", "start production approval=true", "follow demo-production",
				"check production/smoke-test(validation)", "rollback demo-production", "follow demo-production-rollback"},
		},
		{
			name: "validation fails and the rollback cannot start", phase: Failed, reason: ReasonRollbackFailed,
			w:      world{failCheck: "staging/e2e", rollbackErr: "nothing to roll back to"},
			stages: "staging=Failed production=Skipped",
		},
		{
			name: "validation fails and the rollback fails", phase: Failed, reason: ReasonRollbackFailed,
			w:      world{failCheck: "staging/smoke-test", rollbackEnd: "Failed"},
			stages: "staging=Failed production=Skipped",
		},
		{
			name: "a stage already deployed (a run started again) is validated, not deployed", phase: Succeeded,
			w:      world{already: map[string]bool{"staging": true}},
			stages: "staging=Succeeded production=Succeeded",
			log: []string{"check staging/lint(pre)", "start staging approval=false",
				"check staging/smoke-test(validation)", "check staging/e2e(validation)",
				"check production/change-window(pre)", "start production approval=true", "follow demo-production",
				"check production/smoke-test(validation)"},
		},
		{
			name: "a stage already deployed that fails validation is not rolled back", phase: Failed, reason: ReasonValidation,
			w:      world{already: map[string]bool{"staging": true}, failCheck: "staging/e2e"},
			stages: "staging=Failed production=Skipped",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.w
			st, events := drive(t, twoStages(), &w)
			if st.Phase != tc.phase || st.Reason != tc.reason {
				t.Errorf("run ended %s (%s: %s), want %s (%s)", st.Phase, st.Reason, st.Message, tc.phase, tc.reason)
			}
			if got := phases(st); got != tc.stages {
				t.Errorf("stages: %s, want %s", got, tc.stages)
			}
			if tc.log != nil && !slices.Equal(w.log, tc.log) {
				t.Errorf("actions:\n  %s\nwant\n  %s", strings.Join(w.log, "\n  "), strings.Join(tc.log, "\n  "))
			}
			if st.FinishedAt == nil {
				t.Error("an ended run has no FinishedAt")
			}
			if st.Phase.ExitCode() != map[Phase]int{Succeeded: 0, RolledBack: 3, Aborted: 4, Failed: 1}[tc.phase] {
				t.Errorf("exit code %d for %s", st.Phase.ExitCode(), st.Phase)
			}
			checkEvents(t, st, events)
			// Nothing happens to an ended run.
			if again, evs, act := Step(twoStages(), st, Observation{}, t0.Add(time.Hour)); act.Kind != ActNone || len(evs) > 0 || again.Phase != st.Phase {
				t.Errorf("an ended run stepped again: %+v %v", act, evs)
			}
		})
	}
}

// checkEvents: every transition is audited, in order, the stage events agreeing with the states.
func checkEvents(t *testing.T, st State, events []Event) {
	t.Helper()
	last := map[string]string{}
	var runTo string
	for _, e := range events {
		switch e.Type {
		case "release.stage":
			name := e.Payload["stage"].(string)
			if from := e.Payload["from"].(string); from != last[name] && last[name] != "" {
				t.Errorf("stage %s went from %s but was %s", name, from, last[name])
			}
			last[name] = e.Payload["to"].(string)
		case "release.phase":
			runTo = e.Payload["to"].(string)
		}
	}
	if runTo != string(st.Phase) {
		t.Errorf("the last release.phase event says %s, the run is %s", runTo, st.Phase)
	}
	for _, s := range st.Stages {
		if s.Phase == StageSkipped {
			if _, ok := last[s.Name]; ok {
				t.Errorf("skipped stage %s has stage events", s.Name)
			}
			continue
		}
		if last[s.Name] != string(s.Phase) {
			t.Errorf("stage %s is %s, its last event says %s", s.Name, s.Phase, last[s.Name])
		}
	}
}

func TestStepIgnoresStaleObservations(t *testing.T) {
	spec := twoStages()
	st, _, act := Step(spec, New(spec, "alice", t0), Observation{}, t0)
	if act.Kind != ActRunCheck || act.Check != "lint" {
		t.Fatalf("first action %+v", act)
	}
	// A result of another check, and a rollout the stage did not start, change nothing.
	for _, obs := range []Observation{
		{Check: &CheckResult{Name: "e2e", Passed: false}},
		{Rollout: &RolloutObs{ID: "demo-9", Phase: "RolledBack", Terminal: true}},
	} {
		nst, _, again := Step(spec, st, obs, t0)
		if again != act || nst.Phase != Running || nst.Stages[0].Phase != StagePreChecks {
			t.Errorf("%+v moved the run: %+v %+v", obs, again, nst.Stages[0])
		}
	}
}

func TestStepRefusesABrokenState(t *testing.T) {
	spec := twoStages()
	for name, edit := range map[string]func(*State){
		"a stage too few":           func(st *State) { st.Stages = st.Stages[:1] },
		"current out of range":      func(st *State) { st.Current = 5 },
		"next check out of range":   func(st *State) { st.Stages[0].Phase, st.Stages[0].Next = StagePreChecks, 7 },
		"an ended stage in the run": func(st *State) { st.Phase, st.Stages[0].Phase = Running, StageSucceeded },
	} {
		t.Run(name, func(t *testing.T) {
			st := New(spec, "alice", t0)
			edit(&st)
			nst, _, act := Step(spec, st, Observation{}, t0)
			if nst.Phase != Failed || act.Kind != ActNone {
				t.Errorf("got %s %+v, want Failed and no action", nst.Phase, act)
			}
		})
	}
}

func TestStepLeavesItsInputAlone(t *testing.T) {
	spec := twoStages()
	st := New(spec, "alice", t0)
	before, _ := json.Marshal(st)
	_, _, _ = Step(spec, st, Observation{}, t0)
	after, _ := json.Marshal(st)
	if string(before) != string(after) {
		t.Errorf("Step changed its input:\n%s\n%s", before, after)
	}
}
