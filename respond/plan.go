package respond

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// planStep is one action a containment plan calls for.
type planStep struct {
	name string
	args []string
	// last: listed, but left out of a requested batch (it must come after
	// verify, and cannot be undone).
	last bool
}

// planSteps are the actions the findings call for, in the order that cuts
// the attacker off soonest and breaks the least: the key, its sessions,
// the console, the quarantine, then the doors it opened and what it made,
// and the key's deletion once verify says contained. Actions that
// succeeded and were not undone are left out.
func (r *Responder) planSteps(ctx context.Context, inc state.Incident) ([]planStep, error) {
	inv, err := r.findings.loadDone(inc.ID, "The investigation has not finished, so keyleak cannot say what containment takes yet. Wait for the findings, or act on the key now: deactivate, revoke-sessions.")
	if err != nil {
		return nil, err
	}
	var actions []state.Action
	if err := r.cfg.Store.View(func(tx *state.Tx) (err error) { actions, err = tx.Actions(inc.ID); return err }); err != nil {
		return nil, err
	}
	done := func(name string) bool {
		return slices.ContainsFunc(actions, func(a state.Action) bool {
			return a.Name == name && a.Status == state.ActionSucceeded && a.Undone == ""
		})
	}
	id := inv.Identity
	longTerm := !id.Root && !id.Temporary && id.UserName != ""
	var steps []planStep
	add := func(s planStep) {
		if !done(s.name) {
			steps = append(steps, s)
		}
	}
	if longTerm && id.Status != "Inactive" && id.Status != awsops.KeyStatusDeleted {
		add(planStep{name: ActionDeactivate})
	}
	if len(inv.Sessions) > 1 || longTerm {
		add(planStep{name: ActionRevokeSessions})
	}
	if users, err := r.findings.consoleUsers(ctx, inc); err == nil && len(users) > 0 {
		add(planStep{name: ActionRevokeConsole})
	}
	if longTerm {
		add(planStep{name: ActionQuarantine})
	}
	var doors, made []string
	for _, x := range inv.Resources {
		if x.Exists == awsops.ExistsNo {
			continue
		}
		if d, ok := awsops.DoorOf(x); ok && !slices.Contains(doors, cmpID(d.ID, d.On)) {
			doors = append(doors, cmpID(d.ID, d.On))
		}
		if it, ok := awsops.CleanupOf(x); ok && !slices.Contains(made, it.ID) {
			made = append(made, it.ID)
		}
	}
	if len(doors) > 0 {
		steps = append(steps, planStep{name: ActionClose, args: doors})
	}
	if len(made) > 0 {
		steps = append(steps, planStep{name: ActionCleanup, args: made})
	}
	if longTerm && id.Status != awsops.KeyStatusDeleted {
		add(planStep{name: ActionDeleteKey, last: true})
	}
	return steps, nil
}

func cmpID(id, on string) string {
	if id != "" {
		return id
	}
	return on
}

// PlanCommand is "plan [request]": every action the findings call for, in
// order, each with its dry run's calls and what it costs the legitimate
// workload; "plan request" requests them as one batch.
func (r *Responder) PlanCommand(engine *commands.Engine) commands.Command {
	return commands.Command{
		Name: "plan", Usage: "[request]", Scope: commands.InSpace, NeedsIncident: true,
		Summary: "list every containment action the findings call for, in order, with what each costs the legitimate workload; `plan request` requests them as one batch",
		Run: func(ctx context.Context, req commands.Request) (commands.Reply, error) {
			request := len(req.Args) == 1 && req.Args[0] == "request"
			if len(req.Args) > 0 && !request {
				return commands.Reply{}, commands.Userf("plan takes nothing, or `request` to request every listed action as one batch.")
			}
			var inc state.Incident
			if err := r.cfg.Store.View(func(tx *state.Tx) (err error) { inc, err = tx.Incident(req.Incident); return err }); err != nil {
				return commands.Reply{}, err
			}
			steps, err := r.planSteps(ctx, inc)
			if err != nil {
				return commands.Reply{}, err
			}
			if len(steps) == 0 {
				return commands.Reply{Text: "Nothing left to do: every action the findings call for has succeeded. Run verify.", Private: true}, nil
			}
			if request {
				var items []commands.BatchItem
				for _, s := range steps {
					if !s.last {
						items = append(items, commands.BatchItem{Name: s.name, Args: s.args})
					}
				}
				return engine.RequestBatch(ctx, req, items)
			}
			return r.planReply(ctx, inc, steps), nil
		},
	}
}

// planReply shows each step with its dry run.
func (r *Responder) planReply(ctx context.Context, inc state.Incident, steps []planStep) commands.Reply {
	reply := commands.Reply{Title: "Containment plan: " + inc.ID, Private: true,
		Text: "In this order. Request each one (its dry run with --dry-run), or all but the last with `plan request`, which a second responder approves with `approve-batch`."}
	for i, s := range steps {
		line := strings.TrimSpace(s.name + " " + strings.Join(s.args, " "))
		sec := commands.Section{Title: fmt.Sprintf("%d. %s", i+1, line)}
		d := slices.IndexFunc(actionTable, func(a actionDef) bool { return a.name == s.name })
		sec.Lines = append(sec.Lines, actionTable[d].summary)
		plan, err := r.dryRun(ctx, inc, s)
		switch {
		case err != nil:
			sec.Lines = append(sec.Lines, "Cannot plan it now: "+err.Error())
		case plan.Noop != "":
			sec.Lines = append(sec.Lines, "Nothing to do: "+plan.Noop)
		default:
			sec.Lines = append(sec.Lines, fmt.Sprintf("%d calls; what it costs and leaves:", len(plan.Calls)))
			sec.Lines = append(sec.Lines, plan.Impact...)
		}
		if s.last {
			sec.Lines = append(sec.Lines, "Last, once verify says contained; irreversible, so not part of `plan request`.")
		}
		reply.Sections = append(reply.Sections, sec)
	}
	return reply
}

// dryRun plans a step as its request would, changing nothing.
func (r *Responder) dryRun(ctx context.Context, inc state.Incident, s planStep) (commands.Plan, error) {
	d := slices.IndexFunc(actionTable, func(a actionDef) bool { return a.name == s.name })
	params := map[string]string{}
	if fn := actionTable[d].params; fn != nil {
		p, err := fn(s.args, inc)
		if err != nil {
			return commands.Plan{}, err
		}
		params = p
	}
	return r.executor(s.name).Plan(ctx, inc, params)
}
