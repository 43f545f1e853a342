package slackfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Slack's documented message limits.
const (
	maxTextChars       = 40_000
	maxBlocks          = 50
	maxSectionText     = 3000
	maxHeaderText      = 150
	maxContextElements = 10
	maxActionElements  = 25
)

// Message is a message as it stands in a channel, after any updates.
type Message struct {
	Channel  string // channel ID
	TS       string
	ThreadTS string // the parent's ts for a thread reply
	Text     string
	Blocks   json.RawMessage // as sent; nil without blocks
	// EphemeralTo is the only user who sees an ephemeral message.
	EphemeralTo string
	// Updates counts the chat.update calls applied.
	Updates int
	// FromResponseURL marks a message posted through a response_url or as a
	// slash command's synchronous reply.
	FromResponseURL bool
	// Metadata is the message's metadata (event_type, event_payload), as sent.
	Metadata json.RawMessage
}

// Posted returns every message posted, in order, each as it stands now.
func (s *Server) Posted() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.messages))
	for _, m := range s.messages {
		out = append(out, *m)
	}
	return out
}

// Messages returns the messages of a channel (by ID or name), ephemeral ones
// included, in order, each as it stands now.
func (s *Server) Messages(channel string) []Message {
	id := channel
	if c, ok := s.channel(channel); ok {
		id = c.ID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.Channel == id {
			out = append(out, *m)
		}
	}
	return out
}

// channel resolves a channel ID, a name, "#name", or a user ID (whose DM
// channel is D + the user ID without its first letter).
func (s *Server) channel(ref string) (Channel, bool) {
	name := strings.TrimPrefix(ref, "#")
	for _, c := range s.opts.Channels {
		if c.ID == ref || c.Name == name {
			return c, true
		}
	}
	if u, ok := s.user(ref); ok && !u.Deleted && len(u.ID) > 1 {
		return Channel{ID: "D" + u.ID[1:], Members: []string{u.ID}}, true
	}
	return Channel{}, false
}

// postable resolves the channel of a post and checks the bot may post there.
func (s *Server) postable(ref string) (Channel, *apiError) {
	c, ok := s.channel(ref)
	switch {
	case ref == "" || !ok:
		return Channel{}, errCode("channel_not_found")
	case c.Archived:
		return Channel{}, errCode("is_archived")
	case c.NotInChannel:
		return Channel{}, errCode("not_in_channel")
	}
	return c, nil
}

// content checks the text and blocks of a post or update.
func content(req *request) (text string, blocks json.RawMessage, aerr *apiError) {
	text = req.params.Get("text")
	if raw := req.params.Get("blocks"); raw != "" {
		if aerr := validateBlocks(raw); aerr != nil {
			return "", nil, aerr
		}
		blocks = json.RawMessage(raw)
	}
	if text == "" && len(blocks) == 0 && req.params.Get("attachments") == "" {
		return "", nil, errCode("no_text")
	}
	if utf8.RuneCountInString(text) > maxTextChars {
		return "", nil, errCode("msg_too_long")
	}
	return text, blocks, nil
}

// nextTSLocked returns a message timestamp after every earlier one;
// s.mu must be held.
func (s *Server) nextTSLocked() string {
	now := s.opts.Now().Truncate(time.Microsecond)
	if !now.After(s.lastTS) {
		now = s.lastTS.Add(time.Microsecond)
	}
	s.lastTS = now
	return fmt.Sprintf("%d.%06d", now.Unix(), now.Nanosecond()/1000)
}

