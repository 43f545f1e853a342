package awsops

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rolesanywhere"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"

	"github.com/keyleak/keyleak/awsops/trail"
)

// Answers of the existence checks.
const (
	ExistsYes     = "yes"
	ExistsNo      = "no"
	ExistsUnknown = "unknown"
)

// notFoundCodes are the error codes that mean a resource is gone.
var notFoundCodes = []string{"NoSuchEntity", "ResourceNotFoundException", "InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed",
	"InvalidKeyPair.NotFound", "InvalidSpotInstanceRequestID.NotFound", "InvalidSnapshot.NotFound", "InvalidAMIID.NotFound",
	"InvalidAMIID.Unavailable", "InvalidSecurityGroupRuleId.NotFound", "InvalidGroup.NotFound", "DBSnapshotNotFound",
	"DBClusterSnapshotNotFoundFault", "NoSuchBucket", "NoSuchBucketPolicy", "NotFoundException", "AccountNotFoundException",
	"CreateAccountStatusNotFoundException"}

// existsCheck finds out whether r still exists (or, for an opening,
// still admits whom it did), setting r.Exists and r.ExistsDetail.
type existsCheck func(ctx context.Context, c *Client, r *Resource) error

// existsChecks are keyed by resource type.
var existsChecks = map[string]existsCheck{
	"AWS::IAM::User": iamGet(func(ctx context.Context, ic *iam.Client, r *Resource) error {
		_, err := ic.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(r.ID)})
		return err
	}),
	"AWS::IAM::LoginProfile": iamGet(func(ctx context.Context, ic *iam.Client, r *Resource) error {
		_, err := ic.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: aws.String(r.ID)})
		return err
	}),
	"AWS::IAM::Role": iamGet(func(ctx context.Context, ic *iam.Client, r *Resource) error {
		_, err := ic.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(r.ID)})
		return err
	}),
	"AWS::IAM::Policy": iamGet(func(ctx context.Context, ic *iam.Client, r *Resource) error {
		_, err := ic.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(r.ID)})
		return err
	}),
	"AWS::IAM::OIDCProvider": iamGet(func(ctx context.Context, ic *iam.Client, r *Resource) error {
		_, err := ic.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(r.ID)})
		return err
	}),
	"AWS::IAM::SAMLProvider": iamGet(func(ctx context.Context, ic *iam.Client, r *Resource) error {
		_, err := ic.GetSAMLProvider(ctx, &iam.GetSAMLProviderInput{SAMLProviderArn: aws.String(r.ID)})
		return err
	}),
	"AWS::IAM::RoleTrust": func(ctx context.Context, c *Client, r *Resource) error {
		ic, err := c.iamClient(ctx, r.Account)
		if err != nil {
			return err
		}
		out, err := ic.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(r.ID)})
		if err != nil {
			return err
		}
		return stillAdmits(r, c.outsidersIn(ctx, r, aws.ToString(out.Role.AssumeRolePolicyDocument)), "the role's trust")
	},
	"AWS::IAM::AccessKey": func(ctx context.Context, c *Client, r *Resource) error {
		ic, err := c.iamClient(ctx, r.Account)
		if err != nil {
			return err
		}
		out, err := ic.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(r.Owner)})
		if err != nil {
			return err
		}
		r.Exists = ExistsNo
		for _, k := range out.AccessKeyMetadata {
			if aws.ToString(k.AccessKeyId) == r.ID {
				r.Exists, r.ExistsDetail = ExistsYes, "status "+string(k.Status)+", user "+r.Owner
			}
		}
		return nil
	},
	"AWS::IAM::ServiceSpecificCredential": func(ctx context.Context, c *Client, r *Resource) error {
		ic, err := c.iamClient(ctx, r.Account)
		if err != nil {
			return err
		}
		out, err := ic.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: aws.String(r.Owner)})
		if err != nil {
			return err
		}
		r.Exists = ExistsNo
		for _, k := range out.ServiceSpecificCredentials {
			if aws.ToString(k.ServiceSpecificCredentialId) == r.ID {
				r.Exists, r.ExistsDetail = ExistsYes, "status "+string(k.Status)+" for "+aws.ToString(k.ServiceName)+", user "+r.Owner
			}
		}
		return nil
	},
	"AWS::EC2::Instance": ec2Get(func(ctx context.Context, client *ec2.Client, r *Resource) error {
		out, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{r.ID}})
		if err != nil {
			return err
		}
		r.Exists = ExistsNo
		for _, res := range out.Reservations {
			for _, in := range res.Instances {
				if st := in.State; st != nil && st.Name != ec2types.InstanceStateNameTerminated {
					r.Exists, r.ExistsDetail = ExistsYes, "state "+string(st.Name)
				}
			}
		}
		return nil
	}),
	"AWS::EC2::SpotInstanceRequest": ec2Get(func(ctx context.Context, client *ec2.Client, r *Resource) error {
		out, err := client.DescribeSpotInstanceRequests(ctx, &ec2.DescribeSpotInstanceRequestsInput{SpotInstanceRequestIds: []string{r.ID}})
		if err != nil {
			return err
		}
		r.Exists = ExistsNo
		for _, s := range out.SpotInstanceRequests {
			if s.State != ec2types.SpotInstanceStateCancelled && s.State != ec2types.SpotInstanceStateClosed {
				r.Exists, r.ExistsDetail = ExistsYes, "state "+string(s.State)
			}
		}
		return nil
	}),
	"AWS::EC2::KeyPair": ec2Get(func(ctx context.Context, client *ec2.Client, r *Resource) error {
		_, err := client.DescribeKeyPairs(ctx, &ec2.DescribeKeyPairsInput{KeyNames: []string{r.ID}})
		return err
	}),
	"AWS::EC2::SnapshotShare": ec2Get(func(ctx context.Context, client *ec2.Client, r *Resource) error {
		out, err := client.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{SnapshotId: aws.String(r.ID),
			Attribute: ec2types.SnapshotAttributeNameCreateVolumePermission})
		if err != nil {
			return err
		}
		var now []string
		for _, p := range out.CreateVolumePermissions {
			now = append(now, cmp.Or(aws.ToString(p.UserId), string(p.Group)))
		}
		return stillAdmits(r, intersect(r.Opening, now), "the snapshot's permissions")
	}),
	"AWS::EC2::ImageShare": ec2Get(func(ctx context.Context, client *ec2.Client, r *Resource) error {
		out, err := client.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(r.ID),
			Attribute: ec2types.ImageAttributeNameLaunchPermission})
		if err != nil {
			return err
		}
		var now []string
		for _, p := range out.LaunchPermissions {
			now = append(now, cmp.Or(aws.ToString(p.UserId), string(p.Group)))
		}
		return stillAdmits(r, intersect(r.Opening, now), "the image's launch permissions")
	}),
	"AWS::EC2::SecurityGroupRule": ec2Get(func(ctx context.Context, client *ec2.Client, r *Resource) error {
		if r.ID == "" {
			return errUnnamed
		}
		out, err := client.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{SecurityGroupRuleIds: []string{r.ID}})
		if err != nil {
			return err
		}
		r.Exists = ExistsNo
		if len(out.SecurityGroupRules) > 0 {
			r.Exists, r.ExistsDetail = ExistsYes, "on "+aws.ToString(out.SecurityGroupRules[0].GroupId)
		}
		return nil
	}),
	"AWS::RDS::DBSnapshotShare":        dbShareCheck(false),
	"AWS::RDS::DBClusterSnapshotShare": dbShareCheck(true),
	"AWS::Lambda::Function": lambdaGet(func(ctx context.Context, client *lambda.Client, r *Resource) error {
		_, err := client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(r.ID)})
		return err
	}),
	"AWS::Lambda::Permission": lambdaGet(func(ctx context.Context, client *lambda.Client, r *Resource) error {
		out, err := client.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String(r.On)})
		if err != nil {
			return err
		}
		var doc struct {
			Statement []struct {
				Sid string `json:"Sid"`
			} `json:"Statement"`
		}
		_ = json.Unmarshal([]byte(aws.ToString(out.Policy)), &doc)
		r.Exists = ExistsNo
		if slices.ContainsFunc(doc.Statement, func(s struct {
			Sid string `json:"Sid"`
		}) bool {
			return s.Sid == r.ID
		}) {
			r.Exists, r.ExistsDetail = ExistsYes, "in the policy of "+r.On
		}
		return nil
	}),
	"AWS::Lambda::Url": lambdaGet(func(ctx context.Context, client *lambda.Client, r *Resource) error {
		out, err := client.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String(r.ID)})
		if err != nil {
			return err
		}
		r.Exists, r.ExistsDetail = ExistsYes, "auth type "+string(out.AuthType)+" at "+aws.ToString(out.FunctionUrl)
		return nil
	}),
	"AWS::S3::BucketPolicy": docCheck(DoorBucketPolicy),
	"AWS::S3::BucketAcl": s3Get(func(ctx context.Context, _ *Client, client *s3.Client, r *Resource) error {
		out, err := client.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String(r.ID)})
		if err != nil {
			return err
		}
		public := slices.ContainsFunc(out.Grants, func(g s3types.Grant) bool {
			return g.Grantee != nil && strings.Contains(strings.ToLower(aws.ToString(g.Grantee.URI)), "acs.amazonaws.com/groups/global/")
		})
		r.Exists = ExistsNo
		if public {
			r.Exists, r.ExistsDetail = ExistsYes, "the ACL still grants to everyone"
		}
		return nil
	}),
	"AWS::KMS::Grant": func(ctx context.Context, c *Client, r *Resource) error {
		client, err := cachedClient(ctx, c, "kms", r.Account, r.Region, func(cfg aws.Config) *kms.Client { return kms.NewFromConfig(cfg) })
		if err != nil {
			return err
		}
		out, err := client.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(r.On), GrantId: aws.String(r.ID)})
		if err != nil {
			return err
		}
		r.Exists = ExistsNo
		for _, g := range out.Grants {
			if aws.ToString(g.GrantId) == r.ID {
				r.Exists, r.ExistsDetail = ExistsYes, "grantee "+aws.ToString(g.GranteePrincipal)
			}
		}
		return nil
	},
	"AWS::KMS::KeyPolicy": docCheck(DoorKeyPolicy),
	"AWS::SecretsManager::Secret": secretsGet(func(ctx context.Context, _ *Client, client *secretsmanager.Client, r *Resource) error {
		out, err := client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(r.ID)})
		if err != nil {
			return err
		}
		r.Exists = ExistsYes
		if out.DeletedDate != nil {
			r.Exists, r.ExistsDetail = ExistsNo, "scheduled for deletion "+out.DeletedDate.UTC().Format(time.RFC3339)
		}
		return nil
	}),
	"AWS::SecretsManager::ResourcePolicy": docCheck(DoorSecretPolicy),
	"AWS::ECR::RepositoryPolicy":          docCheck(DoorRepositoryPolicy),
	"AWS::SNS::TopicPolicy":               docCheck(DoorTopicPolicy),
	"AWS::SQS::QueuePolicy":               docCheck(DoorQueuePolicy),
	"AWS::S3::Replication": s3Get(func(ctx context.Context, _ *Client, client *s3.Client, r *Resource) error {
		conf, err := replicationRead(ctx, client, r.ID)
		if err != nil {
			return err
		}
		var now []string
		for _, d := range replicationTargets(DoorItem{Opening: r.Opening}) {
			if conf != nil && slices.ContainsFunc(conf.Rules, toTargets([]string{d})) {
				now = append(now, d)
			}
		}
		r.Exists, r.ExistsDetail = ExistsNo, "the bucket no longer replicates to "+r.Opening
		if len(now) > 0 {
			r.Exists, r.ExistsDetail = ExistsYes, "the bucket still replicates to "+strings.Join(now, ", ")
		}
		return nil
	}),
	"AWS::SSO::AccountAssignment": func(ctx context.Context, c *Client, r *Resource) error {
		cfg, err := c.regionConfig(ctx, r.Account, r.Region)
		if err != nil {
			return err
		}
		found, err := ssoAssigned(ctx, ssoadmin.NewFromConfig(cfg), &ssoadmin.DeleteAccountAssignmentInput{InstanceArn: aws.String(r.Ref["instanceArn"]),
			PermissionSetArn: aws.String(r.Ref["permissionSetArn"]), TargetId: aws.String(r.Ref["targetId"]),
			PrincipalId: aws.String(r.ID), PrincipalType: ssotypes.PrincipalType(r.Ref["principalType"])})
		if err != nil {
			return err
		}
		r.Exists = ExistsNo
		if found {
			r.Exists, r.ExistsDetail = ExistsYes, "still assigned "+r.On+" in account "+r.Ref["targetId"]
		}
		return nil
	},
	"AWS::EKS::AccessEntry": func(ctx context.Context, c *Client, r *Resource) error {
		client, err := cachedClient(ctx, c, "eks", r.Account, r.Region, func(cfg aws.Config) *eks.Client { return eks.NewFromConfig(cfg) })
		if err != nil {
			return err
		}
		out, err := client.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{ClusterName: aws.String(r.On), PrincipalArn: aws.String(r.ID)})
		if err != nil {
			return err
		}
		r.Exists, r.ExistsDetail = ExistsYes, "on cluster "+r.On
		if e := out.AccessEntry; e != nil {
			r.ExistsDetail += ", type " + aws.ToString(e.Type)
		}
		return nil
	},
	"AWS::RolesAnywhere::TrustAnchor": func(ctx context.Context, c *Client, r *Resource) error {
		client, err := cachedClient(ctx, c, "rolesanywhere", r.Account, r.Region, func(cfg aws.Config) *rolesanywhere.Client { return rolesanywhere.NewFromConfig(cfg) })
		if err != nil {
			return err
		}
		out, err := client.GetTrustAnchor(ctx, &rolesanywhere.GetTrustAnchorInput{TrustAnchorId: aws.String(r.ID)})
		if err != nil {
			return err
		}
		r.Exists = ExistsYes
		if a := out.TrustAnchor; a != nil && !aws.ToBool(a.Enabled) {
			r.ExistsDetail = "disabled"
		}
		return nil
	},
	"AWS::RolesAnywhere::Profile": func(ctx context.Context, c *Client, r *Resource) error {
		client, err := cachedClient(ctx, c, "rolesanywhere", r.Account, r.Region, func(cfg aws.Config) *rolesanywhere.Client { return rolesanywhere.NewFromConfig(cfg) })
		if err != nil {
			return err
		}
		out, err := client.GetProfile(ctx, &rolesanywhere.GetProfileInput{ProfileId: aws.String(r.ID)})
		if err != nil {
			return err
		}
		r.Exists = ExistsYes
		if p := out.Profile; p != nil && !aws.ToBool(p.Enabled) {
			r.ExistsDetail = "disabled"
		}
		return nil
	},
	"AWS::Organizations::Account": func(ctx context.Context, c *Client, r *Resource) error {
		client, err := cachedClient(ctx, c, "organizations", r.Account, "us-east-1", func(cfg aws.Config) *organizations.Client { return organizations.NewFromConfig(cfg) })
		if err != nil {
			return err
		}
		out, err := client.DescribeCreateAccountStatus(ctx, &organizations.DescribeCreateAccountStatusInput{CreateAccountRequestId: aws.String(r.ID)})
		if err != nil {
			return err
		}
		st := out.CreateAccountStatus
		if st == nil || aws.ToString(st.AccountId) == "" {
			r.Exists, r.ExistsDetail = ExistsUnknown, "the account's creation has not finished"
			return nil
		}
		acct, err := client.DescribeAccount(ctx, &organizations.DescribeAccountInput{AccountId: st.AccountId})
		if err != nil {
			return err
		}
		r.Exists, r.ExistsDetail = ExistsYes, "account "+aws.ToString(st.AccountId)+", status "+string(acct.Account.State)
		return nil
	},
}

