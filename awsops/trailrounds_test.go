package awsops_test

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// roundCase is a leaked key that assumes a role, and the session's calls,
// replayed into the local world's trail, whose bucket then loses some
// files: what the trail path finds through LookupEvents where the bucket
// lacks files must be read from the files it has.
type roundCase struct {
	w               *world.World
	leaked, session string
	now, t0         time.Time
	// bucket, when set, is read instead of the world's trail bucket, as
	// the replica of source when that is set.
	bucket, source string
}

func newRoundCase(t *testing.T) roundCase {
	t.Helper()
	w := world.New(t, world.NewMotoTB(t))
	now := time.Now().UTC() // the one clock of the case: the world's is time.Now too
	startWorldTrail(t, w)
	return roundCase{w: w, leaked: world.NewAccessKeyID("AKIA", world.DefaultAccount), session: world.NewAccessKeyID("ASIA", world.DefaultAccount),
		now: now, t0: now.Add(-90 * time.Minute).Truncate(5 * time.Minute).Add(time.Minute)}
}

// worldTrail is the name of the trail that writes a world's log files.
const worldTrail = "world"

// startWorldTrail gives the world's default account the trail that writes
// the log files the gateway delivers, as an account with a trail bucket
// has one: multi-region, every management event, logging. Without it, no
// trail is known to write the folder, and the trail path reads only data
// events from it. A case that sets its own trails up (rvTrail) replaces it.
func startWorldTrail(tb testing.TB, w *world.World) {
	tb.Helper()
	// (the gateway makes the bucket at its first delivery, later)
	s3c := s3.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(tb.Context(), &s3.CreateBucketInput{Bucket: aws.String(w.Gateway.TrailBucket())}); err != nil {
		tb.Fatal(err)
	}
	ct := cloudtrail.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)))
	if _, err := ct.CreateTrail(tb.Context(), &cloudtrail.CreateTrailInput{Name: aws.String(worldTrail), S3BucketName: aws.String(w.Gateway.TrailBucket()),
		IsMultiRegionTrail: aws.Bool(true)}); err != nil {
		tb.Fatal(err)
	}
	if _, err := ct.StartLogging(tb.Context(), &cloudtrail.StartLoggingInput{Name: aws.String(worldTrail)}); err != nil {
		tb.Fatal(err)
	}
}

// record is a call of the leaked key (session false) or of the session,
// d after t0.
func (rc roundCase) record(session bool, d time.Duration, source, name, region, params, response, id string, data bool) json.RawMessage {
	acct := world.DefaultAccount
	ident := fmt.Sprintf(`{"type":"IAMUser","principalId":"AIDAX","arn":"arn:aws:iam::%s:user/ci","accountId":"%s","accessKeyId":"%s","userName":"ci"}`, acct, acct, rc.leaked)
	if session {
		ident = fmt.Sprintf(`{"type":"AssumedRole","principalId":"AROAX:s","arn":"arn:aws:sts::%s:assumed-role/deploy/s","accountId":"%s","accessKeyId":"%s"}`, acct, acct, rc.session)
	}
	category := "Management"
	if data {
		category = "Data"
	}
	return json.RawMessage(fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":%s,"eventTime":"%s","eventSource":"%s.amazonaws.com","eventName":"%s","awsRegion":"%s","sourceIPAddress":"203.0.113.9","userAgent":"x","requestParameters":%s,"responseElements":%s,"requestID":"%s","eventID":"%s","readOnly":true,"eventType":"AwsApiCall","managementEvent":%v,"recipientAccountId":"%s","eventCategory":"%s"}`,
		ident, rc.t0.Add(d).Format(time.RFC3339), source, name, region, params, response, id, id, !data, acct, category))
}

// assume is the leaked key minting the session, d after t0, in region.
func (rc roundCase) assume(d time.Duration, region string) json.RawMessage {
	acct := world.DefaultAccount
	expires := rc.t0.Add(d + time.Hour).Format("Jan 2, 2006, 3:04:05 PM")
	return rc.record(false, d, "sts", "AssumeRole", region, `{"roleArn":"arn:aws:iam::`+acct+`:role/deploy","roleSessionName":"s"}`,
		`{"credentials":{"accessKeyId":"`+rc.session+`","sessionToken":"x","expiration":"`+expires+`"},"assumedRoleUser":{"assumedRoleId":"AROAX:s","arn":"arn:aws:sts::`+acct+`:assumed-role/deploy/s"}}`, "mint", false)
}

// play replays records into the trail, then removes from the bucket the
// log files whose key holds drop.
func (rc roundCase) play(t *testing.T, drop string, records ...json.RawMessage) {
	t.Helper()
	rvReplay(t, rc, records...)
	client, bucket := rvClient(rc), rc.w.Gateway.TrailBucket()
	dropped := eachLogFile(t, client, bucket, drop, func(key *string) {
		if _, err := client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: key}); err != nil {
			t.Fatal(err)
		}
	})
	if dropped == 0 {
		t.Fatalf("no log file holds %q to remove", drop)
	}
}

