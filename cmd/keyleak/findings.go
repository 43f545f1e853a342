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
