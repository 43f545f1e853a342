package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// MaxEventBytes is the largest message body read: EventBridge events are
// at most 256 KiB, and an SQS message at most 1 MiB.
const MaxEventBytes = 256 << 10

// Detectors, as events name them to people.
const (
	DetectorGuardDuty = "GuardDuty"
	DetectorHealth    = "AWS Health"
	DetectorTrail     = "CloudTrail"
)

// CustomDetailType is the detail-type of the custom event any sender can
// put on the bus for a leaked key.
const CustomDetailType = "Leaked Access Key"

// Event is one detector event read from the queue.
type Event struct {
	// ID is EventBridge's ID of the event: a redelivery carries it again.
	ID string
	// Key is the access key ID the event is about.
	Key string
	// Receiver is the account whose bus received the event (the envelope's
	// account; moto leaves it out); the activity's account is
	// Detection.Account.
	Receiver  string
	Detection state.Detection
	// Sample is set on GuardDuty's generated sample findings.
	Sample bool
	// Evidence is set on events that show a call, not a finding (CloudTrail
	// through EventBridge): they open incidents only for canaries.
	Evidence bool
	// Settled says why the detector no longer counts the finding as open
	// (archived in GuardDuty, closed in AWS Health): it is recorded on the
	// key's open incident only. Empty for a live finding.
	Settled string
	// Others are further access key IDs the same event names (an AWS
	// Health event's other affected entities, an attack sequence's other
	// actors): each is recorded as its own event (see PerKey).
	Others []string
	// Redacted is set when something that reads like a secret access key
	// was removed from the event's text.
	Redacted bool
}

// PerKey returns ev for its key, then one event for each of its Others,
// whose ID is ev.ID and "#" and the key, so that each is recorded, and
// recognised when the message comes again, on its own.
func (ev Event) PerKey() []Event {
	out := []Event{ev}
	for _, k := range ev.Others {
		o := ev
		o.ID, o.Key, o.Others = ev.ID+"#"+k, k, nil
		o.Detection.UserName = "" // the name, where the event gives one, is the first key's
		out = append(out, o)
	}
	out[0].Others = nil
	return out
}

// Reason says why an event was not read.
type Reason string

// Reasons an event is rejected.
const (
	Malformed Reason = "malformed" // not an EventBridge event, or its detail is not what its type says
	TooLarge  Reason = "too large"
	Unknown   Reason = "unknown type"  // a source or detail-type keyleak does not read
	NoKey     Reason = "no access key" // about something other than an access key
)

// Rejected is an event keyleak cannot act on.
type Rejected struct {
	Reason Reason
	Detail string
}

func (r *Rejected) Error() string { return "event " + string(r.Reason) + ": " + r.Detail }

// reject says why an event cannot be read. What the event said is in the
// detail only after redaction: the reason is logged and sent along to the
// dead-letter queue.
func reject(r Reason, format string, args ...any) error {
	detail, _ := commands.Redact(fmt.Sprintf(format, args...))
	return &Rejected{Reason: r, Detail: detail}
}

