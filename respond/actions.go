package respond

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// Names of the containment actions, as typed in the space.
const (
	ActionDeactivate     = "deactivate"
	ActionReactivate     = "reactivate"
	ActionRevokeSessions = "revoke-sessions"
	ActionLiftRevoke     = "lift-revoke"
	ActionQuarantine     = "quarantine"
	ActionRelease        = "release"
	ActionDenyAll        = "deny-all"
	ActionLiftDenyAll    = "lift-deny-all"
	ActionCleanup        = "cleanup"
	ActionRevokeConsole  = "revoke-console"
	ActionLiftConsole    = "lift-console"
	ActionClose          = "close-doors"
	ActionReopen         = "reopen-doors"
	ActionDeleteKey      = "delete-key"
)

// actionDef is one row of the table of actions.
type actionDef struct {
	name, usage, summary string
	undo                 string // the action that reverses it
	remains              string // what is left to do once it succeeded (commands.ActionSpec.Remains)
	irreversible         bool
	params               func(args []string, inc state.Incident) (map[string]string, error)
	// contains: once it succeeded, the attacker should be cut off, so
	// verify and the watch count calls from then on.
	contains bool
	// onCard: the incident card offers its dry run.
	onCard bool
}

// actionTable is every containment action, in the order of the help: the
// one place that says what each is.
var actionTable = []actionDef{
	{name: ActionDeactivate, summary: "set the leaked key Inactive (reactivate undoes it)", undo: ActionReactivate,
		remains: "Delete the deactivated key once nothing legitimate needs it (delete-key), and give its owner a new one", contains: true, onCard: true},
	{name: ActionReactivate, usage: "[request ID]", summary: "set the key Active again (undoes deactivate)", params: undoParams},
	{name: ActionRevokeSessions, usage: "[role ARN…] [--outside-tree]", undo: ActionLiftRevoke, params: roleParams, contains: true, onCard: true,
		summary: "refuse every session issued before now, on the user and on each role its sessions assumed; newer sessions keep working"},
	{name: ActionLiftRevoke, usage: "[role ARN…] [request ID]", summary: "remove keyleak's session revocation (undoes revoke-sessions)", params: roleParams},
	{name: ActionRevokeConsole, usage: "[user ARN…]", undo: ActionLiftConsole, params: userParams, contains: true,
		summary: "revoke the console sessions of users the attacker signed in as: AWS Sign-In revokes their sign-in sessions, and a deny refuses the console credentials issued before now (lift-console undoes the deny)"},
	{name: ActionLiftConsole, usage: "[request ID]", params: undoParams, summary: "remove keyleak's console deny (undoes revoke-console; revoked sign-in sessions stay revoked)"},
	{name: ActionQuarantine, summary: "attach the newest AWSCompromisedKeyQuarantineV* the account has to the key's user, and say what it leaves possible (release undoes it)", undo: ActionRelease,
		remains: "quarantine is still in force on the owner (" + commands.RemainsID + "): release it when the investigation is done", contains: true, onCard: true},
	{name: ActionRelease, usage: "[request ID]", summary: "detach the quarantine policy (undoes quarantine)", params: undoParams},
	{name: ActionDenyAll, summary: "deny every action of the key's user with an inline policy (lift-deny-all undoes it)", undo: ActionLiftDenyAll,
		remains: "deny-all is still in force on the owner (" + commands.RemainsID + "): release it when the investigation is done", contains: true},
	{name: ActionLiftDenyAll, usage: "[request ID]", summary: "remove keyleak's deny-all policy (undoes deny-all)", params: undoParams},
	{name: ActionCleanup, usage: "<resource ID>…", irreversible: true, params: cleanupParams,
		summary: "delete what the attacker created (instances, spot requests, functions, users, roles, keys, passwords, service credentials, identity providers, trust anchors, EKS access entries, secrets, Identity Center assignments), one by one, each with its evidence"},
	{name: ActionClose, usage: "<resource ID>… | all", undo: ActionReopen, params: closeParams, contains: true,
		summary: "close the doors the attacker opened on resources not its own: shares, policy statements (buckets, keys, secrets, functions, repositories, topics, queues), trust entries, open ingress rules, grants, public ACLs, function URLs and replication to outside buckets, each with its evidence (reopen-doors undoes it)"},
	{name: ActionReopen, usage: "[request ID]", params: undoParams,
		summary: "put back exactly what close-doors changed (undoes close-doors)"},
	{name: ActionDeleteKey, irreversible: true, summary: "delete the leaked key once it is Inactive", contains: true},
}

