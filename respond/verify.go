package respond

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// verify checks containment for an incident, read-only; withTrail reads
// the trail bucket's files since containment too (the watch, checking
// every minute, leaves them to the verify command).
func (r *Responder) verify(ctx context.Context, inc state.Incident, since time.Time, withTrail bool) (awsops.VerifyReport, error) {
	c, f := r.cfg.AWS, r.findings
	t, err := (&containExecutor{c: c}).target(ctx, inc, nil)
	if err != nil {
		return awsops.VerifyReport{}, err
	}
	opts := awsops.VerifyOptions{Since: since, SessionKeys: f.derivedKeys(inc.ID), KeyAccounts: f.keyAccounts(inc.ID),
		Resources: f.ways(inc.ID), UserSessions: f.userSessions(inc.ID, c.Now()), WindowStart: f.windowStart(inc.ID)}
	if trail := r.cfg.Investigate; withTrail {
		opts.TrailBucket, opts.TrailAccount, opts.TrailPrefix, opts.TrailSource = trail.TrailBucket, trail.TrailAccount, trail.TrailPrefix, trail.TrailSource
	}
	if t.Roles, err = f.roles(ctx, inc); err != nil {
		// The key and the user are checked at least; what the key derived
		// is not known, so containment is not said.
		t.Roles = nil
		opts.TreeUnknown = "the investigation has not finished (" + err.Error() + ")"
	}
	return c.Verify(ctx, t, opts)
}

// windowStart is when the stored investigation's window began; zero
// before there is one.
func (f findings) windowStart(id string) time.Time {
	inv, err := f.load(id)
	if err != nil || inv == nil {
		return time.Time{}
	}
	return inv.Window.Start
}

// keyAccounts names the account each credential of the stored tree acts
// in, for those in an account other than the key's (roles assumed across
// accounts).
func (f findings) keyAccounts(id string) map[string]string {
	inv, err := f.load(id)
	if err != nil || inv == nil {
		return nil
	}
	out := map[string]string{}
	for _, s := range inv.Sessions {
		if s.AccessKeyID != "" && s.Account != "" && s.Account != inv.Identity.Account {
			out[s.AccessKeyID] = s.Account
		}
	}
	return out
}

// userSessions are the sessions of the stored tree that
// sts:GetSessionToken or sts:GetFederationToken minted and that are still
// valid at now.
func (f findings) userSessions(id string, now time.Time) []string {
	inv, err := f.load(id)
	if err != nil || inv == nil {
		return nil
	}
	var out []string
	owners := inv.OwnersBranches()
	for _, s := range inv.Sessions {
		if (s.MintedBy == "GetSessionToken" || s.MintedBy == "GetFederationToken") && s.AccessKeyID != "" && s.Expires.After(now) && !owners[cmp.Or(s.ID, s.AccessKeyID)] {
			out = append(out, s.AccessKeyID)
		}
	}
	return out
}

// ways are the doors the attacker opened and the ways in it made, from
// the stored investigation: what verify checks are shut.
func (f findings) ways(id string) []awsops.Resource {
	inv, err := f.load(id)
	if err != nil || inv == nil {
		return nil
	}
	var out []awsops.Resource
	for _, r := range inv.Resources {
		if ownersKey(inv, r) {
			continue
		}
		_, door := awsops.DoorOf(r)
		_, made := awsops.CleanupOf(r)
		if door || made {
			out = append(out, r)
		}
	}
	return out
}

// closingAction is the command that shuts r.
func closingAction(r awsops.Resource) string {
	if _, ok := awsops.DoorOf(r); ok {
		return ActionClose + " " + cmp.Or(r.ID, r.On)
	}
	return ActionCleanup + " " + r.ID
}

