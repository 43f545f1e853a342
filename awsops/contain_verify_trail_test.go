package awsops_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// denyDayFolders answers AccessDenied to a listing of a day folder of the
// trail (…/CloudTrail/<region>/YYYY/…), as a bucket policy denying
// s3:ListBucket on some s3:prefix, or a throttled folder, would.
type denyDayFolders struct{ base http.RoundTripper }

func (d denyDayFolders) RoundTrip(r *http.Request) (*http.Response, error) {
	q := r.URL.Query()
	if r.Method == http.MethodGet && q.Get("list-type") == "2" && strings.Contains(q.Get("prefix"), "/CloudTrail/us-east-1/20") {
		body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`
		return &http.Response{StatusCode: 403, Status: "403 Forbidden", Header: http.Header{"Content-Type": {"application/xml"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	}
	return d.base.RoundTrip(r)
}

// sessionReadsAfterContainment: a GetSessionToken session of the leaked
// key reads an object after containment; the trail is delivered.
func sessionReadsAfterContainment(t *testing.T, s *ctSeed, truncate bool) (since time.Time, sess world.Credentials) {
	ctx := t.Context()
	admin := s3.NewFromConfig(s.w.Config("us-east-1", s.w.Admin(world.DefaultAccount)), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := admin.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("config-bucket"), Key: aws.String("prod.env"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	sess = sessionOfLeakedKey(t, s)
	time.Sleep(1100 * time.Millisecond)
	deactivateNow(t, s)
	var stamp []world.ClientOption
	if truncate {
		since = time.Now().Truncate(time.Second)
		time.Sleep(1100 * time.Millisecond)
	} else {
		// Respond's Since is the action's end, to the nanosecond: the
		// read is stamped in the same second, which CloudTrail writes
		// without the fraction.
		since = time.Now()
		stamp = append(stamp, world.WithEventTime(func() time.Time { return since }))
	}
	if _, err := s3.NewFromConfig(s.w.Config("us-east-1", sess, stamp...), func(o *s3.Options) { o.UsePathStyle = true }).GetObject(ctx,
		&s3.GetObjectInput{Bucket: aws.String("config-bucket"), Key: aws.String("prod.env")}); err != nil {
		t.Fatalf("the session reads the object after containment: %v", err)
	}
	if err := s.w.Gateway.FlushTrail(ctx); err != nil {
		t.Fatal(err)
	}
	return since, sess
}

// A day folder of the trail that cannot be listed is a problem: its files
// are not read, and verify cannot say contained.
func TestVerifyCountsAnUnlistableDayFolder(t *testing.T) {
	s := newCTSeed(t, world.NewMotoTB(t), awsops.Options{Regions: []string{"us-east-1"}})
	s.target.Roles = nil
	since, sess := sessionReadsAfterContainment(t, s, true)
	cfg := s.w.Config("us-east-1", s.w.Admin(world.DefaultAccount))
	hc := cfg.HTTPClient.(*http.Client)
	cfg.HTTPClient = &http.Client{Transport: denyDayFolders{base: hc.Transport}}
	c := awsops.NewFromConfig(cfg, awsops.Options{Regions: []string{"us-east-1"}})
	rep, err := c.Verify(t.Context(), s.target, awsops.VerifyOptions{Since: since, SessionKeys: []string{sess.AccessKeyID}, TrailBucket: s.w.Gateway.TrailBucket()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Contained() {
		t.Errorf("verify says contained though the us-east-1 day folder could not be listed: notes %q", rep.Notes)
	}
}

// A data event in containment's own second, after Since, counts:
// CloudTrail's times are to the second and Since is not.
func TestVerifySeesAnEventInContainmentsSecond(t *testing.T) {
	s := newCTSeed(t, world.NewMotoTB(t), awsops.Options{Regions: []string{"us-east-1"}})
	s.target.Roles = nil
	since, sess := sessionReadsAfterContainment(t, s, false)
	rep, err := s.c.Verify(t.Context(), s.target, awsops.VerifyOptions{Since: since, SessionKeys: []string{sess.AccessKeyID}, TrailBucket: s.w.Gateway.TrailBucket()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Contained() {
		t.Errorf("verify says contained though GetObject succeeded in containment's second (since %s): activity %+v notes %q",
			since.Format(time.RFC3339Nano), rep.Activity, rep.Notes)
	}
}

// A management call in a region outside Options.Regions, after
// containment, is in the trail files verify reads, while LookupEvents
// looks only in us-east-1: verify counts it.
func TestVerifyKeepsManagementEventsOfOtherRegions(t *testing.T) {
	ctx := t.Context()
	s := newCTSeed(t, world.NewMotoTB(t), awsops.Options{Regions: []string{"us-east-1"}})
	s.target.Roles = nil
	sess := sessionOfLeakedKey(t, s)
	time.Sleep(1100 * time.Millisecond)
	deactivateNow(t, s)
	since := time.Now().Truncate(time.Second)
	time.Sleep(1100 * time.Millisecond)
	if _, err := ec2.NewFromConfig(s.w.Config("eu-west-1", sess)).DescribeInstances(ctx, &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatal(err)
	}
	if err := s.w.Gateway.FlushTrail(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := s.c.Verify(ctx, s.target, awsops.VerifyOptions{Since: since, SessionKeys: []string{sess.AccessKeyID}, TrailBucket: s.w.Gateway.TrailBucket()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Contained() {
		t.Errorf("verify says contained though DescribeInstances succeeded in eu-west-1 after containment (in the files it read): notes %q", rep.Notes)
	}
}
