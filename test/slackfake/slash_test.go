package slackfake_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/keyleak/keyleak/bot"
	"github.com/keyleak/keyleak/test/slackfake"
)

const signingSecret = "0b5f1ad2c3e4f5a6b7c8d9e0f1a2b3c4"

// clock is a settable clock safe for the servers' goroutines.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// slashBot is a bot endpoint behind keyleak's own Slack verifier that
// records the forms it accepted and answers with reply.
type slashBot struct {
	mu    sync.Mutex
	forms []url.Values
	reply func(w http.ResponseWriter, r *http.Request)
}

func (b *slashBot) accepted() []url.Values {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]url.Values(nil), b.forms...)
}

func newSlashBot(tb testing.TB, now func() time.Time, reply func(w http.ResponseWriter, r *http.Request)) (*slashBot, *httptest.Server) {
	tb.Helper()
	v, err := bot.NewSlackVerifier(bot.SlackVerifierConfig{SigningSecret: []byte(signingSecret), Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	b := &slashBot{reply: reply}
	srv := httptest.NewServer(bot.RequireSlackSignature(v, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		b.forms = append(b.forms, r.PostForm)
		b.mu.Unlock()
		if b.reply != nil {
			b.reply(w, r)
		}
	})))
	tb.Cleanup(srv.Close)
	return b, srv
}

func jsonReply(body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}

