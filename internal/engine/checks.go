package engine

import (
	"context"

	"github.com/hugai-dev/hugai/internal/plan"
)

// RunCheck runs one of a release stage's checks in a service environment, as a rollout's
// automated checkpoints run: smoke-test against the environment's live address, any other name
// as the service file's spec.checkpoints command (through the target: marked, logged, found
// again after a crash). err is a check that could not be run at all (an unknown environment).
func (e *Engine) RunCheck(ctx context.Context, service, env, name string) (passed bool, output string, err error) {
	rt, err := e.runtime(ctx, service, env)
	if err != nil {
		return false, "", err
	}
	if name == plan.CheckpointSmokeTest {
		if rt.rt.SmokeTest == nil {
			return false, "the service has no smoke test (spec.smokeTest)", nil
		}
		passed, output = rt.rt.SmokeTest(ctx, false)
		return passed, output, nil
	}
	if rt.rt.Run == nil {
		return false, "this target cannot run commands", nil
	}
	passed, output = rt.rt.Run(ctx, name)
	return passed, output, nil
}
