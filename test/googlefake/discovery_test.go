package googlefake

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/api/chat/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/meet/v2"
)

func TestDiscoveryValidationRaw(t *testing.T) {
	s := newFake(t, Config{})
	svc := newChat(t, s)
	sp := createSpace(t, svc, "keyleak INC-6", "req-raw")
	space := "/v1/" + sp.Name

	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantCode   int
		wantStatus string
		wantInMsg  string
	}{
		{name: "valid create", method: "POST", path: space + "/messages?alt=json&prettyPrint=false", body: `{"text":"hi","thread":{"threadKey":"k"}}`, wantCode: 200},
		{name: "unknown top-level field", method: "POST", path: space + "/messages", body: `{"text":"hi","colour":"red"}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT", wantInMsg: `"colour"`},
		{name: "unknown nested field", method: "POST", path: space + "/messages", body: `{"text":"hi","thread":{"key":"k"}}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT", wantInMsg: "message.thread"},
		{name: "unknown field deep in a card", method: "POST", path: space + "/messages", body: `{"cardsV2":[{"cardId":"c","card":{"header":{"titel":"x"}}}]}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT", wantInMsg: `"titel"`},
		{name: "snake_case field name", method: "POST", path: space + "/messages", body: `{"cards_v2":[]}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT"},
		{name: "bad enum in body", method: "POST", path: "/v1/spaces", body: `{"displayName":"n","spaceType":"CHANNEL","customer":"customers/my_customer"}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT", wantInMsg: "spaceType"},
		{name: "string for a boolean", method: "POST", path: "/v1/spaces", body: `{"displayName":"n","spaceType":"SPACE","externalUserAllowed":"no"}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT"},
		{name: "number for a string", method: "POST", path: "/v1/spaces", body: `{"displayName":7}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT"},
		{name: "object for a list", method: "POST", path: space + "/messages", body: `{"cardsV2":{}}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT"},
		{name: "not JSON", method: "POST", path: space + "/messages", body: `text=hi`, wantCode: 400, wantStatus: "INVALID_ARGUMENT"},
		{name: "bad enum in query", method: "POST", path: space + "/messages?messageReplyOption=REPLY_IN_THREAD", body: `{"text":"hi"}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT", wantInMsg: "messageReplyOption"},
		{name: "undeclared query parameter", method: "POST", path: space + "/messages?threadId=x", body: `{"text":"hi"}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT", wantInMsg: "threadId"},
		{name: "path parameter in query", method: "POST", path: space + "/messages?parent=spaces/x", body: `{"text":"hi"}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT"},
		{name: "query parameter of another method", method: "POST", path: space + "/messages?updateMask=text", body: `{"text":"hi"}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT"},
		{name: "bad boolean in query", method: "PATCH", path: space + "/messages/x?updateMask=text&allowMissing=yes", body: `{"text":"hi"}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT"},
		{name: "body on a GET", method: "GET", path: space, body: `{"name":"x"}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT"},
		{name: "unknown path", method: "POST", path: "/v1/rooms", body: `{}`, wantCode: 404, wantStatus: "NOT_FOUND"},
		{name: "wrong HTTP method", method: "DELETE", path: space + "/messages", wantCode: 404, wantStatus: "NOT_FOUND"},
		{name: "wrong API version", method: "POST", path: "/v2" + strings.TrimPrefix(space, "/v1") + "/messages", body: `{"text":"hi"}`, wantCode: 404, wantStatus: "NOT_FOUND"},
		{name: "declared but not implemented", method: "GET", path: space + "/messages", wantCode: 501, wantStatus: "UNIMPLEMENTED"},
		{name: "meet bad enum nested", method: "POST", path: "/v2/spaces", body: `{"config":{"accessType":"PUBLIC"}}`, wantCode: 400, wantStatus: "INVALID_ARGUMENT", wantInMsg: "space.config.accessType"},
		{name: "meet valid", method: "POST", path: "/v2/spaces", body: `{"config":{"accessType":"OPEN"}}`, wantCode: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(context.Background(), tt.method, s.URL()+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.StatusCode; got != tt.wantCode {
				t.Fatalf("status = %d (%s), want %d", got, raw, tt.wantCode)
			}
			if tt.wantCode == 200 {
				return
			}
			var body struct {
				Error struct {
					Code    int    `json:"code"`
					Message string `json:"message"`
					Status  string `json:"status"`
				} `json:"error"`
			}
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("error body %s: %v", raw, err)
			}
			if body.Error.Code != tt.wantCode || body.Error.Status != tt.wantStatus || body.Error.Message == "" {
				t.Errorf("error = %+v, want code %d status %s and a message", body.Error, tt.wantCode, tt.wantStatus)
			}
			if !strings.Contains(body.Error.Message, tt.wantInMsg) {
				t.Errorf("message %q does not mention %q", body.Error.Message, tt.wantInMsg)
			}
		})
	}
	if got := len(s.Messages(sp.Name)); got != 1 {
		t.Errorf("messages after refused requests = %d, want 1", got)
	}
}

// The real clients can send invalid requests too; the fake must refuse them.
func TestDiscoveryValidationClients(t *testing.T) {
	s := newFake(t, Config{})
	chatSvc := newChat(t, s)
	meetSvc := newMeet(t, s)
	ctx := context.Background()
	sp := createSpace(t, chatSvc, "keyleak INC-7", "req-clients")

	_, err := chatSvc.Spaces.Messages.Create(sp.Name, &chat.Message{Text: "x"}).
		Context(ctx).Do(googleapi.QueryParameter("notify", "everyone"))
	wantStatus(t, err, http.StatusBadRequest, "INVALID_ARGUMENT")
	_, err = chatSvc.Spaces.Messages.Create(sp.Name, &chat.Message{Text: "x"}).MessageReplyOption("REPLY").Context(ctx).Do()
	wantStatus(t, err, http.StatusBadRequest, "INVALID_ARGUMENT")
	_, err = chatSvc.Spaces.Create(&chat.Space{DisplayName: "n", SpaceType: "ROOM", Customer: "customers/my_customer"}).Context(ctx).Do()
	wantStatus(t, err, http.StatusBadRequest, "INVALID_ARGUMENT")
	_, err = meetSvc.Spaces.Create(&meet.Space{Config: &meet.SpaceConfig{AccessType: "EVERYONE"}}).Context(ctx).Do()
	wantStatus(t, err, http.StatusBadRequest, "INVALID_ARGUMENT")

	if got := len(s.Messages(sp.Name)); got != 0 {
		t.Errorf("messages = %d, want 0", got)
	}
	if got := len(s.MeetSpaces()); got != 0 {
		t.Errorf("meet spaces = %d, want 0", got)
	}
	reqs := s.Requests()
	var methods []string
	for _, r := range reqs {
		methods = append(methods, r.Method+" "+http.StatusText(r.Status))
	}
	want := "chat.spaces.create OK|chat.spaces.messages.create Bad Request|chat.spaces.messages.create Bad Request|chat.spaces.create Bad Request|meet.spaces.create Bad Request"
	if got := strings.Join(methods, "|"); got != want {
		t.Errorf("Requests() = %s, want %s", got, want)
	}
}

func TestLoadDiscoveryErrors(t *testing.T) {
	if _, err := New(context.Background(), Config{APIDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "discovery document") {
		t.Errorf("New with an empty APIDir: error = %v, want a discovery document error", err)
	}
}

// FuzzRequestValidation feeds arbitrary paths, queries and bodies to the
// discovery checks: they must never panic, and a body they accept must be a
// JSON object.
func FuzzRequestValidation(f *testing.F) {
	dir, err := findAPIDir(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	disc, err := loadDiscovery(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("POST", "/v1/spaces/AAAA/messages", "messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD", []byte(`{"text":"hi","thread":{"threadKey":"k"}}`))
	f.Add("POST", "/v1/spaces", "requestId=r", []byte(`{"displayName":"d","spaceType":"SPACE","accessSettings":{"audience":"x"}}`))
	f.Add("PATCH", "/v1/spaces/A/messages/client-x", "updateMask=cards_v2", []byte(`{"cardsV2":[{"card":{"sections":[{"widgets":[{"buttonList":{}}]}]}}]}`))
	f.Add("POST", "/v2/spaces", "", []byte(`{"config":{"accessType":"TRUSTED","artifactConfig":{"recordingConfig":{}}}}`))
	f.Add("GET", "/v1/spaces:findDirectMessage", "name=users/1", []byte(nil))
	f.Fuzz(func(t *testing.T, httpMethod, path, query string, body []byte) {
		m := disc.match(httpMethod, path)
		if m == nil {
			return
		}
		if q, err := url.ParseQuery(query); err == nil {
			_ = m.checkQuery(q)
		}
		if err := m.checkBody(body); err == nil && m.request != "" {
			var obj map[string]any
			if err := json.Unmarshal(body, &obj); err != nil {
				t.Fatalf("accepted body %q for %s is not a JSON object: %v", body, m.id, err)
			}
		}
	})
}
