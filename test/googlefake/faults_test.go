package googlefake

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/chat/v1"
	"google.golang.org/api/meet/v2"
)

// Google is down for a while; a caller that retries with the same requestId
// gets exactly one room once it recovers.
func TestFaultOutageThenRecovery(t *testing.T) {
	s := newFake(t, Config{})
	svc := newChat(t, s)
	ctx := context.Background()
	s.SetFault("chat.spaces.create", Fault{Code: http.StatusInternalServerError, Times: 2})
	s.SetFault("chat.spaces.members.create", Fault{Code: http.StatusTooManyRequests, Times: 1})

	var sp *chat.Space
	var statuses []string
	for attempt := 0; attempt < 5 && sp == nil; attempt++ {
		got, err := svc.Spaces.Create(&chat.Space{DisplayName: "keyleak INC-8", SpaceType: "SPACE", Customer: "customers/my_customer"}).
			RequestId("req-outage").Context(ctx).Do()
		if err != nil {
			_, status := apiStatus(t, err)
			statuses = append(statuses, status)
			continue
		}
		sp = got
	}
	if sp == nil {
		t.Fatal("space never created")
	}
	if got, want := strings.Join(statuses, ","), "INTERNAL,INTERNAL"; got != want {
		t.Errorf("failed attempts = %s, want %s", got, want)
	}
	if got := s.Spaces(); len(got) != 1 || got[0].Name != sp.Name {
		t.Errorf("Spaces() = %+v, want exactly %s", got, sp.Name)
	}

	member := &chat.Membership{Member: &chat.User{Name: "users/alice@example.com", Type: "HUMAN"}}
	_, err := svc.Spaces.Members.Create(sp.Name, member).Context(ctx).Do()
	wantStatus(t, err, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED")
	if _, err := svc.Spaces.Members.Create(sp.Name, member).Context(ctx).Do(); err != nil {
		t.Fatalf("member after the fault was used up: %v", err)
	}

	var creates []int
	for _, r := range s.Requests() {
		if r.Method == "chat.spaces.create" {
			creates = append(creates, r.Status)
		}
	}
	if len(creates) != 3 || creates[0] != 500 || creates[1] != 500 || creates[2] != 200 {
		t.Errorf("recorded spaces.create statuses = %v, want [500 500 200]", creates)
	}
}

func TestFaultUntilCleared(t *testing.T) {
	s := newFake(t, Config{})
	chatSvc := newChat(t, s)
	meetSvc := newMeet(t, s)
	ctx := context.Background()

	s.SetFault("*", Fault{Code: http.StatusServiceUnavailable})
	for i := 0; i < 3; i++ {
		_, err := meetSvc.Spaces.Create(&meet.Space{}).Context(ctx).Do()
		wantStatus(t, err, http.StatusServiceUnavailable, "UNAVAILABLE")
	}
	_, err := chatSvc.Spaces.Get("spaces/x").Context(ctx).Do()
	wantStatus(t, err, http.StatusServiceUnavailable, "UNAVAILABLE")
	s.ClearFaults()
	if _, err := meetSvc.Spaces.Create(&meet.Space{}).Context(ctx).Do(); err != nil {
		t.Fatalf("after ClearFaults: %v", err)
	}
	if got := len(s.MeetSpaces()); got != 1 {
		t.Errorf("MeetSpaces() = %d, want 1", got)
	}
}

func TestFaultLatency(t *testing.T) {
	s := newFake(t, Config{})
	svc := newMeet(t, s)
	const delay = 80 * time.Millisecond
	s.SetFault("meet.spaces.create", Fault{Delay: delay})

	start := time.Now()
	if _, err := svc.Spaces.Create(&meet.Space{}).Context(context.Background()).Do(); err != nil {
		t.Fatalf("delayed create: %v", err)
	}
	if got := time.Since(start); got < delay {
		t.Errorf("delayed call took %v, want at least %v", got, delay)
	}

	// The abandoned call: a deadline the request reaches the server
	// within whatever the machine does, a delay well past it.
	s.SetFault("meet.spaces.create", Fault{Delay: 3 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := svc.Spaces.Create(&meet.Space{}).Context(ctx).Do(); err == nil {
		t.Error("call with a 1s deadline against a 3s delay succeeded")
	}
	// Wait for the server to finish the abandoned call, then check it
	// created nothing.
	deadline := time.Now().Add(time.Minute) // a guard against a hang
	for len(s.Requests()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	reqs := s.Requests()
	if len(reqs) != 2 || reqs[1].Status != http.StatusGatewayTimeout {
		t.Fatalf("recorded requests = %+v, want the abandoned call recorded as 504", reqs)
	}
	if got := len(s.MeetSpaces()); got != 1 {
		t.Errorf("MeetSpaces() = %d, want 1 (the abandoned call must not create a space)", got)
	}
}
