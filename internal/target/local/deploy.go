package local

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hugai-dev/hugai/internal/proxy"
	"github.com/hugai-dev/hugai/internal/target"
)

// Deploy starts or scales the revision to n replicas. A command that cannot be found is an error
// wrapping ErrCommandNotFound, and nothing is started.
func (t *Target) Deploy(ctx context.Context, rev target.Revision, n int) error {
	v := rev.Version
	if t.ctx.Err() != nil {
		return errClosed
	}
	if err := checkVersion(v); err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("deploy %s: negative replica count %d", v, n)
	}
	if err := t.Check(v); err != nil {
		t.mu.Lock()
		if rv := t.revs[v]; rv == nil || len(rv.replicas) == 0 {
			t.revs[v] = &revision{version: v, desired: n, replicas: map[int]*replica{}, startFailed: err.Error()}
		}
		t.mu.Unlock()
		return fmt.Errorf("deploy %s: %w", v, err)
	}
	t.mu.Lock()
	rv := t.revs[v]
	if rv == nil {
		rv = &revision{version: v, replicas: map[int]*replica{}}
		t.revs[v] = rv
	}
	rv.startFailed = ""
	rv.desired = n
	extra := t.scaleLocked(rv)
	t.saveLocked()
	t.mu.Unlock()
	if len(extra) == 0 {
		return nil
	}
	// Out of the routes before they stop, so the proxy never sends a request to a dying replica.
	err := t.push(ctx)
	t.stopReplicas(extra)
	return err
}

func checkVersion(v string) error {
	if v == "" || strings.ContainsAny(v, "/\\\x00") || v == "." || v == ".." {
		return fmt.Errorf("invalid version %q", v)
	}
	return nil
}

// scaleLocked starts the missing replica slots and takes the surplus ones out of rv (returned, to
// be stopped once the routes are pushed); t.mu is held.
func (t *Target) scaleLocked(rv *revision) []*replica {
	if rv.startFailed != "" {
		return nil
	}
	for i := range rv.desired {
		if rv.replicas[i] == nil {
			r := t.newReplica(rv.version, i)
			rv.replicas[i] = r
			t.superviseLocked(r)
		}
	}
	var extra []*replica
	for i, r := range rv.replicas {
		if i >= rv.desired {
			r.removing = true
			extra = append(extra, r)
			delete(rv.replicas, i)
		}
	}
	return extra
}

// stopReplicas stops the supervisors, then the processes (SIGTERM, SIGKILL after the grace period),
// all at once, and forgets their pid files.
func (t *Target) stopReplicas(reps []*replica) {
	var wg sync.WaitGroup
	for _, r := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r.stop != nil {
				r.stop()
				<-r.done
			}
			t.mu.Lock()
			pf := r.proc
			r.ready = false
			t.mu.Unlock()
			terminate(pf.PID, pf.StartTime, t.opts.GracePeriod)
			_ = os.Remove(t.pidPath(r.version, r.index))
		}()
	}
	wg.Wait()
}

// errClosed refuses work after Close: no supervisor would run the replicas.
var errClosed = errors.New("local target is closed")

// Route sets the traffic split and pushes it to the proxy with the ready replicas of each version.
func (t *Target) Route(ctx context.Context, r target.Routing) error {
	sum := 0
	for v, w := range r.Weights {
		if w < 0 || w > 100 {
			return fmt.Errorf("route: weight %d for %s is outside 0..100", w, v)
		}
		sum += w
	}
	if sum != 100 && sum != 0 {
		return fmt.Errorf("route: weights add up to %d, not 100 (or all zero)", sum)
	}
	for _, v := range r.Cut {
		if r.Weights[v] != 0 {
			return fmt.Errorf("route: %s is cut (judged bad) but has weight %d", v, r.Weights[v])
		}
	}
	if t.ctx.Err() != nil {
		return errClosed
	}
	t.mu.Lock()
	t.routing = copyRouting(r)
	t.saveLocked()
	t.mu.Unlock()
	return t.push(ctx)
}

func copyRouting(r target.Routing) target.Routing {
	w := make(map[string]int, len(r.Weights))
	for v, x := range r.Weights {
		w[v] = x
	}
	r.Weights = w
	r.Cut = slices.Clone(r.Cut)
	return r
}

// Remove takes a revision out of the routes and stops its processes. A revision that still has a
// weight is refused: the engine routes away first.
func (t *Target) Remove(ctx context.Context, rev target.Revision) error {
	v := rev.Version
	if t.ctx.Err() != nil {
		return errClosed
	}
	t.mu.Lock()
	if w := t.routing.Weights[v]; w > 0 {
		t.mu.Unlock()
		return fmt.Errorf("remove %s: it still has %d%% of traffic; route away first", v, w)
	}
	rv := t.revs[v]
	delete(t.revs, v)
	delete(t.routing.Weights, v)
	for _, name := range []*string{&t.routing.Stable, &t.routing.Canary, &t.routing.Preview} {
		if *name == v {
			*name = ""
		}
	}
	var reps []*replica
	if rv != nil {
		for _, r := range rv.replicas {
			r.removing = true
			reps = append(reps, r)
		}
	}
	t.saveLocked()
	t.mu.Unlock()
	err := t.push(ctx)
	if err != nil {
		t.opts.Logf("local target %s: remove %s: %v", t.opts.Service, v, err)
	}
	t.stopReplicas(reps)
	return nil
}

