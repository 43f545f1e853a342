package awsops_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// rvRecord is a call of the leaked key of rc at an absolute time, with
// readOnly as given.
func rvRecord(rc roundCase, at time.Time, source, name, region, id string, readOnly bool) json.RawMessage {
	acct := world.DefaultAccount
	ident := fmt.Sprintf(`{"type":"IAMUser","principalId":"AIDAX","arn":"arn:aws:iam::%s:user/ci","accountId":"%s","accessKeyId":"%s","userName":"ci"}`, acct, acct, rc.leaked)
	return json.RawMessage(fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":%s,"eventTime":"%s","eventSource":"%s.amazonaws.com","eventName":"%s","awsRegion":"%s","sourceIPAddress":"203.0.113.9","userAgent":"x","requestParameters":null,"responseElements":null,"requestID":"%s","eventID":"%s","readOnly":%v,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"%s","eventCategory":"Management"}`,
		ident, at.UTC().Format(time.RFC3339), source, name, region, id, id, readOnly, acct))
}

func rvClient(rc roundCase) *s3.Client {
	return s3.NewFromConfig(rc.w.Config("us-east-1", rc.w.Admin(world.DefaultAccount)), func(o *s3.Options) { o.UsePathStyle = true })
}

// rvReplay replays records and flushes the trail.
func rvReplay(t *testing.T, rc roundCase, records ...json.RawMessage) {
	t.Helper()
	if err := rc.w.Gateway.Replay(records...); err != nil {
		t.Fatal(err)
	}
	if err := rc.w.Gateway.FlushTrail(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// rvWrites are three writes of the leaked key in us-east-1 at rc.t0, which
// make it the busiest region there (and so the cross-check's).
func rvWrites(rc roundCase) []json.RawMessage {
	return []json.RawMessage{
		rvRecord(rc, rc.t0, "iam", "CreateUser", "us-east-1", "u1", false),
		rvRecord(rc, rc.t0.Add(time.Minute), "iam", "CreatePolicy", "us-east-1", "u2", false),
		rvRecord(rc, rc.t0.Add(2*time.Minute), "iam", "AttachUserPolicy", "us-east-1", "u3", false),
	}
}

// rvPut puts body into the trail bucket at key, gzipped when zip is set.
func rvPut(t *testing.T, rc roundCase, key string, body []byte, zip bool) {
	t.Helper()
	if zip {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		if _, err := zw.Write(body); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		body = gz.Bytes()
	}
	if _, err := rvClient(rc).PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(rc.w.Gateway.TrailBucket()), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

// rvSecretRead replays the leaked key minting a session that reads a
// secret (GetObject of terraform.tfstate): a data event only the bucket
// holds.
func rvSecretRead(t *testing.T, rc roundCase) {
	t.Helper()
	rvReplay(t, rc,
		rc.record(false, 0, "iam", "ListUsers", "us-east-1", "null", "null", "e1", false),
		rc.assume(time.Minute, "us-east-1"),
		rc.record(true, 3*time.Minute, "s3", "GetObject", "us-east-1", `{"bucketName":"secrets","key":"terraform.tfstate"}`, "null", "e3", true))
}

// bothPaths investigates the leaked key on the LookupEvents path and on
// the trail path, and fails when the two count its calls differently;
// lost says what the trail path would have lost.
func (rc roundCase) bothPaths(t *testing.T, lost string) (lookup, trail *awsops.Investigation) {
	t.Helper()
	lookup, trail = rc.investigate(t, awsops.PathLookup), rc.investigate(t, awsops.PathTrail)
	if got, want := sessionEvents(trail, rc.leaked), sessionEvents(lookup, rc.leaked); got != want {
		t.Errorf("the leaked key's calls: trail path %d, LookupEvents path %d (%s)\ntrail path report:\n%s", got, want, lost, rvReport(trail))
	}
	return lookup, trail
}

// rvDrop deletes the log files whose key holds part.
func rvDrop(t *testing.T, rc roundCase, part string) {
	t.Helper()
	client, bucket := rvClient(rc), rc.w.Gateway.TrailBucket()
	if n := eachLogFile(t, client, bucket, part, func(key *string) {
		if _, err := client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: key}); err != nil {
			t.Fatal(err)
		}
	}); n == 0 {
		t.Fatalf("no log file holds %q", part)
	}
}

// rvFileStamp is the stamp of the world's log file holding an event at.
func rvFileStamp(at time.Time) string {
	return at.UTC().Truncate(5 * time.Minute).Add(5 * time.Minute).Format("20060102T1504Z")
}

// rvGapsFor lists the gaps, plan parts and cross-checks that name region.
func rvReport(inv *awsops.Investigation) string {
	var b strings.Builder
	for _, g := range inv.Gaps {
		fmt.Fprintf(&b, "  gap %s %s %s..%s: %s\n", g.Account, g.Region, g.From.Format(time.TimeOnly), g.To.Format(time.TimeOnly), g.Reason)
	}
	for _, p := range inv.Plan {
		fmt.Fprintf(&b, "  plan %s %s %s %s..%s: %s\n", p.Path, p.Account, p.Region, p.From.Format(time.TimeOnly), p.To.Format(time.TimeOnly), p.Reason)
	}
	for _, x := range inv.CrossChecks {
		fmt.Fprintf(&b, "  crosscheck %s %s pages=%d events=%d missing=%d\n", x.Account, x.Region, x.Pages, x.Events, x.Missing)
	}
	return b.String()
}

// rvTrail creates a trail and starts it logging, as trails are, in place
// of the round case's trail (worldTrail).
func rvTrail(t *testing.T, ct *cloudtrail.Client, in *cloudtrail.CreateTrailInput) {
	t.Helper()
	home := func(o *cloudtrail.Options) { o.Region = "us-east-1" } // the round case's trail's
	worldTrails := func() int {
		out, err := ct.DescribeTrails(t.Context(), &cloudtrail.DescribeTrailsInput{}, home)
		if err != nil {
			t.Fatal(err)
		}
		return len(slices.DeleteFunc(out.TrailList, func(tr cttypes.Trail) bool { return aws.ToString(tr.Name) != worldTrail }))
	}
	if worldTrails() > 0 {
		if _, err := ct.DeleteTrail(t.Context(), &cloudtrail.DeleteTrailInput{Name: aws.String(worldTrail)}, home); err != nil {
			t.Fatal(err)
		}
		if worldTrails() > 0 {
			t.Fatalf("trail %s is still there after DeleteTrail", worldTrail)
		}
	}
	if _, err := ct.CreateTrail(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	if _, err := ct.StartLogging(t.Context(), &cloudtrail.StartLoggingInput{Name: in.Name}); err != nil {
		t.Fatal(err)
	}
}

// rvKeepWritesOutside rewrites every log file of the bucket, outside
// region keep ("" for none), to hold only the write events: what a
// WriteOnly trail delivers there.
func rvKeepWritesOutside(t *testing.T, rc roundCase, keep string) {
	t.Helper()
	rvDropReadOnly(t, rc, func(region string, _ time.Time) bool { return keep == "" || region != keep })
}

// rvDropReadOnly rewrites every log file of the bucket without the
// read-only events that drop says of (by region and time).
func rvDropReadOnly(t *testing.T, rc roundCase, drop func(region string, at time.Time) bool) {
	t.Helper()
	client, bucket := rvClient(rc), rc.w.Gateway.TrailBucket()
	eachLogFile(t, client, bucket, "/CloudTrail/", func(key *string) {
		out, err := client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: key})
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(out.Body)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		out.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ Records []json.RawMessage }
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		kept := []json.RawMessage{}
		for _, r := range doc.Records {
			var ro struct {
				ReadOnly  bool
				AWSRegion string `json:"awsRegion"`
				EventTime time.Time
			}
			if err := json.Unmarshal(r, &ro); err != nil {
				t.Fatal(err)
			}
			if !ro.ReadOnly || !drop(ro.AWSRegion, ro.EventTime) {
				kept = append(kept, r)
			}
		}
		body, err := json.Marshal(map[string][]json.RawMessage{"Records": kept})
		if err != nil {
			t.Fatal(err)
		}
		rvPut(t, rc, aws.ToString(key), body, true)
	})
}

