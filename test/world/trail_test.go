package world

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func s3Client(w *World, region string, creds Credentials, opts ...ClientOption) *s3.Client {
	return s3.NewFromConfig(w.Config(region, creds, opts...), func(o *s3.Options) { o.UsePathStyle = true })
}

func TestTrailLogFilesHoldDataEvents(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	admin := newBucket(t, w, "config-bucket", "terraform/terraform.tfstate", "{}")
	user := newUser(t, w, DefaultAccount, "ci-deploy-user")
	at := time.Date(2026, 3, 4, 10, 47, 12, 0, time.UTC)
	attacker := s3Client(w, "us-east-1", user, WithEventTime(func() time.Time { return at }),
		WithSourceIP("203.0.113.7"), WithUserAgent("aws-cli/2.15.0"))
	got, err := attacker.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("config-bucket"), Key: aws.String("terraform/terraform.tfstate")})
	if err != nil {
		t.Fatalf("get object: %v", err)
	}
	got.Body.Close()
	if err := w.Gateway.FlushTrail(ctx); err != nil {
		t.Fatalf("flush trail: %v", err)
	}

	prefix := "AWSLogs/123456789012/CloudTrail/us-east-1/2026/03/04/"
	list, err := admin.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(w.Gateway.TrailBucket()), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatalf("list trail bucket: %v", err)
	}
	if len(list.Contents) != 1 {
		t.Fatalf("trail files under %s = %d, want 1", prefix, len(list.Contents))
	}
	key := *list.Contents[0].Key
	name := regexp.MustCompile(`^` + prefix + `123456789012_CloudTrail_us-east-1_20260304T1050Z_[A-Z0-9]{16}\.json\.gz$`)
	if !name.MatchString(key) {
		t.Fatalf("trail file name %q does not match %v", key, name)
	}
	records := readTrailFile(t, admin, w.Gateway.TrailBucket(), key)
	if len(records) != 1 {
		t.Fatalf("records = %d, want 1", len(records))
	}
	r := records[0]
	checks := []struct{ name, got, want string }{
		{"eventName", r.EventName, "GetObject"},
		{"eventCategory", r.EventCategory, "Data"},
		{"bucketName", str(r.RequestParameters["bucketName"]), "config-bucket"},
		{"key", str(r.RequestParameters["key"]), "terraform/terraform.tfstate"},
		{"sourceIPAddress", r.SourceIPAddress, "203.0.113.7"},
		{"userAgent", r.UserAgent, "aws-cli/2.15.0"},
		{"eventTime", r.EventTime, "2026-03-04T10:47:12Z"},
		{"userName", r.UserIdentity.UserName, "ci-deploy-user"},
		{"eventVersion", r.EventVersion, "1.08"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !r.Time().Equal(at) {
		t.Errorf("Time() = %v, want %v", r.Time(), at)
	}
	if r.ManagementEvent || len(r.Resources) == 0 || r.Resources[0].ARN != "arn:aws:s3:::config-bucket/terraform/terraform.tfstate" {
		t.Errorf("managementEvent %v, resources %+v; want a data event on the object", r.ManagementEvent, r.Resources)
	}

	// Data events are not in LookupEvents.
	c := lookupClient(w, "us-east-1")
	out, err := c.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{
		AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: aws.String("GetObject"),
	}}})
	if err != nil {
		t.Fatalf("LookupEvents: %v", err)
	}
	if len(out.Events) != 0 {
		t.Fatalf("LookupEvents returned %d GetObject events, want none", len(out.Events))
	}
	if err := w.Gateway.FlushTrail(ctx); err != nil {
		t.Fatalf("second flush: %v", err)
	}
}

// newBucket creates a bucket holding one object, as the default account's admin, and
// returns the admin's S3 client.
func newBucket(tb testing.TB, w *World, bucket, key, body string) *s3.Client {
	tb.Helper()
	admin := s3Client(w, "us-east-1", w.Admin(DefaultAccount))
	if _, err := admin.CreateBucket(tb.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		tb.Fatalf("create bucket %s: %v", bucket, err)
	}
	if _, err := admin.PutObject(tb.Context(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body),
	}); err != nil {
		tb.Fatalf("put object %s/%s: %v", bucket, key, err)
	}
	return admin
}

func readTrailFile(tb testing.TB, c *s3.Client, bucket, key string) []Record {
	tb.Helper()
	obj, err := c.GetObject(tb.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		tb.Fatalf("get trail file %s: %v", key, err)
	}
	defer obj.Body.Close()
	raw, err := io.ReadAll(obj.Body)
	if err != nil {
		tb.Fatalf("read trail file: %v", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		tb.Fatalf("trail file is not gzip: %v", err)
	}
	var file struct{ Records []Record }
	if err := json.NewDecoder(zr).Decode(&file); err != nil {
		tb.Fatalf("decode trail file: %v", err)
	}
	return file.Records
}
