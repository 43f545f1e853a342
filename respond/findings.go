package respond

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// findings reads the stored investigation of an incident.
type findings struct{ store *state.Store }

// load returns the stored investigation, or nil when there is none yet.
func (f findings) load(id string) (*awsops.Investigation, error) {
	var doc []byte
	err := f.store.View(func(tx *state.Tx) (err error) { doc, err = tx.Finding(id, state.FindingInvestigation); return err })
	if errors.Is(err, state.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var inv awsops.Investigation
	if err := json.Unmarshal(doc, &inv); err != nil {
		return nil, fmt.Errorf("stored investigation of %s: %w", id, err)
	}
	return &inv, nil
}

// loadDone is load for work that needs the findings: while there are
// none, it returns a UserError with the text missing.
func (f findings) loadDone(id, missing string) (*awsops.Investigation, error) {
	inv, err := f.load(id)
	if err == nil && inv == nil {
		return nil, commands.Userf("%s", missing)
	}
	return inv, err
}

// Sections are the investigation's sections, for the report.
func (f findings) Sections(_ context.Context, inc state.Incident) ([]commands.Section, error) {
	inv, err := f.load(inc.ID)
	if err != nil || inv == nil {
		return nil, err
	}
	var out []commands.Section
	for _, s := range inv.Sections() {
		out = append(out, commands.Section{Title: s.Title, Lines: s.Lines, Folded: s.Folded})
	}
	return out, nil
}

// FollowUps are the investigation's follow-ups less those that succeeded
// actions have since settled.
func (f findings) FollowUps(_ context.Context, inc state.Incident) ([]string, error) {
	inv, err := f.load(inc.ID)
	if err != nil || inv == nil {
		return nil, err
	}
	var actions []state.Action
	if err := f.store.View(func(tx *state.Tx) (err error) { actions, err = tx.Actions(inc.ID); return err }); err != nil {
		return nil, err
	}
	var out []string
	for _, fu := range inv.FollowUps() {
		if !settled(fu, actions) {
			out = append(out, fu.Text)
		}
	}
	return out, nil
}

// roles are the roles the key's sessions used, from the stored
// investigation, but for the branches taken for the owner's (its own
// rotated key assuming its deploy role): revoke-sessions covers each.
func (f findings) roles(_ context.Context, inc state.Incident) ([]string, error) {
	inv, err := f.loadDone(inc.ID, "The investigation has not finished, so the roles the key's sessions used are not known yet. Wait for the findings, or name the roles: revoke-sessions arn:aws:iam::…:role/….")
	if err != nil {
		return nil, err
	}
	var out []string
	owners := inv.OwnersBranches()
	for _, s := range inv.Sessions {
		if s.RoleARN != "" && !owners[cmp.Or(s.ID, s.AccessKeyID)] && !slices.Contains(out, s.RoleARN) {
			out = append(out, s.RoleARN)
		}
	}
	slices.Sort(out)
	return out, nil
}

// consoleUsers are the users the attacker signed in to the console as:
// those of its console sign-ins (ConsoleLogin from a new source), and the
// users' branches of the tree whose own events include a sign-in or
// that hold a console session.
func (f findings) consoleUsers(_ context.Context, inc state.Incident) ([]string, error) {
	inv, err := f.loadDone(inc.ID, "The investigation has not finished, so keyleak does not know whose console the attacker used. Wait for the findings, or name the users: revoke-console arn:aws:iam::…:user/….")
	if err != nil {
		return nil, err
	}
	var out []string
	add := func(arn string) {
		if p, err := awsops.ParsePrincipal(arn); err == nil && p.Kind == awsops.KindUser && !slices.Contains(out, arn) {
			out = append(out, arn)
		}
	}
	for _, e := range inv.Flagged {
		if e.EventName == "ConsoleLogin" && e.NewSource && e.ErrorCode == "" {
			add(e.Principal)
		}
	}
	for _, s := range inv.Sessions {
		signedIn := s.AccessKeyID == "" && slices.ContainsFunc(s.Activity.EventNames, func(c awsops.Count) bool { return c.Name == "ConsoleLogin" })
		console := s.AccessKeyID != "" && s.Via == awsops.ViaLoginProfile // a console session of the attacker's password
		if s.CreatedByAttacker && (signedIn || console) {
			add(s.Principal)
		}
	}
	if len(out) == 0 {
		return nil, commands.Userf("the investigation found no console sign-in of the attacker; name the users to cover: revoke-console arn:aws:iam::…:user/…")
	}
	return out, nil
}

// doors are the doors the key and its sessions opened, with the event
// that opened each: what close may shut.
func (f findings) doors(_ context.Context, inc state.Incident) ([]awsops.DoorItem, error) {
	inv, err := f.loadDone(inc.ID, "The investigation has not finished, so keyleak does not know what the key opened yet. Wait for the findings.")
	if err != nil {
		return nil, err
	}
	var out []awsops.DoorItem
	for _, r := range inv.Resources {
		if d, ok := awsops.DoorOf(r); ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// resources are what the key and its sessions created, with the event
// that created each: what cleanup may delete.
func (f findings) resources(_ context.Context, inc state.Incident) ([]awsops.CleanupItem, error) {
	inv, err := f.loadDone(inc.ID, "The investigation has not finished, so keyleak does not know what the key created yet. Wait for the findings.")
	if err != nil {
		return nil, err
	}
	var out []awsops.CleanupItem
	for _, r := range inv.Resources {
		if it, ok := awsops.CleanupOf(r); ok {
			out = append(out, it)
		}
	}
	return out, nil
}

// derivedKeys are the keys that came from the incident's key: the
// temporary keys of its sessions, and the access keys it (or they)
// created for other users, a backdoor that outlives the leaked key.
func (f findings) derivedKeys(id string) []string {
	inv, err := f.load(id)
	if err != nil || inv == nil {
		return nil
	}
	var out []string
	owners := inv.OwnersBranches() // (the owner's, as far as keyleak can tell)
	for _, s := range inv.Sessions {
		if s.AccessKeyID != "" && !owners[cmp.Or(s.ID, s.AccessKeyID)] {
			out = append(out, s.AccessKeyID)
		}
	}
	for _, r := range inv.Resources {
		if r.Type == "AWS::IAM::AccessKey" && r.ID != "" && !slices.Contains(out, r.ID) && !ownersKey(inv, r) {
			out = append(out, r.ID)
		}
	}
	return out
}

// KeyStatus tells close whether the key still works: "Active",
// "Inactive" or "Deleted".
func (r *Responder) KeyStatus(ctx context.Context, inc state.Incident) (string, error) {
	key, err := awsops.ParseAccessKeyID(inc.AccessKeyID)
	if err != nil {
		return "", err
	}
	id := r.cfg.AWS.Identify(ctx, key)
	if id.Status == "" {
		reason := "its status could not be read"
		if len(id.Gaps) > 0 {
			reason = id.Gaps[0].Reason
		}
		return "", errors.New(reason)
	}
	return id.Status, nil
}

// Removable are the IDs of what the key and its sessions created that
// cleanup can delete, as the investigation found them.
func (r *Responder) Removable(ctx context.Context, inc state.Incident) ([]string, error) {
	items, err := r.findings.resources(ctx, inc)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out, nil
}
