package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// Pager posts and updates the on-call page in Slack: one message per
// incident, posted once and updated in place as facts arrive.
type Pager struct {
	api     *slack.Client
	store   *state.Store
	channel string
	group   string // user group handle to mention, without '@'
	log     *slog.Logger

	mu      sync.Mutex
	groupID string
}

// PagerConfig says where and how to page.
type PagerConfig struct {
	BotToken    string // xoxb-…
	APIURL      string // Slack's Web API base URL; empty for Slack itself
	Channel     string // channel ID of the page
	OncallGroup string // user group handle to mention, with or without '@'
	// Timeout bounds each call to Slack; DefaultCallTimeout when zero.
	Timeout time.Duration
}

// NewPager returns the notifier of commands.ChannelSlack.
func NewPager(cfg PagerConfig, store *state.Store, log *slog.Logger) *Pager {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultCallTimeout
	}
	return &Pager{
		api: slackClient(cfg.BotToken, cfg.APIURL, &http.Client{Timeout: cfg.Timeout}), store: store, channel: cfg.Channel,
		group: strings.TrimPrefix(cfg.OncallGroup, "@"), log: log,
	}
}

// Deliver posts the page of the incident m names, or updates it.
func (p *Pager) Deliver(ctx context.Context, m state.Message) (retry bool, err error) {
	n, err := commands.DecodeNotice(m)
	if err != nil {
		return false, err
	}
	switch n.Kind {
	case commands.NoticePage:
	case commands.NoticeAlarm:
		return p.alarm(ctx, n)
	default:
		return false, fmt.Errorf("slack message %d: unknown kind %q", m.ID, n.Kind)
	}
	var inc state.Incident
	if err := p.store.View(func(tx *state.Tx) (err error) { inc, err = tx.Incident(n.Incident); return err }); err != nil {
		return false, err
	}
	if inc.Reporter.Platform == "slack" && inc.Reporter.Email == "" {
		inc = p.lookupReporter(ctx, inc)
	}
	mention, err := p.mention(ctx)
	if err != nil {
		p.log.WarnContext(ctx, "on-call group not resolved; paging without the mention", "group", p.group, "err", err)
	}
	opts := []slack.MsgOption{
		slack.MsgOptionText(pageFallback(inc, mention), false),
		slack.MsgOptionBlocks(PageBlocks(inc, mention)...),
	}
	if inc.SlackTS != "" {
		_, _, _, err := p.api.UpdateMessageContext(ctx, inc.SlackChannel, inc.SlackTS, opts...)
		if err != nil {
			return slackRetry("chat.update", err)
		}
		return false, nil
	}
	// keyleak may have posted this page and stopped before recording it:
	// adopt that page rather than paging twice.
	channel, ts, err := p.findPage(ctx, inc.ID)
	if err != nil {
		p.log.WarnContext(ctx, "could not look for an earlier page; posting (grant channels:history to avoid a possible duplicate)", "incident", inc.ID, "err", err)
	}
	if ts != "" {
		if _, _, _, err := p.api.UpdateMessageContext(ctx, channel, ts, opts...); err != nil {
			return slackRetry("chat.update", err)
		}
	} else {
		opts = append(opts, slack.MsgOptionMetadata(slack.SlackMetadata{EventType: pageEventType, EventPayload: map[string]any{"incident": inc.ID}}))
		if channel, ts, err = p.api.PostMessageContext(ctx, p.channel, opts...); err != nil {
			return slackRetry("chat.postMessage", err)
		}
	}
	err = p.store.Batch(func(tx *state.Tx) error {
		cur, err := tx.Incident(inc.ID)
		if err != nil {
			return err
		}
		cur.SlackChannel, cur.SlackTS = channel, ts
		return tx.PutIncident(cur)
	})
	if err != nil {
		// The page is out; failing now would post it again. Log and go on.
		p.log.ErrorContext(ctx, "record the page's timestamp", "incident", inc.ID, "err", err)
	}
	return false, nil
}

// Email returns a Slack user's email (users:read.email).
func (p *Pager) Email(ctx context.Context, reporter state.Actor) (string, error) {
	if reporter.Platform != "slack" {
		return "", fmt.Errorf("%s is not a Slack user", reporter)
	}
	u, err := p.api.GetUserInfoContext(ctx, reporter.ID)
	if err != nil {
		return "", fmt.Errorf("users.info %s: %w", reporter.ID, err)
	}
	if u.Profile.Email == "" {
		return "", fmt.Errorf("users.info %s: no email (is users:read.email granted?)", reporter.ID)
	}
	return u.Profile.Email, nil
}

