package world

import (
	"fmt"
	"testing"
	"time"
)

func TestRunLookupAttributes(t *testing.T) {
	store := newEventStore()
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	add := func(i int, name, source string, readOnly bool, res []resource) *storedEvent {
		rec := Record{EventName: name, EventSource: source, ReadOnly: readOnly, EventID: name + "-id",
			ManagementEvent: true, RecipientAccountID: DefaultAccount, AWSRegion: "us-east-1",
			UserIdentity: UserIdentity{AccessKeyID: "AKIA" + name}}
		e := newStoredEvent(rec, base.Add(time.Duration(i)*time.Minute), "user-"+name, res)
		store.add(e)
		return e
	}
	add(-91*24*60, "CreateAccessKey", "iam.amazonaws.com", false, nil) // older than 90 days: not seen
	add(0, "CreateUser", "iam.amazonaws.com", false, []resource{{ARN: "arn:aws:iam::123456789012:user/backdoor", Type: "AWS::IAM::User", Name: "backdoor"}})
	add(1, "ListBuckets", "s3.amazonaws.com", true, nil)
	add(2, "RunInstances", "ec2.amazonaws.com", false, []resource{{Type: "AWS::EC2::Instance", Name: "i-1"}})
	data := Record{EventName: "GetObject", ManagementEvent: false, RecipientAccountID: DefaultAccount, AWSRegion: "us-east-1"}
	store.add(newStoredEvent(data, base, "x", nil))
	other := Record{EventName: "ListBuckets", ManagementEvent: true, RecipientAccountID: DefaultAccount, AWSRegion: "eu-west-1"}
	store.add(newStoredEvent(other, base, "x", nil))

	tests := []struct {
		name      string
		key, val  string
		wantNames []string
		wantCode  string
	}{
		{"all, newest first", "", "", []string{"RunInstances", "ListBuckets", "CreateUser"}, ""},
		{"event id", "EventId", "ListBuckets-id", []string{"ListBuckets"}, ""},
		{"read only", "ReadOnly", "true", []string{"ListBuckets"}, ""},
		{"resource name", "ResourceName", "backdoor", []string{"CreateUser"}, ""},
		{"resource type", "ResourceType", "AWS::EC2::Instance", []string{"RunInstances"}, ""},
		{"event source", "EventSource", "ec2.amazonaws.com", []string{"RunInstances"}, ""},
		{"username", "Username", "user-CreateUser", []string{"CreateUser"}, ""},
		{"access key", "AccessKeyId", "AKIARunInstances", []string{"RunInstances"}, ""},
		{"unknown key", "Color", "red", nil, "InvalidLookupAttributesException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req lookupRequest
			if tt.key != "" {
				req.LookupAttributes = append(req.LookupAttributes, struct {
					AttributeKey   string `json:"AttributeKey"`
					AttributeValue string `json:"AttributeValue"`
				}{tt.key, tt.val})
			}
			page, bad := runLookup(store, DefaultAccount, "us-east-1", req, base.Add(time.Hour))
			if bad != nil {
				if bad.Code != tt.wantCode {
					t.Fatalf("error = %s, want %q", bad.Code, tt.wantCode)
				}
				return
			}
			var got []string
			for _, e := range page.Events {
				got = append(got, e.EventName)
			}
			if len(got) != len(tt.wantNames) {
				t.Fatalf("events = %v, want %v", got, tt.wantNames)
			}
			for i := range got {
				if got[i] != tt.wantNames[i] {
					t.Fatalf("events = %v, want %v", got, tt.wantNames)
				}
			}
		})
	}
}

func TestRunLookupInvalidInput(t *testing.T) {
	store := newEventStore()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	fiftyOne := 51
	tests := []struct {
		name string
		req  lookupRequest
		want string
	}{
		{"max results over 50", lookupRequest{MaxResults: &fiftyOne}, "InvalidMaxResultsException"},
		{"foreign token", lookupRequest{NextToken: "bm90LWEtdG9rZW4"}, "InvalidNextTokenException"},
		{"start after end", lookupRequest{StartTime: ptr(200.0), EndTime: ptr(100.0)}, "InvalidTimeRangeException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, bad := runLookup(store, DefaultAccount, "us-east-1", tt.req, now)
			if bad == nil || bad.Code != tt.want {
				t.Fatalf("error = %+v, want %s", bad, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestThrottleModes: the two ways of counting 2 calls a second, on a clock the test
// moves. A token bucket of burst 2 lets two calls through at once and refills; a sliding
// window admits a third call only when the first has left the last second.
func TestThrottleModes(t *testing.T) {
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return base.Add(time.Duration(n) * time.Millisecond) }
	tests := []struct {
		mode  Throttle
		burst float64
		at    []time.Time
		want  []bool
	}{
		{TokenBucket, 2, []time.Time{ms(0), ms(0), ms(0), ms(500), ms(600), ms(1100)}, []bool{true, true, false, true, false, true}},
		{TokenBucket, 1, []time.Time{ms(0), ms(499), ms(500), ms(999), ms(1000)}, []bool{true, false, true, false, true}},
		{SlidingWindow, 2, []time.Time{ms(0), ms(10), ms(500), ms(999), ms(1000), ms(1009), ms(1010)}, []bool{true, true, false, false, true, false, true}},
		{SlidingWindow, 2, []time.Time{ms(0), ms(500), ms(990), ms(1000), ms(1499), ms(1500)}, []bool{true, true, false, true, false, true}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s burst %g", tt.mode, tt.burst), func(t *testing.T) {
			now := base
			l := newRateLimiter(2, tt.burst, func() time.Time { return now })
			l.setMode(tt.mode)
			for i, at := range tt.at {
				now = at
				if got := l.allow("123456789012/eu-west-1"); got != tt.want[i] {
					t.Errorf("call %d at +%s: allowed %v, want %v", i, at.Sub(base), got, tt.want[i])
				}
			}
		})
	}
}
