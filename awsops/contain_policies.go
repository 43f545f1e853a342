package awsops

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// quarantinePolicyName is the name AWS gives the managed policies it
// attaches to a user whose key it finds exposed, followed by V2, V3, V4…
const quarantinePolicyName = "AWSCompromisedKeyQuarantine"

// QuarantinePolicyARN is the ARN of quarantine policy version v ("" for
// the first, V2, V3…) in keyleak's partition.
func (c *Client) QuarantinePolicyARN(v string) string {
	return "arn:" + partitionOf(c.base.Region) + ":iam::aws:policy/" + quarantinePolicyName + v
}

// Parameters of a quarantine plan: the policy attached (the newest the
// account has when it was requested) and its default version then.
const (
	ParamPolicyARN     = "policy_arn"
	ParamPolicyVersion = "policy_version"
)

// highRiskActions are what an attacker with a quarantined key would try
// next; the quarantine plan says which of them the policy leaves open.
var highRiskActions = []string{
	"sts:AssumeRole", "iam:DeleteUserPolicy", "iam:DeleteRolePolicy", "iam:CreatePolicy", "iam:CreateGroup",
	"iam:AttachUserPolicy", "iam:CreateAccessKey", "iam:CreateUser", "iam:UpdateAssumeRolePolicy",
	"s3:GetObject", "s3:PutObject", "s3:ListAllMyBuckets", "secretsmanager:GetSecretValue", "ssm:GetParameter",
	"kms:Decrypt", "ec2:RunInstances", "ec2:CreateKeyPair", "ec2:AuthorizeSecurityGroupIngress",
	"ec2:ModifySnapshotAttribute", "ec2:TerminateInstances", "lambda:CreateFunction", "lambda:InvokeFunction",
	"lambda:UpdateFunctionConfiguration", "dynamodb:Scan", "rds:ModifyDBInstance", "cloudtrail:StopLogging",
	"cloudtrail:DeleteTrail", "guardduty:DeleteDetector", "sts:GetSessionToken",
}

// denyAllDocument refuses every call of the principal.
const denyAllDocument = `{"Version":"2012-10-17","Statement":[{"Sid":"KeyleakDenyAll","Effect":"Deny","Action":"*","Resource":"*"}]}`

const denyAllNote = " (Deny *)"

func (r *containRun) userPrincipal() iamPrincipal {
	return iamPrincipal{ARN: r.t.UserARN, Account: r.t.Account, Name: r.t.UserName}
}

// PlanDenyAll plans the break-glass: an explicit deny of everything as
// the inline policy keyleak-deny-all-<incident> on the user.
func (c *Client) PlanDenyAll(ctx context.Context, t Target) (ActionPlan, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return ActionPlan{}, err
	}
	if err := r.checkUser(ctx, "deny"); err != nil {
		return ActionPlan{}, err
	}
	name := keyleakPolicyName(policyDenyAll, t.Incident)
	current, err := r.inlinePolicy(ctx, r.userPrincipal(), name)
	if err != nil {
		return ActionPlan{}, err
	}
	if want, _ := normalPolicy(denyAllDocument); current == want {
		return ActionPlan{Noop: fmt.Sprintf("%s already denies everything (%s)", t.UserARN, name)}, nil
	}
	return ActionPlan{
		Calls: []string{r.userPrincipal().inlineCall("Put", name) + denyAllNote},
		Impact: []string{
			fmt.Sprintf("Every call made as %s is refused: its keys (the leaked one and any other), its console sign-in, and its sessions from sts:GetSessionToken.", t.UserName),
			"Whatever legitimately uses this user stops working until lift-deny-all.",
			"Roles the user's sessions assumed are not covered: revoke-sessions does that.",
		},
	}, nil
}

