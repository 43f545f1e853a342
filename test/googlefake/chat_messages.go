package googlefake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// messageBody is the part of a Message request body the fake acts on.
type messageBody struct {
	Text       string          `json:"text"`
	CardsV2    json.RawMessage `json:"cardsV2"`
	Cards      json.RawMessage `json:"cards"`
	Attachment json.RawMessage `json:"attachment"`
	Thread     *struct {
		Name      string `json:"name"`
		ThreadKey string `json:"threadKey"`
	} `json:"thread"`
}

func (b *messageBody) empty() bool {
	return b.Text == "" && isEmptyJSON(b.CardsV2) && isEmptyJSON(b.Cards) && isEmptyJSON(b.Attachment)
}

func isEmptyJSON(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null" || s == "[]"
}

// checkMessageSize applies Chat's 32,000-byte limit to the message JSON.
func checkMessageSize(body []byte) *apiError {
	if n := len(bytes.TrimSpace(body)); n > maxMessageBytes {
		return newAPIError(http.StatusBadRequest, "message of %d bytes exceeds the limit of %d bytes", n, maxMessageBytes)
	}
	return nil
}

func checkClientID(id string) *apiError {
	suffix, ok := strings.CutPrefix(id, clientIDPrefix)
	if !ok || suffix == "" || len(suffix) > maxClientIDSuffixLen {
		return newAPIError(http.StatusBadRequest, "messageId must be %q followed by 1 to %d characters", clientIDPrefix, maxClientIDSuffixLen)
	}
	for _, r := range suffix {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return newAPIError(http.StatusBadRequest, "messageId may contain only lowercase letters, digits and hyphens")
		}
	}
	return nil
}

func (s *Server) chatCreateMessage(c *call) (any, *apiError) {
	if err := checkMessageSize(c.body); err != nil {
		return nil, err
	}
	var body messageBody
	if err := decodeBody(c, &body); err != nil {
		return nil, err
	}
	if body.empty() {
		return nil, newAPIError(http.StatusBadRequest, "message cannot be empty")
	}
	clientID := c.query.Get("messageId")
	if clientID != "" {
		if err := checkClientID(clientID); err != nil {
			return nil, err
		}
	}
	requestID := c.query.Get("requestId")
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, aerr := s.spaceOf(c)
	if aerr != nil {
		return nil, aerr
	}
	for _, m := range sp.messages {
		if requestID != "" && m.RequestID == requestID {
			return s.messageJSON(sp, m), nil
		}
	}
	for _, m := range sp.messages {
		if clientID != "" && m.ClientID == clientID {
			return nil, newAPIError(http.StatusConflict, "message ID %s is already used in %s", clientID, sp.Name)
		}
	}
	thread, key, aerr := s.pickThread(c, sp, &body)
	if aerr != nil {
		return nil, aerr
	}
	now := s.cfg.Now().UTC()
	id := newID(11)
	m := &Message{
		Name: sp.Name + "/messages/" + id + "." + id, ClientID: clientID, RequestID: requestID,
		Thread: thread, ThreadKey: key, Text: body.Text, CardsV2: body.CardsV2,
		CreateTime: now, UpdateTime: now,
	}
	sp.messages = append(sp.messages, m)
	return s.messageJSON(sp, m), nil
}

// pickThread applies Chat's threading rules: a thread key or name counts only
// with a REPLY_MESSAGE_* messageReplyOption; by default every message starts
// a new thread. The caller holds s.mu.
func (s *Server) pickThread(c *call, sp *chatSpace, body *messageBody) (thread, key string, aerr *apiError) {
	option := c.query.Get("messageReplyOption")
	var name string
	key = c.query.Get("threadKey")
	if body.Thread != nil {
		name = body.Thread.Name
		if body.Thread.ThreadKey != "" {
			key = body.Thread.ThreadKey
		}
	}
	newThread := func(key string) (string, string, *apiError) {
		t := sp.Name + "/threads/" + newID(11)
		sp.threads[t] = true
		if key != "" {
			sp.threadByKey[key] = t
		}
		return t, key, nil
	}
	if option != "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD" && option != "REPLY_MESSAGE_OR_FAIL" {
		return newThread("")
	}
	if name != "" {
		if sp.threads[name] {
			for k, t := range sp.threadByKey {
				if t == name {
					return name, k, nil
				}
			}
			return name, "", nil
		}
		if option == "REPLY_MESSAGE_OR_FAIL" {
			return "", "", newAPIError(http.StatusNotFound, "thread %s not found", name)
		}
		return newThread("")
	}
	if key == "" {
		return newThread("")
	}
	if t, ok := sp.threadByKey[key]; ok {
		return t, key, nil
	}
	return newThread(key)
}

