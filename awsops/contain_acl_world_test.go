package awsops_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// aclTrailRecord is a CloudTrail record of an S3 bucket call, as CloudTrail writes it.
func aclTrailRecord(t *testing.T, n int, at time.Time, who, name, bucket, params string) json.RawMessage {
	t.Helper()
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	rec := `{"eventVersion":"1.09","userIdentity":` + who + `,"eventTime":"` + at.UTC().Format(time.RFC3339) +
		`","eventSource":"s3.amazonaws.com","eventName":"` + name + `","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15",` +
		`"requestParameters":` + params + `,"responseElements":null,"requestID":"R` + id[len(id)-6:] + `","eventID":"` + id +
		`","readOnly":false,"resources":[{"accountId":"` + world.DefaultAccount + `","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::` + bucket +
		`"}],"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"` + world.DefaultAccount + `","eventCategory":"Management"}`
	return json.RawMessage(rec)
}

const aclEveryone = "http://acs.amazonaws.com/groups/global/AllUsers"

func aclBucketSeed(t *testing.T, bucket string) (*ctSeed, *s3.Client, *s3.Client, string) {
	s := newCTSeed(t, world.NewMotoTB(t), awsops.Options{Regions: []string{"us-east-1"}})
	four := time.Now().Add(-4 * time.Hour)
	admin := s3.NewFromConfig(s.w.Config("us-east-1", s.w.Admin(world.DefaultAccount), world.WithEventTime(func() time.Time { return four })),
		func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := admin.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	acl, err := admin.GetBucketAcl(t.Context(), &s3.GetBucketAclInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	leaked := s3.NewFromConfig(s.w.Config("us-east-1", s.leaked), func(o *s3.Options) { o.UsePathStyle = true })
	return s, admin, leaked, aws.ToString(acl.Owner.ID)
}

// putPublicACL puts, as an XML body, an ACL of the owner's full control
// and everyone's perms.
func putPublicACL(t *testing.T, client *s3.Client, bucket, owner string, perms ...s3types.Permission) {
	t.Helper()
	grants := []s3types.Grant{{Grantee: &s3types.Grantee{Type: s3types.TypeCanonicalUser, ID: aws.String(owner)}, Permission: s3types.PermissionFullControl}}
	for _, p := range perms {
		grants = append(grants, s3types.Grant{Grantee: &s3types.Grantee{Type: s3types.TypeGroup, URI: aws.String(aclEveryone)}, Permission: p})
	}
	if _, err := client.PutBucketAcl(t.Context(), &s3.PutBucketAclInput{Bucket: aws.String(bucket),
		AccessControlPolicy: &s3types.AccessControlPolicy{Owner: &s3types.Owner{ID: aws.String(owner)}, Grants: grants}}); err != nil {
		t.Fatal(err)
	}
}

func aclDoors(t *testing.T, s *ctSeed, bucket string) []awsops.DoorItem {
	var doors []awsops.DoorItem
	for _, d := range doorsFound(t, s) {
		if d.Kind == awsops.DoorBucketACL && d.ID == bucket {
			doors = append(doors, d)
		}
	}
	return doors
}

// The owner once had public-read-write, then made the bucket private with
// a header grant (aws s3api put-bucket-acl --grant-full-control id=…),
// which CloudTrail records under accessControlList; the attacker makes it
// public again. The owner's private write is the ACL before, and close
// drops the attacker's grants. Had CloudTrail not shown what the owner's
// write set, the walk stops there, unknown, rather than take the older
// public ACL as the one before: the attacker's grants are dropped too, with
// a warning.
func TestCloseTakesTheOwnersLastACLWrite(t *testing.T) {
	const owners = `{"bucketName":"uploads","acl":"","accessControlList":{"x-amz-grant-full-control":"id=\"OWNER\""}}`
	for _, c := range []struct{ name, write, note string }{
		{"shown", owners, "told from the ACL before it (CloudTrail's last earlier write: PutBucketAcl by arn:aws:iam::" + world.DefaultAccount + ":root at WHEN)"},
		{"not shown", `{"bucketName":"uploads","acl":""}`, "CHECK FIRST: CloudTrail holds no earlier write of the ACL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, admin, leaked, owner := aclBucketSeed(t, "uploads")
			root := `{"type":"Root","principalId":"` + world.DefaultAccount + `","arn":"arn:aws:iam::` + world.DefaultAccount + `:root","accountId":"` + world.DefaultAccount + `"}`
			now := time.Now()
			body := `{"bucketName":"uploads","acl":"","AccessControlPolicy":{"AccessControlList":{"Grant":[` +
				`{"Grantee":{"xsi:type":"CanonicalUser","xmlns:xsi":"http://www.w3.org/2001/XMLSchema-instance","ID":"` + owner + `"},"Permission":"FULL_CONTROL"},` +
				`{"Grantee":{"xsi:type":"Group","xmlns:xsi":"http://www.w3.org/2001/XMLSchema-instance","URI":"` + aclEveryone + `"},"Permission":"READ"},` +
				`{"Grantee":{"xsi:type":"Group","xmlns:xsi":"http://www.w3.org/2001/XMLSchema-instance","URI":"` + aclEveryone + `"},"Permission":"WRITE"}]},` +
				`"xmlns":"http://s3.amazonaws.com/doc/2006-03-01/","Owner":{"ID":"` + owner + `"}}}`
			if err := s.w.Gateway.Replay(aclTrailRecord(t, 1, now.Add(-3*time.Hour), root, "PutBucketAcl", "uploads", body),
				aclTrailRecord(t, 2, now.Add(-2*time.Hour), root, "PutBucketAcl", "uploads", strings.ReplaceAll(c.write, "OWNER", owner))); err != nil {
				t.Fatal(err)
			}
			putPublicACL(t, leaked, "uploads", owner, s3types.PermissionRead, s3types.PermissionWrite)
			doors := aclDoors(t, s, "uploads")
			if len(doors) != 1 {
				t.Fatalf("found %d ACL doors on uploads, want the attacker's: %v", len(doors), doors)
			}
			plan := closeDoors(t, s, doors)
			note := strings.ReplaceAll(c.note, "WHEN", now.Add(-2*time.Hour).UTC().Format(time.RFC3339))
			if !slices.ContainsFunc(plan.Impact, func(i string) bool { return strings.Contains(i, note) }) {
				t.Errorf("the plan does not say %q: %v", note, plan.Impact)
			}
			if got := publicGrants(t, admin, "uploads"); len(got) != 0 {
				t.Errorf("after close the bucket still grants everyone %v (the owner had made it private before the attacker)", got)
			}
		})
	}
}

// The attacker first re-creates the bucket (us-east-1 answers 200 OK to
// its owner and resets the ACL) with x-amz-acl public-read-write, a call
// no door is found for, then PutBucketAcl. A write made with the
// attacker's key is not the ACL before: close drops its grants.
func TestCloseSkipsTheAttackersOwnEarlierACLWrite(t *testing.T) {
	s, admin, leaked, owner := aclBucketSeed(t, "uploads")
	me := `{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::` + world.DefaultAccount + `:user/ci-deploy-user","accountId":"` +
		world.DefaultAccount + `","accessKeyId":"` + s.leaked.AccessKeyID + `","userName":"ci-deploy-user"}`
	if err := s.w.Gateway.Replay(aclTrailRecord(t, 3, time.Now().Add(-time.Minute), me, "CreateBucket", "uploads",
		`{"bucketName":"uploads","Host":"s3.amazonaws.com","x-amz-acl":"public-read-write"}`)); err != nil {
		t.Fatal(err)
	}
	putPublicACL(t, leaked, "uploads", owner, s3types.PermissionRead, s3types.PermissionWrite)
	doors := aclDoors(t, s, "uploads")
	if len(doors) != 1 {
		t.Fatalf("doors %v", doors)
	}
	plan := closeDoors(t, s, doors)
	if !slices.ContainsFunc(plan.Impact, func(i string) bool { return strings.Contains(i, "told from the ACL before it") }) {
		t.Errorf("the plan does not take the owner's ACL as the one before: %v", plan.Impact)
	}
	if got := publicGrants(t, admin, "uploads"); len(got) != 0 {
		t.Errorf("after close the bucket still grants everyone %v", got)
	}
}

// A session the leaked key minted made the bucket public (READ) an hour
// before the leaked key itself wrote READ and WRITE, and the responder
// closes the leaked key's door alone. The session is of the incident's
// tree: its write is the attacker's, not the ACL before, and close drops
// both grants. Without the tree, its READ would read as the owner's.
func TestCloseSkipsAnEarlierWriteOfTheTree(t *testing.T) {
	s, admin, leaked, owner := aclBucketSeed(t, "uploads")
	now := time.Now()
	minted, err := sts.NewFromConfig(s.w.Config("us-east-1", s.leaked, world.WithEventTime(func() time.Time { return now.Add(-2 * time.Hour) }))).
		GetSessionToken(t.Context(), &sts.GetSessionTokenInput{DurationSeconds: aws.Int32(12 * 3600)})
	if err != nil {
		t.Fatal(err)
	}
	sess := world.Credentials{AccessKeyID: *minted.Credentials.AccessKeyId, SecretAccessKey: *minted.Credentials.SecretAccessKey, SessionToken: *minted.Credentials.SessionToken}
	bySession := s3.NewFromConfig(s.w.Config("us-east-1", sess, world.WithEventTime(func() time.Time { return now.Add(-time.Hour) })),
		func(o *s3.Options) { o.UsePathStyle = true })
	putPublicACL(t, bySession, "uploads", owner, s3types.PermissionRead)
	putPublicACL(t, leaked, "uploads", owner, s3types.PermissionRead, s3types.PermissionWrite)
	doors := aclDoors(t, s, "uploads")
	if len(doors) == 0 {
		t.Fatal("found no ACL door on uploads")
	}
	latest := slices.MaxFunc(doors, func(a, b awsops.DoorItem) int { return a.EventTime.Compare(b.EventTime) })
	if !latest.EventTime.After(now.Add(-time.Minute)) {
		t.Fatalf("the latest door %v is not the leaked key's write", latest)
	}
	withTree := s.target
	withTree.Tree = []string{sess.AccessKeyID, "not a key"}
	plan, err := s.c.PlanClose(t.Context(), withTree, []awsops.DoorItem{latest})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(plan.Impact, func(i string) bool {
		return strings.Contains(i, "told from the ACL before it (CloudTrail's last earlier write: CreateBucket by ") &&
			strings.Contains(i, "; 1 write with the attacker's keys passed over)")
	}) {
		t.Errorf("the plan does not take the owner's ACL as the one before, passing over the session's: %v", plan.Impact)
	}
	// The execution tells the ACL before by the keys the plan froze, not
	// by those of the target it is handed.
	if _, err := s.c.ExecuteClose(t.Context(), s.target, plan.Params); err != nil {
		t.Fatalf("the approved close: %v", err)
	}
	if got := publicGrants(t, admin, "uploads"); len(got) != 0 {
		t.Errorf("after close the bucket still grants everyone %v: the tree's earlier write was taken for the owner's", got)
	}
}

// Two PutBucketAcl of the attacker on one bucket: READ, then READ and
// WRITE. They are closed as one, against the ACL before the first.
func TestCloseTwoACLWritesAsOne(t *testing.T) {
	s, admin, leaked, owner := aclBucketSeed(t, "uploads")
	putPublicACL(t, leaked, "uploads", owner, s3types.PermissionRead)
	putPublicACL(t, leaked, "uploads", owner, s3types.PermissionRead, s3types.PermissionWrite)
	doors := aclDoors(t, s, "uploads")
	if len(doors) != 2 {
		t.Fatalf("doors %v", doors)
	}
	plan, err := s.c.PlanClose(t.Context(), s.target, doors)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Calls) != 1 || !slices.ContainsFunc(plan.Impact, func(i string) bool { return strings.HasPrefix(i, "Closed with the attacker's later write") }) {
		t.Errorf("the two writes are not closed as one: calls %v, impact %v", plan.Calls, plan.Impact)
	}
	if _, err := s.c.ExecuteClose(t.Context(), s.target, plan.Params); err != nil {
		t.Errorf("the approved close: %v", err)
	}
	if got := publicGrants(t, admin, "uploads"); len(got) != 0 {
		t.Errorf("after the approved close the bucket still grants everyone %v", got)
	}
}