// TestTrailWriteOnlyTrailIsLookedUpWhole: the multi-region trail that
// delivers to the bucket records write management events only
// (ReadWriteType WriteOnly, a common way to cut a trail's volume; or
// PutEventSelectors, an attacker's). The leaked key's read-only calls in
// eu-west-1 (a busy region, every span with files) are in LookupEvents but
// in no log file: the trail's event selectors say so, and the trail path
// reads the management events of the tree there through LookupEvents
// over their whole life, and says why in the plan. With a second,
// single-region trail that records everything in us-east-1, us-east-1 is
// read from the bucket, and eu-west-1 still through LookupEvents.
func TestTrailWriteOnlyTrailIsLookedUpWhole(t *testing.T) {
	for _, home := range []bool{false, true} {
		t.Run(fmt.Sprintf("home=%v", home), func(t *testing.T) {
			rc := newRoundCase(t)
			t0 := rc.t0
			// eu-west-1 is busy: a write every minute over the window,
			// more than the cross-check's two pages after the read-only
			// calls.
			var busy []json.RawMessage
			for d := 178 * time.Minute; d > time.Minute; d -= time.Minute {
				busy = append(busy, rvRecord(rc, rc.now.Add(-d), "ec2", "CreateTags", "eu-west-1", fmt.Sprintf("b%d", d/time.Minute), false))
			}
			rvReplay(t, rc, busy...)
			rvReplay(t, rc,
				rvRecord(rc, t0, "iam", "CreateUser", "us-east-1", "u1", false),
				rvRecord(rc, t0.Add(time.Minute), "iam", "ListPolicies", "us-east-1", "u2", true),
				rvRecord(rc, t0.Add(2*time.Minute), "iam", "AttachUserPolicy", "us-east-1", "u3", false),
				rvRecord(rc, t0.Add(10*time.Minute), "ec2", "RunInstances", "eu-west-1", "w1", false),
				rvRecord(rc, rc.now.Add(-160*time.Minute+30*time.Second), "ec2", "DescribeInstances", "eu-west-1", "r1", true),
				rvRecord(rc, rc.now.Add(-159*time.Minute+30*time.Second), "s3", "ListBuckets", "eu-west-1", "r2", true),
				rvRecord(rc, t0.Add(40*time.Minute), "ec2", "TerminateInstances", "eu-west-1", "w2", false))
			keep := ""
			if home {
				keep = "us-east-1"
			}
			rvKeepWritesOutside(t, rc, keep)
			bucket := rc.w.Gateway.TrailBucket()
			ct := cloudtrail.NewFromConfig(rc.w.Config("us-east-1", rc.w.Admin(world.DefaultAccount)))
			rvTrail(t, ct, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String(bucket), IsMultiRegionTrail: aws.Bool(true)})
			if _, err := ct.PutEventSelectors(t.Context(), &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("main"),
				EventSelectors: []cttypes.EventSelector{{ReadWriteType: cttypes.ReadWriteTypeWriteOnly, IncludeManagementEvents: aws.Bool(true)}}}); err != nil {
				t.Fatal(err)
			}
			if home {
				rvTrail(t, ct, &cloudtrail.CreateTrailInput{Name: aws.String("home"), S3BucketName: aws.String(bucket)})
			}
			_, trail := rc.bothPaths(t, "read-only calls are lost")
			names := func(region string) bool {
				return slices.ContainsFunc(trail.Plan, func(p awsops.PlanPart) bool {
					listed := strings.Contains(p.Reason, region+")") || strings.Contains(p.Reason, region+", ") // in the list of regions, not in a trail's ARN
					return p.Path == awsops.PathLookup && strings.Contains(p.Reason, "no read-only management events") && listed
				})
			}
			if !names("eu-west-1") || names("us-east-1") == home {
				t.Errorf("the plan does not say where the trails lack read-only management events (eu-west-1, and us-east-1 unless the home trail records it):\n%s", rvReport(trail))
			}
		})
	}
}