// alarm posts an alarm under the page, also shown in the channel, with
// the on-call mention.
func (p *Pager) alarm(ctx context.Context, n commands.Notice) (bool, error) {
	var inc state.Incident
	if err := p.store.View(func(tx *state.Tx) (err error) { inc, err = tx.Incident(n.Incident); return err }); err != nil {
		return false, err
	}
	mention, err := p.mention(ctx)
	if err != nil {
		p.log.WarnContext(ctx, "on-call group not resolved; alarming without the mention", "group", p.group, "err", err)
	}
	text := fmt.Sprintf(":rotating_light: %s: activity continues after containment. Details in the war room, not here.", inc.ID)
	if inc.ChatSpaceURL != "" {
		text += " " + slackLink(inc.ChatSpaceURL, "Open the war room")
	}
	if mention != "" {
		text = mention + " " + text
	}
	opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
	channel := p.channel
	if inc.SlackTS != "" {
		channel = inc.SlackChannel
		opts = append(opts, slack.MsgOptionTS(inc.SlackTS), slack.MsgOptionBroadcast())
	}
	if _, _, err := p.api.PostMessageContext(ctx, channel, opts...); err != nil {
		return slackRetry("chat.postMessage", err)
	}
	return false, nil
}

// pageEventType marks keyleak's pages in their message metadata.
const pageEventType = "keyleak_page"

// findPage looks through the page channel's recent messages for the page
// of incident, by its metadata.
func (p *Pager) findPage(ctx context.Context, incident string) (channel, ts string, err error) {
	h, err := p.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: p.channel, Limit: 200, IncludeAllMetadata: true})
	if err != nil {
		return "", "", fmt.Errorf("conversations.history: %w", err)
	}
	for _, m := range h.Messages {
		if m.Metadata.EventType == pageEventType && m.Metadata.EventPayload["incident"] == incident {
			return p.channel, m.Timestamp, nil
		}
	}
	return "", "", nil
}

// lookupReporter fills in the reporter's email (users:read.email), so
// they can be added to the Chat space. Failure only costs that.
func (p *Pager) lookupReporter(ctx context.Context, inc state.Incident) state.Incident {
	u, err := p.api.GetUserInfoContext(ctx, inc.Reporter.ID)
	if err != nil || u.Profile.Email == "" {
		p.log.WarnContext(ctx, "reporter's email not found", "incident", inc.ID, "user", inc.Reporter.ID, "err", err)
		return inc
	}
	err = p.store.Batch(func(tx *state.Tx) error {
		cur, err := tx.Incident(inc.ID)
		if err != nil {
			return err
		}
		cur.Reporter.Email = u.Profile.Email
		if cur.Reporter.Name == "" {
			cur.Reporter.Name = u.RealName
		}
		inc = cur
		return tx.PutIncident(cur)
	})
	if err != nil {
		p.log.ErrorContext(ctx, "record the reporter's email", "incident", inc.ID, "err", err)
	}
	return inc
}

