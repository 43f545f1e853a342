package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/bot"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// findingWatch is the watch's state, stored with the incident so the
// watch survives a restart.
const findingWatch = "watch"

// containment are the actions after which keyleak watches CloudTrail.
var containment = []string{"deactivate", "revoke-sessions", "quarantine", "deny-all", "delete-key"}

type watchState struct {
	Since   time.Time `json:"since"`  // the first containment: calls after it count
	Until   time.Time `json:"until"`  // the watch ends then
	Action  string    `json:"action"` // the action that started or last extended it
	Checked time.Time `json:"checked,omitzero"`
	Alarmed []string  `json:"alarmed,omitempty"` // calls already alarmed on
	Refused int       `json:"refused"`           // refused calls seen so far
}

func loadWatch(tx *state.Tx, id string) (watchState, bool, error) {
	doc, err := tx.Finding(id, findingWatch)
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
	return tx.PutFinding(id, findingWatch, doc)
}

// startWatch starts the watch after a containment action succeeds, or
// extends it, in the transaction that records the success.
func startWatch(period time.Duration) func(tx *state.Tx, a state.Action, at time.Time) error {
	return func(tx *state.Tx, a state.Action, at time.Time) error {
		if !slices.Contains(containment, a.Name) {
			return nil
		}
		w, _, err := loadWatch(tx, a.Incident)
		if err != nil {
			return err
		}
		if w.Since.IsZero() {
			w.Since = at
		}
		w.Until, w.Action = at.Add(period), a.ID
		if err := putWatch(tx, a.Incident, w); err != nil {
			return err
		}
		if _, err := tx.Append(state.Event{Incident: a.Incident, At: at, Actor: state.System, Kind: state.EventFinding,
			Text: fmt.Sprintf("watching CloudTrail for the key and its sessions until %s", w.Until.UTC().Format("15:04 MST")), Source: state.Source{Platform: "keyleak"}}); err != nil {
			return err
		}
		_, _, err = tx.Enqueue(noticeMessage(commands.ChannelWork, "watch:"+a.ID,
			commands.Notice{Kind: commands.NoticeWatch, Incident: a.Incident, Params: map[string]string{"action": a.ID}}, at))
		return err
	}
}

// watcher is the notifier of watch work: every interval until the watch
// ends, it checks that nothing succeeded with the key or its sessions
// since containment, and raises the alarm in the space and on Slack if
// something did.
type watcher struct {
	aws      *awsops.Client
	findings storedFindings
	log      *slog.Logger
	now      func() time.Time
	interval time.Duration
	channels []string
}

func (wt *watcher) Deliver(ctx context.Context, m state.Message) (bool, error) {
	n, err := commands.DecodeNotice(m)
	if err != nil {
		return false, err
	}
	store := wt.findings.store
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
	if w.Action != n.Params["action"] {
		return false, nil // a later containment extended the watch under its own job
	}
	now := wt.now()
	if !now.Before(w.Until) || !inc.Open() {
		return false, wt.finish(inc, w, now)
	}
	rep, err := verify(ctx, wt.aws, wt.findings, inc, w.Since)
	if err != nil {
		if ctx.Err() != nil {
			return true, err
		}
		wt.log.WarnContext(ctx, "watch check failed; trying again at the next interval", "incident", inc.ID, "err", err)
		return false, &bot.Reschedule{After: wt.interval}
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
		if _, err := tx.Append(state.Event{Incident: inc.ID, At: now, Actor: state.System, Kind: state.EventFinding, Text: text, Source: state.Source{Platform: "keyleak"}}); err != nil {
			return err
		}
		rev := fmt.Sprint(now.UnixNano())
		if slices.Contains(wt.channels, commands.ChannelChat) {
			reply := verifyReply(inc.ID, rep)
			reply.Title = "ALARM: activity continues · " + inc.ID
			if _, _, err := tx.Enqueue(noticeMessage(commands.ChannelChat, "alarm-chat:"+inc.ID+":"+rev, commands.Notice{Kind: commands.NoticeReply, Incident: inc.ID, Reply: &reply}, now)); err != nil {
				return err
			}
		}
		if slices.Contains(wt.channels, commands.ChannelSlack) {
			if _, _, err := tx.Enqueue(noticeMessage(commands.ChannelSlack, "alarm-slack:"+inc.ID+":"+rev, commands.Notice{Kind: commands.NoticeAlarm, Incident: inc.ID}, now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return true, err
	}
	return false, &bot.Reschedule{After: wt.interval}
}

// finish records the end of the watch and posts its outcome.
func (wt *watcher) finish(inc state.Incident, w watchState, now time.Time) error {
	text := fmt.Sprintf("watch ended: nothing succeeded with the key or its sessions after containment (%d refused attempt(s))", w.Refused)
	if len(w.Alarmed) > 0 {
		text = fmt.Sprintf("watch ended: %d call(s) succeeded after containment; see the alarms", len(w.Alarmed))
	}
	return wt.findings.store.Update(func(tx *state.Tx) error {
		if _, err := tx.Append(state.Event{Incident: inc.ID, At: now, Actor: state.System, Kind: state.EventFinding, Text: text, Source: state.Source{Platform: "keyleak"}}); err != nil {
			return err
		}
		if !slices.Contains(wt.channels, commands.ChannelChat) || !inc.Open() {
			return nil
		}
		reply := commands.Reply{Text: "Watch over: " + text + "."}
		_, _, err := tx.Enqueue(noticeMessage(commands.ChannelChat, "watch-end:"+w.Action, commands.Notice{Kind: commands.NoticeReply, Incident: inc.ID, Reply: &reply}, now))
		return err
	})
}