// ExecuteDenyAll puts the deny-all policy unless it is there already.
func (c *Client) ExecuteDenyAll(ctx context.Context, t Target) (Result, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return Result{}, err
	}
	if err := r.checkUser(ctx, "deny"); err != nil {
		return Result{}, err
	}
	name := keyleakPolicyName(policyDenyAll, t.Incident)
	current, err := r.inlinePolicy(ctx, r.userPrincipal(), name)
	if err != nil {
		return r.finish(err)
	}
	if want, _ := normalPolicy(denyAllDocument); current == want {
		r.did("%s already denied everything (%s)", t.UserARN, name)
		return r.finish(nil)
	}
	if err := r.putInline(ctx, r.userPrincipal(), name, denyAllDocument, denyAllNote); err != nil {
		return r.finish(fmt.Errorf("%s is not denied: %w", t.UserARN, err))
	}
	r.did("%s now denies everything (%s)", t.UserARN, name)
	return r.finish(nil)
}

// PlanLiftDenyAll plans removing keyleak-deny-all-<incident>, only if it
// is still exactly what keyleak wrote.
func (c *Client) PlanLiftDenyAll(ctx context.Context, t Target) (ActionPlan, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return ActionPlan{}, err
	}
	if err := r.checkUser(ctx, "lift the deny on"); err != nil {
		return ActionPlan{}, err
	}
	want, _ := normalPolicy(denyAllDocument)
	p, err := r.planRemoval(ctx, []iamPrincipal{r.userPrincipal()}, keyleakPolicyName(policyDenyAll, t.Incident), func(n string) bool { return n == want })
	if err == nil && p.Noop == "" {
		p.Impact = append(p.Impact, fmt.Sprintf("%s can act again as its own policies allow, with any of its keys that are Active.", t.UserName))
	}
	return p, err
}

// ExecuteLiftDenyAll removes the deny-all policy if it is unchanged.
func (c *Client) ExecuteLiftDenyAll(ctx context.Context, t Target, params map[string]string) (Result, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return Result{}, err
	}
	if err := r.checkUser(ctx, "lift the deny on"); err != nil {
		return Result{}, err
	}
	return r.executeRemoval(ctx, []iamPrincipal{r.userPrincipal()}, keyleakPolicyName(policyDenyAll, t.Incident), params)
}

// quarantinesAttached are the quarantine policies (any version) attached
// to the user.
func (r *containRun) quarantinesAttached(ctx context.Context) ([]string, error) {
	var out []string
	p := iam.NewListAttachedUserPoliciesPaginator(r.iam, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(r.t.UserName)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("policies of %s (iam:ListAttachedUserPolicies): %w", r.t.UserARN, err)
		}
		for _, ap := range page.AttachedPolicies {
			if isQuarantinePolicy(aws.ToString(ap.PolicyArn)) {
				out = append(out, aws.ToString(ap.PolicyArn))
			}
		}
	}
	return out, nil
}

// isQuarantinePolicy reports whether arn is a version of AWS's quarantine
// policy.
func isQuarantinePolicy(arn string) bool {
	_, name, ok := strings.Cut(arn, ":iam::aws:policy/")
	if !ok || !strings.HasPrefix(name, quarantinePolicyName) {
		return false
	}
	v := strings.TrimPrefix(name, quarantinePolicyName)
	return v == "" || len(v) > 1 && v[0] == 'V' && strings.Trim(v[1:], "0123456789") == ""
}

