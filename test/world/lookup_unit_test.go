package world

import (
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
			_, bad := runLookup(store, DefaultAccount, "us-east-1", tt.req, time.Now())
			if bad == nil || bad.Code != tt.want {
				t.Fatalf("error = %+v, want %s", bad, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
