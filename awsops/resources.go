package awsops

import (
	"cmp"
	"context"
	"encoding/json"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/keyleak/keyleak/awsops/trail"
)

// Resource is something the key or its sessions created.
type Resource struct {
	Type        string    `json:"type"` // e.g. AWS::EC2::Instance
	ID          string    `json:"id"`   // instance ID, user name, key ID, function name…
	Account     string    `json:"account"`
	Region      string    `json:"region"`
	CreatedBy   string    `json:"created_by"` // event name
	CreatedAt   time.Time `json:"created_at"`
	AccessKeyID string    `json:"access_key_id"`
	EventID     string    `json:"event_id"`
	// UniqueID is the ID the creating event gave a user or role (AIDA…,
	// AROA…), which a later user or role of the same name does not have.
	UniqueID string `json:"unique_id,omitempty"`
	// Exists is "yes", "no" or "unknown" (see ExistsDetail).
	Exists       string `json:"exists"`
	ExistsDetail string `json:"exists_detail,omitempty"`
}

// createdResources reads the resources a successful event created.
func createdResources(rec *trail.Record) []Resource {
	var req struct {
		UserName     string `json:"userName"`
		RoleName     string `json:"roleName"`
		FunctionName string `json:"functionName"`
		PolicyName   string `json:"policyName"`
		KeyName      string `json:"keyName"`
	}
	var resp struct {
		AccessKey struct {
			AccessKeyID string `json:"accessKeyId"`
			UserName    string `json:"userName"`
		} `json:"accessKey"`
		Instances struct {
			Items []struct {
				InstanceID string `json:"instanceId"`
			} `json:"items"`
		} `json:"instancesSet"`
		Spot struct {
			Items []struct {
				ID string `json:"spotInstanceRequestId"`
			} `json:"items"`
		} `json:"spotInstanceRequestSet"`
		Policy struct {
			ARN string `json:"arn"`
		} `json:"policy"`
		User struct {
			UserID string `json:"userId"`
		} `json:"user"`
		Role struct {
			RoleID string `json:"roleId"`
		} `json:"role"`
	}
	_ = json.Unmarshal(rec.RequestParameters, &req)
	_ = json.Unmarshal(rec.ResponseElements, &resp)
	mk := func(typ, id string) Resource {
		return Resource{Type: typ, ID: id, Account: cmp.Or(rec.RecipientAccountID, rec.UserIdentity.AccountID), Region: rec.AWSRegion,
			CreatedBy: rec.EventName, CreatedAt: rec.EventTime, AccessKeyID: rec.UserIdentity.AccessKeyID, EventID: rec.EventID}
	}
	var out []Resource
	switch rec.EventSource + ":" + rec.EventName {
	case "iam.amazonaws.com:CreateUser":
		r := mk("AWS::IAM::User", req.UserName)
		r.UniqueID = resp.User.UserID
		out = append(out, r)
	case "iam.amazonaws.com:CreateAccessKey":
		r := mk("AWS::IAM::AccessKey", resp.AccessKey.AccessKeyID)
		r.ExistsDetail = cmp.Or(resp.AccessKey.UserName, req.UserName) // owner, needed to look it up
		out = append(out, r)
	case "iam.amazonaws.com:CreateLoginProfile":
		out = append(out, mk("AWS::IAM::LoginProfile", req.UserName))
	case "iam.amazonaws.com:CreateRole":
		r := mk("AWS::IAM::Role", req.RoleName)
		r.UniqueID = resp.Role.RoleID
		out = append(out, r)
	case "iam.amazonaws.com:CreatePolicy":
		out = append(out, mk("AWS::IAM::Policy", cmp.Or(resp.Policy.ARN, req.PolicyName)))
	case "ec2.amazonaws.com:RunInstances":
		for _, it := range resp.Instances.Items {
			out = append(out, mk("AWS::EC2::Instance", it.InstanceID))
		}
		if len(resp.Instances.Items) == 0 {
			out = append(out, mk("AWS::EC2::Instance", ""))
		}
	case "ec2.amazonaws.com:RequestSpotInstances":
		for _, it := range resp.Spot.Items {
			out = append(out, mk("AWS::EC2::SpotInstanceRequest", it.ID))
		}
		if len(resp.Spot.Items) == 0 {
			out = append(out, mk("AWS::EC2::SpotInstanceRequest", ""))
		}
	case "ec2.amazonaws.com:CreateKeyPair", "ec2.amazonaws.com:ImportKeyPair":
		out = append(out, mk("AWS::EC2::KeyPair", req.KeyName))
	case "lambda.amazonaws.com:CreateFunction20150331", "lambda.amazonaws.com:CreateFunction":
		out = append(out, mk("AWS::Lambda::Function", req.FunctionName))
	}
	return out
}

