package awsops

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
)

// Severity ranks an incident by what the key can do.
type Severity string

// Severities, most severe first.
const (
	SeverityCritical Severity = "critical" // admin, IAM write, or root
	SeverityHigh     Severity = "high"     // reads data or starts compute
	SeverityMedium   Severity = "medium"   // other privileges
	SeverityLow      Severity = "low"      // no privilege found
	SeverityUnknown  Severity = "unknown"  // privileges could not be read
)

// Identity is what a key is and what it may do.
type Identity struct {
	AccessKeyID   string `json:"access_key_id"`
	Kind          string `json:"kind"` // long-term or temporary
	Account       string `json:"account"`
	AccountSource string `json:"account_source"`
	UserName      string `json:"user_name,omitempty"`
	ARN           string `json:"arn,omitempty"`
	Root          bool   `json:"root"`
	Temporary     bool   `json:"temporary"`
	// OwnerSource says where the owner was found: OwnerFromIAM, or
	// OwnerFromTrail for a key IAM no longer has.
	OwnerSource string `json:"owner_source,omitempty"`
	// Status is Active or Inactive (iam:ListAccessKeys), or Deleted when
	// IAM no longer has the key.
	Status string `json:"status,omitempty"`
	// Deleted is the key's DeleteAccessKey event, when CloudTrail has it.
	Deleted  *Deletion  `json:"deleted,omitempty"`
	Created  *time.Time `json:"created,omitempty"`
	AgeDays  int        `json:"age_days,omitempty"`
	LastUsed *LastUsed  `json:"last_used,omitempty"`
	// Policies are the user's attached, inline and group policies.
	Policies []Policy `json:"policies"`
	Admin    bool     `json:"admin"`     // Allow * on *
	IAMWrite bool     `json:"iam_write"` // may create, change or pass IAM principals
	// Capabilities are the high-risk actions some policy allows.
	Capabilities []string `json:"capabilities"`
	// Simulation holds iam:SimulatePrincipalPolicy's decisions for the
	// high-risk actions, when AWS answered.
	Simulation      []SimulatedAction `json:"simulation,omitempty"`
	Severity        Severity          `json:"severity"`
	SeverityReasons []string          `json:"severity_reasons"`
	// Notes explain root and temporary keys.
	Notes []string `json:"notes,omitempty"`
	Gaps  []Gap    `json:"-"` // copied into Investigation.Gaps
}

// LastUsed is iam:GetAccessKeyLastUsed's answer.
type LastUsed struct {
	Time    time.Time `json:"time"`
	Service string    `json:"service,omitempty"`
	Region  string    `json:"region,omitempty"`
}

// Policy is one policy that applies to the key's user.
type Policy struct {
	Name string `json:"name"`
	ARN  string `json:"arn,omitempty"` // managed policies
	// Source: "attached", "inline", "group <name> attached" or "group <name> inline".
	Source   string `json:"source"`
	Admin    bool   `json:"admin"`
	IAMWrite bool   `json:"iam_write"`
	Document string `json:"document,omitempty"` // URL-decoded JSON
}

// SimulatedAction is one decision of iam:SimulatePrincipalPolicy.
type SimulatedAction struct {
	Action   string `json:"action"`
	Decision string `json:"decision"` // allowed, explicitDeny, implicitDeny
}

// Probed actions: IAM writes make a key critical, data reads and compute
// high. HighRiskActions are simulated.
var (
	iamWriteActions = []string{"iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
		"iam:PutUserPolicy", "iam:PutRolePolicy", "iam:AttachUserPolicy", "iam:AttachRolePolicy", "iam:CreateRole",
		"iam:UpdateAssumeRolePolicy", "iam:CreatePolicyVersion", "iam:AddUserToGroup", "iam:DeleteUser", "iam:PassRole"}
	dataActions    = []string{"s3:GetObject", "secretsmanager:GetSecretValue", "ssm:GetParameter", "kms:Decrypt", "dynamodb:Scan"}
	computeActions = []string{"ec2:RunInstances", "ec2:RequestSpotInstances", "lambda:CreateFunction", "ecs:RunTask"}
)

