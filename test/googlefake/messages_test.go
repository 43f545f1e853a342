package googlefake

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/api/chat/v1"
)

const replyFallback = "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"

func incidentCard(title string) []*chat.CardWithId {
	return []*chat.CardWithId{{
		CardId: "incident",
		Card: &chat.GoogleAppsCardV1Card{
			Header: &chat.GoogleAppsCardV1CardHeader{Title: title},
			Sections: []*chat.GoogleAppsCardV1Section{{Widgets: []*chat.GoogleAppsCardV1Widget{{
				TextParagraph: &chat.GoogleAppsCardV1TextParagraph{Text: "key AKIAIOSFODNN7EXAMPLE"},
			}}}},
		}},
	}
}

func TestChatThreads(t *testing.T) {
	s := newFake(t, Config{})
	svc := newChat(t, s)
	ctx := context.Background()
	sp := createSpace(t, svc, "keyleak INC-3", "req-threads")

	post := func(text, key, option string) *chat.Message {
		t.Helper()
		msg := &chat.Message{Text: text}
		if key != "" {
			msg.Thread = &chat.Thread{ThreadKey: key}
		}
		call := svc.Spaces.Messages.Create(sp.Name, msg).Context(ctx)
		if option != "" {
			call = call.MessageReplyOption(option)
		}
		m, err := call.Do()
		if err != nil {
			t.Fatalf("post %q: %v", text, err)
		}
		return m
	}
	root := post("incident opened", "inc-3", replyFallback)
	reply := post("investigation started", "inc-3", replyFallback)
	ignored := post("thread key without reply option", "inc-3", "")
	other := post("other thread", "inc-3-cost", replyFallback)

	if root.Thread == nil || reply.Thread == nil || ignored.Thread == nil || other.Thread == nil {
		t.Fatal("a created message has no thread")
	}
	if reply.Thread.Name != root.Thread.Name {
		t.Errorf("reply thread = %s, want %s (same threadKey with %s)", reply.Thread.Name, root.Thread.Name, replyFallback)
	}
	if ignored.Thread.Name == root.Thread.Name {
		t.Errorf("message without messageReplyOption joined thread %s; Chat starts a new thread", root.Thread.Name)
	}
	if other.Thread.Name == root.Thread.Name {
		t.Errorf("different threadKey joined thread %s", root.Thread.Name)
	}
	msgs := s.Messages(sp.Name)
	if len(msgs) != 4 {
		t.Fatalf("Messages() has %d messages, want 4", len(msgs))
	}
	if msgs[1].Thread != msgs[0].Thread || msgs[1].ThreadKey != "inc-3" || msgs[1].Text != "investigation started" {
		t.Errorf("recorded reply = %v, want in thread %s with key inc-3", msgs[1], msgs[0].Thread)
	}

	_, err := svc.Spaces.Messages.Create(sp.Name, &chat.Message{Text: "x", Thread: &chat.Thread{Name: sp.Name + "/threads/nope"}}).
		MessageReplyOption("REPLY_MESSAGE_OR_FAIL").Context(ctx).Do()
	wantStatus(t, err, http.StatusNotFound, "NOT_FOUND")
}

