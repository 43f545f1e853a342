package slackfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/keyleak/keyleak/test/slackfake"
)

// seeded is the workspace the tests share: the on-call channel, a channel
// the bot is not in, an archived one, two people and the on-call group.
func seeded() slackfake.Options {
	return slackfake.Options{
		Users: []slackfake.User{
			{ID: "U0ANA", Name: "ana", RealName: "Ana Silva", Email: "ana@example.com"},
			{ID: "U0BEN", Name: "ben", RealName: "Ben Okafor", Email: "ben@example.com"},
			{ID: "U0GONE", Name: "gone", Email: "gone@example.com", Deleted: true},
		},
		Channels: []slackfake.Channel{
			{ID: "C0ONCALL", Name: "security-oncall"},
			{ID: "C0RANDOM", Name: "random", NotInChannel: true},
			{ID: "C0OLD", Name: "old-incidents", Archived: true},
			{ID: "C0SMALL", Name: "small", Members: []string{"U0ANA"}},
		},
		UserGroups: []slackfake.UserGroup{
			{ID: "S0ONCALL", Handle: "security-oncall", Name: "Security on-call", Users: []string{"U0ANA", "U0BEN"}},
			{ID: "S0OLD", Handle: "old-team", Name: "Old team", Disabled: true},
		},
	}
}

// newFake starts a fake with opts and a slack-go client pointed at it.
func newFake(tb testing.TB, opts slackfake.Options, clientOpts ...slack.Option) (*slackfake.Server, *slack.Client) {
	tb.Helper()
	s := slackfake.New(opts)
	tb.Cleanup(s.Close)
	return s, slack.New(s.BotToken(), append([]slack.Option{slack.OptionAPIURL(s.URL() + "/")}, clientOpts...)...)
}

func pageBlocks() []slack.Block {
	return []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "Leaked AWS key AKIAIOSFODNN7EXAMPLE", false, false)),
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "<!subteam^S0ONCALL> incident INC-1 opened", false, false), nil, nil),
		slack.NewDividerBlock(),
	}
}

func TestPostMessageWithBlocks(t *testing.T) {
	s, api := newFake(t, seeded())
	ctx := t.Context()
	channel, ts, err := api.PostMessageContext(ctx, "C0ONCALL",
		slack.MsgOptionText("Leaked AWS key: incident INC-1", false), slack.MsgOptionBlocks(pageBlocks()...))
	if err != nil {
		t.Fatalf("PostMessage: %v", err)
	}
	if channel != "C0ONCALL" || ts == "" {
		t.Errorf("PostMessage = %q, %q; want C0ONCALL and a ts", channel, ts)
	}

	got := s.Messages("C0ONCALL")
	if len(got) != 1 {
		t.Fatalf("Messages = %+v, want one", got)
	}
	m := got[0]
	if m.TS != ts || m.Text != "Leaked AWS key: incident INC-1" || m.EphemeralTo != "" {
		t.Errorf("message = %+v", m)
	}
	var blocks []struct {
		Type string `json:"type"`
		Text struct {
			Text string `json:"text"`
		} `json:"text"`
	}
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
		t.Fatalf("blocks %s: %v", m.Blocks, err)
	}
	if len(blocks) != 3 || blocks[0].Type != "header" || !strings.Contains(blocks[1].Text.Text, "<!subteam^S0ONCALL>") {
		t.Errorf("blocks = %+v", blocks)
	}
	if posted := s.Posted(); len(posted) != 1 || posted[0].TS != ts {
		t.Errorf("Posted = %+v", posted)
	}

	calls := s.Calls("chat.postMessage")
	if len(calls) != 1 {
		t.Fatalf("calls = %+v", calls)
	}
	if c := calls[0]; c.Token != s.BotToken() || c.Params.Get("channel") != "C0ONCALL" || c.Error != "" || c.Params.Get("token") != "" {
		t.Errorf("recorded call = %+v", c)
	}
}

func TestPostMessageResolvesChannels(t *testing.T) {
	tests := []struct {
		name string
		ref  string
		want string
	}{
		{name: "ID", ref: "C0ONCALL", want: "C0ONCALL"},
		{name: "name", ref: "security-oncall", want: "C0ONCALL"},
		{name: "hash name", ref: "#security-oncall", want: "C0ONCALL"},
		{name: "user opens a DM", ref: "U0ANA", want: "D0ANA"},
	}
	s, api := newFake(t, seeded())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := api.PostMessageContext(t.Context(), tt.ref, slack.MsgOptionText("hi", false))
			if err != nil || got != tt.want {
				t.Fatalf("PostMessage(%q) = %q, %v; want %q", tt.ref, got, err, tt.want)
			}
		})
	}
	if n := len(s.Messages("#security-oncall")); n != 3 {
		t.Errorf("Messages(#security-oncall) holds %d, want 3", n)
	}
}

