package bot_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/bot"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
	"github.com/keyleak/keyleak/test/slackfake"
)

const (
	leakedKey   = "AKIAQYLPMN5HHHFPZAM2"
	exampleKey  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" // AWS's documented example secret
	oncallChan  = "C0ONCALL"
	oncallGroup = "S0ONCALL"
)

var signingSecret = []byte("8f742231b10e8888abcd99yyyzzz85a5")

func parseKey(s string) (string, error) {
	k, err := awsops.ParseAccessKeyID(s)
	if err != nil {
		return "", err
	}
	return k.String(), nil
}

// syncBuffer is a log sink safe for the handler's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type slackRig struct {
	store  *state.Store
	fake   *slackfake.Server
	srv    *httptest.Server
	worker *bot.Worker
	logs   *syncBuffer
	now    time.Time
}

func newSlackRig(tb testing.TB) *slackRig {
	tb.Helper()
	r := &slackRig{now: time.Now(), logs: &syncBuffer{}}
	log := slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	r.store, err = state.Open(filepath.Join(tb.TempDir(), "k.db"), state.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.store.Close() })
	r.fake = slackfake.New(slackfake.Options{
		Users:      []slackfake.User{{ID: "U0ANA", Name: "ana", RealName: "Ana Reporter", Email: "ana@example.com"}},
		Channels:   []slackfake.Channel{{ID: oncallChan, Name: "oncall"}},
		UserGroups: []slackfake.UserGroup{{ID: oncallGroup, Handle: "security-oncall", Name: "Security on-call"}},
	})
	tb.Cleanup(r.fake.Close)
	verifier, err := bot.NewSlackVerifier(bot.SlackVerifierConfig{SigningSecret: signingSecret, Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	now := func() time.Time { return r.now }
	registry, err := commands.NewRegistry(log, commands.Status(r.store, now), commands.List(r.store))
	if err != nil {
		tb.Fatal(err)
	}
	r.worker = bot.NewWorker(r.store, log, map[string]bot.Notifier{
		commands.ChannelSlack: bot.NewPager(bot.PagerConfig{BotToken: r.fake.BotToken(), APIURL: r.fake.URL(), Channel: oncallChan, OncallGroup: "@security-oncall"}, r.store, log),
	}, bot.WorkerOptions{Backoff: bot.Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond, MaxAttempts: 5}, Now: now})
	reporter := &commands.Reporter{Store: r.store, Now: now, ParseKey: parseKey, Announce: []string{commands.ChannelSlack}}
	h := bot.NewSlack(bot.SlackOptions{Verifier: verifier, Reporter: reporter, Registry: registry, Log: log})
	r.srv = httptest.NewServer(h)
	tb.Cleanup(r.srv.Close)
	return r
}

func (r *slackRig) send(tb testing.TB, text string, extra url.Values) (*slackfake.SlashResult, map[string]any) {
	tb.Helper()
	form := url.Values{"text": {text}}
	for k, v := range extra {
		form[k] = v
	}
	res, err := r.fake.SendSlashCommand(context.Background(), r.srv.URL, signingSecret, form)
	if err != nil {
		tb.Fatal(err)
	}
	if res.Error != "" {
		tb.Fatalf("slash command failed as Slack would show it: %s (HTTP %d)", res.Error, res.Status)
	}
	var body map[string]any
	if err := json.Unmarshal(res.Body, &body); err != nil {
		tb.Fatalf("reply is not JSON: %q", res.Body)
	}
	return res, body
}

func (r *slackRig) incidents(tb testing.TB) []state.Incident {
	tb.Helper()
	var incs []state.Incident
	if err := r.store.View(func(tx *state.Tx) (err error) { incs, err = tx.Incidents(state.IncidentFilter{}); return err }); err != nil {
		tb.Fatal(err)
	}
	return incs
}

