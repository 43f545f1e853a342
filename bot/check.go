package bot

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/slack-go/slack"
	gomail "github.com/wneessen/go-mail"
	"golang.org/x/oauth2"
	chat "google.golang.org/api/chat/v1"
	"google.golang.org/api/googleapi"
	meet "google.golang.org/api/meet/v2"
)

// Check is the outcome of one check of keyleak's configuration against an
// outside service (keyleak doctor, serve --check).
type Check struct {
	Name   string // the piece checked: "slack token", "chat space"…
	Detail string // what was found
	Err    error  // why it failed; nil when it passed
	Fix    string // what to change, when it failed
}

func passed(name, format string, args ...any) Check {
	return Check{Name: name, Detail: fmt.Sprintf(format, args...)}
}

func failed(name string, err error, fix string, args ...any) Check {
	return Check{Name: name, Err: err, Fix: fmt.Sprintf(fix, args...)}
}

// SlackScopes are the bot token scopes keyleak uses, as the app manifest
// (deploy/slack-app-manifest.yaml) grants them: the slash command, posting
// and updating the page, reading the page channel's history to find its
// own page again after a crash (channels:history, or groups:history for a
// private channel), resolving the on-call group, and the reporter's email.
var SlackScopes = []string{"channels:history", "chat:write", "commands", "groups:history", "usergroups:read", "users:read", "users:read.email"}

// slackClient is a Web API client for token at apiURL (Slack's when
// empty). Method names are appended to the URL, so it ends in a slash.
func slackClient(token, apiURL string, hc *http.Client) *slack.Client {
	opts := []slack.Option{slack.OptionHTTPClient(hc)}
	if apiURL != "" {
		opts = append(opts, slack.OptionAPIURL(strings.TrimSuffix(apiURL, "/")+"/"))
	}
	return slack.New(token, opts...)
}

// scopeRecorder keeps the X-OAuth-Scopes header Slack sends with every
// Web API answer: the scopes the token was granted.
type scopeRecorder struct {
	base http.RoundTripper

	mu     sync.Mutex
	scopes []string
	seen   bool
}

func (s *scopeRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(r)
	if err == nil {
		if h, ok := resp.Header["X-Oauth-Scopes"]; ok {
			s.mu.Lock()
			s.seen, s.scopes = true, nil
			for _, sc := range strings.Split(strings.Join(h, ","), ",") {
				if sc = strings.TrimSpace(sc); sc != "" {
					s.scopes = append(s.scopes, sc)
				}
			}
			s.mu.Unlock()
		}
	}
	return resp, err
}

// CheckSlack proves the pager's configuration: the bot token works and has
// the scopes keyleak needs, the bot can read and post in the page channel,
// and the on-call group's handle resolves.
func CheckSlack(ctx context.Context, cfg PagerConfig) []Check {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultCallTimeout
	}
	rec := &scopeRecorder{base: http.DefaultTransport}
	api := slackClient(cfg.BotToken, cfg.APIURL, &http.Client{Timeout: cfg.Timeout, Transport: rec})
	where := cfg.APIURL
	if where == "" {
		where = slack.APIURL
	}
	auth, err := api.AuthTestContext(ctx)
	if err != nil {
		return []Check{slackFailure("slack token", err, where)}
	}
	out := []Check{passed("slack token", "bot @%s (%s) in the workspace %s (%s)", auth.User, auth.UserID, auth.Team, auth.TeamID)}
	rec.mu.Lock()
	granted, seen := slices.Clone(rec.scopes), rec.seen
	rec.mu.Unlock()
	var missing []string
	for _, s := range SlackScopes {
		if !slices.Contains(granted, s) {
			missing = append(missing, s)
		}
	}
	switch {
	case !seen:
		out = append(out, passed("slack scopes", "Slack did not list the token's scopes; the calls below try them"))
	case len(missing) > 0:
		out = append(out, failed("slack scopes", fmt.Errorf("the bot token lacks %s", strings.Join(missing, ", ")),
			"add them at https://api.slack.com/apps → keyleak → OAuth & Permissions → Bot Token Scopes (deploy/slack-app-manifest.yaml lists every one), then reinstall the app to the workspace"))
	default:
		out = append(out, passed("slack scopes", "%s", strings.Join(SlackScopes, ", ")))
	}
	channel := cfg.Channel
	if _, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: channel, Limit: 1}); err != nil {
		out = append(out, slackFailure("slack channel", err, channel))
	} else {
		out = append(out, passed("slack channel", "the bot is in %s and can read it and post there", channel))
	}
	if group := strings.TrimPrefix(cfg.OncallGroup, "@"); group != "" {
		out = append(out, checkSlackGroup(ctx, api, group))
	}
	return out
}

