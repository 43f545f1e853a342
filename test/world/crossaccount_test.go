package world

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// codeOf is err's AWS error code, its text when it has none, "" for nil.
func codeOf(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// TestCrossAccountAccess: another account reaches a resource only through
// what its owner opened (a bucket policy or public ACL, a function's
// permission, a secret's policy, a KMS grant, a role's trust, a snapshot or
// image share); once that is closed, it is refused.
func TestCrossAccountAccess(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	owner := w.Config("us-east-1", w.Admin(DefaultAccount))
	other := w.Config("us-east-1", w.Admin(SecondAccount))
	outsider := "arn:aws:iam::" + SecondAccount + ":root"
	allow := func(action, resource string) string {
		return `{"Version":"2012-10-17","Statement":[{"Sid":"door","Effect":"Allow","Principal":{"AWS":"` + outsider + `"},"Action":"` + action + `","Resource":"` + resource + `"}]}`
	}
	check := func(what string, err error, want string) {
		t.Helper()
		if got := codeOf(err); got != want {
			t.Errorf("%s: %q, want %q", what, got, want)
		}
	}

	// S3: a bucket policy, then a public ACL.
	s3o := s3.NewFromConfig(owner, func(o *s3.Options) { o.UsePathStyle = true })
	s3x := s3.NewFromConfig(other, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3o.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3o.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String("a.csv"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	get := func() error {
		_, err := s3x.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("a.csv")})
		return err
	}
	check("GetObject before any policy", get(), "AccessDenied")
	if _, err := s3o.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("data"), Policy: aws.String(allow("s3:GetObject", "arn:aws:s3:::data/*"))}); err != nil {
		t.Fatal(err)
	}
	check("GetObject through the policy", get(), "")
	if _, err := s3o.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	check("GetObject once the policy is gone", get(), "AccessDenied")
	list := func() error {
		_, err := s3x.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("data")})
		return err
	}
	check("ListObjects before the ACL", list(), "AccessDenied")
	if _, err := s3o.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("data"), ACL: s3types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	check("ListObjects through the public ACL", list(), "")

	// Lambda: a permission.
	role, err := iam.NewFromConfig(owner).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("fn-role"), AssumeRolePolicyDocument: aws.String(trustAnyone)})
	if err != nil {
		t.Fatal(err)
	}
	lo := lambda.NewFromConfig(owner)
	fn, err := lo.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("billing"), Role: role.Role.Arn, Runtime: lambdatypes.RuntimePython312,
		Handler: aws.String("f.handler"), Code: &lambdatypes.FunctionCode{ZipFile: lambdaZip(t)}})
	if err != nil {
		t.Fatal(err)
	}
	invoke := func() error {
		_, err := lambda.NewFromConfig(other).Invoke(ctx, &lambda.InvokeInput{FunctionName: fn.FunctionArn})
		return err
	}
	check("Invoke without a permission", invoke(), "AccessDeniedException")
	if _, err := lo.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("billing"), StatementId: aws.String("door"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*")}); err != nil {
		t.Fatal(err)
	}
	check("Invoke through the permission", invoke(), "")
	if _, err := lo.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String("billing"), StatementId: aws.String("door")}); err != nil {
		t.Fatal(err)
	}
	check("Invoke once the permission is removed", invoke(), "AccessDeniedException")

	// Secrets Manager: a resource policy.
	sm := secretsmanager.NewFromConfig(owner)
	sec, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("prod/db"), SecretString: aws.String("pw")})
	if err != nil {
		t.Fatal(err)
	}
	read := func() error {
		_, err := secretsmanager.NewFromConfig(other).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: sec.ARN})
		return err
	}
	check("GetSecretValue without a policy", read(), "AccessDeniedException")
	if _, err := sm.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: sec.ARN, ResourcePolicy: aws.String(allow("secretsmanager:GetSecretValue", "*"))}); err != nil {
		t.Fatal(err)
	}
	check("GetSecretValue through the policy", read(), "")

	// KMS: a grant.
	ko := kms.NewFromConfig(owner)
	key, err := ko.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	encrypt := func() error {
		_, err := kms.NewFromConfig(other).Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.Arn, Plaintext: []byte("x")})
		return err
	}
	check("Encrypt without a grant", encrypt(), "AccessDeniedException")
	grant, err := ko.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: key.KeyMetadata.KeyId, GranteePrincipal: aws.String(outsider),
		Operations: []kmstypes.GrantOperation{kmstypes.GrantOperationEncrypt}})
	if err != nil {
		t.Fatal(err)
	}
	check("Encrypt through the grant", encrypt(), "")
	if _, err := ko.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: key.KeyMetadata.KeyId, GrantId: grant.GrantId}); err != nil {
		t.Fatal(err)
	}
	check("Encrypt once the grant is revoked", encrypt(), "AccessDeniedException")

	// STS: a role's trust.
	ic := iam.NewFromConfig(owner)
	backdoor, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("deploy"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + DefaultAccount + `:root"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	assume := func() error {
		_, err := sts.NewFromConfig(other).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: backdoor.Role.Arn, RoleSessionName: aws.String("x")})
		return err
	}
	check("AssumeRole the trust does not admit", assume(), "AccessDenied")
	if _, err := ic.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("deploy"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + outsider + `"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	check("AssumeRole through the rewritten trust", assume(), "")

	// EC2: a snapshot share and an image share.
	e := ec2.NewFromConfig(owner)
	vol, err := e.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(8)})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := e.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: vol.VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	see := func() error {
		_, err := ec2.NewFromConfig(other).DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{*snap.SnapshotId}})
		return err
	}
	check("DescribeSnapshots of an unshared snapshot", see(), "InvalidSnapshot.NotFound")
	share := func(op string) {
		t.Helper()
		mods := &ec2types.CreateVolumePermissionModifications{}
		p := []ec2types.CreateVolumePermission{{UserId: aws.String(SecondAccount)}}
		if op == "add" {
			mods.Add = p
		} else {
			mods.Remove = p
		}
		if _, err := e.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: snap.SnapshotId,
			Attribute: ec2types.SnapshotAttributeNameCreateVolumePermission, CreateVolumePermission: mods}); err != nil {
			t.Fatal(err)
		}
	}
	share("add")
	check("DescribeSnapshots of a shared snapshot", see(), "")
	share("remove")
	check("DescribeSnapshots once the share is removed", see(), "InvalidSnapshot.NotFound")
}
