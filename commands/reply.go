package commands

import (
	"fmt"
	"strings"
	"time"

	"github.com/keyleak/keyleak/state"
)

const timeLayout = "15:04:05 MST"

// ActionReply is the card of an action request: what will be done, who
// asked, and where it stands. Undecided requests carry Approve and Deny
// buttons bound to the request's digest.
func ActionReply(a state.Action, now time.Time) Reply {
	r := Reply{
		Title:    fmt.Sprintf("%s · %s · %s", a.ID, a.Name, statusLabel(a)),
		Warnings: a.Warnings,
		Fields: []Field{
			{"Requested by", a.Requester.String() + " at " + a.RequestedAt.UTC().Format(timeLayout)},
		},
		Sections: []Section{{Title: "What will be done", Lines: a.Plan}},
	}
	if len(a.Impact) > 0 {
		r.Sections = append(r.Sections, Section{Title: "What else it affects", Lines: a.Impact})
	}
	switch {
	case a.Irreversible:
		r.Fields = append(r.Fields, Field{"Kind", "IRREVERSIBLE: needs a second responder"})
	case a.TwoPerson:
		r.Fields = append(r.Fields, Field{"Kind", "reversible: needs a second responder"})
	default:
		r.Fields = append(r.Fields, Field{"Kind", "reversible: one-person policy"})
	}
	switch a.Status {
	case state.ActionRequested:
		if a.Expired(now) {
			r.Text = "This request has expired; request it again if it is still needed."
			break
		}
		r.Text = fmt.Sprintf("Waiting for a second responder to approve (expires %s).", a.ExpiresAt.UTC().Format(timeLayout))
		r.Buttons = []Button{
			{Label: "Approve", Command: "approve", Args: []string{a.ID, a.Digest}, Style: "primary"},
			{Label: "Deny", Command: "deny", Args: []string{a.ID, a.Digest}, Style: "danger"},
		}
	case state.ActionApproved, state.ActionRunning:
		r.Text = "Approved by " + a.Approver.String() + "; running."
	case state.ActionSucceeded:
		r.Text = "Done. " + a.Result
	case state.ActionFailed:
		r.Text = "FAILED: " + a.Error
		if a.Result != "" {
			r.Text += "\nWhat was done: " + a.Result
		}
	case state.ActionDenied:
		r.Text = "Denied by " + a.Approver.String() + "; nothing was done."
		if a.Reason != "" {
			r.Text += " Reason: " + a.Reason
		}
	case state.ActionExpired:
		r.Text = "Expired unapproved; nothing was done."
	}
	if a.Approver != nil && a.Status != state.ActionDenied {
		r.Fields = append(r.Fields, Field{"Approved by", a.Approver.String() + " at " + a.DecidedAt.UTC().Format(timeLayout)})
	}
	if len(a.RequestIDs) > 0 {
		r.Sections = append(r.Sections, Section{Title: "AWS request IDs", Lines: a.RequestIDs, Folded: true})
	}
	return r
}

func statusLabel(a state.Action) string {
	if a.Status == state.ActionRequested {
		return "awaiting approval"
	}
	return string(a.Status)
}

func planReply(name string, inc state.Incident, p Plan) Reply {
	r := Reply{
		Title:    fmt.Sprintf("Dry run: %s on %s", name, inc.ID),
		Text:     "Nothing was changed. Without --dry-run these calls are made after a second responder approves:",
		Sections: []Section{{Title: "API calls", Lines: p.Calls}},
		Warnings: p.Warnings,
		Private:  true,
	}
	if len(p.Impact) > 0 {
		r.Sections = append(r.Sections, Section{Title: "What else it affects", Lines: p.Impact})
	}
	return r
}

// IncidentFields are the facts of an incident every summary starts with.
func IncidentFields(inc state.Incident) []Field {
	or := func(s, alt string) string {
		if s == "" {
			return alt
		}
		return s
	}
	f := []Field{
		{"Key", inc.AccessKeyID},
		{"Severity", strings.ToUpper(string(inc.Severity))},
		{"Account", or(inc.AccountID, "being identified")},
		{"Owner", or(OwnerText(inc.Owner), "being identified")},
		{"Reported by", inc.Reporter.String()},
		{"Opened", inc.OpenedAt.UTC().Format("2006-01-02 " + timeLayout)},
		{"Chat space", or(inc.ChatSpaceURL, "being created")},
		{"Meet", or(inc.MeetURL, "being created")},
	}
	if d := inc.Detection; d != nil {
		f = append(f, Field{"Opened from", d.Text()})
		if d.URL != "" {
			f = append(f, Field{"Finding", d.URL})
		}
		if d.SourceIP != "" || d.UserAgent != "" {
			f = append(f, Field{"Caller", or(d.SourceIP, "unknown IP") + " · " + or(d.UserAgent, "unknown user agent")})
		}
	}
	if !inc.Open() {
		f = append(f, Field{"Closed", inc.ClosedAt.UTC().Format("2006-01-02 "+timeLayout) + " · " + inc.CloseReason})
	}
	return f
}

// IncidentCard is the card at the top of the war room: the incident's
// facts, what is known so far, and buttons for the next steps.
func IncidentCard(inc state.Incident, summary []string, next []Button) Reply {
	r := Reply{
		Title:   fmt.Sprintf("%s · leaked AWS key · %s", inc.ID, strings.ToUpper(string(inc.Severity))),
		Text:    "Work here, not on Slack. Every change to AWS is requested with a command and approved by a second responder.",
		Fields:  IncidentFields(inc),
		Buttons: next,
	}
	if inc.Canary {
		r.Title = fmt.Sprintf("%s · canary key tripped", inc.ID)
		r.Text = "A canary key was used: nothing of ours leaked and there is nothing to contain. The caller (source IP, user agent) and what it tried are the finding. " + r.Text
	}
	if len(summary) > 0 {
		r.Sections = append(r.Sections, Section{Title: "What we know", Lines: summary})
	}
	if lines := inc.DetectionLines(); len(lines) > 0 {
		r.Sections = append(r.Sections, Section{Title: "Detections", Lines: lines})
	}
	return r
}

// OwnerText puts the owner of an incident's key in words, "" while it is
// unknown.
func OwnerText(o state.Owner) string {
	switch o.Kind {
	case state.OwnerRoot:
		return "root (the account's root user)"
	case state.OwnerTemporary:
		return "temporary credential"
	case state.OwnerUser:
		return o.UserName
	}
	return ""
}