// errUnnamed: the event did not name the resource.
var errUnnamed = errors.New("the event does not name it")

// checkResources finds out whether each created resource still exists,
// and each opening still admits whom it did. windowStart is when the
// incident's window began: an account that joined the organisation since
// is not inside it.
func (c *Client) checkResources(ctx context.Context, rs []Resource, windowStart time.Time) []Gap {
	ctx = context.WithValue(ctx, windowStartKey{}, windowStart)
	var gaps []Gap
	for i := range rs {
		r := &rs[i]
		check, ok := existsChecks[r.Type]
		switch {
		case r.ID == "" && r.On == "":
			r.Exists, r.ExistsDetail = ExistsUnknown, "the event does not name it: list "+r.Type+" in "+r.Region+" made at "+r.CreatedAt.Format(time.RFC3339)
			continue
		case !ok:
			r.Exists, r.ExistsDetail = ExistsUnknown, "keyleak does not check "+r.Type
			continue
		}
		err := check(ctx, c, r)
		switch {
		case errors.Is(err, errUnnamed):
			r.Exists, r.ExistsDetail = ExistsUnknown, "the event does not name it: look at "+cmp.Or(r.On, r.Type)+" in "+r.Region
		case err == nil:
			if r.Exists == "" {
				r.Exists = ExistsYes
			}
		case isAPIError(err, notFoundCodes...):
			r.Exists = ExistsNo
		default:
			r.Exists, r.ExistsDetail = ExistsUnknown, describeAWSError(err)
			gaps = append(gaps, Gap{Step: StepResources, Account: r.Account, Region: r.Region,
				Reason: "whether " + r.Type + " " + r.ID + " still exists: " + r.ExistsDetail})
		}
	}
	return gaps
}

