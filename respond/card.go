package respond

import (
	"context"

	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// Card renders the war room's incident card: the facts, the summary of
// the findings when there is one, and buttons for the dry runs of the
// first containment actions.
func (r *Responder) Card(_ context.Context, inc state.Incident) commands.Reply {
	var summary state.Summary
	if err := r.cfg.Store.View(func(tx *state.Tx) (err error) { summary, err = tx.Summary(inc.ID); return err }); err != nil {
		summary = state.Summary{} // not investigated yet, or unreadable: the card shows the facts
	}
	var next []commands.Button
	for _, d := range actionTable {
		// A canary's key is bait: nothing to contain, so no containment
		// buttons (the commands still work if a responder wants them).
		if d.onCard && !inc.Canary {
			next = append(next, commands.Button{Label: d.name, Command: d.name, Args: []string{"--dry-run"}})
		}
	}
	next = append(next, commands.StatusButton)
	return commands.IncidentCard(inc, summary.Lines, next)
}