func TestSendSlashCommandPassesBotVerifier(t *testing.T) {
	clk := &clock{now: time.Date(2026, 11, 22, 11, 23, 0, 0, time.UTC)}
	opts := seeded()
	opts.Now = clk.Now
	s, _ := newFake(t, opts)
	b, target := newSlashBot(t, clk.Now, jsonReply(`{"response_type":"ephemeral","text":"Incident INC-1 opened"}`))

	res, err := s.SendSlashCommand(t.Context(), target.URL, []byte(signingSecret), url.Values{"text": {"AKIAIOSFODNN7EXAMPLE key in a public repo"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusOK || res.Error != "" {
		t.Fatalf("result = %+v (body %q)", res, res.Body)
	}
	forms := b.accepted()
	if len(forms) != 1 {
		t.Fatalf("bot accepted %d forms", len(forms))
	}
	f := forms[0]
	for key, want := range map[string]string{
		"command": "/keyleak", "text": "AKIAIOSFODNN7EXAMPLE key in a public repo", "user_id": "U0ANA",
		"channel_id": "C0ONCALL", "team_id": slackfake.DefaultTeamID,
	} {
		if got := f.Get(key); got != want {
			t.Errorf("form %s = %q, want %q", key, got, want)
		}
	}
	if !strings.HasPrefix(f.Get("response_url"), s.URL()+"/commands/") || f.Get("trigger_id") == "" {
		t.Errorf("form lacks response_url or trigger_id: %v", f)
	}
	// The ephemeral answer is shown to the user who typed the command.
	msgs := s.Messages("C0ONCALL")
	if len(msgs) != 1 || msgs[0].EphemeralTo != "U0ANA" || msgs[0].Text != "Incident INC-1 opened" || !msgs[0].FromResponseURL {
		t.Errorf("messages = %+v", msgs)
	}
}

func TestSignMatchesSlackGo(t *testing.T) {
	body := []byte("command=%2Fkeyleak&text=status")
	ts, sig := slackfake.Sign([]byte(signingSecret), time.Now(), body)
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", ts)
	h.Set("X-Slack-Signature", sig)
	sv, err := slack.NewSecretsVerifier(h, signingSecret)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = sv.Write(body)
	if err := sv.Ensure(); err != nil {
		t.Errorf("slack-go rejects the fake's signature: %v", err)
	}
	at := time.Unix(1531431954, 0)
	wantTS, wantSig := bot.SignSlackRequest([]byte(signingSecret), at, body)
	if gotTS, gotSig := slackfake.Sign([]byte(signingSecret), at, body); gotTS != wantTS || gotSig != wantSig {
		t.Errorf("fake signs %q %q, bot signs %q %q", gotTS, gotSig, wantTS, wantSig)
	}
}

func TestSlashCommandRejections(t *testing.T) {
	clk := &clock{now: time.Date(2026, 11, 22, 11, 23, 0, 0, time.UTC)}
	opts := seeded()
	opts.Now = clk.Now
	s, _ := newFake(t, opts)
	b, target := newSlashBot(t, clk.Now, nil)
	ctx := t.Context()

	res, err := s.SendSlashCommand(ctx, target.URL, []byte("not-the-secret"), url.Values{"text": {"status"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusUnauthorized || res.Error != slackfake.SlashDispatchFailed {
		t.Errorf("wrong secret: %+v", res)
	}

	// Two identical commands in the same second differ by trigger_id.
	for range 2 {
		if res, err := s.SendSlashCommand(ctx, target.URL, []byte(signingSecret), url.Values{"text": {"status"}}); err != nil || res.Status != http.StatusOK {
			t.Fatalf("identical commands: %+v, %v", res, err)
		}
	}

	// The same signed request delivered twice: the second is a replay.
	body := []byte(s.SlashCommandForm(url.Values{"text": {"list"}}).Encode())
	first, err := s.NewSignedRequest(ctx, target.URL, []byte(signingSecret), "application/x-www-form-urlencoded", body)
	if err != nil {
		t.Fatal(err)
	}
	again := first.Clone(ctx)
	again.Body, _ = first.GetBody()
	for i, r := range []*http.Request{first, again} {
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := []int{http.StatusOK, http.StatusUnauthorized}[i]; resp.StatusCode != want {
			t.Errorf("delivery %d: status %d, want %d", i+1, resp.StatusCode, want)
		}
	}

	// Signed six minutes ago: stale.
	clk.Advance(-6 * time.Minute)
	stale, err := s.NewSignedRequest(ctx, target.URL, []byte(signingSecret), "application/x-www-form-urlencoded", []byte("text=x"))
	clk.Advance(6 * time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(stale)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("stale request: status %d", resp.StatusCode)
	}

	if n := len(b.accepted()); n != 3 {
		t.Errorf("bot accepted %d commands, want 3", n)
	}
}

func TestSlashCommandTimeout(t *testing.T) {
	s, _ := newFake(t, seeded())
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice the client hang up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	}))
	defer slow.Close()
	res, err := s.SendSlashCommand(t.Context(), slow.URL, []byte(signingSecret), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Error != slackfake.SlashTimeout {
		t.Errorf("slow bot: %+v, want %s", res, slackfake.SlashTimeout)
	}
}

func TestSlashCommandSyncReplyInChannel(t *testing.T) {
	s, _ := newFake(t, seeded())
	_, target := newSlashBot(t, time.Now, jsonReply(`{"response_type":"in_channel","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"*INC-1* opened"}}]}`))
	if _, err := s.SendSlashCommand(t.Context(), target.URL, []byte(signingSecret), url.Values{"channel_id": {"C0SMALL"}}); err != nil {
		t.Fatal(err)
	}
	msgs := s.Messages("C0SMALL")
	if len(msgs) != 1 || msgs[0].EphemeralTo != "" || !strings.Contains(string(msgs[0].Blocks), "*INC-1* opened") {
		t.Errorf("messages = %+v", msgs)
	}
}

func TestResponseURL(t *testing.T) {
	clk := &clock{now: time.Date(2026, 11, 22, 11, 23, 0, 0, time.UTC)}
	opts := seeded()
	opts.Now = clk.Now
	s, _ := newFake(t, opts)
	ctx := t.Context()
	u := s.NewResponseURL("C0ONCALL", "U0ANA")

	if err := slack.PostWebhookContext(ctx, u, &slack.WebhookMessage{ResponseType: slack.ResponseTypeInChannel, Text: "INC-1 opened"}); err != nil {
		t.Fatalf("first post: %v", err)
	}
	if err := slack.PostWebhookContext(ctx, u, &slack.WebhookMessage{ReplaceOriginal: true, Text: "INC-1 contained"}); err != nil {
		t.Fatalf("replace: %v", err)
	}
	msgs := s.Messages("C0ONCALL")
	if len(msgs) != 1 || msgs[0].Text != "INC-1 contained" || msgs[0].Updates != 1 || msgs[0].EphemeralTo != "" {
		t.Fatalf("after replace_original: %+v", msgs)
	}
	for i := range 3 {
		if err := slack.PostWebhookContext(ctx, u, &slack.WebhookMessage{Text: "progress"}); err != nil {
			t.Fatalf("post %d: %v", i+3, err)
		}
	}
	// A sixth use is refused.
	err := slack.PostWebhookContext(ctx, u, &slack.WebhookMessage{Text: "one too many"})
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusNotFound {
		t.Errorf("sixth use: %#v", err)
	}
	posts := s.ResponsePosts()
	if len(posts) != 6 || posts[5].Error != "used_url" || posts[0].ResponseType != "in_channel" || !posts[1].ReplaceOriginal {
		t.Errorf("posts = %+v", posts)
	}
	if got := len(s.Messages("C0ONCALL")); got != 4 {
		t.Errorf("channel holds %d messages, want 4 (one in channel, three ephemeral)", got)
	}

	// Another URL expires after 30 minutes.
	late := s.NewResponseURL("C0ONCALL", "U0ANA")
	clk.Advance(slackfake.ResponseURLLifetime + time.Second)
	if err := slack.PostWebhookContext(ctx, late, &slack.WebhookMessage{Text: "late"}); !errors.As(err, &sc) || sc.Code != http.StatusNotFound {
		t.Errorf("expired URL: %#v", err)
	}
	if p := s.ResponsePosts(); p[len(p)-1].Error != "expired_url" {
		t.Errorf("last post = %+v", p[len(p)-1])
	}
}

func TestResponseURLRejectsBadPayloads(t *testing.T) {
	s, _ := newFake(t, seeded())
	u := s.NewResponseURL("C0ONCALL", "U0ANA")
	tests := []struct {
		name, contentType, body, want string
	}{
		{name: "not JSON", contentType: "application/json", body: "text=hi", want: "invalid_payload"},
		{name: "form content type", contentType: "application/x-www-form-urlencoded", body: `{"text":"hi"}`, want: "invalid_payload"},
		{name: "no text", contentType: "application/json", body: `{"response_type":"ephemeral"}`, want: "no_text"},
		{name: "bad blocks", contentType: "application/json", body: `{"blocks":[{"type":"nope"}]}`, want: "invalid_blocks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, u, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || string(got) != tt.want {
				t.Errorf("answer %d %q, want 400 %q", resp.StatusCode, got, tt.want)
			}
		})
	}
	if len(s.Posted()) != 0 {
		t.Errorf("bad payloads posted %+v", s.Posted())
	}
	posts := s.ResponsePosts()
	if len(posts) != len(tests) {
		t.Fatalf("recorded %d posts, want %d", len(posts), len(tests))
	}
	for i, p := range posts {
		if p.Status != http.StatusBadRequest || p.Error != tests[i].want || string(p.Body) != tests[i].body {
			t.Errorf("post %d = %+v", i, p)
		}
	}
}
