package rollout

// Checkpoints are the plan's quality gates (spec.governance.checkpoints, and a HugAIDeployment's
// strategy.governance.qualityGates), each honoured as its kind says:
//
//	manual, required    a start gate: the rollout waits, before anything is deployed, for
//	                    `hugai deploy approve ID --gate NAME` as for an approval;
//	manual, optional    shown, and signed off with the same command at any time; never waits;
//	health-check        the candidate's readiness by the service's health checks, which no
//	                    traffic moves before;
//	performance-*       the analysis: passed once the success criteria held at full traffic;
//	smoke-test          the service's smoke test against the candidate alone (the preview
//	                    route) before any traffic moves (canary, blue-green), or against the new
//	                    version once it serves (rolling, recreate: they have no preview);
//	anything else       the command the service file gives it (spec.checkpoints), run after
//	                    the start gates and before anything is deployed — with database.migrate
//	                    after them when the release changed migrations (Spec.Runs).
//
// An automated checkpoint hugai cannot run is refused before anything starts (plan.CheckAgainst,
// and Compile as the last line).

import (
	"fmt"
	"slices"
	"time"

	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/policy"
)

// How a checkpoint is honoured.
const (
	CheckpointGate      = "gate"
	CheckpointSignOff   = "sign-off"
	CheckpointReadiness = "readiness"
	CheckpointAnalysis  = "analysis"
	CheckpointSmoke     = "smoke-test"
	CheckpointCommand   = "command"
)

// CheckpointSpec is one of the plan's checkpoints and how it is honoured.
type CheckpointSpec struct {
	Name     string `json:"name"`
	Required bool   `json:"required"`
	How      string `json:"how"`
	// Approvers may sign off an optional manual checkpoint (the policy's; none: anyone holding
	// Role, which is approver unless policy.checkpointRoles says otherwise).
	Approvers []string    `json:"approvers,omitempty"`
	Role      policy.Role `json:"role,omitempty"`
}

// RunMigrate is the name of the run of the service file's database.migrate.
const RunMigrate = "database-migrate"

// RunSpec is a command the engine runs before anything is deployed: an automated checkpoint's
// (by its name, from the service file's spec.checkpoints) or database.migrate (RunMigrate).
type RunSpec struct {
	Name string `json:"name"`
	// Optional: a failure is recorded and the rollout goes on.
	Optional bool `json:"optional,omitempty"`
}

// ReasonCheckpoint ends a rollout whose required checkpoint command failed before anything was
// deployed.
const ReasonCheckpoint = "checkpoint"

func (s *Spec) compileCheckpoints(p *plan.DeploymentPlan, svc *plan.Service, env *plan.Env, approvalTimeout time.Duration) error {
	var cps []plan.Checkpoint
	if g := p.Spec.Governance; g != nil {
		cps = append(cps, g.Checkpoints...)
	}
	if g := p.Spec.Strategy.Governance; g != nil {
		for _, name := range g.QualityGates {
			cps = append(cps, plan.Checkpoint{Name: name, Required: true, Automated: true})
		}
	}
	smokeStep := false
	for _, cp := range cps {
		if slices.ContainsFunc(s.Checkpoints, func(c CheckpointSpec) bool { return c.Name == cp.Name }) {
			continue // named twice (a plan's checkpoint and a quality gate): honoured once
		}
		c := CheckpointSpec{Name: cp.Name, Required: cp.Required}
		switch {
		case !cp.Automated && cp.Required:
			c.How = CheckpointGate
			g := gateOf(cp.Name, env.Policy.Approvers, env.Policy.ApprovalsRequired, nil, approvalTimeout)
			g.Role = s.Policy.ApprovalRole(cp.Name)
			s.Gates = append(s.Gates, g)
		case !cp.Automated:
			c.How, c.Approvers, c.Role = CheckpointSignOff, env.Policy.Approvers, s.Policy.ApprovalRole(cp.Name)
		case cp.Name == plan.CheckpointHealth:
			if len(env.HealthChecks) == 0 {
				return fmt.Errorf("checkpoint %s: the service file has no spec.healthChecks to run", cp.Name)
			}
			c.How = CheckpointReadiness
		case cp.Name == plan.CheckpointPerformanceValidation || cp.Name == plan.CheckpointPerformanceTest:
			c.How = CheckpointAnalysis
		case cp.Name == plan.CheckpointSmokeTest:
			if len(svc.Spec.SmokeTest) == 0 {
				return fmt.Errorf("checkpoint %s: the service file has no spec.smokeTest to run", cp.Name)
			}
			c.How = CheckpointSmoke
			smokeStep = true
		default:
			if _, ok := svc.Spec.Checkpoints[cp.Name]; !ok {
				return fmt.Errorf("automated checkpoint %q is not one hugai runs: give it a command in the service file's spec.checkpoints", cp.Name)
			}
			c.How = CheckpointCommand
			s.Runs = append(s.Runs, RunSpec{Name: cp.Name, Optional: !cp.Required})
		}
		s.Checkpoints = append(s.Checkpoints, c)
	}
	if smokeStep {
		switch s.Strategy {
		case plan.StrategyCanary:
			// Before the first weight: the candidate alone, on the preview route.
			s.Steps = append([]StepSpec{{Kind: KindSmokeTest}}, s.Steps...)
			s.SmokeTest = true
		case plan.StrategyBlueGreen:
			// compileBlueGreen put the smoke test before the switch.
		default:
			s.SmokeInWatch = true
		}
	}
	// A release that changed migrations (its plan rolls the database back) runs the service's
	// migration once its checkpoints are signed off, before anything is deployed.
	if db := svc.Spec.Database; db != nil && len(db.Migrate) > 0 && planMigrates(p) {
		s.Runs = append(s.Runs, RunSpec{Name: RunMigrate})
	}
	return nil
}

