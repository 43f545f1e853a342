package awsops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/signin"
	signintypes "github.com/aws/aws-sdk-go-v2/service/signin/types"
	"github.com/aws/smithy-go"
)

// Parameters frozen by the console plans.
const (
	// ParamUsers are the IAM users whose console sessions are revoked, a
	// JSON list.
	ParamUsers = "users"
	// ParamSessions are the sign-in sessions found to revoke, a JSON list.
	ParamSessions = "sessions"
)

// policyConsole is keyleak's aws:TokenIssueTime deny on a console user.
const policyConsole = "console"

// maxRevokeBatch is how many sessions BatchRevokeSessions takes at once.
const maxRevokeBatch = 5

// errNoSigninAPI: AWS Sign-In's session API is not offered where keyleak
// asked (a partition or region without it, an endpoint that does not
// know the operation).
var errNoSigninAPI = errors.New("AWS Sign-In's session API is not offered here")

// consoleSessions lists the active sign-in sessions of a user issued
// before cutoff.
func (r *containRun) consoleSessions(ctx context.Context, client *signin.Client, user string, cutoff time.Time) ([]string, error) {
	var out []string
	in := &signin.ListSessionsInput{PrincipalArn: aws.String(user), Status: signintypes.SessionStatusActive, IssuedBefore: aws.Int64(cutoff.Unix())}
	for range 100 {
		page, err := client.ListSessions(ctx, in)
		if err != nil {
			var ae smithy.APIError
			if !errors.As(err, &ae) || strings.Contains(ae.ErrorCode(), "UnknownOperation") || ae.ErrorCode() == "UnrecognizedClientException" ||
				ae.ErrorCode() == "InvalidAction" {
				return nil, fmt.Errorf("%w (signin:ListSessions: %v)", errNoSigninAPI, err)
			}
			return nil, fmt.Errorf("sessions of %s (signin:ListSessions): %w", user, err)
		}
		for _, s := range page.Items {
			if s.Status == signintypes.SessionStatusActive {
				out = append(out, aws.ToString(s.SessionArn))
			}
		}
		if page.NextToken == nil {
			break
		}
		in.NextToken = page.NextToken
	}
	return out, nil
}

func (r *containRun) signinClient(ctx context.Context) (*signin.Client, error) {
	cfg, err := r.config(ctx, r.t.Account)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" || partitionOf(cfg.Region) == "aws" {
		cfg.Region = "us-east-1"
	}
	return signin.NewFromConfig(cfg, func(o *signin.Options) { o.EndpointResolverV2 = SigninEndpoint{} }), nil
}

// PlanRevokeConsole plans cutting the console sessions of users the
// attacker signed in as: AWS Sign-In revokes their sign-in sessions (where
// it offers the API), and keyleak's aws:TokenIssueTime deny on each user
// refuses the console credentials already issued.
func (c *Client) PlanRevokeConsole(ctx context.Context, t Target, users []string) (ActionPlan, error) {
	if len(users) == 0 {
		return ActionPlan{}, refusal(ErrTargetIncomplete, "no console sign-in of the attacker is known: name the users (arn:aws:iam::…:user/…) whose console sessions to revoke")
	}
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return ActionPlan{}, err
	}
	now := c.Now()
	cutoff := sessionCutoff(now)
	p := ActionPlan{Params: map[string]string{ParamCutoff: cutoff}}
	client, err := r.signinClient(ctx)
	if err != nil {
		return ActionPlan{}, err
	}
	var sessions []string
	fallback := ""
	for _, u := range users {
		pr, err := parsePrincipalARN(u)
		if err != nil || pr.Role {
			return ActionPlan{}, fmt.Errorf("%q is not an IAM user ARN", u)
		}
		if err := c.CheckNotProtected(ctx, u); err != nil {
			return ActionPlan{}, err
		}
		if fallback == "" {
			found, err := r.consoleSessions(ctx, client, u, now)
			switch {
			case errors.Is(err, errNoSigninAPI):
				fallback = err.Error()
			case err != nil:
				return ActionPlan{}, err
			default:
				sessions = append(sessions, found...)
			}
		}
		p.Calls = append(p.Calls, pr.inlineCall("Put", keyleakPolicyName(policyConsole, t.Incident))+revokeNote(cutoff))
	}
	for i := 0; i < len(sessions); i += maxRevokeBatch {
		batch := sessions[i:min(i+maxRevokeBatch, len(sessions))]
		p.Calls = append(p.Calls, "signin:BatchRevokeSessions "+strings.Join(batch, ","))
	}
	usersJSON, _ := json.Marshal(users)
	sessionsJSON, _ := json.Marshal(sessions)
	p.Params[ParamUsers], p.Params[ParamSessions] = string(usersJSON), string(sessionsJSON)
	p.Impact = append(p.Impact,
		fmt.Sprintf("Every console session of %s issued before %s is refused (the aws:TokenIssueTime deny); signing in again gives a new one, so reset or delete their passwords too (cleanup).", strings.Join(users, ", "), cutoff))
	switch {
	case fallback != "":
		p.Impact = append(p.Impact, "Sign-in sessions are not revoked: "+fallback+". The deny alone refuses the console credentials issued before the cutoff, which is what revoking would achieve for calls; the sessions themselves stay listed until they expire.")
	case len(sessions) == 0:
		p.Impact = append(p.Impact, "AWS Sign-In lists no active sign-in session of these users: the deny covers what may have been issued all the same.")
	default:
		p.Impact = append(p.Impact, fmt.Sprintf("%d active sign-in sessions are revoked with AWS Sign-In: they can no longer be refreshed.", len(sessions)))
	}
	p.Impact = append(p.Impact, "Revoked sign-in sessions cannot be restored; lift-console removes the deny.")
	return p, nil
}

