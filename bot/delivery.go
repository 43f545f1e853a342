package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// Notifier delivers one kind of outbox message (a Slack page, a Chat
// card, an email, a unit of work). It reports whether a failure is worth
// retrying; a permanent failure sends the message to the dead letters.
// Deliver may be called again for a message it already delivered (keyleak
// stopped before recording the delivery), so it must be idempotent or use
// the message's Key to make the outside call idempotent.
type Notifier interface {
	Deliver(ctx context.Context, m state.Message) (retry bool, err error)
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(ctx context.Context, m state.Message) (retry bool, err error)

// Deliver calls f.
func (f NotifierFunc) Deliver(ctx context.Context, m state.Message) (bool, error) { return f(ctx, m) }

// RetryAfterError asks for the next attempt no sooner than After, as a
// service's 429 Retry-After does.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// ClassifyHTTP turns an HTTP response status into a delivery result:
// 2xx delivered; 429 and 5xx retried (honouring Retry-After); any other
// status permanent.
func ClassifyHTTP(service string, status int, header http.Header) (retry bool, err error) {
	switch {
	case status >= 200 && status < 300:
		return false, nil
	case status == http.StatusTooManyRequests || status >= 500:
		err := fmt.Errorf("%s answered HTTP %d", service, status)
		if secs, perr := strconv.Atoi(header.Get("Retry-After")); perr == nil && secs > 0 {
			return true, &RetryAfterError{After: time.Duration(secs) * time.Second, Err: err}
		}
		return true, err
	default:
		return false, fmt.Errorf("%s answered HTTP %d", service, status)
	}
}

// Backoff is the retry schedule: exponential from Base, capped at Max,
// with jitter; after MaxAttempts a retryable failure is dead-lettered too.
type Backoff struct {
	Base        time.Duration
	Max         time.Duration
	MaxAttempts int
}

// DefaultBackoff retries for about a day before giving up.
var DefaultBackoff = Backoff{Base: time.Second, Max: 5 * time.Minute, MaxAttempts: 300}

// Delay is the wait before attempt number attempts+1, with "equal
// jitter": half fixed, half random, so retries of many messages spread.
func (b Backoff) Delay(attempts int) time.Duration {
	d := b.Max
	if attempts < 30 {
		if e := b.Base << attempts; e > 0 && e < b.Max {
			d = e
		}
	}
	half := d / 2
	return half + rand.N(half+1)
}

// WorkerOptions configure a Worker.
type WorkerOptions struct {
	Backoff     Backoff
	Concurrency int           // deliveries in flight at once; 0 means 8
	Poll        time.Duration // how often to look for due messages when not woken; 0 means 1s
	Now         func() time.Time
	Metrics     *Metrics
}

// Worker delivers the outbox. Messages of one incident and channel go out
// in order; different ones in parallel. It resumes whatever is pending
// when it starts, so nothing written before a crash is lost.
type Worker struct {
	store     *state.Store
	notifiers map[string]Notifier
	log       *slog.Logger
	opts      WorkerOptions
	wake      chan struct{}

	mu       sync.Mutex
	inflight map[string]bool // groups (incident and channel) being delivered
}

// NewWorker returns a worker delivering through notifiers, by channel.
func NewWorker(store *state.Store, log *slog.Logger, notifiers map[string]Notifier, opts WorkerOptions) *Worker {
	if opts.Backoff == (Backoff{}) {
		opts.Backoff = DefaultBackoff
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Worker{
		store: store, notifiers: notifiers, log: log, opts: opts,
		wake: make(chan struct{}, 1), inflight: map[string]bool{},
	}
}

// Wake makes the worker look at the outbox now, after a new message.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is done, then waits for deliveries in flight.
func (w *Worker) Run(ctx context.Context) error {
	sem := make(chan struct{}, w.opts.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-w.wake:
		case <-w.store.Enqueued():
		}
		groups, err := w.due()
		if err != nil {
			w.log.ErrorContext(ctx, "read outbox", "err", err)
		}
		for _, g := range groups {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				w.deliverGroup(ctx, g)
			}()
		}
		timer.Reset(w.opts.Poll)
	}
}

// DrainOnce delivers every message due now and returns when they are
// done; for the terminal and tests.
func (w *Worker) DrainOnce(ctx context.Context) error {
	groups, err := w.due()
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.deliverGroup(ctx, g)
		}()
	}
	wg.Wait()
	return nil
}