// HighRiskActions are the actions keyleak asks iam:SimulatePrincipalPolicy about.
func HighRiskActions() []string {
	return slices.Concat(iamWriteActions, dataActions, computeActions, []string{"sts:AssumeRole", "cloudtrail:StopLogging"})
}

// Identify finds who owns key and what it may do. What cannot be found is
// listed in Identity.Gaps; it never fails outright.
func (c *Client) Identify(ctx context.Context, key KeyID) Identity {
	id := Identity{AccessKeyID: key.String(), Kind: key.Kind().String(), Temporary: key.Kind() == TemporaryKey, Severity: SeverityUnknown}
	gap := func(format string, args ...any) {
		id.Gaps = append(id.Gaps, Gap{Step: StepIdentify, Account: id.Account, AccessKeyID: key.String(), Reason: fmt.Sprintf(format, args...)})
	}
	owner, err := c.KeyOwner(ctx, key)
	id.Account, id.AccountSource, id.UserName, id.ARN, id.Root = owner.Account, owner.AccountSource, owner.UserName, owner.ARN, owner.Root
	if err == nil && !id.Temporary {
		id.OwnerSource = OwnerFromIAM
	}
	if id.Temporary {
		id.Notes = append(id.Notes,
			"ASIA… is a temporary key issued by AWS STS: it has no IAM owner, works only with its session token, and expires 15 minutes to 36 hours after issue.",
			"Its permissions are those of the role or user that minted it: the credential tree below traces the STS call that issued it and its parent key.",
			"It cannot be deactivated; revoke the sessions of its role (or user) issued before now, and contain the parent key.")
		id.SeverityReasons = append(id.SeverityReasons, "temporary key: privileges are those of its role or user, see the credential tree")
		id.Severity = SeverityHigh
	}
	gone := false
	if err != nil && !id.Temporary && isAPIError(err, "NoSuchEntity") {
		gone, err = c.identifyFromTrail(ctx, key, &id)
	}
	if err != nil {
		gap("%s", describeOwnerError(err, key, id.Account))
		return id
	}
	if id.Temporary {
		return id
	}
	ic, err := c.iamClient(ctx, id.Account)
	if err != nil {
		gap("%v", err)
		return id
	}
	if gone {
		// Privileges are the owner's as they are now: what the key could
		// do, had it not been deleted, and what its owner's other keys
		// and the attacker's sessions still can.
	} else if out, err := ic.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(key.String())}); err != nil {
		gap("last use of the key (iam:GetAccessKeyLastUsed): %s", describeAWSError(err))
	} else if lu := out.AccessKeyLastUsed; lu != nil && lu.LastUsedDate != nil {
		id.LastUsed = &LastUsed{Time: lu.LastUsedDate.UTC(), Service: naToEmpty(aws.ToString(lu.ServiceName)), Region: naToEmpty(aws.ToString(lu.Region))}
	}
	if id.Root {
		id.Notes = append(id.Notes,
			"This is a root access key: it acts as the account root user, which no IAM policy, permission boundary or session revocation restricts.",
			"Only the root user can deactivate or delete it: sign in to the AWS console as root (Security credentials page), deactivate the key, then delete it.",
			"Make sure root has MFA, and check for new IAM users, keys and roles the key created: they outlive its deletion.")
		id.Admin, id.Severity = true, SeverityCritical
		id.SeverityReasons = append(id.SeverityReasons, "root key: full control of the account")
		return id
	}
	if !gone {
		c.keyStatus(ctx, ic, key, &id, gap)
	} else if _, err := ic.GetUser(ctx, &iam.GetUserInput{UserName: aws.String(id.UserName)}); isAPIError(err, "NoSuchEntity") {
		gap("user %s, the key's owner, was deleted too: its privileges are unknown; the CloudTrail sweep still shows what the key did", id.UserName)
		id.SeverityReasons = append(id.SeverityReasons, "the key and its user were deleted: privileges unknown")
		return id
	}
	before := len(id.Gaps)
	c.readPolicies(ctx, ic, &id, gap)
	unread := len(id.Gaps) > before
	c.simulate(ctx, ic, &id, gap)
	id.Severity, id.SeverityReasons = severity(id, unread)
	return id
}

