package awsops_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// sessionOfLeakedKey is a 12-hour sts:GetSessionToken session of the
// leaked key, as an attacker mints one before containment.
func sessionOfLeakedKey(t *testing.T, s *ctSeed) world.Credentials {
	t.Helper()
	out, err := sts.NewFromConfig(s.w.Config("us-east-1", s.leaked)).GetSessionToken(t.Context(), &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(12 * 3600)})
	if err != nil {
		t.Fatal(err)
	}
	return world.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
}

func deactivateNow(t *testing.T, s *ctSeed) {
	t.Helper()
	if _, err := s.c.ExecuteDeactivate(t.Context(), s.target); err != nil {
		t.Fatalf("deactivate: %v", err)
	}
}

// A GetSessionToken session of the leaked key (in the credential tree)
// outlives deactivation; verify only adds a note and says "contained".
func TestVerifySeesUserSessions(t *testing.T) {
	s := newCTSeed(t, world.NewMotoTB(t), awsops.Options{Regions: []string{"us-east-1"}})
	s.target.Roles = nil
	sess := sessionOfLeakedKey(t, s)
	deactivateNow(t, s)
	since := time.Now()
	rep, err := s.c.Verify(t.Context(), s.target, awsops.VerifyOptions{Since: since, SessionKeys: []string{sess.AccessKeyID}, UserSessions: []string{sess.AccessKeyID}})
	if err != nil {
		t.Fatal(err)
	}
	works := s.listBuckets(t, sess) == ""
	if rep.Contained() && works {
		t.Errorf("verify says contained (problems %v, notes %v) while the attacker's GetSessionToken session %s still works", rep.Problems, rep.Notes, sess.AccessKeyID)
	}
}

// A session the key minted reads an object after containment: a data
// event, which LookupEvents does not show. Verify reads it from the trail
// bucket, and does not say contained.
func TestVerifyReadsDataEventsFromTheTrail(t *testing.T) {
	ctx := t.Context()
	s := newCTSeed(t, world.NewMotoTB(t), awsops.Options{Regions: []string{"us-east-1"}})
	s.target.Roles = nil
	admin := s3.NewFromConfig(s.w.Config("us-east-1", s.w.Admin(world.DefaultAccount)), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := admin.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("config-bucket"), Key: aws.String("prod.env"), Body: strings.NewReader("DB_PASSWORD=x")}); err != nil {
		t.Fatal(err)
	}
	sess := sessionOfLeakedKey(t, s)
	time.Sleep(1100 * time.Millisecond) // CloudTrail times are to the second
	deactivateNow(t, s)
	since := time.Now().Truncate(time.Second)
	time.Sleep(1100 * time.Millisecond)
	if _, err := s3.NewFromConfig(s.w.Config("us-east-1", sess), func(o *s3.Options) { o.UsePathStyle = true }).GetObject(ctx,
		&s3.GetObjectInput{Bucket: aws.String("config-bucket"), Key: aws.String("prod.env")}); err != nil {
		t.Fatalf("the session reads the object after containment: %v", err)
	}
	if err := s.w.Gateway.FlushTrail(ctx); err != nil {
		t.Fatal(err)
	}
	opts := awsops.VerifyOptions{Since: since, SessionKeys: []string{sess.AccessKeyID}}
	if rep, err := s.c.Verify(ctx, s.target, opts); err != nil || !rep.Contained() {
		t.Fatalf("without the trail bucket verify = %v problems %v: the data event is not LookupEvents', want contained as far as it can tell", err, rep.Problems)
	}
	opts.TrailBucket = s.w.Gateway.TrailBucket()
	rep, err := s.c.Verify(ctx, s.target, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Contained() || !slices.ContainsFunc(rep.Problems, func(p string) bool {
		return strings.Contains(p, "GetObject succeeded with "+sess.AccessKeyID)
	}) {
		t.Errorf("the session's GetObject after containment is not a problem: problems %v, activity %+v", rep.Problems, rep.Activity)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool {
		return strings.Contains(n, "Data events of account "+world.DefaultAccount+" since containment read from")
	}) {
		t.Errorf("verify does not say what it read of the trail: %v", rep.Notes)
	}
}

