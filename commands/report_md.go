package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keyleak/keyleak/state"
)

// Findings renders what the investigation found, for the report. main
// provides it over the stored findings documents.
type Findings interface {
	// Sections are the findings (identification, CloudTrail summary,
	// credential tree, data events, cost, resources), in report order.
	Sections(ctx context.Context, inc state.Incident) ([]Section, error)
	// FollowUps are what is left to do because of what was found:
	// credentials to rotate, resources still running.
	FollowUps(ctx context.Context, inc state.Incident) ([]string, error)
}

// IncidentRecord is everything recorded about an incident.
type IncidentRecord struct {
	Incident state.Incident
	Timeline []state.Event
	Actions  []state.Action
	Dead     []state.Message
}

// LoadRecord reads an incident's record in one transaction.
func LoadRecord(store *state.Store, id string) (IncidentRecord, error) {
	var r IncidentRecord
	err := store.View(func(tx *state.Tx) error {
		var err error
		if r.Incident, err = tx.Incident(id); err != nil {
			return err
		}
		if r.Timeline, err = tx.Timeline(id); err != nil {
			return err
		}
		if r.Actions, err = tx.Actions(id); err != nil {
			return err
		}
		r.Dead, err = tx.DeadLetters(id)
		return err
	})
	return r, err
}

const reportTime = "2006-01-02 15:04:05 MST"

// RenderReport writes the post-incident report as Markdown: what
// happened, in order, who did what, what was found and changed, and what
// is left to do. findings may be nil (nothing investigated yet).
func RenderReport(ctx context.Context, rec IncidentRecord, findings Findings, now time.Time) (string, error) {
	inc := rec.Incident
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("# Incident report %s: leaked AWS access key %s\n\n", inc.ID, inc.AccessKeyID)
	p("Generated %s by keyleak.\n\n", now.UTC().Format(reportTime))

	p("## Summary\n\n")
	p("| | |\n|---|---|\n")
	for _, f := range IncidentFields(inc) {
		p("| %s | %s |\n", f.Label, mdCell(f.Value))
	}
	p("| Status | %s |\n", inc.Status)
	if !inc.ClosedAt.IsZero() {
		p("| Duration | %s |\n", Duration(inc.ClosedAt.Sub(inc.OpenedAt)))
	}
	if inc.Note != "" {
		p("| Reporter's note | %s |\n", mdCell(inc.Note))
	}
	if len(inc.Assignments) > 0 {
		p("| Roles | %s |\n", mdCell(formatAssignments(inc.Assignments)))
	}
	p("\n")

	p("## Timeline\n\nEvery recorded step, in order (times UTC).\n\n")
	p("| Time | Who | What | Source |\n|---|---|---|---|\n")
	for _, e := range rec.Timeline {
		src := e.Source.Platform
		if e.Source.Verified {
			src += " (verified)"
		}
		p("| %s | %s | %s | %s |\n", e.At.UTC().Format("2006-01-02 15:04:05"), mdCell(e.Actor.String()), mdCell(e.Text), src)
	}
	p("\n")

	p("## Findings\n\n")
	var follow []string
	if findings == nil {
		p("No investigation was recorded for this incident.\n\n")
	} else {
		sections, err := findings.Sections(ctx, inc)
		if err != nil {
			p("The findings could not be read: %s\n\n", mdCell(err.Error()))
		}
		for _, s := range sections {
			p("### %s\n\n", s.Title)
			for _, l := range s.Lines {
				p("- %s\n", mdLine(l))
			}
			p("\n")
		}
		if len(sections) == 0 && err == nil {
			p("The investigation found nothing to report.\n\n")
		}
		if follow, err = findings.FollowUps(ctx, inc); err != nil {
			follow = append(follow, "Follow-ups could not be derived from the findings: "+err.Error())
		}
	}

	p("## Actions\n\n")
	if len(rec.Actions) == 0 {
		p("No containment actions were requested.\n\n")
	}
	for _, a := range rec.Actions {
		p("### %s %s: %s\n\n", a.ID, a.Name, a.Status)
		p("- Requested by %s at %s", mdLine(a.Requester.String()), a.RequestedAt.UTC().Format(reportTime))
		if a.Irreversible {
			p(" (irreversible)")
		}
		p("\n")
		if a.Approver != nil {
			verb := "Approved"
			if a.Status == state.ActionDenied {
				verb = "Denied"
			}
			p("- %s by %s at %s\n", verb, mdLine(a.Approver.String()), a.DecidedAt.UTC().Format(reportTime))
		}
		if a.Reason != "" {
			p("- Reason: %s\n", mdLine(a.Reason))
		}
		if !a.StartedAt.IsZero() {
			p("- Executed %s to %s\n", a.StartedAt.UTC().Format(reportTime), a.FinishedAt.UTC().Format("15:04:05 MST"))
		}
		for _, c := range a.Plan {
			p("- Call: `%s`\n", strings.ReplaceAll(c, "`", "'"))
		}
		if a.Result != "" {
			p("- Result: %s\n", mdLine(a.Result))
		}
		if a.Error != "" {
			p("- Error: %s\n", mdLine(a.Error))
		}
		if len(a.RequestIDs) > 0 {
			p("- AWS request IDs: %s\n", strings.Join(a.RequestIDs, ", "))
		}
		switch {
		case a.Undone != "":
			p("- Undone by %s\n", a.Undone)
		case a.Status == state.ActionSucceeded && !a.Irreversible:
			p("- Still in effect (reversible)\n")
		}
		p("\n")
	}

	p("## Open follow-ups\n\n")
	follow = append(follow, actionFollowUps(rec)...)
	for _, m := range rec.Dead {
		follow = append(follow, fmt.Sprintf("%s via %s was never delivered (%s): send it by hand", m.Kind, m.Channel, m.LastError))
	}
	if inc.Open() {
		follow = append(follow, "The incident is still open.")
	}
	if len(follow) == 0 {
		p("None recorded.\n\n")
	}
	for _, f := range follow {
		p("- [ ] %s\n", mdLine(f))
	}
	p("\n")

	p("## How the key leaked\n\n")
	var notes []string
	for _, e := range rec.Timeline {
		if e.Kind == state.EventNote {
			notes = append(notes, e.Text)
		}
	}
	if inc.Note != "" {
		notes = append([]string{inc.Note}, notes...)
	}
	if len(notes) == 0 {
		p("Not recorded. Add it with `note` before closing.\n\n")
	} else {
		p("From the responders' notes:\n\n")
		for _, n := range notes {
			p("- %s\n", mdLine(n))
		}
		p("\n")
	}

	p("## Lessons learned\n\n")
	p("_To be filled in at the review._\n\n")
	p("- What went well:\n- What went badly:\n- Where we were lucky:\n- What we will change (owner, date):\n")
	return b.String(), nil
}

