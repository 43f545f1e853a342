package awsops

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/keyleak/keyleak/awsops/trail"

	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// chainRecords reads a real-shaped chain: a user assumes eks-node-role,
// that session assumes a role in another account, which runs instances.
func chainRecords(tb testing.TB) []trail.Record {
	tb.Helper()
	b, err := os.ReadFile("testdata/assumerole-chain.json")
	if err != nil {
		tb.Fatal(err)
	}
	var doc struct{ Records []trail.Record }
	if err := json.Unmarshal(b, &doc); err != nil {
		tb.Fatal(err)
	}
	return doc.Records
}

func TestTrackerFollowsTheChain(t *testing.T) {
	recs := chainRecords(t)
	tr := newTracker(Session{AccessKeyID: "AKIAYVP4CIPPERUVIFXG", Account: "111122223333"})
	var derived []Session
	tr.setOnDerived(func(_ context.Context, s Session) { derived = append(derived, s) })
	for _, key := range []string{"AKIAYVP4CIPPERUVIFXG", "ASIAYVP4CIPPAAAAAAAA", "ASIAYVP4CIPPBBBBBBBB"} {
		for i := range recs {
			if recs[i].UserIdentity.AccessKeyID == key {
				tr.add(t.Context(), key, &recs[i])
				tr.add(t.Context(), key, &recs[i]) // seen twice (overlapping slices): counted once
			}
		}
	}
	if len(derived) != 2 {
		t.Fatalf("derived = %+v, want two sessions", derived)
	}
	first, second := derived[0], derived[1]
	wantExpires, _ := time.Parse(time.RFC3339, "2026-11-22T22:45:00Z")
	if first.AccessKeyID != "ASIAYVP4CIPPAAAAAAAA" || first.RoleARN != "arn:aws:iam::111122223333:role/eks-node-role" ||
		first.SessionName != "botocore-session-1" || !first.Expires.Equal(wantExpires) || first.Depth != 1 ||
		first.Principal != "arn:aws:sts::111122223333:assumed-role/eks-node-role/botocore-session-1" {
		t.Errorf("first hop = %+v", first)
	}
	if second.ParentAccessKeyID != first.AccessKeyID || second.Account != "444455556666" || second.Depth != 2 || second.SourceIdentity != "mallory" {
		t.Errorf("second hop = %+v, want a depth-2 session in 444455556666 from %s with source identity mallory", second, first.AccessKeyID)
	}
	sessions := tr.sessions()
	if got := sessions[0].Activity.Events + sessions[1].Activity.Events + sessions[2].Activity.Events; got != 3 {
		t.Errorf("events = %d, want 3 (duplicates dropped)", got)
	}
	if len(tr.created) != 2 || tr.created[0].ID != "i-0abc" || tr.created[0].Region != "ap-southeast-1" || tr.created[0].Account != "444455556666" {
		t.Errorf("created = %+v, want the two instances in ap-southeast-1 of 444455556666", tr.created)
	}
	flagged, _, _ := tr.finishSources()
	var names []string
	for _, f := range flagged {
		names = append(names, f.EventName)
	}
	if !slices.Equal(names, []string{"AssumeRole", "AssumeRole", "RunInstances"}) {
		t.Errorf("flagged = %v, want both AssumeRole calls and RunInstances", names)
	}
}