func TestSlashCommandOpensIncidentAndPages(t *testing.T) {
	r := newSlackRig(t)
	res, body := r.send(t, leakedKey+" found in a public repo", nil)
	if body["response_type"] != "ephemeral" || !strings.Contains(string(res.Body), "KL-") {
		t.Fatalf("reply = %s, want an ephemeral reply naming the incident", res.Body)
	}
	incs := r.incidents(t)
	if len(incs) != 1 || incs[0].AccessKeyID != leakedKey || incs[0].Reporter.ID != "U0ANA" {
		t.Fatalf("incidents = %+v", incs)
	}
	if err := r.worker.DrainOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := r.fake.Messages(oncallChan)
	var page *slackfake.Message
	for i := range msgs {
		if !msgs[i].FromResponseURL && msgs[i].EphemeralTo == "" {
			page = &msgs[i]
		}
	}
	if page == nil {
		t.Fatalf("no page posted in %s; messages: %+v", oncallChan, msgs)
	}
	blocks := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(page.Blocks))
	for _, want := range []string{"<!subteam^" + oncallGroup + ">", leakedKey, incs[0].ID, "<@U0ANA>", "Do not discuss details of this incident on Slack"} {
		if !strings.Contains(blocks, want) && !strings.Contains(page.Text, want) {
			t.Errorf("page lacks %q:\n%s", want, blocks)
		}
	}
	var inc state.Incident
	r.store.View(func(tx *state.Tx) (err error) { inc, err = tx.Incident(incs[0].ID); return err })
	if inc.SlackTS != page.TS || inc.Reporter.Email != "ana@example.com" {
		t.Errorf("incident page ts = %q (page %q), reporter email = %q", inc.SlackTS, page.TS, inc.Reporter.Email)
	}
}

func TestSlashCommandJoinsAndDeduplicates(t *testing.T) {
	r := newSlackRig(t)
	first, _ := r.send(t, leakedKey, nil)
	// Slack retrying the same delivery (same trigger_id) is answered once.
	retry := url.Values{"trigger_id": {first.Form.Get("trigger_id")}}
	r.send(t, leakedKey, retry)
	// The same person pressing enter twice counts once.
	r.send(t, leakedKey, nil)
	// Someone else reporting the key joins the open incident.
	res, _ := r.send(t, leakedKey, url.Values{"user_id": {"U0BOB"}, "user_name": {"bob"}})
	if !strings.Contains(string(res.Body), "already open") {
		t.Errorf("second reporter's reply = %s, want it to say the incident is already open", res.Body)
	}
	incs := r.incidents(t)
	if len(incs) != 1 {
		t.Fatalf("%d incidents, want 1", len(incs))
	}
	var tl []state.Event
	r.store.View(func(tx *state.Tx) (err error) { tl, err = tx.Timeline(incs[0].ID); return err })
	if len(tl) != 2 || tl[0].Kind != state.EventOpened || tl[1].Kind != state.EventJoined || tl[1].Actor.ID != "U0BOB" {
		t.Errorf("timeline = %+v, want opened by the reporter and one join by U0BOB", tl)
	}
	r.worker.DrainOnce(context.Background())
	if n := len(r.pages()); n != 1 {
		t.Errorf("%d pages posted, want 1", n)
	}
}

func TestSlashCommandNeverEchoesSecret(t *testing.T) {
	r := newSlackRig(t)
	res, _ := r.send(t, leakedKey+" secret is "+exampleKey, nil)
	if bytes.Contains(res.Body, []byte(exampleKey)) || !bytes.Contains(res.Body, []byte("treat it as compromised")) {
		t.Errorf("reply = %s, want the warning and no secret", res.Body)
	}
	res, _ = r.send(t, exampleKey, nil)
	if bytes.Contains(res.Body, []byte(exampleKey)) || !bytes.Contains(res.Body, []byte("treat it as compromised")) {
		t.Errorf("reply to a bare secret = %s", res.Body)
	}
	r.worker.DrainOnce(context.Background())
	var dump bytes.Buffer
	if _, err := r.store.Backup(&dump); err != nil {
		t.Fatal(err)
	}
	for name, hay := range map[string]string{"database": dump.String(), "logs": r.logs.String(), "slack": fakeDump(r.fake)} {
		if strings.Contains(hay, exampleKey) || strings.Contains(hay, "K7MDENG") {
			t.Errorf("the secret reached the %s", name)
		}
	}
	if incs := r.incidents(t); len(incs) != 1 || incs[0].Note != "" {
		t.Errorf("incidents = %+v, want one with the note dropped", incs)
	}
}

