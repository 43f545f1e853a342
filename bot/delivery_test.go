package bot

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

var t0 = time.Date(2026, 11, 22, 11, 30, 0, 0, time.UTC)

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openStore(tb testing.TB) *state.Store {
	tb.Helper()
	s, err := state.Open(filepath.Join(tb.TempDir(), "k.db"), state.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// enqueue adds a message created (and due) at at: the clock of the
// worker under test, so that every part of a test sees one clock.
func enqueue(tb testing.TB, s *state.Store, at time.Time, key, channel, incident string) state.Message {
	tb.Helper()
	var m state.Message
	if err := s.Update(func(tx *state.Tx) (err error) {
		m, _, err = tx.Enqueue(state.Message{Key: key, Channel: channel, Kind: "test", Incident: incident, CreatedAt: at})
		return err
	}); err != nil {
		tb.Fatal(err)
	}
	return m
}

// flaky fails its first n attempts per message, then succeeds.
type flaky struct {
	mu        sync.Mutex
	n         int
	err       error
	retry     bool
	attempts  map[string]int
	delivered []string
}

func (f *flaky) Deliver(_ context.Context, m state.Message) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.attempts == nil {
		f.attempts = map[string]int{}
	}
	f.attempts[m.Key]++
	if f.attempts[m.Key] <= f.n {
		return f.retry, f.err
	}
	f.delivered = append(f.delivered, m.Key)
	return false, nil
}

func (f *flaky) snapshot() ([]string, map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	attempts := make(map[string]int, len(f.attempts))
	for k, v := range f.attempts {
		attempts[k] = v
	}
	return append([]string(nil), f.delivered...), attempts
}

var fastBackoff = Backoff{Base: time.Millisecond, Max: 4 * time.Millisecond, MaxAttempts: 20}

func TestWorkerDeadLettersPermanentFailure(t *testing.T) {
	s := openStore(t)
	var mu sync.Mutex
	calls := 0
	perm := NotifierFunc(func(context.Context, state.Message) (bool, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		return ClassifyHTTP("smtp", http.StatusBadRequest, nil)
	})
	if err := s.Update(func(tx *state.Tx) error {
		_, _, err := tx.Report(state.NewIncident{AccessKeyID: "AKIAQYLPMN5HHHFPZAM2", At: t0, Reporter: state.System})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, t0, "email:open", "email", "KL-2026-0001")
	w := NewWorker(s, discardLog(), map[string]Notifier{"email": perm}, WorkerOptions{Backoff: fastBackoff, Now: func() time.Time { return t0 }})
	if err := w.DrainOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var dead []state.Message
	var tl []state.Event
	if err := s.View(func(tx *state.Tx) (err error) {
		if dead, err = tx.DeadLetters("KL-2026-0001"); err != nil {
			return err
		}
		tl, err = tx.Timeline("KL-2026-0001")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if calls != 1 || len(dead) != 1 || dead[0].LastError != "smtp answered HTTP 400" {
		t.Fatalf("calls=%d dead=%+v, want one attempt and one dead letter", calls, dead)
	}
	if last := tl[len(tl)-1]; last.Kind != state.EventDeadLettered {
		t.Errorf("last timeline entry = %s, want dead-lettered", last.Kind)
	}
}

func TestWorkerHonoursRetryAfter(t *testing.T) {
	s := openStore(t)
	now := t0
	h := http.Header{"Retry-After": []string{"30"}}
	n := NotifierFunc(func(context.Context, state.Message) (bool, error) { return ClassifyHTTP("slack", 429, h) })
	m := enqueue(t, s, now, "m", "slack", "")
	w := NewWorker(s, discardLog(), map[string]Notifier{"slack": n}, WorkerOptions{Backoff: fastBackoff, Now: func() time.Time { return now }})
	if err := w.DrainOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []state.Message
	s.View(func(tx *state.Tx) (err error) { got, err = tx.Pending(""); return err })
	if len(got) != 1 || got[0].ID != m.ID || got[0].Attempts != 1 || got[0].NextAttempt.Sub(now) < 30*time.Second {
		t.Fatalf("pending = %+v, want the message rescheduled ≥ 30 s later", got)
	}
}

func TestWorkerKeepsOrderWithinIncidentAndChannel(t *testing.T) {
	s := openStore(t)
	f := &flaky{}
	for i := range 20 {
		enqueue(t, s, t0, fmt.Sprintf("card-%02d", i), "chat", "KL-2026-0001")
	}
	w := NewWorker(s, discardLog(), map[string]Notifier{"chat": f}, WorkerOptions{Backoff: fastBackoff, Now: func() time.Time { return t0 }})
	if err := w.DrainOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	delivered, _ := f.snapshot()
	for i, k := range delivered {
		if want := fmt.Sprintf("card-%02d", i); k != want {
			t.Fatalf("delivery %d = %s, want %s", i, k, want)
		}
	}
	if len(delivered) != 20 {
		t.Fatalf("delivered %d, want 20", len(delivered))
	}
}

func TestBackoffCappedWithJitter(t *testing.T) {
	b := Backoff{Base: time.Second, Max: time.Minute}
	for attempts := range 40 {
		d := b.Delay(attempts)
		want := min(time.Minute, time.Second<<min(attempts, 20))
		if d < want/2 || d > want {
			t.Fatalf("attempt %d: delay %s outside [%s, %s]", attempts, d, want/2, want)
		}
	}
}

func TestClassifyHTTP(t *testing.T) {
	tests := []struct {
		status int
		retry  bool
		ok     bool
	}{
		{200, false, true}, {204, false, true}, {400, false, false}, {403, false, false},
		{404, false, false}, {429, true, false}, {500, true, false}, {503, true, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			retry, err := ClassifyHTTP("x", tt.status, http.Header{})
			if retry != tt.retry || (err == nil) != tt.ok {
				t.Errorf("ClassifyHTTP(%d) = %v, %v; want retry=%v ok=%v", tt.status, retry, err, tt.retry, tt.ok)
			}
		})
	}
}

func TestWorkerReschedulesRecurringWork(t *testing.T) {
	s := openStore(t)
	now := t0
	var mu sync.Mutex
	runs := 0
	watch := NotifierFunc(func(context.Context, state.Message) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		runs++
		if runs < 3 {
			return false, &commands.Reschedule{After: time.Minute}
		}
		return false, nil
	})
	enqueue(t, s, now, "watch:KL-2026-0001", "work", "")
	w := NewWorker(s, discardLog(), map[string]Notifier{"work": watch}, WorkerOptions{Backoff: fastBackoff, Now: func() time.Time { return now }})
	for i := range 3 {
		if err := w.DrainOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		var pending []state.Message
		s.View(func(tx *state.Tx) (err error) { pending, err = tx.Pending(""); return err })
		if i < 2 && (len(pending) != 1 || pending[0].Attempts != 0 || !pending[0].NextAttempt.Equal(now.Add(time.Minute))) {
			t.Fatalf("after run %d: pending = %+v, want it due in a minute with no failed attempt", i+1, pending)
		}
		if i == 2 && len(pending) != 0 {
			t.Fatalf("after the last run %d messages are pending", len(pending))
		}
		now = now.Add(time.Minute)
	}
}
