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
	removed := eachLogFile(t, client, run.Target.TrailBucket, prefix, func(key *string) {
		if _, err := client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(run.Target.TrailBucket), Key: key}); err != nil {
			t.Fatal(err)
		}
	})
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

// hopAcct is the account the leaked key of the hop tests assumes a role
// in; hopRoot is that key, an IAM user's of the world's default account.
const (
	hopAcct, hopRegion = "222233334444", "us-east-1"
	hopRoot            = "AKIAQNZGKIQY56JQROOT"
)

// hopAt is a time of the hop tests' day.
func hopAt(h, m, s int) time.Time { return time.Date(2026, 11, 21, h, m, s, 0, time.UTC) }

// hopRecord is a management event made by the caller of the JSON identity
// ident in account.
func hopRecord(ident string, at time.Time, account, source, name, params, response, id string) string {
	return fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":%s,"eventTime":"%s","eventSource":"%s.amazonaws.com","eventName":"%s","awsRegion":"%s","requestParameters":%s,"responseElements":%s,"eventID":"%s","recipientAccountId":"%s","managementEvent":true,"eventCategory":"Management"}`,
		ident, at.Format(time.RFC3339), source, name, hopRegion, params, response, id, account)
}

// hopUser is the identity of an IAM user of account calling with key.
func hopUser(account, user, key string) string {
	return fmt.Sprintf(`{"type":"IAMUser","accountId":"%s","arn":"arn:aws:iam::%s:user/%s","userName":"%s","accessKeyId":"%s"}`, account, account, user, user, key)
}

// hopAssume is the leaked key assuming a role of hopAcct, minting key.
func hopAssume(at time.Time, key, expires, id string) string {
	return hopRecord(hopUser(world.DefaultAccount, "ci", hopRoot), at, world.DefaultAccount, "sts", "AssumeRole", `{"roleArn":"arn:aws:iam::`+hopAcct+`:role/deploy","roleSessionName":"s"}`,
		`{"credentials":{"accessKeyId":"`+key+`","expiration":"`+expires+`"},"assumedRoleUser":{"arn":"arn:aws:sts::`+hopAcct+`:assumed-role/deploy/s"}}`, id)
}

// hopSession is the identity of a session of hopAcct's role.
func hopSession(key string) string {
	return `{"type":"AssumedRole","accountId":"` + hopAcct + `","arn":"arn:aws:sts::` + hopAcct + `:assumed-role/deploy/s","accessKeyId":"` + key + `"}`
}

// hopFile is a log file of the hop tests' bucket.
type hopFile struct {
	account string
	stamp   time.Time
	records []string
}

// hopPass puts files in a trail bucket of the local world and runs the
// trail-first pass from the leaked key over w: the credentials it tracked
// and the calls of theirs it counted.
func hopPass(t *testing.T, files []hopFile, w awsops.Window) (keys []string, calls int) {
	t.Helper()
	wd := world.Start(t)
	ctx := t.Context()
	admin := wd.Config(hopRegion, wd.Admin(world.DefaultAccount))
	client := s3.NewFromConfig(admin, func(o *s3.Options) { o.UsePathStyle = true })
	const bucket = "org-trail"
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		key := trailtest.LogKey(f.account, hopRegion, f.stamp, "x")
		body := trailtest.Gzip(t, []byte(`{"Records":[`+strings.Join(f.records, ",")+`]}`))
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	c := awsops.NewFromConfig(admin, awsops.Options{})
	return c.TrailPassOver(ctx, client, bucket, awsops.Session{AccessKeyID: hopRoot, Account: world.DefaultAccount}, w)
}

// TestTrailPassListsAHopAccountForEveryCredential: the leaked key assumes
// a role of another account twice, two hours apart; the second session's
// call, in that account's log file of two hours later, is read too (the
// account's folder was listed for the first session's life only).
func TestTrailPassListsAHopAccountForEveryCredential(t *testing.T) {
	const first, second = "ASIAQNZGKIQY56JQHOP1", "ASIAQNZGKIQY56JQHOP2"
	call := func(at time.Time, key, id string) string {
		return hopRecord(hopSession(key), at, hopAcct, "s3", "ListBuckets", "null", "null", id)
	}
	home := world.DefaultAccount
	keys, calls := hopPass(t, []hopFile{
		{home, hopAt(10, 5, 0), []string{hopAssume(hopAt(10, 0, 0), first, "Nov 21, 2026, 10:15:00 AM", "a1")}},
		{hopAcct, hopAt(10, 5, 0), []string{call(hopAt(10, 3, 0), first, "c1")}},
		{home, hopAt(12, 5, 0), []string{hopAssume(hopAt(12, 0, 0), second, "Nov 21, 2026, 1:00:00 PM", "a2")}},
		{hopAcct, hopAt(12, 35, 0), []string{call(hopAt(12, 30, 0), second, "c2")}},
	}, awsops.Window{Start: hopAt(9, 0, 0), End: hopAt(14, 0, 0)})
	if !slices.Contains(keys, first) || !slices.Contains(keys, second) {
		t.Fatalf("tracked %v, want both sessions in %s", keys, hopAcct)
	}
	if calls != 4 {
		t.Errorf("%d calls of the tree, want 4: two AssumeRole and each session's call in %s", calls, hopAcct)
	}
}

