package awsops

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Section is one titled block of an investigation, in neutral text that
// each front end renders its own way. Folded sections are long detail a
// reader opens on demand.
type Section struct {
	Title  string
	Lines  []string
	Folded bool
}

// ErrUnknownFormat means Render was asked for a format it does not know.
var ErrUnknownFormat = errors.New("unknown format: use text, json or markdown")

// Render writes the investigation as "text", "markdown" or "json".
func (r *Investigation) Render(w io.Writer, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "text", "":
		return r.write(w, func(s Section) string { return s.Title + "\n" + strings.Repeat("-", len(s.Title)) }, "  ")
	case "markdown", "md":
		return r.write(w, func(s Section) string { return "## " + s.Title + "\n" }, "- ")
	}
	return fmt.Errorf("render investigation as %q: %w", format, ErrUnknownFormat)
}

func (r *Investigation) write(w io.Writer, title func(Section) string, bullet string) error {
	var b strings.Builder
	head := Section{Title: "Investigation of " + r.AccessKeyID}
	fmt.Fprintln(&b, title(head))
	for _, l := range r.Summary() {
		fmt.Fprintln(&b, bullet+l)
	}
	for _, s := range r.Sections() {
		fmt.Fprintln(&b)
		fmt.Fprintln(&b, title(s))
		for _, l := range s.Lines {
			fmt.Fprintln(&b, bullet+l)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

const timeLayoutUTC = "2006-01-02 15:04:05Z"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(timeLayoutUTC)
}

// Summary is the few lines a responder reads first.
func (r *Investigation) Summary() []string {
	id := r.Identity
	who := "owner unknown"
	switch {
	case id.Root:
		who = "ROOT user of the account"
	case id.Temporary:
		who = "temporary STS key"
	case id.UserName != "":
		who = "user " + id.UserName
	}
	first := fmt.Sprintf("%s · account %s · %s · severity %s", r.AccessKeyID, orDash(id.Account), who, strings.ToUpper(string(id.Severity)))
	if id.Status != "" {
		first += fmt.Sprintf(" · %s, %d days old", id.Status, id.AgeDays)
	}
	lines := []string{first}
	if id.Status == KeyStatusDeleted {
		line := "The key is no longer in IAM"
		if d := id.Deleted; d != nil {
			line += fmt.Sprintf(": deleted %s by %s", fmtTime(d.At), orDash(d.By))
		}
		lines = append(lines, line+"; its owner was found in CloudTrail, and what it created or minted may still work.")
	}
	if len(id.SeverityReasons) > 0 {
		lines = append(lines, "Why: "+strings.Join(id.SeverityReasons, "; "))
	}
	a := r.Activity
	if a.Events == 0 {
		lines = append(lines, fmt.Sprintf("No CloudTrail events found from %s to %s.", fmtTime(r.Window.Start), fmtTime(r.Window.End)))
	} else {
		lines = append(lines, fmt.Sprintf("%s (%d failed) from %s to %s in %s.", counted(a.Events, "event"), a.Errors, fmtTime(a.First), fmtTime(a.Last), joinCounts(a.Regions, 5, false)))
	}
	if len(r.Flagged) > 0 {
		byCat := map[string]int{}
		for _, f := range r.Flagged {
			byCat[string(f.Category)]++
		}
		lines = append(lines, "Flagged: "+joinCounts(counts(byCat), 6, true)+".")
	}
	if line := r.attackerLine(); line != "" {
		lines = append(lines, line)
	}
	if _, line := r.ipSeenLines(); line != "" {
		lines = append(lines, line)
	}
	if n := len(r.Sessions) - 1; n > 0 {
		var roles []string
		minted, doors, baseline := 0, 0, 0
		for _, s := range r.Sessions[1:] {
			if name := roleName(s.RoleARN); name != "" && !slices.Contains(roles, name) {
				roles = append(roles, name)
			}
			switch {
			case s.CreatedByAttacker:
				doors++
			case s.Baseline:
				baseline++
			default:
				minted++
			}
		}
		var parts []string
		if minted > 0 {
			parts = append(parts, fmt.Sprintf("%d temporary credentials minted from the key", minted))
		}
		if doors > 0 {
			parts = append(parts, fmt.Sprintf("%s through doors the attacker opened (keys, users, trusts, anchors or providers it created)", branches(doors)))
		}
		if baseline > 0 {
			parts = append(parts, fmt.Sprintf("%s through doors opened from the key's usual place, as its owner works", branches(baseline)))
		}
		line := "Credential tree: " + strings.Join(parts, "; ")
		if len(roles) > 0 {
			line += " · roles " + strings.Join(roles, ", ")
		}
		lines = append(lines, line+".")
	}
	if len(a.SourceIPs) > 0 && len(r.Sources) == 0 {
		lines = append(lines, "Source IPs: "+joinCounts(a.SourceIPs, 4, false)+".")
	}
	if d := r.DataEvents; d != nil && len(d.Accessed) > 0 {
		sensitive := 0
		for _, o := range d.Accessed {
			if o.Sensitive != "" {
				sensitive++
			}
		}
		lines = append(lines, fmt.Sprintf("S3: %s touched, %d sensitive.", counted(len(d.Accessed), "object"), sensitive))
	}
	if c := r.Cost; c != nil && len(c.Spikes) > 0 {
		lines = append(lines, fmt.Sprintf("Cost: %s, largest %s %.2f (%s, %s on %s), estimates.", counted(len(c.Spikes), "spike"), c.Currency, c.Spikes[0].Amount, c.Spikes[0].Service, orDash(c.Spikes[0].Region), c.Spikes[0].Day))
	}
	if len(r.Gaps) > 0 {
		lines = append(lines, fmt.Sprintf("INCOMPLETE: %s could not be checked (see What is missing).", counted(len(r.Gaps), "thing")))
	}
	return lines
}

// Sections are the investigation's details, in reading order.
func (r *Investigation) Sections() []Section {
	out := []Section{r.identitySection(), r.activitySection()}
	if len(r.Flagged) > 0 {
		lines := make([]string, 0, len(r.Flagged))
		for _, f := range r.Flagged {
			lines = append(lines, flaggedLine(f))
		}
		if r.FlaggedDropped > 0 {
			lines = append(lines, fmt.Sprintf("… and %d more flagged events not kept", r.FlaggedDropped))
		}
		out = append(out, Section{Title: "Flagged events", Lines: lines, Folded: len(lines) > 15})
	}
	if len(r.Techniques) > 0 {
		var lines []string
		for _, t := range r.Techniques {
			line := fmt.Sprintf("%s (%s, %s) ×%d", t.Name, t.ID, t.Category, t.Events)
			if t.Failed > 0 {
				line += fmt.Sprintf(", %d refused", t.Failed)
			}
			lines = append(lines, line+": "+t.Why)
		}
		out = append(out, Section{Title: "Techniques", Lines: lines})
	}
	if len(r.Sources) > 0 {
		out = append(out, r.sourcesSection())
	}
	if lines, _ := r.ipSeenLines(); len(lines) > 0 {
		out = append(out, Section{Title: "Where else the attacker's addresses were seen", Lines: lines, Folded: len(lines) > 15})
	}
	out = append(out, r.treeSection())
	if d := r.DataEvents; d != nil {
		out = append(out, dataSection(d))
	}
	if len(r.Resources) > 0 {
		var lines []string
		for _, x := range r.Resources {
			lines = append(lines, x.Line())
		}
		if r.ResourcesDropped > 0 {
			lines = append(lines, fmt.Sprintf("… and %d more created resources not kept or checked", r.ResourcesDropped))
		}
		out = append(out, Section{Title: "Resources created or opened", Lines: lines, Folded: len(lines) > 20})
	}
	kms := []string{"none"}
	if len(r.KMSDecrypts) > 0 {
		kms = nil
		for _, f := range r.KMSDecrypts {
			kms = append(kms, flaggedLine(f))
		}
	}
	out = append(out, Section{Title: "KMS decrypt attempts", Lines: kms, Folded: len(kms) > 15})
	if c := r.Cost; c != nil {
		out = append(out, costSection(c))
	}
	var sweep []string
	quiet := 0
	for _, s := range r.Sweep {
		if s.Events == 0 && s.Throttled == 0 && s.Failed == 0 {
			quiet++
			continue
		}
		sweep = append(sweep, fmt.Sprintf("%s %s: %s (%.2f/s), %s, %s, %d throttled, %d failed", s.Account, s.Region, counted(s.Requests, "request"), s.RequestsPerSecond, counted(s.Pages, "page"), counted(s.Events, "event"), s.Throttled, s.Failed))
	}
	if quiet > 0 {
		sweep = append(sweep, fmt.Sprintf("%d more account-regions swept without events or errors", quiet))
	}
	head := append([]string{fmt.Sprintf("window %s to %s (%s)", fmtTime(r.Window.Start), fmtTime(r.Window.End), r.Window.Reason)}, r.planLines()...)
	out = append(out, Section{Title: "CloudTrail sweep", Lines: append(head, sweep...), Folded: true})
	if len(r.Gaps) > 0 {
		var lines []string
		for _, g := range r.Gaps {
			lines = append(lines, gapLine(g))
		}
		out = append(out, Section{Title: "What is missing", Lines: lines})
	}
	if f := r.FollowUps(); len(f) > 0 {
		out = append(out, Section{Title: "Follow-ups", Lines: FollowUpTexts(f)})
	}
	return out
}

func (r *Investigation) identitySection() Section {
	id := r.Identity
	lines := []string{
		fmt.Sprintf("key %s (%s) · account %s (%s)", id.AccessKeyID, id.Kind, orDash(id.Account), orDash(id.AccountSource)),
		"principal " + orDash(id.ARN),
	}
	if id.OwnerSource == OwnerFromTrail {
		lines[1] += " · found in CloudTrail: the key is no longer in IAM"
	}
	if d := id.Deleted; d != nil {
		lines = append(lines, fmt.Sprintf("deleted %s by %s (event %s)", fmtTime(d.At), orDash(d.By), orDash(d.EventID)))
	}
	if id.Status != "" || id.Created != nil {
		created := "—"
		if id.Created != nil {
			created = fmtTime(*id.Created)
		}
		lines = append(lines, fmt.Sprintf("status %s · created %s (%d days ago)", orDash(id.Status), created, id.AgeDays))
	}
	if lu := id.LastUsed; lu != nil {
		lines = append(lines, fmt.Sprintf("last used %s · %s in %s", fmtTime(lu.Time), orDash(lu.Service), orDash(lu.Region)))
	}
	for _, p := range id.Policies {
		flags := ""
		if p.Admin {
			flags += " · ADMIN"
		}
		if p.IAMWrite {
			flags += " · IAM WRITE"
		}
		lines = append(lines, fmt.Sprintf("policy %s (%s)%s", p.Name, p.Source, flags))
	}
	if len(id.Capabilities) > 0 {
		lines = append(lines, "allowed high-risk actions: "+strings.Join(id.Capabilities, ", "))
	}
	for _, s := range id.Simulation {
		if s.Decision == "allowed" {
			lines = append(lines, "simulated allowed: "+s.Action)
		}
	}
	lines = append(lines, fmt.Sprintf("severity %s: %s", id.Severity, strings.Join(id.SeverityReasons, "; ")))
	lines = append(lines, id.Notes...)
	return Section{Title: "Identity", Lines: lines}
}

func (r *Investigation) activitySection() Section {
	a := r.Activity
	lines := []string{
		fmt.Sprintf("%s, %d failed · first %s · last %s", counted(a.Events, "event"), a.Errors, fmtTime(a.First), fmtTime(a.Last)),
		"by category: " + joinCounts(a.Categories, 10, false),
		"top calls: " + joinCounts(a.EventNames, 12, false),
		"regions: " + joinCounts(a.Regions, 20, false),
		fmt.Sprintf("swept %s", counted(len(r.Regions), "region")) + skippedText(r.SkippedRegions),
		"source IPs: " + joinCounts(a.SourceIPs, 10, false),
		"user agents: " + joinCounts(a.UserAgents, 5, false),
	}
	return Section{Title: "CloudTrail activity", Lines: lines}
}

// Line is the resource in one line: what it is, whom it admits, the event
// that made it and whether it is still there.
func (x Resource) Line() string {
	what := x.Type + " " + orDash(x.ID)
	if x.On != "" {
		what += " on " + x.On
	}
	if x.Opening != "" {
		what += " admitting " + x.Opening
	}
	line := fmt.Sprintf("%s in %s (account %s) · by %s at %s with %s · exists: %s", what, x.Region, x.Account, x.CreatedBy, fmtTime(x.CreatedAt), x.AccessKeyID, x.Exists)
	if x.ExistsDetail != "" {
		line += " (" + x.ExistsDetail + ")"
	}
	return line
}

// skippedText names the opt-in regions not swept.
func skippedText(skipped []string) string {
	if len(skipped) == 0 {
		return ""
	}
	return fmt.Sprintf(" · not swept: %s (opt-in regions the account has not enabled, where no key of it works)", strings.Join(skipped, ", "))
}

// branchName is how a node of the tree is named: its key, or the user
// of a user's branch.
func branchName(s Session) string {
	switch {
	case s.AccessKeyID != "":
		return s.AccessKeyID
	case s.UserName != "":
		return "user " + s.UserName
	}
	return "a session whose key CloudTrail does not show"
}

// viaText says what door a branch came through.
func viaText(s Session) string {
	switch s.Via {
	case ViaCreatedKey:
		return "an access key of user " + s.UserName + " it created"
	case ViaCreatedUser:
		return "a user it created: everything done as " + s.UserName
	case ViaLoginProfile:
		return "console sign-ins with the password it set for " + s.UserName
	case ViaTrust:
		return "assumed through the trust it wrote on " + roleName(s.Door)
	case ViaRolesAnywhere:
		return "a session of the Roles Anywhere trust anchor it created"
	case ViaIdentityProvider:
		return "a session through the identity provider it created, " + s.Door
	}
	return string(s.Via)
}

// treeSection presents key → sessions → roles → actions.
func (r *Investigation) treeSection() Section {
	var lines []string
	children := map[string][]Session{}
	// Documents stored before nodes had IDs name them by key.
	nodeID := func(s Session) string { return cmp.Or(s.ID, s.AccessKeyID) }
	for _, s := range r.Sessions[min(1, len(r.Sessions)):] {
		parent := cmp.Or(s.ParentID, s.ParentAccessKeyID)
		children[parent] = append(children[parent], s)
	}
	walked := map[string]bool{}
	var walk func(s Session, depth int)
	walk = func(s Session, depth int) {
		if walked[nodeID(s)] {
			return
		}
		walked[nodeID(s)] = true
		indent := strings.Repeat("   ", depth)
		head := s.AccessKeyID
		if depth > 0 {
			head = fmt.Sprintf("└ %s → %s", s.MintedBy, branchName(s))
			switch {
			case s.CreatedByAttacker:
				head += " · CREATED BY THE ATTACKER (" + viaText(s) + ")"
			case s.Baseline:
				head += " · opened from the key's usual place (" + s.OpenedFrom + "), as its owner works: not counted as the attacker's"
			}
			if s.By != "" {
				head += " · by " + s.By
			}
			if s.RoleARN != "" {
				head += " · role " + roleName(s.RoleARN) + " (account " + s.Account + ")"
			}
			if s.SessionName != "" {
				head += " · session " + s.SessionName
			}
			head += fmt.Sprintf(" · issued %s", fmtTime(s.Issued))
			if s.SourceIP != "" {
				head += " from " + s.SourceIP
			}
			if s.Via == ViaMinted || s.Via == "" || !s.Expires.IsZero() {
				head += " · expires " + fmtTime(s.Expires)
			}
		} else if s.Principal != "" {
			head += " · " + s.Principal
		}
		lines = append(lines, indent+head)
		if s.Activity.Events > 0 {
			lines = append(lines, fmt.Sprintf("%s   %s (%d failed): %s", indent, counted(s.Activity.Events, "event"), s.Activity.Errors, joinCounts(s.Activity.EventNames, 8, false)))
		} else {
			lines = append(lines, indent+"   no events")
		}
		for _, c := range children[nodeID(s)] {
			walk(c, depth+1)
		}
	}
	if len(r.Sessions) > 0 {
		walk(r.Sessions[0], 0)
	}
	if len(r.Sessions) > 1 {
		lines = append(lines, "Only credentials minted from the key are listed: other sessions of the same roles (for example a node group's) were not minted from it.")
	}
	return Section{Title: "Credential tree", Lines: lines}
}

func dataSection(d *DataEvents) Section {
	lines := []string{fmt.Sprintf("s3://%s: %d log files (%d unreadable) in %d day folders · %d data events: %s", d.Bucket, d.Objects, d.FailedObjects, len(d.Prefixes), d.Events, joinCounts(d.EventNames, 6, false))}
	for _, o := range d.Accessed {
		line := fmt.Sprintf("%s/%s · %s ×%d · %s–%s · by %s from %s", o.Bucket, o.Key, strings.Join(o.EventNames, ","), o.Count, fmtTime(o.First), fmtTime(o.Last), strings.Join(o.AccessKeyIDs, ","), strings.Join(o.SourceIPs, ","))
		if o.Sensitive != "" {
			line = "SENSITIVE (" + o.Sensitive + "): " + line
		}
		lines = append(lines, line)
	}
	if d.AccessedDropped > 0 {
		lines = append(lines, fmt.Sprintf("… and %d more objects not kept", d.AccessedDropped))
	}
	return Section{Title: "Data events (S3)", Lines: lines, Folded: len(lines) > 20}
}

func costSection(c *CostReport) Section {
	lines := []string{
		fmt.Sprintf("estimates from Cost Explorer, %s to %s against the %s–%s baseline (%d days not final)", c.Start, c.End, c.BaselineStart, c.Start, c.UnfinalDays),
		fmt.Sprintf("window total %s %.2f · %.2f/day vs baseline %.2f/day", c.Currency, c.WindowTotal, c.WindowDailyAverage, c.BaselineDailyAverage),
	}
	for _, s := range c.Spikes {
		if s.Factor > 0 {
			lines = append(lines, fmt.Sprintf("SPIKE %s: %s in %s %s %.2f, %.1f× the baseline %.2f/day", s.Day, s.Service, orDash(s.Region), c.Currency, s.Amount, s.Factor, s.Baseline))
		} else {
			lines = append(lines, fmt.Sprintf("SPIKE %s: %s in %s %s %.2f, new spend (no baseline)", s.Day, s.Service, orDash(s.Region), c.Currency, s.Amount))
		}
	}
	if len(c.Spikes) == 0 {
		lines = append(lines, "no spikes")
	}
	return Section{Title: "Cost (estimates)", Lines: lines}
}

func flaggedLine(f FlaggedEvent) string {
	line := fmt.Sprintf("%s %s %s:%s in %s from %s (%s) with %s", fmtTime(f.Time), f.Category, strings.TrimSuffix(f.EventSource, ".amazonaws.com"), f.EventName, f.Region, orDash(f.SourceIP), orDash(f.UserAgent), f.AccessKeyID)
	if f.Target != "" {
		line += " → " + f.Target
	}
	if f.ErrorCode != "" {
		line += " FAILED " + f.ErrorCode
	}
	return line
}

func gapLine(g Gap) string {
	var where []string
	for _, s := range []string{g.Account, g.Region, g.AccessKeyID} {
		if s != "" {
			where = append(where, s)
		}
	}
	line := g.Step
	if len(where) > 0 {
		line += " (" + strings.Join(where, " ") + ")"
	}
	if !g.From.IsZero() {
		line += fmt.Sprintf(" %s to %s", fmtTime(g.From), fmtTime(g.To))
	}
	return line + ": " + g.Reason
}

// FollowUpKind says what a follow-up asks for. Together with its subject
// it is what an action settles a follow-up by; the text is for people.
type FollowUpKind string

// Kinds of follow-ups.
const (
	FollowUpRootKey        FollowUpKind = "root-key"        // only root can act on its key: Subject is the key
	FollowUpParentKey      FollowUpKind = "parent-key"      // a temporary key: contain what minted it; Subject is the key
	FollowUpDeactivateKey  FollowUpKind = "deactivate-key"  // Subject is the key
	FollowUpRevokeSessions FollowUpKind = "revoke-sessions" // Subject is a role ARN, or the key's user ARN
	FollowUpDeleteResource FollowUpKind = "delete-resource" // Subject is the resource's ID
	FollowUpRotateSecrets  FollowUpKind = "rotate-secrets"  // Subject is bucket/key of an object read
	FollowUpAssessExposure FollowUpKind = "assess-exposure" // Subject is bucket/key of an object read
	FollowUpCheckSpend     FollowUpKind = "check-spend"     // Subject is the service
	FollowUpFillGaps       FollowUpKind = "fill-gaps"
)

// FollowUp is one thing the findings call for.
type FollowUp struct {
	Kind    FollowUpKind `json:"kind"`
	Subject string       `json:"subject,omitempty"`
	Text    string       `json:"text"`
}

// FollowUpTexts are the texts of follow-ups.
func FollowUpTexts(fs []FollowUp) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Text
	}
	return out
}