// TestTrailGapInTheMiddleIsLookedUp: the bucket lacks the log
// files of forty minutes in the middle of the window (the leaked key ran
// StopLogging and StartLogging). The region has files before and after,
// and the bucket cannot tell the gap from a quiet span: LookupEvents reads
// it, and finds the key's RunInstances there.
func TestTrailGapInTheMiddleIsLookedUp(t *testing.T) {
	rc := newRoundCase(t)
	t0 := rc.t0
	rvReplay(t, rc, append(rvWrites(rc),
		rvRecord(rc, t0.Add(3*time.Minute), "ec2", "DescribeRegions", "eu-west-1", "e0", true),
		rvRecord(rc, t0.Add(4*time.Minute), "cloudtrail", "StopLogging", "us-east-1", "stop", false),
		rvRecord(rc, t0.Add(21*time.Minute), "ec2", "RunInstances", "eu-west-1", "gap", false),
		rvRecord(rc, t0.Add(44*time.Minute), "cloudtrail", "StartLogging", "us-east-1", "start", false),
		rvRecord(rc, t0.Add(46*time.Minute), "ec2", "DescribeInstances", "eu-west-1", "e2", true))...)
	// What CloudTrail did not deliver while logging was stopped.
	rvDrop(t, rc, "eu-west-1_"+rvFileStamp(t0.Add(21*time.Minute)))
	rc.bothPaths(t, "the RunInstances while logging was stopped is lost")
}

// TestTrailLateFileBeforeTheNewestIsLookedUp: a region's newest log file is
// delivered while an older one, holding a call 14 minutes old, is still on
// its way (CloudTrail delivers within about 15 minutes, and not in order
// across files). While the region delivers, LookupEvents reads from 15
// minutes before its newest file, and finds the call.
func TestTrailLateFileBeforeTheNewestIsLookedUp(t *testing.T) {
	rc := newRoundCase(t)
	now := rc.now
	late := now.Add(-14 * time.Minute)
	rvReplay(t, rc, append(rvWrites(rc),
		rvRecord(rc, late, "ec2", "RunInstances", "eu-west-1", "late", false),
		rvRecord(rc, now.Add(-6*time.Minute), "ec2", "DescribeInstances", "eu-west-1", "e2", true))...)
	rvDrop(t, rc, "eu-west-1_"+rvFileStamp(late)) // not delivered yet
	rc.bothPaths(t, "the RunInstances in the late file is lost")
}

// TestTrailFutureStampedFileDoesNotHideTheTail: an object in today's
// folder of a region whose name bears a stamp far in the future (planted,
// or written by a tool with a wrong clock) does not count as the region's
// newest file: LookupEvents is still asked about the minutes not yet
// delivered, and finds the key's last call there, as in the control case
// without the object.
func TestTrailFutureStampedFileDoesNotHideTheTail(t *testing.T) {
	for _, plant := range []bool{false, true} {
		t.Run(fmt.Sprintf("plant=%v", plant), func(t *testing.T) {
			rc := newRoundCase(t)
			now := rc.now
			recent := now.Add(-2 * time.Minute)
			rvReplay(t, rc, append(rvWrites(rc),
				rvRecord(rc, now.Add(-40*time.Minute), "ec2", "DescribeInstances", "eu-west-1", "e1", true),
				rvRecord(rc, recent, "ec2", "RunInstances", "eu-west-1", "recent", false))...)
			rvDrop(t, rc, "eu-west-1_"+rvFileStamp(recent)) // not delivered yet
			if plant {
				acct := world.DefaultAccount
				key := fmt.Sprintf("AWSLogs/%s/CloudTrail/eu-west-1/%s/%s_CloudTrail_eu-west-1_20991231T2355Z_PLANTED.json.gz",
					acct, now.UTC().Format("2006/01/02"), acct)
				rvPut(t, rc, key, []byte(`{"Records":[]}`), false)
			}
			rc.bothPaths(t, "the RunInstances not yet delivered is lost")
		})
	}
}