// ExecuteRevokeConsole puts the deny on each user and revokes the frozen
// sign-in sessions; a part that fails does not stop the others.
func (c *Client) ExecuteRevokeConsole(ctx context.Context, t Target, params map[string]string) (Result, error) {
	var users, sessions []string
	if err := json.Unmarshal([]byte(params[ParamUsers]), &users); err != nil || len(users) == 0 || params[ParamCutoff] == "" {
		return Result{}, fmt.Errorf("revoke-console: no users or cutoff were frozen in the request: %v", err)
	}
	_ = json.Unmarshal([]byte(params[ParamSessions]), &sessions)
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return Result{}, err
	}
	cutoff := params[ParamCutoff]
	name := keyleakPolicyName(policyConsole, t.Incident)
	want, _ := normalPolicy(revokeDocument(cutoff))
	var failed partFailures
	for _, u := range users {
		pr, err := parsePrincipalARN(u)
		if err == nil {
			err = c.CheckNotProtected(ctx, u)
		}
		if err != nil {
			failed = append(failed, err)
			continue
		}
		current, err := r.inlinePolicy(ctx, pr, name)
		if err != nil {
			failed = append(failed, err)
			continue
		}
		if current == want {
			r.did("%s already refused console sessions issued before %s", u, cutoff)
			continue
		}
		if err := r.putInline(ctx, pr, name, revokeDocument(cutoff), revokeNote(cutoff)); err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", u, err))
			continue
		}
		r.did("%s refuses console sessions issued before %s (%s)", u, cutoff, name)
	}
	if len(sessions) > 0 {
		client, err := r.signinClient(ctx)
		if err != nil {
			return r.finish(err)
		}
		for i := 0; i < len(sessions); i += maxRevokeBatch {
			batch := sessions[i:min(i+maxRevokeBatch, len(sessions))]
			call := "signin:BatchRevokeSessions " + strings.Join(batch, ",")
			var out *signin.BatchRevokeSessionsOutput
			err := r.write(call, func() error {
				var err error
				out, err = client.BatchRevokeSessions(ctx, &signin.BatchRevokeSessionsInput{SessionArns: batch,
					PrincipalArn: aws.String("arn:" + partitionOf(r.c.base.Region) + ":iam::" + t.Account + ":*"),
					Reason:       aws.String("keyleak " + t.Incident + ": console sessions the attacker used")})
				return err
			})
			if err != nil {
				failed = append(failed, err)
				continue
			}
			for _, e := range out.Errors {
				if !strings.Contains(aws.ToString(e.Code), "NotFound") {
					failed = append(failed, fmt.Errorf("%s not revoked: %s %s", aws.ToString(e.SessionArn), aws.ToString(e.Code), aws.ToString(e.Message)))
				}
			}
			r.did("revoked %d sign-in sessions", len(out.RevokedSessions))
		}
	}
	if len(failed) > 0 {
		return r.finish(fmt.Errorf("revoke-console: not done: %w", failed))
	}
	return r.finish(nil)
}

// PlanLiftConsole plans removing keyleak's console deny from the users a
// revoke-console covered, where it is still what keyleak wrote.
func (c *Client) PlanLiftConsole(ctx context.Context, t Target, revoked map[string]string) (ActionPlan, error) {
	ps, err := consoleUsers(revoked)
	if err != nil {
		return ActionPlan{}, err
	}
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return ActionPlan{}, err
	}
	p, err := r.planRemoval(ctx, ps, keyleakPolicyName(policyConsole, t.Incident), func(n string) bool { _, ok := revokeCutoffOf(n); return ok })
	if err == nil && p.Noop == "" {
		p.Params[ParamUsers] = revoked[ParamUsers]
		p.Impact = append(p.Impact, "Console sessions issued before the cutoff work again until they expire; revoked sign-in sessions stay revoked.")
	}
	return p, err
}

// ExecuteLiftConsole removes the console deny where it is unchanged.
func (c *Client) ExecuteLiftConsole(ctx context.Context, t Target, params map[string]string) (Result, error) {
	ps, err := consoleUsers(params)
	if err != nil {
		return Result{}, err
	}
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return Result{}, err
	}
	return r.executeRemoval(ctx, ps, keyleakPolicyName(policyConsole, t.Incident), params)
}

func consoleUsers(params map[string]string) ([]iamPrincipal, error) {
	var users []string
	if err := json.Unmarshal([]byte(params[ParamUsers]), &users); err != nil || len(users) == 0 {
		return nil, fmt.Errorf("the request names no console users: %v", err)
	}
	var ps []iamPrincipal
	for _, u := range users {
		p, err := parsePrincipalARN(u)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}
