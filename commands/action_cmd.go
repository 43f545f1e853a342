package commands

import (
	"context"
	"slices"
	"strings"

	"github.com/keyleak/keyleak/state"
)

// ActionCommands returns one command per action spec of e ("deactivate",
// "revoke-sessions"…, each with --dry-run), plus "approve" and "deny".
func (e *Engine) ActionCommands() []Command {
	names := make([]string, 0, len(e.specs))
	for n := range e.specs {
		names = append(names, n)
	}
	slices.Sort(names)
	cmds := make([]Command, 0, len(names)+2)
	for _, n := range names {
		spec := e.specs[n]
		usage := "[--dry-run]"
		if spec.Usage != "" {
			usage = spec.Usage + " " + usage
		}
		summary := spec.Summary
		if spec.Irreversible {
			summary += " (irreversible)"
		}
		cmds = append(cmds, Command{
			Name:          spec.Name,
			Usage:         usage,
			Summary:       summary,
			Scope:         InSpace,
			NeedsIncident: true,
			Run: func(ctx context.Context, req Request) (Reply, error) {
				dry := false
				args := req.Args[:0:0]
				for _, a := range req.Args {
					if a == "--dry-run" || a == "-n" {
						dry = true
						continue
					}
					args = append(args, a)
				}
				req.Args = args
				return e.Ask(ctx, req, spec.Name, dry)
			},
		})
	}
	return append(cmds, e.decisionCommand(true), e.decisionCommand(false), e.approveBatchCommand())
}

// decisionCommand is "approve <request>" or "deny <request> [reason]", as
// typed or as sent by a card's buttons (which add the card's digest).
func (e *Engine) decisionCommand(approve bool) Command {
	c := Command{
		Name:          "approve",
		Usage:         "<request ID>",
		Summary:       "approve another responder's request (the card's Approve button does the same)",
		Scope:         InSpace,
		NeedsIncident: true,
	}
	if !approve {
		c.Name, c.Usage, c.Summary = "deny", "<request ID> [reason]", "deny or withdraw a request"
	}
	c.Run = func(ctx context.Context, req Request) (Reply, error) {
		if len(req.Args) == 0 {
			return Reply{}, Userf("%s needs the request ID shown on its card, e.g. `%s %s-A1`.", c.Name, c.Name, req.Incident)
		}
		d := Decision{ActionID: strings.ToUpper(req.Args[0]), Approve: approve, Actor: req.Actor, Source: req.Source}
		rest := req.Args[1:]
		if len(rest) > 0 && isDigest(rest[0]) {
			d.Digest, rest = rest[0], rest[1:]
		}
		if approve && len(rest) > 0 {
			return Reply{}, Userf("approve takes only the request ID.")
		}
		d.Reason = strings.Join(rest, " ")
		if !strings.HasPrefix(d.ActionID, req.Incident+"-") {
			return Reply{}, Userf("%s is not a request of %s; decide it in its own incident's space.", d.ActionID, req.Incident)
		}
		a, err := e.Decide(ctx, d)
		if err != nil {
			return Reply{}, err
		}
		return ActionReply(a, e.now()), nil
	}
	return c
}

func isDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// Action returns an action by ID, for renderers.
func (e *Engine) Action(id string) (state.Action, error) {
	var a state.Action
	err := e.store.View(func(tx *state.Tx) (err error) { a, err = tx.Action(id); return err })
	return a, err
}
