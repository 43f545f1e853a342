package awsops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Check is the outcome of one preflight check in AWS (keyleak doctor).
type Check struct {
	Name   string // the piece checked: "aws identity", "responder role 111122223333"…
	Detail string // what was found
	Err    error  // why it failed; nil when it passed
	Fix    string // what to change, when it failed
}

// PreflightOptions say what Preflight checks besides keyleak's identity.
type PreflightOptions struct {
	// Accounts are where the responder role is checked. keyleak's own
	// account is checked as keyleak acts there: with its own identity,
	// unless Options.ResponderInOwnAccount.
	Accounts []string
	// TrailBucket is the CloudTrail bucket to read; empty for none.
	TrailBucket string
	// QueueURL is the intake queue to read; empty for none.
	QueueURL string
}

// Resource kinds a responder permission is simulated on: a sample ARN of
// the kind the role's policy grants it on, in the account checked.
const (
	onAnything        = ""
	onUser            = "user"
	onRole            = "role"
	onGroup           = "group"
	onInstanceProfile = "instance-profile"
	onInstance        = "instance"
	onSpotRequest     = "spot-instances-request"
	onFunction        = "function"
)

// ResponderPermission is one action of the responder role
// (deploy/aws/responder-role.yaml) as keyleak doctor simulates it.
type ResponderPermission struct {
	Action string
	// On is the kind of resource the policy grants it on; "" for any.
	On string
	// Quarantine: the policy grants it only for AWS's quarantine policies
	// (condition iam:PolicyARN), so it is simulated with one.
	Quarantine bool
	// Optional names the stack parameter that leaves it out, if one does.
	Optional string
}

// SampleResource is the ARN the permission is simulated on in account
// (with partition and region), or "*".
func (p ResponderPermission) SampleResource(partition, account, region string) string {
	const name = "keyleak-doctor-sample"
	switch p.On {
	case onUser, onRole, onGroup, onInstanceProfile:
		return "arn:" + partition + ":iam::" + account + ":" + p.On + "/" + name
	case onInstance:
		return "arn:" + partition + ":ec2:" + region + ":" + account + ":instance/i-0123456789abcdef0"
	case onSpotRequest:
		return "arn:" + partition + ":ec2:" + region + ":" + account + ":spot-instances-request/sir-keyleakdoctor"
	case onFunction:
		return "arn:" + partition + ":lambda:" + region + ":" + account + ":function:" + name
	}
	return "*"
}

