package scenario

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/keyleak/keyleak/test/world"
)

// Source of the account's own administration (Setup): the company's Terraform runner.
const (
	adminIP = "198.51.100.20"
	adminUA = "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 aws-sdk-go-v2/1.30.3"
)

// setupLead is how long before detection Setup's calls are placed: the account is old.
const setupLead = 45 * 24 * time.Hour

// builder creates resources in one account as its admin, backfilled to before the incident.
type builder struct {
	run     *Run
	account string
	act     *actor
}

func (r *Run) builder(account string) *builder {
	return &builder{run: r, account: account, act: newActor(r.World, &recorder{}, adminIP, adminUA, r.Now.Add(-setupLead))}
}

func (b *builder) cfg(region string) aws.Config {
	b.act.wait(time.Second)
	return b.act.config(region, credential{Credentials: b.run.World.Admin(b.account), Label: "admin", Account: b.account})
}

func (b *builder) iam() *iam.Client { return iam.NewFromConfig(b.cfg("us-east-1")) }

func (b *builder) s3(region string) *s3.Client {
	return s3.NewFromConfig(b.cfg(region), func(o *s3.Options) { o.UsePathStyle = true })
}

// policies are inline policy documents by name.
type policies map[string]string

// user creates an IAM user with inline and managed policies, in groups.
func (b *builder) user(ctx context.Context, name string, inline policies, managed []string, groups ...string) (string, error) {
	out, err := b.iam().CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("create user %s: %w", name, err)
	}
	for pn, doc := range inline {
		if _, err := b.iam().PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name),
			PolicyName: aws.String(pn), PolicyDocument: aws.String(doc)}); err != nil {
			return "", fmt.Errorf("put policy %s on user %s: %w", pn, name, err)
		}
	}
	for _, arn := range managed {
		if _, err := b.iam().AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(name),
			PolicyArn: aws.String(arn)}); err != nil {
			return "", fmt.Errorf("attach %s to user %s: %w", arn, name, err)
		}
	}
	for _, g := range groups {
		if _, err := b.iam().AddUserToGroup(ctx, &iam.AddUserToGroupInput{UserName: aws.String(name),
			GroupName: aws.String(g)}); err != nil {
			return "", fmt.Errorf("add user %s to group %s: %w", name, g, err)
		}
	}
	return *out.User.Arn, nil
}

// accessKey creates an access key for user.
func (b *builder) accessKey(ctx context.Context, user string) (world.Credentials, error) {
	out, err := b.iam().CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		return world.Credentials{}, fmt.Errorf("create access key for %s: %w", user, err)
	}
	return world.Credentials{AccessKeyID: *out.AccessKey.AccessKeyId, SecretAccessKey: *out.AccessKey.SecretAccessKey}, nil
}

// function creates a Lambda function with a role of its own.
func (b *builder) function(ctx context.Context, region, name string) error {
	role, err := b.role(ctx, name+"-role", document(stmt{Effect: "Allow", Principal: map[string]any{"Service": "lambda.amazonaws.com"}, Action: "sts:AssumeRole"}),
		time.Hour, nil)
	if err != nil {
		return err
	}
	b.act.wait(time.Second)
	return createFunction(ctx, b.act, region, credential{Credentials: b.run.World.Admin(b.account), Label: "admin", Account: b.account}, name, role)
}

// group creates an IAM group with inline and managed policies.
func (b *builder) group(ctx context.Context, name string, inline policies, managed ...string) error {
	if _, err := b.iam().CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(name)}); err != nil {
		return fmt.Errorf("create group %s: %w", name, err)
	}
	for pn, doc := range inline {
		if _, err := b.iam().PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String(name),
			PolicyName: aws.String(pn), PolicyDocument: aws.String(doc)}); err != nil {
			return fmt.Errorf("put policy %s on group %s: %w", pn, name, err)
		}
	}
	for _, arn := range managed {
		if _, err := b.iam().AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String(name),
			PolicyArn: aws.String(arn)}); err != nil {
			return fmt.Errorf("attach %s to group %s: %w", arn, name, err)
		}
	}
	return nil
}

// role creates an IAM role with a trust policy, a maximum session length, and policies.
func (b *builder) role(ctx context.Context, name, trust string, maxSession time.Duration, inline policies, managed ...string) (string, error) {
	out, err := b.iam().CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name),
		AssumeRolePolicyDocument: aws.String(trust), MaxSessionDuration: aws.Int32(int32(maxSession / time.Second))})
	if err != nil {
		return "", fmt.Errorf("create role %s: %w", name, err)
	}
	for pn, doc := range inline {
		if _, err := b.iam().PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name),
			PolicyName: aws.String(pn), PolicyDocument: aws.String(doc)}); err != nil {
			return "", fmt.Errorf("put policy %s on role %s: %w", pn, name, err)
		}
	}
	for _, arn := range managed {
		if _, err := b.iam().AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(name),
			PolicyArn: aws.String(arn)}); err != nil {
			return "", fmt.Errorf("attach %s to role %s: %w", arn, name, err)
		}
	}
	return *out.Role.Arn, nil
}

