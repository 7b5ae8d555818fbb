package releaserun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/engine"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/release"
	"github.com/hugai-dev/hugai/internal/release/stages"
	"github.com/hugai-dev/hugai/internal/store"
)

// Execute checks a release and its stages and starts a run. Everything that can be refused is
// refused here, before anything changes: an unknown release, a release without a plan for a
// stage's environment, a service file without stages, a plan that does not run against it, a run
// of the same service still going.
func (r *Runner) Execute(ctx context.Context, actor string, req api.ReleaseExecuteRequest) (api.ReleaseRun, error) {
	if req.Tag == "" {
		return api.ReleaseRun{}, badInput("no release named: pass its version, e.g. 1.3.0")
	}
	rec, err := r.cfg.Store.ReleaseRecord(ctx, req.Tag)
	if errors.Is(err, store.ErrNotFound) {
		return api.ReleaseRun{}, badInput("no release %s is recorded in this server's data dir%s", req.Tag, r.knownTags(ctx))
	}
	if err != nil {
		return api.ReleaseRun{}, err
	}
	var rel release.Release
	if err := json.Unmarshal(rec.Document, &rel); err != nil {
		return api.ReleaseRun{}, fmt.Errorf("read release %s: %w", req.Tag, err)
	}
	if len(rel.Environments) == 0 || rel.Environments[0].Plan == nil {
		return api.ReleaseRun{}, badInput("release %s holds no deployment plans (%s): create it with the service file", req.Tag, rel.PlansNote)
	}
	first := rel.Environments[0].Plan.Spec
	sf := r.service(first.Service)
	if sf == nil {
		return api.ReleaseRun{}, badInput("release %s is of service %q, which this server does not serve (it serves %s)", req.Tag, first.Service, strings.Join(r.serviceNames(), ", "))
	}
	spec, err := stages.Compile(sf.Service, req.Tag, first.Version)
	if err != nil {
		return api.ReleaseRun{}, badInput("%s: %v", sf.Path, err)
	}
	doc := document{Schema: schema, Spec: spec}
	for i, st := range spec.Stages {
		if _, err := sf.Service.Env(st.Environment); err != nil {
			return api.ReleaseRun{}, badInput("%s: spec.release.stages[%d].environment: %v", sf.Path, i, err)
		}
		ep := planFor(rel, st.Environment)
		if ep == nil {
			return api.ReleaseRun{}, badInput("release %s holds no plan for environment %s, which stage %s deploys to (it holds %s): cut a new release with this service file",
				req.Tag, st.Environment, st.Name, strings.Join(planEnvs(rel), ", "))
		}
		y, err := plan.Marshal(ep)
		if err != nil {
			return api.ReleaseRun{}, fmt.Errorf("release %s: write the plan of %s: %w", req.Tag, st.Environment, err)
		}
		name := fmt.Sprintf("release %s (%s)", req.Tag, st.Environment)
		run, err := plan.ParseRun(name, y)
		if err != nil {
			return api.ReleaseRun{}, badInput("%v", err)
		}
		if errs := plan.CheckAgainst(name, run.Positions, run.Plan, run.Rename, sf.Service, st.Environment); len(errs) > 0 {
			return api.ReleaseRun{}, badInput("stage %s: the release's plan cannot run against %s:\n%v", st.Name, sf.Path, errs)
		}
		doc.Plans = append(doc.Plans, stagePlan{Environment: st.Environment, YAML: string(y)})
	}
	r.execMu.Lock()
	defer r.execMu.Unlock()
	active, err := r.cfg.Store.ReleaseRuns(ctx, store.ReleaseRunFilter{Active: true})
	if err != nil {
		return api.ReleaseRun{}, err
	}
	for _, a := range active {
		if a.Service == spec.Service {
			return api.ReleaseRun{}, &api.Error{Code: api.CodeConflict, Message: fmt.Sprintf("release run %s of %s (%s) is still %s: wait for it", a.ID, a.Tag, a.Service, a.Phase)}
		}
	}
	now := r.cfg.Clock.Now().UTC()
	doc.State = stages.New(spec, actor, now)
	b, err := json.Marshal(doc)
	if err != nil {
		return api.ReleaseRun{}, err
	}
	var names []string
	for _, st := range spec.Stages {
		names = append(names, st.Name+"→"+st.Environment)
	}
	payload, _ := json.Marshal(map[string]any{"service": spec.Service, "version": spec.Version, "stages": names})
	run, err := r.cfg.Store.CreateReleaseRun(ctx, store.ReleaseRun{Tag: req.Tag, Service: spec.Service, Phase: string(doc.State.Phase), Active: true,
		Document: b, CreatedBy: actor, CreatedAt: now, UpdatedAt: now}, []audit.Event{{Type: "release.executeRequested", Actor: actor, Time: now, Payload: payload}})
	if err != nil {
		return api.ReleaseRun{}, fmt.Errorf("start release %s: %w", req.Tag, err)
	}
	r.enqueue(run.ID)
	r.broadcast()
	return view(run), nil
}