// envelope is an EventBridge event.
type envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// Parse reads one EventBridge event. An error is a *Rejected.
func Parse(body []byte) (Event, error) {
	if len(body) > MaxEventBytes {
		return Event{}, reject(TooLarge, "%d bytes, more than the %d an EventBridge event can be", len(body), MaxEventBytes)
	}
	// A queue subscribed to an SNS topic without raw message delivery
	// receives the event as the message of SNS's notification.
	var note struct{ Type, TopicArn, Message string }
	if json.Unmarshal(body, &note) == nil && note.Type == "Notification" && note.TopicArn != "" && note.Message != "" {
		body = []byte(note.Message)
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Event{}, reject(Malformed, "not an EventBridge event: %v", err)
	}
	if env.ID == "" || env.Source == "" || env.DetailType == "" || len(env.Detail) == 0 || !bytes.HasPrefix(bytes.TrimSpace(env.Detail), []byte("{")) {
		return Event{}, reject(Malformed, "an EventBridge event has an id, a source, a detail-type and an object as detail")
	}
	at, _ := time.Parse(time.RFC3339, env.Time)
	var (
		ev     Event
		err    error
		custom bool
	)
	switch {
	case env.Source == "aws.guardduty" && env.DetailType == "GuardDuty Finding":
		ev, err = guardDuty(env.Detail)
	case env.Source == "aws.health":
		ev, err = health(env)
	case strings.HasSuffix(env.DetailType, "via CloudTrail"):
		ev, err = cloudTrail(env.Detail)
	case env.DetailType == CustomDetailType && !strings.HasPrefix(env.Source, "aws."):
		ev, err = customEvent(env.Source, env.Detail)
		custom = true
	default:
		return Event{}, reject(Unknown, "source %q, detail-type %q", clip(env.Source, 80), clip(env.DetailType, 80))
	}
	if err != nil {
		return Event{}, err
	}
	ev.ID, ev.Receiver = env.ID, env.Account
	d := &ev.Detection
	if d.At.IsZero() {
		d.At = at
	}
	if d.Region == "" {
		d.Region = env.Region
	}
	if d.Account == "" && !custom {
		// A custom event's envelope names the sender's account, which
		// may be any: its key's account is decoded from the key.
		d.Account = env.Account
	}
	// Whatever the event says is stored, posted and emailed: a secret in
	// it is removed first, wherever it is.
	for _, f := range []*string{&d.Detector, &d.Type, &d.Summary, &d.UserAgent, &d.UserName, &d.SourceIP} {
		var found bool
		if *f, found = commands.Redact(*f); found {
			ev.Redacted = true
		}
	}
	if _, found := commands.Redact(d.URL); found {
		d.URL, ev.Redacted = "", true
	}
	d.Summary = clip(oneLine(d.Summary), 300)
	d.Type = clip(oneLine(d.Type), 120)
	d.UserAgent = clip(oneLine(d.UserAgent), 200)
	d.URL, _ = webURL(d.URL) // only a link a responder can open safely is shown
	if !accessKeyID(ev.Key) {
		if custom {
			return Event{}, reject(Malformed, "detail.accessKeyId is not an access key ID (%d characters; one has 20, AKIA or ASIA and A–Z, 2–7)", len(ev.Key))
		}
		return Event{}, reject(NoKey, "%s %s names no access key ID", d.Detector, d.Type)
	}
	ev.Others = slices.DeleteFunc(ev.Others, func(k string) bool { return k == ev.Key })
	return ev, nil
}