// ResponderPermissions are the actions the responder role's policy allows,
// each with the resource it allows it on. A test holds the list to
// deploy/aws/responder-role.yaml.
func ResponderPermissions() []ResponderPermission {
	var out []ResponderPermission
	add := func(on string, actions ...string) {
		for _, a := range actions {
			out = append(out, ResponderPermission{Action: a, On: on})
		}
	}
	add(onAnything, // identify, investigate, and read what the attacker opened
		"iam:GetAccessKeyLastUsed", "iam:GetUser", "iam:ListAccessKeys", "iam:ListAttachedUserPolicies", "iam:ListUserPolicies",
		"iam:GetUserPolicy", "iam:ListGroupsForUser", "iam:ListAttachedGroupPolicies", "iam:ListGroupPolicies", "iam:GetGroupPolicy",
		"iam:GetPolicy", "iam:GetPolicyVersion", "iam:GetRole", "iam:ListRolePolicies", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies",
		"iam:GetLoginProfile", "iam:ListMFADevices", "iam:SimulatePrincipalPolicy", "cloudtrail:LookupEvents", "cloudtrail:DescribeTrails", "cloudtrail:GetEventSelectors", "cloudtrail:GetTrailStatus", "ec2:DescribeRegions",
		"ec2:DescribeInstances", "ec2:DescribeInstanceAttribute", "ec2:DescribeSpotInstanceRequests", "ec2:DescribeKeyPairs",
		"lambda:ListFunctions", "lambda:GetFunction", "ce:GetCostAndUsage",
		"iam:GetOpenIDConnectProvider", "iam:GetSAMLProvider", "iam:ListServiceSpecificCredentials", "ec2:DescribeSnapshotAttribute",
		"ec2:DescribeImageAttribute", "ec2:DescribeSecurityGroupRules", "rds:DescribeDBSnapshotAttributes", "lambda:GetPolicy",
		"lambda:GetFunctionUrlConfig", "s3:GetBucketPolicy", "s3:GetBucketAcl", "kms:ListGrants", "kms:GetKeyPolicy",
		"secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy", "eks:DescribeAccessEntry", "rolesanywhere:GetTrustAnchor",
		"rolesanywhere:GetProfile", "organizations:DescribeCreateAccountStatus", "organizations:DescribeAccount", "ecr:GetRepositoryPolicy",
		"sns:GetTopicAttributes", "sqs:GetQueueAttributes", "s3:GetReplicationConfiguration", "sso:ListAccountAssignments")
	add(onUser, "iam:UpdateAccessKey", "iam:DeleteAccessKey", "iam:PutUserPolicy", "iam:DeleteUserPolicy",
		"iam:DeleteUser", "iam:DeleteLoginProfile", "iam:DeactivateMFADevice")
	add(onRole, "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:DeleteRole", "iam:DetachRolePolicy", "iam:ListInstanceProfilesForRole")
	add(onInstanceProfile, "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile")
	add(onInstance, "ec2:TerminateInstances", "ec2:ModifyInstanceAttribute")
	add(onSpotRequest, "ec2:CancelSpotInstanceRequests")
	add(onFunction, "lambda:DeleteFunction")
	add(onAnything, // revoke-console, cleanup of other doors, close-doors and reopen-doors
		"signin:ListSessions", "signin:BatchRevokeSessions",
		"iam:DeleteServiceSpecificCredential", "iam:DeleteOpenIDConnectProvider", "iam:DeleteSAMLProvider",
		"rolesanywhere:DisableTrustAnchor", "rolesanywhere:DeleteTrustAnchor", "rolesanywhere:DisableProfile", "rolesanywhere:DeleteProfile",
		"eks:DeleteAccessEntry", "secretsmanager:DeleteSecret", "sso:DeleteAccountAssignment",
		"lambda:RemovePermission", "lambda:AddPermission", "lambda:DeleteFunctionUrlConfig", "lambda:CreateFunctionUrlConfig",
		"ec2:ModifySnapshotAttribute", "ec2:ModifyImageAttribute", "ec2:RevokeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupIngress",
		"rds:ModifyDBSnapshotAttribute", "rds:ModifyDBClusterSnapshotAttribute", "rds:DescribeDBClusterSnapshotAttributes",
		"s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketAcl", "kms:RevokeGrant", "kms:CreateGrant", "kms:PutKeyPolicy",
		"secretsmanager:PutResourcePolicy", "secretsmanager:DeleteResourcePolicy", "ecr:SetRepositoryPolicy", "ecr:DeleteRepositoryPolicy",
		"sns:SetTopicAttributes", "sqs:SetQueueAttributes", "s3:PutReplicationConfiguration")
	out = append(out,
		ResponderPermission{Action: "iam:AttachUserPolicy", On: onUser, Quarantine: true},
		ResponderPermission{Action: "iam:DetachUserPolicy", On: onUser, Quarantine: true},
		ResponderPermission{Action: "iam:UpdateAssumeRolePolicy", On: onRole, Optional: "RestoreTrustPolicies"},
		ResponderPermission{Action: "iam:RemoveUserFromGroup", On: onGroup, Optional: "CleanupDetachesUsers"},
	)
	return out
}

