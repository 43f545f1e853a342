package awsops

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

func aclRecord(name, params string) cttypes.Event {
	return cttypes.Event{EventName: aws.String(name), CloudTrailEvent: aws.String(`{"eventVersion":"1.09","eventSource":"s3.amazonaws.com","eventName":"` +
		name + `","requestParameters":` + params + `}`)}
}

// TestPublicGrantsIn: the grants to everyone an ACL request makes, as
// CloudTrail records each way of asking for them: a canned ACL, grant
// headers naming several grantees, an ACL body with one grant or many,
// any case; grants to accounts and the log delivery group are not doors.
func TestPublicGrantsIn(t *testing.T) {
	const all, authed = "http://acs.amazonaws.com/groups/global/AllUsers", "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
	for _, c := range []struct {
		name, params string
		want         []string
		ok           bool
	}{
		{"canned", `{"bucketName":"b","x-amz-acl":["public-read-write"]}`, []string{"AllUsers:READ", "AllUsers:WRITE"}, true},
		{"canned authenticated", `{"bucketName":"b","x-amz-acl":["Authenticated-Read"]}`, []string{"AuthenticatedUsers:READ"}, true},
		{"canned private", `{"bucketName":"b","x-amz-acl":["private"]}`, nil, true},
		{"log delivery", `{"bucketName":"b","x-amz-acl":["log-delivery-write"]}`, nil, true},
		{"headers", `{"bucketName":"b","x-amz-grant-read":["id=\"abc\", uri=\"` + strings.ReplaceAll(all, "/", `\/`) + `\""],"x-amz-grant-write-acp":["URI=\"` + authed + `\""]}`,
			[]string{"AllUsers:READ", "AuthenticatedUsers:WRITE_ACP"}, true},
		{"body of one grant", `{"bucketName":"b","AccessControlPolicy":{"AccessControlList":{"Grant":{"Grantee":{"URI":"` + all + `"},"Permission":"FULL_CONTROL"}},"Owner":{"ID":"o"}}}`,
			[]string{"AllUsers:FULL_CONTROL"}, true},
		{"body of many", `{"bucketName":"b","accessControlPolicy":{"AccessControlList":{"Grant":[{"Grantee":{"ID":"o"},"Permission":"FULL_CONTROL"},` +
			`{"Grantee":{"URI":"` + authed + `"},"Permission":"read"},{"Grantee":{"URI":"http://acs.amazonaws.com/groups/s3/LogDelivery"},"Permission":"WRITE"}]}}}`,
			[]string{"AuthenticatedUsers:READ"}, true},
		{"headers as CloudTrail nests them", `{"bucketName":"b","acl":"","accessControlList":{"x-amz-grant-read":"uri=http://acs.amazonaws.com/groups/global/AllUsers"}}`,
			[]string{"AllUsers:READ"}, true},
		{"a private header grant", `{"bucketName":"b","acl":"","accessControlList":{"x-amz-grant-full-control":"id=\"abc\""}}`, nil, true},
		{"canned, nested", `{"bucketName":"b","accessControlList":{"x-amz-acl":"public-read"}}`, []string{"AllUsers:READ"}, true},
		{"nothing shown", `{"bucketName":"b","acl":""}`, nil, false},
	} {
		got, v := aclEvent(aclRecord("PutBucketAcl", c.params))
		if (v == wrote) != c.ok || !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, %v; want %v, %v", c.name, got, v, c.want, c.ok)
		}
	}
	if got, v := aclEvent(aclRecord("CreateBucket", `{"bucketName":"b"}`)); v != wrote || len(got) != 0 {
		t.Errorf("a bucket created without an ACL: got %v, %v; want private, known", got, v)
	}
	if got, v := aclEvent(aclRecord("CreateBucket", `{"bucketName":"b","accessControlList":{"x-amz-grant-read":"uri=http://acs.amazonaws.com/groups/global/AllUsers"}}`)); v != wrote || !slices.Equal(got, []string{"AllUsers:READ"}) {
		t.Errorf("a bucket created with a public header grant: got %v, %v; want AllUsers:READ", got, v)
	}
	refused := cttypes.Event{EventName: aws.String("PutBucketAcl"), CloudTrailEvent: aws.String(`{"eventName":"PutBucketAcl","errorCode":"AccessDenied","requestParameters":{"x-amz-acl":["public-read"]}}`)}
	if _, v := aclEvent(refused); v != notAWrite {
		t.Error("a refused PutBucketAcl counted as a write")
	}
	if _, v := aclEvent(aclRecord("PutBucketPolicy", `{"x-amz-acl":["public-read"]}`)); v != notAWrite {
		t.Error("another call counted as an ACL write")
	}
	if _, v := aclEvent(aclRecord("PutBucketAcl", `{"bucketName":"b","acl":""}`)); v != unreadable {
		t.Error("an ACL write CloudTrail does not show counted as known")
	}
}

// TestACLAdded: what closing drops is what the attacker's request added
// to the ACL before it; without that ACL, what the request made; without
// the request, every public grant (nil), each with its warning.
func TestACLAdded(t *testing.T) {
	request := aclRecord("PutBucketAcl", `{"x-amz-acl":["public-read-write"]}`)
	before := func(g []string, known bool) func() ([]string, earlierFound) {
		return func() ([]string, earlierFound) {
			return g, earlierFound{known: known, from: "PutBucketAcl by arn:aws:iam::123456789012:root at 2026-11-20T09:00:00Z"}
		}
	}
	for _, c := range []struct {
		name     string
		requests []cttypes.Event
		earlier  func() ([]string, earlierFound)
		want     []string
		note     string
	}{
		{"the owner had read", []cttypes.Event{request}, before([]string{"AllUsers:READ"}, true), []string{"AllUsers:WRITE"}, "told from the ACL before it"},
		{"it was private", []cttypes.Event{request}, before(nil, true), []string{"AllUsers:READ", "AllUsers:WRITE"}, "told from the ACL before it"},
		{"it added nothing", []cttypes.Event{request}, before([]string{"AllUsers:READ", "AllUsers:WRITE"}, true), []string{}, "told from the ACL before it"},
		{"no earlier write", []cttypes.Event{request}, before(nil, false), []string{"AllUsers:READ", "AllUsers:WRITE"}, "CHECK FIRST: CloudTrail holds no earlier write"},
		{"its earlier write listed after", []cttypes.Event{aclRecord("PutBucketAcl", `{"x-amz-acl":["authenticated-read"]}`), request},
			before(nil, true), []string{"AllUsers:READ", "AllUsers:WRITE", "AuthenticatedUsers:READ"}, "told from the ACL before it"},
		{"request gone", nil, nil, nil, "CHECK FIRST: CloudTrail no longer shows"},
		{"request unreadable", []cttypes.Event{aclRecord("PutBucketAcl", `{"acl":""}`)}, nil, nil, "CHECK FIRST: CloudTrail does not show"},
	} {
		got, note := aclAdded(c.requests, c.earlier)
		if !slices.Equal(got, c.want) || (got == nil) != (c.want == nil) || !strings.Contains(note, c.note) {
			t.Errorf("%s: got %#v (%q); want %#v (%q)", c.name, got, note, c.want, c.note)
		}
	}
}