// TestTrailPassReadsTheFileOfTheMinuteItBegins: a log file's name bears
// the minute it was delivered, cut to the minute: the file stamped 10:03
// may hold a call of 10:03:40. A listing that begins at 10:03:20 (a
// session minted then, in another account; a window that begins then)
// reads it.
func TestTrailPassReadsTheFileOfTheMinuteItBegins(t *testing.T) {
	t.Run("a hop account's listing", func(t *testing.T) {
		const minted = "ASIAQNZGKIQY56JQHOP1"
		keys, calls := hopPass(t, []hopFile{
			{world.DefaultAccount, hopAt(10, 5, 0), []string{hopAssume(hopAt(10, 3, 20), minted, "Nov 21, 2026, 11:03:20 AM", "a1")}},
			{hopAcct, hopAt(10, 3, 0), []string{hopRecord(hopSession(minted), hopAt(10, 3, 40), hopAcct, "s3", "ListBuckets", "null", "null", "c1")}},
		}, awsops.Window{Start: hopAt(9, 0, 0), End: hopAt(14, 0, 0)})
		if !slices.Contains(keys, minted) || calls != 2 {
			t.Errorf("tracked %v with %d calls, want the session and 2 calls: the AssumeRole and the call at 10:03:40 (file stamped 10:03)", keys, calls)
		}
	})
	t.Run("the window's first minute", func(t *testing.T) {
		_, calls := hopPass(t, []hopFile{
			{world.DefaultAccount, hopAt(10, 3, 0), []string{hopRecord(hopUser(world.DefaultAccount, "ci", hopRoot), hopAt(10, 3, 40), world.DefaultAccount, "s3", "ListBuckets", "null", "null", "c1")}},
		}, awsops.Window{Start: hopAt(10, 3, 20), End: hopAt(14, 0, 0)})
		if calls != 1 {
			t.Errorf("%d calls, want the one at 10:03:40 in the file stamped 10:03", calls)
		}
	})
}

// TestTrailPassWatchesADoorInAHopAccountForItsLife: a session in another
// account (10:00 to 11:00) creates a user there at 10:10; the user calls
// at 20:00, long after the session expired. The account's folder is read
// from the door's opening on, not only for the session's life.
func TestTrailPassWatchesADoorInAHopAccountForItsLife(t *testing.T) {
	const minted = "ASIAQNZGKIQY56JQHOP1"
	other := func(account string) string { return hopUser(account, "other", "AKIAQNZGKIQY56JQOTHR") }
	keys, calls := hopPass(t, []hopFile{
		{world.DefaultAccount, hopAt(10, 5, 0), []string{hopAssume(hopAt(10, 0, 0), minted, "Nov 21, 2026, 11:00:00 AM", "a1")}},
		{hopAcct, hopAt(10, 15, 0), []string{hopRecord(hopSession(minted), hopAt(10, 10, 0), hopAcct, "iam", "CreateUser", `{"userName":"backdoor"}`, `{"user":{"userName":"backdoor"}}`, "c1")}},
		{hopAcct, hopAt(20, 5, 0), []string{hopRecord(hopUser(hopAcct, "backdoor", "AKIAQNZGKIQY56JQBACK"), hopAt(20, 0, 0), hopAcct, "s3", "ListBuckets", "null", "null", "u1")}},
		// Later files of both accounts, as a busy trail has.
		{hopAcct, hopAt(20, 55, 0), []string{hopRecord(other(hopAcct), hopAt(20, 50, 0), hopAcct, "s3", "ListBuckets", "null", "null", "o1")}},
		{world.DefaultAccount, hopAt(20, 55, 0), []string{hopRecord(other(world.DefaultAccount), hopAt(20, 50, 0), world.DefaultAccount, "s3", "ListBuckets", "null", "null", "o2")}},
	}, awsops.Window{Start: hopAt(9, 0, 0), End: hopAt(21, 0, 0)})
	if !slices.Contains(keys, "user:"+hopAcct+":backdoor") {
		t.Fatalf("tracked %v, want the user the session created", keys)
	}
	if calls != 3 {
		t.Errorf("%d calls of the tree, want 3: the AssumeRole, the CreateUser and the user's call at 20:00", calls)
	}
}
