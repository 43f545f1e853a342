package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// Findings documents stored per incident.
const (
	findingInvestigation = "investigation" // awsops.Investigation as JSON
	findingSummary       = "summary"       // {"lines": [...]}, for the incident card and the email
)

// investigator is the notifier of identify work: it runs the read-only
// investigation of an incident's key and records what it found, then
// refreshes the page and the incident card and posts the findings.
type investigator struct {
	aws      *awsops.Client
	store    *state.Store
	log      *slog.Logger
	now      func() time.Time
	opts     awsops.InvestigateOptions
	channels []string // configured outbox channels
}

func (iv *investigator) Deliver(ctx context.Context, m state.Message) (bool, error) {
	n, err := commands.DecodeNotice(m)
	if err != nil {
		return false, err
	}
	var inc state.Incident
	if err := iv.store.View(func(tx *state.Tx) (err error) { inc, err = tx.Incident(n.Incident); return err }); err != nil {
		return false, err
	}
	key, err := awsops.ParseAccessKeyID(inc.AccessKeyID)
	if err != nil {
		return false, fmt.Errorf("incident %s: %w", inc.ID, err)
	}
	opts := iv.opts
	if since := n.Params["since"]; since != "" {
		if opts.Since, err = time.Parse(time.RFC3339, since); err != nil {
			return false, fmt.Errorf("incident %s: since %q: %w", inc.ID, since, err)
		}
	}
	start := iv.now()
	inv, err := iv.aws.Investigate(ctx, key, opts)
	if err != nil {
		return true, fmt.Errorf("investigate %s: %w", inc.AccessKeyID, err) // keyleak is stopping
	}
	iv.log.InfoContext(ctx, "investigated", "incident", inc.ID, "access_key_id", inc.AccessKeyID, "took", iv.now().Sub(start).Round(time.Millisecond), "gaps", len(inv.Gaps))
	return false, iv.record(inc.ID, inv)
}

// record stores an investigation and its consequences in one transaction.
func (iv *investigator) record(id string, inv *awsops.Investigation) error {
	doc, err := json.Marshal(inv)
	if err != nil {
		return err
	}
	summary, err := json.Marshal(map[string][]string{"lines": inv.Summary()})
	if err != nil {
		return err
	}
	now := iv.now()
	return iv.store.Update(func(tx *state.Tx) error {
		inc, err := tx.Incident(id)
		if err != nil {
			return err
		}
		who := inv.Identity
		inc.AccountID, inc.OwnerARN = who.Account, who.ARN
		switch {
		case who.Root:
			inc.Owner = "root (the account's root user)"
		case who.Temporary:
			inc.Owner = "temporary credential"
		default:
			inc.Owner = who.UserName
		}
		if who.Severity != "" {
			inc.Severity = state.Severity(who.Severity)
		}
		inc.UpdatedAt = now
		if err := tx.PutIncident(inc); err != nil {
			return err
		}
		if err := tx.PutFinding(id, findingInvestigation, doc); err != nil {
			return err
		}
		if err := tx.PutFinding(id, findingSummary, summary); err != nil {
			return err
		}
		text := fmt.Sprintf("investigated %s: account %s, owner %s, severity %s", inc.AccessKeyID, orDash(inc.AccountID), orDash(inc.Owner), inc.Severity)
		if len(inv.Gaps) > 0 {
			text += fmt.Sprintf("; %d part(s) could not be checked", len(inv.Gaps))
		}
		if _, err := tx.Append(state.Event{Incident: id, At: now, Actor: state.System, Kind: state.EventFinding, Text: text, Source: state.Source{Platform: "keyleak"}}); err != nil {
			return err
		}
		rev := fmt.Sprint(now.UnixNano())
		if slices.Contains(iv.channels, commands.ChannelSlack) {
			if err := commands.UpdatePage(tx, id, "investigated-"+rev, now); err != nil {
				return err
			}
		}
		if slices.Contains(iv.channels, commands.ChannelChat) {
			// The room job refreshes the incident card in place.
			if _, _, err := tx.Enqueue(noticeMessage(commands.ChannelChat, "room:"+id+":"+rev, commands.Notice{Kind: commands.NoticeRoom, Incident: id}, now)); err != nil {
				return err
			}
			reply := findingsReply(inc, inv)
			if _, _, err := tx.Enqueue(noticeMessage(commands.ChannelChat, "findings:"+id+":"+rev, commands.Notice{Kind: commands.NoticeReply, Incident: id, Reply: &reply}, now)); err != nil {
				return err
			}
		}
		return nil
	})
}

func noticeMessage(channel, key string, n commands.Notice, at time.Time) state.Message {
	payload, _ := json.Marshal(n) // a Notice always marshals
	return state.Message{Key: key, Channel: channel, Kind: n.Kind, Incident: n.Incident, Payload: payload, CreatedAt: at}
}