// guardDuty reads a GuardDuty finding: the key is the resource's
// accessKeyDetails.accessKeyId, or for an attack sequence the credential
// of its actors.
func guardDuty(raw json.RawMessage) (Event, error) {
	var f struct {
		AccountID string  `json:"accountId"`
		Region    string  `json:"region"`
		Partition string  `json:"partition"`
		ID        string  `json:"id"`
		Type      string  `json:"type"`
		Severity  float64 `json:"severity"`
		Title     string  `json:"title"`
		UpdatedAt string  `json:"updatedAt"`
		CreatedAt string  `json:"createdAt"`
		Resource  struct {
			ResourceType     string `json:"resourceType"`
			AccessKeyDetails *struct {
				AccessKeyID string `json:"accessKeyId"`
				UserName    string `json:"userName"`
				UserType    string `json:"userType"`
			} `json:"accessKeyDetails"`
		} `json:"resource"`
		Service struct {
			Archived       bool            `json:"archived"`
			AdditionalInfo json.RawMessage `json:"additionalInfo"`
			EventFirstSeen string          `json:"eventFirstSeen"`
			Action         struct {
				AWSAPICallAction *struct {
					API             string `json:"api"`
					UserAgent       string `json:"userAgent"`
					RemoteIPDetails *struct {
						IPAddressV4 string `json:"ipAddressV4"`
						IPAddressV6 string `json:"ipAddressV6"`
					} `json:"remoteIpDetails"`
				} `json:"awsApiCallAction"`
			} `json:"action"`
			Detection struct {
				Sequence *struct {
					Actors []struct {
						User *struct {
							Name          string `json:"name"`
							CredentialUID string `json:"credentialUid"`
						} `json:"user"`
					} `json:"actors"`
					Endpoints []struct {
						IP string `json:"ip"`
					} `json:"endpoints"`
				} `json:"sequence"`
			} `json:"detection"`
		} `json:"service"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return Event{}, reject(Malformed, "GuardDuty finding: %v", err)
	}
	if f.Type == "" || f.ID == "" {
		return Event{}, reject(Malformed, "a GuardDuty finding has an id and a type")
	}
	ev := Event{Detection: state.Detection{
		Detector: DetectorGuardDuty, Type: f.Type, Severity: f.Severity, ID: f.ID,
		Account: f.AccountID, Region: f.Region, Summary: f.Title,
	}}
	d := &ev.Detection
	d.At = firstTime(f.Service.EventFirstSeen, f.CreatedAt, f.UpdatedAt)
	if f.Region != "" && f.ID != "" {
		d.URL = fmt.Sprintf("https://%s.console.aws.amazon.com/guardduty/home?region=%s#/findings?fId=%s", f.Region, f.Region, url.QueryEscape(f.ID))
	}
	if a := f.Resource.AccessKeyDetails; a != nil {
		ev.Key, d.UserName = a.AccessKeyID, a.UserName
	}
	if call := f.Service.Action.AWSAPICallAction; call != nil {
		d.UserAgent = call.UserAgent
		if ip := call.RemoteIPDetails; ip != nil {
			d.SourceIP = firstNonEmpty(ip.IPAddressV4, ip.IPAddressV6)
		}
	}
	if f.Service.Archived {
		ev.Settled = "archived in GuardDuty"
	}
	if seq := f.Service.Detection.Sequence; seq != nil {
		for _, a := range seq.Actors {
			switch {
			case a.User == nil || !accessKeyID(a.User.CredentialUID):
			case ev.Key == "":
				ev.Key, d.UserName = a.User.CredentialUID, a.User.Name
			case len(ev.Others) < maxOtherKeys && !slices.Contains(ev.Others, a.User.CredentialUID):
				ev.Others = append(ev.Others, a.User.CredentialUID)
			}
		}
		for _, e := range seq.Endpoints {
			if d.SourceIP == "" {
				d.SourceIP = e.IP
			}
		}
	}
	ev.Sample = sampleFinding(f.Service.AdditionalInfo)
	return ev, nil
}

// sampleFinding: GuardDuty's generated samples say so in additionalInfo,
// as a bool, a string, or inside its JSON-string value.
func sampleFinding(raw json.RawMessage) bool {
	var info struct {
		Sample any    `json:"sample"`
		Value  string `json:"value"`
	}
	if json.Unmarshal(raw, &info) != nil {
		return false
	}
	if info.Sample == true || info.Sample == "true" {
		return true
	}
	var inner struct {
		Sample any `json:"sample"`
	}
	return info.Value != "" && json.Unmarshal([]byte(info.Value), &inner) == nil && (inner.Sample == true || inner.Sample == "true")
}

// health reads an AWS Health RISK event: the key is in the event's
// metadata (publicKey), else its affected entities, else its resources.
func health(env envelope) (Event, error) {
	var h struct {
		EventArn         string         `json:"eventArn"`
		Service          string         `json:"service"`
		StatusCode       string         `json:"statusCode"`
		EventTypeCode    string         `json:"eventTypeCode"`
		StartTime        string         `json:"startTime"`
		AffectedAccount  string         `json:"affectedAccount"`
		EventRegion      string         `json:"eventRegion"`
		EventMetadata    map[string]any `json:"eventMetadata"`
		AffectedEntities []struct {
			EntityValue string `json:"entityValue"`
		} `json:"affectedEntities"`
	}
	if err := json.Unmarshal(env.Detail, &h); err != nil {
		return Event{}, reject(Malformed, "AWS Health event: %v", err)
	}
	if h.Service != "RISK" || !strings.HasPrefix(h.EventTypeCode, "AWS_RISK_") {
		return Event{}, reject(Unknown, "AWS Health %s event %s: only RISK events are about keys", clip(h.Service, 40), clip(h.EventTypeCode, 80))
	}
	meta := func(k string) string { s, _ := h.EventMetadata[k].(string); return s }
	ev := Event{Detection: state.Detection{
		Detector: DetectorHealth, Type: h.EventTypeCode, ID: h.EventArn,
		Account: firstNonEmpty(h.AffectedAccount, meta("accountId")), UserName: meta("userName"),
		URL: "https://health.aws.amazon.com/health/home#/account/dashboard/open-issues",
	}}
	ev.Key = meta("publicKey")
	named := func(k string) {
		switch {
		case !accessKeyID(k):
		case ev.Key == "":
			ev.Key = k
		case k != ev.Key && len(ev.Others) < maxOtherKeys && !slices.Contains(ev.Others, k):
			ev.Others = append(ev.Others, k)
		}
	}
	for _, e := range h.AffectedEntities {
		named(e.EntityValue)
	}
	for _, r := range env.Resources {
		named(r)
	}
	if h.StatusCode == "closed" {
		ev.Settled = "closed in AWS Health"
	}
	if t, err := time.Parse(time.RFC1123, h.StartTime); err == nil {
		ev.Detection.At = t
	}
	switch {
	case meta("exposedUrl") != "":
		ev.Detection.Summary = "AWS found the key in public: " + meta("exposedUrl")
	case strings.Contains(h.EventTypeCode, "QUARANTINE"):
		ev.Detection.Summary = "AWS attached a quarantine policy to the key's user"
	default:
		ev.Detection.Summary = "AWS reports the key as at risk (" + h.EventTypeCode + ")"
	}
	return ev, nil
}

// cloudTrail reads a CloudTrail record delivered through EventBridge
// ("AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail"):
// evidence of a call, which opens an incident only for a canary.
func cloudTrail(raw json.RawMessage) (Event, error) {
	var r struct {
		EventTime          string `json:"eventTime"`
		EventSource        string `json:"eventSource"`
		EventName          string `json:"eventName"`
		EventID            string `json:"eventID"`
		AWSRegion          string `json:"awsRegion"`
		SourceIPAddress    string `json:"sourceIPAddress"`
		UserAgent          string `json:"userAgent"`
		ErrorCode          string `json:"errorCode"`
		RecipientAccountID string `json:"recipientAccountId"`
		UserIdentity       struct {
			AccountID   string `json:"accountId"`
			AccessKeyID string `json:"accessKeyId"`
			UserName    string `json:"userName"`
			ARN         string `json:"arn"`
		} `json:"userIdentity"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return Event{}, reject(Malformed, "CloudTrail record: %v", err)
	}
	if r.EventName == "" {
		return Event{}, reject(Malformed, "a CloudTrail record has an eventName")
	}
	call := strings.TrimSuffix(r.EventSource, ".amazonaws.com") + ":" + r.EventName
	summary := call + " called"
	if r.ErrorCode != "" {
		summary += " (refused: " + r.ErrorCode + ")"
	}
	if r.UserIdentity.ARN != "" {
		summary += " as " + r.UserIdentity.ARN
	}
	ev := Event{Key: r.UserIdentity.AccessKeyID, Evidence: true, Detection: state.Detection{
		Detector: DetectorTrail, Type: call, ID: r.EventID,
		Account: firstNonEmpty(r.UserIdentity.AccountID, r.RecipientAccountID), Region: r.AWSRegion,
		UserName: r.UserIdentity.UserName, SourceIP: r.SourceIPAddress, UserAgent: r.UserAgent, Summary: summary,
	}}
	ev.Detection.At, _ = time.Parse(time.RFC3339, r.EventTime)
	return ev, nil
}

