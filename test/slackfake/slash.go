package slackfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Slack's limits around slash commands.
const (
	// SlashCommandTimeout is how long Slack waits for the app to answer.
	SlashCommandTimeout = 3 * time.Second
	// ResponseURLMaxUses and ResponseURLLifetime bound a response_url.
	ResponseURLMaxUses  = 5
	ResponseURLLifetime = 30 * time.Minute

	// ResponseURLMethod names the response_url endpoint for Fail and
	// SetLatency.
	ResponseURLMethod = "response_url"

	maxReplyBytes = 1 << 20
)

// What Slack shows the user when the app fails a slash command.
const (
	SlashTimeout        = "operation_timeout"
	SlashDispatchFailed = "dispatch_failed"
)

// ResponsePost is one POST to a response_url.
type ResponsePost struct {
	URL             string
	Body            []byte // as sent
	ResponseType    string // "ephemeral" (the default) or "in_channel"
	Text            string
	Blocks          json.RawMessage
	ReplaceOriginal bool
	DeleteOriginal  bool
	Status          int    // what the fake answered
	Error           string // the error answered, "" when ok
	At              time.Time
}

type responseURL struct {
	channel, user string
	created       time.Time
	uses          int
	lastTS        string // the last message posted through it
}

// NewResponseURL returns a fresh response_url for a command typed by user
// in channel (IDs).
func (s *Server) NewResponseURL(channel, user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	path := fmt.Sprintf("/commands/%s/%d/r%06d", s.opts.TeamID, 7000000000+s.nextID, s.nextID)
	s.responses[path] = &responseURL{channel: channel, user: user, created: s.opts.Now()}
	return s.srv.URL + path
}

// ResponsePosts returns every POST to a response_url, in order.
func (s *Server) ResponsePosts() []ResponsePost {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ResponsePost(nil), s.posts...)
}

// reply is the JSON a slash command answer or response_url POST carries.
type reply struct {
	ResponseType    string          `json:"response_type"`
	Text            string          `json:"text"`
	Blocks          json.RawMessage `json:"blocks"`
	ReplaceOriginal bool            `json:"replace_original"`
	DeleteOriginal  bool            `json:"delete_original"`
}

func (s *Server) serveResponseURL(w http.ResponseWriter, r *http.Request) {
	if !s.wait(r.Context(), ResponseURLMethod) {
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxReplyBytes))
	post := ResponsePost{URL: s.srv.URL + r.URL.Path, Body: body, At: s.opts.Now()}
	status, code := s.acceptResponse(r, body, &post)
	post.Status, post.Error = status, code

	s.mu.Lock()
	s.posts = append(s.posts, post)
	s.notifyLocked()
	s.mu.Unlock()

	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	if code == "" {
		code = "ok"
	}
	_, _ = io.WriteString(w, code)
}

// acceptResponse checks and applies one response_url POST; it returns the
// HTTP status and error to answer.
func (s *Server) acceptResponse(r *http.Request, body []byte, post *ResponsePost) (int, string) {
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, "invalid_method"
	}
	if f, ok := s.takeFault(ResponseURLMethod); ok {
		return f.Status, f.Error
	}
	s.mu.Lock()
	ru := s.responses[r.URL.Path]
	switch {
	case ru == nil:
		s.mu.Unlock()
		return http.StatusNotFound, "invalid_url"
	case s.opts.Now().Sub(ru.created) > ResponseURLLifetime:
		s.mu.Unlock()
		return http.StatusNotFound, "expired_url"
	case ru.uses >= ResponseURLMaxUses:
		s.mu.Unlock()
		return http.StatusNotFound, "used_url"
	}
	ru.uses++
	s.mu.Unlock()

	if ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ctype != "application/json" {
		return http.StatusBadRequest, "invalid_payload"
	}
	var rep reply
	if err := json.Unmarshal(body, &rep); err != nil {
		return http.StatusBadRequest, "invalid_payload"
	}
	post.ResponseType, post.Text, post.Blocks = rep.ResponseType, rep.Text, rep.Blocks
	post.ReplaceOriginal, post.DeleteOriginal = rep.ReplaceOriginal, rep.DeleteOriginal
	if code := s.applyReply(r.URL.Path, rep); code != "" {
		return http.StatusBadRequest, code
	}
	return http.StatusOK, ""
}