// FollowUps are the actions the findings call for.
func (r *Investigation) FollowUps() []FollowUp {
	var out []FollowUp
	add := func(kind FollowUpKind, subject, format string, args ...any) {
		out = append(out, FollowUp{Kind: kind, Subject: subject, Text: fmt.Sprintf(format, args...)})
	}
	id := r.Identity
	switch {
	case id.Root:
		add(FollowUpRootKey, r.AccessKeyID, "sign in as the root user, deactivate and delete %s, and make sure root has MFA", r.AccessKeyID)
	case id.Temporary:
		add(FollowUpParentKey, r.AccessKeyID, "revoke the sessions of the role or user that minted %s (issued before now), and contain its parent key", r.AccessKeyID)
	case id.Status != "Inactive" && id.Status != KeyStatusDeleted:
		add(FollowUpDeactivateKey, r.AccessKeyID, "deactivate %s (then rotate it for its legitimate users)", r.AccessKeyID)
	}
	seenRole := map[string]bool{}
	for _, s := range r.Sessions[min(1, len(r.Sessions)):] {
		if s.Expires.After(r.FinishedAt) {
			target, subject := "user "+id.UserName, id.ARN
			switch p, err := ParsePrincipal(s.Principal); {
			case s.RoleARN != "":
				target, subject = "role "+s.RoleARN, s.RoleARN
			case err == nil && p.Kind == KindUser && !sameUser(s.Principal, id.ARN):
				// a user the attacker signed in as, or whose key it made
				target, subject = "user "+s.Principal[strings.LastIndexByte(s.Principal, '/')+1:], s.Principal
			}
			if !seenRole[target] {
				seenRole[target] = true
				add(FollowUpRevokeSessions, subject, "revoke the sessions of %s issued before now: %s (%s) stays valid until %s", target, s.AccessKeyID, s.MintedBy, fmtTime(s.Expires))
			}
		}
	}
	for _, x := range r.Resources {
		if x.Exists == "yes" || x.Exists == "unknown" {
			add(FollowUpDeleteResource, x.ID, "review and delete %s %s in %s (created by %s at %s)", x.Type, orDash(x.ID), x.Region, x.CreatedBy, fmtTime(x.CreatedAt))
		}
	}
	if d := r.DataEvents; d != nil {
		for _, o := range d.Accessed {
			object := o.Bucket + "/" + o.Key
			switch {
			case o.Sensitive == "":
			case strings.Contains(o.Sensitive, "personal data"):
				add(FollowUpAssessExposure, object, "assess the exposure of %s (%s) with legal and compliance", object, o.Sensitive)
			case strings.Contains(o.Sensitive, "backup") || strings.Contains(o.Sensitive, "dump"):
				add(FollowUpAssessExposure, object, "assess the exposure of %s (%s): is it encrypted, and could the reader decrypt it?", object, o.Sensitive)
			default:
				add(FollowUpRotateSecrets, object, "rotate the credentials in %s (%s)", object, o.Sensitive)
			}
		}
	}
	if c := r.Cost; c != nil {
		for _, s := range c.Spikes[:min(len(c.Spikes), 5)] {
			add(FollowUpCheckSpend, s.Service, "check the %s spend in %s on %s (%s %.2f, estimate)", s.Service, orDash(s.Region), s.Day, c.Currency, s.Amount)
		}
	}
	if len(r.Gaps) > 0 {
		add(FollowUpFillGaps, "", "fill what is missing (%s) and investigate again", counted(len(r.Gaps), "gap"))
	}
	return out
}