// eachLogFile calls fn with every object of the trail bucket (under
// AWSLogs/) whose key holds part, and returns how many there were.
func eachLogFile(t *testing.T, client *s3.Client, bucket, part string, fn func(key *string)) int {
	t.Helper()
	n := 0
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("AWSLogs/")})
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			if strings.Contains(aws.ToString(o.Key), part) {
				fn(o.Key)
				n++
			}
		}
	}
	return n
}

// investigate runs the investigation on one path over two regions.
func (rc roundCase) investigate(t *testing.T, path string) *awsops.Investigation {
	t.Helper()
	return rc.investigateThrough(t, path, nil)
}

// investigateThrough is investigate with keyleak's AWS calls made through
// the transport wrap returns (nil: as they are), which may watch or fail
// some of them.
func (rc roundCase) investigateThrough(t *testing.T, path string, wrap func(http.RoundTripper) http.RoundTripper) *awsops.Investigation {
	t.Helper()
	cfg := rc.w.Config("us-east-1", rc.w.Admin(world.DefaultAccount))
	if wrap != nil {
		cfg.HTTPClient = &http.Client{Transport: wrap(cfg.HTTPClient.(*http.Client).Transport)}
	}
	key, err := awsops.ParseAccessKeyID(rc.leaked)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := awsops.NewFromConfig(cfg, awsops.Options{}).Investigate(t.Context(), key, awsops.InvestigateOptions{TrailBucket: cmp.Or(rc.bucket, rc.w.Gateway.TrailBucket()), TrailSource: rc.source,
		Regions: []string{"us-east-1", "eu-west-1"}, Path: path, Since: rc.now.Add(-3 * time.Hour)})
	if err != nil {
		t.Fatalf("%s path: %v", path, err)
	}
	return inv
}

// sessionEvents is the number of calls of key in inv, -1 when it is not in
// the tree.
func sessionEvents(inv *awsops.Investigation, key string) int {
	for _, s := range inv.Sessions {
		if s.AccessKeyID == key {
			return s.Activity.Events
		}
	}
	return -1
}

// TestTrailPathReadsTheFilesForWhatLookupEventsFound: the trail delivers
// us-east-1 only; the leaked key assumes a role through STS in eu-west-1
// (found by LookupEvents), and the session reads an S3 object in
// us-east-1, a data event only the bucket holds. The trail path reads the
// files again for the session, and finds what the LookupEvents path
// finds.
func TestTrailPathReadsTheFilesForWhatLookupEventsFound(t *testing.T) {
	rc := newRoundCase(t)
	rc.play(t, "/CloudTrail/eu-west-1/",
		rc.record(false, 0, "iam", "ListUsers", "us-east-1", "null", "null", "e1", false),
		rc.assume(time.Minute, "eu-west-1"),
		rc.record(true, 3*time.Minute, "s3", "GetObject", "us-east-1", `{"bucketName":"secrets","key":"db.txt"}`, "null", "e3", true),
		rc.record(true, 4*time.Minute, "s3", "ListBuckets", "us-east-1", "null", "null", "e4", false))
	lookup, trail := rc.investigate(t, awsops.PathLookup), rc.investigate(t, awsops.PathTrail)
	if lookup.DataEvents == nil || lookup.DataEvents.Events != 1 {
		t.Fatalf("the LookupEvents path found data events %+v, want the GetObject", lookup.DataEvents)
	}
	if trail.DataEvents == nil || trail.DataEvents.Events != 1 {
		t.Errorf("the trail path found data events %+v, want the session's GetObject", trail.DataEvents)
	}
	if got, want := sessionEvents(trail, rc.session), sessionEvents(lookup, rc.session); got != want || got != 2 {
		t.Errorf("the session's calls: trail path %d, LookupEvents path %d, want 2: the GetObject and the ListBuckets", got, want)
	}
	sameAnswers(t, lookup, trail)
}

// TestTrailPathSweepsWhatTheCrossCheckFindsMinted: the log file holding
// the AssumeRole is gone, and with it the session's first call (a user it
// creates); the files around it are close enough that the bucket stands
// for its span, and the key calls on (more than a LookupEvents page, so
// that its spans are looked up apart) until the span is before the
// minutes not yet delivered. The cross-check finds the AssumeRole through
// LookupEvents, and the session it minted is looked up whole and read
// like any other: its calls, and the door it opened, are in the report.
func TestTrailPathSweepsWhatTheCrossCheckFindsMinted(t *testing.T) {
	rc := newRoundCase(t)
	mint := rc.t0.Add(6 * time.Minute)
	records := []json.RawMessage{
		rc.record(false, 0, "iam", "ListUsers", "us-east-1", "null", "null", "e1", false),
		rc.assume(6*time.Minute, "us-east-1"),
		rc.record(true, 8*time.Minute, "iam", "CreateUser", "us-east-1", `{"userName":"x"}`, `{"user":{"userName":"x"}}`, "e2", false),
		rc.record(true, 12*time.Minute, "s3", "ListBuckets", "us-east-1", "null", "null", "e3", false),
		rc.record(true, 13*time.Minute, "iam", "ListRoles", "us-east-1", "null", "null", "e4", false),
	}
	for i := range 60 {
		records = append(records, rc.record(false, 20*time.Minute+time.Duration(i)*40*time.Second, "iam", "ListGroups", "us-east-1", "null", "null", fmt.Sprintf("later-%d", i), false))
	}
	rc.play(t, mint.Truncate(5*time.Minute).Add(5*time.Minute).Format("20060102T1504Z"), records...)
	lookup, trail := rc.investigate(t, awsops.PathLookup), rc.investigate(t, awsops.PathTrail)
	if len(trail.CrossChecks) == 0 || trail.CrossChecks[0].Missing == 0 {
		t.Fatalf("cross-checks %+v, want the AssumeRole the bucket lost found missing", trail.CrossChecks)
	}
	if got, want := sessionEvents(trail, rc.session), sessionEvents(lookup, rc.session); got != want || got != 3 {
		t.Errorf("the session's calls: trail path %d, LookupEvents path %d, want 3", got, want)
	}
	user := "user:" + world.DefaultAccount + ":x"
	if !slices.ContainsFunc(trail.Sessions, func(s awsops.Session) bool { return s.ID == user }) {
		t.Errorf("the trail path's tree lacks the user the session created (%s)", user)
	}
}

