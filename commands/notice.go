package commands

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/keyleak/keyleak/state"
)

// Outbox channels. Each is delivered by one notifier wired in main.
const (
	ChannelSlack = "slack" // the page in the on-call channel
	ChannelChat  = "chat"  // the incident's Google Chat space
	ChannelEmail = "email" // InfoSec
	ChannelWork  = "work"  // background work of keyleak itself (running approved actions)
)

// Notice kinds.
const (
	NoticeReply  = "reply"  // post Reply in the space (in Thread if set)
	NoticeAction = "action" // post or update the card of Action in its thread
	NoticeRun    = "run"    // run approved Action
	NoticeWatch  = "watch"  // ChannelWork: watch CloudTrail after containment
	NoticeAlarm  = "alarm"  // ChannelSlack: activity continues after containment
)

// Notice is the payload of an outbox message written by this package.
type Notice struct {
	Kind     string `json:"kind"`
	Incident string `json:"incident"`
	Action   string `json:"action,omitempty"`
	Thread   string `json:"thread,omitempty"`
	Reply    *Reply `json:"reply,omitempty"`
	// Params carry a notice's options (an investigation's start).
	Params map[string]string `json:"params,omitempty"`
}

// Reschedule is returned by the notifier of recurring work (a watch): it
// is done for now and wants delivering again after After. It is not a
// failure.
type Reschedule struct {
	After time.Duration
}

func (r *Reschedule) Error() string { return fmt.Sprintf("again in %s", r.After) }

// DecodeNotice reads the payload of an outbox message.
func DecodeNotice(m state.Message) (Notice, error) {
	var n Notice
	if err := json.Unmarshal(m.Payload, &n); err != nil {
		return Notice{}, fmt.Errorf("outbox message %d (%s): %w", m.ID, m.Key, err)
	}
	return n, nil
}

// EnqueueNotice writes n to the outbox of channel under an idempotency key.
func EnqueueNotice(tx *state.Tx, channel, key string, n Notice, at time.Time) error {
	payload, err := json.Marshal(n)
	if err != nil {
		return err
	}
	_, _, err = tx.Enqueue(state.Message{
		Key:       key,
		Channel:   channel,
		Kind:      n.Kind,
		Incident:  n.Incident,
		Payload:   payload,
		CreatedAt: at,
		// Background work does not queue behind the incident's other work:
		// an approved containment starts while an investigation runs.
		Unordered: channel == ChannelWork,
	})
	return err
}

// actionCardKey names the outbox message that renders an action's card
// after its change number rev, so every state change updates the card
// once and no change is rendered twice.
func actionCardKey(a state.Action, rev string) string {
	return "action-card:" + a.ID + ":" + rev
}
