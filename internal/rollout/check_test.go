package rollout

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/plan"
	"pgregory.net/rapid"
)

// Every state Step itself reaches keeps the invariants Check asks for: Check refuses only what a
// correct binary never writes.
func TestCheckAcceptsEveryStateStepReaches(t *testing.T) {
	g := Gate{Name: "step-approval", Count: 1, Timeout: time.Hour}
	gated := canarySpec(t, w(5), pause(time.Minute), StepSpec{Kind: KindApproval, Gate: &g}, w(100))
	gated.Gates = []Gate{{Name: "start", Count: 1, Timeout: time.Hour}}
	gated.MonitorDuration = time.Minute
	for name, tc := range map[string]struct {
		spec    Spec
		errRate float64
		approve bool
	}{
		"canary with gates, approved":  {gated, 0, true},
		"canary with gates, timed out": {gated, 0, false},
		"bad canary rolls back":        {canarySpec(t, w(5), pause(time.Minute), w(100)), 30, false},
		"recreate":                     {recreateSpec(t), 0, false},
		"rolling, bad":                 {rollingSpec(t, 3, 1, 0), 30, false},
		"blue-green":                   {blueGreenSpec(t, plan.BlueGreenStrategy{Switch: plan.SwitchGradual}, true), 0, false},
	} {
		t.Run(name, func(t *testing.T) {
			s := newSim(t, tc.spec, "v1")
			s.errorRate = tc.errRate
			phases := map[Phase]bool{}
			for i := 0; i < 7200 && !s.st.Phase.Terminal(); i++ {
				var cmd *Command
				if tc.approve && s.st.Phase == AwaitingApproval {
					cmd = &Command{Kind: CommandApprove, Actor: "alice"}
				}
				s.tick(cmd)
				phases[s.st.Phase] = true
				if err := s.st.Check(s.spec); err != nil {
					t.Fatalf("tick %d, phase %s: %v", i, s.st.Phase, err)
				}
				s.now = s.now.Add(time.Second)
			}
			if !s.st.Phase.Terminal() || len(phases) < 2 {
				t.Fatalf("the rollout went through %v and ended %s", phases, s.st.Phase)
			}
		})
	}
}