// TestLookupPathReadsDataEventsOfAnOrgTrail: the bucket holds an
// organisation trail (AWSLogs/o-…/<account>/CloudTrail/…, as Control
// Tower's log archive does). On the LookupEvents path (which the planner
// chooses for a light key in a busy bucket) its data events are looked
// for under the o-… folder, and the session's GetObject of a secret is
// found, as the trail path finds it.
func TestLookupPathReadsDataEventsOfAnOrgTrail(t *testing.T) {
	rc := newRoundCase(t)
	rvSecretRead(t, rc)
	// Move the account's files to an organisation trail's folder.
	client, bucket := rvClient(rc), rc.w.Gateway.TrailBucket()
	eachLogFile(t, client, bucket, "AWSLogs/"+world.DefaultAccount+"/", func(key *string) {
		dst := strings.Replace(*key, "AWSLogs/", "AWSLogs/o-exampleorg1/", 1)
		if _, err := client.CopyObject(t.Context(), &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String(dst),
			CopySource: aws.String(bucket + "/" + *key)}); err != nil {
			t.Fatal(err)
		}
		if _, err := client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: key}); err != nil {
			t.Fatal(err)
		}
	})
	lookup, trail := rc.investigate(t, awsops.PathLookup), rc.investigate(t, awsops.PathTrail)
	if trail.DataEvents == nil || trail.DataEvents.Events != 1 {
		t.Fatalf("the trail path found data events %+v, want the GetObject", trail.DataEvents)
	}
	if lookup.DataEvents == nil || lookup.DataEvents.Events != 1 {
		var prefixes []string
		if lookup.DataEvents != nil {
			prefixes = lookup.DataEvents.Prefixes
		}
		t.Errorf("the LookupEvents path found data events %+v (prefixes %v), want the session's GetObject of terraform.tfstate\nreport:\n%s",
			lookup.DataEvents, prefixes, rvReport(lookup))
	}
}

// TestTrailLayoutWithAStrayOrganisationFolder: the bucket holds the
// account's own trail (AWSLogs/<account>/) and, beside it, a folder named
// like an organisation's (AWSLogs/o-…/, another organisation's trail, or
// one object put there) that does not hold the account. The account's own
// folder is read; the stray folder does not make the account look absent.
func TestTrailLayoutWithAStrayOrganisationFolder(t *testing.T) {
	rc := newRoundCase(t)
	rvReplay(t, rc,
		rvRecord(rc, rc.t0, "iam", "CreateUser", "us-east-1", "u1", false),
		rvRecord(rc, rc.t0.Add(time.Minute), "iam", "ListUsers", "us-east-1", "u2", true))
	rvPut(t, rc, "AWSLogs/o-aaaastray00/111122223333/CloudTrail/us-east-1/readme.txt", []byte("not a log"), false)
	inv := rc.investigate(t, awsops.PathTrail)
	if inv.Plan[0].Path != awsops.PathTrail || inv.Trail == nil || inv.Trail.Objects == 0 {
		t.Fatalf("plan %+v, trail %+v: want the account's own folder read", inv.Plan[0], inv.Trail)
	}
	if got := sessionEvents(inv, rc.leaked); got != 2 {
		t.Errorf("the key's calls: %d, want 2\n%s", got, rvReport(inv))
	}
}

// TestTrailLayoutWithAnObjectUnderAnOrganisationFolderOfTheAccount: as
// above, but the object lies under the organisation folder's folder of
// the investigated account itself. It is not a log file: the account's own
// folder is still read, on either path (the LookupEvents path's data-event
// scan finds the session's GetObject there).
func TestTrailLayoutWithAnObjectUnderAnOrganisationFolderOfTheAccount(t *testing.T) {
	rc := newRoundCase(t)
	rvSecretRead(t, rc)
	rvPut(t, rc, "AWSLogs/o-aaaastray00/"+world.DefaultAccount+"/CloudTrail/us-east-1/readme.txt", []byte("not a log"), false)
	for _, path := range []string{awsops.PathTrail, awsops.PathLookup} {
		inv := rc.investigate(t, path)
		if inv.DataEvents == nil || inv.DataEvents.Events != 1 {
			t.Errorf("%s path: plan %q, data events %+v: want the account's own folder read and the GetObject found\n%s",
				path, inv.Plan[0].Reason, inv.DataEvents, rvReport(inv))
		}
	}
}

