package awsops_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

const (
	polDeny    = `{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::config-bucket","arn:aws:s3:::config-bucket/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`
	polPublic  = `{"Sid":"Public","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::config-bucket/*"}`
	polMine    = `{"Sid":"Mine","Effect":"Allow","Principal":{"AWS":"` + attackerAccount + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::config-bucket/*"}`
	polLogging = `{"Sid":"OwnersLogging","Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::config-bucket/logs/*"}`
)

func polDoc(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

func putBucketPolicyAs(t *testing.T, s *ctSeed, creds world.Credentials, doc string, opts ...world.ClientOption) {
	t.Helper()
	c := s3.NewFromConfig(s.w.Config("us-east-1", creds, opts...), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := c.PutBucketPolicy(t.Context(), &s3.PutBucketPolicyInput{Bucket: aws.String("config-bucket"), Policy: aws.String(doc)}); err != nil {
		t.Fatal(err)
	}
}

func bucketPolicySids(t *testing.T, s *ctSeed) []string {
	t.Helper()
	admin := s3.NewFromConfig(s.w.Config("us-east-1", s.w.Admin(world.DefaultAccount)), func(o *s3.Options) { o.UsePathStyle = true })
	out, err := admin.GetBucketPolicy(t.Context(), &s3.GetBucketPolicyInput{Bucket: aws.String("config-bucket")})
	if err != nil {
		t.Fatal(err)
	}
	return policySids(t, aws.ToString(out.Policy))
}

// The attacker's first write adds Mine (its account); the owner then edits
// the policy it finds (Mine included) to add a statement of its own; the
// attacker's second write adds Public. Each door is closed by whom it
// admits: the first close shuts one and refuses the other as changed
// (the document is no longer the one planned), and a second request
// shuts it. The owner's statements stay; neither of the attacker's does.
func TestCloseTwoPolicyWritesAroundTheOwners(t *testing.T) {
	s := newCTSeed(t, world.NewMotoTB(t), awsops.Options{Regions: []string{"us-east-1"}})
	admin := s.w.Admin(world.DefaultAccount)
	now := time.Now()
	at := func(d time.Duration) world.ClientOption {
		return world.WithEventTime(func() time.Time { return now.Add(d) })
	}
	putBucketPolicyAs(t, s, admin, polDoc(polDeny), at(-40*time.Minute))
	time.Sleep(1100 * time.Millisecond)
	putBucketPolicyAs(t, s, s.leaked, polDoc(polDeny, polMine))
	time.Sleep(1100 * time.Millisecond)
	putBucketPolicyAs(t, s, admin, polDoc(polDeny, polMine, polLogging))
	time.Sleep(1100 * time.Millisecond)
	putBucketPolicyAs(t, s, s.leaked, polDoc(polDeny, polMine, polLogging, polPublic))
	doors := doorsFound(t, s)
	plan, err := s.c.PlanClose(t.Context(), s.target, doors)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.ExecuteClose(t.Context(), s.target, plan.Params); err == nil || !strings.Contains(err.Error(), "request close again") {
		t.Errorf("the first close = %v; want one door shut and the other refused as changed", err)
	}
	closeDoors(t, s, doors)
	got := bucketPolicySids(t, s)
	if slices.ContainsFunc(got, func(x string) bool { return strings.HasPrefix(x, "Mine=") || strings.HasPrefix(x, "Public=") }) {
		t.Errorf("after the second close the attacker's statements are still there: %s", got)
	}
	for _, want := range []string{"DenyInsecureTransport=", "OwnersLogging="} {
		if !slices.ContainsFunc(got, func(x string) bool { return strings.HasPrefix(x, want) }) {
			t.Errorf("the owner's %s is gone: %s", want, got)
		}
	}
}

// Two writes of the attacker in one second (CloudTrail's times are to the
// second): Mine, then Public, which replaced it. Whichever order the doors
// come in, the close shuts Public (by whom its door admits), and says the
// other is shut already.
func TestCloseTwoPolicyWritesInOneSecond(t *testing.T) {
	s := newCTSeed(t, world.NewMotoTB(t), awsops.Options{Regions: []string{"us-east-1"}})
	admin := s.w.Admin(world.DefaultAccount)
	putBucketPolicyAs(t, s, admin, polDoc(polDeny), world.WithEventTime(func() time.Time { return time.Now().Add(-40 * time.Minute) }))
	time.Sleep(2500 * time.Millisecond)
	now := time.Now().Add(-time.Second).Truncate(time.Second) // after the key was made, and past
	at := func(d time.Duration) world.ClientOption {
		return world.WithEventTime(func() time.Time { return now.Add(d) })
	}
	putBucketPolicyAs(t, s, s.leaked, polDoc(polDeny, polMine), at(100*time.Millisecond))
	putBucketPolicyAs(t, s, s.leaked, polDoc(polDeny, polPublic), at(600*time.Millisecond))
	doors := doorsFound(t, s)
	if len(doors) != 2 {
		t.Fatalf("doors %v", doors)
	}
	// the responder lists the doors oldest first (or the investigation does)
	slices.SortFunc(doors, func(a, b awsops.DoorItem) int { return strings.Compare(b.Opening, a.Opening) }) // "9999…" before "*"
	plan, err := s.c.PlanClose(t.Context(), s.target, doors)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Noop != "" || len(plan.Calls) == 0 {
		t.Fatalf("the plan closes nothing though Public (Principal *) is in the policy %s: noop %q", bucketPolicySids(t, s), plan.Noop)
	}
	if _, err := s.c.ExecuteClose(t.Context(), s.target, plan.Params); err != nil {
		t.Fatal(err)
	}
	if got := bucketPolicySids(t, s); slices.ContainsFunc(got, func(x string) bool { return strings.HasPrefix(x, "Public=") || strings.HasPrefix(x, "Mine=") }) {
		t.Errorf("after close the attacker's statements are still there: %s", got)
	}
}