func TestCategorize(t *testing.T) {
	tests := []struct {
		name   string
		rec    trail.Record
		wantCa Category
	}{
		{"backdoor user", trail.Record{EventSource: "iam.amazonaws.com", EventName: "CreateUser", ManagementEvent: true}, CategoryIAMPersistence},
		{"policy", trail.Record{EventSource: "iam.amazonaws.com", EventName: "PutRolePolicy", ManagementEvent: true}, CategoryIAMPersistence},
		{"iam read", trail.Record{EventSource: "iam.amazonaws.com", EventName: "ListRoles", ManagementEvent: true}, CategoryRecon},
		{"mint", trail.Record{EventSource: "sts.amazonaws.com", EventName: "GetFederationToken", ManagementEvent: true}, CategoryCredentialMinting},
		{"spot", trail.Record{EventSource: "ec2.amazonaws.com", EventName: "RequestSpotInstances", ManagementEvent: true}, CategoryComputeAbuse},
		{"lambda", trail.Record{EventSource: "lambda.amazonaws.com", EventName: "CreateFunction20150331", ManagementEvent: true}, CategoryComputeAbuse},
		{"evasion", trail.Record{EventSource: "cloudtrail.amazonaws.com", EventName: "StopLogging", ManagementEvent: true}, CategoryDefenseEvasion},
		{"object read", trail.Record{EventSource: "s3.amazonaws.com", EventName: "GetObject", EventCategory: "Data"}, CategoryDataAccess},
		{"secret", trail.Record{EventSource: "secretsmanager.amazonaws.com", EventName: "GetSecretValue", ManagementEvent: true}, CategoryCredentialAccess},
		{"whoami", trail.Record{EventSource: "sts.amazonaws.com", EventName: "GetCallerIdentity", ManagementEvent: true}, CategoryRecon},
		{"destruction attempted", trail.Record{EventSource: "rds.amazonaws.com", EventName: "DeleteDBInstance", ErrorCode: "AccessDenied", ManagementEvent: true}, CategoryImpact},
		{"probe", trail.Record{EventSource: "rds.amazonaws.com", EventName: "ModifyDBParameterGroup", ErrorCode: "AccessDenied", ManagementEvent: true}, CategoryErrors},
		{"lambda permission for anyone", trail.Record{EventSource: "lambda.amazonaws.com", EventName: "AddPermission20150331v2", ManagementEvent: true,
			RequestParameters: []byte(`{"principal":"*","functionName":"f"}`)}, CategoryExfiltration},
		{"role trust changed", trail.Record{EventSource: "iam.amazonaws.com", EventName: "UpdateAssumeRolePolicy", ManagementEvent: true}, CategoryIAMPersistence},
		{"command on an instance", trail.Record{EventSource: "ssm.amazonaws.com", EventName: "SendCommand", ManagementEvent: true}, CategoryExecution},
		{"password data", trail.Record{EventSource: "ec2.amazonaws.com", EventName: "GetPasswordData", ManagementEvent: true}, CategoryCredentialAccess},
		{"other", trail.Record{EventSource: "sqs.amazonaws.com", EventName: "SendMessage", ManagementEvent: true}, CategoryOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := categorize(&tt.rec); got != tt.wantCa {
				t.Errorf("categorize(%s:%s) = %s, want %s", tt.rec.EventSource, tt.rec.EventName, got, tt.wantCa)
			}
		})
	}
}

func TestTallyKeepsBoundedDistinctValues(t *testing.T) {
	tl := newTally()
	for i := range maxDistinct + 500 {
		tl.add(&trail.Record{EventName: "X", SourceIPAddress: "10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)}, CategoryRecon)
	}
	a := tl.activity()
	if len(a.SourceIPs) != maxDistinct+1 || a.SourceIPs[0].Name != OtherName || a.SourceIPs[0].Count != 500 {
		t.Errorf("source IPs: %d kept, first %+v; want %d and (other)×500", len(a.SourceIPs), a.SourceIPs[0], maxDistinct+1)
	}
}

func FuzzParseExpiration(f *testing.F) {
	f.Add("Nov 22, 2026, 10:45:00 PM")
	f.Add("2026-11-22T22:45:00Z")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		got := parseExpiration(s)
		if !got.IsZero() && got.Location() != time.UTC {
			t.Errorf("parseExpiration(%q) = %v, not UTC", s, got)
		}
	})
}

func FuzzMintedSession(f *testing.F) {
	f.Add(`{"roleArn":"arn:aws:iam::1:role/r","roleSessionName":"s"}`, `{"credentials":{"accessKeyId":"ASIA","expiration":"Nov 22, 2026, 10:45:00 PM"}}`)
	f.Add(`[]`, `null`)
	f.Fuzz(func(t *testing.T, req, resp string) {
		rec := trail.Record{EventName: "AssumeRole", RequestParameters: json.RawMessage(req), ResponseElements: json.RawMessage(resp), EventTime: time.Unix(0, 0)}
		s := mintedSession(newEvent(&rec, nil), Session{AccessKeyID: "AKIA", Depth: 0}, "ASIAX")
		if s.Depth != 1 || s.ParentAccessKeyID != "AKIA" || s.Expires.IsZero() {
			t.Errorf("mintedSession = %+v", s)
		}
	})
}

