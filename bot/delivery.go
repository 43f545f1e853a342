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
	Backoff Backoff
	// Concurrency is the deliveries in flight at once in each lane (a
	// channel and kind of message: Chat replies, Slack pages, emails,
	// investigations, containment runs…); 0 means 4. A lane that is full
	// holds back only its own messages.
	Concurrency int
	Poll        time.Duration // how often to look for due messages when not woken; 0 means 1s
	// Deadline bounds one delivery of m; nil or 0 means DefaultDeliveryDeadline.
	// A delivery that passes it is retried with backoff.
	Deadline func(m state.Message) time.Duration
	// OnDeadLetter is called in the transaction that sets m aside for good,
	// to record what that means (an action that will not run has failed).
	OnDeadLetter func(tx *state.Tx, m state.Message, at time.Time) error
	Now          func() time.Time
	Metrics      *Metrics
}

// DefaultDeliveryDeadline bounds a delivery when WorkerOptions.Deadline
// does not say otherwise.
const DefaultDeliveryDeadline = 2 * time.Minute

// Worker delivers the outbox. Messages of one incident and channel go out
// in order; different ones in parallel, each lane within its own limit.
// It resumes whatever is pending when it starts, so nothing written
// before a crash is lost.
type Worker struct {
	store     *state.Store
	notifiers map[string]Notifier
	log       *slog.Logger
	opts      WorkerOptions
	wake      chan struct{}

	mu       sync.Mutex
	inflight map[string]bool          // order groups being delivered
	lanes    map[string]chan struct{} // a semaphore per lane
	// epoch counts the deliveries of groups that ended; finished says at
	// which count each group's last one ended. A pass that read the outbox
	// before a group's delivery ended (and wrote its result) leaves the
	// group to the next pass, which reads what the delivery wrote: else a
	// message delivered (or put off) a moment ago would go out again.
	epoch    uint64
	finished map[string]uint64
	// unacked are messages delivered whose removal from the outbox could
	// not be written (a full disk): they are not delivered again, and
	// their removal is tried again at each pass.
	unacked map[uint64]bool
}

// NewWorker returns a worker delivering through notifiers, by channel.
func NewWorker(store *state.Store, log *slog.Logger, notifiers map[string]Notifier, opts WorkerOptions) *Worker {
	if opts.Backoff == (Backoff{}) {
		opts.Backoff = DefaultBackoff
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Worker{
		store: store, notifiers: notifiers, log: log, opts: opts,
		wake: make(chan struct{}, 1), inflight: map[string]bool{}, lanes: map[string]chan struct{}{}, unacked: map[uint64]bool{},
		finished: map[string]uint64{},
	}
}

// lane names the pool a message is delivered from: its channel and kind.
func lane(m state.Message) string { return m.Channel + "/" + m.Kind }

// acquire takes a slot of the lane of g's first message, or reports that
// the lane is full.
func (w *Worker) acquire(g []state.Message) (release func(), ok bool) {
	w.mu.Lock()
	sem, exists := w.lanes[lane(g[0])]
	if !exists {
		sem = make(chan struct{}, w.opts.Concurrency)
		w.lanes[lane(g[0])] = sem
	}
	w.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, true
	default:
		return nil, false
	}
}

// release gives a group back without delivering it (its lane was full):
// a later pass takes it up.
func (w *Worker) release(g []state.Message) {
	w.mu.Lock()
	delete(w.inflight, g[0].OrderGroup())
	w.mu.Unlock()
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
		groups, err := w.due(ctx)
		if err != nil {
			w.log.ErrorContext(ctx, "read outbox", "err", err)
		}
		for _, g := range groups {
			done, ok := w.acquire(g)
			if !ok {
				w.release(g) // its lane is full; a slot's end wakes the worker
				continue
			}
			wg.Go(func() {
				defer done()
				w.deliverGroup(ctx, g)
			})
		}
		timer.Reset(w.opts.Poll)
	}
}

