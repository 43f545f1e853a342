package bot

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// hanging is a notifier that never answers: it waits for its context.
type hanging struct{ started atomic.Int64 }

func (h *hanging) Deliver(ctx context.Context, _ state.Message) (bool, error) {
	h.started.Add(1)
	<-ctx.Done()
	return true, ctx.Err()
}

// counting records what it delivered.
type counting struct {
	mu   sync.Mutex
	keys []string
}

func (c *counting) Deliver(_ context.Context, m state.Message) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys = append(c.keys, m.Key)
	return false, nil
}

func (c *counting) has(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.keys {
		if k == key {
			return true
		}
	}
	return false
}

func (c *counting) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.keys)
}

// TestHungDeliveriesHoldOnlyTheirLane: Chat hangs for twelve incidents at
// once; the page on Slack, the email and an approved containment run
// still go out, and each hung delivery is cut at its deadline and retried.
// The worker runs on the real clock: its timers are real.
func TestHungDeliveriesHoldOnlyTheirLane(t *testing.T) {
	s := openStore(t)
	chat, other := &hanging{}, &counting{}
	now := time.Now()
	for i := range 12 {
		enqueue(t, s, now, fmt.Sprintf("card-%d", i), "chat", fmt.Sprintf("KL-2026-%04d", i))
	}
	enqueue(t, s, now, "page", "slack", "KL-2026-0001")
	enqueue(t, s, now, "open-mail", "email", "KL-2026-0001")
	if err := s.Update(func(tx *state.Tx) error {
		return commands.EnqueueNotice(tx, commands.ChannelWork, "run:KL-2026-0001-A1", commands.Notice{Kind: commands.NoticeRun, Incident: "KL-2026-0001", Action: "KL-2026-0001-A1"}, now)
	}); err != nil {
		t.Fatal(err)
	}
	w := NewWorker(s, discardLog(), map[string]Notifier{"chat": chat, "slack": other, "email": other, "work": KindRouter{commands.NoticeRun: other}},
		WorkerOptions{Backoff: Backoff{Base: time.Hour, Max: time.Hour, MaxAttempts: 5}, Poll: 5 * time.Millisecond,
			Deadline: func(m state.Message) time.Duration {
				if m.Channel == "chat" {
					return 300 * time.Millisecond
				}
				return time.Minute
			}})
	stop := runWorker(t, w)
	defer stop()
	waitFor(t, "the page, the email and the containment run", func() bool {
		return other.has("page") && other.has("open-mail") && other.has("run:KL-2026-0001-A1")
	})
	waitFor(t, "the hung Chat deliveries to be cut at their deadline and rescheduled", func() bool {
		var pending []state.Message
		s.View(func(tx *state.Tx) (err error) { pending, err = tx.Pending(""); return err })
		retried := 0
		for _, m := range pending {
			if m.Channel == "chat" && m.Attempts == 1 {
				retried++
			}
		}
		return retried == 12
	})
}

// TestContainmentDoesNotWaitForTheInvestigation: an approved run of the
// same incident starts while its investigation is still going.
func TestContainmentDoesNotWaitForTheInvestigation(t *testing.T) {
	s := openStore(t)
	investigation, runs := &hanging{}, &counting{}
	now := time.Now()
	if err := s.Update(func(tx *state.Tx) error {
		if err := commands.EnqueueNotice(tx, commands.ChannelWork, "identify:KL-2026-0001", commands.Notice{Kind: commands.NoticeIdentify, Incident: "KL-2026-0001"}, now); err != nil {
			return err
		}
		return commands.EnqueueNotice(tx, commands.ChannelWork, "run:KL-2026-0001-A1", commands.Notice{Kind: commands.NoticeRun, Incident: "KL-2026-0001", Action: "KL-2026-0001-A1"}, now)
	}); err != nil {
		t.Fatal(err)
	}
	w := NewWorker(s, discardLog(), map[string]Notifier{"work": KindRouter{commands.NoticeIdentify: investigation, commands.NoticeRun: runs}},
		WorkerOptions{Backoff: fastBackoff, Poll: 5 * time.Millisecond})
	stop := runWorker(t, w)
	defer stop()
	waitFor(t, "the containment run while the investigation hangs", func() bool { return runs.has("run:KL-2026-0001-A1") })
	if investigation.started.Load() == 0 {
		t.Error("the investigation never started")
	}
}

// TestFailedAckIsNotDeliveredAgain: when the removal of a delivered
// message cannot be written (here the store is read-only, as with a full
// disk), the message is not delivered again pass after pass.
func TestFailedAckIsNotDeliveredAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	s, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, t0, "page", "slack", "KL-2026-0001")
	s.Close()
	ro, err := state.Open(path, state.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	f := &counting{}
	w := NewWorker(ro, discardLog(), map[string]Notifier{"slack": f}, WorkerOptions{Backoff: fastBackoff, Now: func() time.Time { return t0 }})
	for range 5 {
		if err := w.DrainOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if f.count() != 1 {
		t.Errorf("delivered %d times over five passes, want once", f.count())
	}
}

// TestStaleReadDoesNotDeliverAgain: a pass that read the outbox just
// before another pass's delivery of a group ended (and wrote its result)
// does not deliver that group again from what it read. Under load this
// happened: a Chat card went out twice, and a hung delivery put off for an
// hour was tried again at once.
func TestStaleReadDoesNotDeliverAgain(t *testing.T) {
	s := openStore(t)
	f := &counting{}
	enqueue(t, s, t0, "page", "slack", "KL-2026-0001")
	w := NewWorker(s, discardLog(), map[string]Notifier{"slack": f}, WorkerOptions{Backoff: fastBackoff, Now: func() time.Time { return t0 }})
	ctx := t.Context()
	first, err := w.due(ctx) // a pass takes the page
	if err != nil || len(first) != 1 {
		t.Fatalf("due = %v, %v; want the page", first, err)
	}
	w.mu.Lock()
	read := w.epoch
	w.mu.Unlock()
	var stale []state.Message // the next pass reads the outbox…
	if err := s.View(func(tx *state.Tx) (err error) { stale, _, err = tx.Due(t0, 512); return err }); err != nil {
		t.Fatal(err)
	}
	w.deliverGroup(ctx, first[0]) // …before the first records the delivery
	if again := w.group(stale, read); len(again) != 0 {
		t.Fatalf("the pass that read before the delivery was recorded delivers %v again", again)
	}
	if next, err := w.due(ctx); err != nil || len(next) != 0 {
		t.Fatalf("the pass after: %v, %v; want nothing due", next, err)
	}
	if n := f.count(); n != 1 {
		t.Errorf("delivered %d times, want once", n)
	}
}