// checkResources finds out whether each created resource still exists.
func (c *Client) checkResources(ctx context.Context, rs []Resource) []Gap {
	var gaps []Gap
	for i := range rs {
		r := &rs[i]
		owner := r.ExistsDetail
		r.ExistsDetail = ""
		if r.ID == "" {
			r.Exists, r.ExistsDetail = "unknown", "the event does not name it: list "+r.Type+" in "+r.Region+" launched at "+r.CreatedAt.Format(time.RFC3339)
			continue
		}
		if err := c.resourceExists(ctx, r, owner); err != nil {
			r.Exists, r.ExistsDetail = "unknown", describeAWSError(err)
			gaps = append(gaps, Gap{Step: StepResources, Account: r.Account, Region: r.Region,
				Reason: "whether " + r.Type + " " + r.ID + " still exists: " + r.ExistsDetail})
		}
	}
	return gaps
}

// resourceExists sets r.Exists with a Describe or Get call.
func (c *Client) resourceExists(ctx context.Context, r *Resource, owner string) error {
	ic, err := c.iamClient(ctx, r.Account)
	if err != nil {
		return err
	}
	switch r.Type {
	case "AWS::IAM::User":
		_, err = ic.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(r.ID)})
	case "AWS::IAM::LoginProfile":
		_, err = ic.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(r.ID)})
	case "AWS::IAM::Role":
		_, err = ic.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(r.ID)})
	case "AWS::IAM::Policy":
		_, err = ic.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(r.ID)})
	case "AWS::IAM::AccessKey":
		var out *iam.ListAccessKeysOutput
		out, err = ic.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(owner)})
		if err == nil {
			r.Exists = "no"
			for _, k := range out.AccessKeyMetadata {
				if aws.ToString(k.AccessKeyId) == r.ID {
					r.Exists, r.ExistsDetail = "yes", "status "+string(k.Status)+", user "+owner
				}
			}
			return nil
		}
	case "AWS::EC2::Instance":
		var out *ec2.DescribeInstancesOutput
		var client *ec2.Client
		if client, err = c.ec2Client(ctx, r.Account, r.Region); err != nil {
			return err
		}
		out, err = client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{r.ID}})
		if err == nil {
			r.Exists = "no"
			for _, res := range out.Reservations {
				for _, in := range res.Instances {
					if st := in.State; st != nil && st.Name != ec2types.InstanceStateNameTerminated {
						r.Exists, r.ExistsDetail = "yes", "state "+string(st.Name)
					}
				}
			}
			return nil
		}
	case "AWS::EC2::SpotInstanceRequest":
		var out *ec2.DescribeSpotInstanceRequestsOutput
		var client *ec2.Client
		if client, err = c.ec2Client(ctx, r.Account, r.Region); err != nil {
			return err
		}
		out, err = client.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{r.ID}})
		if err == nil {
			r.Exists = "no"
			for _, s := range out.SpotInstanceRequests {
				if s.State != ec2types.SpotInstanceStateCancelled && s.State != ec2types.SpotInstanceStateClosed {
					r.Exists, r.ExistsDetail = "yes", "state "+string(s.State)
				}
			}
			return nil
		}
	case "AWS::EC2::KeyPair":
		var client *ec2.Client
		if client, err = c.ec2Client(ctx, r.Account, r.Region); err != nil {
			return err
		}
		_, err = client.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{r.ID}})
	case "AWS::Lambda::Function":
		var client *lambda.Client
		if client, err = c.lambdaClient(ctx, r.Account, r.Region); err != nil {
			return err
		}
		_, err = client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(r.ID)})
	default:
		r.Exists = "unknown"
		return nil
	}
	switch {
	case err == nil:
		r.Exists = "yes"
	case isAPIError(err, "NoSuchEntity", "ResourceNotFoundException", "InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed",
		"InvalidKeyPair.NotFound", "InvalidSpotInstanceRequestID.NotFound"):
		r.Exists = "no"
		return nil
	default:
		return err
	}
	return nil
}
