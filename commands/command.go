// Package commands is keyleak's command set: one registry serving Slack,
// Google Chat and the terminal, platform-neutral requests and replies, and
// the approval engine that stands between a responder's request and any
// change in AWS.
package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyleak/keyleak/state"
)

// Scope says where a command is offered.
type Scope int

// Scopes. Slack only pages; the response happens in the Chat space.
const (
	InSpace Scope = 1 << iota // the incident's Google Chat space
	InSlack                   // the /keyleak slash command
	InTerminal
	Everywhere = InSpace | InSlack | InTerminal
)

// Request is one command invocation from any front end. The front end has
// authenticated the event; Actor and Source come from it, never from the
// text or button parameters.
type Request struct {
	Name     string
	Args     []string
	Actor    state.Actor
	Source   state.Source
	Scope    Scope
	Incident string // the incident the conversation belongs to, "" outside a war room
	Thread   string // the thread the command was typed in, if any
	Prefix   string // how commands are typed here, e.g. "/keyleak " on Slack; used by help
}

// Reply is what a command answers, rendered by each front end in its own
// format (Block Kit, Cards v2, terminal text).
type Reply struct {
	Title string `json:"title,omitempty"`
	Text  string `json:"text,omitempty"` // the first thing a responder reads
	// Warnings come before the text, in bold, in every front end.
	Warnings []string  `json:"warnings,omitempty"`
	Fields   []Field   `json:"fields,omitempty"`
	Sections []Section `json:"sections,omitempty"`
	Buttons  []Button  `json:"buttons,omitempty"`
	Private  bool      `json:"private,omitempty"` // only the requester sees it
	Problem  bool      `json:"problem,omitempty"` // it reports bad input or a refusal
}

// Field is one labelled fact ("Account: 123456789012").
type Field struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Section is a titled group of lines; Folded ones start collapsed.
type Section struct {
	Title  string   `json:"title"`
	Lines  []string `json:"lines"`
	Folded bool     `json:"folded,omitempty"`
}

// Button triggers a command when clicked. The clicker's identity comes
// from the click event, not from Args.
type Button struct {
	Label   string   `json:"label"`
	Command string   `json:"command"`
	Args    []string `json:"args,omitempty"`
	Style   string   `json:"style,omitempty"` // "primary", "danger" or ""
}

// Command is one entry of the registry.
type Command struct {
	Name    string
	Usage   string // argument synopsis, e.g. "<role> <person>"
	Summary string // one line for the help
	Scope   Scope
	// NeedsIncident commands only make sense inside an incident's space
	// (or, on Slack and the terminal, with an incident ID argument).
	NeedsIncident bool
	Run           func(ctx context.Context, req Request) (Reply, error)
}

// UserError is an error whose text is safe and useful to show the person
// who typed the command: bad input, a refused approval, a missing room.
type UserError struct {
	Msg string
	Err error // the underlying cause, if any, for errors.Is
}

func (e *UserError) Error() string { return e.Msg }
func (e *UserError) Unwrap() error { return e.Err }

// Userf formats a UserError.
func Userf(format string, args ...any) error {
	return &UserError{Msg: fmt.Sprintf(format, args...)}
}

// userWrap makes a UserError that still matches err with errors.Is.
func userWrap(err error, format string, args ...any) error {
	return &UserError{Msg: fmt.Sprintf(format, args...), Err: err}
}

// AsUserError returns the user-facing text of err and whether it has one.
func AsUserError(err error) (string, bool) {
	var ue *UserError
	if errors.As(err, &ue) {
		return ue.Msg, true
	}
	return "", false
}

// Clock is the time source; tests inject a fixed one.
type Clock func() time.Time
