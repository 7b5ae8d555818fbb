package planner

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hugai-dev/hugai/internal/change"
	"github.com/hugai-dev/hugai/internal/criteria"
	"github.com/hugai-dev/hugai/internal/plan"
)

type decideFunc func(topic, choice, format string, args ...any)

// strategy lays out the steps for the chosen strategy. Pauses are multiples of the environment's
// analysis interval, so every weight is judged on at least two full windows.
func strategy(name, level string, env *plan.Env, decide decideFunc) plan.Strategy {
	iv := env.AnalysisInterval
	st := plan.Strategy{Type: name}
	switch name {
	case plan.StrategyCanary:
		var weights []int
		pauseMul := 2
		switch level {
		case "low":
			weights = []int{20, 100}
		case "medium":
			weights = []int{5, 25, 50, 100}
		case "high":
			weights, pauseMul = []int{5, 25, 50, 100}, 4
		default:
			weights, pauseMul = []int{1, 5, 10, 25, 50, 100}, 4
		}
		pause := plan.Seconds{Duration: plan.D(time.Duration(pauseMul) * iv)}
		c := &plan.CanaryStrategy{ScaleDownDelaySeconds: int(plan.DefaultScaleDownDelay / time.Second)}
		for i, w := range weights {
			step := plan.CanaryStep{SetWeight: ptr(w)}
			if w < 100 {
				step.Pause = &plan.Pause{Duration: ptr(pause)}
			}
			c.Steps = append(c.Steps, step)
			if i == 0 && (level == "high" || level == "critical") {
				c.Steps = append(c.Steps, plan.CanaryStep{Approval: &plan.ApprovalStep{
					Approvers: env.Policy.Approvers,
					Count:     max(env.Policy.ApprovalsRequired, 1),
					Timeout:   env.Policy.ApprovalTimeout,
				}})
			}
		}
		st.Canary = c
		decide("steps", weightsText(weights), "risk %s: weights %s, each held %s (%d× the analysis interval %s)",
			level, weightsText(weights), pause.Duration, pauseMul, plan.D(iv))
		if level == "high" || level == "critical" {
			decide("approval step", "after "+fmt.Sprint(weights[0])+"%", "risk %s: a person looks at the canary's numbers at %d%% before it grows", level, weights[0])
		}
	case plan.StrategyBlueGreen:
		auto := level != "critical"
		st.BlueGreen = &plan.BlueGreenStrategy{
			Switch:           plan.SwitchInstant,
			ValidationPeriod: ptr(plan.D(4 * iv)),
			ScaleDownDelay:   ptr(plan.D(plan.DefaultScaleDownDelay)),
			AutoSwitchBack:   ptr(true),
			AutoPromotion:    ptr(auto),
		}
		if auto {
			decide("promotion", "automatic", "risk %s: green is switched to once its health checks and smoke test pass", level)
		} else {
			decide("promotion", "manual", "risk critical: green waits for `hugai deploy promote` before any user traffic reaches it")
		}
	case plan.StrategyRolling:
		st.Rolling = &plan.RollingStrategy{MaxSurge: &plan.IntOrPercent{Value: 1}, MaxUnavailable: &plan.IntOrPercent{Value: 0}}
		decide("steps", "maxSurge 1, maxUnavailable 0", "replace one replica at a time, never below full capacity")
	case plan.StrategyRecreate:
		st.Recreate = &plan.RecreateStrategy{HoldTimeout: ptr(plan.D(plan.DefaultHoldTimeout))}
		decide("steps", "recreate", "the proxy holds requests up to %s while no version is ready", plan.D(plan.DefaultHoldTimeout))
	}
	return st
}

func weightsText(ws []int) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = fmt.Sprint(w)
	}
	return strings.Join(parts, "/")
}

func governance(env *plan.Env, level, window string, migrations []string, svc *plan.Service, decide decideFunc) *plan.Governance {
	g := &plan.Governance{}
	pol := env.Policy
	var reasons []string
	if pol.ApprovalRequiredAt(level) {
		reasons = append(reasons, fmt.Sprintf("risk %s is at or above the policy's requireApprovalFrom %s", level, pol.RequireApprovalFrom))
	}
	if window != "" {
		reasons = append(reasons, fmt.Sprintf("the deployment falls in the freeze window %q", window))
	}
	fourEyes, fourEyesWhy := pol.FourEyesOn(env.Name)
	if len(reasons) > 0 {
		reason := strings.Join(reasons, "; ")
		if fourEyes {
			reason += "; four-eyes: whoever starts the rollout may not approve it"
		}
		g.Approvals = append(g.Approvals, plan.Approval{
			Name:      env.Name + "-approval",
			Required:  true,
			Approvers: pol.Approvers,
			Count:     max(pol.ApprovalsRequired, 1),
			Timeout:   pol.ApprovalTimeout,
			Reason:    reason,
		})
		decide("approval", "required", "%s", reason)
	} else {
		decide("approval", "not required", "risk %s is below the policy's requireApprovalFrom %s and no freeze window is active", level, pol.RequireApprovalFrom)
	}
	choice := "off"
	if fourEyes {
		choice = "on"
	}
	decide("four-eyes", choice, "%s", fourEyesWhy)
	if len(env.HealthChecks) > 0 {
		g.Checkpoints = append(g.Checkpoints, plan.Checkpoint{
			Name: plan.CheckpointHealth, Required: true, Automated: true,
			Reason: fmt.Sprintf("%d health check(s) gate readiness: no traffic moves before", len(env.HealthChecks)),
		})
	}
	g.Checkpoints = append(g.Checkpoints, plan.Checkpoint{
		Name: "performance-validation", Required: true, Automated: true,
		Reason: "success criteria " + env.SuccessCriteria,
	})
	if len(svc.Spec.SmokeTest) > 0 {
		g.Checkpoints = append(g.Checkpoints, plan.Checkpoint{
			Name: "smoke-test", Required: true, Automated: true, Reason: "hugai.yaml spec.smokeTest",
		})
	}
	if len(migrations) > 0 {
		g.Checkpoints = append(g.Checkpoints, plan.Checkpoint{
			Name: "database-migration-review", Required: true, Automated: false,
			Reason: fmt.Sprintf("the release changes %d migration(s): %s", len(migrations), listShort(migrations)),
		})
	}
	return g
}