// newestQuarantine finds the newest version of the quarantine policy the
// account has (AWS publishes V2, V3, V4… and keeps the older ones): it
// climbs from V3 while the next exists, and falls back below V3 where
// V3 does not. It returns the policy, its default version and document.
func (r *containRun) newestQuarantine(ctx context.Context) (arn, version, doc string, err error) {
	exists := func(v string) (bool, error) {
		_, err := r.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(r.c.QuarantinePolicyARN(v))})
		if goneAlready(err) {
			return false, nil
		}
		return err == nil, err
	}
	newest := ""
	for n := 3; n < 100; n++ {
		ok, err := exists(fmt.Sprintf("V%d", n))
		if err != nil {
			return "", "", "", fmt.Errorf("look for %sV%d (iam:GetPolicy): %w", quarantinePolicyName, n, err)
		}
		if !ok {
			break
		}
		newest = fmt.Sprintf("V%d", n)
	}
	if newest == "" {
		for _, v := range []string{"V2", ""} {
			if ok, err := exists(v); err != nil {
				return "", "", "", fmt.Errorf("look for %s%s (iam:GetPolicy): %w", quarantinePolicyName, v, err)
			} else if ok {
				newest = v
				break
			}
		}
		if newest == "" {
			return "", "", "", fmt.Errorf("no version of %s exists in account %s: deny-all does what it would", quarantinePolicyName, r.t.Account)
		}
	}
	arn = r.c.QuarantinePolicyARN(newest)
	version, doc, err = r.policyDocument(ctx, arn)
	return arn, version, doc, err
}

// policyDocument reads a managed policy's default version and its
// normalised document.
func (r *containRun) policyDocument(ctx context.Context, arn string) (version, doc string, err error) {
	pol, err := r.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil {
		return "", "", fmt.Errorf("read %s (iam:GetPolicy): %w", arn, err)
	}
	version = aws.ToString(pol.Policy.DefaultVersionId)
	v, err := r.iam.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String(version)})
	if err != nil {
		return version, "", fmt.Errorf("read %s %s (iam:GetPolicyVersion): %w", arn, version, err)
	}
	doc, err = normalPolicy(aws.ToString(v.PolicyVersion.Document))
	return version, doc, err
}

func (r *containRun) attachQuarantineCall(op, arn string) string {
	return fmt.Sprintf("iam:%sUserPolicy %s PolicyArn=%s", op, r.t.UserARN, arn)
}

// PlanQuarantine plans attaching the newest AWSCompromisedKeyQuarantineV*
// the account has to the user, names its version in force and says what
// it leaves possible.
func (c *Client) PlanQuarantine(ctx context.Context, t Target) (ActionPlan, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return ActionPlan{}, err
	}
	if err := r.checkUser(ctx, "quarantine"); err != nil {
		return ActionPlan{}, err
	}
	attached, err := r.quarantinesAttached(ctx)
	if err != nil {
		return ActionPlan{}, err
	}
	arn, version, doc, err := r.newestQuarantine(ctx)
	if err != nil {
		return ActionPlan{}, err
	}
	if slices.Contains(attached, arn) {
		return ActionPlan{Noop: fmt.Sprintf("%s is already attached to %s", arn, t.UserARN)}, nil
	}
	impact := []string{
		fmt.Sprintf("%s (default version %s), the newest quarantine policy the account has, denies the actions AWS lists for exposed keys; release undoes it.", arn, version),
		quarantineRemains(doc),
		"The quarantine covers the user's own calls only: sessions of roles it assumed are not restricted (revoke-sessions).",
	}
	if len(attached) > 0 {
		impact = append(impact, "Already attached, and left as they are: "+strings.Join(attached, ", ")+".")
	}
	return ActionPlan{
		Calls:  []string{r.attachQuarantineCall("Attach", arn)},
		Params: map[string]string{ParamPolicyARN: arn, ParamPolicyVersion: version},
		Impact: impact,
	}, nil
}

// quarantineRemains says which high-risk actions the policy document does
// not deny.
func quarantineRemains(doc string) string {
	open := quarantineGaps(doc, highRiskActions)
	if len(open) == 0 {
		return "Every action on keyleak's high-risk list is denied by it."
	}
	return "Still possible if the user's own policies allow it (not denied by the quarantine policy): " + strings.Join(open, ", ") + "."
}

// quarantineGaps returns the actions no unconditional Deny statement of
// the normalised policy document covers.
func quarantineGaps(doc string, actions []string) []string {
	var pol policyDocument
	if err := json.Unmarshal([]byte(doc), &pol); err != nil {
		return actions
	}
	var open []string
	for _, a := range actions {
		denied := false
		for _, s := range pol.Statement {
			if s.Effect == "Deny" && len(s.Condition) == 0 && s.covers(a) {
				denied = true
				break
			}
		}
		if !denied {
			open = append(open, a)
		}
	}
	return open
}

