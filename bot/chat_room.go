package bot

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	chat "google.golang.org/api/chat/v1"
	"google.golang.org/api/googleapi"
	meet "google.golang.org/api/meet/v2"
	"google.golang.org/api/option"

	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// Scopes keyleak asks for. Chat uses app authentication (a service
// account approved once by a Workspace admin); Meet accepts only user
// authentication, so a service account with domain-wide delegation acts
// as a dedicated Workspace user.
var (
	ChatScopes = []string{
		"https://www.googleapis.com/auth/chat.bot",
		"https://www.googleapis.com/auth/chat.app.spaces.create",
		"https://www.googleapis.com/auth/chat.app.memberships",
	}
	MeetScopes = []string{"https://www.googleapis.com/auth/meetings.space.created"}
)

// RoomConfig configures the war room.
type RoomConfig struct {
	// ChatAPIURL and MeetAPIURL point the clients elsewhere than Google
	// (the local world); empty for Google itself.
	ChatAPIURL string
	MeetAPIURL string
	// ChatCredentialsFile is the service account key of the Chat app (app
	// authentication). Empty only with ChatAPIURL set: no authentication.
	ChatCredentialsFile string
	// MeetCredentialsFile is a service account key with domain-wide
	// delegation, acting as MeetDelegate (Meet accepts only user
	// authentication). Without both, and without MeetAPIURL, no Meet is
	// created.
	MeetCredentialsFile string
	MeetDelegate        string
	// MeetAccess is the Meet space's access type; TRUSTED by default.
	MeetAccess string
	// Responders are added to every incident's space, by email.
	Responders []string
	// ReporterEmail finds the email of a reporter whose report did not
	// carry it (a Slack user), so they can be added too; nil to skip.
	ReporterEmail func(ctx context.Context, reporter state.Actor) (string, error)
	// Timeout bounds each call to Google, token requests included;
	// DefaultCallTimeout when zero.
	Timeout time.Duration
}

// DefaultCallTimeout bounds one call to Slack or Google: past it, the
// delivery is retried rather than left hanging.
const DefaultCallTimeout = 30 * time.Second

// Room is the notifier of commands.ChannelChat: it creates each
// incident's space and Meet, posts the incident card, and posts or updates
// action request cards in their threads.
type Room struct {
	chat   *chat.Service
	meet   *meet.Service
	store  *state.Store
	cfg    RoomConfig
	log    *slog.Logger
	now    func() time.Time
	render func(ctx context.Context, inc state.Incident) commands.Reply
}

// NewRoom builds the Chat (and Meet) clients. incidentCard renders the
// incident card from what is known.
func NewRoom(ctx context.Context, cfg RoomConfig, store *state.Store, log *slog.Logger, now func() time.Time, incidentCard func(context.Context, state.Incident) commands.Reply) (*Room, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultCallTimeout
	}
	chatOpts, err := googleOptions(ctx, cfg.ChatAPIURL, cfg.ChatCredentialsFile, "", ChatScopes, cfg.Timeout)
	if err != nil {
		return nil, fmt.Errorf("google chat client: %w", err)
	}
	cs, err := chat.NewService(ctx, chatOpts...)
	if err != nil {
		return nil, fmt.Errorf("google chat client: %w", err)
	}
	r := &Room{chat: cs, store: store, cfg: cfg, log: log, now: now, render: incidentCard}
	if cfg.MeetAPIURL != "" || cfg.MeetCredentialsFile != "" {
		meetOpts, err := googleOptions(ctx, cfg.MeetAPIURL, cfg.MeetCredentialsFile, cfg.MeetDelegate, MeetScopes, cfg.Timeout)
		if err != nil {
			return nil, fmt.Errorf("google meet client: %w", err)
		}
		if r.meet, err = meet.NewService(ctx, meetOpts...); err != nil {
			return nil, fmt.Errorf("google meet client: %w", err)
		}
	}
	if r.cfg.MeetAccess == "" {
		r.cfg.MeetAccess = "TRUSTED"
	}
	return r, nil
}

// errCredentials marks a service account key file that cannot be read or
// used.
var errCredentials = errors.New("unusable service account credentials")

// googleOptions are the client options for one Google API: always its
// scopes (else the client asks for every scope of the API), the endpoint
// when set, and service account credentials, impersonating subject when
// set (domain-wide delegation), through an HTTP client whose calls (and
// token requests) give up after timeout.
func googleOptions(ctx context.Context, endpoint, credentialsFile, subject string, scopes []string, timeout time.Duration) ([]option.ClientOption, error) {
	opts := []option.ClientOption{option.WithScopes(scopes...)}
	if endpoint != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(endpoint, "/")+"/"))
	}
	switch {
	case credentialsFile == "" && endpoint == "":
		return nil, errors.New("a service account credentials file is required")
	case credentialsFile == "":
		opts = append(opts, option.WithHTTPClient(&http.Client{Timeout: timeout}))
	default:
		data, err := os.ReadFile(credentialsFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errCredentials, err)
		}
		// The token source fetches tokens with the context's client.
		tctx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, &http.Client{Timeout: timeout})
		creds, err := google.CredentialsFromJSONWithParams(tctx, data, google.CredentialsParams{Scopes: scopes, Subject: subject})
		if err != nil {
			return nil, fmt.Errorf("%w in %s: %w", errCredentials, credentialsFile, err)
		}
		client := oauth2.NewClient(tctx, creds.TokenSource)
		client.Timeout = timeout
		opts = append(opts, option.WithHTTPClient(client))
	}
	return opts, nil
}

