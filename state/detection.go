package state

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PlatformDetector is the platform of detectors' reports (Actor and
// Source): they arrive on the intake queue, not from a person.
const PlatformDetector = "detector"

// Detection is what an outside detector (GuardDuty, AWS Health, a secret
// scanner, a canary) said about an access key. Front ends put it in words
// with Text; code decides on its fields.
type Detection struct {
	Detector string    `json:"detector"`           // "GuardDuty", "AWS Health", or the sender of a custom event
	Type     string    `json:"type"`               // the finding type, Health event type code or the scanner's reason
	Severity float64   `json:"severity,omitempty"` // on GuardDuty's 0–10 scale; 0 when the detector gives none
	ID       string    `json:"id,omitempty"`       // the finding's ID or ARN, the Health event ARN, the custom event's ID
	URL      string    `json:"url,omitempty"`      // where a responder reads it
	At       time.Time `json:"at"`                 // when the detector raised it
	Account  string    `json:"account,omitempty"`  // the account the activity happened in
	Region   string    `json:"region,omitempty"`
	UserName string    `json:"user_name,omitempty"`
	// SourceIP and UserAgent are the caller's, where the detector saw them
	// (the whole finding of a canary).
	SourceIP  string `json:"source_ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	Summary   string `json:"summary,omitempty"` // one line
	Canary    bool   `json:"canary,omitempty"`  // the key or account is a canary: a trip, not a leak
}

// Text is the one line that says where the detection came from, for the
// page, the card and the timeline: "GuardDuty finding
// UnauthorizedAccess:IAMUser/MaliciousIPCaller (severity 8.0) at 11:23 UTC".
func (d Detection) Text() string {
	var b strings.Builder
	b.WriteString(d.Detector)
	switch {
	case d.Canary:
		b.WriteString(" canary trip")
	case d.Detector == "GuardDuty":
		b.WriteString(" finding")
	case d.Detector == "AWS Health":
		b.WriteString(" event")
	default:
		b.WriteString(" report")
	}
	if d.Type != "" {
		b.WriteString(" " + d.Type)
	}
	if d.Severity > 0 {
		b.WriteString(" (severity " + strconv.FormatFloat(d.Severity, 'f', 1, 64) + ")")
	}
	if !d.At.IsZero() {
		b.WriteString(" at " + d.At.UTC().Format("15:04 MST"))
	}
	return b.String()
}

// DetectionCount is how often one type of detection arrived for an
// incident: the first of a type is announced, the rest are counted.
type DetectionCount struct {
	Detector string    `json:"detector"`
	Type     string    `json:"type"`
	Count    int       `json:"count"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	Severity float64   `json:"severity,omitempty"` // the highest seen
	URL      string    `json:"url,omitempty"`      // of the first
}

// maxDetectionTypes bounds the counters an incident keeps; a flood of
// distinct types beyond it is counted under the last entry's detector.
const maxDetectionTypes = 32

// countDetection adds d to the incident's counters and says whether it is
// the first of its detector and type.
func (in *Incident) countDetection(d Detection) (first bool) {
	for i := range in.Detections {
		c := &in.Detections[i]
		if c.Detector == d.Detector && c.Type == d.Type {
			c.Count++
			c.First, c.Last = minTime(c.First, d.At), maxTime(c.Last, d.At)
			c.Severity = max(c.Severity, d.Severity)
			return false
		}
	}
	if len(in.Detections) >= maxDetectionTypes {
		c := &in.Detections[len(in.Detections)-1]
		c.Count++
		c.Last = maxTime(c.Last, d.At)
		c.Type = "other types"
		return false
	}
	in.Detections = append(in.Detections, DetectionCount{Detector: d.Detector, Type: d.Type, Count: 1, First: d.At, Last: d.At, Severity: d.Severity, URL: d.URL})
	return true
}

// DetectionLines are the incident's detections, one line per type.
func (in *Incident) DetectionLines() []string {
	var out []string
	for _, c := range in.Detections {
		line := fmt.Sprintf("%s %s ×%d", c.Detector, c.Type, c.Count)
		if c.Severity > 0 {
			line += " · severity up to " + strconv.FormatFloat(c.Severity, 'f', 1, 64)
		}
		if !c.First.IsZero() {
			line += " · first " + c.First.UTC().Format("2006-01-02 15:04 MST")
		}
		out = append(out, line)
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