func naToEmpty(s string) string {
	if s == "N/A" {
		return ""
	}
	return s
}

// describeOwnerError explains why the key's owner is unknown.
func describeOwnerError(err error, key KeyID, account string) string {
	switch {
	case errors.Is(err, ErrAccountUnknown):
		return fmt.Sprintf("the account of %s is unknown: sts:GetAccessKeyInfo failed and the key ID is too old to carry its account", key)
	case errors.Is(err, ErrNoResponderRole):
		return err.Error() + ": the key's owner, status and privileges are unknown"
	case isAPIError(err, "NoSuchEntity"):
		return fmt.Sprintf("%s does not exist in account %s: it was deleted, or the ID is wrong (iam:GetAccessKeyLastUsed: NoSuchEntity)", key, account)
	}
	return describeAWSError(err)
}

// identifyFromTrail names the owner of a key IAM no longer has from
// CloudTrail, and says it is deleted. It reports whether it did.
func (c *Client) identifyFromTrail(ctx context.Context, key KeyID, id *Identity) (bool, error) {
	regions := c.opts.Regions
	if len(regions) == 0 {
		regions, _, _ = c.regionsOf(ctx, id.Account) // on failure the global region is still looked in
	}
	o, err := c.ownerFromTrail(ctx, key, id.Account, regions)
	if err != nil {
		return false, fmt.Errorf("%s is not in IAM (iam:GetAccessKeyLastUsed: NoSuchEntity) and its owner is not in CloudTrail either: %w", key, err)
	}
	id.UserName, id.ARN, id.Root = o.userName, o.arn, o.root
	id.OwnerSource, id.Status, id.Deleted = OwnerFromTrail, KeyStatusDeleted, o.deleted
	if o.created != nil {
		id.Created, id.AgeDays = o.created, int(c.Now().Sub(*o.created).Hours()/24)
	}
	note := "The key is no longer in IAM: it was deleted"
	if d := o.deleted; d != nil {
		note += fmt.Sprintf(" at %s by %s", d.At.Format(time.RFC3339), cmp.Or(d.By, "an unknown caller"))
	} else {
		note += " (its DeleteAccessKey event is not in CloudTrail's 90 days)"
	}
	id.Notes = append(id.Notes, note+". Its owner was found in CloudTrail; the sweep shows what it did while it lived, and what it created or minted may still work.")
	return true, nil
}

// keyStatus reads the key's status and creation date.
func (c *Client) keyStatus(ctx context.Context, ic *iam.Client, key KeyID, id *Identity, gap func(string, ...any)) {
	p := iam.NewListAccessKeysPaginator(ic, &iam.ListAccessKeysInput{UserName: aws.String(id.UserName)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			gap("status of the key (iam:ListAccessKeys for %s): %s", id.UserName, describeAWSError(err))
			return
		}
		for _, k := range out.AccessKeyMetadata {
			if aws.ToString(k.AccessKeyId) == key.String() {
				id.Status = string(k.Status)
				if k.CreateDate != nil {
					created := k.CreateDate.UTC()
					id.Created, id.AgeDays = &created, int(c.Now().Sub(created).Hours()/24)
				}
				return
			}
		}
	}
	gap("iam:ListAccessKeys for %s does not list %s", id.UserName, key)
}