// errNoRoom means the incident's space does not exist yet.
var errNoRoom = errors.New("the incident's Chat space is not created yet")

// Deliver carries out one Chat notice.
func (r *Room) Deliver(ctx context.Context, m state.Message) (retry bool, err error) {
	n, err := commands.DecodeNotice(m)
	if err != nil {
		return false, err
	}
	var inc state.Incident
	if err := r.store.View(func(tx *state.Tx) (err error) { inc, err = tx.Incident(n.Incident); return err }); err != nil {
		return false, err
	}
	switch n.Kind {
	case commands.NoticeRoom:
		err = r.openRoom(ctx, inc)
	case commands.NoticeAction:
		err = r.actionCard(ctx, inc, n.Action)
	case commands.NoticeReply:
		if n.Reply == nil {
			return false, fmt.Errorf("chat message %d: reply notice without a reply", m.ID)
		}
		err = r.post(ctx, inc, *n.Reply, n.Thread, clientID(m.Key))
	default:
		return false, fmt.Errorf("chat message %d: unknown kind %q", m.ID, n.Kind)
	}
	if err == nil {
		return false, nil
	}
	if errors.Is(err, errNoRoom) {
		return true, err
	}
	return googleRetry(err)
}

// openRoom creates what is missing of the war room, each step recorded as
// it is done, so a retry repeats only what failed.
func (r *Room) openRoom(ctx context.Context, inc state.Incident) error {
	if inc.ChatSpace == "" {
		sp, err := r.chat.Spaces.Create(&chat.Space{
			DisplayName: clip(fmt.Sprintf("%s leaked AWS key %s", inc.ID, inc.AccessKeyID), 128),
			SpaceType:   "SPACE",
			Customer:    "customers/my_customer",
		}).RequestId(requestID(inc.ID + "/space")).Context(ctx).Do()
		if err != nil {
			return fmt.Errorf("create the Chat space: %w", err)
		}
		url := sp.SpaceUri
		if url == "" {
			url = "https://mail.google.com/chat/u/0/#chat/space/" + strings.TrimPrefix(sp.Name, "spaces/")
		}
		if inc, err = r.record(inc.ID, "created the war room "+url, func(in *state.Incident) {
			in.ChatSpace, in.ChatSpaceURL = sp.Name, url
		}); err != nil {
			return err
		}
	}
	if inc.Reporter.Email == "" && r.cfg.ReporterEmail != nil && inc.Reporter.Platform != state.PlatformDetector {
		email, err := r.cfg.ReporterEmail(ctx, inc.Reporter)
		if err != nil {
			r.log.WarnContext(ctx, "reporter's email not found; not adding them to the space", "incident", inc.ID, "err", err)
		} else if inc, err = r.record(inc.ID, "", func(in *state.Incident) { in.Reporter.Email = email }); err != nil {
			return err
		}
	}
	members := slices.Clone(r.cfg.Responders)
	if inc.Reporter.Email != "" && !slices.ContainsFunc(members, func(e string) bool { return strings.EqualFold(e, inc.Reporter.Email) }) {
		members = append(members, inc.Reporter.Email)
	}
	var missed []string
	for _, email := range members {
		_, err := r.chat.Spaces.Members.Create(inc.ChatSpace, &chat.Membership{
			Member: &chat.User{Name: "users/" + email, Type: "HUMAN"},
		}).Context(ctx).Do()
		var gerr *googleapi.Error
		switch {
		case err == nil:
		case errors.As(err, &gerr) && gerr.Code == http.StatusConflict:
			// A member already.
		case errors.As(err, &gerr) && gerr.Code < 500 && gerr.Code != http.StatusTooManyRequests:
			// This person cannot be added (outside the domain, unknown):
			// say so, and do not hold up the room.
			missed = append(missed, fmt.Sprintf("%s (%s)", email, gerr.Message))
		default:
			return fmt.Errorf("add %s to the space: %w", email, err)
		}
	}
	if len(missed) > 0 {
		r.log.WarnContext(ctx, "responders not added to the space", "incident", inc.ID, "count", len(missed))
		if _, err := r.record(inc.ID, "could not add to the war room: "+strings.Join(missed, "; "), nil); err != nil {
			return err
		}
	}
	if r.meet != nil && inc.MeetURL == "" {
		sp, err := r.meet.Spaces.Create(&meet.Space{Config: &meet.SpaceConfig{AccessType: r.cfg.MeetAccess}}).Context(ctx).Do()
		if err != nil {
			return fmt.Errorf("create the Meet: %w", err)
		}
		if inc, err = r.record(inc.ID, "created the Meet "+sp.MeetingUri, func(in *state.Incident) { in.MeetURL = sp.MeetingUri }); err != nil {
			return err
		}
	}
	return r.upsert(ctx, inc, ChatMessage(r.render(ctx, inc), "incident"), "", "client-"+strings.ToLower(inc.ID)+"-card")
}