// CheckSocketMode proves the app-level token: Slack hands it a Socket Mode
// connection URL (apps.connections.open), which keyleak does not open.
func CheckSocketMode(ctx context.Context, cfg SocketModeConfig) Check {
	opts := []slack.Option{slack.OptionAppLevelToken(cfg.AppToken), slack.OptionHTTPClient(&http.Client{Timeout: DefaultCallTimeout})}
	if cfg.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(strings.TrimSuffix(cfg.APIURL, "/")+"/"))
	}
	api := slack.New(cfg.BotToken, opts...)
	if _, _, err := api.StartSocketModeContext(ctx); err != nil {
		var apiErr slack.SlackErrorResponse
		if errors.As(err, &apiErr) {
			return failed("slack socket mode", err, "slack.app_token must be an app-level token (xapp-…) with the connections:write scope: https://api.slack.com/apps → keyleak → Basic Information → App-Level Tokens; and Socket Mode must be on (Settings → Socket Mode)")
		}
		return slackFailure("slack socket mode", err, cfg.APIURL)
	}
	return passed("slack socket mode", "Slack offers keyleak a Socket Mode connection")
}

func checkSlackGroup(ctx context.Context, api *slack.Client, handle string) Check {
	groups, err := api.GetUserGroupsContext(ctx)
	if err != nil {
		return slackFailure("slack on-call group", err, handle)
	}
	var handles []string
	for _, g := range groups {
		if g.Handle == handle {
			return passed("slack on-call group", "@%s is %s (%d members): the page mentions it", handle, g.ID, g.UserCount)
		}
		handles = append(handles, g.Handle)
	}
	return failed("slack on-call group", fmt.Errorf("no user group has the handle @%s (the workspace has: %s)", handle, strings.Join(handles, ", ")),
		"set slack.oncall_group to a user group's handle, without @, as Slack shows it under People → User groups")
}

// slackFailure explains a failed Web API call about what (a URL, a
// channel, a handle).
func slackFailure(name string, err error, what string) Check {
	var api slack.SlackErrorResponse
	if !errors.As(err, &api) {
		return failed(name, err, "keyleak could not talk to Slack's Web API at %s: check slack.api_url (empty for Slack's, https://slack.com/api/; the /api/ is part of it) and that keyleak may connect out to it", what)
	}
	switch api.Err {
	case "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive":
		return failed(name, err, "slack.bot_token is not the bot token of the installed app: copy the Bot User OAuth Token (xoxb-…) from https://api.slack.com/apps → keyleak → OAuth & Permissions into slack.bot_token (KEYLEAK_SLACK_BOT_TOKEN_FILE), reinstalling the app if it was removed")
	case "missing_scope":
		return failed(name, err, "add the missing scope at https://api.slack.com/apps → keyleak → OAuth & Permissions → Bot Token Scopes (deploy/slack-app-manifest.yaml lists every one), then reinstall the app")
	case "channel_not_found":
		return failed(name, err, "slack.page_channel must be the ID of the on-call channel (C…, at the bottom of the channel's details in Slack), not its name; %q is not one the bot can see (a private channel shows only once the bot is invited)", what)
	case "not_in_channel":
		return failed(name, err, "invite the bot to the channel %s: type /invite @keyleak there", what)
	case "is_archived":
		return failed(name, err, "the channel %s is archived: unarchive it or set slack.page_channel to another one", what)
	}
	return failed(name, err, "Slack refused the call (%s): see https://api.slack.com/methods for what it means", api.Err)
}