// DrainOnce delivers every message due now and returns when they are
// done; for the terminal and tests.
func (w *Worker) DrainOnce(ctx context.Context) error {
	groups, err := w.due(ctx)
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
// grouped by order group (incident and channel), and marks those groups in
// flight. A group in flight gets no new deliveries until it is done, so
// one incident's messages on one channel never overtake each other. It
// sets aside records that do not decode, and retries the removal of
// messages delivered whose removal failed, leaving them out.
func (w *Worker) due(ctx context.Context) ([][]state.Message, error) {
	w.mu.Lock()
	read := w.epoch
	w.mu.Unlock()
	var msgs []state.Message
	var bad []uint64
	if err := w.store.View(func(tx *state.Tx) (err error) {
		msgs, bad, err = tx.Due(w.opts.Now(), 512)
		return err
	}); err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		now := w.opts.Now()
		if err := w.store.Batch(func(tx *state.Tx) error {
			for _, id := range bad {
				if err := tx.Quarantine(id, now); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			w.log.ErrorContext(ctx, "set aside undecodable outbox records", "ids", bad, "err", err)
		} else {
			w.log.ErrorContext(ctx, "undecodable outbox records set aside as dead letters", "ids", bad)
		}
	}
	w.retryAcks(ctx)
	return w.group(msgs, read), nil
}

// group groups msgs, read from the outbox when epoch was read, by order
// group, leaving out the groups in flight and those whose delivery ended
// since, and marks the groups it returns in flight.
func (w *Worker) group(msgs []state.Message, read uint64) [][]state.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	index := map[string]int{}
	var groups [][]state.Message
	for _, m := range msgs {
		if w.unacked[m.ID] {
			continue
		}
		key := m.OrderGroup()
		if w.inflight[key] && index[key] == 0 {
			continue // being delivered by an earlier pass
		}
		if w.finished[key] > read && index[key] == 0 {
			continue // delivered since the outbox was read: the next pass sees how it went
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
	for key, at := range w.finished {
		if at <= read { // no pass to come read the outbox before it
			delete(w.finished, key)
		}
	}
	return groups
}

// retryAcks tries again to remove messages delivered whose removal failed.
func (w *Worker) retryAcks(ctx context.Context) {
	w.mu.Lock()
	ids := make([]uint64, 0, len(w.unacked))
	for id := range w.unacked {
		ids = append(ids, id)
	}
	w.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	err := w.store.Batch(func(tx *state.Tx) error {
		for _, id := range ids {
			if err := tx.Ack(id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		w.log.ErrorContext(ctx, "record deliveries, again", "count", len(ids), "err", err)
		return
	}
	w.mu.Lock()
	for _, id := range ids {
		delete(w.unacked, id)
	}
	w.mu.Unlock()
}

// deliverGroup delivers one incident's messages of one channel in order,
// stopping at the first that must wait for a retry.
func (w *Worker) deliverGroup(ctx context.Context, g []state.Message) {
	defer func() {
		w.mu.Lock()
		delete(w.inflight, g[0].OrderGroup())
		w.epoch++
		w.finished[g[0].OrderGroup()] = w.epoch
		w.mu.Unlock()
		w.Wake() // messages of this group that arrived meanwhile, or a lane's waiting group
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
		deadline := DefaultDeliveryDeadline
		if w.opts.Deadline != nil && w.opts.Deadline(m) > 0 {
			deadline = w.opts.Deadline(m)
		}
		dctx, cancel := context.WithTimeout(ctx, deadline)
		retry, err = n.Deliver(dctx, m)
		if err != nil && ctx.Err() == nil && dctx.Err() != nil {
			retry, err = true, fmt.Errorf("no answer within %s: %w", deadline, err)
		}
		cancel()
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
			// Delivered, but not recorded: remember it, so that it is not
			// delivered again, and record it at the next pass.
			w.mu.Lock()
			w.unacked[m.ID] = true
			w.mu.Unlock()
			log.ErrorContext(ctx, "record delivery; will try again", "err", uerr)
			return true
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
			if err2 != nil {
				return err2
			}
			if w.opts.OnDeadLetter != nil {
				if err2 := w.opts.OnDeadLetter(tx, dead, now); err2 != nil {
					return err2
				}
			}
			if m.Incident == "" {
				return nil
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
