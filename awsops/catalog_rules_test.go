package awsops

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

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

func TestDuplicateMember(t *testing.T) {
	for doc, want := range map[string]string{
		`{"Statement":[{"Effect":"Allow","Principal":"*"}]}`:                                     "",
		`{"Statement":[{"Effect":"Allow","Principal":"*"},{"Effect":"Allow","Principal":"*"}]}`:  "", // alike siblings
		`{"Statement":[{"Effect":"Allow","Principal":"*","Principal":{"AWS":"1"}}]}`:             "Principal",
		`{"Statement":[{"Effect":"Allow","Effect":"Deny"}]}`:                                     "Effect",
		`{"Statement":[{"Effect":"Allow","effect":"Deny"}]}`:                                     "effect",
		`{"Statement":[],"Statement":[{"Effect":"Allow"}]}`:                                      "Statement",
		`{"Condition":{"StringEquals":{"aws:PrincipalAccount":"1"},"StringEquals":{"x":"y"}}}`:   "StringEquals",
		`{"Condition":{"StringEquals":{"aws:PrincipalAccount":"1","AWS:PrincipalAccount":"*"}}}`: "AWS:PrincipalAccount",
		`{"Statement":[],"ſtatement":[]}`:                                                        "ſtatement",   // Go's decoder folds ſ to s
		`{"KmsKey":1,"\u212amsKey":2}`:                                                           "\u212amsKey", // and the Kelvin sign to k
		`{"a":{"b":1},"b":{"a":2}}`:                                                              "",            // a name in another object
		`{"a":[{"b":1},{"b":2}],"c":3}`:                                                          "",
		`{"a":"b","b":"a"}`:                                                                      "", // a value is not a name
		`not JSON`:                                                                               "",
		`{"a":1,`:                                                                                "",
	} {
		got, dup := duplicateMember(doc)
		if got != want || dup != (want != "") {
			t.Errorf("duplicateMember(%s) = %q, %v; want %q", doc, got, dup, want)
		}
	}
}