// Preflight checks that keyleak can do its work in AWS as configured: its
// own credentials, the responder role in each account with every
// permission deploy/aws grants it, the trail bucket and the intake queue.
// It changes nothing.
func (c *Client) Preflight(ctx context.Context, o PreflightOptions) []Check {
	self, err := c.Self(ctx)
	if err != nil {
		return []Check{{Name: "aws identity", Err: err, Fix: "give keyleak AWS credentials: the role on its Kubernetes ServiceAccount (deploy/kubernetes/serviceaccount.yaml, deploy/aws/stackset.md §1), AWS_PROFILE, or an instance role; AWS_ENDPOINT_URL only for a private endpoint"}}
	}
	out := []Check{{Name: "aws identity", Detail: "keyleak acts as " + self.ARN}}
	accounts := slices.Clone(o.Accounts)
	if c.opts.ResponderInOwnAccount && !slices.Contains(accounts, self.Account) {
		accounts = append([]string{self.Account}, accounts...)
	}
	if len(accounts) == 0 {
		out = append(out, Check{Name: "aws accounts", Detail: "aws.accounts lists none: the responder role is checked in no account (list the organisation's accounts to check it in each)"})
	}
	for _, a := range accounts {
		out = append(out, c.preflightAccount(ctx, a, self)...)
	}
	if len(c.opts.Organizations) > 0 {
		out = append(out, c.preflightOrganisation(ctx, accounts, self))
	}
	if o.TrailBucket != "" {
		out = append(out, c.preflightTrail(ctx, o.TrailBucket))
	}
	if o.QueueURL != "" {
		out = append(out, c.preflightQueue(ctx, o.QueueURL))
	}
	return out
}

// preflightOrganisation reads the organisation's accounts as
// investigations do, and names those the responder role is not checked
// in (not in aws.accounts).
func (c *Client) preflightOrganisation(ctx context.Context, checked []string, self Caller) Check {
	ch := Check{Name: "aws organisation"}
	listed, err := c.organisationAccounts(ctx)
	if err != nil {
		ch.Err = err
		ch.Fix = "run keyleak in the organisation's management account, or make its account a delegated administrator of AWS Organizations whose resource policy lets " +
			self.ARN + " call organizations:DescribeOrganization and organizations:ListAccounts; or else list every account of the organisation in aws.accounts"
		return ch
	}
	var unchecked []string
	for a := range listed {
		if !slices.Contains(checked, a) && a != self.Account {
			unchecked = append(unchecked, a)
		}
	}
	slices.Sort(unchecked)
	ch.Detail = fmt.Sprintf("%s of %s read from AWS Organizations: a door to one of them is not flagged", counted(len(listed), "account"), strings.Join(c.opts.Organizations, ", "))
	if len(unchecked) > 0 {
		const shown = 10
		list := strings.Join(unchecked[:min(len(unchecked), shown)], ", ")
		if len(unchecked) > shown {
			list += fmt.Sprintf(" and %d more", len(unchecked)-shown)
		}
		ch.Detail += "; not in aws.accounts, so the responder role is not checked there: " + list
	}
	return ch
}

// preflightAccount assumes the responder role in account (or takes
// keyleak's own identity in its own account) and checks its permissions.
func (c *Client) preflightAccount(ctx context.Context, account string, self Caller) []Check {
	name := "responder role " + account
	principal := c.ResponderRoleARN(account)
	var out []Check
	if account == self.Account && !c.opts.ResponderInOwnAccount {
		name = "own account " + account
		principal = principalOfSession(self.ARN)
	} else if _, err := c.account(ctx, account); err != nil {
		return []Check{{Name: name, Err: err, Fix: fmt.Sprintf("deploy the responder role to account %s (deploy/aws/responder-role.yaml through the StackSet, deploy/aws/stackset.md) trusting %s, with the external ID in aws.external_id; aws.responder_role must be its name (now %s)",
			account, self.ARN, c.opts.ResponderRole)}}
	} else {
		out = append(out, Check{Name: name, Detail: "assumed " + principal})
	}
	ic, err := c.iamClient(ctx, account)
	if err != nil {
		return append(out, Check{Name: name + " permissions", Err: err, Fix: "see the check above"})
	}
	denied, optional, how, err := c.responderDecisions(ctx, ic, principal, account)
	perm := Check{Name: name + " permissions"}
	switch {
	case err != nil:
		perm.Err, perm.Fix = err, fmt.Sprintf("let %s read its own policies (iam:SimulatePrincipalPolicy, or iam:GetRolePolicy and iam:ListAttachedRolePolicies), as deploy/aws/responder-role.yaml does", principal)
	case len(denied) > 0 && principal == c.ResponderRoleARN(account):
		perm.Err = fmt.Errorf("%s may not %s (%s)", principal, listActions(denied), how)
		perm.Fix = "update the responder role in this account to the current deploy/aws/responder-role.yaml (aws cloudformation update-stack-set, deploy/aws/stackset.md)"
	case len(denied) > 0:
		perm.Err = fmt.Errorf("keyleak's own %s may not %s here (%s)", principal, listActions(denied), how)
		perm.Fix = "to contain keys of keyleak's own account, set aws.responder_in_own_account and deploy the responder role there too (deploy/aws/stackset.md), or leave this account out of aws.accounts"
	default:
		perm.Detail = fmt.Sprintf("every action of deploy/aws/responder-role.yaml is allowed (%s)", how)
		if len(optional) > 0 {
			perm.Detail += "; left out by stack parameters: " + strings.Join(optional, ", ")
		}
	}
	return append(out, perm)
}

