package awsops_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/awsops/trail/trailtest"
	"github.com/keyleak/keyleak/test/scenario"
	"github.com/keyleak/keyleak/test/world"
)

// TestTrailEmptyRegionFallsBack removes from the bucket the log files of
// the region where the leaked key was busiest: the plan reads exactly
// that region through LookupEvents, says why, and the answers are those
// of the LookupEvents path.
func TestTrailEmptyRegionFallsBack(t *testing.T) {
	moto := world.NewMotoTB(t)
	s := scenario.All()[0]
	w, run, _ := playScenario(t, moto, s)
	lookup := investigateRun(t, w, run, awsops.PathLookup)
	busiest := ""
	for _, sess := range lookup.Sessions {
		if sess.AccessKeyID == run.Target.Leaked.AccessKeyID && len(sess.Activity.Regions) > 0 {
			busiest = sess.Activity.Regions[0].Name
		}
	}
	if busiest == "" {
		t.Fatal("the leaked key has no activity to take from the bucket")
	}
	client := s3.NewFromConfig(w.Config("us-east-1", w.Admin(run.Target.Account)), func(o *s3.Options) { o.UsePathStyle = true })
	prefix := "AWSLogs/" + run.Target.Account + "/CloudTrail/" + busiest + "/"
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(run.Target.TrailBucket), Prefix: aws.String(prefix)})
	removed := 0
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			if _, err := client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(run.Target.TrailBucket), Key: o.Key}); err != nil {
				t.Fatal(err)
			}
			removed++
		}
	}
	if removed == 0 {
		t.Fatalf("no log file under %s to remove", prefix)
	}

	// Both paths now read what the bucket holds for data events, which
	// LookupEvents does not return.
	lookup = investigateRun(t, w, run, awsops.PathLookup)
	trail := investigateRun(t, w, run, "")
	if trail.Plan[0].Path != awsops.PathTrail {
		t.Fatalf("the planner chose %s: %s", trail.Plan[0].Path, trail.Plan[0].Reason)
	}
	i := slices.IndexFunc(trail.Plan, func(p awsops.PlanPart) bool {
		return p.Account == run.Target.Account && p.Region == busiest && p.Path == awsops.PathLookup
	})
	if i < 0 {
		t.Fatalf("the plan has no LookupEvents part for %s, whose files were removed: %+v", busiest, trail.Plan)
	}
	if !strings.Contains(trail.Plan[i].Reason, "no log file of this region") {
		t.Errorf("the part for %s says %q, want why", busiest, trail.Plan[i].Reason)
	}
	for _, st := range trail.Sweep {
		if st.Account == run.Target.Account && st.Region == busiest && st.Events == 0 {
			t.Errorf("LookupEvents read nothing in %s: %+v", busiest, st)
		}
	}
	sameAnswers(t, lookup, trail)
}

// TestTrailPassListsAHopAccountForEveryCredential: the leaked key assumes
// a role of another account twice, two hours apart; the second session's
// call, in that account's log file of two hours later, is read too (the
// account's folder was listed for the first session's life only).
func TestTrailPassListsAHopAccountForEveryCredential(t *testing.T) {
	w := world.Start(t)
	ctx := t.Context()
	const hop, region = "222233334444", "us-east-1"
	home := world.DefaultAccount
	root, first, second := "AKIAQNZGKIQY56JQROOT", "ASIAQNZGKIQY56JQHOP1", "ASIAQNZGKIQY56JQHOP2"
	at := func(h, m int) time.Time { return time.Date(2026, 11, 21, h, m, 0, 0, time.UTC) }
	identity := func(account, key string) string {
		return fmt.Sprintf(`{"type":"IAMUser","accountId":"%s","arn":"arn:aws:iam::%s:user/ci","userName":"ci","accessKeyId":"%s"}`, account, account, key)
	}
	record := func(ident string, t time.Time, account, source, name, params, response, id string) string {
		return fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":%s,"eventTime":"%s","eventSource":"%s.amazonaws.com","eventName":"%s","awsRegion":"%s","requestParameters":%s,"responseElements":%s,"eventID":"%s","recipientAccountId":"%s","managementEvent":true,"eventCategory":"Management"}`,
			ident, t.Format(time.RFC3339), source, name, region, params, response, id, account)
	}
	assume := func(t time.Time, key, expires, id string) string {
		return record(identity(home, root), t, home, "sts", "AssumeRole", `{"roleArn":"arn:aws:iam::`+hop+`:role/deploy","roleSessionName":"s"}`,
			`{"credentials":{"accessKeyId":"`+key+`","expiration":"`+expires+`"},"assumedRoleUser":{"arn":"arn:aws:sts::`+hop+`:assumed-role/deploy/s"}}`, id)
	}
	call := func(t time.Time, key, id string) string {
		return record(`{"type":"AssumedRole","accountId":"`+hop+`","arn":"arn:aws:sts::`+hop+`:assumed-role/deploy/s","accessKeyId":"`+key+`"}`, t, hop, "s3", "ListBuckets", "null", "null", id)
	}
	files := []struct {
		account string
		stamp   time.Time
		records []string
	}{
		{home, at(10, 5), []string{assume(at(10, 0), first, "Nov 21, 2026, 10:15:00 AM", "a1")}},
		{hop, at(10, 5), []string{call(at(10, 3), first, "c1")}},
		{home, at(12, 5), []string{assume(at(12, 0), second, "Nov 21, 2026, 1:00:00 PM", "a2")}},
		{hop, at(12, 35), []string{call(at(12, 30), second, "c2")}},
	}
	admin := w.Config(region, w.Admin(home))
	client := s3.NewFromConfig(admin, func(o *s3.Options) { o.UsePathStyle = true })
	const bucket = "org-trail"
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		key := trailtest.LogKey(f.account, region, f.stamp, "x")
		body := trailtest.Gzip(t, []byte(`{"Records":[`+strings.Join(f.records, ",")+`]}`))
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	c := awsops.NewFromConfig(admin, awsops.Options{})
	keys, calls := c.TrailPassOver(ctx, client, bucket, awsops.Session{AccessKeyID: root, Account: home}, awsops.Window{Start: at(9, 0), End: at(14, 0)})
	if !slices.Contains(keys, first) || !slices.Contains(keys, second) {
		t.Fatalf("tracked %v, want both sessions in %s", keys, hop)
	}
	if calls != 4 {
		t.Errorf("%d calls of the tree, want 4: two AssumeRole and each session's call in %s", calls, hop)
	}
}
