package world

import (
	"encoding/json"
	"time"
)

// Record is one CloudTrail event record, in the shape CloudTrail writes to trail log files
// and returns (as a JSON string) in LookupEvents' CloudTrailEvent.
type Record struct {
	EventVersion        string         `json:"eventVersion"`
	UserIdentity        UserIdentity   `json:"userIdentity"`
	EventTime           string         `json:"eventTime"` // UTC, 2006-01-02T15:04:05Z
	EventSource         string         `json:"eventSource"`
	EventName           string         `json:"eventName"`
	AWSRegion           string         `json:"awsRegion"`
	SourceIPAddress     string         `json:"sourceIPAddress"`
	UserAgent           string         `json:"userAgent"`
	ErrorCode           string         `json:"errorCode,omitempty"`
	ErrorMessage        string         `json:"errorMessage,omitempty"`
	RequestParameters   map[string]any `json:"requestParameters"`
	ResponseElements    map[string]any `json:"responseElements"`
	AdditionalEventData map[string]any `json:"additionalEventData,omitempty"`
	RequestID           string         `json:"requestID"`
	EventID             string         `json:"eventID"`
	// SharedEventID ties the copies of a cross-account call that each
	// account's trail records.
	SharedEventID string `json:"sharedEventID,omitempty"`
	// SessionCredentialFromConsole is "true" for calls of a console session.
	SessionCredentialFromConsole string     `json:"sessionCredentialFromConsole,omitempty"`
	ReadOnly                     bool       `json:"readOnly"`
	Resources                    []Resource `json:"resources,omitempty"`
	EventType                    string     `json:"eventType"`
	ManagementEvent              bool       `json:"managementEvent"`
	RecipientAccountID           string     `json:"recipientAccountId"`
	EventCategory                string     `json:"eventCategory"`
}

// UserIdentity is the caller of a Record.
type UserIdentity struct {
	Type           string          `json:"type"` // IAMUser, AssumedRole, FederatedUser, Root, Unknown
	PrincipalID    string          `json:"principalId,omitempty"`
	ARN            string          `json:"arn,omitempty"`
	AccountID      string          `json:"accountId,omitempty"`
	AccessKeyID    string          `json:"accessKeyId,omitempty"`
	UserName       string          `json:"userName,omitempty"`
	SessionContext *SessionContext `json:"sessionContext,omitempty"`
}

// SessionContext describes the session of temporary credentials.
type SessionContext struct {
	SessionIssuer  *SessionIssuer    `json:"sessionIssuer,omitempty"`
	Attributes     SessionAttributes `json:"attributes"`
	SourceIdentity string            `json:"sourceIdentity,omitempty"`
}

// SessionIssuer is the role or user whose credentials issued a session.
type SessionIssuer struct {
	Type        string `json:"type"` // Role, IAMUser
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
}

// SessionAttributes are the session's creation date (UTC ISO-8601) and MFA state ("false").
type SessionAttributes struct {
	CreationDate     string `json:"creationDate"`
	MFAAuthenticated string `json:"mfaAuthenticated"`
}

// Resource is a resource a Record acted on.
type Resource struct {
	ARN       string `json:"ARN"`
	AccountID string `json:"accountId,omitempty"`
	Type      string `json:"type"`
}

// Time parses EventTime.
func (r Record) Time() time.Time {
	t, _ := time.Parse(time.RFC3339, r.EventTime)
	return t
}

// storedEvent is a recorded event with what the gateway indexes it by.
type storedEvent struct {
	rec       Record
	raw       []byte // rec as JSON
	at        time.Time
	seq       uint64
	username  string     // LookupEvents' Username
	resources []resource // with names, for LookupEvents' Resources
}

const timeLayout = "2006-01-02T15:04:05Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func newStoredEvent(rec Record, at time.Time, username string, resources []resource) *storedEvent {
	raw, _ := json.Marshal(rec) // a Record of plain values always encodes
	return &storedEvent{rec: rec, raw: raw, at: at, username: username, resources: resources}
}
