package commands

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyleak/keyleak/state"
)

// heldPlanner holds its first Plan until released: the seconds a plan
// request's AWS planning takes, during which another responder may make
// a plan request too.
type heldPlanner struct {
	fakeExecutor
	once     sync.Once
	planning chan struct{} // closed when the first Plan began
	release  chan struct{}
}

func (p *heldPlanner) Plan(ctx context.Context, inc state.Incident, params map[string]string) (Plan, error) {
	first := false
	p.once.Do(func() { first = true; close(p.planning) })
	if first {
		<-p.release
	}
	return p.fakeExecutor.Plan(ctx, inc, params)
}

// TestPlanRequestsAtOnceGetTheirOwnBatches: two responders make plan
// requests at about the same time; each gets a batch of its own, and an
// approve-batch of one approves only that one's requests.
func TestPlanRequestsAtOnceGetTheirOwnBatches(t *testing.T) {
	carol := state.Actor{ID: "users/4", Email: "carol@example.com", Name: "Carol", Platform: "chat"}
	policy := Policy{Responders: []string{"alice@example.com", "users/2", "carol@example.com"}}
	w := newWorld(t, policy)
	p := &heldPlanner{planning: make(chan struct{}), release: make(chan struct{})}
	eng, err := NewEngine(w.store, policy, func() time.Time { return w.now }, w.eng.log,
		ActionSpec{Name: "deactivate", Executor: p}, ActionSpec{Name: "cleanup", Irreversible: true, Executor: p})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var aliceReply, carolReply Reply
	var aliceErr, carolErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		aliceReply, aliceErr = eng.RequestBatch(ctx, Request{Actor: alice, Incident: w.inc.ID, Scope: InSpace}, []BatchItem{{Name: "deactivate"}})
	})
	<-p.planning // Alice's plan is being made
	carolDone := make(chan struct{})
	wg.Go(func() {
		defer close(carolDone)
		carolReply, carolErr = eng.RequestBatch(ctx, Request{Actor: carol, Incident: w.inc.ID, Scope: InSpace}, []BatchItem{{Name: "cleanup"}})
	})
	// Carol's request gets the time to take its batch ID while Alice's
	// plan is still being made (it waits for Alice's, and so this waits
	// its full half second).
	select {
	case <-carolDone:
	case <-time.After(500 * time.Millisecond):
	}
	close(p.release)
	wg.Wait()
	if aliceErr != nil || carolErr != nil {
		t.Fatal(aliceErr, carolErr)
	}
	if aliceReply.Title == carolReply.Title {
		t.Fatalf("two plan requests got the same batch: %q", aliceReply.Title)
	}
	batch := strings.TrimPrefix(aliceReply.Title, "Containment plan requested: ")
	r, err := eng.approveBatchCommand().Run(ctx, Request{Actor: bob, Incident: w.inc.ID, Args: []string{batch}, Scope: InSpace})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Text, "1 of 1") {
		t.Errorf("approve-batch %s: %q, want Alice's one request approved, and not Carol's cleanup", batch, r.Text)
	}
}

// TestApprovedThenClosedIsNotRun: an action approved before the incident
// was closed is not run after it (the report is sent): it fails, saying
// why, and AWS is not changed.
func TestApprovedThenClosedIsNotRun(t *testing.T) {
	w := newWorld(t, Policy{})
	a := w.ask(t, alice, "deactivate")
	if _, err := w.eng.Decide(t.Context(), Decision{ActionID: a.ID, Approve: true, Actor: bob}); err != nil {
		t.Fatal(err)
	}
	if err := w.store.Update(func(tx *state.Tx) error {
		inc, err := tx.Incident(w.inc.ID)
		if err != nil {
			return err
		}
		if err := inc.Close(w.now, "key deleted by hand"); err != nil {
			return err
		}
		return tx.PutIncident(inc)
	}); err != nil {
		t.Fatal(err)
	}
	w.runWork(t)
	if n := w.exec.runs(); n != 0 {
		t.Errorf("the executor ran %d times on a closed incident", n)
	}
	if got := w.action(t, a.ID); got.Status != state.ActionFailed || !strings.Contains(got.Error, "closed before it ran") {
		t.Errorf("action %s: %s (%q), want failed: the incident was closed before it ran", a.ID, got.Status, got.Error)
	}
}
