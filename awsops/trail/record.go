package trail

import (
	"encoding/json"
	"time"
)

// Record is one CloudTrail event as written in log files, with the
// fields keyleak uses.
type Record struct {
	EventVersion        string          `json:"eventVersion"`
	EventTime           time.Time       `json:"eventTime"`
	EventSource         string          `json:"eventSource"`
	EventName           string          `json:"eventName"`
	AWSRegion           string          `json:"awsRegion"`
	SourceIPAddress     string          `json:"sourceIPAddress"`
	UserAgent           string          `json:"userAgent"`
	UserIdentity        Identity        `json:"userIdentity"`
	RequestParameters   json.RawMessage `json:"requestParameters"`
	ResponseElements    json.RawMessage `json:"responseElements"`
	AdditionalEventData json.RawMessage `json:"additionalEventData"`
	ErrorCode           string          `json:"errorCode"`
	ErrorMessage        string          `json:"errorMessage"`
	RequestID           string          `json:"requestID"`
	EventID             string          `json:"eventID"`
	EventType           string          `json:"eventType"`
	EventCategory       string          `json:"eventCategory"`
	ReadOnly            bool            `json:"readOnly"`
	ManagementEvent     bool            `json:"managementEvent"`
	RecipientAccountID  string          `json:"recipientAccountId"`
	Resources           []Resource      `json:"resources"`
	// SessionCredentialFromConsole is "true" for calls made in an AWS
	// Management Console session, and absent otherwise.
	SessionCredentialFromConsole string `json:"sessionCredentialFromConsole"`
}

// Identity is a record's userIdentity: who made the call, and with
// which access key.
type Identity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	AccessKeyID string `json:"accessKeyId"`
	UserName    string `json:"userName"`
	InvokedBy   string `json:"invokedBy"`
	// IdentityProvider is the OIDC provider URL or SAML provider ARN of
	// a WebIdentityUser or SAMLUser.
	IdentityProvider string         `json:"identityProvider"`
	SessionContext   SessionContext `json:"sessionContext"`
}

// SessionContext describes the session behind temporary credentials.
type SessionContext struct {
	SessionIssuer struct {
		Type        string `json:"type"`
		PrincipalID string `json:"principalId"`
		ARN         string `json:"arn"`
		AccountID   string `json:"accountId"`
		UserName    string `json:"userName"`
	} `json:"sessionIssuer"`
	Attributes struct {
		CreationDate     string `json:"creationDate"`
		MFAAuthenticated string `json:"mfaAuthenticated"`
	} `json:"attributes"`
	SourceIdentity string `json:"sourceIdentity"`
}

// Resource is one entry of a record's resources list.
type Resource struct {
	ARN       string `json:"ARN"`
	AccountID string `json:"accountId"`
	Type      string `json:"type"`
}

// CredentialsAccessKeyID returns responseElements.credentials.accessKeyId:
// the temporary key an STS call (AssumeRole, GetSessionToken…) issued, or
// "" when the record has none.
func (r *Record) CredentialsAccessKeyID() string {
	if len(r.ResponseElements) == 0 || r.ResponseElements[0] != '{' {
		return ""
	}
	id, err := credentialsAccessKeyID(r.ResponseElements)
	if err != nil {
		return ""
	}
	return id
}

// Match is a record that used or issued a tracked key.
type Match struct {
	Object      string // name of the log object
	Offset      int64  // of the record in the decompressed object
	End         int64  // the offset after the record
	AccessKeyID string // the tracked key: the caller's, else the issued one ("" if none)
	// Patterns are the watched patterns the record holds, in the order of
	// Watch.
	Patterns []string
	Record   Record
}
