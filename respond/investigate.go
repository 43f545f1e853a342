package respond

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// Investigator is the notifier of identify work: it runs the read-only
// investigation of an incident's key and records what it found, then
// refreshes the page and the incident card and posts the findings.
type Investigator struct{ r *Responder }

// ParamSince is the notice parameter that sets the start of the window
// (RFC 3339).
const ParamSince = "since"

// Deliver runs the investigation a work message asks for.
func (iv *Investigator) Deliver(ctx context.Context, m state.Message) (bool, error) {
	cfg := iv.r.cfg
	n, err := commands.DecodeNotice(m)
	if err != nil {
		return false, err
	}
	var inc state.Incident
	if err := cfg.Store.View(func(tx *state.Tx) (err error) { inc, err = tx.Incident(n.Incident); return err }); err != nil {
		return false, err
	}
	key, err := awsops.ParseAccessKeyID(inc.AccessKeyID)
	if err != nil {
		return false, fmt.Errorf("incident %s: %w", inc.ID, err)
	}
	opts := cfg.Investigate
	if since := n.Params[ParamSince]; since != "" {
		if opts.Since, err = time.Parse(time.RFC3339, since); err != nil {
			return false, fmt.Errorf("incident %s: since %q: %w", inc.ID, since, err)
		}
	}
	start := cfg.Now()
	ictx, cancel := context.WithTimeout(ctx, cfg.InvestigationDeadline)
	inv, err := cfg.AWS.Investigate(ictx, key, opts)
	cancel()
	switch {
	case err != nil && ctx.Err() != nil:
		return true, fmt.Errorf("investigate %s: %w", inc.AccessKeyID, err) // keyleak is stopping
	case err != nil:
		// The deadline passed: what was found is worth posting now.
		inv.Gaps = append(inv.Gaps, awsops.Gap{Step: awsops.StepCloudTrail, AccessKeyID: inc.AccessKeyID,
			Reason: fmt.Sprintf("the investigation stopped at its deadline of %s; run investigate again (with --since to narrow the window) for the rest", cfg.InvestigationDeadline)})
		cfg.Log.WarnContext(ctx, "investigation stopped at its deadline; recording what it found", "incident", inc.ID, "deadline", cfg.InvestigationDeadline)
	}
	cfg.Log.InfoContext(ctx, "investigated", "incident", inc.ID, "access_key_id", inc.AccessKeyID, "took", cfg.Now().Sub(start).Round(time.Millisecond), "gaps", len(inv.Gaps))
	return false, iv.record(inc.ID, inv)
}

// ownerOf is the owner identification found, as data.
func ownerOf(id awsops.Identity) state.Owner {
	switch {
	case id.Root:
		return state.Owner{Kind: state.OwnerRoot, ARN: id.ARN}
	case id.Temporary:
		return state.Owner{Kind: state.OwnerTemporary, ARN: id.ARN}
	case id.UserName != "":
		return state.Owner{Kind: state.OwnerUser, UserName: id.UserName, ARN: id.ARN}
	}
	return state.Owner{}
}

// record stores an investigation and its consequences in one transaction.
func (iv *Investigator) record(id string, inv *awsops.Investigation) error {
	cfg := iv.r.cfg
	doc, err := json.Marshal(inv)
	if err != nil {
		return err
	}
	now := cfg.Now()
	return cfg.Store.Update(func(tx *state.Tx) error {
		inc, err := tx.Incident(id)
		if err != nil {
			return err
		}
		who := inv.Identity
		inc.AccountID, inc.Owner = who.Account, ownerOf(who)
		if who.Severity != "" {
			inc.Severity = state.Severity(who.Severity)
		}
		inc.UpdatedAt = now
		if err := tx.PutIncident(inc); err != nil {
			return err
		}
		if err := tx.PutFinding(id, state.FindingInvestigation, doc); err != nil {
			return err
		}
		if err := tx.PutSummary(id, state.Summary{Lines: inv.Summary()}); err != nil {
			return err
		}
		text := fmt.Sprintf("investigated %s: account %s, owner %s, severity %s", inc.AccessKeyID, orUnknown(inc.AccountID), orUnknown(commands.OwnerText(inc.Owner)), inc.Severity)
		if len(inv.Gaps) > 0 {
			text += fmt.Sprintf("; %d part(s) could not be checked", len(inv.Gaps))
		}
		if _, err := tx.Append(state.Event{Incident: id, At: now, Actor: state.System, Kind: state.EventFinding, Text: text, Source: keyleakSource}); err != nil {
			return err
		}
		rev := fmt.Sprint(now.UnixNano())
		if slices.Contains(cfg.Channels, commands.ChannelSlack) {
			if err := commands.UpdatePage(tx, id, "investigated-"+rev, now); err != nil {
				return err
			}
		}
		if slices.Contains(cfg.Channels, commands.ChannelChat) {
			// The room job refreshes the incident card in place.
			if err := commands.EnqueueNotice(tx, commands.ChannelChat, "room:"+id+":"+rev, commands.Notice{Kind: commands.NoticeRoom, Incident: id}, now); err != nil {
				return err
			}
			reply := findingsReply(inc, inv)
			if err := commands.EnqueueNotice(tx, commands.ChannelChat, "findings:"+id+":"+rev, commands.Notice{Kind: commands.NoticeReply, Incident: id, Reply: &reply}, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// keyleakSource marks what keyleak records on its own.
var keyleakSource = state.Source{Platform: "keyleak"}

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

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