// Each broken invariant is named, and each is one Step would trip over: the states that panic
// Step today are refused by Check first.
func TestCheckNamesTheBrokenInvariant(t *testing.T) {
	spec := canarySpec(t, w(5), pause(time.Minute), w(100))
	spec.Gates = []Gate{{Name: "start", Count: 1, Timeout: time.Hour}}
	now := t0
	good := New("v1", "v2", now)
	if err := good.Check(spec); err != nil {
		t.Fatalf("a new state: %v", err)
	}
	for _, tc := range []struct {
		name   string
		break_ func(*State, *Spec)
		want   string
		panics bool // Step would panic on it
	}{
		{"approval without waitingSince", func(s *State, _ *Spec) { s.Phase = AwaitingApproval }, "waitingSince", true},
		{"stepIndex negative", func(s *State, _ *Spec) { s.Phase, s.DeployedAt, s.StepIndex = Progressing, &now, -1 }, "stepIndex -1", true},
		{"stepIndex past the steps", func(s *State, _ *Spec) { s.Phase, s.StepIndex = Progressing, 9 }, "stepIndex 9", false},
		{"gateIndex negative", func(s *State, _ *Spec) { s.Phase, s.WaitingSince, s.GateIndex = AwaitingApproval, &now, -2 }, "gateIndex -2", true},
		{"verifying without promotedAt", func(s *State, _ *Spec) { s.Phase = Verifying }, "promotedAt", false},
		{"rolling back without rollbackAt", func(s *State, _ *Spec) { s.Phase = RollingBack }, "rollbackAt", false},
		{"rollbackStep negative", func(s *State, _ *Spec) { s.Phase, s.RollbackAt, s.RollbackStep = RollingBack, &now, -1 }, "rollbackStep -1", true},
		{"unknown phase", func(s *State, _ *Spec) { s.Phase = "Sleeping" }, `phase "Sleeping"`, false},
		{"no candidate", func(s *State, _ *Spec) { s.Candidate = "" }, "no candidate", false},
		{"weight", func(s *State, _ *Spec) { s.Weight = 140 }, "weight 140", false},
		{"unknown step kind", func(_ *State, sp *Spec) { sp.Steps = append(sp.Steps, StepSpec{Kind: "teleport"}) }, `"teleport"`, false},
		{"approval step without gate", func(s *State, sp *Spec) {
			sp.Steps = []StepSpec{{Kind: KindApproval}}
			s.Phase, s.GateIndex, s.DeployedAt = Progressing, 1, &now
		}, "approval without a gate", false},
		{"unknown strategy", func(_ *State, sp *Spec) { sp.Strategy = "yolo" }, `"yolo"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, sp := good, spec
			sp.Steps = append([]StepSpec(nil), spec.Steps...)
			tc.break_(&st, &sp)
			err := st.Check(sp)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want an error naming %q", err, tc.want)
			}
			if tc.panics {
				defer func() {
					if recover() == nil {
						t.Errorf("Step did not panic: the invariant guards nothing")
					}
				}()
				Step(sp, st, Observation{}, now.Add(time.Second))
			}
		})
	}
}

// The lists Check and the store rely on are written by hand; this reads the package's source so a
// new StepKind, Phase or CommandKind constant cannot be added without being listed (Check would
// fail every rollout using an unlisted step kind as invalid-state).
func TestListsNameEveryConstant(t *testing.T) {
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string][]string{} // type -> values
	fset := token.NewFileSet()
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				id, ok := vs.Type.(*ast.Ident)
				if !ok {
					continue
				}
				for _, v := range vs.Values {
					if lit, ok := v.(*ast.BasicLit); ok {
						consts[id.Name] = append(consts[id.Name], strings.Trim(lit.Value, `"`))
					}
				}
			}
		}
	}
	for typ, listed := range map[string][]string{
		"StepKind":    toStrings(stepKinds),
		"Phase":       toStrings(Phases()),
		"CommandKind": toStrings(CommandKinds()),
	} {
		if len(consts[typ]) == 0 {
			t.Fatalf("found no %s constants: the test reads the wrong files", typ)
		}
		for _, c := range consts[typ] {
			if !slices.Contains(listed, c) {
				t.Errorf("%s %q is not in its list %v", typ, c, listed)
			}
		}
	}
}

func toStrings[S ~string](xs []S) []string {
	var out []string
	for _, x := range xs {
		out = append(out, string(x))
	}
	return out
}

// For any strategy and any sequence of observations and commands, every state Step writes passes
// Check: the engine never fails a healthy rollout as invalid-state.
func TestCheckHoldsOnEveryReachableState(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		spec := drawSpec(t, rt, rapid.SampledFrom(variants).Draw(rt, "variant"))
		spec.AutoRollback = rapid.Bool().Draw(rt, "autoRollback")
		if rapid.Bool().Draw(rt, "gate") {
			spec.Gates = []Gate{{Name: "start", Count: 1, Timeout: 5 * time.Minute}}
		}
		s := newSim(t, spec, rapid.SampledFrom([]string{"", "v1"}).Draw(rt, "stable"))
		s.t = &testing.T{} // failures are reported through rt
		for i := range rapid.IntRange(1, 300).Draw(rt, "ticks") {
			s.errorRate = rapid.SampledFrom([]float64{0, 0, 0, 5, 30}).Draw(rt, "errorRate")
			s.requests = rapid.SampledFrom([]uint64{0, 500, 500}).Draw(rt, "requests")
			s.crash = rapid.IntRange(0, 50).Draw(rt, "crash") == 0
			obs := s.observe()
			if kind := rapid.SampledFrom(append([]CommandKind{"", "", "", ""}, CommandKinds()...)).Draw(rt, "cmd"); kind != "" {
				c := Command{Kind: kind, Actor: "alice", Full: rapid.Bool().Draw(rt, "full"), Emergency: rapid.Bool().Draw(rt, "emergency")}
				if Validate(spec, s.st, c) == nil {
					obs.Command = &c
				}
			}
			next, _, _ := Step(spec, s.st, obs, s.now)
			if err := next.Check(spec); err != nil {
				rt.Fatalf("tick %d: %s → %s breaks an invariant: %v", i, s.st.Phase, next.Phase, err)
			}
			s.st = next
			s.now = s.now.Add(time.Duration(rapid.IntRange(1, 20).Draw(rt, "dt")) * time.Second)
		}
	})
}
