package releaserun

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/engine"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/policy"
	"github.com/hugai-dev/hugai/internal/release"
	"github.com/hugai-dev/hugai/internal/release/stages"
	"github.com/hugai-dev/hugai/internal/server/servertest"
	"github.com/hugai-dev/hugai/internal/store"
)

// The real engine (SQLite, the fake target, a clock the test moves) with a two-stage release.
const serviceYAML = `apiVersion: hugai.io/v1
kind: Service
metadata: {name: demo}
spec:
  target: {type: local, local: {command: ["./demo"], listen: "127.0.0.1:1", replicas: 2}}
  checkpoints:
    lint: ["true"]
  environments:
    production:
      successCriteria: error_rate<1%
      analysis: {interval: 5s, minimumSamples: 20}
    staging:
      successCriteria: error_rate<1%
      analysis: {interval: 5s, minimumSamples: 20}
  release:
    stages:
      - environment: staging
      - environment: production
`

type fixture struct {
	h      *servertest.Harness
	st     Store
	runner *Runner
}

func newFixture(t *testing.T, service string, envs ...string) *fixture {
	t.Helper()
	h := servertest.NewHarness(t, service)
	st := h.Store.(Store)
	svc, err := plan.ParseService("hugai.yaml", []byte(service))
	if err != nil {
		t.Fatal(err)
	}
	rel := release.Release{Version: "1.0.0", Tag: "v1.0.0", Bump: "minor"}
	for _, env := range envs {
		run, err := plan.ParseRun("plan", []byte(servertest.Plan("[{setWeight: 100}]", env)))
		if err != nil {
			t.Fatal(err)
		}
		run.Plan.Spec.Version = "v1.0.0"
		rel.Environments = append(rel.Environments, release.EnvironmentPlan{Environment: env, Plan: run.Plan})
	}
	doc, err := json.Marshal(rel)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateRelease(context.Background(), store.ReleaseRecord{Tag: "v1.0.0", Version: "1.0.0", Document: doc}, nil); err != nil {
		t.Fatal(err)
	}
	r := New(Config{Store: st, Rollouts: engine.ByName{Engine: h.Engine}, Clock: h.Clock, Logf: t.Logf, FollowPoll: 50 * time.Millisecond, Retry: 10 * time.Millisecond,
		Services: []*engine.ServiceFile{{Path: filepath.Join(t.TempDir(), "hugai.yaml"), Data: []byte(service), Service: svc}}})
	return &fixture{h: h, st: st, runner: r}
}

func (f *fixture) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f.runner.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// waitRun follows a run until cond holds.
func (f *fixture) waitRun(t *testing.T, id, what string, cond func(api.ReleaseRun) bool) api.ReleaseRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var rev int64 = -1
	for {
		v, err := f.runner.Wait(ctx, id, rev)
		if err != nil {
			t.Fatal(err)
		}
		if cond(v) {
			return v
		}
		if ctx.Err() != nil {
			t.Fatalf("%s never happened: run %s is %s %q", what, id, v.Phase, v.Message)
		}
		rev = v.Revision
	}
}