func joinCounts(cs []Count, n int, bare bool) string {
	if len(cs) == 0 {
		return "—"
	}
	parts := make([]string, 0, n+1)
	for _, c := range cs[:min(n, len(cs))] {
		if bare {
			parts = append(parts, fmt.Sprintf("%d %s", c.Count, c.Name))
		} else {
			parts = append(parts, fmt.Sprintf("%s ×%d", c.Name, c.Count))
		}
	}
	if len(cs) > n {
		parts = append(parts, fmt.Sprintf("+%d more", len(cs)-n))
	}
	return strings.Join(parts, ", ")
}

func roleName(arn string) string {
	if i := strings.LastIndexByte(arn, '/'); i >= 0 && strings.Contains(arn, ":role/") {
		return arn[i+1:]
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// attackerLine names the sources outside the key's baseline, with when
// each was first seen.
func (r *Investigation) attackerLine() string {
	var parts []string
	baseline := 0
	for _, s := range r.Sources {
		switch {
		case s.Attacker:
			parts = append(parts, fmt.Sprintf("%s (%s, first %s)", s.Network, strings.Join(s.IPs[:min(2, len(s.IPs))], ", "), fmtTime(s.FirstSeen)))
		case s.Baseline:
			baseline++
		}
	}
	if len(parts) == 0 {
		return ""
	}
	line := "New sources (the attacker's): " + strings.Join(parts[:min(4, len(parts))], "; ")
	if len(parts) > 4 {
		line += fmt.Sprintf("; +%d more", len(parts)-4)
	}
	if baseline > 0 {
		line += fmt.Sprintf(" · %d baseline source(s)", baseline)
	}
	return line + "."
}

// sourcesSection lists every source, the attacker's first.
func (r *Investigation) sourcesSection() Section {
	var attacker, baseline, service []string
	for _, s := range r.Sources {
		line := fmt.Sprintf("%s · %s–%s · %s, %s, %d flagged · IPs %s · %s", s.Network, fmtTime(s.FirstSeen), fmtTime(s.LastSeen),
			counted(s.Events, "call"), counted(s.Changes, "change"), s.Flagged, strings.Join(s.IPs, ", "), strings.Join(s.UserAgents[:min(2, len(s.UserAgents))], " | "))
		switch {
		case s.Attacker:
			attacker = append(attacker, "NEW "+line)
		case s.Baseline:
			baseline = append(baseline, "baseline "+line)
		default:
			service = append(service, "AWS "+line)
		}
	}
	lines := slices.Concat(attacker, baseline, service)
	if len(attacker) > 0 && len(baseline) == 0 {
		lines = append(lines, "The key has no baseline in the window: every source is new, so every change it made is flagged.")
	}
	return Section{Title: "Sources", Lines: lines, Folded: len(lines) > 12}
}

// planLines say which path each part of the investigation took and why:
// the account-wide choices one by one, the regions read otherwise grouped
// by reason.
func (r *Investigation) planLines() []string {
	var lines []string
	byReason := map[string][]string{}
	var reasons []string
	for _, p := range r.Plan {
		if p.Region == "" {
			lines = append(lines, fmt.Sprintf("%s: %s (%s)", p.Account, pathName(p.Path), p.Reason))
			continue
		}
		k := p.Account + ": " + pathName(p.Path) + " (" + p.Reason + ")"
		if _, ok := byReason[k]; !ok {
			reasons = append(reasons, k)
		}
		byReason[k] = append(byReason[k], p.Region)
	}
	for _, k := range reasons {
		account, rest, _ := strings.Cut(k, ": ")
		lines = append(lines, fmt.Sprintf("%s %s: %s", account, strings.Join(byReason[k], ", "), rest))
	}
	if t := r.Trail; t != nil {
		bucket := t.Bucket
		if t.Source != "" {
			bucket += " (a replica of " + t.Source + ")"
		}
		line := fmt.Sprintf("trail bucket %s: %d log files read (%s as stored, %s scanned, %d read again for credentials found later), %d failed, in %s",
			bucket, t.Objects, byteSize(t.Bytes), byteSize(t.Decompressed), t.Rescanned, t.FailedObjects, roundDuration(t.Elapsed))
		switch {
		case t.Digests == 0:
			line += "; no digest file read: a log file taken out of the bucket is noticed only by the gap it leaves"
		default:
			line += fmt.Sprintf("; checked against %s: %d missing", counted(t.Digests, "digest file"), t.MissingFiles)
		}
		lines = append(lines, line)
	}
	for _, x := range r.CrossChecks {
		line := fmt.Sprintf("cross-check %s %s: %d LookupEvents %s, %s, %d not in the trail", x.Account, x.Region, x.Pages, plural(x.Pages, "page"), counted(x.Events, "event"), x.Missing)
		if x.Error != "" {
			line += " (LookupEvents failed: " + x.Error + ")"
		}
		lines = append(lines, line)
	}
	for _, a := range r.Athena {
		lines = append(lines, fmt.Sprintf("athena %s %s: %s, %s scanned, %s %s", a.Name, a.QueryID, a.State, byteSize(a.BytesScanned), counted(a.Rows, "row"), a.Reason))
	}
	return lines
}

// pathName names a path for a responder.
func pathName(p string) string {
	switch p {
	case PathTrail:
		return "trail bucket"
	case PathAthena:
		return "Athena, then the trail bucket"
	}
	return "LookupEvents"
}

// branches is "1 branch" or "n branches".
func branches(n int) string {
	if n == 1 {
		return "1 branch"
	}
	return fmt.Sprintf("%d branches", n)
}

// sameUser reports whether two ARNs name the same IAM user.
func sameUser(a, b string) bool {
	p, err := ParsePrincipal(a)
	q, err2 := ParsePrincipal(b)
	return err == nil && err2 == nil && p.Same(q)
}