// findingsReply is the findings post: the summary first, details folded.
func findingsReply(inc state.Incident, inv *awsops.Investigation) commands.Reply {
	r := commands.Reply{
		Title: fmt.Sprintf("Findings: %s · %s", inc.ID, strings.ToUpper(string(inc.Severity))),
		Text:  strings.Join(inv.Summary(), "\n"),
	}
	for i, s := range inv.Sections() {
		r.Sections = append(r.Sections, commands.Section{Title: s.Title, Lines: s.Lines, Folded: s.Folded || i > 0})
	}
	return r
}

func orDash(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// storedFindings gives the report the stored investigation.
type storedFindings struct{ store *state.Store }

func (f storedFindings) load(id string) (*awsops.Investigation, error) {
	var doc []byte
	err := f.store.View(func(tx *state.Tx) (err error) { doc, err = tx.Finding(id, findingInvestigation); return err })
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

func (f storedFindings) Sections(_ context.Context, inc state.Incident) ([]commands.Section, error) {
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
// actions have since taken care of.
func (f storedFindings) FollowUps(_ context.Context, inc state.Incident) ([]string, error) {
	inv, err := f.load(inc.ID)
	if err != nil || inv == nil {
		return nil, err
	}
	var actions []state.Action
	if err := f.store.View(func(tx *state.Tx) (err error) { actions, err = tx.Actions(inc.ID); return err }); err != nil {
		return nil, err
	}
	var out []string
	for _, line := range inv.FollowUps() {
		if !doneBy(line, actions) {
			out = append(out, line)
		}
	}
	return out, nil
}

// doneBy reports whether a follow-up of the investigation was carried out
// by a succeeded, not undone action: deactivating the key, or revoking
// the sessions of the role it names.
func doneBy(followUp string, actions []state.Action) bool {
	for _, a := range actions {
		if a.Status != state.ActionSucceeded || a.Undone != "" {
			continue
		}
		switch {
		case a.Name == "deactivate" && strings.HasPrefix(followUp, "deactivate "):
			return true
		case a.Name == "revoke-sessions" && strings.HasPrefix(followUp, "revoke the sessions of role "):
			role := strings.Fields(strings.TrimPrefix(followUp, "revoke the sessions of role "))[0]
			for _, call := range a.Plan {
				if strings.Contains(call, role+" ") {
					return true
				}
			}
		}
	}
	return false
}

// keyChecker tells close whether the key still works.
type keyChecker struct{ aws *awsops.Client }

func (k keyChecker) KeyStatus(ctx context.Context, inc state.Incident) (string, error) {
	key, err := awsops.ParseAccessKeyID(inc.AccessKeyID)
	if err != nil {
		return "", err
	}
	id := k.aws.Identify(ctx, key)
	if id.Status == "" {
		reason := "its status could not be read"
		if len(id.Gaps) > 0 {
			reason = id.Gaps[0].Reason
		}
		return "", errors.New(reason)
	}
	return id.Status, nil
}

// findingCommands are the read-only investigation commands of the space.
func (a *App) findingCommands(f storedFindings) []commands.Command {
	show := func(name, summary string, pick func(*awsops.Investigation) []commands.Section) commands.Command {
		return commands.Command{
			Name: name, Summary: summary, Scope: commands.InSpace, NeedsIncident: true,
			Run: func(ctx context.Context, req commands.Request) (commands.Reply, error) {
				if len(req.Args) > 0 {
					return commands.Reply{}, commands.Userf("%s takes no arguments.", name)
				}
				inv, err := f.load(req.Incident)
				if err != nil {
					return commands.Reply{}, err
				}
				if inv == nil {
					return commands.Reply{}, commands.Userf("The investigation has not finished yet; its findings are posted here when it does.")
				}
				return commands.Reply{Title: name + ": " + req.Incident, Sections: pick(inv), Private: true}, nil
			},
		}
	}
	sectionsTitled := func(prefixes ...string) func(*awsops.Investigation) []commands.Section {
		return func(inv *awsops.Investigation) []commands.Section {
			var out []commands.Section
			for _, s := range inv.Sections() {
				for _, p := range prefixes {
					if strings.HasPrefix(strings.ToLower(s.Title), p) {
						out = append(out, commands.Section{Title: s.Title, Lines: s.Lines})
					}
				}
			}
			if len(out) == 0 {
				out = []commands.Section{{Title: "Nothing found", Lines: []string{"The investigation found nothing of this kind."}}}
			}
			return out
		}
	}
	investigate := commands.Command{
		Name: "investigate", Usage: "[--since 2026-11-01T00:00:00Z|48h]", Summary: "investigate again: identification, CloudTrail, credential tree, data events, cost",
		Scope: commands.InSpace, NeedsIncident: true,
		Run: func(ctx context.Context, req commands.Request) (commands.Reply, error) {
			params := map[string]string{}
			switch {
			case len(req.Args) == 0:
			case len(req.Args) == 2 && req.Args[0] == "--since":
				since, err := parseSince(req.Args[1], a.now())
				if err != nil {
					return commands.Reply{}, err
				}
				params["since"] = since.UTC().Format(time.RFC3339)
			default:
				return commands.Reply{}, commands.Userf("investigate takes --since followed by a time (2026-11-01T00:00:00Z) or a duration (48h).")
			}
			now := a.now()
			err := a.store.Update(func(tx *state.Tx) error {
				_, _, err := tx.Enqueue(noticeMessage(commands.ChannelWork, fmt.Sprintf("identify:%s:%d", req.Incident, now.UnixNano()),
					commands.Notice{Kind: commands.NoticeIdentify, Incident: req.Incident, Params: params}, now))
				return err
			})
			if err != nil {
				return commands.Reply{}, err
			}
			return commands.Reply{Text: "Investigating; the findings will be posted here."}, nil
		},
	}
	costCmd := show("cost", "cost by service and region against the baseline (estimates)", sectionsTitled("cost"))
	stored := costCmd.Run
	costCmd.Usage = "[--days N]"
	costCmd.Run = func(ctx context.Context, req commands.Request) (commands.Reply, error) {
		if len(req.Args) == 0 {
			return stored(ctx, req)
		}
		days, err := parseDays(req.Args)
		if err != nil {
			return commands.Reply{}, err
		}
		var inc state.Incident
		if err := a.store.View(func(tx *state.Tx) (err error) { inc, err = tx.Incident(req.Incident); return err }); err != nil {
			return commands.Reply{}, err
		}
		if inc.AccountID == "" {
			return commands.Reply{}, commands.Userf("The key's account is not identified yet; wait for the findings.")
		}
		now := a.now()
		rep, err := a.costs.Get(ctx, a.aws, inc.AccountID, now.Add(-time.Duration(days)*24*time.Hour), now)
		if err != nil {
			return commands.Reply{}, fmt.Errorf("cost of %s over %d days: %w", inc.AccountID, days, err)
		}
		return commands.Reply{Title: fmt.Sprintf("cost: %s, last %d days", req.Incident, days), Sections: sectionsTitled("cost")(&awsops.Investigation{Cost: rep}), Private: true}, nil
	}
	return []commands.Command{
		show("whois", "who owns the key, what it can do, and how severe this is", sectionsTitled("ident", "key", "owner", "privilege")),
		investigate,
		show("resources", "what the key and its sessions created, and whether it still exists", sectionsTitled("resource")),
		costCmd,
	}
}

// parseDays reads "--days N" for the cost command.
func parseDays(args []string) (int, error) {
	if len(args) != 2 || args[0] != "--days" {
		return 0, commands.Userf("cost takes --days followed by a number of days, e.g. `cost --days 7`.")
	}
	var n int
	if _, err := fmt.Sscan(args[1], &n); err != nil || n < 1 || n > 90 {
		return 0, commands.Userf("--days %q: give a whole number of days from 1 to 90.", args[1])
	}
	return n, nil
}

// parseSince reads an RFC 3339 time or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		if t.After(now) {
			return time.Time{}, commands.Userf("--since %s is in the future.", s)
		}
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, commands.Userf("--since %q is neither a time like 2026-11-01T00:00:00Z nor a duration like 48h.", s)
}

// roles are the roles the key's sessions used, from the stored
// investigation: revoke-sessions covers each of them.
func (f storedFindings) roles(_ context.Context, inc state.Incident) ([]string, error) {
	inv, err := f.load(inc.ID)
	if err != nil {
		return nil, err
	}
	if inv == nil {
		return nil, commands.Userf("The investigation has not finished, so the roles the key's sessions used are not known yet. Wait for the findings, or name the roles: revoke-sessions arn:aws:iam::…:role/….")
	}
	var out []string
	for _, s := range inv.Sessions {
		if s.RoleARN != "" && !slices.Contains(out, s.RoleARN) {
			out = append(out, s.RoleARN)
		}
	}
	slices.Sort(out)
	return out, nil
}

// cleanupKinds maps the investigation's resource types to cleanup kinds.
var cleanupKinds = map[string]string{
	"AWS::EC2::Instance":            awsops.CleanupInstance,
	"AWS::EC2::SpotInstanceRequest": awsops.CleanupSpotRequest,
	"AWS::Lambda::Function":         awsops.CleanupFunction,
	"AWS::IAM::User":                awsops.CleanupUser,
	"AWS::IAM::Role":                awsops.CleanupRole,
	"AWS::IAM::AccessKey":           awsops.CleanupAccessKey,
}

// resources are what the key and its sessions created, with the event
// that created each: what cleanup may delete.
func (f storedFindings) resources(_ context.Context, inc state.Incident) ([]awsops.CleanupItem, error) {
	inv, err := f.load(inc.ID)
	if err != nil {
		return nil, err
	}
	if inv == nil {
		return nil, commands.Userf("The investigation has not finished, so keyleak does not know what the key created yet. Wait for the findings.")
	}
	var out []awsops.CleanupItem
	for _, r := range inv.Resources {
		kind, ok := cleanupKinds[r.Type]
		if !ok || r.ID == "" {
			continue
		}
		out = append(out, awsops.CleanupItem{Kind: kind, ID: r.ID, Region: r.Region, Account: r.Account,
			EventID: r.EventID, EventName: r.CreatedBy, EventTime: r.CreatedAt})
	}
	return out, nil
}

// derivedKeys are the keys that came from the incident's key: the
// temporary keys of its sessions, and the access keys it (or they)
// created for other users, a backdoor that outlives the leaked key.
func (f storedFindings) derivedKeys(id string) []string {
	inv, err := f.load(id)
	if err != nil || inv == nil {
		return nil
	}
	var out []string
	for _, s := range inv.Sessions {
		out = append(out, s.AccessKeyID)
	}
	for _, r := range inv.Resources {
		if r.Type == "AWS::IAM::AccessKey" && r.ID != "" && !slices.Contains(out, r.ID) {
			out = append(out, r.ID)
		}
	}
	return out
}

// verify checks containment for an incident, read-only.
func verify(ctx context.Context, c *awsops.Client, f storedFindings, inc state.Incident, since time.Time) (awsops.VerifyReport, error) {
	t, err := (&containExecutor{c: c}).target(ctx, inc, nil)
	if err != nil {
		return awsops.VerifyReport{}, err
	}
	if t.Roles, err = f.roles(ctx, inc); err != nil {
		t.Roles = nil // verify the key and the user at least
	}
	return c.Verify(ctx, t, awsops.VerifyOptions{Since: since, SessionKeys: f.derivedKeys(inc.ID)})
}

// verifyReply renders a containment check.
func verifyReply(id string, rep awsops.VerifyReport) commands.Reply {
	r := commands.Reply{Title: "Containment check: " + id}
	if rep.Contained() {
		r.Text = "Contained: the key and every derived credential are refused, and no call has succeeded since containment."
	} else {
		r.Text = "NOT CONTAINED:\n" + strings.Join(rep.Problems, "\n")
		r.Problem = true
	}
	r.Fields = append(r.Fields, commands.Field{Label: "Key status", Value: orDash(rep.KeyStatus)})
	var lines []string
	for _, p := range rep.Principals {
		var what []string
		if p.Revoked {
			what = append(what, "sessions before "+p.Cutoff+" revoked")
		}
		if p.DenyAll {
			what = append(what, "deny-all")
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
	if len(rep.Notes) > 0 {
		r.Sections = append(r.Sections, commands.Section{Title: "Notes", Lines: rep.Notes, Folded: true})
	}
	return r
}

// containedSince is when the incident's first containment action finished,
// or its opening if none has.
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
		for _, a := range actions {
			if a.Status == state.ActionSucceeded && (since.Equal(inc.OpenedAt) || a.FinishedAt.Before(since)) {
				since = a.FinishedAt
			}
		}
		return nil
	})
	return since, err
}

// verifyCommand is "verify": is the attacker cut off?
func verifyCommand(c *awsops.Client, f storedFindings) commands.Command {
	return commands.Command{
		Name: "verify", Summary: "check that the key and every derived credential are refused and nothing new succeeded",
		Scope: commands.InSpace, NeedsIncident: true,
		Run: func(ctx context.Context, req commands.Request) (commands.Reply, error) {
			if len(req.Args) > 0 {
				return commands.Reply{}, commands.Userf("verify takes no arguments.")
			}
			var inc state.Incident
			if err := f.store.View(func(tx *state.Tx) (err error) { inc, err = tx.Incident(req.Incident); return err }); err != nil {
				return commands.Reply{}, err
			}
			since, err := containedSince(f.store, inc.ID)
			if err != nil {
				return commands.Reply{}, err
			}
			rep, err := verify(ctx, c, f, inc, since)
			if err != nil {
				return commands.Reply{}, fmt.Errorf("verify %s: %w", inc.ID, err)
			}
			return verifyReply(inc.ID, rep), nil
		},
	}
}