// planMigrates reports whether the plan says the release changed migrations: it has the
// database rollback step.
func planMigrates(p *plan.DeploymentPlan) bool {
	if r := p.Spec.Rollback; r != nil {
		for _, st := range r.Steps {
			if st.Action == plan.ActionDatabaseMigration {
				return true
			}
		}
	}
	return false
}

// runs carries out Spec.Runs one by one; it reports whether all are done. A required run that
// fails aborts the rollout: nothing was deployed, so there is nothing to roll back.
func (p *stepper) runs() bool {
	s := &p.s
	for s.RunIndex < len(p.spec.Runs) {
		run := p.spec.Runs[s.RunIndex]
		if s.RunRequestedAt == nil {
			t := p.now
			s.RunRequestedAt = &t
			p.setPhase(Progressing, "", fmt.Sprintf("running %s before anything is deployed", run.Name))
			p.emit("rollout.run", "", map[string]any{"name": run.Name, "id": RunID(s.RunIndex, t)})
			p.wake(notReadyPoll)
			return false
		}
		id := RunID(s.RunIndex, *s.RunRequestedAt)
		r := p.obs.Run
		if r == nil || r.ID != id {
			p.wake(notReadyPoll)
			return false
		}
		p.emit("rollout.runResult", "", map[string]any{"name": run.Name, "id": id, "passed": r.Passed, "optional": run.Optional, "output": lastLines(r.Output, 50)})
		s.RunRequestedAt = nil
		s.RunIndex++
		if !r.Passed && !run.Optional {
			p.setPhase(Aborted, ReasonCheckpoint, fmt.Sprintf("%s failed before anything was deployed: %s", run.Name, lastLines(r.Output, 3)))
			return false
		}
	}
	return true
}

// signOff records a person's sign-off of an optional manual checkpoint.
func (p *stepper) signOff(c *Command) {
	p.s.SignOffs = append(p.s.SignOffs, SignOff{Checkpoint: c.Gate, Actor: c.Actor, Comment: c.Comment, At: p.now})
	payload := map[string]any{"checkpoint": c.Gate}
	if c.Comment != "" {
		payload["comment"] = c.Comment
	}
	p.emit("rollout.signedOff", c.Actor, payload)
}

// checkpointsPassed audits the automated checkpoints honoured by how: readiness once the
// candidate is ready, analysis once it was judged at full traffic.
func (p *stepper) checkpointsPassed(how string) {
	for _, c := range p.spec.Checkpoints {
		if c.How == how {
			p.emit("rollout.checkpoint", "", map[string]any{"name": c.Name, "how": how, "passed": true})
		}
	}
}

// signOffCheckpoint is the optional manual checkpoint called name, if the spec has one.
func (s Spec) signOffCheckpoint(name string) (CheckpointSpec, bool) {
	i := slices.IndexFunc(s.Checkpoints, func(c CheckpointSpec) bool { return c.Name == name && c.How == CheckpointSignOff })
	if i < 0 {
		return CheckpointSpec{}, false
	}
	return s.Checkpoints[i], true
}
