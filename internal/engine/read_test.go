package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/policy"
	"github.com/hugai-dev/hugai/internal/rollout"
)

type changes struct {
	mu sync.Mutex
	cs []Change
}

func (c *changes) Committed(ch Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cs = append(c.cs, ch)
}

// The observer sees every committed step of a real rollout, with the state before and after, and
// the records the API reads (measurements, the frozen plan, the audit chain) are the store's.
func TestObserverAndRecords(t *testing.T) {
	w := newWorld(t)
	obs := &changes{}
	w.observer = obs
	ctx := context.Background()
	e, rt, _ := w.engine()
	first, err := e.Start(ctx, policy.User("alice"), api.StartRequest{Plan: []byte(canaryPlan), Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if v := w.run(e, rt, first.ID, 60); v.Phase != "Succeeded" {
		t.Fatalf("first deploy: %s", v.Phase)
	}
	obs.mu.Lock()
	obs.cs = nil
	obs.mu.Unlock()
	changed := e.Changed()
	r, err := e.Start(ctx, policy.User("alice"), api.StartRequest{Plan: []byte(canaryPlan), Version: "v2"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("Changed was not closed by a new rollout")
	}
	if v := w.run(e, rt, r.ID, 200); v.Phase != "Succeeded" {
		t.Fatalf("deploy: %s", v.Phase)
	}
	obs.mu.Lock()
	cs := obs.cs
	obs.mu.Unlock()
	var steps, judged int
	for _, c := range cs {
		if c.RolloutID != r.ID || c.Service != "demo" || c.Environment != "production" || c.Strategy != "canary" {
			t.Fatalf("change %+v", c)
		}
		if c.Before.Phase != "" && c.After.StepIndex != c.Before.StepIndex {
			steps++
			if !c.After.StepStartedAt.After(c.Before.StepStartedAt) {
				t.Errorf("step %d began at %s, after %s", c.After.StepIndex, c.After.StepStartedAt, c.Before.StepStartedAt)
			}
		}
		judged += len(c.Measurements)
	}
	if last := cs[len(cs)-1]; last.After.Phase != rollout.Succeeded {
		t.Errorf("last change %s", last.After.Phase)
	}
	if steps < 3 || judged == 0 {
		t.Errorf("%d step changes and %d measurements observed over %d changes", steps, judged, len(cs))
	}

	ms, err := e.Measurements(ctx, r.ID)
	if err != nil || len(ms) != judged {
		t.Errorf("measurements: %d (%v), the observer saw %d", len(ms), err, judged)
	}
	p, err := e.Plan(ctx, r.ID)
	if sum := sha256.Sum256(p); err != nil || hex.EncodeToString(sum[:]) != r.PlanSHA256 || !strings.Contains(string(p), "setWeight: 50") {
		t.Errorf("plan: %v, not the frozen plan of sha256 %s:\n%s", err, r.PlanSHA256, p)
	}
	evs, err := e.Audit(ctx, api.AuditFilter{Subject: "rollout/" + r.ID, Limit: 3})
	if err != nil || len(evs) != 3 || evs[0].Type != "rollout.requested" {
		t.Errorf("audit: %v %+v", err, evs)
	}
	if v, err := e.VerifyAudit(ctx); err != nil || !v.OK || v.Events == 0 {
		t.Errorf("verify: %+v %v", v, err)
	}
	if _, err := e.Approvals(ctx, "nope"); err == nil {
		t.Error("approvals of an unknown rollout")
	}
	if err := e.Ready(ctx); err != nil {
		t.Error(err)
	}
}