// applyReply shows a reply in the channel the command came from.
func (s *Server) applyReply(path string, rep reply) string {
	if len(rep.Blocks) > 0 && string(rep.Blocks) != "null" {
		if aerr := validateBlocks(string(rep.Blocks)); aerr != nil {
			return aerr.code
		}
	} else {
		rep.Blocks = nil
	}
	if rep.Text == "" && rep.Blocks == nil && !rep.DeleteOriginal {
		return "no_text"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ru := s.responses[path]
	if original := s.findLocked(ru.channel, ru.lastTS); original != nil {
		switch {
		case rep.DeleteOriginal:
			s.deleteLocked(original)
			ru.lastTS = ""
			s.notifyLocked()
			return ""
		case rep.ReplaceOriginal:
			original.Text, original.Blocks = rep.Text, rep.Blocks
			original.Updates++
			s.notifyLocked()
			return ""
		}
	}
	if rep.DeleteOriginal {
		return ""
	}
	m := &Message{Channel: ru.channel, Text: rep.Text, Blocks: rep.Blocks, FromResponseURL: true, TS: s.nextTSLocked()}
	if rep.ResponseType == "in_channel" {
		ru.lastTS = m.TS
	} else {
		m.EphemeralTo = ru.user
	}
	s.messages = append(s.messages, m)
	s.notifyLocked()
	return ""
}

func (s *Server) deleteLocked(m *Message) {
	for i, x := range s.messages {
		if x == m {
			s.messages = append(s.messages[:i], s.messages[i+1:]...)
			return
		}
	}
}

// Sign signs body as Slack does at time ts, returning the values of the
// X-Slack-Request-Timestamp and X-Slack-Signature headers. It is written
// apart from the bot's own code so that each checks the other.
func Sign(secret []byte, ts time.Time, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, secret)
	fmt.Fprintf(mac, "v0:%s:", timestamp)
	mac.Write(body)
	return timestamp, "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// SlashCommandForm completes form with what Slack sends with every slash
// command: the first seeded channel and user, a fresh response_url, a
// unique trigger_id, and the team and app fields. Values in form win.
func (s *Server) SlashCommandForm(form url.Values) url.Values {
	out := url.Values{}
	set := func(k, v string) {
		if form.Get(k) == "" {
			out.Set(k, v)
		}
	}
	for k, v := range form {
		out[k] = append([]string(nil), v...)
	}
	channelID, channelName := "C0ONCALL", "oncall"
	if len(s.opts.Channels) > 0 {
		channelID, channelName = s.opts.Channels[0].ID, s.opts.Channels[0].Name
	}
	userID, userName := "U0REPORTER", "reporter"
	if len(s.opts.Users) > 0 {
		userID, userName = s.opts.Users[0].ID, s.opts.Users[0].Name
	}
	set("channel_id", channelID)
	set("channel_name", channelName)
	set("user_id", userID)
	set("user_name", userName)
	set("command", "/keyleak")
	set("text", "")
	set("team_id", s.opts.TeamID)
	set("team_domain", s.opts.TeamName)
	set("api_app_id", "A0KEYLEAK")
	set("is_enterprise_install", "false")
	set("token", "legacyverificationtoken")
	s.mu.Lock()
	s.nextID++
	trigger := fmt.Sprintf("%d.%d.%032x", 13345224609+s.nextID, 738474920, s.nextID)
	s.mu.Unlock()
	set("trigger_id", trigger)
	set("response_url", s.NewResponseURL(out.Get("channel_id"), out.Get("user_id")))
	return out
}

// NewSignedRequest builds a POST of body to target signed with secret at
// the server's clock, as Slack sends it. Its GetBody allows replaying it.
func (s *Server) NewSignedRequest(ctx context.Context, target string, secret []byte, contentType string, body []byte) (*http.Request, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("new signed request to %s: %w", target, err)
	}
	ts, sig := Sign(secret, s.opts.Now(), body)
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	r.Header.Set("X-Slack-Request-Timestamp", ts)
	r.Header.Set("X-Slack-Signature", sig)
	return r, nil
}

// SlashResult is how a slash command delivery went.
type SlashResult struct {
	Form    url.Values // what was sent
	Status  int
	Header  http.Header
	Body    []byte
	Elapsed time.Duration
	// Error is what Slack would show the user: SlashTimeout when no answer
	// came within SlashCommandTimeout, SlashDispatchFailed when the answer
	// was not 200 or the connection failed; "" on success.
	Error string
}

// SendSlashCommand posts a slash command to target as Slack does: the form
// completed by SlashCommandForm, signed with secret, cut off after
// SlashCommandTimeout. A 200 answer with a body is shown in the channel as
// Slack shows it. The error is for bad arguments or ctx ending; a failed
// delivery is reported in the result.
func (s *Server) SendSlashCommand(ctx context.Context, target string, secret []byte, form url.Values) (*SlashResult, error) {
	form = s.SlashCommandForm(form)
	ctx, cancel := context.WithTimeout(ctx, SlashCommandTimeout)
	defer cancel()
	r, err := s.NewSignedRequest(ctx, target, secret, "application/x-www-form-urlencoded", []byte(form.Encode()))
	if err != nil {
		return nil, err
	}
	res := &SlashResult{Form: form}
	start := time.Now()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		res.Elapsed = time.Since(start)
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			res.Error = SlashTimeout
		case ctx.Err() != nil:
			return nil, fmt.Errorf("send slash command: %w", ctx.Err())
		default:
			res.Error = SlashDispatchFailed
		}
		return res, nil
	}
	defer resp.Body.Close()
	res.Status, res.Header = resp.StatusCode, resp.Header
	res.Body, err = io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	res.Elapsed = time.Since(start)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		res.Error = SlashTimeout
	case err != nil || resp.StatusCode != http.StatusOK:
		res.Error = SlashDispatchFailed
	default:
		s.showSyncReply(form.Get("response_url"), resp.Header.Get("Content-Type"), res.Body)
	}
	return res, nil
}

// showSyncReply shows a slash command's direct answer: JSON as a reply,
// other text as an ephemeral message, nothing for an empty body.
func (s *Server) showSyncReply(responseURL, contentType string, body []byte) {
	if len(bytes.TrimSpace(body)) == 0 {
		return
	}
	path := strings.TrimPrefix(responseURL, s.srv.URL)
	rep := reply{Text: string(body)}
	if ctype, _, _ := mime.ParseMediaType(contentType); ctype == "application/json" {
		if json.Unmarshal(body, &rep) != nil {
			rep = reply{Text: string(body)}
		}
	}
	s.mu.Lock()
	_, ok := s.responses[path]
	s.mu.Unlock()
	if ok {
		s.applyReply(path, rep)
	}
}