// stillAdmits sets r's state from whom its opening admits now.
func stillAdmits(r *Resource, now, what string) error {
	if now == "" {
		r.Exists, r.ExistsDetail = ExistsNo, what+" no longer admits "+r.Opening
		return nil
	}
	r.Exists, r.ExistsDetail = ExistsYes, what+" admits "+now
	return nil
}

// windowStartKey carries checkResources' window start to the checks.
type windowStartKey struct{}

// outsidersIn lists whom a policy document of the door r allows from
// outside r's account and the organisation. An account that joined the
// organisation since the incident's window began is outside, as in the
// investigation, and so is one the investigation found the door admitting
// from outside, whatever AWS Organizations says now. (Where the
// organisation's accounts cannot be listed, the investigation said so;
// those named in Options.Accounts are known.)
func (c *Client) outsidersIn(ctx context.Context, r *Resource, doc string) string {
	since, _ := ctx.Value(windowStartKey{}).(time.Time)
	listed, _ := c.ownIn(ctx, r.Account, since)
	named := map[string]bool{}
	for _, p := range strings.Split(r.Opening, ",") {
		named[accountOfPrincipal(strings.TrimSpace(p))] = true
	}
	own := func(a string) bool { return listed(a) && !named[a] }
	e := newEvent(&trail.Record{RecipientAccountID: r.Account}, own)
	return e.outsidersIn(doc)
}

