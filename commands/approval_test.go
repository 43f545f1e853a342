package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyleak/keyleak/state"
)

// fakeExecutor stands in for AWS: it records what it was asked to do.
type fakeExecutor struct {
	mu       sync.Mutex
	executed []map[string]string
	fail     error
}

func (f *fakeExecutor) Plan(_ context.Context, inc state.Incident, params map[string]string) (Plan, error) {
	return Plan{
		Calls:  []string{"iam:UpdateAccessKey AccessKeyId=" + inc.AccessKeyID + " Status=Inactive"},
		Params: map[string]string{"key": inc.AccessKeyID},
	}, nil
}

func (f *fakeExecutor) Execute(_ context.Context, _ state.Incident, a state.Action) (Outcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.executed = append(f.executed, a.Params)
	if f.fail != nil {
		return Outcome{Result: "1 of 2 calls made"}, f.fail
	}
	return Outcome{Result: "key is Inactive", RequestIDs: []string{"req-" + a.ID}}, nil
}

func (f *fakeExecutor) runs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.executed)
}

var (
	t0    = time.Date(2026, 11, 22, 11, 30, 0, 0, time.UTC)
	alice = state.Actor{ID: "users/1", Email: "alice@example.com", Name: "Alice", Platform: "chat"}
	bob   = state.Actor{ID: "users/2", Email: "bob@example.com", Name: "Bob", Platform: "chat"}
	// mallory is in the space but not an authorised responder.
	mallory = state.Actor{ID: "users/3", Email: "mallory@example.com", Name: "Mallory", Platform: "chat"}
	// aliceOnSlack is Alice under another platform identity.
	aliceOnSlack = state.Actor{ID: "U0ALICE", Email: "ALICE@example.com", Platform: "slack"}
)

type world struct {
	store *state.Store
	eng   *Engine
	exec  *fakeExecutor
	now   time.Time
	inc   state.Incident
}