func TestTimestampsIncrease(t *testing.T) {
	fixed := time.Date(2026, 11, 22, 11, 23, 0, 0, time.UTC)
	opts := seeded()
	opts.Now = func() time.Time { return fixed }
	_, api := newFake(t, opts)
	var last string
	for i := range 3 {
		_, ts, err := api.PostMessageContext(t.Context(), "C0ONCALL", slack.MsgOptionText("n", false))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && ts != "1795346580.000000" {
			t.Errorf("first ts = %q, want the clock's", ts)
		}
		if ts <= last {
			t.Errorf("ts %q not after %q", ts, last)
		}
		last = ts
	}
}

func TestUpdateMessageInPlace(t *testing.T) {
	s, api := newFake(t, seeded())
	ctx := t.Context()
	_, ts, err := api.PostMessageContext(ctx, "C0ONCALL", slack.MsgOptionText("INC-1 open", false), slack.MsgOptionBlocks(pageBlocks()...))
	if err != nil {
		t.Fatal(err)
	}
	section := slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "INC-1 *contained*", false, false), nil, nil)
	channel, gotTS, text, err := api.UpdateMessageContext(ctx, "C0ONCALL", ts,
		slack.MsgOptionText("INC-1 contained", false), slack.MsgOptionBlocks(section))
	if err != nil {
		t.Fatalf("UpdateMessage: %v", err)
	}
	if channel != "C0ONCALL" || gotTS != ts || text != "INC-1 contained" {
		t.Errorf("UpdateMessage = %q, %q, %q", channel, gotTS, text)
	}
	msgs := s.Messages("C0ONCALL")
	if len(msgs) != 1 {
		t.Fatalf("update added a message: %+v", msgs)
	}
	if m := msgs[0]; m.Text != "INC-1 contained" || m.Updates != 1 || !strings.Contains(string(m.Blocks), "contained") {
		t.Errorf("updated message = %+v", m)
	}
}

