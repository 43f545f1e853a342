package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keyleak/keyleak/state"
)

// KeyChecker tells whether a key still works: "Active", "Inactive" or
// "Deleted".
type KeyChecker interface {
	KeyStatus(ctx context.Context, inc state.Incident) (string, error)
}

// NoticeCloseMail is the ChannelEmail notice of the closing email.
const NoticeCloseMail = "close"

// reportReplyMax keeps a report reply inside one chat message.
const reportReplyMax = 24000

// Reports renders, stores and closes: the "report" and "close" commands.
type Reports struct {
	Store    *state.Store
	Findings Findings   // nil when nothing investigates
	Keys     KeyChecker // nil when keyleak cannot check keys
	Policy   Policy
	Now      Clock
	// Channels are the outbox channels told about a closed incident
	// (ChannelSlack updates the page, ChannelEmail sends the report).
	Channels []string
}

// Render renders an incident's report now.
func (r *Reports) Render(ctx context.Context, id string) (string, error) {
	rec, err := LoadRecord(r.Store, id)
	if err != nil {
		return "", err
	}
	return RenderReport(ctx, rec, r.Findings, r.Now())
}

// ReportCommand is "report": the post-incident report so far.
func (r *Reports) ReportCommand() Command {
	return Command{
		Name:          "report",
		Summary:       "the post-incident report so far (Markdown)",
		Scope:         InSpace,
		NeedsIncident: true,
		Run: func(ctx context.Context, req Request) (Reply, error) {
			if len(req.Args) > 0 {
				return Reply{}, Userf("report takes no arguments.")
			}
			md, err := r.Render(ctx, req.Incident)
			if err != nil {
				return Reply{}, err
			}
			return reportReply(req.Incident, md, false), nil
		},
	}
}

func reportReply(id, md string, closed bool) Reply {
	title := "Report so far: " + id
	if closed {
		title = "Closed: " + id
	}
	text := md
	if len(text) > reportReplyMax {
		text = clipText(text, reportReplyMax) + "\n\n…the rest is in `keyleak incidents report " + id + "` and the email."
	}
	return Reply{Title: title, Text: text}
}

func clipText(s string, n int) string {
	for n > 0 && n < len(s) && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}

// CloseCommand is "close [reason]". The key must be inactive, or the
// responder says why the incident closes anyway.
func (r *Reports) CloseCommand() Command {
	return Command{
		Name:          "close",
		Usage:         "[reason]",
		Summary:       "close the incident: post and email the report, update the page",
		Scope:         InSpace,
		NeedsIncident: true,
		Run: func(ctx context.Context, req Request) (Reply, error) {
			if !r.Policy.Authorised(req.Actor) {
				return Reply{}, Userf("%s is not an authorised responder and cannot close the incident.", req.Actor)
			}
			reason := strings.TrimSpace(strings.Join(req.Args, " "))
			rec, err := LoadRecord(r.Store, req.Incident)
			if err != nil {
				return Reply{}, err
			}
			if !rec.Incident.Open() {
				return Reply{}, Userf("%s is already closed.", rec.Incident.ID)
			}
			if reason == "" {
				if r.Keys == nil {
					return Reply{}, Userf("keyleak cannot check the key here; close with a reason, e.g. `close key deleted by hand`.")
				}
				status, err := r.Keys.KeyStatus(ctx, rec.Incident)
				if err != nil {
					return Reply{}, Userf("keyleak could not check the key (%v); close with a reason, e.g. `close key deleted by hand`.", err)
				}
				if status == "Active" {
					return Reply{}, Userf("%s is still Active. Deactivate it first (`deactivate`), or close with a reason: `close <why it may stay active>`.", rec.Incident.AccessKeyID)
				}
				reason = "the key is " + status
			}
			now := r.Now()
			rec.Incident.Status, rec.Incident.ClosedAt, rec.Incident.CloseReason = state.IncidentClosed, now, reason
			rec.Timeline = append(rec.Timeline, state.Event{Incident: rec.Incident.ID, At: now, Actor: req.Actor, Kind: state.EventClosed, Text: "closed the incident: " + reason, Source: req.Source})
			md, err := RenderReport(ctx, rec, r.Findings, now)
			if err != nil {
				return Reply{}, err
			}
			reply := reportReply(rec.Incident.ID, md, true)
			err = r.Store.Update(func(tx *state.Tx) error {
				inc, err := tx.Incident(req.Incident)
				if err != nil {
					return err
				}
				if err := inc.Close(now, reason); err != nil {
					return userWrap(err, "%s is already closed.", inc.ID)
				}
				if err := tx.PutIncident(inc); err != nil {
					return err
				}
				if _, err := tx.Append(state.Event{Incident: inc.ID, At: now, Actor: req.Actor, Kind: state.EventClosed, Text: "closed the incident: " + reason, Source: req.Source}); err != nil {
					return err
				}
				if err := tx.PutClosingReport(inc.ID, state.ClosingReport{Markdown: md}); err != nil {
					return err
				}
				if slices.Contains(r.Channels, ChannelSlack) {
					if err := UpdatePage(tx, inc.ID, "closed", now); err != nil {
						return err
					}
				}
				if slices.Contains(r.Channels, ChannelEmail) {
					if err := EnqueueNotice(tx, ChannelEmail, NoticeCloseMail+":"+inc.ID, Notice{Kind: NoticeCloseMail, Incident: inc.ID}, now); err != nil {
						return err
					}
				}
				return nil
			})
			if errors.Is(err, state.ErrClosed) {
				return Reply{}, Userf("%s is already closed.", req.Incident)
			}
			if err != nil {
				return Reply{}, fmt.Errorf("close %s: %w", req.Incident, err)
			}
			return reply, nil
		},
	}
}