// due returns the due messages of groups not already being delivered,
// grouped by incident and channel, and marks those groups in flight. A
// group in flight gets no new deliveries until it is done, so one
// incident's messages on one channel never overtake each other.
func (w *Worker) due() ([][]state.Message, error) {
	var msgs []state.Message
	if err := w.store.View(func(tx *state.Tx) (err error) {
		msgs, err = tx.Due(w.opts.Now(), 512)
		return err
	}); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	index := map[string]int{}
	var groups [][]state.Message
	for _, m := range msgs {
		key := groupKey(m)
		if w.inflight[key] && index[key] == 0 {
			continue // being delivered by an earlier pass
		}
		i, ok := index[key]
		if !ok {
			groups = append(groups, nil)
			i = len(groups)
			index[key] = i
			w.inflight[key] = true
		}
		groups[i-1] = append(groups[i-1], m)
	}
	return groups, nil
}

func groupKey(m state.Message) string { return m.Incident + "\x00" + m.Channel }

// deliverGroup delivers one incident's messages of one channel in order,
// stopping at the first that must wait for a retry.
func (w *Worker) deliverGroup(ctx context.Context, g []state.Message) {
	defer func() {
		w.mu.Lock()
		delete(w.inflight, groupKey(g[0]))
		w.mu.Unlock()
		w.Wake() // messages of this group that arrived meanwhile
	}()
	for _, m := range g {
		if ctx.Err() != nil || !w.deliver(ctx, m) {
			return
		}
	}
}

// deliver makes one attempt and records its result. It reports whether
// the message is finished (delivered or dead).
func (w *Worker) deliver(ctx context.Context, m state.Message) bool {
	log := w.log.With("outbox_id", m.ID, "channel", m.Channel, "kind", m.Kind, "incident", m.Incident, "attempt", m.Attempts+1)
	n, ok := w.notifiers[m.Channel]
	var retry bool
	var err error
	start := time.Now()
	if !ok {
		err = fmt.Errorf("no notifier for channel %q", m.Channel)
	} else {
		retry, err = n.Deliver(ctx, m)
	}
	w.opts.Metrics.observe(m.Channel, err, retry, time.Since(start))
	if err != nil && ctx.Err() != nil {
		return false // shutting down: the next start tries again
	}
	now := w.opts.Now()
	var again *commands.Reschedule
	switch {
	case errors.As(err, &again):
		if uerr := w.store.Batch(func(tx *state.Tx) error { return tx.Reschedule(m.ID, now.Add(again.After)) }); uerr != nil {
			log.ErrorContext(ctx, "reschedule", "err", uerr)
		}
		return false
	case err == nil:
		if uerr := w.store.Batch(func(tx *state.Tx) error { return tx.Ack(m.ID) }); uerr != nil {
			log.ErrorContext(ctx, "record delivery", "err", uerr)
			return false
		}
		log.DebugContext(ctx, "delivered")
		// A delivery often writes follow-ups (the room's page update):
		// look again now rather than at the next poll.
		w.Wake()
		return true
	case retry && m.Attempts+1 < w.opts.Backoff.MaxAttempts:
		delay := w.opts.Backoff.Delay(m.Attempts)
		var ra *RetryAfterError
		if errors.As(err, &ra) && ra.After > delay {
			delay = ra.After
		}
		if uerr := w.store.Batch(func(tx *state.Tx) error { return tx.Retry(m.ID, now.Add(delay), err.Error()) }); uerr != nil {
			log.ErrorContext(ctx, "record retry", "err", uerr)
		}
		log.WarnContext(ctx, "delivery failed, will retry", "err", err, "retry_in", delay.Round(time.Millisecond))
		return false
	default:
		uerr := w.store.Batch(func(tx *state.Tx) error {
			dead, err2 := tx.DeadLetter(m.ID, now, err.Error())
			if err2 != nil || m.Incident == "" {
				return err2
			}
			_, err2 = tx.Append(state.Event{
				Incident: m.Incident, At: now, Actor: state.System, Kind: state.EventDeadLettered,
				Text:   fmt.Sprintf("could not deliver %s via %s after %d attempts: %s", dead.Kind, dead.Channel, dead.Attempts, dead.LastError),
				Source: state.Source{Platform: "keyleak"},
			})
			return err2
		})
		if uerr != nil {
			log.ErrorContext(ctx, "record dead letter", "err", uerr)
			return false
		}
		log.ErrorContext(ctx, "delivery failed for good; dead-lettered", "err", err)
		return true
	}
}

// KindRouter delivers each message through the notifier of its kind, for
// a channel that carries several kinds of work.
type KindRouter map[string]Notifier

// Deliver routes m by its kind.
func (r KindRouter) Deliver(ctx context.Context, m state.Message) (bool, error) {
	n, ok := r[m.Kind]
	if !ok {
		return false, fmt.Errorf("no handler for %s messages of kind %q", m.Channel, m.Kind)
	}
	return n.Deliver(ctx, m)
}
