package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/policy"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/store"
)

// authOf is how who authenticated and from where, as every audit event of theirs records it (in
// the payload, which the event's hash covers).
func authOf(who policy.Identity) map[string]any {
	a := map[string]any{"via": orUnknown(who.Via)}
	if who.From != "" {
		a["from"] = who.From
	}
	if who.Token != "" {
		a["token"] = who.Token
	}
	return a
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// stamp adds who's authentication to the payload of each event they caused.
func stamp(events []rollout.Event, who policy.Identity) {
	for i := range events {
		if events[i].Actor == "" || events[i].Actor != who.Name {
			continue
		}
		if events[i].Payload == nil {
			events[i].Payload = map[string]any{}
		}
		events[i].Payload["auth"] = authOf(who)
	}
}

// refuse answers a policy's refusal and audits it first: a compliance team must see who tried.
// An audit that cannot be written fails the request, so no refusal goes unrecorded.
func (e *Engine) refuse(ctx context.Context, subject, action string, who policy.Identity, rule, reason string) error {
	payload, _ := json.Marshal(map[string]any{"action": action, "rule": rule, "reason": reason, "auth": authOf(who)})
	ev := audit.Event{Subject: subject, Type: "policy.denied", Actor: orUnknown(who.Name), Time: e.cfg.Clock.Now().UTC(), Payload: payload}
	if _, err := e.cfg.Store.Commit(ctx, store.Tx{Events: []audit.Event{ev}}); err != nil {
		return fmt.Errorf("audit a refusal: %w", err)
	}
	return deniedErr(rule, reason)
}

// deniedErr is the API's form of a refusal: its message names the rule and gives the reason.
func deniedErr(rule, reason string) error {
	return &api.Error{Code: api.CodeDenied, Message: fmt.Sprintf("denied by %s: %s", rule, reason)}
}

// admit decides whether who may start a rollout of spec in env now: the deployer role, and no
// freeze window unless an admin overrides it with a reason. It returns the audit events of what
// it allowed that needs recording (an override), to be committed with the rollout.
func (e *Engine) admit(ctx context.Context, subject string, who policy.Identity, spec rollout.Spec, env *plan.Env, override string, now time.Time) ([]audit.Event, error) {
	if d := spec.Policy.Require(who, policy.Deployer, "start a rollout"); !d.Allowed {
		return nil, e.refuse(ctx, subject, "start", who, d.Rule, d.Reason)
	}
	var ws []policy.Window
	for _, w := range env.Policy.FreezeWindows {
		ws = append(ws, policy.Window{Name: w.Name, Start: w.Start, Duration: w.Duration.Duration})
	}
	d, err := spec.Policy.Freeze(ws, now, env.Location, who, override)
	if err != nil {
		return nil, badInput("environment %s: %v", env.Name, err)
	}
	if !d.Allowed {
		return nil, e.refuse(ctx, subject, "start", who, d.Rule, d.Reason)
	}
	if !d.Override {
		return nil, nil
	}
	payload, _ := json.Marshal(map[string]any{"environment": env.Name, "reason": override, "decision": d.Reason, "auth": authOf(who)})
	return []audit.Event{{Type: "policy.freezeOverridden", Actor: who.Name, Time: now, Payload: payload}}, nil
}

// commandDenied audits and answers a command the policy refused; any other error passes through.
func (e *Engine) commandDenied(ctx context.Context, r store.Rollout, who policy.Identity, kind rollout.CommandKind, err error) error {
	var ce *rollout.CommandError
	if !errors.As(err, &ce) || !ce.Denied {
		return err
	}
	rule := ce.Rule
	if rule == "" {
		rule = policy.RuleApprovers
	}
	return e.refuse(ctx, "rollout/"+r.ID, string(kind), who, rule, ce.Msg)
}

// Policies are the rules of every environment this engine serves, as the service files say now,
// each naming its service. A service that declares no environments is open in the ones it accepts.
func (e *Engine) Policies() ([]policy.Rules, error) {
	var out []policy.Rules
	for _, sf := range e.cfg.Services {
		for _, name := range envNames(sf.Service) {
			env, err := sf.Service.Env(name)
			if err != nil {
				return nil, err
			}
			r, err := env.Policy.Rules(name)
			if err != nil {
				return nil, err
			}
			r.Service = sf.Service.Metadata.Name
			out = append(out, r)
		}
	}
	return out, nil
}

// ByName drives the engine for callers known only by name: a release run acts for the person
// who executed the release long after that request is gone, so it is judged as the user of that
// name (the policy's principals naming their groups do not reach it), via "release".
type ByName struct{ *Engine }

// Start starts a rollout for actor.
func (b ByName) Start(ctx context.Context, actor string, req api.StartRequest) (api.Rollout, error) {
	return b.Engine.Start(ctx, policy.Identity{Name: actor, Via: "release"}, req)
}

// Do applies actor's command.
func (b ByName) Do(ctx context.Context, id, actor string, cmd api.Command) (api.Rollout, error) {
	return b.Engine.Do(ctx, id, policy.Identity{Name: actor, Via: "release"}, cmd)
}
