package respond

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/state"
)

// TestContainedSinceCountsOnlyContainment: the containment window opens
// with the first action that contains (deactivate here), not with an
// earlier cleanup or reactivate, which leave the attacker's way in open.
func TestContainedSinceCountsOnlyContainment(t *testing.T) {
	store, err := state.Open(filepath.Join(t.TempDir(), "k.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	opened := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var id string
	err = store.Update(func(tx *state.Tx) error {
		inc, _, err := tx.Report(state.NewIncident{AccessKeyID: "AKIAQYLPMN5HHHFPZAM2", Reporter: alice, At: opened})
		if err != nil {
			return err
		}
		id = inc.ID
		for _, done := range []struct {
			name  string
			after time.Duration
		}{{ActionReactivate, 5 * time.Minute}, {ActionCleanup, 10 * time.Minute}, {ActionDeactivate, 20 * time.Minute}, {ActionRevokeSessions, 30 * time.Minute}} {
			a, err := tx.NewAction(state.Action{Incident: id, Name: done.name, Status: state.ActionRequested, RequestedAt: opened})
			if err != nil {
				return err
			}
			a.Status, a.FinishedAt = state.ActionSucceeded, opened.Add(done.after)
			if err := tx.PutAction(a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := containedSince(store, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := opened.Add(20 * time.Minute); !got.Equal(want) {
		t.Errorf("contained since %s, want %s (the deactivation)", got, want)
	}
}

// TestContainingActions: the table says which actions contain, and every
// action the watch used to start on still does.
func TestContainingActions(t *testing.T) {
	for _, name := range []string{ActionDeactivate, ActionRevokeSessions, ActionQuarantine, ActionDenyAll, ActionDeleteKey} {
		if !containing(name) {
			t.Errorf("%s does not count as containment", name)
		}
	}
	for _, name := range []string{ActionReactivate, ActionLiftRevoke, ActionRelease, ActionLiftDenyAll, ActionCleanup, "no-such-action"} {
		if containing(name) {
			t.Errorf("%s counts as containment", name)
		}
	}
}

// TestWatchTimelineSaysWhenItMoves: the first containment starts the watch
// (one line in the timeline); a second one a moment later, which leaves its
// end where it was shown, adds no line; one that moves the end says so;
// and one after the watch ended starts it again.
func TestWatchTimelineSaysWhenItMoves(t *testing.T) {
	opened := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	store, id := incidentStore(t, opened)
	r := New(Config{Store: store, WatchPeriod: 30 * time.Minute})
	succeed := func(name string, at time.Time) { succeeded(t, r, id, name, at) }
	succeed(ActionRevokeSessions, opened.Add(time.Minute))
	succeed(ActionDeactivate, opened.Add(time.Minute+10*time.Second))
	succeed(ActionQuarantine, opened.Add(5*time.Minute))
	succeed(ActionCleanup, opened.Add(6*time.Minute)) // not containment
	succeed(ActionDenyAll, opened.Add(2*time.Hour))
	var got []string
	if err := store.View(func(tx *state.Tx) error {
		evs, err := tx.Timeline(id)
		for _, e := range evs {
			if strings.Contains(e.Text, "watch") {
				got = append(got, e.Text)
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"watching CloudTrail for the key and its sessions until 10:31 UTC",
		"the watch of CloudTrail now runs until 10:35 UTC",
		"watching CloudTrail for the key and its sessions until 12:30 UTC",
	}
	if !slices.Equal(got, want) {
		t.Errorf("the timeline says\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// succeeded records an action of name that succeeded at at, and what
// the responder does then (the watch), in one transaction.
func succeeded(tb testing.TB, r *Responder, incident, name string, at time.Time) state.Action {
	tb.Helper()
	var act state.Action
	if err := r.cfg.Store.Update(func(tx *state.Tx) error {
		a, err := tx.NewAction(state.Action{Incident: incident, Name: name, Status: state.ActionRequested, RequestedAt: at})
		if err != nil {
			return err
		}
		a.Status, a.FinishedAt = state.ActionSucceeded, at
		if err := tx.PutAction(a); err != nil {
			return err
		}
		act = a
		return r.OnSuccess(tx, a, at)
	}); err != nil {
		tb.Fatal(err)
	}
	return act
}