func (s *Server) postMessage(req *request) (map[string]any, *apiError) {
	c, aerr := s.postable(req.params.Get("channel"))
	if aerr != nil {
		return nil, aerr
	}
	text, blocks, aerr := content(req)
	if aerr != nil {
		return nil, aerr
	}
	var meta json.RawMessage
	if raw := req.params.Get("metadata"); raw != "" {
		var probe struct {
			EventType    string          `json:"event_type"`
			EventPayload json.RawMessage `json:"event_payload"`
		}
		if err := json.Unmarshal([]byte(raw), &probe); err != nil || probe.EventType == "" {
			return nil, errCode("invalid_metadata_format")
		}
		meta = json.RawMessage(raw)
	}
	m := s.addMessage(Message{Channel: c.ID, ThreadTS: req.params.Get("thread_ts"), Text: text, Blocks: blocks, Metadata: meta})
	return map[string]any{"channel": m.Channel, "ts": m.TS, "message": s.messageJSON(m)}, nil
}

// history answers conversations.history: the channel's messages, newest
// first, with metadata only when include_all_metadata is set.
func (s *Server) history(req *request) (map[string]any, *apiError) {
	c, ok := s.channel(req.params.Get("channel"))
	if !ok || c.ID != req.params.Get("channel") { // unlike chat.postMessage, history takes only an ID
		return nil, errCode("channel_not_found")
	}
	if c.NotInChannel {
		return nil, errCode("not_in_channel")
	}
	limit := 100
	if l, err := strconv.Atoi(req.params.Get("limit")); err == nil && l > 0 && l < 1000 {
		limit = l
	}
	withMeta := req.params.Get("include_all_metadata") == "1" || req.params.Get("include_all_metadata") == "true"
	s.mu.Lock()
	defer s.mu.Unlock()
	var msgs []map[string]any
	for i := len(s.messages) - 1; i >= 0 && len(msgs) < limit; i-- {
		m := s.messages[i]
		if m.Channel != c.ID || m.EphemeralTo != "" || m.ThreadTS != "" {
			continue
		}
		j := s.messageJSON(*m)
		if withMeta && len(m.Metadata) > 0 {
			j["metadata"] = m.Metadata
		}
		msgs = append(msgs, j)
	}
	return map[string]any{"messages": msgs, "has_more": false, "pin_count": 0, "response_metadata": map[string]any{"next_cursor": ""}}, nil
}

// addMessage stores m with a fresh ts. A thread_ts naming no message in the
// channel is dropped, as Slack then posts to the channel itself.
func (s *Server) addMessage(m Message) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.ThreadTS != "" && s.findLocked(m.Channel, m.ThreadTS) == nil {
		m.ThreadTS = ""
	}
	m.TS = s.nextTSLocked()
	s.messages = append(s.messages, &m)
	s.notifyLocked()
	return m
}

func (s *Server) findLocked(channel, ts string) *Message {
	for _, m := range s.messages {
		if m.Channel == channel && m.TS == ts && m.EphemeralTo == "" {
			return m
		}
	}
	return nil
}

