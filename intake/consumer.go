package intake

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// Queue is where detectors' events arrive: awsops.Queue over SQS.
type Queue interface {
	Receive(ctx context.Context) ([]awsops.QueueMessage, error)
	Delete(ctx context.Context, m awsops.QueueMessage) error
	Release(ctx context.Context, m awsops.QueueMessage, after time.Duration) error
	DeadLetter(ctx context.Context, m awsops.QueueMessage, reason string) error
}

// Remember is how long an event's ID is remembered so that a redelivery
// has no second effect: SQS keeps a message at most 14 days.
const Remember = 14 * 24 * time.Hour

// Consumer receives detectors' events and records each through the
// Reporter, in the same transaction that opens or joins the incident and
// queues the page; a message is deleted only after that has committed.
type Consumer struct {
	Queue    Queue
	Reporter *commands.Reporter
	Rules    Rules
	Log      *slog.Logger
	// Handled, if set, is told what became of each message (metrics).
	Handled func(Outcome)
}

// Outcome is what became of one message.
type Outcome struct {
	MessageID string
	Event     Event
	Decision  Decision
	Result    commands.ReportResult
	// Rejected is set when the message could not be read; it went to the
	// dead-letter queue (or, without one, was deleted).
	Rejected *Rejected
	// Err is set when recording failed; the message stays on the queue
	// and is received again.
	Err error
}

// Label names the outcome for metrics: opened, joined, repeat, dropped,
// rejected or failed.
func (o Outcome) Label() string {
	switch {
	case o.Err != nil:
		return "failed"
	case o.Rejected != nil && o.Rejected.Reason == NoKey:
		return "dropped"
	case o.Rejected != nil:
		return "rejected"
	case o.Decision.Verdict == Drop || o.Result.Dropped:
		return "dropped"
	case o.Result.Repeat:
		return "repeat"
	case o.Result.Joined:
		return "joined"
	default:
		return "opened"
	}
}

// Run receives until ctx is done. A failing queue is retried with a
// growing pause; it never stops the rest of keyleak.
func (c *Consumer) Run(ctx context.Context) error {
	pause := time.Second
	for ctx.Err() == nil {
		msgs, err := c.Queue.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			c.Log.WarnContext(ctx, "intake: receive failed; trying again", "err", err, "pause", pause)
			select {
			case <-ctx.Done():
			case <-time.After(pause):
			}
			pause = min(2*pause, time.Minute)
			continue
		}
		pause = time.Second
		// The batch is handled at once: its commits share the store's
		// write (state.Store.Batch), and one slow message does not hold
		// up the others.
		var wg sync.WaitGroup
		for _, m := range msgs {
			wg.Go(func() {
				for _, out := range c.Handle(ctx, m) {
					if c.Handled != nil {
						c.Handled(out)
					}
				}
			})
		}
		wg.Wait()
	}
	return nil
}

// Handle reads, decides and records one message, then deletes it. An
// event that names several keys is recorded once for each, in order; the
// outcomes are the keys', or the one of a message that could not be read.
func (c *Consumer) Handle(ctx context.Context, m awsops.QueueMessage) []Outcome {
	log := c.Log.With("message", m.ID, "receives", m.Receives)
	ev, err := Parse([]byte(m.Body))
	if r, ok := IsRejected(err); ok {
		out := Outcome{MessageID: m.ID, Rejected: r}
		if r.Reason == NoKey {
			// A finding about something other than a key (an S3 bucket,
			// an instance): not keyleak's, and not broken either.
			log.InfoContext(ctx, "intake: event dropped", "reason", r.Error())
			c.delete(ctx, log, m)
			return []Outcome{out}
		}
		c.deadLetter(ctx, log, m, r.Error())
		return []Outcome{out}
	}
	if ev.Redacted {
		log.WarnContext(ctx, "intake: the event's text held what reads like a secret access key; it was removed before anything was stored",
			"event", ev.ID, "detector", ev.Detection.Detector)
	}
	var outs []Outcome
	failed := false
	for i, e := range ev.PerKey() {
		out, keep := c.record(ctx, log, e)
		out.MessageID = m.ID
		outs = append(outs, out)
		switch {
		case out.Rejected != nil && i == 0:
			// The reporter refuses the key itself: it will never be read.
			c.deadLetter(ctx, log, m, out.Rejected.Error())
			return outs
		case keep:
			failed = true
		}
	}
	if failed {
		// What committed is recognised when the message comes again; the
		// rest is recorded then, and after the queue's maxReceiveCount the
		// message goes to its dead-letter queue.
		if rerr := c.Queue.Release(ctx, m, backoff(m.Receives)); rerr != nil {
			log.WarnContext(ctx, "intake: release failed; the message returns after its visibility timeout", "err", rerr)
		}
		return outs
	}
	c.delete(ctx, log, m)
	return outs
}