func fakeDump(f *slackfake.Server) string {
	var b strings.Builder
	for _, c := range f.Calls() {
		b.WriteString(c.Params.Encode())
	}
	for _, m := range f.Posted() {
		b.WriteString(m.Text + string(m.Blocks))
	}
	return b.String()
}

func TestSlashCommandRepliesPrecisely(t *testing.T) {
	r := newSlackRig(t)
	tests := []struct {
		name, text, want string
	}{
		{"empty shows usage", "", "/keyleak AKIA"},
		{"help", "help", "/keyleak status"},
		{"short key", "AKIAQYLPMN5HHHFPZAM", "19"},
		{"lower case key", strings.ToLower(leakedKey), "upper"},
		{"user ID not a key", "AIDAQYLPMN5HHHFPZAM2", "user ID"},
		{"unknown command", "stauts", "There is no command"},
		{"space command", "deactivate", "help"},
		{"list when empty", "list", "No open incidents"},
		{"status without ID", "status", "Which incident"},
		{"unterminated quote", `AKIAQYLPMN5HHHFPZAM2 "oops`, "unterminated quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := r.send(t, tt.text, nil)
			if !strings.Contains(strings.ToLower(string(res.Body)), strings.ToLower(tt.want)) {
				t.Errorf("reply to %q = %s, want it to contain %q", tt.text, res.Body, tt.want)
			}
		})
	}
	if n := len(r.incidents(t)); n != 0 {
		t.Errorf("bad input opened %d incidents", n)
	}
}

func TestSlashCommandAuthentication(t *testing.T) {
	body := []byte(url.Values{"command": {"/keyleak"}, "text": {leakedKey}, "user_id": {"U0ANA"}, "trigger_id": {"1.2.3"}}.Encode())
	sign := func(at time.Time, b []byte) (string, string) { return slackfake.Sign(signingSecret, at, b) }
	tests := []struct {
		name  string
		build func(req *http.Request)
		body  []byte
		want  int
	}{
		{"good signature", func(req *http.Request) {}, body, 200},
		{"bad signature", func(req *http.Request) { req.Header.Set("X-Slack-Signature", "v0="+strings.Repeat("ab", 32)) }, body, 401},
		{"missing headers", func(req *http.Request) {
			req.Header.Del("X-Slack-Signature")
			req.Header.Del("X-Slack-Request-Timestamp")
		}, body, 401},
		{"timestamp 6 minutes old", func(req *http.Request) {
			ts, sig := sign(time.Now().Add(-6*time.Minute), body)
			req.Header.Set("X-Slack-Request-Timestamp", ts)
			req.Header.Set("X-Slack-Signature", sig)
		}, body, 401},
		{"body altered after signing", func(req *http.Request) {
			altered := bytes.Replace(body, []byte("U0ANA"), []byte("U0EVE"), 1)
			req.Body = io.NopCloser(bytes.NewReader(altered))
			req.ContentLength = int64(len(altered))
		}, body, 401},
		{"oversized body", func(req *http.Request) {}, append(append([]byte{}, body...), []byte("&pad="+strings.Repeat("x", 70<<10))...), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newSlackRig(t)
			req, _ := http.NewRequest(http.MethodPost, r.srv.URL, bytes.NewReader(tt.body))
			ts, sig := sign(time.Now(), tt.body)
			req.Header.Set("X-Slack-Request-Timestamp", ts)
			req.Header.Set("X-Slack-Signature", sig)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			tt.build(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.want)
			}
			wantIncidents := 0
			if tt.want == 200 {
				wantIncidents = 1
			}
			if n := len(r.incidents(t)); n != wantIncidents {
				t.Errorf("%d incidents after the request, want %d", n, wantIncidents)
			}
			if tt.want == 200 {
				// The same request again is a replay.
				req2, _ := http.NewRequest(http.MethodPost, r.srv.URL, bytes.NewReader(tt.body))
				req2.Header = req.Header.Clone()
				resp, err := http.DefaultClient.Do(req2)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 401 {
					t.Errorf("replayed request: status %d, want 401", resp.StatusCode)
				}
			}
		})
	}
}

