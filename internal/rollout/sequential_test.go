package rollout

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/criteria"
)

// world is both versions' traffic second by second: rps requests split by the candidate's
// weight, each failing with its version's probability, each slower than the pooled p95 with
// 5% (the baseline) or slowShare (the candidate).
type world struct {
	rng                 *rand.Rand
	rps                 int
	baseErr, canaryErr  float64
	slowShare           float64
	canaryRequestsSoFar int64
	secondsWithTraffic  int
}

func (w *world) compare(l Look, weight int) ([]analysis.Window, []analysis.LatencyWindow) {
	var pairs []analysis.Window
	var lats []analysis.LatencyWindow
	for t := l.From; t.Before(l.To); t = t.Add(time.Second) {
		var p analysis.Window
		var lw analysis.LatencyWindow
		for range w.rps {
			canary := w.rng.IntN(100) < weight
			c, errP, slowP := &p.Baseline, w.baseErr, 0.05
			lc := &lw.Slow.Baseline
			if canary {
				c, errP, slowP = &p.Canary, w.canaryErr, w.slowShare
				lc = &lw.Slow.Canary
			}
			c.Requests++
			lc.Requests++
			if w.rng.Float64() < errP {
				c.Events++
			}
			if w.rng.Float64() < slowP {
				lc.Events++
			}
		}
		w.canaryRequestsSoFar += p.Canary.Requests
		pairs = append(pairs, p)
		lats = append(lats, lw)
	}
	return pairs, lats
}

func sequentialSpec(t *testing.T, steps ...StepSpec) Spec {
	spec := canarySpec(t, steps...)
	cfg := analysis.DefaultConfig()
	spec.Sequential = &cfg
	spec.Alpha = cfg.Alpha
	spec.Interval = 5 * time.Second
	return spec
}

// A 10× error regression at a 5% weight of 100 req/s is rolled back by the comparison within
// seconds of canary traffic, long before the step's minute is over and whatever the per-step
// criteria say; the evidence that decided is in the state and the reason.
func TestSequentialRollsBackARegression(t *testing.T) {
	s := newSim(t, sequentialSpec(t, w(5), pause(10*time.Minute), w(100)), "v1")
	wd := &world{rng: rand.New(rand.NewPCG(1, 2)), rps: 100, baseErr: 0.005, canaryErr: 0.05, slowShare: 0.05}
	s.compare = wd.compare
	s.errorRate = 0.5 // the criteria alone would pass it: the canary's own rate looks fine
	s.run(time.Hour)
	if s.st.Phase != RolledBack || s.st.Reason != ReasonAnalysis {
		t.Fatalf("phase %s (%s): %s", s.st.Phase, s.st.Reason, s.st.Message)
	}
	if !strings.Contains(s.st.Message, "error_rate: candidate") || !strings.Contains(s.st.Message, "beyond doubt") {
		t.Errorf("reason does not show the evidence: %s", s.st.Message)
	}
	ev := s.st.Evidence
	if ev == nil || len(ev.Results) != 2 || ev.Results[0].Decision != analysis.Fail {
		t.Fatalf("evidence %+v", ev)
	}
	if s.st.RollbackAt.Sub(t0) > 2*time.Minute {
		t.Errorf("rolled back after %s", s.st.RollbackAt.Sub(t0))
	}
}

// A latency regression (a quarter of the canary's requests slower than the pooled p95) is caught
// by the latency test, with error rates alike.
func TestSequentialCatchesLatency(t *testing.T) {
	s := newSim(t, sequentialSpec(t, w(10), pause(10*time.Minute), w(100)), "v1")
	wd := &world{rng: rand.New(rand.NewPCG(3, 4)), rps: 100, baseErr: 0.005, canaryErr: 0.005, slowShare: 0.25}
	s.compare = wd.compare
	s.run(time.Hour)
	if s.st.Phase != RolledBack || !strings.Contains(s.st.Message, "latency_p95: candidate") {
		t.Fatalf("phase %s: %s", s.st.Phase, s.st.Message)
	}
}

// Versions alike: promoted, with the evidence pooled over every step since the canary took
// traffic (its canary requests add up across the weights).
func TestSequentialPromotesAlike(t *testing.T) {
	for seed := range uint64(20) {
		s := newSim(t, sequentialSpec(t, w(5), pause(time.Minute), w(25), pause(time.Minute), w(100)), "v1")
		wd := &world{rng: rand.New(rand.NewPCG(seed, 9)), rps: 100, baseErr: 0.005, canaryErr: 0.005, slowShare: 0.05}
		s.compare = wd.compare
		s.run(time.Hour)
		if s.st.Phase != Succeeded {
			t.Fatalf("seed %d: %s (%s): %s", seed, s.st.Phase, s.st.Reason, s.st.Message)
		}
		if ev := s.st.Evidence; ev == nil || ev.Errors.Canary.Requests != wd.canaryRequestsSoFar || ev.Errors.Canary.Requests < 500 {
			t.Fatalf("seed %d: evidence %+v does not pool the %d canary requests", seed, ev, wd.canaryRequestsSoFar)
		}
	}
}