// mention is "<!subteam^ID>" for the on-call group, resolved once from its
// handle (a handle alone does not notify anyone).
func (p *Pager) mention(ctx context.Context) (string, error) {
	if p.group == "" {
		return "", nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.groupID != "" {
		return "<!subteam^" + p.groupID + ">", nil
	}
	groups, err := p.api.GetUserGroupsContext(ctx)
	if err != nil {
		return "", fmt.Errorf("usergroups.list: %w", err)
	}
	for _, g := range groups {
		if g.Handle == p.group {
			p.groupID = g.ID
			return "<!subteam^" + g.ID + ">", nil
		}
	}
	return "", fmt.Errorf("no user group with handle @%s", p.group)
}

// PageBlocks is the page: what happened, where to go, and the rule not to
// discuss details on Slack.
func PageBlocks(inc state.Incident, mention string) []slack.Block {
	head := fmt.Sprintf("Leaked AWS access key: %s", inc.ID)
	if !inc.Open() {
		head = fmt.Sprintf("Closed: %s", inc.ID)
	}
	join := "Join the war room."
	if inc.ChatSpaceURL != "" {
		join = slackLink(inc.ChatSpaceURL, "Join the war room") + "."
	}
	lead := "A leaked AWS access key was reported. " + join
	if d := inc.Detection; d != nil {
		lead = "Opened automatically from " + escape(d.Text()) + "."
		if d.URL != "" {
			lead += " " + slackLink(d.URL, "Open the finding") + "."
		}
		lead += " " + join
	}
	if inc.Canary {
		head = fmt.Sprintf("Canary key tripped: %s", inc.ID)
		lead = "A canary key was used: nothing of ours leaked, and there is nothing to contain. Who used it, from where, is the finding. " + lead
	}
	if mention != "" {
		lead = mention + " " + lead
	}
	if !inc.Open() {
		lead = "This incident is closed: " + escape(inc.CloseReason)
	}
	room := "_being created_"
	if inc.ChatSpaceURL != "" {
		room = slackLink(inc.ChatSpaceURL, "Open the Google Chat space")
	}
	meet := "_being created_"
	if inc.MeetURL != "" {
		meet = slackLink(inc.MeetURL, "Join the Meet")
	}
	reporter := escape(inc.Reporter.String())
	if inc.Reporter.Platform == "slack" {
		reporter = "<@" + inc.Reporter.ID + ">"
	}
	or := func(s, alt string) string {
		if s == "" {
			return alt
		}
		return escape(s)
	}
	field := func(label, value string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, "*"+label+"*\n"+value, false, false)
	}
	fields := []*slack.TextBlockObject{
		field("Key", "`"+escape(inc.AccessKeyID)+"`"),
		field("Severity", strings.ToUpper(string(inc.Severity))),
		field("Account", or(inc.AccountID, "_identifying…_")),
		field("Owner", or(commands.OwnerText(inc.Owner), "_identifying…_")),
		field("Reported by", reporter),
		field("Opened", fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", inc.OpenedAt.Unix(), inc.OpenedAt.UTC().Format("2006-01-02 15:04 MST"))),
		field("War room", room),
		field("Meet", meet),
	}
	if d := inc.Detection; d != nil && (d.SourceIP != "" || d.UserAgent != "") {
		fields = append(fields, field("Caller", or(d.SourceIP, "_unknown IP_")+" · "+or(d.UserAgent, "_unknown user agent_")))
	}
	return []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, head, false, false)),
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, lead, false, false), nil, nil),
		slack.NewSectionBlock(nil, fields, nil),
		slack.NewContextBlock("", slack.NewTextBlockObject(slack.MarkdownType,
			":lock: Do not discuss details of this incident on Slack. Work in the Google Chat space.", false, false)),
	}
}

func pageFallback(inc state.Incident, mention string) string {
	what := "Leaked AWS access key"
	if inc.Canary {
		what = "Canary key tripped"
	}
	s := fmt.Sprintf("%s %s: %s. Join the war room; do not discuss details on Slack.", what, inc.AccessKeyID, inc.ID)
	if inc.Detection != nil {
		s += " Opened automatically from " + inc.Detection.Text() + "."
	}
	if mention != "" {
		s = mention + " " + s
	}
	return s
}

// slackRetry classifies a Slack Web API error: rate limits wait as long as
// Slack asks; server and network errors are retried; API errors such as
// channel_not_found or not_in_channel are permanent until someone fixes
// the configuration.
func slackRetry(method string, err error) (bool, error) {
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var api slack.SlackErrorResponse
	var netErr net.Error
	switch {
	case errors.As(err, &rl):
		return true, &RetryAfterError{After: rl.RetryAfter, Err: fmt.Errorf("slack %s: rate limited", method)}
	case errors.As(err, &sc):
		return ClassifyHTTP("slack "+method, sc.Code, nil)
	case errors.As(err, &api):
		switch api.Err {
		case "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout":
			return true, fmt.Errorf("slack %s: %s", method, api.Err)
		}
		return false, fmt.Errorf("slack %s: %s", method, api.Err)
	case errors.As(err, &netErr):
		return true, fmt.Errorf("slack %s: %w", method, err)
	default:
		// Anything else (a reset connection, a malformed answer) is most
		// likely passing; the retry limit ends it if not.
		return true, fmt.Errorf("slack %s: %w", method, err)
	}
}