// TestTrailLayoutWithTwoFoldersOfLogFiles: log files of the account lie
// both under an organisation's folder and under its own (an organisation
// trail that superseded the account's). The organisation's is read, and a
// gap names the other, which is not.
func TestTrailLayoutWithTwoFoldersOfLogFiles(t *testing.T) {
	rc := newRoundCase(t)
	rvReplay(t, rc,
		rvRecord(rc, rc.t0, "iam", "CreateUser", "us-east-1", "u1", false),
		rvRecord(rc, rc.t0.Add(time.Minute), "iam", "ListUsers", "us-east-1", "u2", true))
	client, bucket := rvClient(rc), rc.w.Gateway.TrailBucket()
	copied := 0
	eachLogFile(t, client, bucket, "AWSLogs/"+world.DefaultAccount+"/", func(key *string) {
		if copied > 0 {
			return
		}
		copied++
		to := strings.Replace(aws.ToString(key), "AWSLogs/", "AWSLogs/o-aaaaorg0001/", 1)
		if _, err := client.CopyObject(t.Context(), &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String(to), CopySource: aws.String(bucket + "/" + aws.ToString(key))}); err != nil {
			t.Fatal(err)
		}
	})
	inv := rc.investigate(t, awsops.PathTrail)
	if !slices.ContainsFunc(inv.Gaps, func(g awsops.Gap) bool {
		return strings.Contains(g.Reason, "AWSLogs/o-aaaaorg0001/ is read") && strings.Contains(g.Reason, "under AWSLogs/ too")
	}) {
		t.Errorf("no gap says the account's own folder, which holds log files too, is not read\n%s", rvReport(inv))
	}
}

// denyTarget answers AccessDenied to every JSON-protocol call whose
// X-Amz-Target ends in target.
type denyTarget struct {
	base   http.RoundTripper
	target string
}

func (d denyTarget) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), d.target) {
		return &http.Response{StatusCode: 400, Status: "400 Bad Request", Header: http.Header{"Content-Type": {"application/x-amz-json-1.1"}},
			Body: io.NopCloser(strings.NewReader(`{"__type":"AccessDeniedException","message":"denied"}`)), Request: r}, nil
	}
	return d.base.RoundTrip(r)
}

// TestTrailSelectorsThatCannotBeReadAreSaid: the responder role may not
// read the trail's event selectors. The bucket is taken to hold every
// management event, and a gap says so.
func TestTrailSelectorsThatCannotBeReadAreSaid(t *testing.T) {
	rc := newRoundCase(t)
	rvReplay(t, rc, rvRecord(rc, rc.t0, "iam", "CreateUser", "us-east-1", "u1", false))
	ct := cloudtrail.NewFromConfig(rc.w.Config("us-east-1", rc.w.Admin(world.DefaultAccount)))
	rvTrail(t, ct, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String(rc.w.Gateway.TrailBucket()), IsMultiRegionTrail: aws.Bool(true)})
	inv := rc.investigateThrough(t, awsops.PathTrail, func(base http.RoundTripper) http.RoundTripper {
		return denyTarget{base: base, target: ".GetEventSelectors"}
	})
	if !slices.ContainsFunc(inv.Gaps, func(g awsops.Gap) bool {
		return strings.Contains(g.Reason, "trail/main") && strings.Contains(g.Reason, "cannot be read")
	}) {
		t.Errorf("no gap says the trail's event selectors could not be read:\n%s", rvReport(inv))
	}
}

// TestTrailsThatCannotBeDescribedAreSaid: the responder role may not
// describe the account's trails. The bucket is taken to hold every
// management event, and a gap says so.
func TestTrailsThatCannotBeDescribedAreSaid(t *testing.T) {
	rc := newRoundCase(t)
	rvReplay(t, rc, rvRecord(rc, rc.t0, "iam", "CreateUser", "us-east-1", "u1", false))
	inv := rc.investigateThrough(t, awsops.PathTrail, func(base http.RoundTripper) http.RoundTripper {
		return denyTarget{base: base, target: ".DescribeTrails"}
	})
	if !slices.ContainsFunc(inv.Gaps, func(g awsops.Gap) bool {
		return strings.Contains(g.Reason, "trails cannot be described") && strings.Contains(g.Reason, "DescribeTrails")
	}) {
		t.Errorf("no gap says the account's trails could not be described:\n%s", rvReport(inv))
	}
	if slices.ContainsFunc(inv.Gaps, func(g awsops.Gap) bool { return strings.Contains(g.Reason, "no trail of the account writes") }) {
		t.Errorf("a gap says no trail writes the folder, though the trails were not described:\n%s", rvReport(inv))
	}
}