// ExecuteQuarantine attaches the quarantine policy the request froze
// unless it is attached, and names the version now in force.
func (c *Client) ExecuteQuarantine(ctx context.Context, t Target, params map[string]string) (Result, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return Result{}, err
	}
	if err := r.checkUser(ctx, "quarantine"); err != nil {
		return Result{}, err
	}
	arn := params[ParamPolicyARN]
	if !isQuarantinePolicy(arn) {
		return Result{}, fmt.Errorf("quarantine: the request froze no quarantine policy (%q)", arn)
	}
	attached, err := r.quarantinesAttached(ctx)
	if err != nil {
		return r.finish(err)
	}
	version, doc, err := r.policyDocument(ctx, arn)
	if err != nil {
		return r.finish(err)
	}
	if slices.Contains(attached, arn) {
		r.did("%s was already attached to %s (default version %s)", arn, t.UserARN, version)
		return r.finish(nil)
	}
	err = r.write(r.attachQuarantineCall("Attach", arn), func() error {
		_, err := r.iam.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(t.UserName), PolicyArn: aws.String(arn)})
		return err
	})
	if err != nil {
		return r.finish(fmt.Errorf("%s is not quarantined: %w", t.UserARN, err))
	}
	r.did("attached %s (default version %s) to %s", arn, version, t.UserARN)
	if planned := params[ParamPolicyVersion]; planned != "" && planned != version {
		r.did("the policy's default version changed from %s (when requested) to %s", planned, version)
	}
	r.did("%s", quarantineRemains(doc))
	return r.finish(nil)
}

// PlanRelease plans detaching the quarantine policies attached to the
// user, whichever version.
func (c *Client) PlanRelease(ctx context.Context, t Target) (ActionPlan, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return ActionPlan{}, err
	}
	if err := r.checkUser(ctx, "release"); err != nil {
		return ActionPlan{}, err
	}
	attached, err := r.quarantinesAttached(ctx)
	if err != nil {
		return ActionPlan{}, err
	}
	if len(attached) == 0 {
		return ActionPlan{Noop: fmt.Sprintf("no quarantine policy is attached to %s", t.UserARN)}, nil
	}
	var calls []string
	for _, arn := range attached {
		calls = append(calls, r.attachQuarantineCall("Detach", arn))
	}
	return ActionPlan{
		Calls: calls,
		Impact: []string{
			fmt.Sprintf("%s can again do what the quarantine denied, as its own policies allow.", t.UserName),
			"If AWS attached a quarantine policy itself (AWS_RISK_IAM_QUARANTINE), releasing it answers AWS's finding: contain the key first.",
		},
	}, nil
}

// ExecuteRelease detaches every quarantine policy attached to the user.
func (c *Client) ExecuteRelease(ctx context.Context, t Target) (Result, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return Result{}, err
	}
	if err := r.checkUser(ctx, "release"); err != nil {
		return Result{}, err
	}
	attached, err := r.quarantinesAttached(ctx)
	if err != nil {
		return r.finish(err)
	}
	if len(attached) == 0 {
		r.did("%s was already released: no quarantine policy is attached", t.UserARN)
		return r.finish(nil)
	}
	for _, arn := range attached {
		err = r.write(r.attachQuarantineCall("Detach", arn), func() error {
			_, err := r.iam.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String(t.UserName), PolicyArn: aws.String(arn)})
			if goneAlready(err) {
				return nil
			}
			return err
		})
		if err != nil {
			return r.finish(fmt.Errorf("%s is still quarantined: %w", t.UserARN, err))
		}
		r.did("detached %s from %s", arn, t.UserARN)
	}
	return r.finish(nil)
}