// lookupCounter counts the first LookupEvents call of each lookup, by the
// value looked up, as it passes to the local world.
type lookupCounter struct {
	base http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (l *lookupCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".LookupEvents") && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var in struct {
			LookupAttributes []struct{ AttributeValue string }
			NextToken        string
		}
		if json.Unmarshal(body, &in) == nil && len(in.LookupAttributes) > 0 && in.NextToken == "" {
			l.mu.Lock()
			l.n[in.LookupAttributes[0].AttributeValue]++
			l.mu.Unlock()
		}
	}
	return l.base.RoundTrip(r)
}

// TestTrailRoundsLookUpEachCredentialOnce: the session LookupEvents finds
// in round one's sweep is swept there over its life; the next round, which
// reads the files for it, does not look it up again.
func TestTrailRoundsLookUpEachCredentialOnce(t *testing.T) {
	rc := newRoundCase(t)
	rc.play(t, "/CloudTrail/eu-west-1/",
		rc.record(false, 0, "iam", "ListUsers", "us-east-1", "null", "null", "e1", false),
		rc.assume(time.Minute, "eu-west-1"),
		rc.record(true, 4*time.Minute, "s3", "ListBuckets", "us-east-1", "null", "null", "e4", false))
	counter := &lookupCounter{n: map[string]int{}}
	inv := rc.investigateThrough(t, awsops.PathTrail, func(base http.RoundTripper) http.RoundTripper {
		counter.base = base
		return counter
	})
	if got := sessionEvents(inv, rc.session); got != 1 {
		t.Fatalf("the session's calls: %d, want its ListBuckets", got)
	}
	if n := counter.n[rc.session]; n != 2 {
		t.Errorf("the session was looked up %d times, want once in each of the 2 regions", n)
	}
}

// TestTrailCrossCheckLeavesFailedFilesToTheirGap: the file holding a call
// cannot be read; LookupEvents reads its span, so the cross-check does not
// count that call as missing from the bucket.
func TestTrailCrossCheckLeavesFailedFilesToTheirGap(t *testing.T) {
	rc := newRoundCase(t)
	if err := rc.w.Gateway.Replay(
		rc.record(false, 0, "iam", "ListUsers", "us-east-1", "null", "null", "e1", false),
		rc.record(false, 30*time.Minute, "iam", "ListRoles", "us-east-1", "null", "null", "e2", false)); err != nil {
		t.Fatal(err)
	}
	if err := rc.w.Gateway.FlushTrail(t.Context()); err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(rc.w.Config("us-east-1", rc.w.Admin(world.DefaultAccount)), func(o *s3.Options) { o.UsePathStyle = true })
	bucket := rc.w.Gateway.TrailBucket()
	stamp := rc.t0.Truncate(5 * time.Minute).Add(5 * time.Minute).Format("20060102T1504Z") // the file of e1
	broken := eachLogFile(t, client, bucket, stamp, func(key *string) {
		if _, err := client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: key, Body: strings.NewReader("not gzip")}); err != nil {
			t.Fatal(err)
		}
	})
	if broken == 0 {
		t.Fatalf("no log file stamped %s to break", stamp)
	}
	inv := rc.investigate(t, awsops.PathTrail)
	if inv.Activity.Events != 2 {
		t.Errorf("%d calls of the key, want both: one from the bucket, one from LookupEvents for the file that failed", inv.Activity.Events)
	}
	if len(inv.CrossChecks) != 1 || inv.CrossChecks[0].Missing != 0 {
		t.Errorf("cross-checks %+v, want one that finds nothing missing: the failed file has its own gap", inv.CrossChecks)
	}
	parts := 0
	for _, p := range inv.Plan {
		if p.Path == awsops.PathLookup && strings.Contains(p.Reason, stamp) && strings.Contains(p.Reason, "could not be read") {
			parts++
		}
	}
	if parts != 1 {
		t.Errorf("the plan names the failed file %d times, want once: %+v", parts, inv.Plan)
	}
}
