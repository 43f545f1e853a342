package googlefake

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyleak/keyleak/bot"
)

const testProjectNumber = "123456789012"

// chatEndpoint is a bot endpoint guarded by bot.RequireChatToken; it records
// the events that got through.
type chatEndpoint struct {
	srv      *httptest.Server
	verifier *bot.ChatVerifier
	mu       sync.Mutex
	events   []map[string]any
}

func newChatEndpoint(tb testing.TB, fake *Server, typ bot.ChatAudienceType, audience func(url string) string, now func() time.Time) *chatEndpoint {
	tb.Helper()
	e := &chatEndpoint{}
	e.srv = httptest.NewUnstartedServer(nil)
	keysURL := fake.JWKSURL()
	if typ == bot.ChatAudienceProjectNumber {
		keysURL = fake.X509URL()
	}
	v, err := bot.NewChatVerifier(bot.ChatVerifierConfig{
		AudienceType: typ, Audience: audience("http://" + e.srv.Listener.Addr().String() + "/chat"),
		KeysURL: keysURL, Now: now,
	})
	if err != nil {
		tb.Fatalf("new verifier: %v", err)
	}
	e.verifier = v
	e.srv.Config.Handler = bot.RequireChatToken(v, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		e.mu.Lock()
		e.events = append(e.events, ev)
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":"ok"}`)
	}))
	e.srv.Start()
	tb.Cleanup(e.srv.Close)
	return e
}

func (e *chatEndpoint) url() string { return e.srv.URL + "/chat" }

func (e *chatEndpoint) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.events)
}

func TestSendEventVerifiesWithBot(t *testing.T) {
	fake := newFake(t, Config{})
	ctx := context.Background()
	event := map[string]any{"type": "MESSAGE", "message": map[string]any{"text": "/keyleak status"}}
	byURL := func(url string) string { return url }
	byProject := func(string) string { return testProjectNumber }

	tests := []struct {
		name       string
		typ        bot.ChatAudienceType
		audience   func(string) string
		mode       Mode
		sendAud    func(e *chatEndpoint) string
		wantStatus int
	}{
		{name: "endpoint URL mode", typ: bot.ChatAudienceEndpointURL, audience: byURL, mode: ModeEndpointURL, sendAud: (*chatEndpoint).url, wantStatus: 200},
		{name: "project number mode", typ: bot.ChatAudienceProjectNumber, audience: byProject, mode: ModeProjectNumber, sendAud: func(*chatEndpoint) string { return testProjectNumber }, wantStatus: 200},
		{name: "endpoint URL mode, other audience", typ: bot.ChatAudienceEndpointURL, audience: byURL, mode: ModeEndpointURL, sendAud: func(*chatEndpoint) string { return "https://other.example.com/chat" }, wantStatus: 401},
		{name: "project number mode, other project", typ: bot.ChatAudienceProjectNumber, audience: byProject, mode: ModeProjectNumber, sendAud: func(*chatEndpoint) string { return "999" }, wantStatus: 401},
		{name: "project token sent to an endpoint-URL bot", typ: bot.ChatAudienceEndpointURL, audience: byURL, mode: ModeProjectNumber, sendAud: (*chatEndpoint).url, wantStatus: 401},
		{name: "ID token sent to a project-number bot", typ: bot.ChatAudienceProjectNumber, audience: byProject, mode: ModeEndpointURL, sendAud: func(*chatEndpoint) string { return testProjectNumber }, wantStatus: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newChatEndpoint(t, fake, tt.typ, tt.audience, nil)
			reply, err := fake.SendEvent(ctx, e.url(), tt.sendAud(e), tt.mode, event)
			if err != nil {
				t.Fatalf("SendEvent: %v", err)
			}
			if reply.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", reply.StatusCode, reply.Body, tt.wantStatus)
			}
			wantEvents := 0
			if tt.wantStatus == 200 {
				wantEvents = 1
			}
			if got := e.count(); got != wantEvents {
				t.Errorf("events delivered = %d, want %d", got, wantEvents)
			}
		})
	}
}

func TestSendEventRejected(t *testing.T) {
	fake := newFake(t, Config{})
	ctx := context.Background()
	e := newChatEndpoint(t, fake, bot.ChatAudienceEndpointURL, func(u string) string { return u }, nil)
	event := map[string]any{"type": "CARD_CLICKED"}
	sign := func(edit func(map[string]any)) string {
		t.Helper()
		claims, err := fake.Claims(ModeEndpointURL, e.url())
		if err != nil {
			t.Fatal(err)
		}
		edit(claims)
		tok, err := fake.SignToken(claims)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	tests := []struct {
		name string
		auth string
	}{
		{name: "no token", auth: ""},
		{name: "expired", auth: sign(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })},
		{name: "other email", auth: sign(func(c map[string]any) { c["email"] = "someone@example.com" })},
		{name: "email not verified", auth: sign(func(c map[string]any) { c["email_verified"] = false })},
		{name: "other issuer", auth: sign(func(c map[string]any) { c["iss"] = "https://evil.example.com" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply, err := fake.SendUnsignedEvent(ctx, e.url(), tt.auth, event)
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			if reply.StatusCode != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", reply.StatusCode)
			}
		})
	}
	if got := e.count(); got != 0 {
		t.Errorf("events delivered = %d, want 0", got)
	}
}

func TestRotateKey(t *testing.T) {
	fake := newFake(t, Config{})
	ctx := context.Background()
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	e := newChatEndpoint(t, fake, bot.ChatAudienceProjectNumber, func(string) string { return testProjectNumber }, now)
	send := func(step string, want int) {
		t.Helper()
		reply, err := fake.SendEvent(ctx, e.url(), testProjectNumber, ModeProjectNumber, map[string]any{"type": "MESSAGE"})
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if reply.StatusCode != want {
			t.Fatalf("%s: status = %d, want %d", step, reply.StatusCode, want)
		}
	}
	send("before rotation", 200)
	if err := fake.RotateKey(); err != nil {
		t.Fatal(err)
	}
	// The verifier refetches keys for an unknown kid at most once a minute.
	send("new key right after the last fetch", 401)
	offset.Store(int64(61 * time.Second))
	send("new key a minute later", 200)
}
