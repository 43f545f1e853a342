package bot

// The tests of this file run the worker's loop on the real clock: its
// messages are created with time.Now and it polls with real timers.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keyleak/keyleak/state"
)

func runWorker(tb testing.TB, w *Worker) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	return func() { cancel(); <-done }
}

// waitFor polls cond until it holds; the minute is a guard against a
// hang, not a speed check.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWorkerRetriesUntilDeliveredOnce(t *testing.T) {
	s := openStore(t)
	f := &flaky{n: 3, retry: true, err: errors.New("503 from chat")}
	w := NewWorker(s, discardLog(), map[string]Notifier{"chat": f}, WorkerOptions{Backoff: fastBackoff, Poll: 2 * time.Millisecond})
	for i := range 5 {
		enqueue(t, s, time.Now(), fmt.Sprintf("m%d", i), "chat", fmt.Sprintf("KL-2026-%04d", i))
	}
	stop := runWorker(t, w)
	waitFor(t, "5 deliveries", func() bool { d, _ := f.snapshot(); return len(d) == 5 })
	stop()
	delivered, attempts := f.snapshot()
	seen := map[string]bool{}
	for _, k := range delivered {
		if seen[k] {
			t.Errorf("%s delivered twice", k)
		}
		seen[k] = true
	}
	for k, n := range attempts {
		if n != 4 {
			t.Errorf("%s: %d attempts, want 4 (3 failures, then success)", k, n)
		}
	}
	var pending []state.Message
	if err := s.View(func(tx *state.Tx) (err error) { pending, err = tx.Pending(""); return err }); err != nil {
		t.Fatal(err)
	}
	if len(pending) != 0 {
		t.Errorf("%d messages still pending", len(pending))
	}
}

func TestWorkerGivesUpAfterMaxAttempts(t *testing.T) {
	s := openStore(t)
	f := &flaky{n: 1000, retry: true, err: errors.New("502")}
	enqueue(t, s, time.Now(), "m", "slack", "")
	w := NewWorker(s, discardLog(), map[string]Notifier{"slack": f}, WorkerOptions{Backoff: Backoff{Base: time.Millisecond, Max: time.Millisecond, MaxAttempts: 3}, Poll: time.Millisecond})
	stop := runWorker(t, w)
	waitFor(t, "dead letter", func() bool {
		var dead []state.Message
		s.View(func(tx *state.Tx) (err error) { dead, err = tx.DeadLetters(""); return err })
		return len(dead) == 1
	})
	stop()
	if _, attempts := f.snapshot(); attempts["m"] != 3 {
		t.Errorf("attempts = %d, want 3", attempts["m"])
	}
}