// record changes the incident, appends a timeline entry and queues an
// update of the Slack page, in one transaction.
func (r *Room) record(id, text string, change func(*state.Incident)) (state.Incident, error) {
	var inc state.Incident
	err := r.store.Batch(func(tx *state.Tx) error {
		var err error
		if inc, err = tx.Incident(id); err != nil {
			return err
		}
		now := r.now()
		if change != nil {
			change(&inc)
			inc.UpdatedAt = now
			if err := tx.PutIncident(inc); err != nil {
				return err
			}
			if err := commands.UpdatePage(tx, id, fmt.Sprint(now.UnixNano()), now); err != nil {
				return err
			}
		}
		if text == "" {
			return nil
		}
		_, err = tx.Append(state.Event{Incident: id, At: now, Actor: state.System, Kind: state.EventFinding, Text: text, Source: state.Source{Platform: "keyleak"}})
		return err
	})
	return inc, err
}

// actionCard posts an action's request card in its own thread, or
// updates it in place; a finished action also gets its result in the
// thread.
func (r *Room) actionCard(ctx context.Context, inc state.Incident, actionID string) error {
	if inc.ChatSpace == "" {
		return errNoRoom
	}
	var a state.Action
	if err := r.store.View(func(tx *state.Tx) (err error) { a, err = tx.Action(actionID); return err }); err != nil {
		return err
	}
	id := "client-" + strings.ToLower(a.ID)
	if err := r.upsert(ctx, inc, ChatMessage(commands.ActionReply(a, r.now()), "request"), a.Thread, id); err != nil {
		return err
	}
	if a.Status == state.ActionSucceeded || a.Status == state.ActionFailed {
		text := fmt.Sprintf("%s %s %s.", a.ID, a.Name, a.Status)
		if a.Result != "" {
			text += " " + a.Result
		}
		if a.Error != "" {
			text += " Error: " + a.Error
		}
		return r.create(ctx, inc, &chat.Message{Text: clip(text, 4000)}, a.Thread, id+"-result")
	}
	return nil
}

// post sends a reply to the space, in thread if given.
func (r *Room) post(ctx context.Context, inc state.Incident, reply commands.Reply, thread, messageID string) error {
	if inc.ChatSpace == "" {
		return errNoRoom
	}
	return r.create(ctx, inc, ChatMessage(reply, "notice"), thread, messageID)
}

// upsert creates the message with messageID, or replaces its content if
// it exists.
func (r *Room) upsert(ctx context.Context, inc state.Incident, msg *chat.Message, thread, messageID string) error {
	err := r.create(ctx, inc, msg, thread, messageID)
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != http.StatusConflict {
		return err
	}
	mask := "text,cards_v2"
	msg.Thread = nil
	_, err = r.chat.Spaces.Messages.Patch(inc.ChatSpace+"/messages/"+messageID, msg).UpdateMask(mask).Context(ctx).Do()
	if err != nil {
		return fmt.Errorf("update message %s: %w", messageID, err)
	}
	return nil
}

// create posts a message with an ID of keyleak's choosing, so a retried
// delivery cannot post it twice (the second attempt gets 409).
func (r *Room) create(ctx context.Context, inc state.Incident, msg *chat.Message, thread, messageID string) error {
	call := r.chat.Spaces.Messages.Create(inc.ChatSpace, msg).MessageId(messageID)
	if thread != "" {
		msg.Thread = &chat.Thread{ThreadKey: thread}
		call = call.MessageReplyOption("REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD")
	}
	_, err := call.Context(ctx).Do()
	var gerr *googleapi.Error
	if errors.As(err, &gerr) && gerr.Code == http.StatusConflict && strings.HasSuffix(messageID, "-result") {
		return nil // already posted
	}
	if err != nil {
		return fmt.Errorf("post message %s: %w", messageID, err)
	}
	return nil
}

// clientID turns an outbox key into a Chat message ID: "client-" and up
// to 63 characters of [a-z0-9-].
func clientID(key string) string {
	h := sha256.Sum256([]byte(key))
	return fmt.Sprintf("client-n%x", h[:16])
}

// requestID derives a stable UUID-shaped request ID from s, so retrying
// spaces.create returns the space the first attempt made.
func requestID(s string) string {
	h := sha256.Sum256([]byte(s))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// googleRetry classifies a Google API error: 429, 5xx, timeouts and
// network errors retry; other 4xx are permanent.
func googleRetry(err error) (bool, error) {
	var gerr *googleapi.Error
	var netErr net.Error
	switch {
	case errors.As(err, &gerr):
		if gerr.Code == http.StatusTooManyRequests || gerr.Code >= 500 {
			return true, err
		}
		return false, err
	case errors.As(err, &netErr), errors.Is(err, context.DeadlineExceeded):
		return true, err
	default:
		return true, err
	}
}
