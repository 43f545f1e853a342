package commands

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/keyleak/keyleak/state"
)

const maxNote = 2000

// Note answers "note <text>": it adds a line to the timeline, for the
// report ("found the key in a public repo", "CI pipelines paused").
func Note(store *state.Store, now Clock) Command {
	return Command{
		Name:          "note",
		Usage:         "<text>",
		Summary:       "add a line to the incident timeline and report",
		Scope:         InSpace,
		NeedsIncident: true,
		Run: func(ctx context.Context, req Request) (Reply, error) {
			text := strings.TrimSpace(strings.Join(req.Args, " "))
			switch {
			case text == "":
				return Reply{}, Userf("note needs text, e.g. `note key was committed to github.com/acme/deploy 2 weeks ago`.")
			case len(text) > maxNote:
				return Reply{}, Userf("That note is %d characters; keep it under %d (split it into several notes).", len(text), maxNote)
			}
			err := store.Update(func(tx *state.Tx) error {
				inc, err := tx.Incident(req.Incident)
				if err != nil {
					return err
				}
				_, err = tx.Append(state.Event{Incident: inc.ID, At: now(), Actor: req.Actor, Kind: state.EventNote, Text: text, Source: req.Source})
				return err
			})
			if err != nil {
				return Reply{}, fmt.Errorf("note on %s: %w", req.Incident, err)
			}
			return Reply{Text: "Noted in the timeline.", Private: true}, nil
		},
	}
}

// Roles are the incident roles assign accepts.
var roles = []string{"lead", "comms", "scribe", "investigator", "containment", "liaison"}

var personPattern = regexp.MustCompile(`^@?[A-Za-z0-9._%+\-]{1,64}(@[A-Za-z0-9.\-]{1,190})?$`)

// Assign answers "assign <role> <person>".
func Assign(store *state.Store, policy Policy, now Clock) Command {
	return Command{
		Name:          "assign",
		Usage:         "<role> <person>",
		Summary:       "give someone an incident role (" + strings.Join(roles, ", ") + ")",
		Scope:         InSpace,
		NeedsIncident: true,
		Run: func(ctx context.Context, req Request) (Reply, error) {
			if len(req.Args) != 2 {
				return Reply{}, Userf("assign takes a role and a person, e.g. `assign lead alice@example.com`. Roles: %s.", strings.Join(roles, ", "))
			}
			role, person := strings.ToLower(req.Args[0]), req.Args[1]
			if !slices.Contains(roles, role) {
				return Reply{}, Userf("%q is not a role. Roles: %s.", req.Args[0], strings.Join(roles, ", "))
			}
			if !personPattern.MatchString(person) {
				return Reply{}, Userf("%q does not look like a person; give an email or a @name.", person)
			}
			if !policy.Authorised(req.Actor) {
				return Reply{}, Userf("%s is not an authorised responder and cannot assign roles.", req.Actor)
			}
			err := store.Update(func(tx *state.Tx) error {
				inc, err := tx.Incident(req.Incident)
				if err != nil {
					return err
				}
				if !inc.Open() {
					return Userf("%s is closed.", inc.ID)
				}
				if inc.Assignments == nil {
					inc.Assignments = map[string]string{}
				}
				inc.Assignments[role] = person
				inc.UpdatedAt = now()
				if err := tx.PutIncident(inc); err != nil {
					return err
				}
				_, err = tx.Append(state.Event{Incident: inc.ID, At: now(), Actor: req.Actor, Kind: state.EventAssigned, Text: fmt.Sprintf("assigned %s as %s", person, role), Source: req.Source})
				return err
			})
			if err != nil {
				return Reply{}, err
			}
			return Reply{Text: fmt.Sprintf("%s is now %s.", person, role)}, nil
		},
	}
}

func formatAssignments(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, r := range roles {
		if p, ok := m[r]; ok {
			parts = append(parts, r+": "+p)
		}
	}
	return strings.Join(parts, ", ")
}
