package awsops_test

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// dropFilesBefore removes from the trail bucket every log file whose
// name's stamp is before cutoff: a trail created at cutoff (or a
// lifecycle rule that expired everything older).
func (rc roundCase) dropFilesBefore(t *testing.T, cutoff time.Time) int {
	t.Helper()
	client, bucket := rvClient(rc), rc.w.Gateway.TrailBucket()
	n := 0
	eachLogFile(t, client, bucket, "", func(key *string) {
		k := aws.ToString(key)
		i := strings.Index(k, "_CloudTrail_")
		if i < 0 {
			return
		}
		rest := k[i+len("_CloudTrail_"):]
		parts := strings.Split(rest, "_")
		if len(parts) < 2 {
			return
		}
		stamp, err := time.Parse("20060102T1504Z", parts[1])
		if err != nil || !stamp.Before(cutoff) {
			return
		}
		if _, err := client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: key}); err != nil {
			t.Fatal(err)
		}
		n++
	})
	return n
}

// TestTrailCreatedMidWindowIsLookedUpBefore: the trail (or its
// retention) begins 20 minutes into the attack. The leaked key created a
// backdoor user in eu-west-1 before that; eu-west-1 has later log files,
// but none delivered before the window: the span before its first file
// is read through LookupEvents, which finds the CreateUser, and the plan
// says so.
func TestTrailCreatedMidWindowIsLookedUpBefore(t *testing.T) {
	rc := newRoundCase(t)
	rvReplay(t, rc,
		rc.record(false, 0, "iam", "CreateUser", "eu-west-1", `{"userName":"backdoor"}`, `{"user":{"userName":"backdoor"}}`, "early", false),
		rc.record(false, 30*time.Minute, "iam", "ListUsers", "us-east-1", "null", "null", "u1", false),
		rc.record(false, 31*time.Minute, "iam", "ListRoles", "us-east-1", "null", "null", "u2", false),
		rc.record(false, 32*time.Minute, "iam", "ListGroups", "us-east-1", "null", "null", "u3", false),
		rc.record(false, 40*time.Minute, "s3", "ListBuckets", "eu-west-1", "null", "null", "e2", false),
	)
	if n := rc.dropFilesBefore(t, rc.t0.Add(20*time.Minute)); n == 0 {
		t.Fatal("no file to drop")
	}
	lookup, tr := rc.investigate(t, awsops.PathLookup), rc.investigate(t, awsops.PathTrail)
	var md bytes.Buffer
	_ = tr.Render(&md, "text")
	t.Logf("trail-path report:\n%s", md.String())
	t.Logf("lookup events=%d, trail events=%d", lookup.Activity.Events, tr.Activity.Events)
	covered := false
	for _, p := range tr.Plan {
		if p.Path == awsops.PathLookup && (p.Region == "" || p.Region == "eu-west-1") && !p.From.After(rc.t0) && p.To.After(rc.t0) {
			covered = true
		}
	}
	gap := false
	for _, g := range tr.Gaps {
		if !g.From.After(rc.t0) && g.To.After(rc.t0) {
			gap = true
		}
	}
	if lookup.Activity.Events != tr.Activity.Events && !covered && !gap {
		t.Errorf("the trail path counts %d events, the LookupEvents path %d: the span before the bucket's oldest file (%s) was read by neither the trail nor LookupEvents, and neither the plan nor a gap says so",
			tr.Activity.Events, lookup.Activity.Events, rc.t0.Add(20*time.Minute).Format(time.RFC3339))
	}
	sameAnswers(t, lookup, tr)
}

// investigateAthena runs the investigation with Athena over budget.
func (rc roundCase) investigateAthena(t *testing.T) *awsops.Investigation {
	t.Helper()
	c := awsops.NewFromConfig(rc.w.Config("us-east-1", rc.w.Admin(world.DefaultAccount)), awsops.Options{})
	key, err := awsops.ParseAccessKeyID(rc.leaked)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := c.Investigate(t.Context(), key, awsops.InvestigateOptions{TrailBucket: rc.w.Gateway.TrailBucket(),
		Regions: []string{"us-east-1", "eu-west-1"}, Since: rc.now.Add(-3 * time.Hour),
		Athena: &awsops.AthenaOptions{BudgetBytes: 1, PollMin: 10 * time.Millisecond, PollMax: 20 * time.Millisecond}})
	if err != nil {
		t.Fatalf("athena path: %v", err)
	}
	return inv
}