func (s *Server) messageJSON(m Message) map[string]any {
	out := map[string]any{
		"type":    "message",
		"user":    s.opts.BotUserID,
		"bot_id":  s.opts.BotID,
		"team":    s.opts.TeamID,
		"text":    m.Text,
		"ts":      m.TS,
		"app_id":  "A0KEYLEAK",
		"blocks":  json.RawMessage("[]"),
		"subtype": "bot_message",
	}
	if len(m.Blocks) > 0 {
		out["blocks"] = m.Blocks
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	return out
}

func (s *Server) update(req *request) (map[string]any, *apiError) {
	c, ok := s.channel(req.params.Get("channel"))
	if !ok {
		return nil, errCode("channel_not_found")
	}
	text, blocks, aerr := content(req)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	m := s.findLocked(c.ID, req.params.Get("ts"))
	if m == nil {
		s.mu.Unlock()
		return nil, errCode("message_not_found")
	}
	m.Text = text
	if blocks != nil {
		m.Blocks = blocks
	}
	m.Updates++
	updated := *m
	s.notifyLocked()
	s.mu.Unlock()
	return map[string]any{"channel": updated.Channel, "ts": updated.TS, "text": updated.Text, "message": s.messageJSON(updated)}, nil
}

func (s *Server) postEphemeral(req *request) (map[string]any, *apiError) {
	c, aerr := s.postable(req.params.Get("channel"))
	if aerr != nil {
		return nil, aerr
	}
	userID := req.params.Get("user")
	u, ok := s.user(userID)
	if !ok || u.Deleted {
		return nil, errCode("user_not_found")
	}
	if c.Members != nil && !slices.Contains(c.Members, u.ID) {
		return nil, errCode("user_not_in_channel")
	}
	text, blocks, aerr := content(req)
	if aerr != nil {
		return nil, aerr
	}
	m := s.addMessage(Message{Channel: c.ID, ThreadTS: req.params.Get("thread_ts"), Text: text, Blocks: blocks, EphemeralTo: u.ID})
	return map[string]any{"message_ts": m.TS}, nil
}

// validateBlocks checks the parts of Block Kit Slack rejects most often:
// a JSON array of at most 50 blocks of known types, unique block_ids, text
// objects of the right type and length.
func validateBlocks(raw string) *apiError {
	var blocks []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		return errCode("invalid_blocks_format")
	}
	if len(blocks) > maxBlocks {
		return invalidBlocks("no more than %d items allowed [json-pointer:/blocks]", maxBlocks)
	}
	ids := map[string]bool{}
	for i, b := range blocks {
		var typ, id string
		_ = json.Unmarshal(b["type"], &typ)
		if raw, ok := b["block_id"]; ok {
			if json.Unmarshal(raw, &id) != nil || id == "" || len(id) > 255 || ids[id] {
				return invalidBlocks("invalid or duplicate block_id [json-pointer:/blocks/%d/block_id]", i)
			}
			ids[id] = true
		}
		if msg := checkBlock(typ, b); msg != "" {
			return invalidBlocks("%s [json-pointer:/blocks/%d]", msg, i)
		}
	}
	return nil
}

func invalidBlocks(format string, args ...any) *apiError {
	return &apiError{code: "invalid_blocks", status: http.StatusOK, extra: map[string]any{
		"errors":            []string{fmt.Sprintf(format, args...)},
		"response_metadata": map[string]any{"messages": []string{"[ERROR] " + fmt.Sprintf(format, args...)}},
	}}
}

// checkBlock returns what is wrong with one block, or "".
func checkBlock(typ string, b map[string]json.RawMessage) string {
	switch typ {
	case "section":
		_, hasText := b["text"]
		_, hasFields := b["fields"]
		if !hasText && !hasFields {
			return "section needs text or fields"
		}
		if hasText {
			return checkText(b["text"], maxSectionText, "plain_text", "mrkdwn")
		}
		return ""
	case "header":
		return checkText(b["text"], maxHeaderText, "plain_text")
	case "context":
		return checkElements(b["elements"], maxContextElements)
	case "actions":
		return checkElements(b["elements"], maxActionElements)
	case "divider", "image", "input", "file", "rich_text", "video", "markdown", "table":
		return ""
	case "":
		return "missing block type"
	}
	return "unknown block type " + typ
}

func checkText(raw json.RawMessage, maxLen int, types ...string) string {
	var t struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &t) != nil || !slices.Contains(types, t.Type) {
		return "text must be a " + strings.Join(types, " or ") + " object"
	}
	if n := utf8.RuneCountInString(t.Text); n == 0 || n > maxLen {
		return fmt.Sprintf("text must be 1 to %d characters, not %d", maxLen, n)
	}
	return ""
}

func checkElements(raw json.RawMessage, maxLen int) string {
	var elems []map[string]json.RawMessage
	if json.Unmarshal(raw, &elems) != nil || len(elems) == 0 || len(elems) > maxLen {
		return fmt.Sprintf("elements must be 1 to %d objects", maxLen)
	}
	for _, e := range elems {
		if _, ok := e["type"]; !ok {
			return "element without a type"
		}
	}
	return ""
}
