package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keyleak/keyleak/state"
)

// recentEntries is how many timeline entries status shows.
const recentEntries = 8

// Status answers "status [ID]": the incident's facts, pending requests,
// undelivered messages and the latest timeline entries.
func Status(store *state.Store, now Clock) Command {
	return Command{
		Name:    StatusButton.Command,
		Usage:   "[incident ID]",
		Summary: "the incident at a glance: key, owner, severity, pending approvals, latest steps",
		Scope:   Everywhere,
		Run: func(ctx context.Context, req Request) (Reply, error) {
			id := req.Incident
			switch {
			case len(req.Args) > 1:
				return Reply{}, Userf("status takes at most one incident ID, like KL-2026-0007.")
			case len(req.Args) == 1:
				id = strings.ToUpper(req.Args[0])
			}
			if id == "" {
				return Reply{}, Userf("Which incident? Use `status KL-2026-0007`, or `list` to see the open ones.")
			}
			var inc state.Incident
			var actions []state.Action
			var timeline []state.Event
			var dead, pending []state.Message
			err := store.View(func(tx *state.Tx) error {
				var err error
				if inc, err = tx.Incident(id); err != nil {
					return err
				}
				if actions, err = tx.Actions(id); err != nil {
					return err
				}
				if timeline, err = tx.Timeline(id); err != nil {
					return err
				}
				if pending, err = tx.Pending(id); err != nil {
					return err
				}
				dead, err = tx.DeadLetters(id)
				return err
			})
			if errors.Is(err, state.ErrNotFound) {
				return Reply{}, Userf("There is no incident %s. `list` shows the open ones.", id)
			}
			if err != nil {
				return Reply{}, err
			}
			r := Reply{
				Title:  fmt.Sprintf("%s · %s · %s", inc.ID, strings.ToUpper(string(inc.Severity)), inc.Status),
				Fields: IncidentFields(inc),
			}
			if len(inc.Assignments) > 0 {
				r.Fields = append(r.Fields, Field{"Roles", formatAssignments(inc.Assignments)})
			}
			var open []string
			for _, a := range actions {
				if a.Status == state.ActionRequested && !a.Expired(now()) {
					open = append(open, fmt.Sprintf("%s %s, requested by %s, expires %s", a.ID, a.Name, a.Requester, a.ExpiresAt.UTC().Format(timeLayout)))
				}
			}
			if len(open) > 0 {
				r.Sections = append(r.Sections, Section{Title: "Waiting for approval", Lines: open})
			}
			var done []string
			for _, a := range actions {
				if a.Status != state.ActionRequested {
					done = append(done, fmt.Sprintf("%s %s: %s", a.ID, a.Name, a.Status))
				}
			}
			if len(done) > 0 {
				r.Sections = append(r.Sections, Section{Title: "Actions", Lines: done, Folded: true})
			}
			if len(dead) > 0 {
				lines := make([]string, 0, len(dead))
				for _, m := range dead {
					lines = append(lines, fmt.Sprintf("%s (%s) failed for good after %d attempts: %s", m.Kind, m.Channel, m.Attempts, m.LastError))
				}
				r.Sections = append(r.Sections, Section{Title: "NOT DELIVERED", Lines: lines})
			}
			if len(pending) > 0 {
				late := 0
				for _, m := range pending {
					if m.Attempts > 0 {
						late++
					}
				}
				if late > 0 {
					r.Text = fmt.Sprintf("%d outbound message(s) are being retried; keyleak keeps trying.", late)
				}
			}
			start := max(0, len(timeline)-recentEntries)
			lines := make([]string, 0, recentEntries)
			for _, e := range timeline[start:] {
				lines = append(lines, TimelineLine(e))
			}
			r.Sections = append(r.Sections, Section{Title: "Latest steps", Lines: lines, Folded: true})
			return r, nil
		},
	}
}

// TimelineLine renders one timeline entry.
func TimelineLine(e state.Event) string {
	return fmt.Sprintf("%s %s %s", e.At.UTC().Format(timeLayout), e.Actor, e.Text)
}

// List answers "list": the open incidents, newest first.
func List(store *state.Store) Command {
	return Command{
		Name:    "list",
		Summary: "the open incidents, newest first",
		Scope:   Everywhere,
		Run: func(ctx context.Context, req Request) (Reply, error) {
			if len(req.Args) > 0 {
				return Reply{}, Userf("list takes no arguments.")
			}
			var incs []state.Incident
			if err := store.View(func(tx *state.Tx) (err error) {
				incs, err = tx.Incidents(state.IncidentFilter{Status: state.IncidentOpen, Limit: 50})
				return err
			}); err != nil {
				return Reply{}, err
			}
			if len(incs) == 0 {
				return Reply{Text: "No open incidents."}, nil
			}
			lines := make([]string, 0, len(incs))
			for _, inc := range incs {
				line := fmt.Sprintf("%s  %s  %s  opened %s by %s", inc.ID, inc.AccessKeyID, strings.ToUpper(string(inc.Severity)), inc.OpenedAt.UTC().Format("2006-01-02 "+timeLayout), inc.Reporter)
				if inc.ChatSpaceURL != "" {
					line += "  " + inc.ChatSpaceURL
				}
				lines = append(lines, line)
			}
			return Reply{Title: fmt.Sprintf("%d open incident(s)", len(incs)), Sections: []Section{{Title: "Open", Lines: lines}}}, nil
		},
	}
}

// StatusButton runs status, on the incident card.
var StatusButton = Button{Label: "status", Command: "status"}
