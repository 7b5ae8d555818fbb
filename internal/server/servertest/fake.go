// Package servertest serves engines on a real unix socket for tests: Harness, the real engine on
// SQLite and the fake target, for anything that depends on how rollouts behave (the CLI's
// commands); and Fake, an engine that does what the test says, for tests of the HTTP layer alone
// (the server's error mapping and long polls, the client's transport).
package servertest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/policy"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/server"
)

var _ server.Engine = (*Fake)(nil)

// Fake is an in-memory Engine for tests of the HTTP layer: it has none of the engine's rules.
// Rollouts change only when a test says so (Update, Finish), or by
// the commands' simple default effects; every change bumps the revision and wakes waiters.
type Fake struct {
	// OnStart shapes a new rollout before Start answers (e.g. to end it at once); an error refuses
	// the start. Set it before the fake is served.
	OnStart func(r *api.Rollout) error
	// Now stamps rollouts; set it before the fake is served.
	Now func() time.Time

	mu       sync.Mutex
	rollouts map[string]*api.Rollout
	order    []string // oldest first
	changed  chan struct{}
	starts   []StartCall
	commands []CommandCall
	started  chan string
	waiting  chan string
}

// NewFake returns an empty fake.
func NewFake() *Fake {
	return &Fake{
		Now:      time.Now,
		rollouts: map[string]*api.Rollout{},
		changed:  make(chan struct{}),
		started:  make(chan string, 100),
		waiting:  make(chan string, 100),
	}
}

// Started delivers the ID of every rollout started, so a test can act once a command has started one.
func (f *Fake) Started() <-chan string { return f.started }

// Waiting delivers a rollout's ID each time a Wait on it starts to block.
func (f *Fake) Waiting() <-chan string { return f.waiting }

// StartCalls returns the Starts received.
func (f *Fake) StartCalls() []StartCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.starts)
}

// Commands returns the commands received.
func (f *Fake) Commands() []CommandCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.commands)
}

// Add stores r as given, for List and Get.
func (f *Fake) Add(r api.Rollout) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.rollouts[r.ID]; !ok {
		f.order = append(f.order, r.ID)
	}
	f.rollouts[r.ID] = &r
	f.notifyLocked()
}

// Update changes a rollout, bumps its revision and wakes its waiters.
func (f *Fake) Update(id string, change func(r *api.Rollout)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.rollouts[id]
	if !ok {
		panic("servertest: update of unknown rollout " + id)
	}
	change(r)
	r.Revision++
	r.UpdatedAt = f.Now()
	f.notifyLocked()
}

// Finish ends a rollout in phase, with the exit code a follower exits with.
func (f *Fake) Finish(id, phase string) {
	f.Update(id, func(r *api.Rollout) { End(r, phase) })
}

// End sets r's terminal phase and exit code.
func End(r *api.Rollout, phase string) {
	r.Phase, r.Terminal, r.Approval = phase, true, nil
	r.ExitCode = rollout.Phase(phase).ExitCode()
}

func (f *Fake) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *Fake) Start(ctx context.Context, who policy.Identity, req api.StartRequest) (api.Rollout, error) {
	actor := who.Name
	f.mu.Lock()
	f.starts = append(f.starts, StartCall{Actor: actor, Who: who, Req: req})
	id := fmt.Sprintf("r-%03d", len(f.starts))
	now := f.Now()
	r := &api.Rollout{
		ID: id, Service: req.Service, Environment: req.Environment, Version: req.Version,
		Strategy: "canary", Phase: "Progressing", Revision: 1, CreatedBy: actor, CreatedAt: now, UpdatedAt: now,
	}
	hook := f.OnStart
	f.mu.Unlock()
	if hook != nil {
		if err := hook(r); err != nil {
			return api.Rollout{}, err
		}
	}
	f.Add(*r)
	f.started <- id
	return *r, nil
}

func (f *Fake) Get(ctx context.Context, id string) (api.Rollout, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.rollouts[id]
	if !ok {
		return api.Rollout{}, &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("rollout %s not found", id)}
	}
	return *r, nil
}

func (f *Fake) List(ctx context.Context, lf api.ListFilter) ([]api.Rollout, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.Rollout
	for i := len(f.order) - 1; i >= 0; i-- {
		r := f.rollouts[f.order[i]]
		if lf.Service != "" && r.Service != lf.Service || lf.Environment != "" && r.Environment != lf.Environment || lf.Active && r.Terminal {
			continue
		}
		out = append(out, *r)
		if lf.Limit > 0 && len(out) == lf.Limit {
			break
		}
	}
	return out, nil
}