// doctorSpace names the space keyleak doctor creates to prove that the
// Chat app may create spaces. Its request ID is fixed, so every run finds
// the space the first one made instead of making another.
const doctorSpace = "keyleak doctor"

// CheckRoom proves the war room's configuration: the Chat app can create a
// space (keyleak doctor's own, made once, with nobody in it) and the Meet
// API creates a meeting space for the delegated user.
func CheckRoom(ctx context.Context, cfg RoomConfig) []Check {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultCallTimeout
	}
	var out []Check
	chatOpts, err := googleOptions(ctx, cfg.ChatAPIURL, cfg.ChatCredentialsFile, "", ChatScopes, cfg.Timeout)
	if err == nil {
		var cs *chat.Service
		if cs, err = chat.NewService(ctx, chatOpts...); err == nil {
			var sp *chat.Space
			sp, err = cs.Spaces.Create(&chat.Space{
				DisplayName: doctorSpace, SpaceType: "SPACE", Customer: "customers/my_customer",
				SpaceDetails: &chat.SpaceDetails{Description: "keyleak doctor proves with this space that keyleak can create incident spaces. Nobody needs to be in it."},
			}).RequestId(requestID(doctorSpace)).Context(ctx).Do()
			if err == nil {
				out = append(out, passed("chat space", "the Chat app can create spaces (its check space %q is %s)", doctorSpace, sp.Name))
			}
		}
	}
	if err != nil {
		out = append(out, googleFailure("chat space", err, "chat", cfg))
	}
	if cfg.MeetAPIURL == "" && cfg.MeetCredentialsFile == "" {
		return out
	}
	meetOpts, err := googleOptions(ctx, cfg.MeetAPIURL, cfg.MeetCredentialsFile, cfg.MeetDelegate, MeetScopes, cfg.Timeout)
	if err == nil {
		var ms *meet.Service
		if ms, err = meet.NewService(ctx, meetOpts...); err == nil {
			access := cfg.MeetAccess
			if access == "" {
				access = "TRUSTED"
			}
			var sp *meet.Space
			sp, err = ms.Spaces.Create(&meet.Space{Config: &meet.SpaceConfig{AccessType: access}}).Context(ctx).Do()
			if err == nil {
				as := ""
				if cfg.MeetDelegate != "" {
					as = " as " + cfg.MeetDelegate
				}
				out = append(out, passed("meet", "Meet creates meeting spaces%s (%s, nobody invited)", as, sp.MeetingUri))
			}
		}
	}
	if err != nil {
		out = append(out, googleFailure("meet", err, "meet", cfg))
	}
	return out
}