func TestPageDeliveryFailures(t *testing.T) {
	t.Run("rate limited then delivered", func(t *testing.T) {
		r := newSlackRig(t)
		r.fake.Fail("chat.postMessage", slackfake.RateLimited(time.Second, 1))
		r.send(t, leakedKey, nil)
		r.worker.DrainOnce(context.Background())
		var pending []state.Message
		r.store.View(func(tx *state.Tx) (err error) { pending, err = tx.Pending(""); return err })
		if len(pending) != 1 || pending[0].Attempts != 1 || pending[0].NextAttempt.Sub(r.now) < time.Second {
			t.Fatalf("pending = %+v, want the page rescheduled per Retry-After", pending)
		}
	})
	t.Run("channel not found is dead-lettered", func(t *testing.T) {
		r := newSlackRig(t)
		r.fake.Fail("chat.postMessage", slackfake.Fault{Error: "channel_not_found"})
		r.send(t, leakedKey, nil)
		r.worker.DrainOnce(context.Background())
		var dead []state.Message
		r.store.View(func(tx *state.Tx) (err error) { dead, err = tx.DeadLetters(""); return err })
		if len(dead) != 1 || !strings.Contains(dead[0].LastError, "channel_not_found") {
			t.Fatalf("dead = %+v, want the page dead-lettered with channel_not_found", dead)
		}
	})
}

