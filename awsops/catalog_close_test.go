package awsops_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/scenario"
)

// closeAll closes the function's public permission, the open ingress
// rule, the snapshot's share and the bucket policy, as a responder would.
func closeAll(t *testing.T, cfg aws.Config, open map[string]awsops.Resource) {
	t.Helper()
	ctx := t.Context()
	p := open["AWS::Lambda::Permission"]
	if _, err := lambda.NewFromConfig(cfg).RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String(p.On), StatementId: aws.String(p.ID)}); err != nil {
		t.Fatal(err)
	}
	e := ec2.NewFromConfig(cfg)
	rule := open["AWS::EC2::SecurityGroupRule"]
	if _, err := e.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(rule.On), SecurityGroupRuleIds: []string{rule.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: aws.String(open["AWS::EC2::SnapshotShare"].ID),
		Attribute:              ec2types.SnapshotAttributeNameCreateVolumePermission,
		CreateVolumePermission: &ec2types.CreateVolumePermissionModifications{Remove: []ec2types.CreateVolumePermission{{UserId: aws.String(scenario.TechOutsider)}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{
		Bucket: aws.String(open["AWS::S3::BucketPolicy"].ID)}); err != nil {
		t.Fatal(err)
	}
}
