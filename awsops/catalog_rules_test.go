package awsops

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/keyleak/keyleak/awsops/trail"
)

// TestPolicyDocumentsFoundHoweverWritten: a resource policy in a request
// is found under each name that holds one, also when CloudTrail's JSON
// escapes the name, and a request without one yields none.
func TestPolicyDocumentsFoundHoweverWritten(t *testing.T) {
	for _, k := range policyParams {
		if !strings.Contains(k, "olicy") {
			t.Errorf("policy parameter %q does not hold \"olicy\", which policyDocuments looks for first", k)
		}
	}
	doc := `{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"sqs:*\"}]}`
	for _, params := range []string{
		`{"queueUrl":"q","attributes":{"Policy":"` + doc + `"}}`,
		`{"bucketName":"b","bucketPolicy":"` + doc + `"}`,
		`{"secretId":"s","resourcePolicy":"` + doc + `"}`,
		`{"bucketName":"b","bucketP\u006flicy":"` + doc + `"}`,
	} {
		rec := trail.Record{EventSource: "s3.amazonaws.com", EventName: "PutBucketPolicy", RequestParameters: json.RawMessage(params)}
		if got := newEvent(&rec, noAccounts).policyDocuments(); len(got) != 1 || !strings.Contains(got[0], `"Principal":"*"`) {
			t.Errorf("policyDocuments(%s) = %q, want the document", params, got)
		}
	}
	rec := trail.Record{EventSource: "s3.amazonaws.com", EventName: "PutObject", RequestParameters: json.RawMessage(`{"bucketName":"b","key":"k"}`)}
	if got := newEvent(&rec, noAccounts).policyDocuments(); got != nil {
		t.Errorf("policyDocuments of a request without a policy = %q", got)
	}
}

// TestResponseItemsReadAlikeEitherWay: the instance IDs of a RunInstances
// response are the same read alone or from the whole response parsed
// before, names compared without case; a response of another shape has
// none.
func TestResponseItemsReadAlikeEitherWay(t *testing.T) {
	resp := `{"requestId":"r","instancesSet":{"items":[{"instanceId":"i-1","networkInterfaceSet":{"items":[{"attachment":{"instanceId":"i-nested"}}]}},` +
		`{"InstanceId":"i-2"},{"instanceId":""},{"imageId":"ami-1"}]}}`
	for _, parsed := range []bool{false, true} {
		rec := trail.Record{EventSource: "ec2.amazonaws.com", EventName: "RunInstances", ResponseElements: json.RawMessage(resp)}
		e := newEvent(&rec, noAccounts)
		if parsed {
			e.response()
		}
		if got := e.responseItems("instancesSet", "instanceId"); !slices.Equal(got, []string{"i-1", "i-2"}) {
			t.Errorf("parsed before %v: items %q, want i-1 and i-2", parsed, got)
		}
	}
	for _, resp := range []string{`{"instancesSet":{"items":{"instanceId":"i-1"}}}`, `{"instancesSet":null}`, `[]`, `null`, `{"instancesSet":{"items":[1,"x"]}}`} {
		rec := trail.Record{EventSource: "ec2.amazonaws.com", EventName: "RunInstances", ResponseElements: json.RawMessage(resp)}
		if got := newEvent(&rec, noAccounts).responseItems("instancesSet", "instanceId"); got != nil {
			t.Errorf("items of %s = %q, want none", resp, got)
		}
	}
}

// TestOrganisationConditionPinsInside: a bucket policy that admits anyone
// on condition that the caller is of one of the organisation's IDs (or
// in a path under it) admits no one outside; naming another organisation,
// a wildcard, or the condition as IfExists or ForAllValues (true for a
// request without the key), it does.
func TestOrganisationConditionPinsInside(t *testing.T) {
	own := func(a string) bool { return a == "123456789012" || a == "o-a1b2c3d4e5" }
	policy := func(cond string) string {
		doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":` + cond + `}]}`
		b, _ := json.Marshal(doc)
		return `{"bucketName":"b","bucketPolicy":` + string(b) + `}`
	}
	for cond, open := range map[string]bool{
		`{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`:                                      false,
		`{"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":["o-a1b2c3d4e5/r-ab12/ou-ab12-1111/*"]}}`: false,
		`{"StringEquals":{"aws:PrincipalOrgID":"o-zzzzzzzzzz"}}`:                                      true,
		`{"StringEquals":{"aws:PrincipalOrgID":["o-a1b2c3d4e5","o-zzzzzzzzzz"]}}`:                     true,
		`{"StringLike":{"aws:PrincipalOrgID":"o-*"}}`:                                                 true,
		`{"ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":["*/r-ab12/*"]}}`:                         true,
		`{"StringEqualsIfExists":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`:                              true,
		// true for a caller of no organisation, whose request has no such key
		`{"ForAllValues:StringLike":{"aws:PrincipalOrgPaths":["o-a1b2c3d4e5/*"]}}`: true,
		`{"ForAllValues:StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}`:      true,
	} {
		rec := trail.Record{EventSource: "s3.amazonaws.com", EventName: "PutBucketPolicy", RecipientAccountID: "123456789012",
			RequestParameters: json.RawMessage(policy(cond))}
		if got := opensToOutside(newEvent(&rec, own)); got != open {
			t.Errorf("a policy for anyone on %s opens to the outside = %v, want %v", cond, got, open)
		}
	}
}