// record decides and records one key's event. keep is set when recording
// failed and nothing of it committed: the message must come again.
func (c *Consumer) record(ctx context.Context, log *slog.Logger, ev Event) (out Outcome, keep bool) {
	out.Event = ev
	out.Decision = c.Rules.Decide(&ev)
	out.Event = ev
	log = log.With("event", ev.ID, "detector", ev.Detection.Detector, "type", ev.Detection.Type, "key", ev.Key)
	if out.Decision.Verdict == Drop {
		log.InfoContext(ctx, "intake: event dropped", "reason", out.Decision.Why)
		return out, false
	}
	det := ev.Detection
	res, err := c.Reporter.Open(ctx, commands.Report{
		Key:       ev.Key,
		Actor:     state.Actor{ID: "detector/" + det.Detector, Name: det.Detector, Platform: state.PlatformDetector},
		Source:    state.Source{Platform: state.PlatformDetector, EventID: ev.ID, Verified: true},
		Detection: &det,
		JoinOnly:  out.Decision.Verdict == Join,
		Remember:  Remember,
	})
	out.Result = res
	var user *commands.UserError
	switch {
	case errors.As(err, &user):
		out.Rejected = &Rejected{Reason: Malformed, Detail: user.Msg}
		log.WarnContext(ctx, "intake: the key is refused", "reason", out.Rejected.Error())
		return out, false
	case err != nil:
		// Nothing was committed: the message comes back.
		out.Err = err
		log.ErrorContext(ctx, "intake: recording failed; the message will be received again", "err", err)
		return out, true
	}
	switch {
	case res.Repeat:
		log.InfoContext(ctx, "intake: event seen before; answered once", "incident", res.Incident.ID)
	case res.Dropped:
		log.InfoContext(ctx, "intake: event dropped", "reason", out.Decision.Why+"; the key has no open incident")
	case res.Joined:
		log.InfoContext(ctx, "intake: event joined the open incident", "incident", res.Incident.ID)
	default:
		log.InfoContext(ctx, "intake: incident opened", "incident", res.Incident.ID, "canary", res.Incident.Canary)
	}
	return out, false
}

func (c *Consumer) delete(ctx context.Context, log *slog.Logger, m awsops.QueueMessage) {
	if err := c.Queue.Delete(ctx, m); err != nil {
		// Recorded already: the redelivery is recognised and answered once.
		log.WarnContext(ctx, "intake: delete failed; the message comes back and is recognised", "err", err)
	}
}

func (c *Consumer) deadLetter(ctx context.Context, log *slog.Logger, m awsops.QueueMessage, reason string) {
	err := c.Queue.DeadLetter(ctx, m, reason)
	switch {
	case err == nil:
		log.WarnContext(ctx, "intake: message sent to the dead-letter queue", "reason", reason)
	case errors.Is(err, awsops.ErrNoDeadLetterQueue):
		log.ErrorContext(ctx, "intake: message cannot be read and the queue has no dead-letter queue; deleted", "reason", reason)
		c.delete(ctx, log, m)
	default:
		log.ErrorContext(ctx, "intake: dead-lettering failed; the message comes back", "reason", reason, "err", err)
	}
}

// backoff is how long a message whose recording failed waits before it
// is received again.
func backoff(receives int) time.Duration {
	d := time.Second << min(max(receives-1, 0), 8)
	return min(d, 5*time.Minute)
}