func TestChatMessageRules(t *testing.T) {
	s := newFake(t, Config{})
	svc := newChat(t, s)
	ctx := context.Background()
	sp := createSpace(t, svc, "keyleak INC-4", "req-rules")

	tests := []struct {
		name       string
		msg        *chat.Message
		messageID  string
		requestID  string
		wantCode   int
		wantStatus string
	}{
		{name: "client message ID", msg: &chat.Message{Text: "a"}, messageID: "client-inc-4-card"},
		{name: "client message ID of 63 characters", msg: &chat.Message{Text: "a"}, messageID: "client-" + strings.Repeat("a", 63)},
		{name: "duplicate client message ID", msg: &chat.Message{Text: "b"}, messageID: "client-inc-4-card", wantCode: 409, wantStatus: "ALREADY_EXISTS"},
		{name: "client message ID too long", msg: &chat.Message{Text: "a"}, messageID: "client-" + strings.Repeat("a", 64), wantCode: 400, wantStatus: "INVALID_ARGUMENT"},
		{name: "client message ID upper case", msg: &chat.Message{Text: "a"}, messageID: "client-INC-4", wantCode: 400, wantStatus: "INVALID_ARGUMENT"},
		{name: "client message ID underscore", msg: &chat.Message{Text: "a"}, messageID: "client-inc_4", wantCode: 400, wantStatus: "INVALID_ARGUMENT"},
		{name: "message ID without client- prefix", msg: &chat.Message{Text: "a"}, messageID: "inc-4", wantCode: 400, wantStatus: "INVALID_ARGUMENT"},
		{name: "request ID", msg: &chat.Message{Text: "once"}, requestID: "req-msg-1"},
		{name: "request ID repeated", msg: &chat.Message{Text: "once"}, requestID: "req-msg-1"},
		{name: "cards v2", msg: &chat.Message{CardsV2: incidentCard("INC-4")}},
		{name: "32000 bytes", msg: &chat.Message{Text: strings.Repeat("x", 32000-len(`{"text":""}`))}},
		{name: "over 32000 bytes", msg: &chat.Message{Text: strings.Repeat("x", 32000)}, wantCode: 400, wantStatus: "INVALID_ARGUMENT"},
		{name: "empty message", msg: &chat.Message{}, wantCode: 400, wantStatus: "INVALID_ARGUMENT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := svc.Spaces.Messages.Create(sp.Name, tt.msg).Context(ctx)
			if tt.messageID != "" {
				call = call.MessageId(tt.messageID)
			}
			if tt.requestID != "" {
				call = call.RequestId(tt.requestID)
			}
			m, err := call.Do()
			if tt.wantCode != 0 {
				wantStatus(t, err, tt.wantCode, tt.wantStatus)
				return
			}
			if err != nil {
				t.Fatalf("create message: %v", err)
			}
			if m.ClientAssignedMessageId != tt.messageID {
				t.Errorf("clientAssignedMessageId = %q, want %q", m.ClientAssignedMessageId, tt.messageID)
			}
		})
	}
	var got []string
	for _, m := range s.Messages(sp.Name) {
		got = append(got, m.ClientID+"|"+m.Text[:min(len(m.Text), 4)]+"|"+string(m.CardsV2[:min(len(m.CardsV2), 9)]))
	}
	want := []string{"client-inc-4-card|a|", "client-" + strings.Repeat("a", 63) + "|a|", "|once|", `||[{"card":`, "|xxxx|"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Messages() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_, err := svc.Spaces.Messages.Create("spaces/missing", &chat.Message{Text: "x"}).Context(ctx).Do()
	wantStatus(t, err, http.StatusNotFound, "NOT_FOUND")
}

func TestChatPatchCard(t *testing.T) {
	s := newFake(t, Config{})
	svc := newChat(t, s)
	ctx := context.Background()
	sp := createSpace(t, svc, "keyleak INC-5", "req-patch")

	created, err := svc.Spaces.Messages.Create(sp.Name, &chat.Message{Text: "incident", CardsV2: incidentCard("Key active")}).
		MessageId("client-inc-5-card").Context(ctx).Do()
	if err != nil {
		t.Fatalf("create card: %v", err)
	}
	byClientID := sp.Name + "/messages/client-inc-5-card"
	patched, err := svc.Spaces.Messages.Patch(byClientID, &chat.Message{CardsV2: incidentCard("Key deactivated")}).
		UpdateMask("cards_v2").Context(ctx).Do()
	if err != nil {
		t.Fatalf("patch card: %v", err)
	}
	if patched.Name != created.Name || patched.Text != "incident" {
		t.Errorf("patched = %s %q, want %s with text kept", patched.Name, patched.Text, created.Name)
	}
	if got := patched.CardsV2[0].Card.Header.Title; got != "Key deactivated" {
		t.Errorf("patched card title = %q, want %q", got, "Key deactivated")
	}
	fetched, err := svc.Spaces.Messages.Get(created.Name).Context(ctx).Do()
	if err != nil {
		t.Fatalf("get message: %v", err)
	}
	if got := fetched.CardsV2[0].Card.Header.Title; got != "Key deactivated" {
		t.Errorf("fetched card title = %q, want %q", got, "Key deactivated")
	}
	msgs := s.Messages(sp.Name)
	var card []chat.CardWithId
	if err := json.Unmarshal(msgs[0].CardsV2, &card); err != nil {
		t.Fatalf("recorded card: %v", err)
	}
	if len(msgs) != 1 || msgs[0].Updates != 1 || card[0].Card.Header.Title != "Key deactivated" {
		t.Errorf("Messages() = %v, want one message updated once to the new card", msgs)
	}

	refused := []struct {
		name     string
		mask     string
		target   string
		wantCode int
	}{
		{name: "no update mask", target: byClientID, wantCode: 400},
		{name: "unknown mask path", mask: "sender", target: byClientID, wantCode: 400},
		{name: "unknown message", mask: "text", target: sp.Name + "/messages/client-nope", wantCode: 404},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			call := svc.Spaces.Messages.Patch(tt.target, &chat.Message{Text: "x"}).Context(ctx)
			if tt.mask != "" {
				call = call.UpdateMask(tt.mask)
			}
			_, err := call.Do()
			if code, _ := apiStatus(t, err); code != tt.wantCode {
				t.Errorf("code = %d, want %d", code, tt.wantCode)
			}
		})
	}
	if got := s.Messages(sp.Name)[0].Updates; got != 1 {
		t.Errorf("updates after refused patches = %d, want 1", got)
	}
}