// googleFailure explains a failed Chat or Meet call.
func googleFailure(name string, err error, service string, cfg RoomConfig) Check {
	file, url, setting := cfg.ChatCredentialsFile, cfg.ChatAPIURL, "chat"
	if service == "meet" {
		file, url, setting = cfg.MeetCredentialsFile, cfg.MeetAPIURL, "meet"
	}
	var grant *oauth2.RetrieveError
	var gerr *googleapi.Error
	switch {
	case file == "" && url == "":
		return failed(name, err, "set %s.credentials_file to the service account key (deploy/google-chat.md)", setting)
	case errors.As(err, &grant) && grantError(grant) == "unauthorized_client" && service == "meet":
		return failed(name, err, "grant domain-wide delegation to the Meet service account: Admin console → Security → Access and data control → API controls → Manage Domain Wide Delegation → Add new, client ID %s, scope %s (deploy/google-chat.md §3)",
			clientIDOf(file), strings.Join(MeetScopes, ","))
	case errors.As(err, &grant) && service == "meet":
		return failed(name, err, "Google refused to issue a token for %s with the key in %s: meet.delegated_user must be an active user of your Workspace, and the key must be live (IAM & Admin → Service accounts → Keys; this machine's clock must be right)", cfg.MeetDelegate, file)
	case errors.As(err, &grant):
		return failed(name, err, "Google refused the service account key in %s (deleted, disabled, or this machine's clock is wrong): create a new JSON key for the service account under IAM & Admin → Service accounts → Keys and put it there", file)
	case errors.As(err, &gerr) && gerr.Code == http.StatusUnauthorized && file == "":
		return failed(name, err, "%s.api_url (%s) wants authentication: set %s.credentials_file to the service account key; the bot always authenticates to Google through it", setting, url, setting)
	case errors.As(err, &gerr) && gerr.Code == http.StatusForbidden && service == "chat":
		return failed(name, err, "the Chat app may not create spaces yet: a Workspace super administrator approves app authentication for the scopes %s once (deploy/google-chat.md §2)", strings.Join(ChatScopes, ", "))
	case errors.As(err, &gerr) && gerr.Code == http.StatusForbidden:
		return failed(name, err, "enable the Google Meet REST API in the service account's Cloud project, and give %s a Meet licence", cfg.MeetDelegate)
	case errors.As(err, &gerr) && gerr.Code == http.StatusNotFound && service == "chat":
		return failed(name, err, "enable the Google Chat API in the service account's Cloud project and configure the Chat app there (deploy/google-chat.md §1)")
	case errors.As(err, &gerr):
		return failed(name, err, "Google answered %d: see the message, and deploy/google-chat.md", gerr.Code)
	case errors.Is(err, errCredentials):
		return failed(name, err, "%s.credentials_file must be a readable service account key in JSON, as downloaded from IAM & Admin → Service accounts → Keys", setting)
	}
	return failed(name, err, "keyleak could not reach the %s API: check %s.api_url (empty for Google's) and that keyleak may connect out to it", service, setting)
}

// grantError is the OAuth error code of a refused token request. The JWT
// grant of service accounts leaves RetrieveError.ErrorCode empty, so it
// is read from the body.
func grantError(e *oauth2.RetrieveError) string {
	if e.ErrorCode != "" {
		return e.ErrorCode
	}
	var body struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(e.Body, &body) == nil {
		return body.Error
	}
	return ""
}

// clientIDOf reads the client ID (a number) of a service account key file,
// or says where to find it.
func clientIDOf(file string) string {
	data, err := os.ReadFile(file)
	if err == nil {
		var key struct {
			ClientID string `json:"client_id"`
		}
		if json.Unmarshal(data, &key) == nil && key.ClientID != "" {
			return key.ClientID
		}
	}
	return "(the service account's \"Unique ID\")"
}

// Check fetches the Chat token signing keys and parses them, as keyleak
// does before it verifies an event.
func (v *ChatVerifier) Check(ctx context.Context) Check {
	if err := v.Prefetch(ctx); err != nil {
		kind, audience, def := "a JSON Web Key Set", "endpoint_url", DefaultChatJWKSURL
		if v.cfg.AudienceType == ChatAudienceProjectNumber {
			kind, audience, def = "an X.509 certificate map", "project_number", DefaultChatX509URL
		}
		return failed("chat keys", err, "chat.keys_url must serve Google Chat's token signing keys as %s (for chat.audience_type %s): leave it empty for Google's, %s", kind, audience, def)
	}
	v.mu.Lock()
	n := len(v.keys)
	v.mu.Unlock()
	keys := "keys"
	if n == 1 {
		keys = "key"
	}
	return passed("chat keys", "%s serves %d signing %s", v.cfg.KeysURL, n, keys)
}