// A runner killed after it asked for a stage's rollout, and before it recorded which, finds that
// rollout when it starts again instead of starting a second one (which the engine would refuse:
// the run would fail).
func TestResumeFindsTheRolloutAskedFor(t *testing.T) {
	t.Parallel()
	f := newFixture(t, serviceYAML, "staging", "production")
	ctx := context.Background()
	run, err := f.runner.Execute(ctx, "alice", api.ReleaseExecuteRequest{Tag: "v1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	// What the killed runner did: step to the start of staging's rollout, persist that, ask the
	// engine for the rollout, and die.
	stored, err := f.st.ReleaseRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := decode(stored)
	if err != nil {
		t.Fatal(err)
	}
	st, events, act := stages.Step(doc.Spec, doc.State, stages.Observation{}, f.h.Clock.Now())
	if act.Kind != stages.ActStartRollout {
		t.Fatalf("first action %+v, want the staging rollout", act)
	}
	doc.State = st
	if err := f.runner.write(ctx, &stored, doc, events, f.h.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	asked := f.h.Begin("alice", api.StartRequest{Plan: doc.plan("staging"), Service: "demo", Version: "v1.0.0", Environment: "staging"})

	f.run(t) // the restarted runner
	at := f.waitRun(t, run.ID, "staging's rollout recorded", func(v api.ReleaseRun) bool { return v.Terminal || v.Stages[0].RolloutID != "" })
	if at.Stages[0].RolloutID != asked.ID {
		t.Fatalf("staging's rollout: %q (%s %s), want the one asked for, %s", at.Stages[0].RolloutID, at.Phase, at.Message, asked.ID)
	}
	f.h.Judged(asked.ID)
	at = f.waitRun(t, run.ID, "production's rollout", func(v api.ReleaseRun) bool { return v.Terminal || v.Stages[1].RolloutID != "" })
	f.h.Judged(at.Stages[1].RolloutID)
	end := f.waitRun(t, run.ID, "the end", func(v api.ReleaseRun) bool { return v.Terminal })
	if end.Phase != string(stages.Succeeded) || end.ExitCode != 0 {
		t.Fatalf("run ended %s %s %q", end.Phase, end.Reason, end.Message)
	}
	rs, err := f.h.Engine.List(ctx, api.ListFilter{Service: "demo", Environment: "staging"})
	if err != nil || len(rs) != 1 {
		t.Errorf("staging's rollouts: %d %v, want the one", len(rs), err)
	}
	audited, err := f.h.Store.Events(ctx, store.EventFilter{Subject: "release/v1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range audited {
		types = append(types, e.Type)
	}
	want := "release.executeRequested release.phase release.stage release.stage release.stageRollout release.stage " +
		"release.stage release.stage release.stageRollout release.stage release.phase"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("release events:\n  %s\nwant\n  %s", got, want)
	}
}

// A check hugai cannot run here (the fake target runs no commands) fails the pre-check: the
// release is Aborted before anything is deployed, and production is never started.
func TestPreCheckFailureStartsNothing(t *testing.T) {
	t.Parallel()
	svc := strings.Replace(serviceYAML, "      - environment: staging\n", "      - environment: staging\n        preChecks: [lint]\n", 1)
	f := newFixture(t, svc, "staging", "production")
	f.run(t)
	run, err := f.runner.Execute(context.Background(), "alice", api.ReleaseExecuteRequest{Tag: "v1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	end := f.waitRun(t, run.ID, "the end", func(v api.ReleaseRun) bool { return v.Terminal })
	if end.Phase != string(stages.Aborted) || end.Reason != stages.ReasonPreCheck || end.ExitCode != 4 {
		t.Errorf("run ended %s (%s) exit %d, want Aborted (pre-check) exit 4", end.Phase, end.Reason, end.ExitCode)
	}
	if end.Stages[1].Phase != stages.StageSkipped {
		t.Errorf("production: %s, want Skipped", end.Stages[1].Phase)
	}
	if rs, _ := f.h.Engine.List(context.Background(), api.ListFilter{}); len(rs) != 0 {
		t.Errorf("%d rollouts started", len(rs))
	}
}

// Bad input is refused before anything is recorded.
func TestExecuteRefusesBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, serviceYAML, "staging") // the release has no plan for production
	ctx := context.Background()
	for _, tc := range []struct{ tag, want string }{
		{"", "no release named"},
		{"v9.9.9", "recorded: v1.0.0"},
		{"v1.0.0", "no plan for environment production"},
	} {
		_, err := f.runner.Execute(ctx, "alice", api.ReleaseExecuteRequest{Tag: tc.tag})
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != api.CodeBadInput || !strings.Contains(ae.Message, tc.want) {
			t.Errorf("execute %q: %v, want bad input saying %q", tc.tag, err, tc.want)
		}
	}
	if runs, err := f.st.ReleaseRuns(ctx, store.ReleaseRunFilter{}); err != nil || len(runs) != 0 {
		t.Errorf("runs recorded after bad input: %d %v", len(runs), err)
	}
}

// A stage with approval: true holds its rollout at the engine's own approval gate: the run waits,
// shows the rollout AwaitingApproval, and goes on once someone else approves it (four-eyes: not
// whoever executed the release).
func TestStageApprovalIsTheRolloutsGate(t *testing.T) {
	t.Parallel()
	svc := strings.Replace(serviceYAML, "      - environment: production\n", "      - environment: production\n        approval: true\n", 1)
	svc = strings.Replace(svc, "    production:\n", "    production:\n      policy: {approvers: [alice, bob], fourEyes: true}\n", 1)
	f := newFixture(t, svc, "staging", "production")
	f.run(t)
	ctx := context.Background()
	run, err := f.runner.Execute(ctx, "alice", api.ReleaseExecuteRequest{Tag: "v1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	at := f.waitRun(t, run.ID, "staging's rollout", func(v api.ReleaseRun) bool { return v.Terminal || v.Stages[0].RolloutID != "" })
	f.h.Judged(at.Stages[0].RolloutID)
	at = f.waitRun(t, run.ID, "production awaiting approval", func(v api.ReleaseRun) bool {
		return v.Terminal || v.Stages[1].RolloutPhase == "AwaitingApproval"
	})
	if at.Terminal {
		t.Fatalf("run ended %s %q before production's approval", at.Phase, at.Message)
	}
	prod := at.Stages[1].RolloutID
	if _, err := f.h.Engine.Do(ctx, prod, policy.User("alice"), api.Command{Kind: "approve"}); err == nil {
		t.Error("whoever executed the release approved its production stage")
	}
	f.h.Do(prod, "bob", api.Command{Kind: "approve"})
	f.h.Judged(prod)
	end := f.waitRun(t, run.ID, "the end", func(v api.ReleaseRun) bool { return v.Terminal })
	if end.Phase != string(stages.Succeeded) {
		t.Fatalf("run ended %s %q", end.Phase, end.Message)
	}
	approvals, err := f.h.Store.Approvals(ctx, prod)
	if err != nil || len(approvals) != 1 || approvals[0].Actor != "bob" {
		t.Errorf("production's approvals: %+v %v", approvals, err)
	}
}

// A stored run this binary cannot read is failed on resume, not stepped and not left blocking the
// service: its document stays as it was, and status still shows it.
func TestUnreadableRunIsFailed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, serviceYAML, "staging", "production")
	ctx := context.Background()
	bad, err := f.st.CreateReleaseRun(ctx, store.ReleaseRun{Tag: "v1.0.0", Service: "demo", Phase: "Running", Active: true,
		Document: []byte(`{"schema": 99}`)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.run(t)
	end := f.waitRun(t, bad.ID, "the run failed", func(v api.ReleaseRun) bool { return v.Terminal })
	if end.Phase != string(stages.Failed) || end.ExitCode != 1 || !strings.Contains(end.Message, "newer") {
		t.Errorf("run: %s exit %d %q", end.Phase, end.ExitCode, end.Message)
	}
	stored, err := f.st.ReleaseRun(ctx, bad.ID)
	if err != nil || string(stored.Document) != `{"schema": 99}` {
		t.Errorf("document after: %s %v", stored.Document, err)
	}
	// The service can be released again.
	if _, err := f.runner.Execute(ctx, "alice", api.ReleaseExecuteRequest{Tag: "v1.0.0"}); err != nil {
		t.Errorf("execute after the failed run: %v", err)
	}
}