// containing reports whether the action called name contains: after it
// succeeded, calls by the key or its sessions mean the attacker goes on.
func containing(name string) bool {
	i := slices.IndexFunc(actionTable, func(d actionDef) bool { return d.name == name })
	return i >= 0 && actionTable[i].contains
}

// Actions are the containment actions for the approval engine.
func (r *Responder) Actions() []commands.ActionSpec {
	out := make([]commands.ActionSpec, 0, len(actionTable))
	for _, d := range actionTable {
		out = append(out, commands.ActionSpec{Name: d.name, Usage: d.usage, Summary: d.summary, Undo: d.undo, Remains: d.remains,
			Irreversible: d.irreversible, Params: d.params, Executor: r.executor(d.name)})
	}
	return out
}

// executor plans and runs the action called name in AWS; nil for a name
// the table does not have (the engine refuses it).
func (r *Responder) executor(name string) commands.Executor {
	c, f := r.cfg.AWS, r.findings
	simple := func(plan func(context.Context, awsops.Target) (awsops.ActionPlan, error), exec func(context.Context, awsops.Target) (awsops.Result, error)) *containExecutor {
		return &containExecutor{c: c,
			plan: func(ctx context.Context, _ state.Incident, t awsops.Target, _ map[string]string) (awsops.ActionPlan, error) {
				return plan(ctx, t)
			},
			exec: func(ctx context.Context, t awsops.Target, _ map[string]string) (awsops.Result, error) {
				return exec(ctx, t)
			},
		}
	}
	withParams := func(plan func(context.Context, awsops.Target) (awsops.ActionPlan, error), exec func(context.Context, awsops.Target, map[string]string) (awsops.Result, error)) *containExecutor {
		e := simple(plan, nil)
		e.exec = exec
		return e
	}
	switch name {
	case ActionDeactivate:
		return simple(c.PlanDeactivate, c.ExecuteDeactivate)
	case ActionReactivate:
		return r.undoing(simple(c.PlanReactivate, c.ExecuteReactivate), ActionDeactivate)
	case ActionRevokeSessions:
		e := withParams(c.PlanRevokeSessions, c.ExecuteRevokeSessions)
		e.roles = f.roles
		return e
	case ActionLiftRevoke:
		e := withParams(c.PlanLiftRevoke, c.ExecuteLiftRevoke)
		e.roles = f.roles
		return r.undoing(e, ActionRevokeSessions)
	case ActionQuarantine:
		return withParams(c.PlanQuarantine, c.ExecuteQuarantine)
	case ActionRelease:
		return r.undoing(simple(c.PlanRelease, c.ExecuteRelease), ActionQuarantine)
	case ActionDenyAll:
		return simple(c.PlanDenyAll, c.ExecuteDenyAll)
	case ActionLiftDenyAll:
		return r.undoing(withParams(c.PlanLiftDenyAll, c.ExecuteLiftDenyAll), ActionDenyAll)
	case ActionCleanup:
		e := &containExecutor{c: c, exec: c.ExecuteCleanup}
		e.plan = func(ctx context.Context, inc state.Incident, t awsops.Target, params map[string]string) (awsops.ActionPlan, error) {
			items, err := pickResources(ctx, f.resources, inc, requestedResources(params))
			if err != nil {
				return awsops.ActionPlan{}, err
			}
			return c.PlanCleanup(ctx, t, items)
		}
		return e
	case ActionRevokeConsole:
		e := &containExecutor{c: c, exec: c.ExecuteRevokeConsole}
		e.plan = func(ctx context.Context, inc state.Incident, t awsops.Target, params map[string]string) (awsops.ActionPlan, error) {
			users := strings.Fields(params[paramRequested])
			if len(users) == 0 {
				var err error
				if users, err = f.consoleUsers(ctx, inc); err != nil {
					return awsops.ActionPlan{}, err
				}
			}
			return c.PlanRevokeConsole(ctx, t, users)
		}
		return e
	case ActionLiftConsole:
		e := &containExecutor{c: c, exec: c.ExecuteLiftConsole}
		e.plan = func(ctx context.Context, inc state.Incident, t awsops.Target, params map[string]string) (awsops.ActionPlan, error) {
			revoked, err := r.undone(inc, ActionRevokeConsole, params[commands.ParamUndoOf])
			if err != nil {
				return awsops.ActionPlan{}, err
			}
			p, err := c.PlanLiftConsole(ctx, t, revoked.Params)
			if err == nil && p.Params != nil {
				p.Params[commands.ParamUndoOf] = revoked.ID
			}
			return p, err
		}
		return e
	case ActionClose:
		e := &containExecutor{c: c, exec: c.ExecuteClose}
		e.plan = func(ctx context.Context, inc state.Incident, t awsops.Target, params map[string]string) (awsops.ActionPlan, error) {
			items, err := pickDoors(ctx, f.doors, inc, requestedResources(params))
			if err != nil {
				return awsops.ActionPlan{}, err
			}
			t.Tree = f.derivedKeys(inc.ID)
			return c.PlanClose(ctx, t, items)
		}
		return e
	case ActionReopen:
		e := &containExecutor{c: c, exec: c.ExecuteReopen}
		e.plan = func(ctx context.Context, inc state.Incident, t awsops.Target, params map[string]string) (awsops.ActionPlan, error) {
			closed, err := r.undone(inc, ActionClose, params[commands.ParamUndoOf])
			if err != nil {
				return awsops.ActionPlan{}, err
			}
			p, err := c.PlanReopen(ctx, t, closed.Params)
			if err == nil && p.Params != nil {
				p.Params[commands.ParamUndoOf] = closed.ID
			}
			return p, err
		}
		return e
	case ActionDeleteKey:
		return simple(c.PlanDeleteKey, c.ExecuteDeleteKey)
	}
	return nil
}