// intersect lists the entries of a comma-separated opening still in now.
func intersect(opening string, now []string) string {
	var out []string
	for _, who := range strings.Split(opening, ", ") {
		if slices.ContainsFunc(now, func(n string) bool { return strings.EqualFold(n, who) }) {
			out = append(out, who)
		}
	}
	return strings.Join(out, ", ")
}

func iamGet(get func(ctx context.Context, ic *iam.Client, r *Resource) error) existsCheck {
	return func(ctx context.Context, c *Client, r *Resource) error {
		ic, err := c.iamClient(ctx, r.Account)
		if err != nil {
			return err
		}
		return get(ctx, ic, r)
	}
}

func ec2Get(get func(ctx context.Context, client *ec2.Client, r *Resource) error) existsCheck {
	return func(ctx context.Context, c *Client, r *Resource) error {
		client, err := c.ec2Client(ctx, r.Account, r.Region)
		if err != nil {
			return err
		}
		return get(ctx, client, r)
	}
}

func lambdaGet(get func(ctx context.Context, client *lambda.Client, r *Resource) error) existsCheck {
	return func(ctx context.Context, c *Client, r *Resource) error {
		client, err := c.lambdaClient(ctx, r.Account, r.Region)
		if err != nil {
			return err
		}
		return get(ctx, client, r)
	}
}