// customEvent reads the documented custom event of a secret scanner or
// relay.
func customEvent(source string, raw json.RawMessage) (Event, error) {
	var c struct {
		AccessKeyID string   `json:"accessKeyId"`
		Reason      string   `json:"reason"`
		URL         string   `json:"url"`
		Account     string   `json:"account"`
		Severity    *float64 `json:"severity"`
		ObservedAt  string   `json:"observedAt"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return Event{}, reject(Malformed, "%s event: %v", CustomDetailType, err)
	}
	if c.Reason == "" {
		return Event{}, reject(Malformed, "a %s event says why (detail.reason)", CustomDetailType)
	}
	ev := Event{Key: strings.TrimSpace(c.AccessKeyID), Detection: state.Detection{
		Detector: clip(source, 80), Type: c.Reason, URL: c.URL, Account: c.Account,
		Summary: "reported as leaked: " + c.Reason,
	}}
	if c.URL != "" {
		ev.Detection.Summary += " at " + c.URL
	}
	if c.Severity != nil {
		ev.Detection.Severity = min(max(*c.Severity, 0), 10)
	}
	ev.Detection.At, _ = time.Parse(time.RFC3339, c.ObservedAt)
	return ev, nil
}

// accessKeyID reports whether s has the form of an access key ID.
func accessKeyID(s string) bool {
	_, err := awsops.ParseAccessKeyID(s)
	return err == nil && strings.TrimSpace(s) == s
}

// webURL returns s as a link a responder can open safely (https, no user
// information), written so that it cannot close or split a chat link:
// "" when it is not one.
func webURL(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return "", false
	}
	// String percent-encodes what a path may not hold; the query and the
	// fragment are kept as given, so what would end or split a chat link
	// is encoded here.
	out := linkUnsafe.Replace(u.String())
	if strings.ContainsFunc(out, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return "", false
	}
	return out, true
}

// linkUnsafe encodes the characters that end or split a link in Slack's
// mrkdwn (<url|text>) or Chat's HTML, none of which a URL holds raw.
var linkUnsafe = strings.NewReplacer("<", "%3C", ">", "%3E", "|", "%7C", `"`, "%22", "`", "%60", `\`, "%5C", " ", "%20")

// maxOtherKeys bounds the further keys one event records.
const maxOtherKeys = 20

func firstTime(vals ...string) time.Time {
	for _, v := range vals {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t
		}
	}
	return time.Time{}
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// IsRejected reports whether err says an event cannot be read.
func IsRejected(err error) (*Rejected, bool) {
	var r *Rejected
	ok := errors.As(err, &r)
	return r, ok
}
