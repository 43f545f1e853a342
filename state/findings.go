package state

// FindingKind names one kind of document kept with an incident. Each kind
// has one shape, written and read by the packages this comment names.
type FindingKind string

// The kinds of findings.
const (
	// FindingInvestigation is the investigation, as awsops writes it in
	// JSON (docs/investigation-json.md); respond stores and reads it.
	FindingInvestigation FindingKind = "investigation"
	// FindingSummary is a Summary: respond writes it; the incident card,
	// the page and the email read it.
	FindingSummary FindingKind = "summary"
	// FindingClosingReport is a ClosingReport: the close command writes
	// it; the closing email reads it.
	FindingClosingReport FindingKind = "report"
	// FindingWatch is the state of the watch after containment, respond's
	// own.
	FindingWatch FindingKind = "watch"
)

// Summary is the few lines of findings a responder reads first.
type Summary struct {
	Lines []string `json:"lines"`
}

// ClosingReport is the post-incident report as it stood at closing.
type ClosingReport struct {
	Markdown string `json:"markdown"`
}
