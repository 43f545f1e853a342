package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// RolesSource returns the ARNs of the roles the incident's key and its
// sessions assumed, from the investigation's credential tree.
type RolesSource func(ctx context.Context, inc state.Incident) ([]string, error)

// ResourcesSource returns what the incident's key and its sessions
// created, each with the CloudTrail event that created it.
type ResourcesSource func(ctx context.Context, inc state.Incident) ([]awsops.CleanupItem, error)

// Parameters the action adapters freeze besides awsops's own.
const (
	paramAccount   = "account"
	paramUserARN   = "user_arn"
	paramRequested = "requested" // the resource IDs typed after cleanup
)

// actionSpecs are keyleak's containment actions, each planned and executed
// by c. roles and resources may be nil until the investigation provides them.
func actionSpecs(c *awsops.Client, roles RolesSource, resources ResourcesSource) []commands.ActionSpec {
	withParams := func(plan func(context.Context, awsops.Target) (awsops.ActionPlan, error), exec func(context.Context, awsops.Target, map[string]string) (awsops.Result, error)) *containExecutor {
		return &containExecutor{c: c, exec: exec,
			plan: func(ctx context.Context, _ state.Incident, t awsops.Target, _ map[string]string) (awsops.ActionPlan, error) {
				return plan(ctx, t)
			},
		}
	}
	simple := func(plan func(context.Context, awsops.Target) (awsops.ActionPlan, error), exec func(context.Context, awsops.Target) (awsops.Result, error)) *containExecutor {
		return withParams(plan, func(ctx context.Context, t awsops.Target, _ map[string]string) (awsops.Result, error) {
			return exec(ctx, t)
		})
	}
	revoke := withParams(c.PlanRevokeSessions, c.ExecuteRevokeSessions)
	revoke.roles = roles
	lift := withParams(c.PlanLiftRevoke, c.ExecuteLiftRevoke)
	lift.roles = roles
	cleanup := &containExecutor{c: c, exec: c.ExecuteCleanup}
	cleanup.plan = func(ctx context.Context, inc state.Incident, t awsops.Target, params map[string]string) (awsops.ActionPlan, error) {
		items, err := pickResources(ctx, resources, inc, params[paramRequested])
		if err != nil {
			return awsops.ActionPlan{}, err
		}
		return c.PlanCleanup(ctx, t, items)
	}
	return []commands.ActionSpec{
		{Name: "deactivate", Summary: "set the leaked key Inactive (reactivate undoes it)", Undo: "reactivate",
			Executor: simple(c.PlanDeactivate, c.ExecuteDeactivate)},
		{Name: "reactivate", Usage: "[request ID]", Summary: "set the key Active again (undoes deactivate)",
			Params: undoParams, Executor: simple(c.PlanReactivate, c.ExecuteReactivate)},
		{Name: "revoke-sessions", Usage: "[role ARN…]", Undo: "lift-revoke",
			Summary: "refuse every session issued before now, on the user and on each role its sessions assumed; newer sessions keep working",
			Params:  roleParams, Executor: revoke},
		{Name: "lift-revoke", Usage: "[role ARN…] [request ID]", Summary: "remove keyleak's session revocation (undoes revoke-sessions)",
			Params: roleParams, Executor: lift},
		{Name: "quarantine", Summary: "attach AWSCompromisedKeyQuarantineV3 to the key's user (release undoes it)", Undo: "release",
			Executor: withParams(c.PlanQuarantine, c.ExecuteQuarantine)},
		{Name: "release", Usage: "[request ID]", Summary: "detach the quarantine policy (undoes quarantine)",
			Params: undoParams, Executor: simple(c.PlanRelease, c.ExecuteRelease)},
		{Name: "deny-all", Summary: "deny every action of the key's user with an inline policy (lift-deny-all undoes it)", Undo: "lift-deny-all",
			Executor: simple(c.PlanDenyAll, c.ExecuteDenyAll)},
		{Name: "lift-deny-all", Usage: "[request ID]", Summary: "remove keyleak's deny-all policy (undoes deny-all)",
			Params: undoParams, Executor: withParams(c.PlanLiftDenyAll, c.ExecuteLiftDenyAll)},
		{Name: "cleanup", Usage: "<resource ID>…", Irreversible: true,
			Summary: "delete instances, spot requests, functions, users, roles or keys the attacker created, one by one, each with its evidence",
			Params:  cleanupParams, Executor: cleanup},
		{Name: "delete-key", Irreversible: true, Summary: "delete the leaked key once it is Inactive",
			Executor: simple(c.PlanDeleteKey, c.ExecuteDeleteKey)},
	}
}

