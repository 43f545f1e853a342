package commands

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyleak/keyleak/state"
)

// Notice kinds written when an incident opens.
const (
	NoticePage     = "page"     // ChannelSlack: post or update the on-call page
	NoticeRoom     = "room"     // ChannelChat: create the war room and post the incident card
	NoticeOpenMail = "open"     // ChannelEmail: the opening email to InfoSec
	NoticeIdentify = "identify" // ChannelWork: identify the key's account, owner and privileges
)

// doubleSubmitWindow is how long the same person reporting the same key
// again counts as one report (a double submission, not a second report).
const doubleSubmitWindow = time.Minute

// retryWindow is how long a delivery's own event ID is remembered, to
// answer a platform's retried delivery once.
const retryWindow = 30 * time.Minute

// Reporter opens an incident for a reported key, or joins the key's open
// incident, writing the work that follows (page, war room, email,
// identification) to the outbox in the same transaction.
type Reporter struct {
	Store *state.Store
	Now   Clock
	// ParseKey checks the form of an access key ID and returns it in its
	// canonical form, or an error whose text can be shown to the user.
	ParseKey func(string) (string, error)
	// Announce lists the outbox channels told about a new incident.
	Announce []string
	// Wake nudges the delivery worker after a commit; may be nil.
	Wake func()
}

// Report is one report of a key.
type Report struct {
	Key    string
	Note   string
	Actor  state.Actor
	Source state.Source
	// Detection is set when a detector reported the key (the intake):
	// it opens the incident, or is counted on the key's open one.
	Detection *state.Detection
	// JoinOnly records the report only on an open incident of the key;
	// without one nothing is recorded (a finding below the bar).
	JoinOnly bool
	// Remember is how long Source.EventID is remembered to answer a
	// redelivery once; zero means the chat platforms' retry window.
	Remember time.Duration
}

// ReportResult says what a report did.
type ReportResult struct {
	Incident state.Incident
	Joined   bool // the key had an open incident; the report joined it
	Repeat   bool // a retried delivery or double submission: nothing was recorded
	Dropped  bool // JoinOnly and the key has no open incident: nothing was recorded
	// SecretRemoved is set when the note held something like a secret
	// access key; the note was dropped and the reply must warn.
	SecretRemoved bool
}

