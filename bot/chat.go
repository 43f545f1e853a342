package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf16"

	chat "google.golang.org/api/chat/v1"

	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// UmbrellaCommand is the slash command whose text is a whole command line
// ("/keyleak deactivate --dry-run"). Other configured slash commands map
// straight to a command of the same name ("/deactivate --dry-run").
const UmbrellaCommand = "keyleak"

// chatReplyBudget keeps a synchronous reply inside Chat's 30 s limit.
const chatReplyBudget = 25 * time.Second

// chatDedupeWindow is how long a delivery is remembered, to answer Chat's
// retries once.
const chatDedupeWindow = time.Hour

// ChatOptions configure the Google Chat front end.
type ChatOptions struct {
	Verifier *ChatVerifier
	Registry *commands.Registry
	Store    *state.Store
	// Commands maps the Chat app's slash and app command IDs to command
	// names; UmbrellaCommand takes the command from the text.
	Commands map[int64]string
	Now      func() time.Time
	Log      *slog.Logger
	Metrics  *Metrics
}

// Chat is the Google Chat front end: the incident's war room, where
// responders run commands and approve requests.
type Chat struct {
	o ChatOptions
}

// NewChat returns the Chat front end.
func NewChat(o ChatOptions) *Chat {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Chat{o: o}
}

// Handler serves POST /chat/events: the bearer token is verified before
// the body is read.
func (c *Chat) Handler() http.Handler {
	return RequireChatToken(c.o.Verifier, http.HandlerFunc(c.serveEvent))
}

// chatEvent is the part of an event that decides what to do, decoded
// after the token was verified.
type chatEvent struct {
	chat.DeprecatedEvent
	// Chat (a Workspace add-on payload) is set when the app is configured
	// as an add-on; keyleak speaks the classic Chat app format.
	Chat json.RawMessage `json:"chat,omitempty"`
}

