package googlefake

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/api/chat/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/meet/v2"
	"google.golang.org/api/option"
)

func newFake(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("start fake: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close fake: %v", err)
		}
	})
	return s
}

func newChat(tb testing.TB, s *Server) *chat.Service {
	tb.Helper()
	svc, err := chat.NewService(context.Background(), option.WithEndpoint(s.URL()+"/"), option.WithoutAuthentication(),
		option.WithScopes(chat.ChatAppSpacesCreateScope, chat.ChatAppMembershipsScope, chat.ChatBotScope))
	if err != nil {
		tb.Fatalf("chat client: %v", err)
	}
	return svc
}

func newMeet(tb testing.TB, s *Server) *meet.Service {
	tb.Helper()
	svc, err := meet.NewService(context.Background(), option.WithEndpoint(s.URL()+"/"), option.WithoutAuthentication(),
		option.WithScopes(meet.MeetingsSpaceCreatedScope))
	if err != nil {
		tb.Fatalf("meet client: %v", err)
	}
	return svc
}

// apiStatus returns the HTTP code and Google status of a failed call.
func apiStatus(tb testing.TB, err error) (int, string) {
	tb.Helper()
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		tb.Fatalf("error %v is not a *googleapi.Error", err)
	}
	var body struct {
		Error struct {
			Status string `json:"status"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(gerr.Body), &body); err != nil {
		tb.Fatalf("error body %q is not Google's error JSON: %v", gerr.Body, err)
	}
	return gerr.Code, body.Error.Status
}

func wantStatus(tb testing.TB, err error, wantCode int, want string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("call succeeded, want %d %s", wantCode, want)
	}
	code, status := apiStatus(tb, err)
	if code != wantCode || status != want {
		tb.Fatalf("error = %d %s (%v), want %d %s", code, status, err, wantCode, want)
	}
}

func createSpace(tb testing.TB, svc *chat.Service, name, requestID string) *chat.Space {
	tb.Helper()
	sp, err := svc.Spaces.Create(&chat.Space{DisplayName: name, SpaceType: "SPACE", Customer: "customers/my_customer"}).
		RequestId(requestID).Context(context.Background()).Do()
	if err != nil {
		tb.Fatalf("create space %q: %v", name, err)
	}
	return sp
}

func TestChatCreateSpace(t *testing.T) {
	s := newFake(t, Config{})
	svc := newChat(t, s)
	ctx := context.Background()

	first := createSpace(t, svc, "keyleak INC-1 AKIA…MPLE", "req-1")
	if !strings.HasPrefix(first.Name, "spaces/") || first.SpaceUri == "" {
		t.Fatalf("created space = %+v, want a spaces/ name and a URI", first)
	}
	again := createSpace(t, svc, "keyleak INC-1 AKIA…MPLE", "req-1")
	if got, want := again.Name, first.Name; got != want {
		t.Errorf("same requestId: space %q, want %q", got, want)
	}
	_, err := svc.Spaces.Create(&chat.Space{DisplayName: "keyleak INC-1 AKIA…MPLE", SpaceType: "SPACE", Customer: "customers/my_customer"}).
		RequestId("req-2").Context(ctx).Do()
	wantStatus(t, err, http.StatusConflict, "ALREADY_EXISTS")

	got, err := svc.Spaces.Get(first.Name).Context(ctx).Do()
	if err != nil {
		t.Fatalf("get space: %v", err)
	}
	if got.DisplayName != "keyleak INC-1 AKIA…MPLE" {
		t.Errorf("get space: displayName = %q", got.DisplayName)
	}
	_, err = svc.Spaces.Get("spaces/missing").Context(ctx).Do()
	wantStatus(t, err, http.StatusNotFound, "NOT_FOUND")

	if got := s.Spaces(); len(got) != 1 || got[0].Name != first.Name || got[0].RequestID != "req-1" {
		t.Errorf("Spaces() = %+v, want only %s", got, first.Name)
	}

	refused := []struct {
		name  string
		space *chat.Space
	}{
		{name: "no customer", space: &chat.Space{DisplayName: "x", SpaceType: "SPACE"}},
		{name: "no display name", space: &chat.Space{SpaceType: "SPACE", Customer: "customers/my_customer"}},
		{name: "group chat", space: &chat.Space{DisplayName: "y", SpaceType: "GROUP_CHAT", Customer: "customers/my_customer"}},
		{name: "unknown space type", space: &chat.Space{DisplayName: "z", SpaceType: "CHANNEL", Customer: "customers/my_customer"}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.Spaces.Create(tt.space).Context(ctx).Do()
			wantStatus(t, err, http.StatusBadRequest, "INVALID_ARGUMENT")
		})
	}
	if got := len(s.Spaces()); got != 1 {
		t.Errorf("spaces after refused creates = %d, want 1", got)
	}
}

func TestChatMembers(t *testing.T) {
	s := newFake(t, Config{WorkspaceDomain: "example.com"})
	svc := newChat(t, s)
	ctx := context.Background()
	sp := createSpace(t, svc, "keyleak INC-2", "req-members")

	tests := []struct {
		name       string
		membership *chat.Membership
		wantCode   int
		wantStatus string
	}{
		{name: "by email", membership: &chat.Membership{Member: &chat.User{Name: "users/alice@example.com", Type: "HUMAN"}}},
		{name: "by directory ID", membership: &chat.Membership{Member: &chat.User{Name: "users/1234567890", Type: "HUMAN"}}},
		{name: "already a member", membership: &chat.Membership{Member: &chat.User{Name: "users/alice@example.com", Type: "HUMAN"}}, wantCode: 409, wantStatus: "ALREADY_EXISTS"},
		{name: "external user", membership: &chat.Membership{Member: &chat.User{Name: "users/mallory@evil.example", Type: "HUMAN"}}, wantCode: 403, wantStatus: "PERMISSION_DENIED"},
		{name: "group", membership: &chat.Membership{GroupMember: &chat.Group{Name: "groups/oncall"}}, wantCode: 403, wantStatus: "PERMISSION_DENIED"},
		{name: "no type", membership: &chat.Membership{Member: &chat.User{Name: "users/bob@example.com"}}, wantCode: 400, wantStatus: "INVALID_ARGUMENT"},
		{name: "not a user name", membership: &chat.Membership{Member: &chat.User{Name: "bob@example.com", Type: "HUMAN"}}, wantCode: 400, wantStatus: "INVALID_ARGUMENT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := svc.Spaces.Members.Create(sp.Name, tt.membership).Context(ctx).Do()
			if tt.wantCode != 0 {
				wantStatus(t, err, tt.wantCode, tt.wantStatus)
				return
			}
			if err != nil {
				t.Fatalf("create membership: %v", err)
			}
			if m.State != "JOINED" || m.Member.Name != tt.membership.Member.Name || !strings.HasPrefix(m.Name, sp.Name+"/members/") {
				t.Errorf("membership = %+v %+v", m, m.Member)
			}
		})
	}
	_, err := svc.Spaces.Members.Create("spaces/missing", &chat.Membership{Member: &chat.User{Name: "users/1", Type: "HUMAN"}}).Context(ctx).Do()
	wantStatus(t, err, http.StatusNotFound, "NOT_FOUND")

	var got []string
	for _, m := range s.Members(sp.Name) {
		got = append(got, m.User)
	}
	if want := "users/app users/alice@example.com users/1234567890"; strings.Join(got, " ") != want {
		t.Errorf("Members() = %v, want %s", got, want)
	}
}