// Status reports every revision, with cpu and memory sampled from /proc now.
func (t *Target) Status(ctx context.Context) (target.Status, error) {
	type procRef struct {
		version string
		pid     int
		start   uint64
	}
	var procs []procRef
	st := target.Status{Revisions: map[string]target.RevisionStatus{}}
	t.mu.Lock()
	st.Routing = copyRouting(t.routing)
	for v, rv := range t.revs {
		rs := target.RevisionStatus{Version: v, Desired: rv.desired, StartFailed: rv.startFailed, Weight: t.routing.Weights[v]}
		for _, r := range rv.replicas {
			if r.proc.PID != 0 {
				rs.Running++
				procs = append(procs, procRef{v, r.proc.PID, r.proc.StartTime})
			}
			if r.ready {
				rs.Ready++
			}
			rs.Restarts += r.restarts
			if r.unstable >= crashLoopRestarts {
				rs.CrashLooping = true
			}
		}
		st.Revisions[v] = rs
	}
	for v, w := range t.routing.Weights {
		if _, ok := st.Revisions[v]; !ok {
			st.Revisions[v] = target.RevisionStatus{Version: v, Weight: w}
		}
	}
	t.mu.Unlock()

	now := time.Now()
	up, _ := uptime()
	seen := map[int]bool{}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range procs {
		ps, err := readProcStat(p.pid)
		if err != nil || ps.startTime != p.start {
			continue
		}
		seen[p.pid] = true
		rs := st.Revisions[p.version]
		if prev, ok := t.cpu[p.pid]; ok && now.Sub(prev.at) > 0 {
			rs.CPUPercent += float64(ps.cpuTicks-prev.ticks) / clockTicks / now.Sub(prev.at).Seconds() * 100
		} else if life := up - time.Duration(p.start)*time.Second/clockTicks; life > 0 {
			// First sample of this process: its average since it started.
			rs.CPUPercent += float64(ps.cpuTicks) / clockTicks / life.Seconds() * 100
		}
		t.cpu[p.pid] = cpuSample{ticks: ps.cpuTicks, at: now}
		rs.MemoryBytes += rssBytes(p.pid)
		st.Revisions[p.version] = rs
	}
	for pid := range t.cpu {
		if !seen[pid] {
			delete(t.cpu, pid)
		}
	}
	return st, ctx.Err()
}

// routesLocked is the routing table for the proxy: every version named by the routing, with the
// endpoints of its ready replicas only; t.mu is held.
func (t *Target) routesLocked() proxy.Routes {
	rt := proxy.Routes{
		Stable: t.routing.Stable, Canary: t.routing.Canary, Preview: t.routing.Preview,
		HoldTimeout: t.routing.HoldTimeout, Cut: t.routing.Cut,
	}
	var versions []string
	for v := range t.routing.Weights {
		versions = append(versions, v)
	}
	for _, v := range []string{rt.Stable, rt.Canary, rt.Preview} {
		if v != "" && !slices.Contains(versions, v) {
			versions = append(versions, v)
		}
	}
	slices.Sort(versions)
	for _, v := range versions {
		b := proxy.Backend{Version: v, Weight: t.routing.Weights[v], Endpoints: []string{}, Protocol: t.opts.UpstreamProtocol}
		if rv := t.revs[v]; rv != nil {
			idx := make([]int, 0, len(rv.replicas))
			for i := range rv.replicas {
				idx = append(idx, i)
			}
			slices.Sort(idx)
			for _, i := range idx {
				r := rv.replicas[i]
				if r.ready && !r.removing && r.proc.PID != 0 {
					b.Endpoints = append(b.Endpoints, net.JoinHostPort("127.0.0.1", strconv.Itoa(r.proc.Port)))
				}
			}
		}
		rt.Backends = append(rt.Backends, b)
		if b.Weight > 0 && len(b.Endpoints) == 0 && rt.HoldTimeout == 0 {
			// A version with traffic and no ready replica (restarting, scaling up): the proxy holds
			// its requests for a while rather than fail them at once (and refuses such a table
			// without a hold timeout).
			rt.HoldTimeout = defaultHold
		}
	}
	return rt
}

// defaultHold is how long the proxy holds a request for a weighted version with no ready replica,
// when the routing does not say.
const defaultHold = 3 * time.Second

// push sends the current routes to the proxy under a new generation. The generation is the wall
// clock in nanoseconds, kept above the last one used (persisted), so it grows across restarts.
func (t *Target) push(ctx context.Context) error {
	t.pushMu.Lock()
	defer t.pushMu.Unlock()
	t.mu.Lock()
	rt := t.routesLocked()
	t.lastGen = max(time.Now().UnixNano(), t.lastGen+1)
	rt.Generation = t.lastGen
	t.dirty = false
	t.mu.Unlock()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := t.client.SetRoutes(pctx, rt); err != nil {
		t.mu.Lock()
		t.dirty = true
		t.mu.Unlock()
		return fmt.Errorf("push routes to proxy: %w", err)
	}
	t.mu.Lock()
	t.saveLocked() // the generation, so that a restarted target continues above it
	t.mu.Unlock()
	return nil
}

// kickPush asks the sync loop to push the routes soon (readiness changed).
func (t *Target) kickPush() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// syncLoop pushes routes when readiness changes, retries a push that failed, starts the proxy
// again if it died, and rotates the logs.
func (t *Target) syncLoop() {
	defer t.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	logTick := time.NewTicker(t.opts.LogCheckEvery)
	defer logTick.Stop()
	t.rotateLogs() // the logs grew while no server ran
	for {
		select {
		case <-t.ctx.Done():
			return
		case <-logTick.C:
			t.rotateLogs()
			continue
		case <-t.kick:
		case <-tick.C:
			t.ensureProxy(t.ctx)
			t.mu.Lock()
			dirty := t.dirty
			t.mu.Unlock()
			if !dirty {
				continue
			}
		}
		if err := t.push(t.ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.opts.Logf("local target %s: %v", t.opts.Service, err)
		}
	}
}
