package state

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Actor is a person (or keyleak itself) as identified by a verified
// inbound event. ID is the platform's stable identity ("U024BE7LH" on
// Slack, "users/1234" on Google Chat, "cli:alice" on the terminal); it is
// never taken from button parameters or other user-controlled text.
type Actor struct {
	ID       string `json:"id"`
	Email    string `json:"email,omitempty"`
	Name     string `json:"name,omitempty"`
	Platform string `json:"platform,omitempty"`
}

// System is keyleak itself as the actor of automatic steps.
var System = Actor{ID: "keyleak", Name: "keyleak", Platform: "keyleak"}

// String names the actor for timelines and replies.
func (a Actor) String() string {
	switch {
	case a.Name != "" && a.Email != "":
		return a.Name + " <" + a.Email + ">"
	case a.Name != "":
		return a.Name
	case a.Email != "":
		return a.Email
	default:
		return a.ID
	}
}

// Same reports whether a and b are the same person. Two actors are the
// same when they share a platform identity or a (case-insensitive) email,
// so a person cannot approve their own Slack request from Google Chat.
func (a Actor) Same(b Actor) bool {
	if a.ID != "" && a.ID == b.ID {
		return true
	}
	return a.Email != "" && strings.EqualFold(a.Email, b.Email)
}

// Source records where an event came from and how it was authenticated.
type Source struct {
	Platform string `json:"platform"`           // "slack", "chat", "cli", "keyleak"
	EventID  string `json:"event_id,omitempty"` // the delivery's own ID, for deduplication and audit
	Verified bool   `json:"verified"`           // true when a signature or token was checked
}

// IncidentStatus is the life stage of an incident.
type IncidentStatus string

// Incident statuses.
const (
	IncidentOpen   IncidentStatus = "open"
	IncidentClosed IncidentStatus = "closed"
)

// Severity grades an incident from what is known about the key.
type Severity string

