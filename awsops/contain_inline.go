package awsops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// iamPrincipal is an IAM user or role that keyleak puts inline policies on.
type iamPrincipal struct {
	ARN     string
	Account string
	Name    string
	Role    bool
}

// parsePrincipalARN reads arn:aws:iam::<account>:user/<path/>name or
// :role/<path/>name.
func parsePrincipalARN(arn string) (iamPrincipal, error) {
	rest, ok := strings.CutPrefix(arn, "arn:")
	parts := strings.SplitN(rest, ":", 5)
	if !ok || len(parts) != 5 || parts[1] != "iam" || len(parts[3]) != 12 {
		return iamPrincipal{}, fmt.Errorf("%q is not an IAM user or role ARN (arn:aws:iam::<account>:role/<name>)", arn)
	}
	kind, path, _ := strings.Cut(parts[4], "/")
	name := path[strings.LastIndex(path, "/")+1:]
	if name == "" || (kind != "user" && kind != "role") {
		return iamPrincipal{}, fmt.Errorf("%q is not an IAM user or role ARN (arn:aws:iam::<account>:role/<name>)", arn)
	}
	return iamPrincipal{ARN: arn, Account: parts[3], Name: name, Role: kind == "role"}, nil
}

// keyleakPolicyName is the name of one of keyleak's inline policies for an
// incident, e.g. keyleak-revoke-KL-2026-0007.
// The kinds of inline policies keyleak writes: keyleak-<kind>-<incident>.
const (
	policyRevoke  = "revoke"   // the aws:TokenIssueTime deny of revoke-sessions
	policyDenyAll = "deny-all" // the deny of every action
)

func keyleakPolicyName(kind, incident string) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("+=,.@_-", r):
			return r
		}
		return '-'
	}, incident)
	name := "keyleak-" + kind + "-" + clean
	if len(name) > 128 {
		name = name[:128]
	}
	return name
}

// normalPolicy decodes a policy document as IAM returns it (URL-encoded
// JSON) and re-encodes it canonically, so two documents compare equal
// when they say the same thing.
func normalPolicy(doc string) (string, error) {
	if strings.Contains(doc, "%") {
		if d, err := url.QueryUnescape(doc); err == nil {
			doc = d
		}
	}
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return "", fmt.Errorf("policy document is not JSON: %w", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func policyDigest(normal string) string {
	sum := sha256.Sum256([]byte(normal))
	return hex.EncodeToString(sum[:8])
}

func (p iamPrincipal) inlineCall(op, policy string) string {
	kind := "User"
	if p.Role {
		kind = "Role"
	}
	return fmt.Sprintf("iam:%s%sPolicy %s PolicyName=%s", op, kind, p.ARN, policy)
}

// inlinePolicy returns the normalised document of p's inline policy name,
// or "" when there is none.
func (r *containRun) inlinePolicy(ctx context.Context, p iamPrincipal, name string) (string, error) {
	client, err := r.iamIn(ctx, p.Account)
	if err != nil {
		return "", err
	}
	var doc *string
	if p.Role {
		out, err := client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(p.Name), PolicyName: aws.String(name)})
		if goneAlready(err) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("read %s on %s (iam:GetRolePolicy): %w", name, p.ARN, err)
		}
		doc = out.PolicyDocument
	} else {
		out, err := client.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String(p.Name), PolicyName: aws.String(name)})
		if goneAlready(err) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("read %s on %s (iam:GetUserPolicy): %w", name, p.ARN, err)
		}
		doc = out.PolicyDocument
	}
	return normalPolicy(aws.ToString(doc))
}

// putInline writes p's inline policy name; note ends the logged call.
func (r *containRun) putInline(ctx context.Context, p iamPrincipal, name, doc, note string) error {
	client, err := r.iamIn(ctx, p.Account)
	if err != nil {
		return err
	}
	return r.write(p.inlineCall("Put", name)+note, func() error {
		if p.Role {
			_, err := client.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(p.Name), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
			return err
		}
		_, err := client.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(p.Name), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
		return err
	})
}

// deleteInline removes p's inline policy name; a policy already gone is
// not an error.
func (r *containRun) deleteInline(ctx context.Context, p iamPrincipal, name string) error {
	client, err := r.iamIn(ctx, p.Account)
	if err != nil {
		return err
	}
	return r.write(p.inlineCall("Delete", name), func() error {
		var err error
		if p.Role {
			_, err = client.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(p.Name), PolicyName: aws.String(name)})
		} else {
			_, err = client.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(p.Name), PolicyName: aws.String(name)})
		}
		if goneAlready(err) {
			return nil
		}
		return err
	})
}

// digestParam is the plan parameter holding the digest of the policy an
// undo will remove from arn.
func digestParam(arn string) string { return "digest " + arn }

// planRemoval plans removing keyleak's inline policy name from each of
// ps, when it is there and is keyleak's (isOurs). It freezes each
// document's digest so the execution removes only what was approved.
func (r *containRun) planRemoval(ctx context.Context, ps []iamPrincipal, name string, isOurs func(normal string) bool) (ActionPlan, error) {
	p := ActionPlan{Params: map[string]string{}}
	for _, pr := range ps {
		doc, err := r.inlinePolicy(ctx, pr, name)
		if err != nil {
			return ActionPlan{}, err
		}
		switch {
		case doc == "":
			p.Impact = append(p.Impact, fmt.Sprintf("%s has no %s: nothing to remove there.", pr.ARN, name))
		case !isOurs(doc):
			p.Impact = append(p.Impact, fmt.Sprintf("Left in place: %s on %s was changed since keyleak wrote it; review it by hand.", name, pr.ARN))
		default:
			p.Calls = append(p.Calls, pr.inlineCall("Delete", name))
			p.Params[digestParam(pr.ARN)] = policyDigest(doc)
		}
	}
	if len(p.Calls) == 0 {
		return ActionPlan{Noop: fmt.Sprintf("no %s of keyleak's to remove (%s)", name, strings.Join(p.Impact, " "))}, nil
	}
	return p, nil
}

// executeRemoval removes name from each principal whose frozen digest
// still matches, and reports each that does not.
func (r *containRun) executeRemoval(ctx context.Context, ps []iamPrincipal, name string, params map[string]string) (Result, error) {
	var failed partFailures
	removed, planned := 0, 0
	for _, pr := range ps {
		want, ok := params[digestParam(pr.ARN)]
		if !ok {
			continue
		}
		planned++
		doc, err := r.inlinePolicy(ctx, pr, name)
		switch {
		case err != nil:
			failed = append(failed, err)
			continue
		case doc == "":
			r.did("%s was already gone from %s", name, pr.ARN)
			removed++
			continue
		case policyDigest(doc) != want:
			failed = append(failed, fmt.Errorf("%s on %s was left in place: %w", name, pr.ARN, ErrPolicyChanged))
			continue
		}
		if err := r.deleteInline(ctx, pr, name); err != nil {
			failed = append(failed, err)
			continue
		}
		removed++
		r.did("removed %s from %s", name, pr.ARN)
	}
	if len(failed) > 0 {
		return r.finish(fmt.Errorf("%d of %d removed; not removed: %w", removed, planned, failed))
	}
	return r.finish(nil)
}