// listActions names up to ten actions, and how many more there are.
func listActions(actions []string) string {
	const most = 10
	if len(actions) <= most {
		return strings.Join(actions, ", ")
	}
	return fmt.Sprintf("%s and %d more of the %d actions", strings.Join(actions[:most], ", "), len(actions)-most, len(ResponderPermissions()))
}

// principalOfSession is the IAM principal behind a caller ARN: the role
// of an assumed-role session, or the ARN itself.
func principalOfSession(arn string) string {
	partition := partitionOfARN(arn)
	rest, ok := strings.CutPrefix(arn, "arn:"+partition+":sts::")
	if !ok {
		return arn
	}
	account, session, _ := strings.Cut(rest, ":")
	role, ok := strings.CutPrefix(session, "assumed-role/")
	if !ok {
		return arn
	}
	role, _, _ = strings.Cut(role, "/")
	return "arn:" + partition + ":iam::" + account + ":role/" + role
}

// responderDecisions asks iam:SimulatePrincipalPolicy whether principal
// may do each responder action on a resource of its kind, or, where IAM
// does not answer that, reads principal's policies (without weighing
// resources, conditions or denies). It returns the actions denied, the
// optional ones denied as "action (Parameter)", and how it decided.
func (c *Client) responderDecisions(ctx context.Context, ic *iam.Client, principal, account string) (denied, optional []string, how string, err error) {
	perms := ResponderPermissions()
	allowed, err := c.simulateResponder(ctx, ic, principal, account, perms)
	how = "iam:SimulatePrincipalPolicy"
	if re := (*awshttp.ResponseError)(nil); err != nil && errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		how = fmt.Sprintf("read from its policies: IAM answered iam:SimulatePrincipalPolicy with HTTP %d, so resources, conditions and denies are not weighed", re.HTTPStatusCode())
		allowed, err = readAllowed(ctx, ic, principal, perms)
	}
	if err != nil {
		return nil, nil, how, err
	}
	for _, p := range perms {
		switch {
		case allowed[p.Action]:
		case p.Optional != "":
			optional = append(optional, p.Action+" ("+p.Optional+")")
		default:
			denied = append(denied, p.Action)
		}
	}
	return denied, optional, how, nil
}