// A statement that names its principal (or its effect, or a condition
// operator) twice is read by Go as the last, and by AWS as it may: a
// policy that reads as the account alone, as a Deny, or as pinned to the
// account by its last member is a door all the same.
func TestPolicyNamingAMemberTwiceIsOpen(t *testing.T) {
	own := func(a string) bool { return a == "123456789012" }
	for _, st := range []string{
		`{"Effect":"Allow","Principal":"*","Principal":{"AWS":"123456789012"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`,
		`{"Effect":"Allow","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`,
		`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:SourceIp":"x"},"StringEquals":{"aws:PrincipalAccount":"123456789012"}}}`,
	} {
		b, _ := json.Marshal(`{"Version":"2012-10-17","Statement":[` + st + `]}`)
		rec := trail.Record{EventSource: "s3.amazonaws.com", EventName: "PutBucketPolicy", RecipientAccountID: "123456789012",
			RequestParameters: json.RawMessage(`{"bucketName":"b","bucketPolicy":` + string(b) + `}`)}
		if !opensToOutside(newEvent(&rec, own)) {
			t.Errorf("a policy with the statement %s does not open to the outside", st)
		}
	}
	// CloudTrail records a bucket policy as an object: the request's text
	// still names the member twice.
	rec := trail.Record{EventSource: "s3.amazonaws.com", EventName: "PutBucketPolicy", RecipientAccountID: "123456789012",
		RequestParameters: json.RawMessage(`{"bucketName":"b","bucketPolicy":{"Version":"2012-10-17","Statement":[` +
			`{"Effect":"Allow","Principal":"*","Principal":{"AWS":"123456789012"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}}`)}
	if !opensToOutside(newEvent(&rec, own)) {
		t.Error("a bucket policy recorded as an object, naming Principal \"*\" then the account, does not open to the outside")
	}
	// A Statement and a ſtatement (which Go's decoder takes for one).
	b, _ := json.Marshal(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*"}],` +
		`"ſtatement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sqs:SendMessage","Resource":"*"}]}`)
	rec = trail.Record{EventSource: "sqs.amazonaws.com", EventName: "SetQueueAttributes", RecipientAccountID: "123456789012",
		RequestParameters: json.RawMessage(`{"queueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/q","attributes":{"Policy":` + string(b) + `}}`)}
	if !opensToOutside(newEvent(&rec, own)) {
		t.Error("a queue policy whose Statement admits anyone and whose ſtatement the account alone does not open to the outside")
	}
	// Named once, as Go reads the first of them, it is the account's alone.
	b, _ = json.Marshal(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`)
	rec = trail.Record{EventSource: "s3.amazonaws.com", EventName: "PutBucketPolicy", RecipientAccountID: "123456789012",
		RequestParameters: json.RawMessage(`{"bucketName":"b","bucketPolicy":` + string(b) + `}`)}
	if opensToOutside(newEvent(&rec, own)) {
		t.Error("a policy for the account alone opens to the outside")
	}
}

// A policy recorded as text (a KMS key policy) that names a member twice
// is not read as the attacker's or the earlier document: which of the two
// AWS applied is not known.
func TestDocumentInSkipsADocumentNamingAMemberTwice(t *testing.T) {
	record := func(policy string) cttypes.Event {
		b, _ := json.Marshal(policy)
		rec := `{"eventVersion":"1.09","eventTime":"2026-11-20T10:00:00Z","eventSource":"kms.amazonaws.com","eventName":"PutKeyPolicy",` +
			`"awsRegion":"us-east-1","requestParameters":{"keyId":"k","policyName":"default","policy":` + string(b) + `},"eventID":"e1"}`
		return cttypes.Event{CloudTrailEvent: &rec}
	}
	once := `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}]}`
	twice := `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Principal":{"AWS":"123456789012"},"Action":"kms:Decrypt","Resource":"*"}]}`
	if doc, _, ok := documentIn(record(once), []string{"policy"}); !ok || doc != once {
		t.Errorf("documentIn of a plain policy = %q, %v; want it as written", doc, ok)
	}
	if doc, _, ok := documentIn(record(twice), []string{"policy"}); ok || doc != "" {
		t.Errorf("documentIn of a policy naming Principal twice = %q, %v; want it not read", doc, ok)
	}
}

// FuzzDuplicateMember checks duplicateMember against what Go's decoder
// keeps: a document names a member twice exactly when it holds more
// members (colons outside strings) than the decoded value, or two names
// of one object differ only in case.
func FuzzDuplicateMember(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":{"B":1,"b":2}}`, `[{"a":1},{"a":1}]`, `{"a":"x:y","b":[1,{"c":":"}]}`, `{"\u0061":1,"a":2}`, `{`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		name, dup := duplicateMember(doc)
		var v any
		if json.Unmarshal([]byte(doc), &v) != nil {
			return
		}
		if dup && name == "" && !strings.Contains(doc, `""`) && !strings.Contains(doc, `\`) {
			t.Errorf("duplicateMember(%q) names no member", doc)
		}
		colons, inString, escaped := 0, false, false
		for _, c := range []byte(doc) {
			switch {
			case escaped:
				escaped = false
			case inString && c == '\\':
				escaped = true
			case c == '"':
				inString = !inString
			case !inString && c == ':':
				colons++
			}
		}
		members, caseDup := 0, false
		var walk func(any)
		walk = func(x any) {
			switch x := x.(type) {
			case map[string]any:
				var seen []string
				for k, e := range x {
					members++
					caseDup = caseDup || slices.ContainsFunc(seen, func(s string) bool { return strings.EqualFold(s, k) })
					seen = append(seen, k)
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			}
		}
		walk(v)
		if want := colons > members || caseDup; dup != want {
			t.Errorf("duplicateMember(%q) = %q, %v; the document has %d members, the decoded value %d (names alike but for case: %v)", doc, name, dup, colons, members, caseDup)
		}
	})
}