// readPolicies reads the user's attached, inline and group policies.
func (c *Client) readPolicies(ctx context.Context, ic *iam.Client, id *Identity, gap func(string, ...any)) {
	user := aws.String(id.UserName)
	add := func(p Policy, doc string, err error) {
		if err != nil {
			gap("policy %s (%s) of %s: %s", p.Name, p.Source, id.UserName, describeAWSError(err))
			return
		}
		p.Document = decodePolicyDocument(doc)
		p.Admin, p.IAMWrite = analyzePolicy(p.Document)
		id.Policies = append(id.Policies, p)
	}
	attached := func(source string, list []iamtypes.AttachedPolicy) {
		for _, ap := range list {
			doc, err := managedPolicyDocument(ctx, ic, aws.ToString(ap.PolicyArn))
			add(Policy{Name: aws.ToString(ap.PolicyName), ARN: aws.ToString(ap.PolicyArn), Source: source}, doc, err)
		}
	}
	if out, err := ic.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: user}); err != nil {
		gap("attached policies of %s (iam:ListAttachedUserPolicies): %s", id.UserName, describeAWSError(err))
	} else {
		attached("attached", out.AttachedPolicies)
	}
	if out, err := ic.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: user}); err != nil {
		gap("inline policies of %s (iam:ListUserPolicies): %s", id.UserName, describeAWSError(err))
	} else {
		for _, name := range out.PolicyNames {
			got, err := ic.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: user, PolicyName: aws.String(name)})
			add(Policy{Name: name, Source: "inline"}, policyText(got, err), err)
		}
	}
	groups, err := ic.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: user})
	if err != nil {
		gap("groups of %s (iam:ListGroupsForUser): %s", id.UserName, describeAWSError(err))
		return
	}
	for _, g := range groups.Groups {
		name := g.GroupName
		if out, err := ic.ListAttachedGroupPolicies(ctx, &iam.ListAttachedGroupPoliciesInput{GroupName: name}); err != nil {
			gap("attached policies of group %s: %s", aws.ToString(name), describeAWSError(err))
		} else {
			attached("group "+aws.ToString(name)+" attached", out.AttachedPolicies)
		}
		out, err := ic.ListGroupPolicies(ctx, &iam.ListGroupPoliciesInput{GroupName: name})
		if err != nil {
			gap("inline policies of group %s: %s", aws.ToString(name), describeAWSError(err))
			continue
		}
		for _, pn := range out.PolicyNames {
			got, err := ic.GetGroupPolicy(ctx, &iam.GetGroupPolicyInput{GroupName: name, PolicyName: aws.String(pn)})
			doc := ""
			if err == nil {
				doc = aws.ToString(got.PolicyDocument)
			}
			add(Policy{Name: pn, Source: "group " + aws.ToString(name) + " inline"}, doc, err)
		}
	}
	for _, p := range id.Policies {
		id.Admin = id.Admin || p.Admin
		id.IAMWrite = id.IAMWrite || p.IAMWrite
	}
	for _, a := range slices.Concat(iamWriteActions, dataActions, computeActions) {
		if slices.ContainsFunc(id.Policies, func(p Policy) bool { return policyAllows(p.Document, a) }) {
			id.Capabilities = append(id.Capabilities, a)
		}
	}
}

func policyText(out *iam.GetUserPolicyOutput, err error) string {
	if err != nil {
		return ""
	}
	return aws.ToString(out.PolicyDocument)
}

func managedPolicyDocument(ctx context.Context, ic *iam.Client, arn string) (string, error) {
	p, err := ic.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("iam:GetPolicy: %w", err)
	}
	v, err := ic.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: p.Policy.DefaultVersionId})
	if err != nil {
		return "", fmt.Errorf("iam:GetPolicyVersion: %w", err)
	}
	return aws.ToString(v.PolicyVersion.Document), nil
}

// simulate asks iam:SimulatePrincipalPolicy about the high-risk actions.
func (c *Client) simulate(ctx context.Context, ic *iam.Client, id *Identity, gap func(string, ...any)) {
	out, err := ic.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{PolicySourceArn: aws.String(id.ARN), ActionNames: HighRiskActions()},
		func(o *iam.Options) { o.RetryMaxAttempts = 2 }) // an endpoint without it answers 500: do not insist
	if err != nil {
		why := describeAWSError(err)
		if re := (*awshttp.ResponseError)(nil); errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
			why = fmt.Sprintf("the IAM endpoint answered HTTP %d: it does not implement it", re.HTTPStatusCode())
		}
		gap("iam:SimulatePrincipalPolicy is unavailable (%s): privileges come from reading the policies only, and Deny statements, boundaries and SCPs are not weighed", why)
		return
	}
	for _, r := range out.EvaluationResults {
		id.Simulation = append(id.Simulation, SimulatedAction{Action: aws.ToString(r.EvalActionName), Decision: string(r.EvalDecision)})
	}
}

