package engine

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/hugai-dev/hugai/internal/notify"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
)

// The loop: one goroutine per service environment, each ticking its environment, then sleeping
// until the soonest of: the time the Step asked to be called again (a pause's end, the next
// analysis window, an approval's deadline), a command or a finished smoke test (kick), the
// engine's Tick (the target is polled at least that often: a replica can die at any time), or
// shutdown. A panic in one environment's tick is recovered there, as Argo Rollouts recovers each
// sync (utils/controller/controller.go, processNextWorkItem): that rollout is paused for a person
// and the environment retries with backoff, while every other environment carries on.

const (
	// minSleep keeps a Step that keeps asking for "now" from spinning a core.
	minSleep = 10 * time.Millisecond
	// maxBackoff bounds the wait between two tries of an environment whose tick panics.
	maxBackoff = 30 * time.Second
)

// Run ticks every service environment until ctx ends, then waits for its ticks, notifications,
// smoke tests and database runs to finish (those see ctx cancelled; a notification gets its own
// bounded time).
func (e *Engine) Run(ctx context.Context) error {
	defer func() {
		e.running.Wait()
		e.bgMu.Lock()
		e.stopped = true
		e.bgMu.Unlock()
		e.bg.Wait()
	}()
	started := map[*envRuntime]bool{}
	for {
		e.mu.Lock()
		var fresh []*envRuntime
		for _, rt := range e.runtimes {
			if !started[rt] {
				started[rt] = true
				fresh = append(fresh, rt)
			}
		}
		e.mu.Unlock()
		for _, rt := range fresh {
			e.running.Add(1)
			go func() {
				defer e.running.Done()
				e.runEnv(ctx, rt)
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-e.added:
		}
	}
}

// runEnv is one environment's goroutine.
func (e *Engine) runEnv(ctx context.Context, rt *envRuntime) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-rt.wake:
		}
		timer.Reset(e.tick(ctx, rt))
	}
}

// tick reconciles the environment once and says how long to sleep before the next tick.
func (e *Engine) tick(ctx context.Context, rt *envRuntime) (sleep time.Duration) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		rt.panics++
		sleep = backoff(e.cfg.Tick, rt.panics)
		e.cfg.Logf("panic in the tick of %s (try %d, next in %s): %v\n%s", rt.key, rt.panics, sleep, p, debug.Stack())
		if rt.panics == 1 { // once per run of failures: the audit log is not a panic counter
			if err := e.internalError(ctx, rt, p); err != nil {
				e.cfg.Logf("record the panic of %s: %v", rt.key, err)
			}
		}
	}()
	d, err := e.reconcile(ctx, rt)
	rt.panics = 0
	if err != nil && ctx.Err() == nil {
		e.cfg.Logf("reconcile %s: %v", rt.key, err)
	}
	return min(max(d, minSleep), e.cfg.Tick)
}

// background runs f off the caller's goroutine, tracked so that Run waits for it. Once Run is
// waiting, f runs in the caller instead (an API command answered during shutdown): a
// WaitGroup must not grow while it is waited for, and the work is not lost.
func (e *Engine) background(f func()) {
	e.bgMu.Lock()
	if e.stopped {
		e.bgMu.Unlock()
		f()
		return
	}
	e.bg.Add(1)
	e.bgMu.Unlock()
	go func() {
		defer e.bg.Done()
		f()
	}()
}

// backoff doubles the wait after each panic in a row, from the tick up to maxBackoff.
func backoff(tick time.Duration, n int) time.Duration {
	d := tick
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// kick wakes every environment: a command may concern any of them, and a tick that finds nothing
// to do is cheap.
func (e *Engine) kick() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, rt := range e.runtimes {
		rt.kick()
	}
}

func (rt *envRuntime) kick() {
	select {
	case rt.wake <- struct{}{}:
	default:
	}
}

// internalError records a panic in the environment's tick against its active rollout: a rollout
// moving traffic (Progressing, Promoting, Verifying) is paused for a person with reason
// internal-error, so no further step is taken on a machine that just failed; any other keeps
// its phase (pausing a rollout waiting for its approval would let resume skip the gate, and a
// rollback is never stopped by a bug of hugai's) and the event is audited and notified. It
// recovers its own panic: recording a failure must not become a second one.
func (e *Engine) internalError(ctx context.Context, rt *envRuntime, p any) (err error) {
	defer func() {
		if q := recover(); q != nil {
			err = fmt.Errorf("panic: %v", q)
		}
	}()
	rt.state.Lock()
	defer rt.state.Unlock()
	active, err := e.cfg.Store.Rollouts(ctx, store.Filter{Service: rt.svc.Service.Metadata.Name, Environment: rt.env.Name, Active: true, Limit: 1})
	if err != nil || len(active) == 0 {
		return err
	}
	r := active[0]
	spec, st, err := decodeState(r)
	if bad, ok := asInvalid(err); ok {
		return e.failInvalid(ctx, r, bad)
	}
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("hugai failed while stepping this rollout (%v); the stack is in the server's log", p)
	before := st
	switch st.Phase {
	case rollout.Progressing, rollout.Promoting, rollout.Verifying:
		st.Phase, st.Reason, st.Message = rollout.Paused, rollout.ReasonInternalError, msg+": resume, promote, rollback or abort"
	}
	payload := map[string]any{"phase": string(st.Phase), "reason": rollout.ReasonInternalError, "message": msg}
	events := []rollout.Event{{Type: "rollout.internalError", Payload: payload}}
	if st.Phase != before.Phase {
		events = append(events, rollout.Event{Type: "rollout.phase", Payload: map[string]any{"from": string(before.Phase), "to": string(st.Phase), "reason": st.Reason, "message": st.Message}})
	}
	r, err = e.commit(ctx, r, spec, st, events, nil, nil)
	if err != nil {
		return err
	}
	e.broadcast()
	e.send(ctx, r.Service, notify.Event{
		Service: r.Service, Environment: r.Environment, RolloutID: r.ID, Version: st.Candidate, PreviousVersion: st.Stable,
		Phase: string(st.Phase), Reason: rollout.ReasonInternalError, Message: msg, Severity: notifySeverity[rollout.Failed], Time: e.cfg.Clock.Now().UTC(),
	})
	return nil
}

// broadcast wakes every Wait: a rollout changed.
func (e *Engine) broadcast() {
	e.mu.Lock()
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
}

// Tick reconciles one service environment once, as the loop's goroutine would, and says when it
// wants to be called again: for a caller with its own loop (the Kubernetes operator's work queue)
// instead of Run. A panic is recovered and recorded as in Run.
func (e *Engine) Tick(ctx context.Context, service, env string) (time.Duration, error) {
	rt, err := e.runtime(ctx, service, env)
	if err != nil {
		return e.cfg.Tick, err
	}
	return e.tick(ctx, rt), nil
}
