package scenario

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
)

// GroundTruth derives what the attacker did from the recorded calls and checks, straight in
// moto (so that the check leaves no CloudTrail event), which of its resources still exist.
func (r *Run) GroundTruth(ctx context.Context) (GroundTruth, error) {
	gt := r.derive()
	for i := range gt.Resources {
		ok, err := r.exists(ctx, gt.Resources[i])
		if err != nil {
			return gt, fmt.Errorf("check %s %s: %w", gt.Resources[i].Type, gt.Resources[i].ID, err)
		}
		gt.Resources[i].StillExists = ok
	}
	return gt, nil
}

// exists reports whether res is still there. A service error (not found) means it is not.
func (r *Run) exists(ctx context.Context, res Resource) (bool, error) {
	region := res.Region
	if region == "" {
		region = "us-east-1"
	}
	cfg := r.direct(res.Account, region)
	var err error
	switch res.Type {
	case "AWS::IAM::User":
		_, err = iam.NewFromConfig(cfg).GetUser(ctx, &iam.GetUserInput{UserName: aws.String(res.ID)})
	case "AWS::IAM::Role":
		_, err = iam.NewFromConfig(cfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(res.ID)})
	case "AWS::IAM::LoginProfile":
		_, err = iam.NewFromConfig(cfg).GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(res.Parent)})
	case "AWS::IAM::AccessKey":
		out, lerr := iam.NewFromConfig(cfg).ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(res.Parent)})
		if lerr != nil {
			return notFound(lerr)
		}
		return hasID(out.AccessKeyMetadata, res.ID, func(k iamtypes.AccessKeyMetadata) *string { return k.AccessKeyId }), nil
	case "AWS::IAM::UserPolicyAttachment":
		out, lerr := iam.NewFromConfig(cfg).ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(res.Parent)})
		if lerr != nil {
			return notFound(lerr)
		}
		return hasID(out.AttachedPolicies, res.ID, policyARN), nil
	case "AWS::IAM::RolePolicyAttachment":
		out, lerr := iam.NewFromConfig(cfg).ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(res.Parent)})
		if lerr != nil {
			return notFound(lerr)
		}
		return hasID(out.AttachedPolicies, res.ID, policyARN), nil
	case "AWS::EC2::Instance":
		out, derr := ec2.NewFromConfig(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{res.ID}})
		if derr != nil {
			return notFound(derr)
		}
		for _, rv := range out.Reservations {
			for _, in := range rv.Instances {
				if in.State != nil && in.State.Name != ec2types.InstanceStateNameTerminated {
					return true, nil
				}
			}
		}
		return false, nil
	case "AWS::EC2::SpotInstanceRequest":
		out, derr := ec2.NewFromConfig(cfg).DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{
			SpotInstanceRequestIds: []string{res.ID}})
		if derr != nil {
			return notFound(derr)
		}
		for _, s := range out.SpotInstanceRequests {
			if s.State != ec2types.SpotInstanceStateCancelled && s.State != ec2types.SpotInstanceStateClosed {
				return true, nil
			}
		}
		return false, nil
	case "AWS::Lambda::Function":
		_, err = lambda.NewFromConfig(cfg).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(res.ID)})
	default:
		return false, fmt.Errorf("no existence check for resource type %s", res.Type)
	}
	if err != nil {
		return notFound(err)
	}
	return true, nil
}

// notFound turns a service error into "does not exist" and passes other errors on.
func notFound(err error) (bool, error) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return false, nil
	}
	return false, err
}

// direct is a configuration that calls moto itself as account's admin, bypassing the gateway.
func (r *Run) direct(account, region string) aws.Config {
	cfg := r.World.Config(region, r.World.Admin(account))
	cfg.BaseEndpoint = aws.String(r.World.Moto.URL())
	cfg.HTTPClient = &http.Client{Transport: accountHeader{account: account}}
	// The checks only read: a connection moto drops mid-answer (seen on
	// a busy machine) is asked again, as the SDK does by default.
	cfg.RetryMaxAttempts = 3
	return cfg
}

// accountHeader tells moto which account a direct call acts in.
type accountHeader struct{ account string }

func (t accountHeader) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("X-Moto-Account-Id", t.account)
	return http.DefaultTransport.RoundTrip(req)
}

// hasID reports whether one of items has the ID id.
func hasID[T any](items []T, id string, idOf func(T) *string) bool {
	return slices.ContainsFunc(items, func(it T) bool { return deref(idOf(it)) == id })
}

func policyARN(p iamtypes.AttachedPolicy) *string { return p.PolicyArn }