// verifyReply renders a containment check.
func verifyReply(id string, rep awsops.VerifyReport) commands.Reply {
	r := commands.Reply{Title: "Containment check: " + id}
	switch {
	case rep.Contained() && !rep.Settles.IsZero():
		r.Text = fmt.Sprintf("Contained as far as CloudTrail shows yet: the key and every derived credential are refused, and no call has succeeded since containment. CloudTrail shows a call up to %d minutes late: verify again after %s.",
			int(awsops.DeliveryLag.Minutes()), rep.Settles.UTC().Format("15:04 UTC"))
	case rep.Contained():
		r.Text = "Contained: the key and every derived credential are refused, and no call has succeeded since containment."
	default:
		r.Text = "NOT CONTAINED:\n" + strings.Join(rep.Problems, "\n")
		r.Problem = true
	}
	r.Fields = append(r.Fields, commands.Field{Label: "Key status", Value: orUnknown(rep.KeyStatus)})
	var lines []string
	for _, p := range rep.Principals {
		var what []string
		if p.Revoked {
			what = append(what, "sessions before "+p.Cutoff+" revoked")
		}
		if p.DenyAll {
			what = append(what, ActionDenyAll)
		}
		if p.Quarantined {
			what = append(what, "quarantined")
		}
		if len(what) == 0 {
			what = []string{"no keyleak restriction"}
		}
		lines = append(lines, p.ARN+": "+strings.Join(what, ", "))
	}
	if len(lines) > 0 {
		r.Sections = append(r.Sections, commands.Section{Title: "Principals", Lines: lines})
	}
	var acts []string
	for _, a := range rep.Activity {
		outcome := "SUCCEEDED"
		if a.Refused() {
			outcome = "refused (" + a.ErrorCode + ")"
		}
		acts = append(acts, fmt.Sprintf("%s %s %s with %s: %s", a.Time.UTC().Format("15:04:05"), a.Region, a.EventName, a.AccessKeyID, outcome))
	}
	if len(acts) > 0 {
		r.Sections = append(r.Sections, commands.Section{Title: "Calls since containment", Lines: acts, Folded: rep.Contained()})
	}
	if len(rep.Open) > 0 {
		var open []string
		for _, x := range rep.Open {
			line := x.Type + " " + cmp.Or(x.ID, x.On)
			if x.Opening != "" {
				line += " admitting " + x.Opening
			}
			if x.ExistsDetail != "" {
				line += " (" + x.ExistsDetail + ")"
			}
			open = append(open, line+" → "+closingAction(x))
		}
		r.Sections = append(r.Sections, commands.Section{Title: "Still open", Lines: open})
	}
	if len(rep.Notes) > 0 {
		r.Sections = append(r.Sections, commands.Section{Title: "Notes", Lines: rep.Notes, Folded: true})
	}
	return r
}

// ownersKey reports whether r is an access key whose branch of the tree
// is the owner's (a door opened from the key's baseline): not a way in of
// the attacker's.
func ownersKey(inv *awsops.Investigation, r awsops.Resource) bool {
	return r.Type == "AWS::IAM::AccessKey" && slices.ContainsFunc(inv.Sessions, func(s awsops.Session) bool { return s.AccessKeyID == r.ID && s.Baseline })
}

// containedSince is when the incident's first containment action (one
// the table marks as containing) finished, or its opening if none has.
// A revocation counts from its cutoff, which it froze when requested: a
// session issued after the cutoff and before the action finished is not
// revoked, and its calls are counted.
func containedSince(store *state.Store, id string) (time.Time, error) {
	var since time.Time
	err := store.View(func(tx *state.Tx) error {
		inc, err := tx.Incident(id)
		if err != nil {
			return err
		}
		since = inc.OpenedAt
		actions, err := tx.Actions(id)
		if err != nil {
			return err
		}
		first := true
		for _, a := range actions {
			if a.Status != state.ActionSucceeded || !containing(a.Name) {
				continue
			}
			if at := containedAt(a); first || at.Before(since) {
				since, first = at, false
			}
		}
		return nil
	})
	return since, err
}

// verifyCommand is "verify": is the attacker cut off?
func (r *Responder) verifyCommand() commands.Command {
	store := r.cfg.Store
	return commands.Command{
		Name: "verify", Summary: "check that the key and every derived credential are refused and nothing new succeeded",
		Scope: commands.InSpace, NeedsIncident: true,
		Run: func(ctx context.Context, req commands.Request) (commands.Reply, error) {
			if len(req.Args) > 0 {
				return commands.Reply{}, commands.Userf("verify takes no arguments.")
			}
			var inc state.Incident
			if err := store.View(func(tx *state.Tx) (err error) { inc, err = tx.Incident(req.Incident); return err }); err != nil {
				return commands.Reply{}, err
			}
			since, err := containedSince(store, inc.ID)
			if err != nil {
				return commands.Reply{}, err
			}
			rep, err := r.verify(ctx, inc, since, true)
			if err != nil {
				return commands.Reply{}, fmt.Errorf("verify %s: %w", inc.ID, err)
			}
			return verifyReply(inc.ID, rep), nil
		},
	}
}

// containedAt is when a containing action that succeeded took hold: when
// it finished, or a revocation's cutoff, frozen when it was requested, if
// earlier (a session issued between the two is not revoked).
func containedAt(a state.Action) time.Time {
	if c, err := time.Parse(time.RFC3339, a.Params[awsops.ParamCutoff]); err == nil && c.Before(a.FinishedAt) {
		return c
	}
	return a.FinishedAt
}