func (c *Chat) serveEvent(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		c.o.Metrics.Inbound("chat", "rejected")
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	var ev chatEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		c.o.Metrics.Inbound("chat", "rejected")
		http.Error(w, "malformed event", http.StatusBadRequest)
		return
	}
	if ev.Type == "" && len(ev.Chat) > 0 {
		c.o.Metrics.Inbound("chat", "rejected")
		c.o.Log.ErrorContext(r.Context(), "Google Chat sent a Workspace add-on payload; configure the Chat app as a classic HTTP app (not a Workspace add-on) so keyleak can read its events")
		http.Error(w, "Workspace add-on payloads are not supported; configure a classic Chat app", http.StatusBadRequest)
		return
	}
	if ev.User == nil || ev.User.Name == "" {
		c.o.Metrics.Inbound("chat", "rejected")
		http.Error(w, "event without a user", http.StatusBadRequest)
		return
	}
	key := deliveryKey(ev.DeprecatedEvent)
	now := c.o.Now()
	var d state.Delivery
	var ours bool
	err = c.o.Store.Batch(func(tx *state.Tx) (err error) {
		// A handling that began more than the reply budget ago and never
		// answered died with keyleak: its retry is handled anew.
		d, ours, err = tx.BeginDelivery(key, now, now.Add(chatDedupeWindow), now.Add(-chatReplyBudget-5*time.Second))
		return err
	})
	if err != nil {
		c.o.Log.ErrorContext(r.Context(), "record chat event", "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	if !ours {
		c.o.Metrics.Inbound("chat", "duplicate")
		if d.Answered {
			// The answer given before, again: Chat retries when it did not
			// get it.
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Write(d.Reply)
			return
		}
		writeJSON(w, map[string]any{}) // the first delivery is being answered
		return
	}
	c.o.Metrics.Inbound("chat", "handled")
	ctx, cancel := context.WithTimeout(r.Context(), chatReplyBudget)
	defer cancel()
	msg := c.Handle(ctx, ev.DeprecatedEvent)
	reply, err := json.Marshal(msg)
	if err != nil {
		c.o.Log.ErrorContext(r.Context(), "encode chat reply", "err", err)
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	if err := c.o.Store.Batch(func(tx *state.Tx) error {
		return tx.FinishDelivery(key, d.MarkedAt, d.MarkedAt.Add(chatDedupeWindow), reply)
	}); err != nil {
		c.o.Log.ErrorContext(r.Context(), "record chat reply", "err", err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(reply)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(v)
}

// deliveryKey identifies a delivery by what Chat sends again when it
// retries: the event type and time, the message, the user and the clicked
// function.
func deliveryKey(ev chat.DeprecatedEvent) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s", ev.Type, ev.EventTime, ev.User.Name)
	if ev.Message != nil {
		fmt.Fprintf(h, "\x00%s", ev.Message.Name)
	}
	if ev.Common != nil {
		fmt.Fprintf(h, "\x00%s\x00%s", ev.Common.InvokedFunction, ev.Common.Parameters["args"])
	}
	return "chat/" + hex.EncodeToString(h.Sum(nil)[:16])
}

// Handle answers one verified event with the message Chat shows.
func (c *Chat) Handle(ctx context.Context, ev chat.DeprecatedEvent) *chat.Message {
	actor := state.Actor{ID: ev.User.Name, Email: ev.User.Email, Name: ev.User.DisplayName, Platform: "chat"}
	source := state.Source{Platform: "chat", EventID: ev.EventTime, Verified: true}
	if ev.Message != nil {
		source.EventID = ev.Message.Name
	}
	incident := ""
	if ev.Space != nil && ev.Space.Name != "" {
		err := c.o.Store.View(func(tx *state.Tx) error {
			inc, err := tx.IncidentBySpace(ev.Space.Name)
			incident = inc.ID
			return err
		})
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			c.o.Log.ErrorContext(ctx, "find the space's incident", "space", ev.Space.Name, "err", err)
		}
	}
	req := commands.Request{Actor: actor, Source: source, Scope: commands.InSpace, Incident: incident, Prefix: "/" + UmbrellaCommand + " "}

	switch ev.Type {
	case "ADDED_TO_SPACE":
		reply := c.o.Registry.Help(commands.InSpace, req.Prefix)
		reply.Private = false
		reply.Text = "keyleak is here. Type a command, or click the buttons on its cards."
		if incident == "" {
			reply.Text = "keyleak works in the spaces it creates for incidents; open one with /keyleak AKIA… in Slack."
		}
		return ChatMessage(reply, "help")
	case "REMOVED_FROM_SPACE":
		c.o.Log.WarnContext(ctx, "keyleak was removed from a space", "space", spaceName(ev), "incident", incident)
		return &chat.Message{}
	case "CARD_CLICKED":
		if ev.Common == nil || ev.Common.InvokedFunction == "" {
			return ChatMessage(problem("That button carried no command."), "")
		}
		req.Name = ev.Common.InvokedFunction
		req.Args = strings.Fields(ev.Common.Parameters["args"])
		reply := c.o.Registry.Dispatch(ctx, req)
		msg := ChatMessage(reply, "reply")
		if !reply.Problem && (req.Name == "approve" || req.Name == "deny") {
			// Replace the clicked request card with its new state.
			msg.ActionResponse = &chat.ActionResponse{Type: "UPDATE_MESSAGE"}
		} else {
			msg.ActionResponse = &chat.ActionResponse{Type: "NEW_MESSAGE"}
			c.private(msg, reply, ev.User)
		}
		return msg
	case "MESSAGE", "APP_COMMAND":
		line, err := c.commandLine(ev)
		if err != nil {
			return ChatMessage(problem(err.Error()), "")
		}
		text, secret := commands.Redact(line)
		if secret {
			c.o.Log.WarnContext(ctx, "a secret was pasted into chat; it was not processed", "space", spaceName(ev), "incident", incident, "user", actor.ID)
			r := problem(commands.SecretWarning)
			msg := ChatMessage(r, "")
			c.private(msg, r, ev.User)
			return msg
		}
		args, err := commands.Tokenize(text)
		if err != nil {
			return ChatMessage(problem("I could not read that: "+err.Error()+"."), "")
		}
		if len(args) > 0 {
			req.Name, req.Args = strings.ToLower(args[0]), args[1:]
		}
		if ev.Message != nil && ev.Message.Thread != nil {
			req.Thread = ev.Message.Thread.ThreadKey
		}
		reply := c.o.Registry.Dispatch(ctx, req)
		msg := ChatMessage(reply, "reply")
		c.private(msg, reply, ev.User)
		return msg
	default:
		c.o.Log.InfoContext(ctx, "chat event ignored", "type", ev.Type)
		return &chat.Message{}
	}
}

// private shows a private reply to its requester only.
func (c *Chat) private(msg *chat.Message, r commands.Reply, u *chat.User) {
	if r.Private && u != nil {
		msg.PrivateMessageViewer = &chat.User{Name: u.Name}
	}
}

// commandLine returns the command line an event carries: for a slash or
// app command, its name and then the text after it; for a plain message
// to keyleak, the text without the mention.
func (c *Chat) commandLine(ev chat.DeprecatedEvent) (string, error) {
	var id int64
	switch {
	case ev.AppCommandMetadata != nil:
		id = ev.AppCommandMetadata.AppCommandId
	case ev.Message != nil && ev.Message.SlashCommand != nil:
		id = ev.Message.SlashCommand.CommandId
	}
	if ev.Message == nil {
		if id == 0 {
			return "", errors.New("that event carried no message")
		}
		ev.Message = &chat.Message{}
	}
	if id == 0 {
		return strings.TrimSpace(ev.Message.ArgumentText), nil
	}
	name, ok := c.o.Commands[id]
	if !ok {
		return "", fmt.Errorf("this keyleak does not know command #%d; its Chat app configuration and keyleak's chat.commands setting disagree", id)
	}
	rest := stripSlashCommand(ev.Message)
	if name == UmbrellaCommand {
		return rest, nil
	}
	return strings.TrimSpace(name + " " + rest), nil
}

// stripSlashCommand returns the message text without its slash command,
// located by the SLASH_COMMAND annotation (offsets in UTF-16 units, as
// Chat counts them); without one, argumentText minus a leading "/word".
func stripSlashCommand(m *chat.Message) string {
	for _, a := range m.Annotations {
		if a.Type != "SLASH_COMMAND" {
			continue
		}
		u := utf16.Encode([]rune(m.Text))
		start, end := int(a.StartIndex), int(a.StartIndex+a.Length)
		if start < 0 || end > len(u) || start > end {
			break
		}
		return strings.TrimSpace(string(utf16.Decode(u[:start])) + " " + string(utf16.Decode(u[end:])))
	}
	t := strings.TrimSpace(m.ArgumentText)
	if t == "" {
		t = strings.TrimSpace(m.Text)
	}
	if strings.HasPrefix(t, "/") {
		if i := strings.IndexFunc(t, func(r rune) bool { return r == ' ' || r == '\n' || r == '\t' }); i >= 0 {
			return strings.TrimSpace(t[i:])
		}
		return ""
	}
	return t
}

func spaceName(ev chat.DeprecatedEvent) string {
	if ev.Space == nil {
		return ""
	}
	return ev.Space.Name
}
