package bot

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// SlashCommand is a Slack slash command invocation, whichever transport
// (HTTP or Socket Mode) brought it.
type SlashCommand struct {
	TeamID      string
	ChannelID   string
	UserID      string
	UserName    string
	Command     string
	Text        string
	ResponseURL string
	TriggerID   string
}

// Slack is the Slack front door: /keyleak opens or joins an incident and
// answers status, list and help. Slack only pages; the response happens in
// the Google Chat space.
type Slack struct {
	verifier *SlackVerifier
	reporter *commands.Reporter
	registry *commands.Registry
	teams    []string // allowed workspaces; empty allows any
	log      *slog.Logger
	metrics  *Metrics
}

// SlackOptions configure the Slack front door.
type SlackOptions struct {
	Verifier          *SlackVerifier
	Reporter          *commands.Reporter
	Registry          *commands.Registry
	AllowedWorkspaces []string
	Log               *slog.Logger
	Metrics           *Metrics
}

// NewSlack returns the Slack front door.
func NewSlack(o SlackOptions) *Slack {
	return &Slack{verifier: o.Verifier, reporter: o.Reporter, registry: o.Registry, teams: o.AllowedWorkspaces, log: o.Log, metrics: o.Metrics}
}

// ServeHTTP serves POST /slack/commands. The signature is verified over
// the raw body before anything parses it; every failure gets 401.
func (s *Slack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := s.verifier.Verify(r)
	if err != nil {
		s.metrics.Inbound("slack", "unauthenticated")
		s.log.WarnContext(r.Context(), "slack request refused", "reason", err, "remote", r.RemoteAddr)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		s.metrics.Inbound("slack", "rejected")
		http.Error(w, "malformed form body", http.StatusBadRequest)
		return
	}
	if form.Get("ssl_check") == "1" {
		s.metrics.Inbound("slack", "handled")
		w.WriteHeader(http.StatusOK)
		return
	}
	cmd := SlashCommand{
		TeamID: form.Get("team_id"), ChannelID: form.Get("channel_id"), UserID: form.Get("user_id"),
		UserName: form.Get("user_name"), Command: form.Get("command"), Text: form.Get("text"),
		ResponseURL: form.Get("response_url"), TriggerID: form.Get("trigger_id"),
	}
	reply := s.Handle(r.Context(), cmd)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(SlackResponse(reply))
}

// Handle answers one slash command. It is the transport-neutral core: the
// HTTP handler and the Socket Mode loop both call it after authentication.
func (s *Slack) Handle(ctx context.Context, c SlashCommand) commands.Reply {
	if len(s.teams) > 0 && !slices.Contains(s.teams, c.TeamID) {
		s.metrics.Inbound("slack", "rejected")
		s.log.WarnContext(ctx, "slash command from a workspace not allowed", "team", c.TeamID)
		return commands.Reply{Text: "keyleak is not enabled for this Slack workspace.", Problem: true, Private: true}
	}
	if c.UserID == "" {
		s.metrics.Inbound("slack", "rejected")
		return commands.Reply{Text: "Slack sent no user; try again.", Problem: true, Private: true}
	}
	actor := state.Actor{ID: c.UserID, Name: c.UserName, Platform: "slack"}
	source := state.Source{Platform: "slack", EventID: c.TriggerID, Verified: true}
	s.metrics.Inbound("slack", "handled")

	text, secret := commands.Redact(c.Text)
	args, err := commands.Tokenize(text)
	if err != nil {
		r := problem("I could not read that: " + err.Error() + ". " + slackUsage)
		if secret {
			r.Text = commands.SecretWarning + "\n\n" + r.Text
		}
		return r
	}
	if len(args) == 0 {
		reply := s.registry.Help(commands.InSlack, slashPrefix(c))
		reply.Text = slackUsage
		return reply
	}
	name := strings.ToLower(args[0])
	if _, ok := s.registry.Lookup(name); ok || !looksLikeKeyAttempt(args[0]) {
		reply := s.registry.Dispatch(ctx, commands.Request{Name: name, Args: args[1:], Actor: actor, Source: source, Scope: commands.InSlack, Prefix: slashPrefix(c)})
		if secret {
			reply.Text = commands.SecretWarning + "\n\n" + reply.Text
			reply.Problem = true
		}
		return reply
	}
	// /keyleak <key> [note]: the note is the rest of the original text, so
	// quotes and spacing are kept as typed.
	note := strings.TrimSpace(strings.Join(args[1:], " "))
	if secret {
		note = "" // dropped whole: what is left around a secret may still identify it
	}
	res, err := s.reporter.Open(ctx, commands.Report{Key: args[0], Note: note, Actor: actor, Source: source})
	if secret {
		res.SecretRemoved = true
	}
	if err != nil {
		if msg, ok := commands.AsUserError(err); ok {
			r := problem(msg)
			if secret && !strings.Contains(msg, commands.SecretWarning) {
				r.Text += "\n\n" + commands.SecretWarning
			}
			return r
		}
		s.log.ErrorContext(ctx, "open incident", "err", err, "user", c.UserID)
		return problem("keyleak could not record the report; nothing was opened. Try again, and page on-call by hand if it fails again.")
	}
	if res.Repeat {
		s.metrics.Inbound("slack", "duplicate")
	}
	s.log.InfoContext(ctx, "key reported", "incident", res.Incident.ID, "access_key_id", res.Incident.AccessKeyID, "joined", res.Joined, "repeat", res.Repeat)
	return commands.ReportReply(res)
}

func slashPrefix(c SlashCommand) string {
	if c.Command == "" {
		return "/keyleak "
	}
	return c.Command + " "
}

const slackUsage = "Usage: `/keyleak AKIA… [note]` to open an incident for a leaked key; `/keyleak status [ID]`, `/keyleak list`, `/keyleak help`."

func problem(text string) commands.Reply {
	return commands.Reply{Text: text, Problem: true, Private: true}
}

// looksLikeKeyAttempt tells a mistyped key ("AKIA123") from a mistyped
// command ("stauts"): keys are long and start with A, upper case.
func looksLikeKeyAttempt(s string) bool {
	return len(s) >= 12 && (s[0] == 'A' || s[0] == 'a')
}

// SlackResponse renders a reply as the JSON answer to a slash command.
func SlackResponse(r commands.Reply) map[string]any {
	rt := slack.ResponseTypeEphemeral
	if !r.Private {
		rt = slack.ResponseTypeInChannel
	}
	return map[string]any{"response_type": rt, "text": fallbackText(r), "blocks": SlackBlocks(r)}
}