// simulateResponder simulates perms for principal, one call per resource
// and context.
func (c *Client) simulateResponder(ctx context.Context, ic *iam.Client, principal, account string, perms []ResponderPermission) (map[string]bool, error) {
	partition, region := partitionOf(c.base.Region), c.base.Region
	type group struct {
		resource   string
		quarantine bool
	}
	groups := map[group][]string{}
	var order []group
	for _, p := range perms {
		g := group{p.SampleResource(partition, account, region), p.Quarantine}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], p.Action)
	}
	allowed := map[string]bool{}
	for _, g := range order {
		in := &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(principal), ActionNames: groups[g]}
		if g.resource != "*" {
			in.ResourceArns = []string{g.resource}
		}
		if g.quarantine {
			in.ContextEntries = []iamtypes.ContextEntry{{ContextKeyName: aws.String("iam:PolicyARN"), ContextKeyType: iamtypes.ContextKeyTypeEnumString,
				ContextKeyValues: []string{"arn:" + partition + ":iam::aws:policy/AWSCompromisedKeyQuarantineV4"}}}
		}
		pages := iam.NewSimulatePrincipalPolicyPaginator(ic, in)
		for pages.HasMorePages() {
			out, err := pages.NextPage(ctx, func(o *iam.Options) { o.RetryMaxAttempts = 2 }) // an endpoint without it answers 500: do not insist
			if err != nil {
				return nil, fmt.Errorf("iam:SimulatePrincipalPolicy for %s: %w", principal, err)
			}
			for _, r := range out.EvaluationResults {
				if r.EvalDecision == iamtypes.PolicyEvaluationDecisionTypeAllowed {
					allowed[aws.ToString(r.EvalActionName)] = true
				}
			}
		}
	}
	return allowed, nil
}

// readAllowed reads the inline and attached policies of principal (a role
// or a user) and reports which of perms some Allow statement names.
func readAllowed(ctx context.Context, ic *iam.Client, principal string, perms []ResponderPermission) (map[string]bool, error) {
	// arn:<partition>:iam::<account>:<kind>/<path…>/<name>, the name in
	// its own case (ParsePrincipal folds it, for matching).
	f := strings.SplitN(principal, ":", 6)
	if len(f) != 6 {
		return nil, fmt.Errorf("%q is not an IAM ARN", principal)
	}
	kind, rest, _ := strings.Cut(f[5], "/")
	name := aws.String(rest[strings.LastIndex(rest, "/")+1:])
	// The calls that read a role's policies, or a user's.
	var (
		listInline   func() ([]string, error)
		getInline    func(policy string) (*string, error)
		listAttached func() ([]iamtypes.AttachedPolicy, error)
	)
	switch kind {
	case KindRole:
		listInline = func() ([]string, error) {
			out, err := ic.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: name})
			if err != nil {
				return nil, err
			}
			return out.PolicyNames, nil
		}
		getInline = func(pn string) (*string, error) {
			out, err := ic.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: name, PolicyName: aws.String(pn)})
			if err != nil {
				return nil, err
			}
			return out.PolicyDocument, nil
		}
		listAttached = func() ([]iamtypes.AttachedPolicy, error) {
			out, err := ic.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: name})
			if err != nil {
				return nil, err
			}
			return out.AttachedPolicies, nil
		}
	case KindUser:
		listInline = func() ([]string, error) {
			out, err := ic.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: name})
			if err != nil {
				return nil, err
			}
			return out.PolicyNames, nil
		}
		getInline = func(pn string) (*string, error) {
			out, err := ic.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: name, PolicyName: aws.String(pn)})
			if err != nil {
				return nil, err
			}
			return out.PolicyDocument, nil
		}
		listAttached = func() ([]iamtypes.AttachedPolicy, error) {
			out, err := ic.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: name})
			if err != nil {
				return nil, err
			}
			return out.AttachedPolicies, nil
		}
	default:
		return nil, fmt.Errorf("%s is neither a role nor a user", principal)
	}
	inline, err := listInline()
	if err != nil {
		return nil, fmt.Errorf("inline policies of %s: %w", principal, err)
	}
	var docs []string
	for _, pn := range inline {
		doc, err := getInline(pn)
		if err != nil {
			return nil, fmt.Errorf("policy %s of %s: %w", pn, principal, err)
		}
		docs = append(docs, aws.ToString(doc))
	}
	attached, err := listAttached()
	if err != nil {
		return nil, fmt.Errorf("attached policies of %s: %w", principal, err)
	}
	for _, ap := range attached {
		doc, err := managedPolicyDocument(ctx, ic, aws.ToString(ap.PolicyArn))
		if err != nil {
			return nil, fmt.Errorf("policy %s of %s: %w", aws.ToString(ap.PolicyArn), principal, err)
		}
		docs = append(docs, doc)
	}
	allowed := map[string]bool{}
	for _, perm := range perms {
		for _, d := range docs {
			if policyAllows(decodePolicyDocument(d), perm.Action) {
				allowed[perm.Action] = true
				break
			}
		}
	}
	return allowed, nil
}