// CheckMail proves the email configuration: it connects to the SMTP
// server and logs in as keyleak would, and with send also emails a test
// message to the recipients (through SES too).
func CheckMail(ctx context.Context, cfg MailConfig, send bool, opts ...MailerOption) Check {
	m, err := NewMailer(cfg, nil, slog.New(slog.DiscardHandler), opts...)
	if err != nil {
		return failed("email", err, "correct the email.* settings")
	}
	msg, err := m.testMessage()
	if err != nil {
		return failed("email", err, "correct email.from, email.to and email.cc")
	}
	to := strings.Join(m.rcpts, ", ")
	if m.raw != nil {
		if !send {
			return passed("email", "through Amazon SES, which only sending proves: run keyleak doctor --send-email")
		}
		var buf bytes.Buffer
		if _, err := msg.WriteTo(&buf); err != nil {
			return failed("email", err, "correct email.from, email.to and email.cc")
		}
		if _, err := m.raw.SendRaw(ctx, m.from.Address, m.rcpts, buf.Bytes()); err != nil {
			return failed("email", err, "let keyleak's AWS role send from %s through SES (ses:SendRawEmail on the identity, deploy/aws/keyleak-bot-policy.json) and verify that identity in SES", m.from.Address)
		}
		return passed("email", "sent a test email to %s through Amazon SES", to)
	}
	server := net.JoinHostPort(m.cfg.Host, strconv.Itoa(m.cfg.Port))
	c, err := m.smtpClient()
	if err == nil {
		if send {
			err = c.DialAndSendWithContext(ctx, msg)
		} else if err = c.DialWithContext(ctx); err == nil {
			err = c.Close()
		}
	}
	if err != nil {
		return mailFailure(err, server, m.cfg)
	}
	how := map[string]string{MailStartTLS: "STARTTLS", MailTLS: "TLS", MailNoTLS: "no TLS"}[m.cfg.TLS]
	if m.cfg.Username != "" {
		how += ", logged in as " + m.cfg.Username
	}
	if send {
		return passed("email", "%s (%s) took a test email to %s", server, how, to)
	}
	return passed("email", "%s accepts keyleak (%s); keyleak doctor --send-email also sends a test email to %s", server, how, to)
}

// testMessage is keyleak doctor's email.
func (m *Mailer) testMessage() (*gomail.Msg, error) {
	return m.newMessage("keyleak doctor: test email", "keyleak doctor sent this email to check that keyleak's emails to InfoSec reach these addresses.\n"+
		"Nothing has happened: there is no incident.\n\n-- \nkeyleak\n")
}

// mailFailure explains a failed SMTP check.
func mailFailure(err error, server string, cfg MailConfig) Check {
	var reply *textproto.Error
	var sendErr *gomail.SendError
	var netErr *net.OpError
	var certErr *tls.CertificateVerificationError
	code := 0
	switch {
	case errors.As(err, &sendErr) && sendErr.ErrorCode() != 0:
		code = sendErr.ErrorCode()
	case errors.As(err, &reply):
		code = reply.Code
	}
	switch {
	case code == 535 || code == 534 || code == 530:
		return failed("email", err, "%s refused keyleak's login: check email.smtp_username and email.smtp_password (KEYLEAK_SMTP_PASSWORD_FILE)", server)
	case code >= 500:
		return failed("email", err, "%s refused the message: it must accept %s as a sender from keyleak (relay permission, SPF) and the recipients %s", server, cfg.From, strings.Join(append(slices.Clone(cfg.To), cfg.Cc...), ", "))
	case code >= 400:
		return failed("email", err, "%s put the message off (a temporary refusal); keyleak retries such refusals, but check the server's limits and run this again", server)
	case errors.As(err, &certErr):
		return failed("email", err, "%s's TLS certificate is not trusted by this machine or not for %s: use the server's real name in email.smtp_host", server, cfg.Host)
	case errors.As(err, &netErr) && netErr.Op == "dial":
		return failed("email", err, "nothing accepts SMTP at %s: check email.smtp_host, email.smtp_port and email.smtp_tls (starttls on 587, tls on 465) and that keyleak may connect out to it", server)
	}
	return failed("email", err, "check email.smtp_host, email.smtp_port and email.smtp_tls against what %s speaks (starttls needs the server to offer STARTTLS; tls is TLS from the first byte, usually on 465)", server)
}