// Do records the command and applies a plausible effect: approve/resume → Progressing, promote →
// Promoting, reject/abort → Aborted, rollback → RolledBack.
func (f *Fake) Do(ctx context.Context, id string, who policy.Identity, cmd api.Command) (api.Rollout, error) {
	actor := who.Name
	f.mu.Lock()
	f.commands = append(f.commands, CommandCall{ID: id, Actor: actor, Who: who, Cmd: cmd})
	_, ok := f.rollouts[id]
	f.mu.Unlock()
	if !ok {
		return api.Rollout{}, &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("rollout %s not found", id)}
	}
	var bad error
	f.Update(id, func(r *api.Rollout) {
		if r.Terminal && cmd.Kind != rollout.CommandRollback {
			bad = &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf("rollout %s is %s", id, r.Phase)}
			return
		}
		switch cmd.Kind {
		case rollout.CommandApprove, rollout.CommandResume:
			r.Phase, r.Approval = "Progressing", nil
		case rollout.CommandPromote:
			r.Phase = "Promoting"
		case rollout.CommandReject, rollout.CommandAbort:
			End(r, "Aborted")
			r.Reason = map[rollout.CommandKind]string{rollout.CommandReject: "rejected", rollout.CommandAbort: "aborted"}[cmd.Kind]
		case rollout.CommandRollback:
			End(r, "RolledBack")
		default:
			bad = &api.Error{Code: api.CodeBadInput, Message: fmt.Sprintf("unknown command %q", cmd.Kind)}
		}
	})
	if bad != nil {
		return api.Rollout{}, bad
	}
	return f.Get(ctx, id)
}

func (f *Fake) Wait(ctx context.Context, id string, afterRevision int64) (api.Rollout, error) {
	for {
		f.mu.Lock()
		r, ok := f.rollouts[id]
		ch := f.changed
		var cur api.Rollout
		if ok {
			cur = *r
		}
		f.mu.Unlock()
		if !ok {
			return api.Rollout{}, &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("rollout %s not found", id)}
		}
		if cur.Revision > afterRevision {
			return cur, nil
		}
		select {
		case f.waiting <- id:
		default: // nobody is counting
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return api.Rollout{}, ctx.Err()
		}
	}
}

// Changed is closed at the fake's next change.
func (f *Fake) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// Ready: a fake is always ready.
func (f *Fake) Ready(context.Context) error { return nil }

// Approvals, Measurements, Plan: the fake keeps none; a rollout it does not know is not found.
func (f *Fake) Approvals(ctx context.Context, id string) ([]api.Approval, error) {
	_, err := f.Get(ctx, id)
	return []api.Approval{}, err
}

func (f *Fake) Measurements(ctx context.Context, id string) ([]api.Measurement, error) {
	_, err := f.Get(ctx, id)
	return []api.Measurement{}, err
}

func (f *Fake) Plan(ctx context.Context, id string) ([]byte, error) {
	_, err := f.Get(ctx, id)
	return nil, err
}

// Audit and VerifyAudit: the fake's chain is empty.
func (f *Fake) Audit(context.Context, api.AuditFilter) ([]audit.Event, error) { return nil, nil }

func (f *Fake) VerifyAudit(context.Context) (api.AuditVerify, error) {
	return api.AuditVerify{OK: true}, nil
}

// Monitor says the fake has no release to measure.
func (f *Fake) Monitor(_ context.Context, service, env string) (api.Monitor, error) {
	return api.Monitor{Service: service, Environment: env}, nil
}

func (f *Fake) Info() api.ServerInfo {
	// PID 0: a fake has no process of its own for `server stop` to wait for.
	return api.ServerInfo{Version: "test", PID: 0, DataDir: "/fake", Services: []api.ServiceInfo{{Name: "demo"}}}
}

// Server is an Engine served on a real unix socket.
type Server struct {
	Socket    string
	Shutdowns chan bool // receives the `all` of every shutdown request
	hs        *http.Server
	done      chan struct{}
}

// Serve serves e on a socket in dir (through server.ListenUnix) until the test ends or Close.
// A shutdown request closes the server, as `hugai server` does.
func Serve(t testing.TB, e server.Engine, dir string) *Server {
	t.Helper()
	l, path, err := server.ListenUnix(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Socket: path, Shutdowns: make(chan bool, 10), done: make(chan struct{})}
	s.hs = server.HTTPServer(server.New(e, server.Options{
		Logf: t.Logf,
		Shutdown: func(all bool) {
			s.Shutdowns <- all
			s.Close()
		},
	}))
	go func() {
		defer close(s.done)
		if err := s.hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(s.Close)
	return s
}

// Close stops the server at once, cutting long polls as a crash would, and waits for it.
func (s *Server) Close() {
	_ = s.hs.Close()
	<-s.done
}