// severity ranks the identity; unread says some policies could not be read.
func severity(id Identity, unread bool) (Severity, []string) {
	allowed := func(list []string) []string {
		var out []string
		for _, a := range list {
			if slices.Contains(id.Capabilities, a) || slices.ContainsFunc(id.Simulation, func(s SimulatedAction) bool { return s.Action == a && s.Decision == "allowed" }) {
				out = append(out, a)
			}
		}
		return out
	}
	iamWrite := allowed(iamWriteActions)
	switch {
	case id.Admin:
		return SeverityCritical, []string{"administrator: a policy allows * on *"}
	case id.IAMWrite || len(iamWrite) > 0:
		return SeverityCritical, []string{"can write IAM (" + strings.Join(iamWrite, ", ") + "): it can create users, keys or roles that outlive the key"}
	}
	var reasons []string
	if d := allowed(dataActions); len(d) > 0 {
		reasons = append(reasons, "can read data ("+strings.Join(d, ", ")+")")
	}
	if cp := allowed(computeActions); len(cp) > 0 {
		reasons = append(reasons, "can start compute ("+strings.Join(cp, ", ")+")")
	}
	switch {
	case len(reasons) > 0:
		return SeverityHigh, reasons
	case unread:
		return SeverityUnknown, []string{"privileges could not be fully read"}
	case len(id.Policies) > 0:
		return SeverityMedium, []string{"has policies, none allowing IAM writes, data reads or compute"}
	}
	return SeverityLow, []string{"no policy grants it anything"}
}

// creationFromTrail moves the key's creation date back to its
// CreateAccessKey event when CloudTrail recorded it earlier than IAM
// reports (clock skew, or a restored account), so that the window never
// starts after the key's first use. One short lookup in us-east-1, where
// IAM events are recorded.
func (c *Client) creationFromTrail(ctx context.Context, id *Identity, now time.Time) {
	ct, err := c.cloudtrailClient(ctx, id.Account, "us-east-1")
	if err != nil {
		return
	}
	in := &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyResourceName, AttributeValue: aws.String(id.AccessKeyID)}},
		StartTime:        aws.Time(now.Add(-maxWindow)), EndTime: aws.Time(now),
	}
	for range 20 { // pages; the key's IAM events are few
		out, err := ct.LookupEvents(ctx, in)
		if err != nil {
			return
		}
		for _, e := range out.Events {
			if aws.ToString(e.EventName) == "CreateAccessKey" && e.EventTime != nil && e.EventTime.Before(*id.Created) {
				created := e.EventTime.UTC()
				id.Created, id.AgeDays = &created, int(now.Sub(created).Hours()/24)
			}
		}
		if out.NextToken == nil {
			return
		}
		in.NextToken = out.NextToken
	}
}

// describeAWSError says what went wrong in a call, in terms a responder
// can act on.
func describeAWSError(err error) string {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		if errors.Is(err, context.DeadlineExceeded) {
			return "timed out: " + err.Error()
		}
		return err.Error()
	}
	switch code := ae.ErrorCode(); {
	case strings.Contains(code, "ExpiredToken"), code == "RequestExpired":
		return "the responder session expired (" + code + "): " + err.Error()
	case strings.Contains(code, "Throttl"), code == "RequestLimitExceeded", code == "TooManyRequestsException":
		return "throttled by AWS even after retries (" + code + "): " + err.Error()
	case strings.Contains(code, "AccessDenied"), code == "UnauthorizedOperation":
		return "the responder role lacks permission (" + code + "): " + err.Error()
	}
	return err.Error()
}