func TestPageUpdatedInPlace(t *testing.T) {
	r := newSlackRig(t)
	r.pageAndChange(t, "room", func(inc *state.Incident) {
		inc.ChatSpaceURL = "https://chat.google.com/room/AAAAkl"
		inc.MeetURL = "https://meet.google.com/abc-defg-hij"
		inc.Severity = state.SeverityCritical
	})
	if err := r.worker.DrainOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	pages := r.pages()
	if len(pages) != 1 || pages[0].Updates != 1 {
		t.Fatalf("pages = %+v, want one page updated once", pages)
	}
	var blocks any
	if err := json.Unmarshal(pages[0].Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprint(blocks)
	for _, want := range []string{"<https://chat.google.com/room/AAAAkl|Join the war room>", "https://meet.google.com/abc-defg-hij", "CRITICAL"} {
		if !strings.Contains(text, want) {
			t.Errorf("updated page lacks %q:\n%s", want, text)
		}
	}
}

func TestSocketModeUsesTheSameHandler(t *testing.T) {
	r := newSlackRig(t)
	verifier, _ := bot.NewSlackVerifier(bot.SlackVerifierConfig{SigningSecret: []byte("unused-over-socket-mode")})
	now := func() time.Time { return time.Now() }
	registry, err := commands.NewRegistry(slog.New(slog.DiscardHandler), commands.Status(r.store, now), commands.List(r.store))
	if err != nil {
		t.Fatal(err)
	}
	reporter := &commands.Reporter{Store: r.store, Now: now, ParseKey: parseKey, Announce: []string{commands.ChannelSlack}}
	h := bot.NewSlack(bot.SlackOptions{Verifier: verifier, Reporter: reporter, Registry: registry, Log: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- h.RunSocketMode(ctx, bot.SocketModeConfig{AppToken: slackfake.DefaultAppToken, BotToken: r.fake.BotToken(), APIURL: r.fake.URL()})
	}()
	defer func() { cancel(); <-done }()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := r.fake.Await(wctx, r.fake.SocketConnected); err != nil {
		t.Fatalf("keyleak did not connect over Socket Mode: %v", err)
	}
	ack, err := r.fake.SendSocketSlashCommand(context.Background(), url.Values{"text": {leakedKey}})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(ack, &body); err != nil || body["response_type"] != "ephemeral" || !strings.Contains(string(ack), "Opened KL-") {
		t.Fatalf("ack payload = %s (%v)", ack, err)
	}
	if incs := r.incidents(t); len(incs) != 1 || incs[0].AccessKeyID != leakedKey {
		t.Fatalf("incidents = %+v", incs)
	}
}

// TestPageNotRepostedAfterCrash posts a page, then forgets its timestamp
// as a crash between posting and recording would, and delivers the page
// again: keyleak must find its own page and not page twice.
func TestPageNotRepostedAfterCrash(t *testing.T) {
	r := newSlackRig(t)
	id := r.pageAndChange(t, "after-crash", func(inc *state.Incident) { inc.SlackTS, inc.SlackChannel = "", "" })
	if err := r.worker.DrainOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	pages := r.pages()
	if len(pages) != 1 || pages[0].Updates != 1 {
		t.Fatalf("pages = %d (updates %v), want the one page, updated", len(pages), pages)
	}
	var inc state.Incident
	r.store.View(func(tx *state.Tx) (err error) { inc, err = tx.Incident(id); return err })
	if inc.SlackTS != pages[0].TS {
		t.Errorf("incident page ts = %q, want the adopted %q", inc.SlackTS, pages[0].TS)
	}
}

// pages are the messages keyleak posted in the on-call channel itself:
// not slash-command replies, not ephemeral messages.
func (r *slackRig) pages() []slackfake.Message {
	var out []slackfake.Message
	for _, m := range r.fake.Messages(oncallChan) {
		if !m.FromResponseURL && m.EphemeralTo == "" {
			out = append(out, m)
		}
	}
	return out
}

// pageAndChange reports the key, delivers the page, then changes the
// incident and queues a page update, as facts arriving later do. It
// returns the incident's ID.
func (r *slackRig) pageAndChange(tb testing.TB, rev string, change func(*state.Incident)) string {
	tb.Helper()
	r.send(tb, leakedKey, nil)
	if err := r.worker.DrainOnce(context.Background()); err != nil {
		tb.Fatal(err)
	}
	id := r.incidents(tb)[0].ID
	err := r.store.Update(func(tx *state.Tx) error {
		inc, err := tx.Incident(id)
		if err != nil {
			return err
		}
		change(&inc)
		if err := tx.PutIncident(inc); err != nil {
			return err
		}
		return commands.UpdatePage(tx, id, rev, r.now)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

// TestPagerGivesUpOnAHungSlack: a Slack that never answers does not hold
// a delivery forever, even under a context without a deadline: the call
// gives up after the pager's timeout and the page is retried.
func TestPagerGivesUpOnAHungSlack(t *testing.T) {
	r := newSlackRig(t)
	r.fake.SetLatency("", time.Hour)
	pager := bot.NewPager(bot.PagerConfig{BotToken: r.fake.BotToken(), APIURL: r.fake.URL(), Channel: oncallChan, OncallGroup: "@security-oncall", Timeout: 200 * time.Millisecond}, r.store, slog.New(slog.DiscardHandler))
	r.send(t, leakedKey, nil)
	var pending []state.Message
	r.store.View(func(tx *state.Tx) (err error) { pending, err = tx.Pending(""); return err })
	if len(pending) == 0 {
		t.Fatal("no page pending")
	}
	done := make(chan error, 1)
	go func() {
		retry, err := pager.Deliver(context.Background(), pending[0])
		if err != nil && !retry {
			err = fmt.Errorf("not retried: %w", err)
		} else if err == nil {
			err = errors.New("delivered through a Slack that does not answer")
		} else {
			err = nil
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute): // a guard against a hang, not a speed check
		t.Fatal("the pager waited a minute for a Slack that does not answer")
	}
}