// BenchmarkMillionEventSweepMemory feeds a million LookupEvents events
// (pages of 50, as the sweep receives them) through the aggregation and
// reports the peak heap. The budget is 200 MB. Run with -benchtime=1x.
func BenchmarkMillionEventSweepMemory(b *testing.B) {
	const events = 1_000_000
	const tmpl = `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/ci-deploy-user","accountId":"111122223333","accessKeyId":"AKIAYVP4CIPPERUVIFXG","userName":"ci-deploy-user"},"eventTime":"%s","eventSource":"%s","eventName":"%s","awsRegion":"us-east-1","sourceIPAddress":"203.0.%d.%d","userAgent":"aws-cli/2.15.%d","requestParameters":{"bucketName":"b"},"responseElements":null,"requestID":"%d","eventID":"%08d-0000-4000-8000-000000000000","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`
	names := [][2]string{{"sts.amazonaws.com", "GetCallerIdentity"}, {"ec2.amazonaws.com", "DescribeInstances"}, {"s3.amazonaws.com", "ListBuckets"}, {"iam.amazonaws.com", "CreateUser"}}
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for range b.N {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		tr := newTracker(Session{AccessKeyID: "AKIAYVP4CIPPERUVIFXG"})
		task := sweepTask{attr: cttypes.LookupAttributeKeyAccessKeyId, value: "AKIAYVP4CIPPERUVIFXG"}
		page := make([]cttypes.Event, 50)
		var peak uint64
		for i := 0; i < events; i += len(page) {
			for j := range page {
				n := i + j
				nm := names[n%len(names)]
				s := fmt.Sprintf(tmpl, base.Add(time.Duration(n)*time.Second).Format(time.RFC3339), nm[0], nm[1], n%200, n%250, n%40, n, n)
				page[j] = cttypes.Event{CloudTrailEvent: &s}
			}
			tr.page(b.Context(), task, page)
			if i%50_000 == 0 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc-before)
			}
		}
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc-before)
		if got := tr.sessions()[0].Activity.Events; got != events {
			b.Fatalf("events = %d, want %d", got, events)
		}
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		runtime.GC()
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc-before)/(1<<20), "retained-MB")
		if peak > 200<<20 {
			b.Errorf("peak heap %d MB, budget 200 MB", peak>>20)
		}
		runtime.KeepAlive(tr)
	}
}