// containExecutor adapts one awsops action pair to commands.Executor.
type containExecutor struct {
	c     *awsops.Client
	roles RolesSource // set for the actions that cover roles
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
	if e.roles != nil {
		if _, typed := params[awsops.ParamRoles]; !typed {
			if t.Roles, err = e.roles(ctx, inc); err != nil {
				return commands.Plan{}, fmt.Errorf("roles of %s's sessions: %w", inc.AccessKeyID, err)
			}
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
	return commands.Plan{Calls: p.Calls, Impact: p.Impact, Params: frozen}, nil
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
	if s := params[awsops.ParamRoles]; s != "" {
		t.Roles = strings.Split(s, ",")
	}
	account, arn := params[paramAccount], params[paramUserARN]
	if account == "" {
		account, arn = inc.AccountID, inc.OwnerARN
	}
	switch {
	case account != "" && (inc.Owner == "root" || strings.HasSuffix(arn, ":root")):
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

var roleARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`)

// requestIDOf returns an argument naming one of inc's requests, which an
// undo records as the action it reverses.
func requestIDOf(args []string, inc state.Incident) (id string, rest []string, err error) {
	for _, a := range args {
		if strings.HasPrefix(strings.ToUpper(a), inc.ID+"-A") {
			if id != "" {
				return "", nil, commands.Userf("name one request to undo, not %s and %s", id, a)
			}
			id = strings.ToUpper(a)
			continue
		}
		rest = append(rest, a)
	}
	return id, rest, nil
}

// undoParams accepts the ID of the request being undone, optionally.
func undoParams(args []string, inc state.Incident) (map[string]string, error) {
	id, rest, err := requestIDOf(args, inc)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, commands.Userf("unexpected %q: this takes only the ID of the request it undoes (e.g. %s-A1), or nothing", strings.Join(rest, " "), inc.ID)
	}
	p := map[string]string{}
	if id != "" {
		p[commands.ParamUndoOf] = id
	}
	return p, nil
}

// roleParams accepts role ARNs (the roles to cover instead of those the
// investigation found) and, for an undo, a request ID.
func roleParams(args []string, inc state.Incident) (map[string]string, error) {
	id, rest, err := requestIDOf(args, inc)
	if err != nil {
		return nil, err
	}
	p := map[string]string{}
	if id != "" {
		p[commands.ParamUndoOf] = id
	}
	for _, a := range rest {
		if !roleARNPattern.MatchString(a) {
			return nil, commands.Userf("%q is not a role ARN; give roles as arn:aws:iam::<account>:role/<name>, or nothing to use the roles the investigation found", a)
		}
	}
	if len(rest) > 0 {
		p[awsops.ParamRoles] = strings.Join(rest, ",")
	}
	return p, nil
}

// cleanupParams takes the resource IDs to remove.
func cleanupParams(args []string, _ state.Incident) (map[string]string, error) {
	if len(args) == 0 {
		return nil, commands.Userf("cleanup needs the IDs of the resources to remove, as the resources command lists them (e.g. `cleanup i-0abc123 backdoor-user`)")
	}
	for _, a := range args {
		if strings.ContainsAny(a, " \t,") {
			return nil, commands.Userf("%q is not a resource ID", a)
		}
	}
	return map[string]string{paramRequested: strings.Join(args, " ")}, nil
}

// pickResources finds each requested ID among what the investigation
// found; keyleak deletes nothing it cannot show evidence for.
func pickResources(ctx context.Context, resources ResourcesSource, inc state.Incident, requested string) ([]awsops.CleanupItem, error) {
	if resources == nil {
		return nil, commands.Userf("the investigation has not listed any resources yet; run investigate first")
	}
	found, err := resources(ctx, inc)
	if err != nil {
		return nil, fmt.Errorf("resources of %s: %w", inc.ID, err)
	}
	var items []awsops.CleanupItem
	for _, id := range strings.Fields(requested) {
		i := slices.IndexFunc(found, func(it awsops.CleanupItem) bool { return it.ID == id })
		if i < 0 {
			return nil, commands.Userf("%s is not among the resources this key's sessions created (see `resources`); keyleak deletes only what it has evidence for", id)
		}
		items = append(items, found[i])
	}
	return items, nil
}