func (rc roundCase) athenaWorkgroup(t *testing.T) {
	t.Helper()
	if err := rc.w.Gateway.CreateAthenaWorkGroup(t.Context(), world.AthenaWorkGroup{Account: world.DefaultAccount, Name: awsops.DefaultAthenaWorkgroup,
		OutputLocation: "s3://keyleak-athena-results/athena/", Enforce: true}); err != nil {
		t.Fatal(err)
	}
}

// TestAthenaFailureIsSaid: the account is over the Athena budget and the
// key-objects query fails. The key's events are read through LookupEvents
// over its whole life, and the report says so: a plan part names the key
// and the failure, a gap says its S3 data events are not known (the
// LookupEvents path, with the bucket, finds its GetObject), and no
// cross-check compares LookupEvents with itself. What it reports is what
// the LookupEvents path without the bucket reports.
func TestAthenaFailureIsSaid(t *testing.T) {
	rc := newRoundCase(t)
	rc.athenaWorkgroup(t)
	rvReplay(t, rc,
		rc.record(false, 0, "iam", "ListUsers", "us-east-1", "null", "null", "e1", false),
		rc.record(false, 3*time.Minute, "s3", "GetObject", "us-east-1", `{"bucketName":"secrets","key":"prod/terraform.tfstate"}`, "null", "d1", true),
		rc.record(false, 30*time.Minute, "iam", "ListRoles", "us-east-1", "null", "null", "e2", false),
	)
	for range 4 {
		rc.w.Gateway.ScriptAthena(world.AthenaScript{Match: "AS minted", Running: 1, State: "FAILED", Reason: "HIVE_CURSOR_ERROR",
			Error: &world.AthenaError{Category: 1, Type: 1000, Retryable: true, Message: "HIVE_CURSOR_ERROR"}})
	}
	rc.w.Gateway.ScriptAthena(world.AthenaScript{Match: "sourceipaddress IN", State: "FAILED", Reason: "x", Error: &world.AthenaError{Category: 1, Type: 1000, Message: "x"}})
	lookup := rc.investigate(t, awsops.PathLookup)
	ath := rc.investigateAthena(t)
	if lookup.DataEvents == nil || lookup.DataEvents.Events != 1 {
		t.Fatalf("the LookupEvents path found data events %+v, want the GetObject", lookup.DataEvents)
	}
	if !slices.ContainsFunc(ath.Gaps, func(g awsops.Gap) bool {
		return g.Step == awsops.StepDataEvents && strings.Contains(g.Reason, rc.leaked) && strings.Contains(g.Reason, "not known")
	}) {
		t.Errorf("Athena failed, and no gap says the key's data events are not known: %+v", ath.Gaps)
	}
	if !slices.ContainsFunc(ath.Plan, func(p awsops.PlanPart) bool {
		return p.Path == awsops.PathLookup && !p.From.After(ath.Window.Start) && strings.Contains(p.Reason, "Athena failed") && strings.Contains(p.Reason, rc.leaked)
	}) {
		t.Errorf("the whole window of the key went to LookupEvents, but the plan says only %q", planText(ath))
	}
	if len(ath.CrossChecks) > 0 {
		t.Errorf("cross-checks %+v: the trail read nothing of the key, there is nothing to compare", ath.CrossChecks)
	}
	c := awsops.NewFromConfig(rc.w.Config("us-east-1", rc.w.Admin(world.DefaultAccount)), awsops.Options{})
	key, err := awsops.ParseAccessKeyID(rc.leaked)
	if err != nil {
		t.Fatal(err)
	}
	bare, err := c.Investigate(t.Context(), key, awsops.InvestigateOptions{Regions: []string{"us-east-1", "eu-west-1"}, Path: awsops.PathLookup, Since: rc.now.Add(-3 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	sameAnswers(t, bare, ath)
}

func planText(inv *awsops.Investigation) []string {
	var out []string
	for _, p := range inv.Plan {
		out = append(out, p.Path+": "+p.Reason)
	}
	return out
}

// TestAthenaHopIntoAccountTheBucketLacks: the leaked key assumes a
// role in a second account whose trail is not in the bucket (no folder
// for it). The trail path lists that account, finds no folder and reads
// the session's life there through LookupEvents; with Athena, the hop
// account is listed too (its files are not read), and the session's calls
// there are found the same way.
func TestAthenaHopIntoAccountTheBucketLacks(t *testing.T) {
	rc := newRoundCase(t)
	rc.athenaWorkgroup(t)
	other := world.SecondAccount
	addResponderRole(t, rc.w, other)
	sessIdent := `{"type":"AssumedRole","principalId":"AROAX:s","arn":"arn:aws:sts::` + other + `:assumed-role/deploy/s","accountId":"` + other + `","accessKeyId":"` + rc.session + `"}`
	call := func(d time.Duration, name, id string) []byte {
		return []byte(`{"eventVersion":"1.09","userIdentity":` + sessIdent + `,"eventTime":"` + rc.t0.Add(d).Format(time.RFC3339) +
			`","eventSource":"iam.amazonaws.com","eventName":"` + name + `","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"x","requestParameters":{"userName":"backdoor"},"responseElements":{"user":{"userName":"backdoor"}},"requestID":"` + id + `","eventID":"` + id + `","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"` + other + `","eventCategory":"Management"}`)
	}
	expires := rc.t0.Add(time.Minute + time.Hour).Format("Jan 2, 2006, 3:04:05 PM")
	assume := rc.record(false, time.Minute, "sts", "AssumeRole", "us-east-1", `{"roleArn":"arn:aws:iam::`+other+`:role/deploy","roleSessionName":"s"}`,
		`{"credentials":{"accessKeyId":"`+rc.session+`","sessionToken":"x","expiration":"`+expires+`"},"assumedRoleUser":{"assumedRoleId":"AROAX:s","arn":"arn:aws:sts::`+other+`:assumed-role/deploy/s"}}`, "mint", false)
	rvReplay(t, rc,
		rc.record(false, 0, "iam", "ListUsers", "us-east-1", "null", "null", "e1", false),
		assume,
		call(5*time.Minute, "CreateUser", "h1"),
		call(10*time.Minute, "AttachUserPolicy", "h2"),
		rc.record(false, 30*time.Minute, "iam", "ListRoles", "us-east-1", "null", "null", "e2", false),
	)
	// The second account's trail does not deliver to this bucket.
	client, bucket := rvClient(rc), rc.w.Gateway.TrailBucket()
	eachLogFile(t, client, bucket, "AWSLogs/"+other+"/", func(key *string) {
		if _, err := client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: key}); err != nil {
			t.Fatal(err)
		}
	})
	oracle := newAthenaOracle(t, client, bucket)
	for range 8 {
		rc.w.Gateway.ScriptAthena(world.AthenaScript{Match: "AS minted", Running: 1, Answer: oracle.keyObjects})
	}
	rc.w.Gateway.ScriptAthena(world.AthenaScript{Match: "sourceipaddress IN", Answer: oracle.ipSeen})

	tr := rc.investigate(t, awsops.PathTrail)
	ath := rc.investigateAthena(t)
	var md bytes.Buffer
	_ = ath.Render(&md, "text")
	t.Logf("athena-path report:\n%s", md.String())
	t.Logf("trail path: session events %d; athena path: session events %d", sessionEvents(tr, rc.session), sessionEvents(ath, rc.session))
	if got := sessionEvents(tr, rc.session); got != 2 {
		t.Fatalf("the trail path found %d calls of the session in %s, want 2 (CreateUser, AttachUserPolicy)", got, other)
	}
	if got := sessionEvents(ath, rc.session); got != 2 {
		gap := false
		for _, g := range ath.Gaps {
			if g.Account == other || strings.Contains(g.Reason, other) {
				gap = true
			}
		}
		t.Errorf("through Athena the session's calls in %s (whose trail the bucket lacks): %d, want 2 as the trail path finds; a gap names the account: %v", other, got, gap)
	}
	sameAnswers(t, tr, ath)
}

// TestPlannerReadsTheBucketWhenLookupEventsFails: LookupEvents fails
// (here: every call answers 500, as when the responder role lacks
// cloudtrail:LookupEvents or CloudTrail has an outage) while the bucket
// is readable. What LookupEvents would cost is not known, and it may not
// answer at all: the planner reads the bucket, and says why.
func TestPlannerReadsTheBucketWhenLookupEventsFails(t *testing.T) {
	rc := newRoundCase(t)
	var recs [][]byte
	for i := range 60 {
		recs = append(recs, rc.record(false, time.Duration(i)*time.Minute, "iam", "ListUsers", []string{"us-east-1", "eu-west-1"}[i%2], "null", "null", "e"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+time.Duration(i).String(), false))
	}
	recs = append(recs, rc.record(false, 61*time.Minute, "iam", "CreateUser", "us-east-1", `{"userName":"backdoor"}`, `{"user":{"userName":"backdoor"}}`, "cu", false))
	for _, r := range recs {
		if err := rc.w.Gateway.Replay(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := rc.w.Gateway.FlushTrail(t.Context()); err != nil {
		t.Fatal(err)
	}
	rc.w.Gateway.SetFault("cloudtrail", world.Fault{ErrorRate: 1})
	inv := rc.investigate(t, "")
	var md bytes.Buffer
	_ = inv.Render(&md, "text")
	t.Logf("report:\n%s", md.String())
	p := inv.Plan[0]
	t.Logf("plan[0] = %+v", p)
	if p.Path == awsops.PathLookup {
		t.Errorf("every LookupEvents first page failed, yet the planner chose LookupEvents over %d readable log files: %q; the investigation counts %d events (the bucket holds %d)",
			p.Objects, p.Reason, inv.Activity.Events, len(recs))
	}
}

// TestStoppedDeliveryIsNamed: eu-west-1's newest log
// file is 80 minutes old (delivery stopped: a StopLogging, a broken
// bucket policy), us-east-1 delivers up to the last minutes. LookupEvents
// reads eu-west-1 from its newest file on, and the plan names eu-west-1
// in a part of its own (its data events since are not known); the part
// for the minutes not yet delivered begins where us-east-1's does.
func TestStoppedDeliveryIsNamed(t *testing.T) {
	rc := newRoundCase(t)
	rvReplay(t, rc,
		rc.record(false, 0, "iam", "ListUsers", "eu-west-1", "null", "null", "e1", false),
		rc.record(false, 60*time.Minute, "s3", "ListBuckets", "eu-west-1", "null", "null", "e2", false),
		rc.record(false, 62*time.Minute, "s3", "GetObject", "eu-west-1", `{"bucketName":"secrets","key":"prod/db.env"}`, "null", "d1", true),
		rc.record(false, 80*time.Minute, "iam", "ListRoles", "us-east-1", "null", "null", "u1", false),
	)
	// eu-west-1 stops delivering after its first file.
	client, bucket := rvClient(rc), rc.w.Gateway.TrailBucket()
	first := rc.t0.Truncate(5 * time.Minute).Add(5 * time.Minute).Format("20060102T1504Z")
	eachLogFile(t, client, bucket, "/CloudTrail/eu-west-1/", func(key *string) {
		if strings.Contains(aws.ToString(key), first) {
			return
		}
		if _, err := client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: key}); err != nil {
			t.Fatal(err)
		}
	})
	inv := rc.investigate(t, awsops.PathTrail)
	var md bytes.Buffer
	_ = inv.Render(&md, "text")
	t.Logf("report:\n%s", md.String())
	if inv.Activity.Events != 3 {
		t.Errorf("%d management events, want 3 (e2 through LookupEvents)", inv.Activity.Events)
	}
	named := false
	for _, p := range inv.Plan {
		t.Logf("plan part %+v", p)
		if p.Region == "eu-west-1" {
			named = true
		}
	}
	for _, g := range inv.Gaps {
		if g.Region == "eu-west-1" || strings.Contains(g.Reason, "eu-west-1") {
			named = true
		}
	}
	if !named {
		t.Errorf("eu-west-1 has delivered nothing for 80 minutes; neither a plan part nor a gap names it (its data events since, such as a GetObject, are unknown)")
	}
	for _, p := range inv.Plan {
		if p.Path == awsops.PathLookup && p.Region == "" && strings.Contains(p.Reason, "not yet delivered") && p.From.Before(rc.t0.Add(60*time.Minute)) {
			t.Errorf("plan part says every region of the account was read through LookupEvents from %s (%q): us-east-1 was read from the bucket until %s",
				p.From.Format(time.RFC3339), p.Reason, rc.t0.Add(80*time.Minute).Format(time.RFC3339))
		}
	}
}

// TestLateDeliveryBeforeTheNewestFileIsLookedUp: CloudTrail delivers
// within about 15 minutes, and a region's files are written by several
// hosts, so a file holding an event 13 minutes before the region's newest
// file may not be delivered yet. While the region delivers, LookupEvents
// reads from 15 minutes before its newest file, and finds the event (a
// CreateUser by the key).
func TestLateDeliveryBeforeTheNewestFileIsLookedUp(t *testing.T) {
	rc := newRoundCase(t)
	other := func(d time.Duration, id string) []byte {
		return []byte(`{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::` + world.DefaultAccount + `:user/app","accountId":"` + world.DefaultAccount + `","accessKeyId":"AKIAOTHEROTHEROTHER1","userName":"app"},"eventTime":"` +
			rc.t0.Add(d).Format(time.RFC3339) + `","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"eu-west-1","sourceIPAddress":"10.0.0.1","userAgent":"x","requestParameters":null,"responseElements":null,"requestID":"` + id + `","eventID":"` + id + `","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"` + world.DefaultAccount + `","eventCategory":"Management"}`)
	}
	late := rc.t0.Add(71 * time.Minute) // the newest eu-west-1 file is stamped t0+84m (other's call at t0+83m)
	rvReplay(t, rc,
		rc.record(false, 0, "iam", "ListUsers", "us-east-1", "null", "null", "u1", false),
		rc.record(false, time.Minute, "iam", "ListRoles", "us-east-1", "null", "null", "u2", false),
		rc.record(false, 2*time.Minute, "iam", "ListGroups", "us-east-1", "null", "null", "u3", false),
		rc.record(false, 71*time.Minute, "iam", "CreateUser", "eu-west-1", `{"userName":"backdoor"}`, `{"user":{"userName":"backdoor"}}`, "late", false),
		other(83*time.Minute, "o1"),
	)
	// The file holding the CreateUser is not delivered yet.
	client, bucket := rvClient(rc), rc.w.Gateway.TrailBucket()
	stamp := late.Truncate(5 * time.Minute).Add(5 * time.Minute).Format("20060102T1504Z")
	if n := eachLogFile(t, client, bucket, "/CloudTrail/eu-west-1/", func(key *string) {
		if !strings.Contains(aws.ToString(key), stamp) {
			return
		}
		if _, err := client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: key}); err != nil {
			t.Fatal(err)
		}
	}); n == 0 {
		t.Fatal("no eu-west-1 file left")
	}
	lookup, tr := rc.investigate(t, awsops.PathLookup), rc.investigate(t, awsops.PathTrail)
	for _, p := range tr.Plan {
		t.Logf("plan part %+v", p)
	}
	for _, g := range tr.Gaps {
		t.Logf("gap %+v", g)
	}
	if lookup.Activity.Events != tr.Activity.Events {
		t.Errorf("the trail path counts %d events, the LookupEvents path %d: the CreateUser at %s, %s before eu-west-1's newest file, is in no file yet and before the tail LookupEvents reads",
			tr.Activity.Events, lookup.Activity.Events, late.Format(time.RFC3339), 13*time.Minute)
	}
}