func s3Get(get func(ctx context.Context, c *Client, client *s3.Client, r *Resource) error) existsCheck {
	return func(ctx context.Context, c *Client, r *Resource) error {
		client, err := c.s3Client(ctx, r.Account, r.Region)
		if err != nil {
			return err
		}
		return get(ctx, c, client, r)
	}
}

func secretsGet(get func(ctx context.Context, c *Client, client *secretsmanager.Client, r *Resource) error) existsCheck {
	return func(ctx context.Context, c *Client, r *Resource) error {
		client, err := cachedClient(ctx, c, "secretsmanager", r.Account, r.Region, func(cfg aws.Config) *secretsmanager.Client { return secretsmanager.NewFromConfig(cfg) })
		if err != nil {
			return fmt.Errorf("secrets manager: %w", err)
		}
		return get(ctx, c, client, r)
	}
}

// docCheck checks whom a resource policy of kind admits now.
func docCheck(kind string) existsCheck {
	return func(ctx context.Context, c *Client, r *Resource) error {
		cfg, err := c.regionConfig(ctx, r.Account, r.Region)
		if err != nil {
			return err
		}
		pd := policyDocs[kind]
		doc, err := pd.get(ctx, cfg, DoorItem{Kind: kind, ID: r.ID, On: r.On, Account: r.Account, Region: r.Region})
		if err != nil {
			return err
		}
		return stillAdmits(r, c.outsidersIn(ctx, r, doc), pd.what)
	}
}

// regionConfig is the configuration of account in region ("" for the
// home region).
func (c *Client) regionConfig(ctx context.Context, account, region string) (aws.Config, error) {
	cfg, err := c.account(ctx, account)
	if err != nil {
		return aws.Config{}, err
	}
	if region != "" {
		cfg = cfg.Copy()
		cfg.Region = region
	}
	return cfg, nil
}

// dbShareCheck says whether a DB (cluster) snapshot still admits whom the
// attacker added to its restore attribute.
func dbShareCheck(cluster bool) existsCheck {
	return func(ctx context.Context, c *Client, r *Resource) error {
		client, err := cachedClient(ctx, c, "rds", r.Account, r.Region, func(cfg aws.Config) *rds.Client { return rds.NewFromConfig(cfg) })
		if err != nil {
			return err
		}
		now, err := restoreAccounts(ctx, client, cluster, r.ID)
		if err != nil {
			return err
		}
		return stillAdmits(r, intersect(r.Opening, now), "the snapshot's restore attribute")
	}
}