func newWorld(tb testing.TB, policy Policy) *world {
	tb.Helper()
	s, err := state.Open(filepath.Join(tb.TempDir(), "k.db"), state.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	w := &world{store: s, exec: &fakeExecutor{}, now: t0}
	if policy.Responders == nil {
		policy.Responders = []string{"alice@example.com", "users/2"}
	}
	w.eng, err = NewEngine(s, policy, func() time.Time { return w.now }, slog.New(slog.NewTextHandler(io.Discard, nil)),
		ActionSpec{Name: "deactivate", Summary: "deactivate the key", Undo: "reactivate", Executor: w.exec},
		ActionSpec{Name: "delete-key", Summary: "delete the key", Irreversible: true, Executor: w.exec},
	)
	if err != nil {
		tb.Fatal(err)
	}
	err = s.Update(func(tx *state.Tx) (err error) {
		w.inc, _, err = tx.Report(state.NewIncident{AccessKeyID: "AKIAQYLPMN5HHHFPZAM2", Reporter: alice, At: t0})
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

func (w *world) ask(tb testing.TB, who state.Actor, action string) state.Action {
	tb.Helper()
	if _, err := w.eng.Ask(context.Background(), Request{Actor: who, Incident: w.inc.ID, Scope: InSpace}, action, false); err != nil {
		tb.Fatalf("ask %s: %v", action, err)
	}
	var list []state.Action
	if err := w.store.View(func(tx *state.Tx) (err error) { list, err = tx.Actions(w.inc.ID); return err }); err != nil {
		tb.Fatal(err)
	}
	return list[len(list)-1]
}

// runWork delivers pending work messages as the outbox worker would.
func (w *world) runWork(tb testing.TB) {
	tb.Helper()
	var due []state.Message
	if err := w.store.View(func(tx *state.Tx) (err error) { due, _, err = tx.Due(w.now.Add(time.Hour), 0); return err }); err != nil {
		tb.Fatal(err)
	}
	for _, m := range due {
		if m.Channel != ChannelWork {
			continue
		}
		if _, err := w.eng.Deliver(context.Background(), m); err != nil {
			tb.Fatalf("deliver %s: %v", m.Key, err)
		}
		if err := w.store.Update(func(tx *state.Tx) error { return tx.Ack(m.ID) }); err != nil {
			tb.Fatal(err)
		}
	}
}

func (w *world) action(tb testing.TB, id string) state.Action {
	tb.Helper()
	a, err := w.eng.Action(id)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

func (w *world) timelineKinds(tb testing.TB) []state.EventKind {
	tb.Helper()
	var tl []state.Event
	if err := w.store.View(func(tx *state.Tx) (err error) { tl, err = tx.Timeline(w.inc.ID); return err }); err != nil {
		tb.Fatal(err)
	}
	kinds := make([]state.EventKind, len(tl))
	for i, e := range tl {
		kinds[i] = e.Kind
	}
	return kinds
}

func TestApprovalRules(t *testing.T) {
	tests := []struct {
		name    string
		policy  Policy
		action  string
		setup   func(t *testing.T, w *world, a *state.Action) // before the decision
		decider state.Actor
		approve bool
		digest  func(a state.Action) string
		// refused is a fragment of the refusal; "" means the decision applies.
		refused    string
		wantStatus state.ActionStatus
		wantRuns   int
	}{
		{
			name: "second responder approves", action: "deactivate", decider: bob, approve: true,
			wantStatus: state.ActionSucceeded, wantRuns: 1,
		},
		{
			name: "self-approval refused", action: "deactivate", decider: alice, approve: true,
			refused: "a second responder must approve", wantStatus: state.ActionRequested,
		},
		{
			name: "self-approval under another platform identity refused", action: "deactivate", decider: aliceOnSlack, approve: true,
			policy:  Policy{Responders: []string{"alice@example.com", "users/2", "U0ALICE"}},
			refused: "a second responder must approve", wantStatus: state.ActionRequested,
		},
		{
			name: "unauthorised approver refused", action: "deactivate", decider: mallory, approve: true,
			refused: "not an authorised responder", wantStatus: state.ActionRequested,
		},
		{
			name: "replayed approval refused", action: "deactivate", decider: bob, approve: true,
			setup: func(t *testing.T, w *world, a *state.Action) {
				if _, err := w.eng.Decide(context.Background(), Decision{ActionID: a.ID, Approve: true, Actor: bob}); err != nil {
					t.Fatal(err)
				}
				w.runWork(t)
			},
			refused: "already succeeded", wantStatus: state.ActionSucceeded, wantRuns: 1,
		},
		{
			name: "approval after denial refused", action: "deactivate", decider: bob, approve: true,
			setup: func(t *testing.T, w *world, a *state.Action) {
				if _, err := w.eng.Decide(context.Background(), Decision{ActionID: a.ID, Approve: false, Actor: bob, Reason: "wrong key"}); err != nil {
					t.Fatal(err)
				}
			},
			refused: "already denied", wantStatus: state.ActionDenied,
		},
		{
			name: "expired request cannot be approved", action: "deactivate", decider: bob, approve: true,
			setup:   func(t *testing.T, w *world, a *state.Action) { w.now = w.now.Add(DefaultExpiry) },
			refused: "expired", wantStatus: state.ActionExpired,
		},
		{
			name: "just before expiry still approvable", action: "deactivate", decider: bob, approve: true,
			setup:      func(t *testing.T, w *world, a *state.Action) { w.now = w.now.Add(DefaultExpiry - time.Second) },
			wantStatus: state.ActionSucceeded, wantRuns: 1,
		},
		{
			name: "parameters changed after the request refused", action: "deactivate", decider: bob, approve: true,
			setup: func(t *testing.T, w *world, a *state.Action) {
				err := w.store.Update(func(tx *state.Tx) error {
					stored, err := tx.Action(a.ID)
					if err != nil {
						return err
					}
					stored.Params["key"] = "AKIAOTHERKEY00000000"
					return tx.PutAction(stored)
				})
				if err != nil {
					t.Fatal(err)
				}
			},
			refused: "parameters changed", wantStatus: state.ActionRequested,
		},
		{
			name: "card showing another request refused", action: "deactivate", decider: bob, approve: true,
			digest:  func(state.Action) string { return strings.Repeat("0", 64) },
			refused: "not the request that card showed", wantStatus: state.ActionRequested,
		},
		{
			name: "digest of the card shown accepted", action: "deactivate", decider: bob, approve: true,
			digest:     func(a state.Action) string { return a.Digest },
			wantStatus: state.ActionSucceeded, wantRuns: 1,
		},
		{
			name: "denial does nothing", action: "deactivate", decider: bob, approve: false,
			wantStatus: state.ActionDenied,
		},
		{
			name: "requester may withdraw", action: "deactivate", decider: alice, approve: false,
			wantStatus: state.ActionDenied,
		},
		{
			name: "unauthorised denial refused", action: "deactivate", decider: mallory, approve: false,
			refused: "not an authorised responder", wantStatus: state.ActionRequested,
		},
		{
			name: "irreversible needs a second person even under one-person policy", action: "delete-key",
			policy:  Policy{Responders: []string{"alice@example.com", "users/2"}, OnePerson: []string{"deactivate"}},
			decider: alice, approve: true,
			refused: "a second responder must approve", wantStatus: state.ActionRequested,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, tt.policy)
			a := w.ask(t, alice, tt.action)
			if a.Status != state.ActionRequested {
				t.Fatalf("new request status = %s, want requested", a.Status)
			}
			if tt.setup != nil {
				tt.setup(t, w, &a)
			}
			d := Decision{ActionID: a.ID, Approve: tt.approve, Actor: tt.decider, Source: state.Source{Platform: "chat", EventID: "e1", Verified: true}}
			if tt.digest != nil {
				d.Digest = tt.digest(a)
			}
			_, err := w.eng.Decide(context.Background(), d)
			if tt.refused == "" && err != nil {
				t.Fatalf("decision refused: %v", err)
			}
			if tt.refused != "" {
				msg, ok := AsUserError(err)
				if !ok || !strings.Contains(msg, tt.refused) {
					t.Fatalf("err = %v, want a user error containing %q", err, tt.refused)
				}
			}
			w.runWork(t)
			got := w.action(t, a.ID)
			if got.Status != tt.wantStatus {
				t.Errorf("status = %s, want %s", got.Status, tt.wantStatus)
			}
			if n := w.exec.runs(); n != tt.wantRuns {
				t.Errorf("executor ran %d times, want %d", n, tt.wantRuns)
			}
			kinds := w.timelineKinds(t)
			if tt.refused != "" && !slices.Contains(kinds, state.EventActionRefused) && !slices.Contains(kinds, state.EventActionExpired) {
				t.Errorf("timeline %v lacks the refusal", kinds)
			}
		})
	}
}

func TestEveryStepInTimeline(t *testing.T) {
	w := newWorld(t, Policy{})
	a := w.ask(t, alice, "deactivate")
	if _, err := w.eng.Decide(context.Background(), Decision{ActionID: a.ID, Approve: true, Actor: bob}); err != nil {
		t.Fatal(err)
	}
	w.runWork(t)
	got := w.timelineKinds(t)
	want := []state.EventKind{state.EventOpened, state.EventActionRequested, state.EventActionApproved, state.EventActionStarted, state.EventActionSucceeded}
	if !slices.Equal(got, want) {
		t.Errorf("timeline = %v, want %v", got, want)
	}
	done := w.action(t, a.ID)
	if done.Approver == nil || done.Approver.ID != bob.ID || !slices.Equal(done.RequestIDs, []string{"req-" + a.ID}) {
		t.Errorf("approver = %v, request IDs = %v", done.Approver, done.RequestIDs)
	}
	if fmt.Sprint(w.exec.executed[0]) != fmt.Sprint(map[string]string{"key": "AKIAQYLPMN5HHHFPZAM2"}) {
		t.Errorf("executor got %v, want the frozen params", w.exec.executed[0])
	}
}

func TestOnePersonPolicyRunsAtOnce(t *testing.T) {
	w := newWorld(t, Policy{Responders: []string{"alice@example.com"}, OnePerson: []string{"deactivate"}})
	a := w.ask(t, alice, "deactivate")
	if a.Status != state.ActionApproved || a.TwoPerson {
		t.Fatalf("status = %s two-person = %v, want approved by the one-person policy", a.Status, a.TwoPerson)
	}
	w.runWork(t)
	if got := w.action(t, a.ID).Status; got != state.ActionSucceeded {
		t.Errorf("status = %s, want succeeded", got)
	}
}

func TestPolicyCannotMakeIrreversibleOnePerson(t *testing.T) {
	s, err := state.Open(filepath.Join(t.TempDir(), "k.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = NewEngine(s, Policy{Responders: []string{"a@example.com"}, OnePerson: []string{"delete-key"}}, time.Now, slog.Default(),
		ActionSpec{Name: "delete-key", Irreversible: true, Executor: &fakeExecutor{}})
	if err == nil || !strings.Contains(err.Error(), "irreversible") {
		t.Fatalf("err = %v, want a refusal of the irreversible one-person action", err)
	}
}

func TestUnauthorisedCannotRequest(t *testing.T) {
	w := newWorld(t, Policy{})
	_, err := w.eng.Ask(context.Background(), Request{Actor: mallory, Incident: w.inc.ID}, "deactivate", false)
	if _, ok := AsUserError(err); !ok {
		t.Fatalf("err = %v, want a user error", err)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	w := newWorld(t, Policy{})
	r, err := w.eng.Ask(context.Background(), Request{Actor: alice, Incident: w.inc.ID}, "deactivate", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Sections) == 0 || !strings.Contains(strings.Join(r.Sections[0].Lines, "\n"), "iam:UpdateAccessKey") {
		t.Errorf("dry run reply %+v lacks the API call", r)
	}
	var actions []state.Action
	if err := w.store.View(func(tx *state.Tx) (err error) { actions, err = tx.Actions(w.inc.ID); return err }); err != nil {
		t.Fatal(err)
	}
	if len(actions) != 0 {
		t.Errorf("dry run stored %d actions", len(actions))
	}
}

func TestExpireSweep(t *testing.T) {
	w := newWorld(t, Policy{Responders: []string{"alice@example.com", "users/2"}, Expiry: 5 * time.Minute})
	a := w.ask(t, alice, "deactivate")
	w.now = w.now.Add(4 * time.Minute)
	if n, _ := w.eng.Expire(context.Background()); n != 0 {
		t.Fatalf("expired %d before the deadline", n)
	}
	w.now = w.now.Add(time.Minute)
	if n, err := w.eng.Expire(context.Background()); n != 1 || err != nil {
		t.Fatalf("expired %d (%v), want 1", n, err)
	}
	if got := w.action(t, a.ID).Status; got != state.ActionExpired {
		t.Errorf("status = %s, want expired", got)
	}
}

func TestRunResumesAfterRestartAndFailsPrecisely(t *testing.T) {
	w := newWorld(t, Policy{})
	a := w.ask(t, alice, "deactivate")
	if _, err := w.eng.Decide(context.Background(), Decision{ActionID: a.ID, Approve: true, Actor: bob}); err != nil {
		t.Fatal(err)
	}
	// Simulate a crash after the action started running.
	err := w.store.Update(func(tx *state.Tx) error {
		got, err := tx.Action(a.ID)
		if err != nil {
			return err
		}
		if err := got.Transition(state.ActionRunning, w.now); err != nil {
			return err
		}
		return tx.PutAction(got)
	})
	if err != nil {
		t.Fatal(err)
	}
	w.exec.fail = errors.New("iam:UpdateAccessKey: throttled")
	w.runWork(t)
	got := w.action(t, a.ID)
	if got.Status != state.ActionFailed || !strings.Contains(got.Error, "throttled") || got.Result != "1 of 2 calls made" {
		t.Errorf("after resume: status=%s error=%q result=%q", got.Status, got.Error, got.Result)
	}
	// A duplicate delivery of the run message does nothing more.
	runs := w.exec.runs()
	if err := w.eng.Run(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	if w.exec.runs() != runs {
		t.Error("finished action ran again")
	}
}

// TestDeadLetteredRunFailsItsAction: when the outbox gives up on running
// an approved action, the action is failed, with the reason, in the
// timeline and on its card, instead of staying approved forever.
func TestDeadLetteredRunFailsItsAction(t *testing.T) {
	w := newWorld(t, Policy{})
	a := w.ask(t, alice, "deactivate")
	if _, err := w.eng.Decide(context.Background(), Decision{ActionID: a.ID, Approve: true, Actor: bob}); err != nil {
		t.Fatal(err)
	}
	var run state.Message
	if err := w.store.View(func(tx *state.Tx) error {
		pending, err := tx.Pending(w.inc.ID)
		for _, m := range pending {
			if m.Channel == ChannelWork && m.Kind == NoticeRun {
				run = m
			}
		}
		return err
	}); err != nil || run.ID == 0 {
		t.Fatalf("no run message (%v)", err)
	}
	err := w.store.Update(func(tx *state.Tx) error {
		dead, err := tx.DeadLetter(run.ID, w.now, "keyleak stopped before the AWS call")
		if err != nil {
			return err
		}
		return w.eng.DeadLettered(tx, dead, w.now)
	})
	if err != nil {
		t.Fatal(err)
	}
	got := w.action(t, a.ID)
	if got.Status != state.ActionFailed || !strings.Contains(got.Error, "keyleak stopped before the AWS call") {
		t.Errorf("action = %s %q, want failed with the reason", got.Status, got.Error)
	}
	var tl []state.Event
	w.store.View(func(tx *state.Tx) (err error) { tl, err = tx.Timeline(w.inc.ID); return err })
	if last := tl[len(tl)-1]; last.Kind != state.EventActionFailed || last.Action != a.ID {
		t.Errorf("last timeline entry = %+v, want the failure of %s", last, a.ID)
	}
	w.runWork(t)
	if w.exec.runs() != 0 {
		t.Errorf("the failed action ran %d times", w.exec.runs())
	}
}
