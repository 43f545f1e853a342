package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// Registry is the command table, built once in main.
type Registry struct {
	cmds  []Command
	index map[string]int
	log   *slog.Logger
}

// NewRegistry builds a registry of cmds plus "help", which it generates
// from the same table. An empty or duplicate name, a command without Run
// or without a scope is an error.
func NewRegistry(log *slog.Logger, cmds ...Command) (*Registry, error) {
	r := &Registry{index: make(map[string]int, len(cmds)+1), log: log}
	help := Command{
		Name:    "help",
		Summary: "list the commands you can use here",
		Scope:   Everywhere,
		Run: func(_ context.Context, req Request) (Reply, error) {
			return r.Help(req.Scope, req.Prefix), nil
		},
	}
	for _, c := range append([]Command{help}, cmds...) {
		switch {
		case strings.TrimSpace(c.Name) == "" || strings.ContainsAny(c.Name, " \t\n/"):
			return nil, fmt.Errorf("command %q: name must be one word", c.Name)
		case c.Run == nil:
			return nil, fmt.Errorf("command %q: no Run function", c.Name)
		case c.Scope == 0:
			return nil, fmt.Errorf("command %q: no scope", c.Name)
		}
		if _, dup := r.index[c.Name]; dup {
			return nil, fmt.Errorf("command %q registered twice", c.Name)
		}
		r.index[c.Name] = len(r.cmds)
		r.cmds = append(r.cmds, c)
	}
	return r, nil
}

// Lookup returns the command called name.
func (r *Registry) Lookup(name string) (Command, bool) {
	i, ok := r.index[name]
	if !ok {
		return Command{}, false
	}
	return r.cmds[i], true
}

// Commands returns the commands offered in scope, in registration order.
func (r *Registry) Commands(scope Scope) []Command {
	var out []Command
	for _, c := range r.cmds {
		if c.Scope&scope != 0 {
			out = append(out, c)
		}
	}
	return out
}

// Help lists the commands offered in scope, generated from the table.
func (r *Registry) Help(scope Scope, prefix string) Reply {
	cmds := r.Commands(scope)
	lines := make([]string, 0, len(cmds))
	width := 0
	for _, c := range cmds {
		width = max(width, len(synopsis(prefix, c)))
	}
	for _, c := range cmds {
		lines = append(lines, fmt.Sprintf("%-*s  %s", width, synopsis(prefix, c), c.Summary))
	}
	return Reply{
		Title:    "keyleak commands",
		Sections: []Section{{Title: "Commands", Lines: lines}},
		Private:  true,
	}
}

func synopsis(prefix string, c Command) string {
	s := prefix + c.Name
	if c.Usage != "" {
		s += " " + c.Usage
	}
	return s
}

// Dispatch runs the command req names. Unknown commands get the help;
// commands not offered in the request's scope say where to use them;
// errors become a reply: a UserError's text as it is, anything else a
// short apology while the detail goes to the log.
func (r *Registry) Dispatch(ctx context.Context, req Request) Reply {
	c, ok := r.Lookup(req.Name)
	if !ok || c.Scope&req.Scope == 0 {
		help := r.Help(req.Scope, req.Prefix)
		switch {
		case req.Name == "":
		case !ok:
			help.Text = fmt.Sprintf("There is no command %q. These are the commands you can use here:", req.Name)
			help.Problem = true
		default:
			help.Text = fmt.Sprintf("%q is used in the incident's Google Chat space, not here.", req.Name)
			help.Problem = true
		}
		return help
	}
	if c.NeedsIncident && req.Incident == "" {
		return Reply{Text: fmt.Sprintf("%q works inside an incident's Google Chat space. Use `status` or `list` to find the incident and its space.", req.Name), Problem: true, Private: true}
	}
	reply, err := c.Run(ctx, req)
	if err == nil {
		return reply
	}
	if msg, ok := AsUserError(err); ok {
		return Reply{Text: msg, Problem: true, Private: true}
	}
	if errors.Is(err, context.Canceled) {
		return Reply{Text: "keyleak is shutting down; your command was not completed. Try again in a minute.", Problem: true, Private: true}
	}
	r.log.ErrorContext(ctx, "command failed", "command", req.Name, "incident", req.Incident, "actor", req.Actor.ID, "err", err)
	return Reply{Text: fmt.Sprintf("%s failed inside keyleak; the error is in keyleak's log. Nothing was changed unless the timeline says so.", req.Name), Problem: true, Private: true}
}

// Names returns every registered command name, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.cmds))
	for _, c := range r.cmds {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return names
}