func planFor(rel release.Release, env string) *plan.DeploymentPlan {
	for _, ep := range rel.Environments {
		if ep.Environment == env {
			return ep.Plan
		}
	}
	return nil
}

func planEnvs(rel release.Release) []string {
	var out []string
	for _, ep := range rel.Environments {
		out = append(out, ep.Environment)
	}
	return out
}

func (r *Runner) knownTags(ctx context.Context) string {
	recs, err := r.cfg.Store.ReleaseRecords(ctx, "*", 10)
	if err != nil || len(recs) == 0 {
		return " (none is: cut one with 'hugai release create')"
	}
	var tags []string
	for _, rec := range recs {
		tags = append(tags, rec.Tag)
	}
	sort.Strings(tags)
	return " (recorded: " + strings.Join(tags, ", ") + ")"
}

func (r *Runner) service(name string) *engine.ServiceFile {
	for _, sf := range r.cfg.Services {
		if sf.Service.Metadata.Name == name {
			return sf
		}
	}
	return nil
}

func (r *Runner) serviceNames() []string {
	var out []string
	for _, sf := range r.cfg.Services {
		out = append(out, sf.Service.Metadata.Name)
	}
	return slices.Sorted(slices.Values(out))
}

// Get returns a run as the API shows it.
func (r *Runner) Get(ctx context.Context, id string) (api.ReleaseRun, error) {
	run, err := r.cfg.Store.ReleaseRun(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return api.ReleaseRun{}, &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("no release run %q", id)}
	}
	if err != nil {
		return api.ReleaseRun{}, err
	}
	return view(run), nil
}

// List returns runs newest first: of one release when tag is set.
func (r *Runner) List(ctx context.Context, tag string, limit int) ([]api.ReleaseRun, error) {
	runs, err := r.cfg.Store.ReleaseRuns(ctx, store.ReleaseRunFilter{Tag: tag, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := []api.ReleaseRun{}
	for _, run := range runs {
		out = append(out, view(run))
	}
	return out, nil
}

// Wait blocks until the run's revision passes afterRevision, or ctx ends (then it answers the run
// as it is).
func (r *Runner) Wait(ctx context.Context, id string, afterRevision int64) (api.ReleaseRun, error) {
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		v, err := r.Get(ctx, id)
		if err != nil || v.Revision > afterRevision {
			return v, err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return r.Get(context.WithoutCancel(ctx), id)
		}
	}
}

// view is a run as the API shows it; one whose document cannot be read shows what the store's
// columns say, and why.
func view(run store.ReleaseRun) api.ReleaseRun {
	doc, err := decode(run)
	if err != nil {
		v := api.ReleaseRun{ID: run.ID, Tag: run.Tag, Service: run.Service, Phase: run.Phase, Reason: "invalid-state", Message: err.Error(),
			Revision: run.Revision, CreatedBy: run.CreatedBy, CreatedAt: run.CreatedAt, UpdatedAt: run.UpdatedAt, Terminal: !run.Active}
		if v.Terminal {
			v.ExitCode = stages.Phase(run.Phase).ExitCode()
		}
		return v
	}
	st := doc.State
	v := api.ReleaseRun{ID: run.ID, Tag: run.Tag, Service: run.Service, Version: doc.Spec.Version, Phase: string(st.Phase),
		Reason: st.Reason, Message: st.Message, Current: st.Current, Revision: run.Revision, CreatedBy: run.CreatedBy,
		CreatedAt: run.CreatedAt, UpdatedAt: run.UpdatedAt, FinishedAt: st.FinishedAt, Terminal: st.Phase.Terminal()}
	if v.Terminal {
		v.ExitCode = st.Phase.ExitCode()
	}
	for i, ss := range st.Stages {
		s := api.ReleaseStage{StageState: ss}
		if i < len(doc.Spec.Stages) {
			sp := doc.Spec.Stages[i]
			s.PreChecks, s.Validation, s.Approval = sp.PreChecks, sp.Validation, sp.Approval
		}
		v.Stages = append(v.Stages, s)
	}
	return v
}

func badInput(format string, args ...any) error {
	return &api.Error{Code: api.CodeBadInput, Message: fmt.Sprintf(format, args...)}
}
