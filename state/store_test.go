package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 10, 45, 0, 0, time.UTC)

func openTest(tb testing.TB) *Store {
	tb.Helper()
	s, err := Open(filepath.Join(tb.TempDir(), "keyleak.db"), Options{})
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func report(tb testing.TB, s *Store, key string, who Actor, at time.Time) (Incident, bool) {
	tb.Helper()
	var inc Incident
	var joined bool
	err := s.Update(func(tx *Tx) error {
		var err error
		inc, joined, err = tx.Report(NewIncident{AccessKeyID: key, Reporter: who, At: at, Source: Source{Platform: "slack", Verified: true}})
		return err
	})
	if err != nil {
		tb.Fatalf("report %s: %v", key, err)
	}
	return inc, joined
}

var (
	alice = Actor{ID: "U01ALICE", Email: "alice@example.com", Name: "Alice", Platform: "slack"}
	bob   = Actor{ID: "users/222", Email: "bob@example.com", Name: "Bob", Platform: "chat"}
)

func TestReportJoinsOpenIncidentOfSameKey(t *testing.T) {
	s := openTest(t)
	first, joined := report(t, s, "AKIAQYLPMN5HHHFPZAM2", alice, t0)
	if joined {
		t.Fatalf("first report joined an incident")
	}
	if first.ID != "KL-2026-0001" {
		t.Errorf("first ID = %q, want KL-2026-0001", first.ID)
	}
	again, joined := report(t, s, "AKIAQYLPMN5HHHFPZAM2", bob, t0.Add(time.Minute))
	if !joined || again.ID != first.ID {
		t.Fatalf("second report: joined=%v id=%s, want to join %s", joined, again.ID, first.ID)
	}
	if again.Reports != 2 {
		t.Errorf("reports = %d, want 2", again.Reports)
	}
	other, joined := report(t, s, "AKIAQYLPMN5HHHFPZAM3", bob, t0.Add(2*time.Minute))
	if joined || other.ID != "KL-2026-0002" {
		t.Errorf("other key: joined=%v id=%s, want new KL-2026-0002", joined, other.ID)
	}

	// Closing frees the key: the next report opens a new incident.
	err := s.Update(func(tx *Tx) error {
		inc, err := tx.Incident(first.ID)
		if err != nil {
			return err
		}
		if err := inc.Close(t0.Add(time.Hour), "key deleted"); err != nil {
			return err
		}
		return tx.PutIncident(inc)
	})
	if err != nil {
		t.Fatal(err)
	}
	reopened, joined := report(t, s, "AKIAQYLPMN5HHHFPZAM2", alice, t0.Add(2*time.Hour))
	if joined || reopened.ID != "KL-2026-0003" {
		t.Errorf("after close: joined=%v id=%s, want new KL-2026-0003", joined, reopened.ID)
	}
	// A new year starts numbering again.
	newYear, _ := report(t, s, "AKIAQYLPMN5HHHFPZAM4", alice, time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC))
	if newYear.ID != "KL-2027-0001" {
		t.Errorf("new year ID = %q, want KL-2027-0001", newYear.ID)
	}
}

func TestTimelineOrderSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyleak.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	inc, _ := report(t, s, "AKIAQYLPMN5HHHFPZAM2", alice, t0)
	appendNotes := func(s *Store, from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			err := s.Update(func(tx *Tx) error {
				_, err := tx.Append(Event{Incident: inc.ID, At: t0.Add(time.Duration(i) * time.Second), Actor: bob, Kind: EventNote, Text: fmt.Sprintf("note %d", i)})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	appendNotes(s, 0, 300)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendNotes(s, 300, 310)

	var got []Event
	if err := s.View(func(tx *Tx) error { got, err = tx.Timeline(inc.ID); return err }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 311 {
		t.Fatalf("timeline has %d entries, want 311 (opened + 310 notes)", len(got))
	}
	if got[0].Kind != EventOpened {
		t.Errorf("first entry kind = %s, want opened", got[0].Kind)
	}
	for i, e := range got[1:] {
		if want := fmt.Sprintf("note %d", i); e.Text != want {
			t.Fatalf("entry %d = %q, want %q", i+1, e.Text, want)
		}
		if e.Seq <= got[i].Seq {
			t.Fatalf("entry %d seq %d not after %d", i+1, e.Seq, got[i].Seq)
		}
	}
}

func TestFileModeIsOwnerOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyleak.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %o, want 600", got)
	}
}

func TestSecondOpenTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyleak.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Open(path, Options{LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open of a locked file: err = %v, want ErrLocked", err)
	}
}

func TestActionLifecycle(t *testing.T) {
	tests := []struct {
		name  string
		steps []ActionStatus
		ok    bool
	}{
		{"approved and succeeded", []ActionStatus{ActionApproved, ActionRunning, ActionSucceeded}, true},
		{"approved and failed", []ActionStatus{ActionApproved, ActionRunning, ActionFailed}, true},
		{"denied", []ActionStatus{ActionDenied}, true},
		{"expired", []ActionStatus{ActionExpired}, true},
		{"approved twice", []ActionStatus{ActionApproved, ActionApproved}, false},
		{"run without approval", []ActionStatus{ActionRunning}, false},
		{"approve after denial", []ActionStatus{ActionDenied, ActionApproved}, false},
		{"approve after expiry", []ActionStatus{ActionExpired, ActionApproved}, false},
		{"run twice", []ActionStatus{ActionApproved, ActionRunning, ActionSucceeded, ActionRunning}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Action{ID: "KL-2026-0001-A1", Status: ActionRequested}
			var err error
			for i, to := range tt.steps {
				if err = a.Transition(to, t0.Add(time.Duration(i)*time.Minute)); err != nil {
					break
				}
			}
			if tt.ok && err != nil {
				t.Fatalf("transition failed: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrTransition) {
				t.Fatalf("err = %v, want ErrTransition", err)
			}
		})
	}
}

func TestActionsStoredFrozenAndListed(t *testing.T) {
	s := openTest(t)
	inc, _ := report(t, s, "AKIAQYLPMN5HHHFPZAM2", alice, t0)
	params := map[string]string{"key": "AKIAQYLPMN5HHHFPZAM2", "user": "ci-deploy-user"}
	var ids []string
	for _, name := range []string{"deactivate", "revoke-sessions", "quarantine"} {
		err := s.Update(func(tx *Tx) error {
			a, err := tx.NewAction(Action{Incident: inc.ID, Name: name, Params: params, Requester: alice, Status: ActionRequested, RequestedAt: t0, ExpiresAt: t0.Add(15 * time.Minute)})
			ids = append(ids, a.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	params["user"] = "someone-else" // the caller's map changing later must not reach the stored action
	want := []string{inc.ID + "-A1", inc.ID + "-A2", inc.ID + "-A3"}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("ids = %v, want %v", ids, want)
	}
	var got []Action
	if err := s.View(func(tx *Tx) (err error) { got, err = tx.Actions(inc.ID); return err }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("listed %d actions, want 3", len(got))
	}
	for i, a := range got {
		if a.ID != want[i] {
			t.Errorf("action %d = %s, want %s", i, a.ID, want[i])
		}
		if a.Params["user"] != "ci-deploy-user" || !a.Intact() {
			t.Errorf("action %s params = %v intact=%v, want frozen ci-deploy-user", a.ID, a.Params, a.Intact())
		}
	}
	got[0].Params["user"] = "tampered"
	if got[0].Intact() {
		t.Error("action with changed params still reports intact")
	}
}

func TestSeenExpires(t *testing.T) {
	s := openTest(t)
	mark := func(key string, now time.Time) bool {
		t.Helper()
		var seen bool
		if err := s.Update(func(tx *Tx) (err error) { seen, err = tx.MarkSeen(key, now, now.Add(10*time.Minute)); return err }); err != nil {
			t.Fatal(err)
		}
		return seen
	}
	if mark("slack/abc", t0) {
		t.Fatal("first delivery reported as seen")
	}
	if !mark("slack/abc", t0.Add(9*time.Minute)) {
		t.Fatal("retry within the window not detected")
	}
	if mark("slack/abc", t0.Add(11*time.Minute)) {
		t.Fatal("delivery after expiry reported as seen")
	}
	mark("chat/x", t0)
	var n int
	if err := s.Update(func(tx *Tx) (err error) { n, err = tx.PruneSeen(t0.Add(15 * time.Minute)); return err }); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("pruned %d, want 1 (chat/x expired at +10m; slack/abc lives to +21m)", n)
	}
}

func TestOutboxEnqueueOnceDueRetryDead(t *testing.T) {
	s := openTest(t)
	enqueue := func(key string) (Message, bool) {
		t.Helper()
		var m Message
		var added bool
		err := s.Update(func(tx *Tx) (err error) {
			m, added, err = tx.Enqueue(Message{Key: key, Channel: "slack", Kind: "page", Incident: "KL-2026-0001", CreatedAt: t0, Payload: []byte(`{"x":1}`)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return m, added
	}
	m1, added := enqueue("page:KL-2026-0001")
	if !added {
		t.Fatal("first enqueue not added")
	}
	if _, added := enqueue("page:KL-2026-0001"); added {
		t.Fatal("same key enqueued twice")
	}
	m2, _ := enqueue("email:KL-2026-0001")
	// The same key on another channel is another message.
	err0 := s.Update(func(tx *Tx) error {
		_, added, err := tx.Enqueue(Message{Key: "page:KL-2026-0001", Channel: "chat", CreatedAt: t0})
		if err == nil && !added {
			err = fmt.Errorf("the same key on another channel was not added")
		}
		if err == nil {
			var dup []Message
			if dup, err = tx.Pending(""); err == nil {
				for _, m := range dup {
					if m.Channel == "chat" {
						err = tx.Ack(m.ID)
					}
				}
			}
		}
		return err
	})
	if err0 != nil {
		t.Fatal(err0)
	}

	err := s.Update(func(tx *Tx) error {
		if err := tx.Retry(m1.ID, t0.Add(time.Minute), "503 from slack"); err != nil {
			return err
		}
		due, _, err := tx.Due(t0, 10)
		if err != nil {
			return err
		}
		// m2 waits behind m1, the earlier message of its incident and
		// channel, until m1 is due again.
		if len(due) != 0 {
			return fmt.Errorf("due at t0 = %v, want none: m2 waits behind m1", due)
		}
		due, _, err = tx.Due(t0.Add(time.Minute), 10)
		if err != nil {
			return err
		}
		if len(due) != 2 || due[0].ID != m1.ID || due[0].Attempts != 1 || due[0].LastError != "503 from slack" {
			return fmt.Errorf("due at t0+1m = %+v, want m1 (1 attempt) then m2", due)
		}
		if _, err := tx.DeadLetter(m2.ID, t0, "550 mailbox unavailable"); err != nil {
			return err
		}
		return tx.Ack(m1.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, added := enqueue("page:KL-2026-0001"); added {
		t.Fatal("delivered key enqueued again")
	}
	err = s.View(func(tx *Tx) error {
		pending, err := tx.Pending("")
		if err != nil {
			return err
		}
		dead, err := tx.DeadLetters("KL-2026-0001")
		if err != nil {
			return err
		}
		if len(pending) != 0 || len(dead) != 1 || dead[0].LastError != "550 mailbox unavailable" {
			return fmt.Errorf("pending=%v dead=%v", pending, dead)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRolledBackTransactionLeavesNoMessage(t *testing.T) {
	s := openTest(t)
	inc, _ := report(t, s, "AKIAQYLPMN5HHHFPZAM2", alice, t0)
	boom := errors.New("boom")
	err := s.Update(func(tx *Tx) error {
		if _, err := tx.Append(Event{Incident: inc.ID, At: t0, Actor: alice, Kind: EventNote, Text: "x"}); err != nil {
			return err
		}
		if _, _, err := tx.Enqueue(Message{Key: "k", Channel: "chat", CreatedAt: t0}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	err = s.View(func(tx *Tx) error {
		tl, _ := tx.Timeline(inc.ID)
		p, _ := tx.Pending("")
		if len(tl) != 1 || len(p) != 0 {
			return fmt.Errorf("after rollback: timeline %d entries, outbox %d messages; want 1 and 0", len(tl), len(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBackupIsOpenableCopy(t *testing.T) {
	s := openTest(t)
	inc, _ := report(t, s, "AKIAQYLPMN5HHHFPZAM2", alice, t0)
	dst := filepath.Join(t.TempDir(), "backup.db")
	if _, err := s.BackupFile(dst); err != nil {
		t.Fatal(err)
	}
	b, err := Open(dst, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.View(func(tx *Tx) error { _, err := tx.Incident(inc.ID); return err }); err != nil {
		t.Fatalf("backup lacks %s: %v", inc.ID, err)
	}
}

func TestEnqueuedSignalledOnCommitOnly(t *testing.T) {
	s := openTest(t)
	boom := errors.New("boom")
	s.Update(func(tx *Tx) error {
		tx.Enqueue(Message{Key: "rolled-back", Channel: "chat", CreatedAt: t0})
		return boom
	})
	select {
	case <-s.Enqueued():
		t.Fatal("signalled for a rolled-back transaction")
	default:
	}
	if err := s.Update(func(tx *Tx) error {
		_, _, err := tx.Enqueue(Message{Key: "committed", Channel: "chat", CreatedAt: t0})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Enqueued():
	default:
		t.Fatal("not signalled after a committed enqueue")
	}
}

// TestDueKeepsGroupOrder: a message waiting for its retry holds back the
// later messages of its incident and channel, and nothing else; an
// unordered message (background work) neither waits nor holds back; an
// undecodable record is reported and skipped.
func TestDueKeepsGroupOrder(t *testing.T) {
	s := openTest(t)
	var ids = map[string]uint64{}
	err := s.Update(func(tx *Tx) error {
		for _, m := range []Message{
			{Key: "a1", Channel: "chat", Incident: "KL-2026-0001", CreatedAt: t0, NextAttempt: t0.Add(time.Minute)},
			{Key: "a2", Channel: "chat", Incident: "KL-2026-0001", CreatedAt: t0},
			{Key: "w1", Channel: "work", Incident: "KL-2026-0001", CreatedAt: t0, Unordered: true},
			{Key: "b1", Channel: "slack", Incident: "KL-2026-0001", CreatedAt: t0},
			{Key: "c1", Channel: "chat", Incident: "KL-2026-0002", CreatedAt: t0},
		} {
			got, _, err := tx.Enqueue(m)
			if err != nil {
				return err
			}
			ids[m.Key] = got.ID
		}
		return tx.bucket(bucketOutbox).Put(u64(999), []byte("{not json"))
	})
	if err != nil {
		t.Fatal(err)
	}
	var due []Message
	var bad []uint64
	if err := s.View(func(tx *Tx) (err error) { due, bad, err = tx.Due(t0, 0); return err }); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, m := range due {
		keys = append(keys, m.Key)
	}
	if want := []string{"w1", "b1", "c1"}; !slices.Equal(keys, want) {
		t.Errorf("due = %v, want %v (a2 waits behind a1)", keys, want)
	}
	if !slices.Equal(bad, []uint64{999}) {
		t.Errorf("undecodable = %v, want [999]", bad)
	}
	if err := s.Update(func(tx *Tx) error { return tx.Quarantine(999, t0) }); err != nil {
		t.Fatal(err)
	}
	var dead []Message
	if err := s.View(func(tx *Tx) (err error) { dead, err = tx.DeadLetters(""); return err }); err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Kind != "undecodable" || string(dead[0].Payload) != "{not json" {
		t.Errorf("dead letters = %+v, want the undecodable record set aside", dead)
	}
}

// TestPruneOutboxKeysAndDeadLetters: idempotency keys of delivered
// messages and dead letters older than the cutoff are forgotten; a
// pending message keeps its key whatever its age.
func TestPruneOutboxKeysAndDeadLetters(t *testing.T) {
	s := openTest(t)
	var pending, delivered, dead Message
	err := s.Update(func(tx *Tx) (err error) {
		if pending, _, err = tx.Enqueue(Message{Key: "pending", Channel: "chat", CreatedAt: t0}); err != nil {
			return err
		}
		if delivered, _, err = tx.Enqueue(Message{Key: "delivered", Channel: "chat", CreatedAt: t0}); err != nil {
			return err
		}
		if dead, _, err = tx.Enqueue(Message{Key: "dead", Channel: "email", CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.Ack(delivered.ID); err != nil {
			return err
		}
		_, err = tx.DeadLetter(dead.ID, t0, "550")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(func(tx *Tx) error {
		if n, err := tx.PruneOutboxKeys(t0); err != nil || n != 0 {
			return fmt.Errorf("prune at t0 removed %d keys (%v), want none", n, err)
		}
		if n, err := tx.PruneOutboxKeys(t0.Add(31 * 24 * time.Hour)); err != nil || n != 2 {
			return fmt.Errorf("prune a month later removed %d keys (%v), want the delivered and the dead message's", n, err)
		}
		if _, added, err := tx.Enqueue(Message{Key: "pending", Channel: "chat", CreatedAt: t0}); err != nil || added {
			return fmt.Errorf("the pending message's key was forgotten (added %v, %v)", added, err)
		}
		if n, err := tx.PruneDeadLetters(t0.Add(91 * 24 * time.Hour)); err != nil || n != 1 {
			return fmt.Errorf("prune of dead letters removed %d (%v), want 1", n, err)
		}
		d, err := tx.DeadLetters("")
		if err != nil || len(d) != 0 {
			return fmt.Errorf("dead letters after pruning = %v (%v)", d, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = pending
}

// TestRetriedDeliveryAfterACrashIsHandled: a delivery whose handling began
// and never finished (keyleak died in the middle) is handled again when
// Chat retries it after the reply budget; a retry while the first is
// still being handled is not; a finished one gets its answer again.
func TestRetriedDeliveryAfterACrashIsHandled(t *testing.T) {
	s := openTest(t)
	const key = "chat/abc"
	expires := t0.Add(time.Hour)
	begin := func(now time.Time) (d Delivery, ours bool) {
		t.Helper()
		if err := s.Update(func(tx *Tx) (err error) {
			d, ours, err = tx.BeginDelivery(key, now, expires, now.Add(-35*time.Second))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return d, ours
	}
	if _, ours := begin(t0); !ours {
		t.Fatal("a new delivery is not handled")
	}
	if d, ours := begin(t0.Add(10 * time.Second)); ours || d.Answered {
		t.Fatalf("a retry while the first is handled: ours %v, answered %v; want neither", ours, d.Answered)
	}
	// keyleak died: the retry after the budget takes the delivery over.
	d, ours := begin(t0.Add(time.Minute))
	if !ours {
		t.Fatal("a retry after a crash was swallowed")
	}
	if err := s.Update(func(tx *Tx) error { return tx.FinishDelivery(key, d.MarkedAt, expires, []byte(`{"text":"done"}`)) }); err != nil {
		t.Fatal(err)
	}
	if d, ours := begin(t0.Add(2 * time.Minute)); ours || !d.Answered || string(d.Reply) != `{"text":"done"}` {
		t.Fatalf("a retry of a finished delivery: ours %v, %+v; want the answer again", ours, d)
	}
	if n, err := func() (n int, err error) {
		err = s.Update(func(tx *Tx) (err error) { n, err = tx.PruneSeen(expires); return err })
		return
	}(); err != nil || n != 1 {
		t.Errorf("pruned %d (%v), want the expired delivery", n, err)
	}
}

// TestUndecodableOutboxRecordDoesNotBlockDelivery: one record that does
// not decode makes neither Due, Pending nor NextDue fail; Due names it for
// Quarantine, and the others leave it out.
func TestUndecodableOutboxRecordDoesNotBlockDelivery(t *testing.T) {
	s := openTest(t)
	err := s.Update(func(tx *Tx) error {
		if _, _, err := tx.Enqueue(Message{Key: "ok", Channel: "chat", Incident: "KL-2026-0001", CreatedAt: t0}); err != nil {
			return err
		}
		return tx.bucket(bucketOutbox).Put(u64(1<<40), []byte(`{"id":"not a number"`))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(func(tx *Tx) error {
		due, bad, err := tx.Due(t0, 0)
		if err != nil || len(due) != 1 || len(bad) != 1 || bad[0] != 1<<40 {
			return fmt.Errorf("Due = %v, %v, %v; want the good message and the bad ID", due, bad, err)
		}
		if p, err := tx.Pending(""); err != nil || len(p) != 1 {
			return fmt.Errorf("Pending = %v, %v", p, err)
		}
		if next, ok, err := tx.NextDue(); err != nil || !ok || !next.Equal(t0) {
			return fmt.Errorf("NextDue = %v, %v, %v", next, ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