// failCrossCheck answers 500 to every LookupEvents call over [start, x)
// with x more than a minute before now: the cross-check's (the sweep's
// calls end at now).
type failCrossCheck struct {
	base   http.RoundTripper
	start  time.Time
	mu     sync.Mutex
	failed int
}

func (f *failCrossCheck) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".LookupEvents") && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var in struct{ StartTime, EndTime float64 }
		if json.Unmarshal(body, &in) == nil && math.Abs(in.StartTime-float64(f.start.UnixNano())/1e9) < 1 &&
			time.Unix(int64(in.EndTime), 0).Before(time.Now().Add(-time.Minute)) {
			f.mu.Lock()
			f.failed++
			f.mu.Unlock()
			return &http.Response{StatusCode: 400, Status: "400 Bad Request", Header: http.Header{"Content-Type": {"application/x-amz-json-1.1"}},
				Body: io.NopCloser(strings.NewReader(`{"__type":"AccessDeniedException","message":"denied"}`)), Request: r}, nil
		}
	}
	return f.base.RoundTrip(r)
}

// TestFailedCrossCheckIsSaid: the cross-check's LookupEvents call
// fails; the report says so, with a gap: the responder knows the trail
// was not checked against LookupEvents.
func TestFailedCrossCheckIsSaid(t *testing.T) {
	rc := newRoundCase(t)
	rvReplay(t, rc,
		rc.record(false, 0, "iam", "ListUsers", "us-east-1", "null", "null", "u1", false),
		rc.record(false, time.Minute, "iam", "ListRoles", "us-east-1", "null", "null", "u2", false),
		rc.record(false, 40*time.Minute, "iam", "ListGroups", "us-east-1", "null", "null", "u3", false),
	)
	fail := &failCrossCheck{start: rc.now.Add(-3 * time.Hour)} // the window's start, as investigate sets it
	inv := rc.investigateThrough(t, awsops.PathTrail, func(base http.RoundTripper) http.RoundTripper {
		fail.base = base
		return fail
	})
	if fail.failed == 0 {
		t.Fatal("no cross-check call was made to fail")
	}
	t.Logf("failed %d calls; cross-checks %+v", fail.failed, inv.CrossChecks)
	said := len(inv.CrossChecks) > 0
	for _, g := range inv.Gaps {
		t.Logf("gap %+v", g)
		if strings.Contains(strings.ToLower(g.Reason), "cross-check") {
			said = true
		}
	}
	if !said {
		t.Errorf("the cross-check failed (%d calls denied); the report has no cross-check and no gap saying it could not be made", fail.failed)
	}
}