// TestTrailChangedByTheTreeIsLookedUpAfter: the leaked key narrows the
// trail to write events (PutEventSelectors), makes read-only calls, and
// puts the selectors back. The bucket has files all along (a busy region,
// whose calls keep the read-only ones out of the cross-check's two pages)
// and the selectors are whole again when keyleak looks: only the key's
// own change of CloudTrail says that the files after it may lack events.
// LookupEvents reads every credential of the account from the change on,
// and finds the read-only calls; the plan says why. The same holds when
// the file that holds the change is gone, and LookupEvents itself finds
// the change: another round reads what followed it.
func TestTrailChangedByTheTreeIsLookedUpAfter(t *testing.T) {
	for _, lost := range []bool{false, true} {
		t.Run(fmt.Sprintf("change-file-lost=%v", lost), func(t *testing.T) {
			rc := newRoundCase(t)
			var busy []json.RawMessage
			for d := 178 * time.Minute; d > time.Minute; d -= time.Minute {
				busy = append(busy, rvRecord(rc, rc.now.Add(-d), "ec2", "CreateTags", "eu-west-1", fmt.Sprintf("b%d", d/time.Minute), false))
			}
			rvReplay(t, rc, busy...)
			change, restore := rc.now.Add(-165*time.Minute), rc.now.Add(-140*time.Minute)
			rvReplay(t, rc,
				rvRecord(rc, change, "cloudtrail", "PutEventSelectors", "us-east-1", "narrow", false),
				rvRecord(rc, rc.now.Add(-160*time.Minute+30*time.Second), "ec2", "DescribeInstances", "eu-west-1", "r1", true),
				rvRecord(rc, rc.now.Add(-159*time.Minute+30*time.Second), "s3", "ListBuckets", "eu-west-1", "r2", true),
				rvRecord(rc, restore, "cloudtrail", "PutEventSelectors", "us-east-1", "restore", false))
			rvDropReadOnly(t, rc, func(_ string, at time.Time) bool { return at.After(change) && at.Before(restore) })
			if lost {
				rvDrop(t, rc, "CloudTrail_us-east-1_"+rvFileStamp(change))
			}
			_, trail := rc.bothPaths(t, "the read-only calls after the change are lost")
			if !slices.ContainsFunc(trail.Plan, func(p awsops.PlanPart) bool {
				return p.Path == awsops.PathLookup && strings.Contains(p.Reason, "PutEventSelectors") && p.From.Equal(change.Truncate(time.Second))
			}) {
				t.Errorf("the plan does not say that the key's change of CloudTrail makes LookupEvents read what followed:\n%s", rvReport(trail))
			}
		})
	}
}

// TestTrailLayoutWithAnOldOrganisationFolder: the account was in an
// organisation whose trail delivered to the bucket a year ago (its folder
// still holds a log file of the account), and its own trail delivers now.
// The folder that holds the window's files is read, on either path (the
// session's GetObject of terraform.tfstate is found), and a gap names the
// other.
func TestTrailLayoutWithAnOldOrganisationFolder(t *testing.T) {
	rc := newRoundCase(t)
	rvSecretRead(t, rc)
	old := rc.now.AddDate(-1, 0, 0).UTC()
	rvPut(t, rc, fmt.Sprintf("AWSLogs/o-aaaaold0001/%s/CloudTrail/us-east-1/%s/%s_CloudTrail_us-east-1_%s_old.json.gz", world.DefaultAccount,
		old.Format("2006/01/02"), world.DefaultAccount, old.Format("20060102T1504Z")), []byte(`{"Records":[]}`), true)
	for _, path := range []string{awsops.PathTrail, awsops.PathLookup} {
		inv := rc.investigate(t, path)
		if inv.DataEvents == nil || inv.DataEvents.Events != 1 {
			t.Errorf("%s path: plan %q, data events %+v: want the folder of the window read and the GetObject found\n%s",
				path, inv.Plan[0].Reason, inv.DataEvents, rvReport(inv))
		}
		if !slices.ContainsFunc(inv.Gaps, func(g awsops.Gap) bool { return strings.Contains(g.Reason, "under AWSLogs/o-aaaaold0001/ too") }) {
			t.Errorf("%s path: no gap names the old organisation folder, which is not read\n%s", path, rvReport(inv))
		}
	}
}

// TestTrailSingleRegionTrailOfAnotherRegionIsWeighed: the trail that
// delivers eu-west-1 to the bucket is a single-region trail of eu-west-1
// (described there only, not in keyleak's home region) that records
// write events only. The read-only calls there are in no log file:
// LookupEvents reads them, as for a multi-region trail.
func TestTrailSingleRegionTrailOfAnotherRegionIsWeighed(t *testing.T) {
	rc := newRoundCase(t)
	rvReadOnlyWhereBusy(t, rc)
	rvKeepWritesOutside(t, rc, "us-east-1")
	ct := cloudtrail.NewFromConfig(rc.w.Config("eu-west-1", rc.w.Admin(world.DefaultAccount)))
	rvTrail(t, ct, &cloudtrail.CreateTrailInput{Name: aws.String("euw1"), S3BucketName: aws.String(rc.w.Gateway.TrailBucket())})
	if _, err := ct.PutEventSelectors(t.Context(), &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("euw1"),
		EventSelectors: []cttypes.EventSelector{{ReadWriteType: cttypes.ReadWriteTypeWriteOnly, IncludeManagementEvents: aws.Bool(true)}}}); err != nil {
		t.Fatal(err)
	}
	rc.bothPaths(t, "the read-only calls in eu-west-1 are lost")
}