// With Options.Regions empty (documented as "every enabled region"),
// verify looks only in the home region.
func TestVerifyLooksInEveryEnabledRegion(t *testing.T) {
	s := newCTSeed(t, world.NewMotoTB(t), awsops.Options{})
	s.target.Roles = nil
	backdoor := s.newUser(t, "backdoor") // a key the attacker created for another user
	deactivateNow(t, s)
	since := time.Now().Truncate(time.Second)
	time.Sleep(1100 * time.Millisecond)
	if _, err := ec2.NewFromConfig(s.w.Config("eu-west-1", backdoor)).DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatal(err)
	}
	rep, err := s.c.Verify(t.Context(), s.target, awsops.VerifyOptions{Since: since, SessionKeys: []string{backdoor.AccessKeyID}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range rep.Activity {
		found = found || (a.Region == "eu-west-1" && a.AccessKeyID == backdoor.AccessKeyID && !a.Refused())
	}
	if !found {
		t.Errorf("the backdoor key's successful DescribeInstances in eu-west-1 after containment is not in the activity: %+v (contained=%v)", rep.Activity, rep.Contained())
	}
	if rep.Contained() {
		t.Errorf("the backdoor key's call after containment, yet contained: %v", rep.Problems)
	}
}

// CloudTrail delivers events up to ~15 minutes late; verify 30 s after
// containment cannot know, yet says "contained" with nothing hedged.
func TestVerifySaysCloudTrailIsLate(t *testing.T) {
	s := newCTSeed(t, world.NewMotoTB(t), awsops.Options{Regions: []string{"us-east-1"}})
	s.target.Roles = nil
	deactivateNow(t, s)
	since := time.Now().Add(-30 * time.Second)
	rep, err := s.c.Verify(t.Context(), s.target, awsops.VerifyOptions{Since: since})
	if err != nil {
		t.Fatal(err)
	}
	if want := since.Add(awsops.DeliveryLag); rep.Contained() && !rep.Settles.Equal(want) {
		t.Errorf("30 s after containment verify says contained, settling at %v: want it to say CloudTrail may not show the calls until %v", rep.Settles, want)
	}
	// Read from a replica of the trail bucket, the files come later still.
	rep, err = s.c.Verify(t.Context(), s.target, awsops.VerifyOptions{Since: since, TrailBucket: s.w.Gateway.TrailBucket(), TrailSource: "org-trail-source"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Contained() && !rep.Settles.After(since.Add(awsops.DeliveryLag)) {
		t.Errorf("verify of a replica settles at %v: want later than the trail's own delivery, %v", rep.Settles, since.Add(awsops.DeliveryLag))
	}
}

// A root key: nothing checks it, and verify says contained.
func TestVerifyCannotVouchForARootKey(t *testing.T) {
	s := newCTSeed(t, world.NewMotoTB(t), awsops.Options{Regions: []string{"us-east-1"}})
	root := struct{ AccessKeyID string }{"AKIAQYLPMN5HHHFPZAM2"} // a root key nobody deactivated
	tg := awsops.Target{Account: world.DefaultAccount, Root: true, UserARN: "arn:aws:iam::" + world.DefaultAccount + ":root", AccessKeyID: root.AccessKeyID, Incident: "KL-2026-0099"}
	rep, err := s.c.Verify(t.Context(), tg, awsops.VerifyOptions{Since: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Contained() {
		t.Errorf("root key %s, still usable, reported contained (notes %v)", root.AccessKeyID, rep.Notes)
	}
}

// TestVerifyLooksInTheSessionsAccount: a session of a role in another
// account (assumed across accounts) logs its calls in that account's
// CloudTrail, where verify looks for them.
func TestVerifyLooksInTheSessionsAccount(t *testing.T) {
	s := newCTSeed(t, world.NewMotoTB(t), awsops.Options{Regions: []string{"us-east-1"}})
	addResponderRole(t, s.w, world.SecondAccount)
	adminB := iam.NewFromConfig(s.w.Config("us-east-1", s.w.Admin(world.SecondAccount)))
	role, err := adminB.CreateRole(t.Context(), &iam.CreateRoleInput{RoleName: aws.String("partner-deploy"), AssumeRolePolicyDocument: aws.String(ctTrustAnyone), MaxSessionDuration: aws.Int32(12 * 3600)})
	if err != nil {
		t.Fatal(err)
	}
	roleARN := *role.Role.Arn
	sess := s.assume(t, s.leaked, roleARN, "attacker", time.Now().Add(-time.Hour))
	s.target.Roles = []string{roleARN}
	deactivateNow(t, s)
	since := time.Now().Truncate(time.Second)
	time.Sleep(1100 * time.Millisecond)
	cfg := s.w.Config("us-east-1", sess)
	if _, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).ListBuckets(t.Context(), &s3.ListBucketsInput{}); err != nil {
		t.Fatal(err)
	}
	rep, err := s.c.Verify(t.Context(), s.target, awsops.VerifyOptions{Since: since, SessionKeys: []string{sess.AccessKeyID}, KeyAccounts: map[string]string{sess.AccessKeyID: world.SecondAccount}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Activity) == 0 {
		t.Errorf("the attacker's session %s in %s succeeded after containment, but verify saw no activity (the watch would raise no alarm); problems %v",
			sess.AccessKeyID, world.SecondAccount, rep.Problems)
	}
	if rep.Contained() {
		t.Errorf("the session's call after containment, yet contained: %v", rep.Problems)
	}
}