// messageJSON renders a message as the API returns it. The caller holds s.mu.
func (s *Server) messageJSON(sp *chatSpace, m *Message) map[string]any {
	thread := map[string]any{"name": m.Thread}
	if m.ThreadKey != "" {
		thread["threadKey"] = m.ThreadKey
	}
	out := map[string]any{
		"name":           m.Name,
		"sender":         map[string]any{"name": "users/app", "type": "BOT"},
		"createTime":     m.CreateTime.Format(time.RFC3339Nano),
		"lastUpdateTime": m.UpdateTime.Format(time.RFC3339Nano),
		"thread":         thread,
		"space":          map[string]any{"name": sp.Name, "spaceType": sp.SpaceType, "displayName": sp.DisplayName},
	}
	if m.Text != "" {
		out["text"] = m.Text
		out["argumentText"] = m.Text
	}
	if !isEmptyJSON(m.CardsV2) {
		out["cardsV2"] = m.CardsV2
	}
	if m.ClientID != "" {
		out["clientAssignedMessageId"] = m.ClientID
	}
	return out
}

// findMessage resolves spaces/X/messages/{id or client ID}. The caller holds s.mu.
func (s *Server) findMessage(c *call) (*chatSpace, *Message, *apiError) {
	sp, aerr := s.spaceOf(c)
	if aerr != nil {
		return nil, nil, aerr
	}
	name := strings.TrimPrefix(c.path, "v1/")
	id := name[strings.LastIndexByte(name, '/')+1:]
	for _, m := range sp.messages {
		if m.Name == name || (m.ClientID != "" && m.ClientID == id) {
			return sp, m, nil
		}
	}
	return nil, nil, newAPIError(http.StatusNotFound, "message %s not found", name)
}

func (s *Server) chatGetMessage(c *call) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, m, aerr := s.findMessage(c)
	if aerr != nil {
		return nil, aerr
	}
	return s.messageJSON(sp, m), nil
}

func (s *Server) chatPatchMessage(c *call) (any, *apiError) {
	if err := checkMessageSize(c.body); err != nil {
		return nil, err
	}
	mask := c.query.Get("updateMask")
	if mask == "" {
		return nil, newAPIError(http.StatusBadRequest, "updateMask is required")
	}
	var setText, setCards bool
	for _, path := range strings.Split(mask, ",") {
		switch strings.TrimSpace(path) {
		case "text":
			setText = true
		case "cards_v2", "cardsV2":
			setCards = true
		case "*":
			setText, setCards = true, true
		case "attachment", "cards", "accessory_widgets", "accessoryWidgets", "quoted_message_metadata", "quotedMessageMetadata":
			// Accepted by Chat; the fake keeps no state for them.
		default:
			return nil, newAPIError(http.StatusBadRequest, "invalid updateMask path %q", path)
		}
	}
	var body messageBody
	if err := decodeBody(c, &body); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, m, aerr := s.findMessage(c)
	if aerr != nil {
		return nil, aerr
	}
	text, cards := m.Text, m.CardsV2
	if setText {
		text = body.Text
	}
	if setCards {
		cards = body.CardsV2
	}
	if text == "" && isEmptyJSON(cards) {
		return nil, newAPIError(http.StatusBadRequest, "message cannot be empty")
	}
	m.Text, m.CardsV2 = text, cards
	m.Updates++
	m.UpdateTime = s.cfg.Now().UTC()
	return s.messageJSON(sp, m), nil
}

// String renders a message for demo output and test failures.
func (m Message) String() string {
	return fmt.Sprintf("%s thread=%s text=%q cards=%d bytes updates=%d", m.Name, m.Thread, m.Text, len(m.CardsV2), m.Updates)
}