// Open records a report. Bad input is a UserError.
func (r *Reporter) Open(ctx context.Context, rep Report) (ReportResult, error) {
	var res ReportResult
	// A note holding a secret is dropped whole: what is left around the
	// secret may still identify it.
	if _, found := Redact(rep.Note); found {
		rep.Note, res.SecretRemoved = "", true
	}
	if _, found := Redact(rep.Key); found {
		return ReportResult{SecretRemoved: true}, Userf("That looks like a secret access key, not an access key ID. %s Report the key ID (AKIA… or ASIA…, 20 characters).", SecretWarning)
	}
	key, err := r.ParseKey(strings.TrimSpace(rep.Key))
	if err != nil {
		var ue *UserError
		if errors.As(err, &ue) {
			return res, err
		}
		return res, &UserError{Msg: err.Error(), Err: err}
	}
	if len(rep.Note) > maxNote {
		return res, Userf("The note is %d characters; keep it under %d.", len(rep.Note), maxNote)
	}
	now := r.Now()
	remember := cmp.Or(rep.Remember, retryWindow)
	err = r.Store.Batch(func(tx *state.Tx) error {
		res.Repeat, res.Joined, res.Dropped = false, false, false
		if rep.JoinOnly {
			if _, err := tx.OpenIncidentFor(key); errors.Is(err, state.ErrNotFound) {
				res.Dropped = true
				return nil
			} else if err != nil {
				return err
			}
		}
		if rep.Source.EventID != "" {
			seen, err := tx.MarkSeen(rep.Source.Platform+"/"+rep.Source.EventID, now, now.Add(remember))
			if err != nil {
				return err
			}
			res.Repeat = seen
		}
		if !res.Repeat && rep.Detection == nil {
			seen, err := tx.MarkSeen(doubleSubmitKey(rep.Actor, key, rep.Note), now, now.Add(doubleSubmitWindow))
			if err != nil {
				return err
			}
			res.Repeat = seen
		}
		if res.Repeat {
			inc, err := tx.OpenIncidentFor(key)
			if err != nil {
				return err
			}
			res.Incident, res.Joined = inc, true
			return nil
		}
		inc, joined, err := tx.Report(state.NewIncident{AccessKeyID: key, Reporter: rep.Actor, Note: rep.Note, Source: rep.Source, At: now, Detection: rep.Detection})
		if err != nil {
			return err
		}
		res.Incident, res.Joined = inc, joined
		if joined {
			if rep.Detection != nil {
				return announceDetection(tx, inc, *rep.Detection, now, r.Announce)
			}
			return nil
		}
		for _, ch := range r.Announce {
			kind, ok := announceKinds[ch]
			if !ok {
				return fmt.Errorf("no announcement for channel %q", ch)
			}
			if err := EnqueueNotice(tx, ch, kind+":"+inc.ID, Notice{Kind: kind, Incident: inc.ID}, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return ReportResult{}, fmt.Errorf("report %s: %w", key, err)
	}
	if r.Wake != nil && !res.Repeat && !res.Dropped && (!res.Joined || rep.Detection != nil) {
		r.Wake()
	}
	return res, nil
}

// announceDetection tells the war room of a detection that joined the
// incident, the first of its type only (the rest are counted on the
// card): a line in the space, and the card again with the new count.
func announceDetection(tx *state.Tx, inc state.Incident, d state.Detection, now time.Time, channels []string) error {
	first := false
	for _, c := range inc.Detections {
		if c.Detector == d.Detector && c.Type == d.Type {
			first = c.Count == 1
		}
	}
	if !first || !slices.Contains(channels, ChannelChat) {
		return nil
	}
	rev := strconv.Itoa(len(inc.Detections))
	line := "Detected: " + d.Text()
	if d.Summary != "" {
		line += ": " + d.Summary
	}
	reply := Reply{Text: line}
	if d.URL != "" {
		reply.Fields = append(reply.Fields, Field{"Finding", d.URL})
	}
	if err := EnqueueNotice(tx, ChannelChat, "detected:"+inc.ID+":"+rev, Notice{Kind: NoticeReply, Incident: inc.ID, Reply: &reply}, now); err != nil {
		return err
	}
	return EnqueueNotice(tx, ChannelChat, NoticeRoom+":"+inc.ID+":detections-"+rev, Notice{Kind: NoticeRoom, Incident: inc.ID}, now)
}

var announceKinds = map[string]string{
	ChannelSlack: NoticePage,
	ChannelChat:  NoticeRoom,
	ChannelEmail: NoticeOpenMail,
	ChannelWork:  NoticeIdentify,
}

func doubleSubmitKey(a state.Actor, key, note string) string {
	h := sha256.Sum256([]byte(a.ID + "\x00" + key + "\x00" + note))
	return "report/" + hex.EncodeToString(h[:16])
}

// ReportReply is what the reporter sees.
func ReportReply(res ReportResult) Reply {
	inc := res.Incident
	r := Reply{Private: true, Fields: []Field{{"Incident", inc.ID}, {"Key", inc.AccessKeyID}}}
	room := inc.ChatSpaceURL
	if room == "" {
		room = "being created; the page in the on-call channel will link it"
	}
	r.Fields = append(r.Fields, Field{"War room", room})
	switch {
	case res.Joined:
		r.Text = fmt.Sprintf("%s is already open for this key (opened %s by %s). Join its war room.", inc.ID, inc.OpenedAt.UTC().Format("15:04 MST"), inc.Reporter)
	default:
		r.Text = fmt.Sprintf("Opened %s. On-call is being paged. Work in the Google Chat space; do not discuss details on Slack.", inc.ID)
	}
	if res.SecretRemoved {
		r.Text += "\n\n" + SecretWarning
		r.Problem = true
	}
	return r
}

// UpdatePage queues an update of the incident's on-call page, in the
// caller's transaction, after a fact on it changed. rev distinguishes
// updates (for instance the time of the change), so each is sent once.
func UpdatePage(tx *state.Tx, incident, rev string, at time.Time) error {
	return EnqueueNotice(tx, ChannelSlack, "page:"+incident+":"+rev, Notice{Kind: NoticePage, Incident: incident}, at)
}
