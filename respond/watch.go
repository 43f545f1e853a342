package respond

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// watchState is the watch's state, stored with the incident
// (state.FindingWatch) so that the watch survives a restart.
type watchState struct {
	Since   time.Time `json:"since"`  // the first containment: calls after it count
	Until   time.Time `json:"until"`  // the watch ends then
	Action  string    `json:"action"` // the action that started or last extended it
	Checked time.Time `json:"checked,omitzero"`
	Alarmed []string  `json:"alarmed,omitempty"` // calls already alarmed on
	Refused int       `json:"refused"`           // refused calls seen so far
}

func loadWatch(tx *state.Tx, id string) (watchState, bool, error) {
	doc, err := tx.Finding(id, state.FindingWatch)
	if errors.Is(err, state.ErrNotFound) {
		return watchState{}, false, nil
	}
	if err != nil {
		return watchState{}, false, err
	}
	var w watchState
	return w, true, json.Unmarshal(doc, &w)
}

func putWatch(tx *state.Tx, id string, w watchState) error {
	doc, err := json.Marshal(w)
	if err != nil {
		return err
	}
	return tx.PutFinding(id, state.FindingWatch, doc)
}

// OnSuccess starts the watch after a containment action succeeds, or
// extends it, in the transaction that records the success (for
// commands.Engine.OnSuccess).
func (r *Responder) OnSuccess(tx *state.Tx, a state.Action, at time.Time) error {
	if !containing(a.Name) {
		return nil
	}
	w, watching, err := loadWatch(tx, a.Incident)
	if err != nil {
		return err
	}
	if w.Since.IsZero() {
		a.FinishedAt = at
		w.Since = containedAt(a)
	}
	shown := func(t time.Time) string { return t.UTC().Format("15:04 MST") }
	watching = watching && w.Until.After(at)
	before := shown(w.Until)
	w.Until, w.Action = at.Add(r.cfg.WatchPeriod), a.ID
	if err := putWatch(tx, a.Incident, w); err != nil {
		return err
	}
	// The timeline says when the watch starts and when it moves; an
	// action that leaves its end where it was shown adds nothing.
	text := "watching CloudTrail for the key and its sessions until " + shown(w.Until)
	if watching {
		text = "the watch of CloudTrail now runs until " + shown(w.Until)
	}
	if !watching || shown(w.Until) != before {
		if _, err := tx.Append(state.Event{Incident: a.Incident, At: at, Actor: state.System, Kind: state.EventFinding,
			Text: text, Source: keyleakSource}); err != nil {
			return err
		}
	}
	return commands.EnqueueNotice(tx, commands.ChannelWork, "watch:"+a.ID,
		commands.Notice{Kind: commands.NoticeWatch, Incident: a.Incident, Params: map[string]string{paramWatchAction: a.ID}}, at)
}

// paramWatchAction names, in a watch notice, the action whose success
// started or last extended the watch.
const paramWatchAction = "action"

// Watcher is the notifier of watch work: every interval until the watch
// ends, it checks that nothing succeeded with the key or its sessions
// since containment, and raises the alarm in the space and on Slack if
// something did.
type Watcher struct{ r *Responder }