// Early promotion is opt-in, ends an analysis step once a regression of maxRegression is ruled
// out, and never shortens a pause.
func TestEarlyPromotion(t *testing.T) {
	analysisStep := StepSpec{Kind: KindAnalysis, Windows: 200}
	run := func(early bool, steps ...StepSpec) *sim {
		spec := sequentialSpec(t, steps...)
		spec.EarlyPromotion = early
		spec.ProgressDeadline = time.Hour
		s := newSim(t, spec, "v1")
		wd := &world{rng: rand.New(rand.NewPCG(5, 6)), rps: 400, baseErr: 0.005, canaryErr: 0.005, slowShare: 0.05}
		s.compare = wd.compare
		s.run(3 * time.Hour)
		return s
	}
	on := run(true, w(50), analysisStep, w(100))
	off := run(false, w(50), analysisStep, w(100))
	if on.st.Phase != Succeeded || off.st.Phase != Succeeded {
		t.Fatalf("on %s (%s), off %s (%s)", on.st.Phase, on.st.Message, off.st.Phase, off.st.Message)
	}
	if !hasEvent(on.events, "rollout.earlyPromotion") || hasEvent(off.events, "rollout.earlyPromotion") {
		t.Fatal("early promotion must happen only when opted in")
	}
	if took, full := on.st.FinishedAt.Sub(t0), off.st.FinishedAt.Sub(t0); took >= full {
		t.Errorf("early promotion took %s, the full analysis %s", took, full)
	}
	p := run(true, w(50), pause(20*time.Minute), w(100))
	if p.st.Phase != Succeeded || p.st.FinishedAt.Sub(t0) < 20*time.Minute || hasEvent(p.events, "rollout.earlyPromotion") {
		t.Fatalf("a pause was shortened: %s after %s", p.st.Phase, p.st.FinishedAt.Sub(t0))
	}
}

// Thin traffic: 8 canary requests a second at a 5 s look never fills minimumSamples in one look,
// but the step's span does, so a healthy canary whose steps are long enough is never paused for
// lack of samples; a bad one is failed on few requests.
func TestThinTrafficAccumulates(t *testing.T) {
	spec := canarySpec(t, w(20), pause(5*time.Second), w(50), pause(5*time.Second), w(100))
	spec.Interval = 2 * time.Second
	spec.Alpha = 0.01
	s := newSim(t, spec, "v1")
	s.requests = 16 // every look's span is measured as if it held 16 requests...
	s.perSecond = 8 // ...unless the span grows: 8 a second
	s.errorRate = 0
	s.run(time.Hour)
	if s.st.Phase != Succeeded {
		t.Fatalf("healthy thin canary: %s (%s): %s", s.st.Phase, s.st.Reason, s.st.Message)
	}
	bad := newSim(t, spec, "v1")
	bad.perSecond = 3
	bad.errorRate = 18
	bad.run(time.Hour)
	if bad.st.Phase != RolledBack || bad.st.Reason != ReasonAnalysis || bad.st.RollbackAt.Sub(t0) > 20*time.Second {
		t.Fatalf("bad thin canary: %s (%s) at %v: %s", bad.st.Phase, bad.st.Reason, bad.st.RollbackAt, bad.st.Message)
	}
}

func hasEvent(evs []Event, typ string) bool {
	for _, e := range evs {
		if e.Type == typ {
			return true
		}
	}
	return false
}

// A rollout a trigger ends keeps the seconds of its last look in the trail, so that
// `hugai analyze replay` can replay it like any other (it dropped them once, and the replay
// skipped every rollout a trigger had rolled back).
func TestTriggeredLookRecordsItsSeconds(t *testing.T) {
	spec := sequentialSpec(t, w(20), pause(10*time.Minute), w(100))
	spec.Triggers = []criteria.Condition{trigger(t, "latency_p95", "greater_than", "500ms")}
	s := newSim(t, spec, "v1")
	wd := &world{rng: rand.New(rand.NewPCG(5, 6)), rps: 50, baseErr: 0.005, canaryErr: 0.005, slowShare: 0.05}
	s.compare = wd.compare
	s.latency = 0.9 // the trigger fires at the first look
	s.run(time.Hour)
	if s.st.Phase != RolledBack || s.st.Reason != ReasonTrigger {
		t.Fatalf("phase %s (%s): %s", s.st.Phase, s.st.Reason, s.st.Message)
	}
	var last Event
	for _, ev := range s.events {
		if ev.Type == "rollout.analysis" {
			last = ev
		}
	}
	secs, _ := last.Payload["seconds"].([][9]int64)
	if len(secs) == 0 {
		t.Fatalf("the triggered look recorded no seconds: %v", last.Payload)
	}
}