// undoing makes e's plan name the request it reverses, so that the
// report counts that one undone: the request typed, which must be an
// of that succeeded, or else the latest of that is not undone yet. With
// none (the key deactivated outside keyleak, say) it reverses nothing of
// keyleak's, and runs all the same.
func (r *Responder) undoing(e *containExecutor, of string) *containExecutor {
	plan := e.plan
	e.plan = func(ctx context.Context, inc state.Incident, t awsops.Target, params map[string]string) (awsops.ActionPlan, error) {
		id := params[commands.ParamUndoOf]
		orig, err := r.undone(inc, of, id)
		var user *commands.UserError
		switch {
		case err != nil && (id != "" || !errors.As(err, &user)):
			return awsops.ActionPlan{}, err
		case err != nil:
			orig = state.Action{}
		}
		p, err := plan(ctx, inc, t, params)
		if err == nil && orig.ID != "" {
			if p.Params == nil {
				p.Params = map[string]string{}
			}
			p.Params[commands.ParamUndoOf] = orig.ID
		}
		return p, err
	}
	return e
}

// undone is the action an undo reverses: the one named, or the latest of
// kind name that succeeded and is not undone yet.
func (r *Responder) undone(inc state.Incident, name, id string) (state.Action, error) {
	var actions []state.Action
	if err := r.cfg.Store.View(func(tx *state.Tx) (err error) { actions, err = tx.Actions(inc.ID); return err }); err != nil {
		return state.Action{}, err
	}
	for i := len(actions) - 1; i >= 0; i-- {
		a := actions[i]
		switch {
		case id != "" && a.ID != id:
		case a.Name != name:
			if id != "" {
				return state.Action{}, commands.Userf("%s is a %s request, not %s", id, a.Name, name)
			}
		case a.Status != state.ActionSucceeded:
			if id != "" {
				return state.Action{}, commands.Userf("%s did not succeed (%s): there is nothing to undo", id, a.Status)
			}
		case a.Undone != "":
			if id != "" {
				return state.Action{}, commands.Userf("%s was already undone by %s", id, a.Undone)
			}
		default:
			return a, nil
		}
	}
	if id != "" {
		return state.Action{}, commands.Userf("there is no request %s in %s", id, inc.ID)
	}
	return state.Action{}, commands.Userf("no %s has succeeded in %s that is not undone yet", name, inc.ID)
}