// content is an object to put: its key, body and whether it is sensitive.
type content struct {
	key       string
	body      []byte
	sensitive bool
}

// bucket creates a bucket in region with objects, and lists them in the target's catalogue.
func (b *builder) bucket(ctx context.Context, region, name string, objects ...content) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
	}
	if _, err := b.s3(region).CreateBucket(ctx, in); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	for _, o := range objects {
		if _, err := b.s3(region).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(name), Key: aws.String(o.key),
			Body: bytes.NewReader(o.body)}); err != nil {
			return fmt.Errorf("put object s3://%s/%s: %w", name, o.key, err)
		}
		b.run.Target.Objects = append(b.run.Target.Objects, Object{Account: b.account, Bucket: name, Key: o.key, Sensitive: o.sensitive})
	}
	return nil
}

// instances launches count instances of typ in region, tagged Name=name, and returns their IDs.
func (b *builder) instances(ctx context.Context, region, name, typ string, count int32) ([]string, error) {
	out, err := ec2.NewFromConfig(b.cfg(region)).RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String(nodeImage), InstanceType: ec2types.InstanceType(typ), MinCount: aws.Int32(count), MaxCount: aws.Int32(count),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
			Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String(name)}}}},
	})
	if err != nil {
		return nil, fmt.Errorf("run %d %s instances in %s: %w", count, name, region, err)
	}
	ids := make([]string, 0, len(out.Instances))
	for _, in := range out.Instances {
		ids = append(ids, *in.InstanceId)
	}
	return ids, nil
}

// nodeImage is an AMI moto knows in every region.
const nodeImage = "ami-12c6146b"

// kmsKey creates a KMS key in region and returns its ID.
func (b *builder) kmsKey(ctx context.Context, region, description string) (string, error) {
	out, err := kms.NewFromConfig(b.cfg(region)).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(description)})
	if err != nil {
		return "", fmt.Errorf("create kms key %q: %w", description, err)
	}
	return *out.KeyMetadata.KeyId, nil
}

// encrypt encrypts plaintext under keyID.
func (b *builder) encrypt(ctx context.Context, region, keyID string, plaintext []byte) ([]byte, error) {
	out, err := kms.NewFromConfig(b.cfg(region)).Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: plaintext})
	if err != nil {
		return nil, fmt.Errorf("encrypt with kms key %s: %w", keyID, err)
	}
	return out.CiphertextBlob, nil
}

// database creates an RDS instance in region.
func (b *builder) database(ctx context.Context, region, id string) error {
	_, err := rds.NewFromConfig(b.cfg(region)).CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(id), DBInstanceClass: aws.String("db.r6g.large"), Engine: aws.String("postgres"),
		AllocatedStorage: aws.Int32(200), MasterUsername: aws.String("app"), MasterUserPassword: aws.String("not-the-real-one-1"),
		StorageEncrypted: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("create db instance %s: %w", id, err)
	}
	return nil
}

// trail creates a multi-region trail into bucket (created if missing), with log file
// validation (the world then delivers digest files beside the log files), and starts it.
func (b *builder) trail(ctx context.Context, name, bucket string) error {
	// The gateway creates the trail bucket at its first flush; usually that has not happened yet.
	if _, err := b.s3("us-east-1").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil &&
		errorCode(err) != "BucketAlreadyOwnedByYou" {
		return fmt.Errorf("create trail bucket %s: %w", bucket, err)
	}
	ct := cloudtrail.NewFromConfig(b.cfg("us-east-1"))
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String(name), S3BucketName: aws.String(bucket),
		IsMultiRegionTrail: aws.Bool(true), IncludeGlobalServiceEvents: aws.Bool(true), EnableLogFileValidation: aws.Bool(true)}); err != nil {
		return fmt.Errorf("create trail %s: %w", name, err)
	}
	b.run.World.Gateway.EnableTrailDigests(name, "us-east-1")
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(name)}); err != nil {
		return fmt.Errorf("start trail %s: %w", name, err)
	}
	return nil
}

// responder creates the read-only responder: a user with ReadOnlyAccess and a key, and a
// role with SecurityAudit that the user may assume.
func (b *builder) responder(ctx context.Context) error {
	arn, err := b.user(ctx, "security-responder", nil, []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"})
	if err != nil {
		return err
	}
	key, err := b.accessKey(ctx, "security-responder")
	if err != nil {
		return err
	}
	role, err := b.role(ctx, "keyleak-responder", trustPrincipals(arn), time.Hour, nil,
		"arn:aws:iam::aws:policy/SecurityAudit", "arn:aws:iam::aws:policy/ReadOnlyAccess")
	if err != nil {
		return err
	}
	b.run.Target.Responder, b.run.Target.ResponderRoleARN = key, role
	return nil
}