// rvReadOnlyWhereBusy replays the leaked key's calls: a user created in
// us-east-1, and two read-only calls in eu-west-1, a busy region (a write
// every minute over the window, more than the cross-check's two pages
// after the read-only calls).
func rvReadOnlyWhereBusy(t *testing.T, rc roundCase) {
	t.Helper()
	var busy []json.RawMessage
	for d := 178 * time.Minute; d > time.Minute; d -= time.Minute {
		busy = append(busy, rvRecord(rc, rc.now.Add(-d), "ec2", "CreateTags", "eu-west-1", fmt.Sprintf("b%d", d/time.Minute), false))
	}
	rvReplay(t, rc, busy...)
	rvReplay(t, rc,
		rvRecord(rc, rc.t0, "iam", "CreateUser", "us-east-1", "u1", false),
		rvRecord(rc, rc.now.Add(-160*time.Minute+30*time.Second), "ec2", "DescribeInstances", "eu-west-1", "r1", true),
		rvRecord(rc, rc.now.Add(-159*time.Minute+30*time.Second), "s3", "ListBuckets", "eu-west-1", "r2", true))
}

// TestTrailBucketReplicaCountsTheTrailsOfItsSource: keyleak reads a copy
// of the trail bucket (replicated into a security account, say), which no
// trail writes. Alone, the copy stands for its data events, and
// LookupEvents reads the read-only calls in eu-west-1; named as the replica
// of the bucket the world's trail writes, its files count as that trail's:
// the trail path reads every management event from it, finds what
// LookupEvents finds, and the report names both buckets.
func TestTrailBucketReplicaCountsTheTrailsOfItsSource(t *testing.T) {
	rc := newRoundCase(t)
	rvReadOnlyWhereBusy(t, rc)
	client, source := rvClient(rc), rc.w.Gateway.TrailBucket()
	rc.bucket = "security-copy-of-trail"
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(rc.bucket)}); err != nil {
		t.Fatal(err)
	}
	if n := eachLogFile(t, client, source, "/CloudTrail/", func(key *string) {
		if _, err := client.CopyObject(t.Context(), &s3.CopyObjectInput{Bucket: aws.String(rc.bucket), Key: key,
			CopySource: aws.String(source + "/" + aws.ToString(key))}); err != nil {
			t.Fatal(err)
		}
	}); n == 0 {
		t.Fatal("the world's trail delivered no log file")
	}
	unwritten := func(p awsops.PlanPart) bool {
		return p.Path == awsops.PathLookup && strings.Contains(p.Reason, "no trail that logs now writes the folder read")
	}

	_, alone := rc.bothPaths(t, "the copy alone: LookupEvents reads the read-only calls")
	if !slices.ContainsFunc(alone.Plan, unwritten) {
		t.Errorf("read alone, the copy is taken to hold every management event:\n%s", rvReport(alone))
	}
	if !slices.ContainsFunc(alone.Gaps, func(g awsops.Gap) bool {
		return strings.Contains(g.Reason, "name that bucket in aws.trail_source_bucket, or --trail-source-bucket")
	}) {
		t.Errorf("no gap says how to read a copy of the trails' bucket:\n%s", rvReport(alone))
	}

	rc.source = source
	lookup, named := rc.bothPaths(t, "the replica's files are its source trail's")
	if !slices.ContainsFunc(lookup.Gaps, func(g awsops.Gap) bool {
		return g.Step == awsops.StepDataEvents && strings.Contains(g.Reason, "replica of "+source) && strings.Contains(g.Reason, "a file it has not copied")
	}) {
		t.Errorf("on the LookupEvents path, no gap says that the replica may lack data events:\n%s", rvReport(lookup))
	}
	if slices.ContainsFunc(named.Plan, unwritten) {
		t.Errorf("named as the replica of %s, the copy still stands for its data events only:\n%s", source, rvReport(named))
	}
	// The minutes S3 may not have copied yet go to LookupEvents, and a gap
	// says what a replica cannot show.
	if !slices.ContainsFunc(named.Plan, func(p awsops.PlanPart) bool {
		return p.Path == awsops.PathLookup && strings.Contains(p.Reason, "not yet delivered: LookupEvents reads from 45 minutes, CloudTrail's 15 minutes and S3 replication's 30 minutes")
	}) {
		t.Errorf("no plan part reads S3 replication's lag with LookupEvents:\n%s", rvReport(named))
	}
	if !slices.ContainsFunc(named.Gaps, func(g awsops.Gap) bool {
		return strings.Contains(g.Reason, "read as the replica of "+source) && strings.Contains(g.Reason, "a file missing between files received")
	}) {
		t.Errorf("no gap says what a replica cannot show:\n%s", rvReport(named))
	}
	if named.Trail == nil || named.Trail.Bucket != rc.bucket || named.Trail.Source != source {
		t.Fatalf("the trail read = %+v, want bucket %s read as the replica of %s", named.Trail, rc.bucket, source)
	}
	var report strings.Builder
	if err := named.Render(&report, "text"); err != nil {
		t.Fatal(err)
	}
	if want := "trail bucket " + rc.bucket + " (a replica of " + source + ")"; !strings.Contains(report.String(), want) {
		t.Errorf("the report does not say %q:\n%s", want, report.String())
	}
	if got, want := sessionEvents(named, rc.leaked), sessionEvents(lookup, rc.leaked); got != want || got < 3 {
		t.Errorf("the leaked key's calls: replica %d, LookupEvents %d (want the same, at least the three played)", got, want)
	}
}