// Deliver checks once and asks to be delivered again after the interval.
func (wt *Watcher) Deliver(ctx context.Context, m state.Message) (bool, error) {
	cfg := wt.r.cfg
	n, err := commands.DecodeNotice(m)
	if err != nil {
		return false, err
	}
	store := cfg.Store
	var w watchState
	var inc state.Incident
	err = store.View(func(tx *state.Tx) (err error) {
		if inc, err = tx.Incident(n.Incident); err != nil {
			return err
		}
		w, _, err = loadWatch(tx, n.Incident)
		return err
	})
	if err != nil {
		return false, err
	}
	if w.Action != n.Params[paramWatchAction] {
		return false, nil // a later containment extended the watch under its own job
	}
	now := cfg.Now()
	if !now.Before(w.Until) || !inc.Open() {
		return false, wt.finish(inc, w, now)
	}
	rep, err := wt.r.verify(ctx, inc, w.Since, false)
	if err != nil {
		if ctx.Err() != nil {
			return true, err
		}
		cfg.Log.WarnContext(ctx, "watch check failed; trying again at the next interval", "incident", inc.ID, "err", err)
		return false, &commands.Reschedule{After: cfg.WatchInterval}
	}
	var fresh []awsops.TrailActivity
	refused := 0
	for _, a := range rep.Activity {
		if a.Refused() {
			refused++
			continue
		}
		id := a.Time.UTC().Format(time.RFC3339Nano) + " " + a.EventName + " " + a.AccessKeyID
		if !slices.Contains(w.Alarmed, id) {
			fresh = append(fresh, a)
			w.Alarmed = append(w.Alarmed, id)
		}
	}
	w.Checked, w.Refused = now, refused
	err = store.Update(func(tx *state.Tx) error {
		if err := putWatch(tx, inc.ID, w); err != nil {
			return err
		}
		if len(fresh) == 0 {
			return nil
		}
		text := fmt.Sprintf("ALARM: %d call(s) succeeded after containment, the first %s %s with %s", len(fresh), fresh[0].Region, fresh[0].EventName, fresh[0].AccessKeyID)
		if _, err := tx.Append(state.Event{Incident: inc.ID, At: now, Actor: state.System, Kind: state.EventFinding, Text: text, Source: keyleakSource}); err != nil {
			return err
		}
		rev := fmt.Sprint(now.UnixNano())
		if slices.Contains(cfg.Channels, commands.ChannelChat) {
			reply := verifyReply(inc.ID, rep)
			reply.Title = "ALARM: activity continues · " + inc.ID
			if err := commands.EnqueueNotice(tx, commands.ChannelChat, "alarm-chat:"+inc.ID+":"+rev, commands.Notice{Kind: commands.NoticeReply, Incident: inc.ID, Reply: &reply}, now); err != nil {
				return err
			}
		}
		if slices.Contains(cfg.Channels, commands.ChannelSlack) {
			if err := commands.EnqueueNotice(tx, commands.ChannelSlack, "alarm-slack:"+inc.ID+":"+rev, commands.Notice{Kind: commands.NoticeAlarm, Incident: inc.ID}, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return true, err
	}
	return false, &commands.Reschedule{After: cfg.WatchInterval}
}

// finish records the end of the watch and posts its outcome.
func (wt *Watcher) finish(inc state.Incident, w watchState, now time.Time) error {
	cfg := wt.r.cfg
	shown := func(t time.Time) string { return t.UTC().Format("15:04 MST") }
	var text string
	switch {
	case len(w.Alarmed) > 0:
		text = fmt.Sprintf("watch ended: %d call(s) succeeded after containment; see the alarms", len(w.Alarmed))
	case w.Checked.IsZero():
		// Never "nothing succeeded" without having looked.
		text = "watch ended without checking CloudTrail once (keyleak was down, or every check failed): run verify"
	case w.Checked.Before(w.Until.Add(-2 * cfg.WatchInterval)):
		text = fmt.Sprintf("watch ended: nothing succeeded with the key or its sessions after containment up to its last check at %s, well before its end at %s (keyleak was down, or the checks failed): run verify",
			shown(w.Checked), shown(w.Until))
	default:
		text = fmt.Sprintf("watch ended: nothing succeeded with the key or its sessions after containment (%d refused attempt(s)); CloudTrail shows a call up to %d minutes late, so run verify after %s",
			w.Refused, int(awsops.DeliveryLag.Minutes()), shown(w.Checked.Add(awsops.DeliveryLag)))
	}
	return cfg.Store.Update(func(tx *state.Tx) error {
		if _, err := tx.Append(state.Event{Incident: inc.ID, At: now, Actor: state.System, Kind: state.EventFinding, Text: text, Source: keyleakSource}); err != nil {
			return err
		}
		if !slices.Contains(cfg.Channels, commands.ChannelChat) || !inc.Open() {
			return nil
		}
		reply := commands.Reply{Text: "Watch over: " + text + "."}
		return commands.EnqueueNotice(tx, commands.ChannelChat, "watch-end:"+w.Action, commands.Notice{Kind: commands.NoticeReply, Incident: inc.ID, Reply: &reply}, now)
	})
}