// preflightTrail lists the trail bucket's log files and reads a byte of
// the first, as the data-event sweep does.
func (c *Client) preflightTrail(ctx context.Context, bucket string) Check {
	check := Check{Name: "trail bucket"}
	fail := func(err error) Check {
		check.Err = err
		switch errCodeOf(err) {
		case "NoSuchBucket":
			check.Fix = "aws.trail_bucket must name the trail's bucket: aws cloudtrail describe-trails --query 'trailList[].S3BucketName' (or the replica keyleak reads, with aws.trail_source_bucket naming that bucket)"
		case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
			check.Fix = "the bucket is in another region than aws.region: keyleak reads it from aws.region"
		default:
			check.Fix = fmt.Sprintf("allow keyleak's role s3:ListBucket on arn:aws:s3:::%s and s3:GetObject on arn:aws:s3:::%s/AWSLogs/* (deploy/aws/keyleak-bot-policy.json), in the bucket's policy too when it is in another account, and kms:Decrypt on the trail's key if the logs are encrypted with KMS (deploy/aws/stackset.md §1)", bucket, bucket)
		}
		return check
	}
	client, err := c.s3Client(ctx, "", "")
	if err != nil {
		return fail(err)
	}
	list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("AWSLogs/"), MaxKeys: aws.Int32(1)})
	if err != nil {
		return fail(fmt.Errorf("s3:ListBucket %s: %w", bucket, err))
	}
	if len(list.Contents) == 0 {
		check.Detail = fmt.Sprintf("s3://%s is readable but holds no log files under AWSLogs/ yet (does the trail deliver there? a key prefix goes before AWSLogs/)", bucket)
		return check
	}
	key := aws.ToString(list.Contents[0].Key)
	obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: aws.String("bytes=0-0")},
		func(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true }) // a range has no checksum to validate
	if err != nil {
		return fail(fmt.Errorf("s3:GetObject s3://%s/%s: %w", bucket, key, err))
	}
	obj.Body.Close()
	check.Detail = fmt.Sprintf("s3://%s: log files listed and read (%s)", bucket, key)
	return check
}

// preflightQueue reads the intake queue's attributes and finds its
// dead-letter queue, as the intake does.
func (c *Client) preflightQueue(ctx context.Context, queueURL string) Check {
	check := Check{Name: "intake queue"}
	q, err := c.Queue(queueURL, 0)
	if err == nil {
		var dlq string
		if dlq, err = q.deadLetterQueue(ctx); err == nil {
			check.Detail = fmt.Sprintf("%s is readable; its dead-letter queue is %s", queueURL, dlq)
			return check
		}
	}
	check.Err = err
	switch code := errCodeOf(err); {
	case errors.Is(err, ErrNoDeadLetterQueue):
		check.Fix = "give the queue a redrive policy to a dead-letter queue, as deploy/aws/intake.yaml does, so that events keyleak cannot read are kept"
	case strings.Contains(code, "NonExistentQueue"), code == "QueueDoesNotExist":
		check.Fix = "intake.queue_url must be the queue's URL, the QueueURL output of deploy/aws/intake.yaml (docs/intake.md)"
	default:
		check.Fix = "allow keyleak's role sqs:ReceiveMessage, sqs:DeleteMessage, sqs:ChangeMessageVisibility and sqs:GetQueueAttributes on the queue, and sqs:GetQueueUrl and sqs:SendMessage on its dead-letter queue (deploy/aws/keyleak-bot-policy.json)"
	}
	return check
}