// actionFollowUps lists what the actions leave to do.
func actionFollowUps(rec IncidentRecord) []string {
	var out []string
	for _, a := range rec.Actions {
		switch {
		case a.Status == state.ActionFailed:
			out = append(out, fmt.Sprintf("%s %s failed (%s): check what was done and finish it", a.ID, a.Name, a.Error))
		case a.Status == state.ActionSucceeded && a.Remains != "" && a.Undone == "":
			out = append(out, strings.ReplaceAll(a.Remains, RemainsID, a.ID))
		}
	}
	return out
}

// mdCell makes text safe in a Markdown table cell.
func mdCell(s string) string { return cellEscaper.Replace(s) }

// mdLine makes text one Markdown line.
func mdLine(s string) string { return lineEscaper.Replace(s) }

// Replacers are safe for concurrent use; build them once.
var (
	cellEscaper = strings.NewReplacer("|", `\|`, "\n", " ", "\r", "")
	lineEscaper = strings.NewReplacer("\n", " ", "\r", "")
)

// Duration is d as a responder reads it, to the second: "10s", "4m 12s",
// "2h 0m 5s", "3d 1h 0m 0s".
func Duration(d time.Duration) string {
	d = d.Round(time.Second)
	if d < 0 {
		d = 0
	}
	days, hours := d/(24*time.Hour), d/time.Hour%24
	minutes, seconds := d/time.Minute%60, d/time.Second%60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd %dh %dm %ds", days, hours, minutes, seconds)
	case hours > 0:
		return fmt.Sprintf("%dh %dm %ds", hours, minutes, seconds)
	case minutes > 0:
		return fmt.Sprintf("%dm %ds", minutes, seconds)
	}
	return fmt.Sprintf("%ds", seconds)
}
