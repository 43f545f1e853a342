package commands

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/state"
)

type keyStatus struct {
	status string
	err    error
}

func (k keyStatus) KeyStatus(context.Context, state.Incident) (string, error) { return k.status, k.err }

type staticFindings struct{}

func (staticFindings) Sections(context.Context, state.Incident) ([]Section, error) {
	return []Section{{Title: "CloudTrail", Lines: []string{"GetObject config-bucket/prod.tfstate from 203.0.113.7"}}}, nil
}

func (staticFindings) FollowUps(context.Context, state.Incident) ([]string, error) {
	return []string{"Rotate the credentials in config-bucket/prod.tfstate"}, nil
}

func TestReportHoldsEverythingInOrder(t *testing.T) {
	w := newWorld(t, Policy{})
	reg := newTestRegistry(t, w)
	run := func(who state.Actor, name string, args ...string) Reply {
		t.Helper()
		w.now = w.now.Add(time.Minute)
		return reg.Dispatch(context.Background(), Request{Name: name, Args: args, Actor: who, Scope: InSpace, Incident: w.inc.ID, Source: state.Source{Platform: "chat", Verified: true}})
	}
	run(bob, "note", "key", "was", "committed", "to", "a", "public", "repo")
	run(alice, "assign", "lead", "alice@example.com")
	a1 := w.ask(t, alice, "deactivate")
	if _, err := w.eng.Decide(context.Background(), Decision{ActionID: a1.ID, Approve: true, Actor: bob}); err != nil {
		t.Fatal(err)
	}
	w.runWork(t)
	a2 := w.ask(t, alice, "delete-key")
	if _, err := w.eng.Decide(context.Background(), Decision{ActionID: a2.ID, Approve: false, Actor: bob, Reason: "not yet"}); err != nil {
		t.Fatal(err)
	}

	rs := &Reports{Store: w.store, Findings: staticFindings{}, Keys: keyStatus{status: "Active"}, Policy: w.eng.Policy(), Now: func() time.Time { return w.now }, Channels: []string{ChannelSlack, ChannelEmail}}
	close := rs.CloseCommand()
	req := Request{Name: "close", Actor: bob, Scope: InSpace, Incident: w.inc.ID}
	if _, err := close.Run(context.Background(), req); err == nil || !strings.Contains(err.Error(), "still Active") {
		t.Fatalf("close with an active key: %v, want a refusal", err)
	}
	rs.Keys = keyStatus{status: "Inactive"}
	reply, err := close.Run(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := LoadRecord(w.store, w.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Incident.Open() || rec.Incident.CloseReason != "the key is Inactive" {
		t.Fatalf("incident after close: %+v", rec.Incident)
	}
	var doc state.ClosingReport
	if err := w.store.View(func(tx *state.Tx) (err error) { doc, err = tx.ClosingReport(w.inc.ID); return err }); err != nil {
		t.Fatal(err)
	}
	md := reply.Text
	if !strings.Contains(doc.Markdown, "Incident report") {
		t.Errorf("stored report = %.200s", doc.Markdown)
	}
	// Every timeline entry, in order.
	last := 0
	for _, e := range rec.Timeline {
		i := strings.Index(md[last:], mdCell(e.Text))
		if i < 0 {
			t.Fatalf("report lacks timeline entry %q after position %d", e.Text, last)
		}
		last += i
	}
	for _, want := range []string{
		"req-" + a1.ID, "Approved by Bob", "Denied by Bob", "Reason: not yet",
		"Rotate the credentials in config-bucket/prod.tfstate", "GetObject config-bucket/prod.tfstate",
		"key was committed to a public repo", "## Lessons learned", "lead: alice@example.com", "Duration",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// The page is updated and the report emailed, once.
	var pending []state.Message
	w.store.View(func(tx *state.Tx) (err error) { pending, err = tx.Pending(w.inc.ID); return err })
	kinds := map[string]int{}
	for _, m := range pending {
		kinds[m.Channel+"/"+m.Kind]++
	}
	if kinds["slack/page"] != 1 || kinds["email/close"] != 1 {
		t.Errorf("pending after close = %v, want one page update and one closing email", kinds)
	}
	if _, err := close.Run(context.Background(), req); err == nil || !strings.Contains(err.Error(), "already closed") {
		t.Errorf("closing twice: %v", err)
	}
}

func TestCloseNeedsReasonWhenKeyUnknown(t *testing.T) {
	w := newWorld(t, Policy{})
	for name, keys := range map[string]KeyChecker{"no checker": nil, "check fails": keyStatus{err: errors.New("AccessDenied")}} {
		rs := &Reports{Store: w.store, Keys: keys, Policy: w.eng.Policy(), Now: func() time.Time { return w.now }}
		_, err := rs.CloseCommand().Run(context.Background(), Request{Name: "close", Actor: bob, Incident: w.inc.ID})
		if msg, ok := AsUserError(err); !ok || !strings.Contains(msg, "close with a reason") {
			t.Errorf("%s: %v", name, err)
		}
	}
	rs := &Reports{Store: w.store, Policy: w.eng.Policy(), Now: func() time.Time { return w.now }}
	if _, err := rs.CloseCommand().Run(context.Background(), Request{Name: "close", Args: []string{"key", "deleted", "by", "hand"}, Actor: mallory, Incident: w.inc.ID}); err == nil {
		t.Error("an unauthorised person closed the incident")
	}
	if _, err := rs.CloseCommand().Run(context.Background(), Request{Name: "close", Args: []string{"key", "deleted", "by", "hand"}, Actor: bob, Incident: w.inc.ID}); err != nil {
		t.Fatal(err)
	}
}

// TestActionFollowUps: what a succeeded action leaves to do is a
// follow-up until it is undone; a failed action is one too.
func TestActionFollowUps(t *testing.T) {
	rec := IncidentRecord{Actions: []state.Action{
		{ID: "KL-2026-0001-A1", Name: "deactivate", Status: state.ActionSucceeded, Remains: "delete the key"},
		{ID: "KL-2026-0001-A2", Name: "deny-all", Status: state.ActionSucceeded, Remains: "deny-all in force (" + RemainsID + ")"},
		{ID: "KL-2026-0001-A3", Name: "quarantine", Status: state.ActionSucceeded, Remains: "quarantine in force", Undone: "KL-2026-0001-A4"},
		{ID: "KL-2026-0001-A5", Name: "cleanup", Status: state.ActionFailed, Error: "i-0abc: UnauthorizedOperation"},
		{ID: "KL-2026-0001-A6", Name: "verify-less", Status: state.ActionSucceeded},
	}}
	got := actionFollowUps(rec)
	want := []string{"delete the key", "deny-all in force (KL-2026-0001-A2)", "KL-2026-0001-A5 cleanup failed (i-0abc: UnauthorizedOperation): check what was done and finish it"}
	if !slices.Equal(got, want) {
		t.Errorf("follow-ups = %q, want %q", got, want)
	}
}