func TestThreads(t *testing.T) {
	s, api := newFake(t, seeded())
	ctx := t.Context()
	_, parent, err := api.PostMessageContext(ctx, "C0ONCALL", slack.MsgOptionText("parent", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C0ONCALL", slack.MsgOptionText("reply", false), slack.MsgOptionTS(parent)); err != nil {
		t.Fatal(err)
	}
	// A thread_ts naming no message: Slack posts to the channel itself.
	_, _, orphan, err := api.PostMessageWithResponseContext(ctx, "C0ONCALL", slack.MsgOptionText("orphan", false), slack.MsgOptionTS("1.000001"))
	if err != nil {
		t.Fatal(err)
	}
	if orphan.ThreadTimestamp != "" {
		t.Errorf("orphan reply answered thread_ts %q", orphan.ThreadTimestamp)
	}
	msgs := s.Messages("C0ONCALL")
	if len(msgs) != 3 || msgs[1].ThreadTS != parent || msgs[2].ThreadTS != "" {
		t.Errorf("messages = %+v", msgs)
	}
}

func TestPostEphemeral(t *testing.T) {
	s, api := newFake(t, seeded())
	ts, err := api.PostEphemeralContext(t.Context(), "C0ONCALL", "U0ANA", slack.MsgOptionText("only you", false))
	if err != nil || ts == "" {
		t.Fatalf("PostEphemeral = %q, %v", ts, err)
	}
	msgs := s.Messages("C0ONCALL")
	if len(msgs) != 1 || msgs[0].EphemeralTo != "U0ANA" || msgs[0].TS != ts {
		t.Errorf("messages = %+v", msgs)
	}
	// An ephemeral message cannot be updated.
	if _, _, _, err := api.UpdateMessageContext(t.Context(), "C0ONCALL", ts, slack.MsgOptionText("x", false)); !isSlackError(err, "message_not_found") {
		t.Errorf("update of an ephemeral message: %v", err)
	}
}

func TestUserGroups(t *testing.T) {
	_, api := newFake(t, seeded())
	ctx := t.Context()
	groups, err := api.GetUserGroupsContext(ctx, slack.GetUserGroupsOptionIncludeUsers(true))
	if err != nil {
		t.Fatalf("GetUserGroups: %v", err)
	}
	if len(groups) != 1 {
		t.Fatalf("groups = %+v, want only the enabled one", groups)
	}
	g := groups[0]
	if g.ID != "S0ONCALL" || g.Handle != "security-oncall" || g.Name != "Security on-call" || g.UserCount != 2 ||
		len(g.Users) != 2 || g.Users[0] != "U0ANA" || g.DateCreate.Time().IsZero() {
		t.Errorf("group = %+v", g)
	}

	all, err := api.GetUserGroupsContext(ctx, slack.GetUserGroupsOptionIncludeDisabled(true))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Users != nil || all[1].DateDelete.Time().Unix() == 0 {
		t.Errorf("with disabled, without users: %+v", all)
	}
}

func TestUsers(t *testing.T) {
	_, api := newFake(t, seeded())
	ctx := t.Context()
	u, err := api.GetUserInfoContext(ctx, "U0ANA")
	if err != nil {
		t.Fatalf("GetUserInfo: %v", err)
	}
	if u.ID != "U0ANA" || u.Name != "ana" || u.RealName != "Ana Silva" || u.Profile.Email != "ana@example.com" || u.TeamID != slackfake.DefaultTeamID {
		t.Errorf("user = %+v", u)
	}
	byEmail, err := api.GetUserByEmailContext(ctx, "Ben@Example.com")
	if err != nil {
		t.Fatalf("GetUserByEmail: %v", err)
	}
	if byEmail.ID != "U0BEN" {
		t.Errorf("GetUserByEmail = %+v", byEmail)
	}
}

func TestEmailNeedsScope(t *testing.T) {
	opts := seeded()
	opts.Scopes = []string{"commands", "chat:write", "users:read"}
	_, api := newFake(t, opts)
	u, err := api.GetUserInfoContext(t.Context(), "U0ANA")
	if err != nil {
		t.Fatal(err)
	}
	if u.Profile.Email != "" {
		t.Errorf("email %q shown without users:read.email", u.Profile.Email)
	}
	_, err = api.GetUserByEmailContext(t.Context(), "ana@example.com")
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != "missing_scope" || se.Needed != "users:read.email" {
		t.Errorf("lookupByEmail without the scope: %#v", err)
	}
}

func TestAuthTest(t *testing.T) {
	_, api := newFake(t, seeded())
	got, err := api.AuthTestContext(t.Context())
	if err != nil {
		t.Fatalf("AuthTest: %v", err)
	}
	if got.TeamID != slackfake.DefaultTeamID || got.UserID != slackfake.DefaultBotUser || got.BotID != slackfake.DefaultBotID || got.URL != "https://keyleak.slack.com/" {
		t.Errorf("AuthTest = %+v", got)
	}
}

// postRaw sends body to method as a client other than slack-go would.
func postRaw(tb testing.TB, s *slackfake.Server, method, contentType, auth, body string) map[string]any {
	tb.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.URL()+"/api/"+method, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		tb.Fatalf("answer %q: %v", raw, err)
	}
	return out
}

func TestJSONBodies(t *testing.T) {
	s, _ := newFake(t, seeded())
	body := `{"channel":"C0ONCALL","text":"json page","blocks":[{"type":"divider"}],"unfurl_links":false}`
	got := postRaw(t, s, "chat.postMessage", "application/json; charset=utf-8", "Bearer "+s.BotToken(), body)
	if got["ok"] != true {
		t.Fatalf("JSON post: %v", got)
	}
	call := s.Calls()[0]
	if !call.JSON || call.Params.Get("blocks") != `[{"type":"divider"}]` || call.Params.Get("unfurl_links") != "false" {
		t.Errorf("recorded JSON call = %+v", call)
	}
	// A token in a JSON body does not count: Slack reads it from the header.
	got = postRaw(t, s, "chat.postMessage", "application/json", "", `{"token":"`+s.BotToken()+`","channel":"C0ONCALL","text":"x"}`)
	if got["error"] != "not_authed" {
		t.Errorf("JSON token in the body: %v", got)
	}
	got = postRaw(t, s, "chat.postMessage", "application/json", "Basic abc", `{}`)
	if got["error"] != "invalid_auth" {
		t.Errorf("non-bearer authorization: %v", got)
	}
	got = postRaw(t, s, "chat.fly", "application/x-www-form-urlencoded", "Bearer "+s.BotToken(), url.Values{}.Encode())
	if got["error"] != "unknown_method" {
		t.Errorf("unknown method: %v", got)
	}
}

func TestAwait(t *testing.T) {
	s, api := newFake(t, seeded())
	done := make(chan error, 1)
	go func() {
		done <- s.Await(t.Context(), func() bool { return len(s.Messages("C0ONCALL")) == 2 })
	}()
	for range 2 {
		if _, _, err := api.PostMessageContext(t.Context(), "C0ONCALL", slack.MsgOptionText("x", false)); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Await: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := s.Await(ctx, func() bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Await that never holds: %v", err)
	}
}
