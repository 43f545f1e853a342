package awsops

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyleak/keyleak/awsops/trail"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"golang.org/x/time/rate"
)

// Parameters frozen by the session plans.
const (
	// ParamCutoff is the revocation cutoff (RFC 3339, UTC): sessions
	// issued before it are refused.
	ParamCutoff = "cutoff"
	// ParamRoles are the role ARNs the action covers, a JSON list
	// (EncodeRoles): role names may hold commas.
	ParamRoles = "roles"
)

// revokeDocument is the aws:TokenIssueTime deny: every session issued
// before cutoff is refused, later ones are not.
func revokeDocument(cutoff string) string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"KeyleakRevokeOlderSessions","Effect":"Deny","Action":"*","Resource":"*",` +
		`"Condition":{"DateLessThan":{"aws:TokenIssueTime":"` + cutoff + `"}}}]}`
}

// revokeCutoffOf returns the cutoff of a normalised document in the shape
// revokeDocument writes, and whether it is one.
func revokeCutoffOf(normal string) (string, bool) {
	var doc struct {
		Statement []struct {
			Condition struct {
				DateLessThan map[string]string
			}
		}
	}
	if json.Unmarshal([]byte(normal), &doc) != nil || len(doc.Statement) != 1 {
		return "", false
	}
	cutoff := doc.Statement[0].Condition.DateLessThan["aws:TokenIssueTime"]
	if cutoff == "" {
		return "", false
	}
	want, err := normalPolicy(revokeDocument(cutoff))
	return cutoff, err == nil && want == normal
}

func revokeNote(cutoff string) string { return " (Deny * when aws:TokenIssueTime < " + cutoff + ")" }

// sessionCutoff is now rounded up to the next whole second, so that every
// session issued up to the request is covered.
func sessionCutoff(now time.Time) string {
	t := now.UTC()
	if !t.Equal(t.Truncate(time.Second)) {
		t = t.Truncate(time.Second).Add(time.Second)
	}
	return t.Format(time.RFC3339)
}

// sessionPrincipals are the user (unless root) and the usable roles of
// the target; skipped explains each role left out. A plan (canonicalize)
// looks each role up in IAM and uses the ARN IAM gives it; an execution
// uses the roles its plan froze as they are, so that a role gone since is
// reported as a part that failed.
func (r *containRun) sessionPrincipals(ctx context.Context, roles []string, canonicalize bool) (ps []iamPrincipal, skipped []string, err error) {
	if !r.t.Root && !r.t.Temporary {
		if err := r.checkUser(ctx, "revoke the sessions of"); err != nil {
			return nil, nil, err
		}
		ps = append(ps, iamPrincipal{ARN: r.t.UserARN, Account: r.t.Account, Name: r.t.UserName})
	}
	seen := map[string]bool{}
	for _, arn := range roles {
		arn = strings.TrimSpace(arn)
		if arn == "" || seen[arn] {
			continue
		}
		seen[arn] = true
		p, err := parsePrincipalARN(arn)
		if err != nil || !p.Role {
			return nil, nil, refusal(ErrTargetIncomplete, "%q is not a role ARN (arn:aws:iam::<account>:role/<name>)", arn)
		}
		if strings.HasPrefix(p.Name, "AWSReservedSSO_") {
			skipped = append(skipped, fmt.Sprintf("Not revoked here: %s is an IAM Identity Center role; revoke its sessions in IAM Identity Center "+
				"(remove the permission set's assignment, then its active sessions end within the session duration).", arn))
			continue
		}
		// Protected under any spelling, before anything is asked of IAM;
		// then again as IAM knows the role, whose path may tell more.
		if err := r.c.CheckNotProtected(ctx, arn); err != nil {
			if r.t.TypedRoles {
				return nil, nil, err
			}
			skipped = append(skipped, "Not touched: "+err.Error()+".")
			continue
		}
		if !canonicalize {
			ps = append(ps, p)
			continue
		}
		canonical, err := r.roleARN(ctx, p)
		if goneAlready(err) {
			skipped = append(skipped, fmt.Sprintf("Not revoked: %s does not exist in IAM (deleted since, or never there).", arn))
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if canonical != arn {
			if r.t.TypedRoles {
				return nil, nil, refusal(ErrRoleMismatch, "%s is not the ARN of a role in IAM: the role named %s in account %s is %s. Give the ARN exactly as IAM shows it.", arn, p.Name, p.Account, canonical)
			}
			if p, err = parsePrincipalARN(canonical); err != nil {
				return nil, nil, err
			}
			if err := r.c.CheckNotProtected(ctx, canonical); err != nil {
				skipped = append(skipped, "Not touched: "+err.Error()+".")
				continue
			}
		}
		if seen[p.ARN] && p.ARN != arn {
			continue
		}
		seen[p.ARN] = true
		ps = append(ps, p)
	}
	return ps, skipped, nil
}

// roleARN is the ARN IAM gives the role p names (iam:GetRole in its
// account): its real path and the case of its name.
func (r *containRun) roleARN(ctx context.Context, p iamPrincipal) (string, error) {
	client, err := r.iamIn(ctx, p.Account)
	if err != nil {
		return "", err
	}
	out, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(p.Name)})
	if err != nil {
		return "", fmt.Errorf("iam:GetRole %s in account %s: %w", p.Name, p.Account, err)
	}
	return aws.ToString(out.Role.Arn), nil
}

// rolesOf returns the roles of params (frozen) or of the target.
func rolesOf(t Target, params map[string]string) []string {
	if _, ok := params[ParamRoles]; ok {
		return FrozenRoles(params)
	}
	return t.Roles
}

// FrozenRoles are the role ARNs a plan froze in params. Requests made
// before the list was JSON hold it comma-separated.
func FrozenRoles(params map[string]string) []string {
	s := params[ParamRoles]
	if s == "" {
		return nil
	}
	var roles []string
	if strings.HasPrefix(s, "[") && json.Unmarshal([]byte(s), &roles) == nil {
		return roles
	}
	return strings.Split(s, ",")
}

// EncodeRoles freezes role ARNs as the value of ParamRoles.
func EncodeRoles(roles []string) string {
	if roles == nil {
		roles = []string{}
	}
	b, _ := json.Marshal(roles) // a list of strings always marshals
	return string(b)
}

// PlanRevokeSessions plans the aws:TokenIssueTime deny, with the cutoff
// fixed now, as the inline policy keyleak-revoke-<incident> on the user
// and on every role of t. Roles keyleak must not or cannot touch are
// named in the impact and left out.
func (c *Client) PlanRevokeSessions(ctx context.Context, t Target) (ActionPlan, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return ActionPlan{}, err
	}
	ps, skipped, err := r.sessionPrincipals(ctx, t.Roles, true)
	if err != nil {
		return ActionPlan{}, err
	}
	cutoff := sessionCutoff(c.Now())
	name := keyleakPolicyName(policyRevoke, t.Incident)
	doc, _ := normalPolicy(revokeDocument(cutoff))
	p := ActionPlan{Params: map[string]string{ParamCutoff: cutoff}}
	var roles []string
	if t.Root {
		p.Impact = append(p.Impact, fmt.Sprintf("%s is a root key: sessions issued to root (sts:GetSessionToken) cannot be restricted by IAM policy; "+
			"deny root with an SCP from the organization's management account.", t.AccessKeyID))
	}
	for _, pr := range ps {
		current, err := r.inlinePolicy(ctx, pr, name)
		if err != nil {
			return ActionPlan{}, err
		}
		if pr.Role {
			roles = append(roles, pr.ARN)
			p.Impact = append(p.Impact, r.roleImpact(ctx, pr, cutoff))
		} else {
			p.Impact = append(p.Impact, fmt.Sprintf("%s: its sessions from sts:GetSessionToken and sts:GetFederationToken issued before %s are refused. "+
				"The key itself is not affected: deactivate it.", pr.ARN, cutoff))
		}
		if current == doc {
			continue // the same cutoff is in place already
		}
		if old, ok := revokeCutoffOf(current); ok {
			p.Impact = append(p.Impact, fmt.Sprintf("%s already revokes sessions before %s there; the cutoff moves to %s.", name, old, cutoff))
		} else if current != "" {
			p.Impact = append(p.Impact, fmt.Sprintf("%s on %s exists with other content and will be replaced.", name, pr.ARN))
		}
		p.Calls = append(p.Calls, pr.inlineCall("Put", name)+revokeNote(cutoff))
	}
	p.Params[ParamRoles] = EncodeRoles(roles)
	p.Impact = append(p.Impact, skipped...)
	p.Impact = append(p.Impact, "Sessions issued after the cutoff keep working; if the key is still Active it can mint new ones, so deactivate it too.")
	if len(p.Calls) == 0 {
		if len(ps) == 0 {
			return ActionPlan{Noop: "no user or role keyleak may revoke sessions on. " + strings.Join(skipped, " ")}, nil
		}
		return ActionPlan{Noop: "sessions are already revoked on " + principalARNs(ps) + " (same cutoff)"}, nil
	}
	return p, nil
}

func principalARNs(ps []iamPrincipal) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.ARN
	}
	return strings.Join(s, ", ")
}

// roleImpact says who else uses a role and what the deny does to them.
func (r *containRun) roleImpact(ctx context.Context, p iamPrincipal, cutoff string) string {
	line := fmt.Sprintf("%s: every session issued before %s is refused, the attacker's and legitimate ones alike "+
		"(workloads must get new credentials; instance-profile credentials refresh within the hour). Sessions issued after it keep working.", p.ARN, cutoff)
	client, err := r.iamIn(ctx, p.Account)
	if err != nil {
		return line
	}
	if out, err := client.ListInstanceProfilesForRole(ctx, &iam.ListInstanceProfilesForRoleInput{RoleName: aws.String(p.Name)}); err == nil && len(out.InstanceProfiles) > 0 {
		var names []string
		for _, ip := range out.InstanceProfiles {
			names = append(names, aws.ToString(ip.InstanceProfileName))
		}
		line += fmt.Sprintf(" It is the role of instance profile %s: its instances keep working once their credentials refresh.", strings.Join(names, ", "))
	}
	if n, callers, err := r.roleCallers(ctx, p.ARN); err == nil && n > 0 {
		line += fmt.Sprintf(" In the last hour it was assumed %d times by %d caller(s) (distinct session names): each keeps working once it assumes the role again after the cutoff.", n, callers)
	}
	if out, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(p.Name)}); err == nil && out.Role != nil &&
		out.Role.RoleLastUsed != nil && out.Role.RoleLastUsed.LastUsedDate != nil {
		line += " Last used " + out.Role.RoleLastUsed.LastUsedDate.UTC().Format(time.RFC3339)
		if region := aws.ToString(out.Role.RoleLastUsed.Region); region != "" {
			line += " in " + region
		}
		line += "."
	}
	return line
}

// roleCallersPages bounds the CloudTrail pages read to size a role's use.
const roleCallersPages = 4

// roleCallers counts the sessions of a role issued in the last hour, and
// how many distinct callers (by session name, else by principal) they
// went to, from CloudTrail in the home region, where STS records them. It
// reads a few pages at most, at CloudTrail's 2 requests per second.
func (r *containRun) roleCallers(ctx context.Context, roleARN string) (sessions, callers int, err error) {
	ct := cloudtrail.NewFromConfig(r.cfg, func(o *cloudtrail.Options) { o.Region = region(r.c.opts) }, r.c.lookups.paced(r.t.Account))
	end := r.c.Now()
	in := &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyResourceName, AttributeValue: aws.String(roleARN)}},
		StartTime:        aws.Time(end.Add(-time.Hour)),
		EndTime:          aws.Time(end),
		MaxResults:       aws.Int32(50),
	}
	pace := rate.NewLimiter(LookupRate, 1)
	who := map[string]bool{}
	for range roleCallersPages {
		if err := pace.Wait(ctx); err != nil {
			return 0, 0, err
		}
		out, err := ct.LookupEvents(ctx, in)
		if err != nil {
			return 0, 0, err
		}
		for _, e := range out.Events {
			if !strings.HasPrefix(aws.ToString(e.EventName), "AssumeRole") || e.CloudTrailEvent == nil {
				continue
			}
			var rec trail.Record
			if trail.Decode([]byte(*e.CloudTrailEvent), &rec) != nil || rec.ErrorCode != "" {
				continue
			}
			var req struct {
				RoleSessionName string `json:"roleSessionName"`
			}
			_ = json.Unmarshal(rec.RequestParameters, &req)
			sessions++
			who[cmp.Or(req.RoleSessionName, rec.UserIdentity.ARN)] = true
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	return sessions, len(who), nil
}

// ExecuteRevokeSessions puts the deny with the frozen cutoff on the user
// and the frozen roles. A principal that has it already is left alone;
// one that fails does not stop the others, and the error names each.
func (c *Client) ExecuteRevokeSessions(ctx context.Context, t Target, params map[string]string) (Result, error) {
	cutoff := params[ParamCutoff]
	if _, err := time.Parse(time.RFC3339, cutoff); err != nil {
		return Result{}, fmt.Errorf("revoke sessions: no valid cutoff was frozen (%q)", cutoff)
	}
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return Result{}, err
	}
	ps, skipped, err := r.sessionPrincipals(ctx, rolesOf(t, params), false)
	if err != nil {
		return Result{}, err
	}
	name := keyleakPolicyName(policyRevoke, t.Incident)
	doc := revokeDocument(cutoff)
	normal, _ := normalPolicy(doc)
	var failed partFailures
	okRoles, roles, okUser := 0, 0, false
	for _, pr := range ps {
		if pr.Role {
			roles++
		}
		current, err := r.inlinePolicy(ctx, pr, name)
		if err == nil && current != normal {
			err = r.putInline(ctx, pr, name, doc, revokeNote(cutoff))
			if err == nil {
				r.did("%s: sessions issued before %s revoked (%s)", pr.ARN, cutoff, name)
			}
		} else if err == nil {
			r.did("%s: sessions issued before %s were already revoked", pr.ARN, cutoff)
		}
		if err != nil {
			failed = append(failed, fmt.Errorf("%s failed: %w", pr.ARN, err))
			continue
		}
		if pr.Role {
			okRoles++
		} else {
			okUser = true
		}
	}
	if roles > 0 {
		r.did("%d of %d roles revoked", okRoles, roles)
	}
	for _, s := range skipped {
		r.did("%s", s)
	}
	if len(failed) > 0 {
		userNote := ""
		if !t.Root && !okUser {
			userNote = "the user was not revoked; "
		}
		return r.finish(fmt.Errorf("revoke sessions: %s%d of %d roles revoked; %w", userNote, okRoles, roles, failed))
	}
	return r.finish(nil)
}

// PlanLiftRevoke plans removing keyleak-revoke-<incident> from the user
// and the roles of t, wherever it is still exactly what keyleak wrote.
func (c *Client) PlanLiftRevoke(ctx context.Context, t Target) (ActionPlan, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return ActionPlan{}, err
	}
	ps, skipped, err := r.sessionPrincipals(ctx, t.Roles, true)
	if err != nil {
		return ActionPlan{}, err
	}
	p, err := r.planRemoval(ctx, ps, keyleakPolicyName(policyRevoke, t.Incident), func(normal string) bool {
		_, ok := revokeCutoffOf(normal)
		return ok
	})
	if err != nil || p.Noop != "" {
		return p, err
	}
	var roles []string
	for _, pr := range ps {
		if _, ok := p.Params[digestParam(pr.ARN)]; ok && pr.Role {
			roles = append(roles, pr.ARN)
		}
	}
	p.Params[ParamRoles] = EncodeRoles(roles)
	p.Impact = append(p.Impact, skipped...)
	p.Impact = append(p.Impact, "Sessions issued before the cutoff work again until they expire, the attacker's included if any is still valid.")
	return p, nil
}

// ExecuteLiftRevoke removes the policy where its frozen digest still
// matches.
func (c *Client) ExecuteLiftRevoke(ctx context.Context, t Target, params map[string]string) (Result, error) {
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return Result{}, err
	}
	ps, _, err := r.sessionPrincipals(ctx, rolesOf(t, params), false)
	if err != nil {
		return Result{}, err
	}
	ps = slices.DeleteFunc(ps, func(p iamPrincipal) bool { _, ok := params[digestParam(p.ARN)]; return !ok })
	return r.executeRemoval(ctx, ps, keyleakPolicyName(policyRevoke, t.Incident), params)
}