// TestMintedSessionReadsAsUnmarshal: the fields of a minted session are
// read as json.Unmarshal into a struct of strings reads them, for the
// shapes of STS calls CloudTrail writes, and when a number elsewhere in
// the response is out of range (which spoils only itself).
func TestMintedSessionReadsAsUnmarshal(t *testing.T) {
	reference := func(req, resp string) (roleARN, name, source, principal, expiration string) {
		var rq struct{ RoleArn, RoleSessionName, SourceIdentity, Name string }
		_ = json.Unmarshal([]byte(req), &rq)
		var rs struct {
			Credentials     struct{ Expiration string }
			AssumedRoleUser struct{ Arn string }
			FederatedUser   struct{ Arn string }
			SourceIdentity  string
		}
		_ = json.Unmarshal([]byte(resp), &rs)
		return rq.RoleArn, cmp.Or(rq.RoleSessionName, rq.Name), cmp.Or(rs.SourceIdentity, rq.SourceIdentity),
			cmp.Or(rs.AssumedRoleUser.Arn, rs.FederatedUser.Arn), rs.Credentials.Expiration
	}
	for _, tc := range []struct{ name, req, resp string }{
		{"AssumeRole", `{"roleArn":"arn:aws:iam::222233334444:role/deploy","roleSessionName":"ci","durationSeconds":3600}`,
			`{"credentials":{"accessKeyId":"ASIAX","sessionToken":"t","expiration":"Nov 22, 2026, 10:45:00 PM"},"assumedRoleUser":{"assumedRoleId":"AROA:ci","arn":"arn:aws:sts::222233334444:assumed-role/deploy/ci"},"packedPolicySize":7}`},
		{"a number out of range", `{"roleArn":"arn:aws:iam::222233334444:role/deploy","roleSessionName":"ci"}`,
			`{"credentials":{"accessKeyId":"ASIAX","expiration":"Nov 22, 2026, 10:45:00 PM"},"assumedRoleUser":{"arn":"arn:aws:sts::222233334444:assumed-role/deploy/ci"},"packedPolicySize":1e400,"sourceIdentity":"alice"}`},
		{"GetFederationToken", `{"name":"fed","policy":"{}"}`,
			`{"credentials":{"accessKeyId":"ASIAX","expiration":"2026-11-22T22:45:00Z"},"federatedUser":{"federatedUserId":"1:fed","arn":"arn:aws:sts::1:federated-user/fed"}}`},
		{"AssumeRoleWithWebIdentity", `{"roleArn":"arn:aws:iam::1:role/web","roleSessionName":"w","sourceIdentity":"bob"}`,
			`{"credentials":{"accessKeyId":"ASIAX","expiration":"Nov 22, 2026, 10:45:00 PM"},"assumedRoleUser":{"arn":"arn:aws:sts::1:assumed-role/web/w"}}`},
		{"a field of another type", `{"roleArn":42,"roleSessionName":"s"}`, `{"credentials":"none","assumedRoleUser":{"arn":"a"}}`},
	} {
		rec := trail.Record{EventName: "AssumeRole", RequestParameters: json.RawMessage(tc.req), ResponseElements: json.RawMessage(tc.resp), EventTime: time.Unix(0, 0).UTC()}
		s := mintedSession(newEvent(&rec, nil), Session{AccessKeyID: "AKIA"}, "ASIAX")
		roleARN, name, source, principal, expiration := reference(tc.req, tc.resp)
		want := parseExpiration(expiration)
		if want.IsZero() {
			want = rec.EventTime.Add(36 * time.Hour)
		}
		if s.RoleARN != roleARN || s.SessionName != name || s.SourceIdentity != source || s.Principal != principal || !s.Expires.Equal(want) {
			t.Errorf("%s: mintedSession = role %q, session %q, source %q, principal %q, expires %v; json.Unmarshal reads %q, %q, %q, %q, %v",
				tc.name, s.RoleARN, s.SessionName, s.SourceIdentity, s.Principal, s.Expires, roleARN, name, source, principal, want)
		}
	}
}

// OwnersBranches takes a baseline node and the nodes below it, by ID or,
// in documents stored before nodes had IDs, by key, as long as each was
// minted from the owner's usual place (a baseline source, or AWS itself);
// a node minted elsewhere (the attacker through the owner's door) is not
// the owner's, nor is anything below it. A loop in a document ends.
func TestOwnersBranches(t *testing.T) {
	const usual, theirs = "203.0.113.10", "198.51.100.7"
	inv := Investigation{Sources: []Source{{Network: "203.0.113.0/24", Baseline: true}, {Network: "198.51.100.0/24", Attacker: true}},
		Sessions: []Session{
			{ID: "AKIAROOT"},
			{ID: "AKIAOWNER", ParentID: "AKIAROOT", Baseline: true},
			{AccessKeyID: "ASIAOWNERS1", ParentAccessKeyID: "AKIAOWNER", SourceIP: usual},
			{ID: "ASIAOWNERS2", ParentID: "ASIAOWNERS1", SourceIP: "ec2.amazonaws.com"},
			{ID: "ASIABYTHEM", ParentID: "ASIAOWNERS1", SourceIP: theirs},
			{ID: "ASIABELOWTHEM", ParentID: "ASIABYTHEM", SourceIP: usual},
			{ID: "ASIATHEIRDOOR", ParentID: "AKIAROOT", Baseline: true, SourceIP: theirs},
			{ID: "ASIATTACKER", ParentID: "AKIAROOT", SourceIP: theirs},
			{ID: "ASIALOOP1", ParentID: "ASIALOOP2"},
			{ID: "ASIALOOP2", ParentID: "ASIALOOP1"},
		}}
	got := inv.OwnersBranches()
	want := map[string]bool{"AKIAOWNER": true, "ASIAOWNERS1": true, "ASIAOWNERS2": true}
	if !maps.Equal(got, want) {
		t.Errorf("OwnersBranches = %v, want %v", got, want)
	}
}