// TestDataEventsPrefixesAreDayFolders: data_events.prefixes are day
// folders on the trail path too (those of the files read), as
// docs/investigation-json.md says and the report prints ("in N day
// folders").
func TestDataEventsPrefixesAreDayFolders(t *testing.T) {
	rc := newRoundCase(t)
	rvReplay(t, rc,
		rc.record(false, 0, "iam", "ListUsers", "us-east-1", "null", "null", "u1", false),
		rc.record(false, 3*time.Minute, "s3", "GetObject", "us-east-1", `{"bucketName":"secrets","key":"db.env"}`, "null", "d1", true),
		rc.record(false, 40*time.Minute, "iam", "ListRoles", "eu-west-1", "null", "null", "u2", false),
	)
	lookup, tr := rc.investigate(t, awsops.PathLookup), rc.investigate(t, awsops.PathTrail)
	t.Logf("LookupEvents path prefixes %q; trail path prefixes %q", lookup.DataEvents.Prefixes, tr.DataEvents.Prefixes)
	for _, p := range tr.DataEvents.Prefixes {
		if !regexp.MustCompile(`/\d{4}/\d{2}/\d{2}/$`).MatchString(p) {
			t.Errorf("data_events.prefixes holds %q, not a day folder as documented (the report prints it as \"in %d day folders\")", p, len(tr.DataEvents.Prefixes))
		}
	}
}