// Severities, from least to most urgent.
const (
	SeverityUnknown  Severity = "unknown"
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Incident is one response to one leaked access key.
type Incident struct {
	ID          string         `json:"id"` // "KL-2026-0007": sortable within a year
	AccessKeyID string         `json:"access_key_id"`
	Status      IncidentStatus `json:"status"`
	Severity    Severity       `json:"severity"`
	AccountID   string         `json:"account_id,omitempty"`
	Owner       Owner          `json:"owner,omitzero"` // zero until identification finds it
	Reporter    Actor          `json:"reporter"`
	Note        string         `json:"note,omitempty"`
	Reports     int            `json:"reports"` // how many times the key was reported

	OpenedAt    time.Time `json:"opened_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	ClosedAt    time.Time `json:"closed_at,omitzero"`
	CloseReason string    `json:"close_reason,omitempty"`

	// War room and page, filled in as the outbox delivers them.
	ChatSpace    string `json:"chat_space,omitempty"` // "spaces/AAAA…"
	ChatSpaceURL string `json:"chat_space_url,omitempty"`
	MeetURL      string `json:"meet_url,omitempty"`
	SlackChannel string `json:"slack_channel,omitempty"`
	SlackTS      string `json:"slack_ts,omitempty"`

	// Assignments maps an incident role ("lead", "comms", "scribe") to a person.
	Assignments map[string]string `json:"assignments,omitempty"`

	// Actions counts the action requests made so far; it numbers the next one.
	Actions int `json:"actions"`

	// Detection is the detector's finding that opened the incident, nil
	// when a person reported the key.
	Detection *Detection `json:"detection,omitempty"`
	// Canary is set when the key is a canary: its use is the whole
	// finding, and there is nothing of the organisation's to contain.
	Canary bool `json:"canary,omitempty"`
	// Detections counts what detectors raised about the key, by type.
	Detections []DetectionCount `json:"detections,omitempty"`
}

// OwnerKind says what kind of principal an access key belongs to.
type OwnerKind string

// Kinds of key owners.
const (
	OwnerUser      OwnerKind = "user"      // an IAM user's long-term key
	OwnerRoot      OwnerKind = "root"      // the account root user's key
	OwnerTemporary OwnerKind = "temporary" // an STS session's key (ASIA…): no IAM owner
)

// Owner is who an access key belongs to, as identification found it.
// Front ends put it in words; code decides on Kind, never on the words.
type Owner struct {
	Kind     OwnerKind `json:"kind,omitempty"`      // empty while unknown
	UserName string    `json:"user_name,omitempty"` // the IAM user, for OwnerUser
	ARN      string    `json:"arn,omitempty"`       // the user's or root's ARN
}

// Known reports whether identification found the owner.
func (o Owner) Known() bool { return o.Kind != "" }

// Open reports whether the incident is still being worked.
func (in *Incident) Open() bool { return in.Status == IncidentOpen }

// Close moves the incident to closed. It fails if it is closed already.
func (in *Incident) Close(at time.Time, reason string) error {
	if in.Status != IncidentOpen {
		return fmt.Errorf("incident %s is %s: %w", in.ID, in.Status, ErrClosed)
	}
	in.Status = IncidentClosed
	in.ClosedAt = at
	in.UpdatedAt = at
	in.CloseReason = reason
	return nil
}

// EventKind classifies a timeline entry.
type EventKind string

// Timeline event kinds.
const (
	EventOpened          EventKind = "opened"
	EventJoined          EventKind = "joined"
	EventDetected        EventKind = "detected" // a detector raised a finding about the key
	EventNote            EventKind = "note"
	EventAssigned        EventKind = "assigned"
	EventFinding         EventKind = "finding"
	EventActionRequested EventKind = "action.requested"
	EventActionApproved  EventKind = "action.approved"
	EventActionDenied    EventKind = "action.denied"
	EventActionExpired   EventKind = "action.expired"
	EventActionRefused   EventKind = "action.refused" // an approval attempt that broke a rule
	EventActionStarted   EventKind = "action.started"
	EventActionSucceeded EventKind = "action.succeeded"
	EventActionFailed    EventKind = "action.failed"
	EventDelivered       EventKind = "delivered"
	EventDeadLettered    EventKind = "dead-lettered"
	EventClosed          EventKind = "closed"
)

// Event is one append-only timeline entry of an incident.
type Event struct {
	Seq      uint64    `json:"seq"` // assigned by the store, increasing per incident
	Incident string    `json:"incident"`
	At       time.Time `json:"at"`
	Actor    Actor     `json:"actor"`
	Kind     EventKind `json:"kind"`
	Text     string    `json:"text"`
	Source   Source    `json:"source"`
	Action   string    `json:"action,omitempty"` // the action ID the entry is about
}

// ActionStatus is a stage of an action request's life.
type ActionStatus string

// Action statuses. The lifecycle is
//
//	requested → approved | denied | expired
//	approved  → running
//	running   → succeeded | failed
//
// and nothing else: a decided request can never be decided again.
const (
	ActionRequested ActionStatus = "requested"
	ActionApproved  ActionStatus = "approved"
	ActionDenied    ActionStatus = "denied"
	ActionExpired   ActionStatus = "expired"
	ActionRunning   ActionStatus = "running"
	ActionSucceeded ActionStatus = "succeeded"
	ActionFailed    ActionStatus = "failed"
)

var actionTransitions = map[ActionStatus][]ActionStatus{
	ActionRequested: {ActionApproved, ActionDenied, ActionExpired},
	ActionApproved:  {ActionRunning},
	ActionRunning:   {ActionSucceeded, ActionFailed},
}

// Final reports whether no further transition is possible.
func (s ActionStatus) Final() bool { return len(actionTransitions[s]) == 0 }

// Action is a request to change something in AWS, with its approval and
// outcome. Params and Plan are frozen when the request is made: approval
// binds to Digest, and an executor receives exactly these parameters.
type Action struct {
	ID           string            `json:"id"` // "KL-2026-0007-A3"
	Incident     string            `json:"incident"`
	Name         string            `json:"name"` // the command: "deactivate", "revoke-sessions"…
	Params       map[string]string `json:"params"`
	Digest       string            `json:"digest"` // hash of Name and Params
	Plan         []string          `json:"plan"`   // the exact API calls, as shown before approval
	Impact       []string          `json:"impact,omitempty"`
	Warnings     []string          `json:"warnings,omitempty"` // said first, in bold, on the request card
	Irreversible bool              `json:"irreversible"`
	TwoPerson    bool              `json:"two_person"`
	UndoOf       string            `json:"undo_of,omitempty"` // the action this one reverses
	// Remains is what is left to do once the action succeeded, unless it
	// is undone (the report lists it as a follow-up).
	Remains string `json:"remains,omitempty"`

	Requester Actor  `json:"requester"`
	Source    Source `json:"source"`
	Approver  *Actor `json:"approver,omitempty"` // whoever approved or denied
	Reason    string `json:"reason,omitempty"`   // why it was denied
	Thread    string `json:"thread,omitempty"`   // chat thread key of the request card

	Status      ActionStatus `json:"status"`
	RequestedAt time.Time    `json:"requested_at"`
	ExpiresAt   time.Time    `json:"expires_at"`
	DecidedAt   time.Time    `json:"decided_at,omitzero"`
	StartedAt   time.Time    `json:"started_at,omitzero"`
	FinishedAt  time.Time    `json:"finished_at,omitzero"`

	Result     string   `json:"result,omitempty"`
	RequestIDs []string `json:"request_ids,omitempty"` // AWS request IDs of every call made
	Error      string   `json:"error,omitempty"`
	Undone     string   `json:"undone,omitempty"` // the action ID that reversed this one
}

// Transition moves the action to status to at the given time, enforcing
// the lifecycle. It does not check who may do it; that is the approval
// engine's job.
func (a *Action) Transition(to ActionStatus, at time.Time) error {
	for _, ok := range actionTransitions[a.Status] {
		if ok == to {
			a.Status = to
			switch to {
			case ActionApproved, ActionDenied, ActionExpired:
				a.DecidedAt = at
			case ActionRunning:
				a.StartedAt = at
			case ActionSucceeded, ActionFailed:
				a.FinishedAt = at
			}
			return nil
		}
	}
	return fmt.Errorf("action %s: %s → %s: %w", a.ID, a.Status, to, ErrTransition)
}

// Expired reports whether a still-undecided request has outlived its window.
func (a *Action) Expired(now time.Time) bool {
	return a.Status == ActionRequested && !a.ExpiresAt.IsZero() && !now.Before(a.ExpiresAt)
}

// Message is an outbound message, email or unit of background work
// waiting in the outbox. It is written in the same transaction as the
// state change that caused it and removed only when delivered.
type Message struct {
	ID       uint64 `json:"id"`  // outbox sequence, assigned by the store
	Key      string `json:"key"` // idempotency key: enqueuing the same key again is a no-op
	Channel  string `json:"channel"`
	Kind     string `json:"kind"`
	Incident string `json:"incident,omitempty"`
	Payload  []byte `json:"payload,omitempty"`

	CreatedAt   time.Time `json:"created_at"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt"`
	LastError   string    `json:"last_error,omitempty"`
	DeadAt      time.Time `json:"dead_at,omitzero"`
	// Unordered messages (background work) need not wait for the earlier
	// messages of their incident and channel, nor hold back later ones.
	Unordered bool `json:"unordered,omitempty"`
}

// OrderGroup names the messages delivered in order with m: those of its
// incident and channel, unless m is unordered, when it is alone.
func (m Message) OrderGroup() string {
	if m.Unordered {
		return fmt.Sprintf("#%d", m.ID)
	}
	return m.Incident + "\x00" + m.Channel
}

// Errors returned by the store and the domain types.
var (
	ErrNotFound   = errors.New("not found")
	ErrClosed     = errors.New("incident is closed")
	ErrTransition = errors.New("transition not allowed")
	ErrInvalid    = errors.New("invalid record")
	ErrSchema     = errors.New("unsupported schema version")
	ErrLocked     = errors.New("database is in use by another process")
	ErrDamaged    = errors.New("database file is damaged")
)
