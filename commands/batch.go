package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyleak/keyleak/state"
)

// ParamBatch names the batch a request was made in: a containment plan
// requested at once, approved at once, each request still recorded,
// approved and run on its own.
const ParamBatch = "batch"

// BatchItem is one action of a batch: its name and typed arguments.
type BatchItem struct {
	Name string
	Args []string
}

// RequestBatch requests every item, as Ask would one by one, under one
// batch ID that approve-batch takes. Items with nothing to do are skipped
// and said so; an item that cannot be planned stops nothing else.
func (e *Engine) RequestBatch(ctx context.Context, req Request, items []BatchItem) (Reply, error) {
	if !e.policy.Authorised(req.Actor) {
		return Reply{}, Userf("%s is not an authorised responder, so cannot request a plan. Ask the incident lead to add you to keyleak's responders.", req.Actor)
	}
	// Two plan requests at once would share one batch ID, and an
	// approve-batch of one would approve the other's requests unseen.
	e.batches.Lock()
	defer e.batches.Unlock()
	batch, err := e.nextBatch(req.Incident)
	if err != nil {
		return Reply{}, err
	}
	reply := Reply{Title: "Containment plan requested: " + batch}
	var requested, skipped, failed []string
	for _, it := range items {
		r := req
		r.Args = it.Args
		_, a, err := e.ask(ctx, r, it.Name, false, map[string]string{ParamBatch: batch})
		line := strings.TrimSpace(it.Name + " " + strings.Join(it.Args, " "))
		switch {
		case err != nil:
			failed = append(failed, line+": "+err.Error())
		case a == nil:
			skipped = append(skipped, line)
		default:
			requested = append(requested, fmt.Sprintf("%s %s (%d calls)", a.ID, line, len(a.Plan)))
		}
	}
	if len(requested) == 0 {
		reply.Text = "Nothing was requested."
	} else {
		reply.Text = fmt.Sprintf("%d requests, each with its own card. A second responder approves them all with `approve-batch %s`, or one by one on their cards; each runs and is recorded on its own.", len(requested), batch)
		reply.Sections = append(reply.Sections, Section{Title: "Requested", Lines: requested})
	}
	if len(skipped) > 0 {
		reply.Sections = append(reply.Sections, Section{Title: "Nothing to do", Lines: skipped})
	}
	if len(failed) > 0 {
		reply.Problem = true
		reply.Sections = append(reply.Sections, Section{Title: "Not requested", Lines: failed})
	}
	return reply, nil
}

// nextBatch is the incident's next batch ID: <incident>-P1, -P2…
func (e *Engine) nextBatch(incident string) (string, error) {
	n := 0
	err := e.store.View(func(tx *state.Tx) error {
		actions, err := tx.Actions(incident)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, a := range actions {
			if b := a.Params[ParamBatch]; b != "" && !seen[b] {
				seen[b] = true
				n++
			}
		}
		return nil
	})
	return fmt.Sprintf("%s-P%d", incident, n+1), err
}

// approveBatchCommand is "approve-batch <batch ID>": every pending request
// of the batch, decided as approve would decide each (the approver is an
// authorised responder, not the requester, before expiry).
func (e *Engine) approveBatchCommand() Command {
	return Command{
		Name: "approve-batch", Usage: "<batch ID>", Summary: "approve every pending request of a containment plan requested with `plan request`",
		Scope: InSpace, NeedsIncident: true,
		Run: func(ctx context.Context, req Request) (Reply, error) {
			if len(req.Args) != 1 {
				return Reply{}, Userf("approve-batch needs the batch ID `plan request` gave, e.g. `approve-batch %s-P1`.", req.Incident)
			}
			batch := strings.ToUpper(req.Args[0])
			if !strings.HasPrefix(batch, req.Incident+"-P") {
				return Reply{}, Userf("%s is not a batch of %s.", batch, req.Incident)
			}
			var pending []string
			err := e.store.View(func(tx *state.Tx) error {
				actions, err := tx.Actions(req.Incident)
				for _, a := range actions {
					if a.Params[ParamBatch] == batch && a.Status == state.ActionRequested {
						pending = append(pending, a.ID)
					}
				}
				return err
			})
			if err != nil {
				return Reply{}, err
			}
			if len(pending) == 0 {
				return Reply{}, Userf("%s has no request waiting for approval.", batch)
			}
			reply := Reply{Title: "Batch " + batch}
			var approved, refused []string
			for _, id := range pending {
				a, err := e.Decide(ctx, Decision{ActionID: id, Approve: true, Actor: req.Actor, Source: req.Source})
				if err != nil {
					refused = append(refused, id+": "+err.Error())
					continue
				}
				approved = append(approved, a.ID+" "+a.Name)
			}
			reply.Text = fmt.Sprintf("%d of %d approved; each runs and reports in its own thread.", len(approved), len(pending))
			if len(approved) > 0 {
				reply.Sections = append(reply.Sections, Section{Title: "Approved", Lines: approved})
			}
			if len(refused) > 0 {
				reply.Problem = true
				reply.Sections = append(reply.Sections, Section{Title: "Not approved", Lines: refused})
			}
			return reply, nil
		},
	}
}
