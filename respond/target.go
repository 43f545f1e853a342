package respond

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// Parameters the containment executors freeze besides awsops's own.
const (
	paramAccount   = "account"
	paramUserARN   = "user_arn"
	paramRequested = "requested" // the resource IDs typed after cleanup
)

// containExecutor adapts one awsops action pair to commands.Executor.
type containExecutor struct {
	c     *awsops.Client
	roles rolesSource // set for the actions that cover roles
	plan  func(ctx context.Context, inc state.Incident, t awsops.Target, params map[string]string) (awsops.ActionPlan, error)
	exec  func(ctx context.Context, t awsops.Target, params map[string]string) (awsops.Result, error)
}

// Plan computes the plan and freezes the target (account and user ARN)
// with the action's own parameters.
func (e *containExecutor) Plan(ctx context.Context, inc state.Incident, params map[string]string) (commands.Plan, error) {
	t, err := e.target(ctx, inc, params)
	if err != nil {
		return commands.Plan{}, userFacing(err)
	}
	var warnings []string
	if e.roles != nil {
		if _, typed := params[awsops.ParamRoles]; typed {
			t.TypedRoles = true
			if warnings, err = e.outsideTree(ctx, inc, t.Roles, params[paramOutsideTree] != ""); err != nil {
				return commands.Plan{}, err
			}
		} else if t.Roles, err = e.roles(ctx, inc); err != nil {
			return commands.Plan{}, fmt.Errorf("roles of %s's sessions: %w", inc.AccessKeyID, err)
		}
	}
	p, err := e.plan(ctx, inc, t, params)
	if err != nil {
		return commands.Plan{}, userFacing(err)
	}
	if p.Noop != "" {
		return commands.Plan{Noop: p.Noop}, nil
	}
	frozen := map[string]string{paramAccount: t.Account, paramUserARN: t.UserARN}
	for k, v := range p.Params {
		frozen[k] = v
	}
	return commands.Plan{Calls: p.Calls, Impact: p.Impact, Params: frozen, Warnings: warnings}, nil
}

// outsideTree checks typed roles against the credential tree: one the
// key's sessions were not seen to use needs --outside-tree, and then it is
// a warning on the request card.
func (e *containExecutor) outsideTree(ctx context.Context, inc state.Incident, typed []string, allowed bool) ([]string, error) {
	tree, err := e.roles(ctx, inc)
	if err != nil {
		tree = nil // no findings yet: every typed role is outside what is known
	}
	var outside []string
	for _, arn := range typed {
		p, err := awsops.ParsePrincipal(arn)
		if err != nil {
			return nil, commands.Userf("%q is not a role ARN", arn)
		}
		if !slices.ContainsFunc(tree, func(s string) bool { q, err := awsops.ParsePrincipal(s); return err == nil && q.Same(p) }) {
			outside = append(outside, arn)
		}
	}
	if len(outside) == 0 {
		return nil, nil
	}
	if !allowed {
		return nil, commands.Userf("%s: the key's sessions were not seen to use it (see the credential tree in the findings). To act on it anyway, add %s; the request card will say so.",
			strings.Join(outside, ", "), flagOutsideTree)
	}
	var warnings []string
	for _, arn := range outside {
		warnings = append(warnings, "OUTSIDE THE CREDENTIAL TREE: "+arn+" was named by the requester; the investigation did not see the key's sessions use it.")
	}
	return warnings, nil
}

// Execute runs the approved action with its frozen parameters.
func (e *containExecutor) Execute(ctx context.Context, inc state.Incident, a state.Action) (commands.Outcome, error) {
	t, err := e.target(ctx, inc, a.Params)
	if err != nil {
		return commands.Outcome{}, err
	}
	res, err := e.exec(ctx, t, a.Params)
	out := commands.Outcome{Result: strings.Join(res.Done, "; "), RequestIDs: res.RequestIDs}
	return out, err
}

// target is the incident's key and owner: the frozen account and user
// when a plan fixed them (params may be nil), else what identification
// recorded, else asked of AWS. Only e.c is used, so verify calls it on
// &containExecutor{c: c}.
func (e *containExecutor) target(ctx context.Context, inc state.Incident, params map[string]string) (awsops.Target, error) {
	key, err := awsops.ParseAccessKeyID(inc.AccessKeyID)
	if err != nil {
		return awsops.Target{}, fmt.Errorf("incident %s: %w", inc.ID, err)
	}
	t := awsops.Target{AccessKeyID: key.String(), Incident: inc.ID, Temporary: key.Kind() == awsops.TemporaryKey}
	t.Roles = awsops.FrozenRoles(params)
	account, arn := params[paramAccount], params[paramUserARN]
	if account == "" {
		account, arn = inc.AccountID, inc.Owner.ARN
	}
	switch {
	case account != "" && (inc.Owner.Kind == state.OwnerRoot || strings.HasSuffix(arn, ":root")):
		t.Account, t.Root, t.UserARN = account, true, arn
	case account != "" && strings.Contains(arn, ":user/"):
		t.Account, t.UserARN = account, arn
		t.UserName = arn[strings.LastIndex(arn, "/")+1:]
	case account != "" && t.Temporary:
		t.Account = account
	default:
		o, err := e.c.KeyOwner(ctx, key)
		if err != nil {
			return awsops.Target{}, fmt.Errorf("owner of %s: %w", key, err)
		}
		t.Account, t.UserName, t.UserARN, t.Root = o.Account, o.UserName, o.ARN, o.Root
	}
	return t, nil
}

// userFacing turns refusals into replies the responder sees as they are.
func userFacing(err error) error {
	var r *awsops.Refusal
	switch {
	case errors.As(err, &r):
		return &commands.UserError{Msg: r.Reason, Err: err}
	case errors.Is(err, awsops.ErrProtected):
		return &commands.UserError{Msg: "keyleak will not act on it: " + err.Error(), Err: err}
	case errors.Is(err, awsops.ErrNoResponderRole):
		return &commands.UserError{Msg: "keyleak cannot act in that account: " + err.Error() + ". Deploy the responder role there (deploy/aws).", Err: err}
	}
	return err
}