func rollback(env *plan.Env, migrations []string, svc *plan.Service, steps bool, decide decideFunc) *plan.Rollback {
	r := &plan.Rollback{Automatic: ptr(true)}
	errRate, p95 := criteriaThresholds(env.SuccessCriteria)
	if errRate != nil {
		r.Triggers = append(r.Triggers, plan.Trigger{ErrorRateThreshold: errRate})
	}
	if p95 != nil {
		r.Triggers = append(r.Triggers, plan.Trigger{LatencyThreshold: ptr(plan.D(*p95))})
	}
	if !steps {
		return r
	}
	r.Steps = append(r.Steps,
		plan.RollbackStep{Name: "traffic_routing", Action: plan.ActionRedirectTraffic, Target: "previous", MaxDuration: ptr(plan.D(30 * time.Second))},
		plan.RollbackStep{Name: "instance_rollback", Action: plan.ActionDeployPrevious, Target: "previous", MaxDuration: ptr(plan.D(5 * time.Minute))},
	)
	if len(migrations) > 0 {
		if db := svc.Spec.Database; db == nil || len(db.Rollback) == 0 {
			decide("database rollback", "none", "the release changes %d migration(s) but hugai.yaml has no spec.database.rollback: a rollback leaves the schema as the release's (add the command to get a database step)", len(migrations))
		} else {
			r.Steps = append(r.Steps, plan.RollbackStep{
				Name: "database_rollback", Action: plan.ActionDatabaseMigration, Target: "previous",
				MaxDuration: ptr(plan.D(2 * time.Minute)), RequiresApproval: true,
			})
			decide("database rollback", "requires approval", "the release changes %d migration(s) (%s); rolling the schema back can lose data, so a person approves it unless --emergency", len(migrations), listShort(migrations))
		}
	}
	checks := []string{"health_check"}
	if len(svc.Spec.SmokeTest) > 0 {
		checks = append(checks, "smoke_test")
	}
	r.Steps = append(r.Steps, plan.RollbackStep{Name: "verification", Action: plan.ActionVerify, Checks: checks, MaxDuration: ptr(plan.D(3 * time.Minute))})
	return r
}

func monitoring(svc *plan.Service, env *plan.Env) *plan.Monitoring {
	m := &plan.Monitoring{Enabled: ptr(true), HealthChecks: env.HealthChecks}
	if env.MonitorDuration > 0 {
		m.Duration = ptr(plan.D(env.MonitorDuration))
	}
	var names []string
	for _, mt := range svc.Spec.Metrics {
		names = append(names, mt.Name)
	}
	if conds, err := criteria.Parse(env.SuccessCriteria, criteria.WithMetrics(names...)); err == nil {
		var used []string
		for _, c := range conds {
			used = append(used, c.Metric)
		}
		m.Metrics = sortedUnique(used)
	}
	if len(svc.Spec.Notifications) > 0 {
		var channels []string
		for _, n := range svc.Spec.Notifications {
			ch := n.Type
			if n.Name != "" {
				ch = n.Name
			}
			channels = append(channels, ch)
		}
		m.Alerting = &plan.Alerting{Enabled: ptr(true), Channels: sortedUnique(channels)}
	}
	return m
}

func changes(cs *change.Set, note string) *plan.Changes {
	if cs == nil {
		return &plan.Changes{Note: note}
	}
	c := &plan.Changes{From: cs.From, To: cs.To, FromCommit: cs.FromHash, ToCommit: cs.ToHash, Commits: len(cs.Commits)}
	files := slices.Clone(cs.Files)
	for _, f := range files {
		c.Added += f.Added
		c.Deleted += f.Deleted
	}
	// Keep the largest changes when there are too many to review, then list them by path.
	sort.SliceStable(files, func(i, j int) bool {
		a, b := files[i].Added+files[i].Deleted, files[j].Added+files[j].Deleted
		if a != b {
			return a > b
		}
		return files[i].Path < files[j].Path
	})
	if len(files) > maxPlanFiles {
		c.OmittedFiles = len(files) - maxPlanFiles
		files = files[:maxPlanFiles]
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for _, f := range files {
		c.Files = append(c.Files, plan.ChangedFile{Path: f.Path, OldPath: f.OldPath, Class: string(f.Class), Added: f.Added, Deleted: f.Deleted})
	}
	return c
}

func listShort(xs []string) string {
	if len(xs) <= 3 {
		return strings.Join(xs, ", ")
	}
	return strings.Join(xs[:3], ", ") + fmt.Sprintf(" and %d more", len(xs)-3)
}

func ptr[T any](v T) *T { return &v }
