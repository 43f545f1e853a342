package awsops

import (
	"slices"
	"strings"
	"time"

	"github.com/keyleak/keyleak/awsops/trail"
)

// Category is what an event suggests the caller was doing.
type Category string

// The categories of events.
const (
	CategoryRecon               Category = "recon"
	CategoryInitialAccess       Category = "initial-access"
	CategoryCredentialAccess    Category = "credential-access" // a secret read
	CategoryCredentialMinting   Category = "credential-minting"
	CategoryIAMPersistence      Category = "iam-persistence" // a new way in
	CategoryPrivilegeEscalation Category = "privilege-escalation"
	CategoryExecution           Category = "execution" // code run on the account's machines
	CategoryLateralMovement     Category = "lateral-movement"
	CategoryComputeAbuse        Category = "compute-abuse"
	CategoryDataAccess          Category = "data-access"
	CategoryExfiltration        Category = "exfiltration"
	CategoryDefenseEvasion      Category = "defense-evasion"
	CategoryImpact              Category = "impact"
	CategoryErrors              Category = "errors-probing" // failed calls of no other category
	CategoryOther               Category = "other"
)

// categorize files an event: under its first catalogue technique, or by
// what it does when the catalogue does not know it.
func categorize(rec *trail.Record) Category {
	return categoryOf(newEvent(rec, noAccounts), nil)
}

// noAccounts knows no account of the organisation but the event's own.
func noAccounts(string) bool { return false }

// categoryOf is the category of e, given the techniques it matches.
func categoryOf(e *event, techniques []*Technique) Category {
	if techniques == nil {
		techniques = techniquesOf(e)
	}
	if len(techniques) > 0 {
		return techniques[0].Category
	}
	rec := e.rec
	switch {
	case e.service == "iam" && !e.readOnly():
		return CategoryIAMPersistence
	case rec.EventCategory == "Data" || !rec.ManagementEvent && e.service == "s3":
		return CategoryDataAccess
	case rec.ErrorCode != "":
		return CategoryErrors
	case e.readOnly():
		return CategoryRecon
	}
	return CategoryOther
}

func isReadName(name string) bool {
	for _, p := range []string{"Get", "List", "Describe", "Head", "Lookup", "Search", "Scan", "BatchGet"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// FlaggedEvent is one event a responder should look at.
type FlaggedEvent struct {
	Time        time.Time `json:"time"`
	Category    Category  `json:"category"`
	EventName   string    `json:"event_name"`
	EventSource string    `json:"event_source"`
	Region      string    `json:"region"`
	SourceIP    string    `json:"source_ip"`
	UserAgent   string    `json:"user_agent"`
	AccessKeyID string    `json:"access_key_id"` // the credential used
	Principal   string    `json:"principal"`     // its ARN
	ErrorCode   string    `json:"error_code,omitempty"`
	EventID     string    `json:"event_id"`
	// Target names what the call acted on, when the event says.
	Target string `json:"target,omitempty"`
	// Techniques are the catalogue entries the event matches, the one it
	// is filed under first; none for a change flagged only because it came
	// from a new source.
	Techniques []string `json:"techniques,omitempty"`
	// NewSource is set when the call came from a source outside the key's
	// baseline (see Investigation.Sources).
	NewSource bool `json:"new_source,omitempty"`
}

func isKMSDecrypt(rec *trail.Record) bool {
	return rec.EventSource == "kms.amazonaws.com" && (rec.EventName == "Decrypt" || strings.HasPrefix(rec.EventName, "GenerateDataKey") || rec.EventName == "ReEncrypt")
}

func flagEvent(rec *trail.Record, cat Category) FlaggedEvent {
	f := FlaggedEvent{Time: rec.EventTime, Category: cat, EventName: rec.EventName, EventSource: rec.EventSource,
		Region: rec.AWSRegion, SourceIP: rec.SourceIPAddress, UserAgent: rec.UserAgent,
		AccessKeyID: rec.UserIdentity.AccessKeyID, Principal: rec.UserIdentity.ARN, ErrorCode: rec.ErrorCode, EventID: rec.EventID}
	for _, r := range rec.Resources {
		if r.Type != "AWS::IAM::AccessKey" || f.Target == "" {
			f.Target = r.ARN
		}
		if r.Type != "AWS::IAM::AccessKey" {
			break
		}
	}
	return f
}

func sortEvents(evs []FlaggedEvent) {
	slices.SortStableFunc(evs, func(a, b FlaggedEvent) int { return a.Time.Compare(b.Time) })
}
