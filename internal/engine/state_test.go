package engine

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/policy"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
)

// A stored state that cannot be stepped fails that rollout alone, audited and notified, never a
// panic; the other environment's rollout carries on, and the environment takes a new rollout.
func TestInvalidStoredStateFailsThatRolloutOnly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, raw []byte) []byte
		want   string
	}{
		{"approval without its start", func(t *testing.T, raw []byte) []byte {
			return editState(t, raw, func(f *frozenPlan) { f.State.Phase, f.State.WaitingSince = rollout.AwaitingApproval, nil })
		}, "waitingSince"},
		{"step index out of range", func(t *testing.T, raw []byte) []byte {
			return editState(t, raw, func(f *frozenPlan) { f.State.StepIndex = -3 })
		}, "stepIndex -3"},
		{"newer schema", func(t *testing.T, raw []byte) []byte {
			return editState(t, raw, func(f *frozenPlan) { f.Schema = stateSchema + 1 })
		}, "newer than this hugai"},
		{"not a state", func(*testing.T, []byte) []byte { return []byte(`{"spec": 5}`) }, "read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			ctx := context.Background()
			e, prod, st := w.engine()
			staging, err := e.runtime(ctx, "demo", "staging")
			if err != nil {
				t.Fatal(err)
			}
			for _, env := range []string{"production", "staging"} {
				first, err := e.Start(ctx, policy.User("alice"), api.StartRequest{Plan: []byte(canaryPlan), Version: "v1", Environment: env})
				if err != nil {
					t.Fatal(err)
				}
				rt := map[string]*envRuntime{"production": prod, "staging": staging}[env]
				if v := w.run(e, rt, first.ID, 60); v.Phase != "Succeeded" {
					t.Fatalf("first deploy to %s: %s", env, v.Phase)
				}
			}
			broken, err := e.Start(ctx, policy.User("alice"), api.StartRequest{Plan: []byte(canaryPlan), Version: "v2"})
			if err != nil {
				t.Fatal(err)
			}
			other, err := e.Start(ctx, policy.User("alice"), api.StartRequest{Plan: []byte(canaryPlan), Version: "v2", Environment: "staging"})
			if err != nil {
				t.Fatal(err)
			}
			w.run(e, prod, broken.ID, 3)
			r, err := st.Rollout(ctx, broken.ID)
			if err != nil {
				t.Fatal(err)
			}
			r.State = tc.break_(t, r.State)
			if _, err := st.Commit(ctx, store.Tx{Rollout: &r}); err != nil {
				t.Fatal(err)
			}

			// A restarted server finds it: Recover and the tick survive, and fail it.
			e, prod, st = w.engine()
			staging, _ = e.runtime(ctx, "demo", "staging")
			for range 3 {
				if _, err := e.reconcile(ctx, prod); err != nil {
					t.Fatalf("tick: %v", err)
				}
			}
			v, err := e.Get(ctx, broken.ID)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if v.Phase != "Failed" || v.Reason != rollout.ReasonInvalidState || !strings.Contains(v.Message, tc.want) || !v.Terminal || v.ExitCode != 1 {
				t.Fatalf("broken rollout: %s %s %q (terminal %v, exit %d), want Failed invalid-state naming %q", v.Phase, v.Reason, v.Message, v.Terminal, v.ExitCode, tc.want)
			}
			if _, err := e.List(ctx, api.ListFilter{}); err != nil {
				t.Fatalf("list with a broken rollout: %v", err)
			}
			if _, err := e.Do(ctx, broken.ID, policy.User("bob"), api.Command{Kind: rollout.CommandAbort}); err == nil {
				t.Fatal("a command on a broken rollout was taken")
			}
			events, err := st.Events(ctx, store.EventFilter{Subject: "rollout/" + broken.ID})
			if err != nil {
				t.Fatal(err)
			}
			last := events[len(events)-1]
			if last.Type != "rollout.phase" || !strings.Contains(string(last.Payload), rollout.ReasonInvalidState) {
				t.Fatalf("last audit event %s %s, want the failure", last.Type, last.Payload)
			}
			if _, err := st.VerifyAudit(ctx); err != nil {
				t.Fatal(err)
			}
			e.bg.Wait()
			if sev := w.told.phases()["Failed"]; sev != "critical" {
				t.Fatalf("notified %v, want Failed as critical", w.told.phases())
			}

			if v := w.run(e, staging, other.ID, 100); v.Phase != "Succeeded" {
				t.Fatalf("the other environment's rollout: %s", v.Phase)
			}
			next, err := e.Start(ctx, policy.User("alice"), api.StartRequest{Plan: []byte(canaryPlan), Version: "v3"})
			if err != nil {
				t.Fatalf("a new rollout where one failed: %v", err)
			}
			if v := w.run(e, prod, next.ID, 100); v.Phase != "Succeeded" {
				t.Fatalf("the next rollout: %s %s", v.Phase, v.Message)
			}
		})
	}
}

func editState(t *testing.T, raw []byte, edit func(*frozenPlan)) []byte {
	t.Helper()
	var f frozenPlan
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if f.Schema != stateSchema {
		t.Fatalf("stored schema %d, want %d", f.Schema, stateSchema)
	}
	edit(&f)
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A state written before the schema existed is converted on read, not failed: a rollback of then
// carried no RollbackAt.
func TestUnversionedStateIsUpgraded(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	e, rt, st := w.engine()
	w.released(e, rt)
	r, err := e.Start(ctx, policy.User("alice"), api.StartRequest{Plan: []byte(canaryPlan), Version: "v2"})
	if err != nil {
		t.Fatal(err)
	}
	if v := w.run(e, rt, r.ID, 3); v.Weights["v2"] != 20 {
		t.Fatalf("before: %s %v", v.Phase, v.Weights)
	}
	stored, err := st.Rollout(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(editState(t, stored.State, func(f *frozenPlan) {
		f.State.Phase, f.State.Reason, f.State.RollbackAt = rollout.RollingBack, rollout.ReasonAnalysis, nil
	}), &f); err != nil {
		t.Fatal(err)
	}
	delete(f, "schema")
	if stored.State, err = json.Marshal(f); err != nil {
		t.Fatal(err)
	}
	stored.Phase = string(rollout.RollingBack)
	if _, err := st.Commit(ctx, store.Tx{Rollout: &stored}); err != nil {
		t.Fatal(err)
	}
	if v := w.run(e, rt, r.ID, 30); v.Phase != "RolledBack" || v.Reason != rollout.ReasonAnalysis {
		t.Fatalf("an unversioned rollback: %s %s %q, want RolledBack", v.Phase, v.Reason, v.Message)
	}
	stored, _ = st.Rollout(ctx, r.ID)
	editState(t, stored.State, func(*frozenPlan) {}) // written back at the current schema
}
