package respond

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// rolesSource returns the ARNs of the roles the incident's key and its
// sessions assumed, from the investigation's credential tree.
type rolesSource func(ctx context.Context, inc state.Incident) ([]string, error)

// resourcesSource returns what the incident's key and its sessions
// created, each with the CloudTrail event that created it.
type resourcesSource func(ctx context.Context, inc state.Incident) ([]awsops.CleanupItem, error)

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
	var roles []string
	outside := false
	for _, a := range rest {
		switch {
		case a == flagOutsideTree:
			outside = true
		case roleARNPattern.MatchString(a):
			roles = append(roles, a)
		default:
			return nil, commands.Userf("%q is not a role ARN; give roles as arn:aws:iam::<account>:role/<name>, or nothing to use the roles the investigation found", a)
		}
	}
	if outside && len(roles) == 0 {
		return nil, commands.Userf("%s allows the role ARNs typed with it; it means nothing alone", flagOutsideTree)
	}
	if len(roles) > 0 {
		p[awsops.ParamRoles] = awsops.EncodeRoles(roles)
	}
	if outside {
		p[paramOutsideTree] = "yes"
	}
	return p, nil
}

// flagOutsideTree lets a responder name roles the key's sessions were not
// seen to use; the request card says so in bold.
const (
	flagOutsideTree  = "--outside-tree"
	paramOutsideTree = "outside_tree"
)

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

// userParams accepts the IAM user ARNs an action covers instead of those
// the investigation found.
func userParams(args []string, _ state.Incident) (map[string]string, error) {
	for _, a := range args {
		if p, err := awsops.ParsePrincipal(a); err != nil || p.Kind != awsops.KindUser {
			return nil, commands.Userf("%q is not an IAM user ARN (arn:aws:iam::<account>:user/<name>)", a)
		}
	}
	if len(args) == 0 {
		return map[string]string{}, nil
	}
	return map[string]string{paramRequested: strings.Join(args, " ")}, nil
}

// closeParams accepts the IDs of the doors to close, as resources lists
// them, or "all".
func closeParams(args []string, _ state.Incident) (map[string]string, error) {
	if len(args) == 0 {
		return nil, commands.Userf("close-doors needs the IDs of the doors to close, as the resources command lists them (e.g. `close-doors sgr-0abc snap-0def`), or `all`")
	}
	for _, a := range args {
		if strings.ContainsAny(a, " \t,") {
			return nil, commands.Userf("%q is not a resource ID", a)
		}
	}
	return map[string]string{paramRequested: strings.Join(args, " ")}, nil
}

// pickDoors finds the requested doors among what the investigation found
// the key opened: by ID, or by what they sit on (a bucket's policy and
// ACL, a function's permissions), or all of them.
func pickDoors(ctx context.Context, doors func(context.Context, state.Incident) ([]awsops.DoorItem, error), inc state.Incident, requested []string) ([]awsops.DoorItem, error) {
	found, err := doors(ctx, inc)
	if err != nil {
		return nil, err
	}
	if len(requested) == 1 && requested[0] == "all" {
		if len(found) == 0 {
			return nil, commands.Userf("the investigation found no door the key opened")
		}
		return found, nil
	}
	var items []awsops.DoorItem
	picked := make([]bool, len(found))
	for _, id := range requested {
		n := 0
		for i, d := range found {
			if d.ID != id && d.On != id {
				continue
			}
			n++
			if !picked[i] { // a door named twice, by its own ID and by what it is on, is closed once
				picked[i] = true
				items = append(items, d)
			}
		}
		if n == 0 {
			return nil, commands.Userf("%s is not among the doors this key's sessions opened (see `resources`); keyleak closes only what it has evidence for", id)
		}
	}
	return items, nil
}

// requestedResources are the resource IDs a cleanup request named.
func requestedResources(params map[string]string) []string {
	return strings.Fields(params[paramRequested])
}

// pickResources finds each requested ID among what the investigation
// found; keyleak deletes nothing it cannot show evidence for.
func pickResources(ctx context.Context, resources resourcesSource, inc state.Incident, requested []string) ([]awsops.CleanupItem, error) {
	if resources == nil {
		return nil, commands.Userf("the investigation has not listed any resources yet; run investigate first")
	}
	found, err := resources(ctx, inc)
	if err != nil {
		return nil, fmt.Errorf("resources of %s: %w", inc.ID, err)
	}
	// A name can stand for more than one thing the attacker made (a user
	// and the console password it gave that user): each of them is taken.
	var items []awsops.CleanupItem
	for _, id := range requested {
		matched := false
		for _, it := range found {
			if it.ID == id {
				matched = true
				if !slices.ContainsFunc(items, func(o awsops.CleanupItem) bool {
					return o.Kind == it.Kind && o.ID == it.ID && o.Account == it.Account && o.Region == it.Region
				}) {
					items = append(items, it)
				}
			}
		}
		if !matched {
			return nil, commands.Userf("%s is not among the resources this key's sessions created (see `resources`); keyleak deletes only what it has evidence for", id)
		}
	}
	return items, nil
}

func isRoleARN(s string) bool { return roleARNPattern.MatchString(s) }
