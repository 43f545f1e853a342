package googlefake

import (
	"context"
	"regexp"
	"testing"

	"google.golang.org/api/meet/v2"
)

func TestMeetCreateSpace(t *testing.T) {
	s := newFake(t, Config{})
	svc := newMeet(t, s)
	ctx := context.Background()
	code := regexp.MustCompile(`^[a-z]{3}-[a-z]{4}-[a-z]{3}$`)

	tests := []struct {
		name       string
		space      *meet.Space
		wantAccess string
	}{
		{name: "trusted", space: &meet.Space{Config: &meet.SpaceConfig{AccessType: "TRUSTED"}}, wantAccess: "TRUSTED"},
		{name: "restricted", space: &meet.Space{Config: &meet.SpaceConfig{AccessType: "RESTRICTED"}}, wantAccess: "RESTRICTED"},
		{name: "no config takes the default", space: &meet.Space{}, wantAccess: "TRUSTED"},
	}
	seen := make(map[string]bool)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := svc.Spaces.Create(tt.space).Context(ctx).Do()
			if err != nil {
				t.Fatalf("create meet space: %v", err)
			}
			if !code.MatchString(got.MeetingCode) || got.MeetingUri != "https://meet.google.com/"+got.MeetingCode {
				t.Errorf("meetingCode %q, meetingUri %q: want https://meet.google.com/xxx-xxxx-xxx", got.MeetingCode, got.MeetingUri)
			}
			if got.Config == nil || got.Config.AccessType != tt.wantAccess {
				t.Errorf("config = %+v, want accessType %s", got.Config, tt.wantAccess)
			}
			if seen[got.Name] || seen[got.MeetingCode] {
				t.Errorf("space %s / %s reused", got.Name, got.MeetingCode)
			}
			seen[got.Name], seen[got.MeetingCode] = true, true

			byName, err := svc.Spaces.Get(got.Name).Context(ctx).Do()
			if err != nil || byName.MeetingUri != got.MeetingUri {
				t.Errorf("get by name = %+v, %v", byName, err)
			}
			byCode, err := svc.Spaces.Get("spaces/" + got.MeetingCode).Context(ctx).Do()
			if err != nil || byCode.Name != got.Name {
				t.Errorf("get by meeting code = %+v, %v", byCode, err)
			}
		})
	}
	if got := len(s.MeetSpaces()); got != len(tests) {
		t.Errorf("MeetSpaces() has %d spaces, want %d", got, len(tests))
	}
	_, err := svc.Spaces.Get("spaces/missing").Context(ctx).Do()
	wantStatus(t, err, 404, "NOT_FOUND")
}
