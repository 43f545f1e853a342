package awsops

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// QuarantinePolicyARN is the AWS managed policy AWS itself attaches to a
// user whose key it finds exposed.
const QuarantinePolicyARN = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"

// ParamPolicyVersion is the quarantine policy version shown in the plan.
const ParamPolicyVersion = "policy_version"

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

// quarantineAttached reports whether the quarantine policy is attached to
// the user.
func (r *containRun) quarantineAttached(ctx context.Context) (bool, error) {
	p := iam.NewListAttachedUserPoliciesPaginator(r.iam, &iam.ListAttachedUserPoliciesInput{UserName: aws.String(r.t.UserName)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return false, fmt.Errorf("policies of %s (iam:ListAttachedUserPolicies): %w", r.t.UserARN, err)
		}
		for _, ap := range page.AttachedPolicies {
			if aws.ToString(ap.PolicyArn) == QuarantinePolicyARN {
				return true, nil
			}
		}
	}
	return false, nil
}

// quarantineVersion reads the quarantine policy's current default version
// and its normalised document.
func (r *containRun) quarantineVersion(ctx context.Context) (version, doc string, err error) {
	pol, err := r.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(QuarantinePolicyARN)})
	if err != nil {
		return "", "", fmt.Errorf("read %s (iam:GetPolicy): %w", QuarantinePolicyARN, err)
	}
	version = aws.ToString(pol.Policy.DefaultVersionId)
	v, err := r.iam.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(QuarantinePolicyARN), VersionId: aws.String(version)})
	if err != nil {
		return version, "", fmt.Errorf("read %s %s (iam:GetPolicyVersion): %w", QuarantinePolicyARN, version, err)
	}
	doc, err = normalPolicy(aws.ToString(v.PolicyVersion.Document))
	return version, doc, err
}

func (r *containRun) attachQuarantineCall(op string) string {
	return fmt.Sprintf("iam:%sUserPolicy %s PolicyArn=%s", op, r.t.UserARN, QuarantinePolicyARN)
}

// PlanQuarantine plans attaching AWSCompromisedKeyQuarantineV3 to the
// user, names the version in force and says what it leaves possible.
func (c *Client) PlanQuarantine(ctx context.Context, t Target) (ActionPlan, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return ActionPlan{}, err
	}
	if err := r.checkUser(ctx, "quarantine"); err != nil {
		return ActionPlan{}, err
	}
	attached, err := r.quarantineAttached(ctx)
	if err != nil {
		return ActionPlan{}, err
	}
	if attached {
		return ActionPlan{Noop: fmt.Sprintf("%s is already attached to %s", QuarantinePolicyARN, t.UserARN)}, nil
	}
	version, doc, err := r.quarantineVersion(ctx)
	if err != nil {
		return ActionPlan{}, err
	}
	return ActionPlan{
		Calls:  []string{r.attachQuarantineCall("Attach")},
		Params: map[string]string{ParamPolicyVersion: version},
		Impact: []string{
			fmt.Sprintf("%s (default version %s) denies the actions AWS lists for exposed keys; release undoes it.", QuarantinePolicyARN, version),
			quarantineRemains(doc),
			"The quarantine covers the user's own calls only: sessions of roles it assumed are not restricted (revoke-sessions).",
		},
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

// ExecuteQuarantine attaches the quarantine policy unless it is attached,
// and names the version now in force.
func (c *Client) ExecuteQuarantine(ctx context.Context, t Target, params map[string]string) (Result, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return Result{}, err
	}
	if err := r.checkUser(ctx, "quarantine"); err != nil {
		return Result{}, err
	}
	attached, err := r.quarantineAttached(ctx)
	if err != nil {
		return r.finish(err)
	}
	version, doc, err := r.quarantineVersion(ctx)
	if err != nil {
		return r.finish(err)
	}
	if attached {
		r.did("%s was already attached to %s (default version %s)", QuarantinePolicyARN, t.UserARN, version)
		return r.finish(nil)
	}
	err = r.write(r.attachQuarantineCall("Attach"), func() error {
		_, err := r.iam.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(t.UserName), PolicyArn: aws.String(QuarantinePolicyARN)})
		return err
	})
	if err != nil {
		return r.finish(fmt.Errorf("%s is not quarantined: %w", t.UserARN, err))
	}
	r.did("attached %s (default version %s) to %s", QuarantinePolicyARN, version, t.UserARN)
	if planned := params[ParamPolicyVersion]; planned != "" && planned != version {
		r.did("the policy's default version changed from %s (when requested) to %s", planned, version)
	}
	r.did("%s", quarantineRemains(doc))
	return r.finish(nil)
}

// PlanRelease plans detaching the quarantine policy from the user.
func (c *Client) PlanRelease(ctx context.Context, t Target) (ActionPlan, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return ActionPlan{}, err
	}
	if err := r.checkUser(ctx, "release"); err != nil {
		return ActionPlan{}, err
	}
	attached, err := r.quarantineAttached(ctx)
	if err != nil {
		return ActionPlan{}, err
	}
	if !attached {
		return ActionPlan{Noop: fmt.Sprintf("%s is not attached to %s", QuarantinePolicyARN, t.UserARN)}, nil
	}
	return ActionPlan{
		Calls: []string{r.attachQuarantineCall("Detach")},
		Impact: []string{
			fmt.Sprintf("%s can again do what the quarantine denied, as its own policies allow.", t.UserName),
			"If AWS attached the policy itself (AWS_RISK_IAM_QUARANTINE), releasing it answers AWS's finding: contain the key first.",
		},
	}, nil
}

// ExecuteRelease detaches the quarantine policy if it is attached.
func (c *Client) ExecuteRelease(ctx context.Context, t Target) (Result, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return Result{}, err
	}
	if err := r.checkUser(ctx, "release"); err != nil {
		return Result{}, err
	}
	attached, err := r.quarantineAttached(ctx)
	if err != nil {
		return r.finish(err)
	}
	if !attached {
		r.did("%s was already detached from %s", QuarantinePolicyARN, t.UserARN)
		return r.finish(nil)
	}
	err = r.write(r.attachQuarantineCall("Detach"), func() error {
		_, err := r.iam.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String(t.UserName), PolicyArn: aws.String(QuarantinePolicyARN)})
		if goneAlready(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return r.finish(fmt.Errorf("%s is still quarantined: %w", t.UserARN, err))
	}
	r.did("detached %s from %s", QuarantinePolicyARN, t.UserARN)
	return r.finish(nil)
}