// TestTrailThatWritesNoFileReadDoesNotCount: the files read hold write
// events only. A trail that writes none of them must not make the bucket
// look whole, and leaving a trail out must never make it look more whole:
//   - another trail records every management event, but was stopped
//     (StopLogging, by the attacker or anyone), or writes under another key
//     prefix of the bucket, while the trail writing the files records
//     write events (WriteOnly);
//   - the only trail, WriteOnly, was stopped after the window's calls, or
//     moved to another prefix since (UpdateTrail): no trail that logs now
//     writes the folder, and its files stand for their data events only.
//
// LookupEvents reads the read-only calls in eu-west-1; the plan says why,
// and a gap names a stopped trail, or says that no trail writes the folder.
func TestTrailThatWritesNoFileReadDoesNotCount(t *testing.T) {
	writeOnly := func(t *testing.T, ct *cloudtrail.Client, name string) {
		t.Helper()
		if _, err := ct.PutEventSelectors(t.Context(), &cloudtrail.PutEventSelectorsInput{TrailName: aws.String(name),
			EventSelectors: []cttypes.EventSelector{{ReadWriteType: cttypes.ReadWriteTypeWriteOnly, IncludeManagementEvents: aws.Bool(true)}}}); err != nil {
			t.Fatal(err)
		}
	}
	stop := func(t *testing.T, ct *cloudtrail.Client, name string) {
		t.Helper()
		if _, err := ct.StopLogging(t.Context(), &cloudtrail.StopLoggingInput{Name: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		setUp func(t *testing.T, ct *cloudtrail.Client, bucket string)
		plan  string // what the plan says the bucket lacks
		gap   string // what a gap says, "" for none
	}{
		{"another-trail-stopped", func(t *testing.T, ct *cloudtrail.Client, bucket string) {
			rvTrail(t, ct, &cloudtrail.CreateTrailInput{Name: aws.String("everything"), S3BucketName: aws.String(bucket), IsMultiRegionTrail: aws.Bool(true)})
			stop(t, ct, "everything")
			rvTrail(t, ct, &cloudtrail.CreateTrailInput{Name: aws.String("writes"), S3BucketName: aws.String(bucket), IsMultiRegionTrail: aws.Bool(true)})
			writeOnly(t, ct, "writes")
		}, "no read-only management events", "trail/everything writes to the trail bucket but does not log now"},
		{"another-trail-elsewhere", func(t *testing.T, ct *cloudtrail.Client, bucket string) {
			rvTrail(t, ct, &cloudtrail.CreateTrailInput{Name: aws.String("everything"), S3BucketName: aws.String(bucket), IsMultiRegionTrail: aws.Bool(true), S3KeyPrefix: aws.String("elsewhere")})
			rvTrail(t, ct, &cloudtrail.CreateTrailInput{Name: aws.String("writes"), S3BucketName: aws.String(bucket), IsMultiRegionTrail: aws.Bool(true)})
			writeOnly(t, ct, "writes")
		}, "no read-only management events", ""},
		{"the-only-trail-stopped", func(t *testing.T, ct *cloudtrail.Client, bucket string) {
			rvTrail(t, ct, &cloudtrail.CreateTrailInput{Name: aws.String("writes"), S3BucketName: aws.String(bucket), IsMultiRegionTrail: aws.Bool(true)})
			writeOnly(t, ct, "writes")
			stop(t, ct, "writes")
		}, "no trail that logs now writes the folder read", "trail/writes writes to the trail bucket but does not log now"},
		{"the-only-trail-moved", func(t *testing.T, ct *cloudtrail.Client, bucket string) {
			rvTrail(t, ct, &cloudtrail.CreateTrailInput{Name: aws.String("writes"), S3BucketName: aws.String(bucket), IsMultiRegionTrail: aws.Bool(true)})
			writeOnly(t, ct, "writes")
			if _, err := ct.UpdateTrail(t.Context(), &cloudtrail.UpdateTrailInput{Name: aws.String("writes"), S3KeyPrefix: aws.String("elsewhere")}); err != nil {
				t.Fatal(err)
			}
		}, "no trail that logs now writes the folder read", "no trail of the account writes AWSLogs/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newRoundCase(t)
			rvReadOnlyWhereBusy(t, rc)
			rvKeepWritesOutside(t, rc, "")
			ct := cloudtrail.NewFromConfig(rc.w.Config("us-east-1", rc.w.Admin(world.DefaultAccount)))
			tc.setUp(t, ct, rc.w.Gateway.TrailBucket())
			_, trail := rc.bothPaths(t, "the read-only calls in eu-west-1 are lost")
			if !slices.ContainsFunc(trail.Plan, func(p awsops.PlanPart) bool {
				return p.Path == awsops.PathLookup && strings.Contains(p.Reason, tc.plan) && strings.Contains(p.Reason, "eu-west-1") && !strings.Contains(p.Reason, "trail/everything")
			}) {
				t.Errorf("no plan part says %q of eu-west-1 (and none counts trail/everything):\n%s", tc.plan, rvReport(trail))
			}
			gap := slices.ContainsFunc(trail.Gaps, func(g awsops.Gap) bool { return tc.gap != "" && strings.Contains(g.Reason, tc.gap) })
			if gap != (tc.gap != "") {
				t.Errorf("a gap says %q: %v, want %v:\n%s", tc.gap, gap, tc.gap != "", rvReport(trail))
			}
		})
	}
}
