package stages

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzStep: a run's state is read back from the store, so it is input like any other. Whatever
// it holds and whatever is observed, Step neither panics nor loops, an ended run asks for
// nothing, and a run that asks for something is Running with that stage in progress.
func FuzzStep(f *testing.F) {
	spec := twoStages()
	seed := func(st State) {
		b, _ := json.Marshal(st)
		f.Add(b, "", false, "", "", false)
	}
	st := New(spec, "alice", t0)
	seed(st)
	st.Phase, st.Stages[0].Phase, st.Stages[0].Next = Running, StageValidating, 1
	seed(st)
	st.Stages[0].Phase, st.Stages[0].RolloutID = StageRollingBack, "demo-1"
	seed(st)
	f.Add([]byte(`{"phase":"Running","current":1,"stages":[{"phase":"Succeeded"},{"phase":"Deploying","rolloutID":"demo-2"}]}`), "", false, "demo-2", "RolledBack", true)
	f.Add([]byte(`{"phase":"Running","current":-1,"stages":[]}`), "lint", true, "", "", false)
	f.Fuzz(func(t *testing.T, state []byte, check string, passed bool, rolloutID, phase string, terminal bool) {
		var st State
		if json.Unmarshal(state, &st) != nil {
			return
		}
		obs := Observation{}
		switch {
		case check != "":
			obs.Check = &CheckResult{Name: check, Passed: passed}
		case rolloutID != "":
			obs.Rollout = &RolloutObs{ID: rolloutID, Phase: phase, Terminal: terminal}
		case phase != "":
			obs.Started = &Started{ID: phase, Already: passed}
		}
		nst, _, act := Step(spec, st, obs, t0.Add(time.Minute))
		if act.Kind == ActNone {
			return
		}
		if nst.Phase != Running {
			t.Fatalf("asks %+v of a run that is %s", act, nst.Phase)
		}
		if act.Stage != nst.Current || act.Stage < 0 || act.Stage >= len(spec.Stages) {
			t.Fatalf("asks %+v for stage %d, current %d", act, act.Stage, nst.Current)
		}
		if err := nst.CheckState(spec); err != nil {
			t.Fatalf("Step left a state it refuses: %v", err)
		}
	})
}
