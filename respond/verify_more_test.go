package respond

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

func incidentStore(t *testing.T, opened time.Time) (*state.Store, string) {
	t.Helper()
	store, err := state.Open(filepath.Join(t.TempDir(), "k.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var id string
	if err := store.Update(func(tx *state.Tx) error {
		inc, _, err := tx.Report(state.NewIncident{AccessKeyID: "AKIAQYLPMN5HHHFPZAM2", Reporter: alice, At: opened})
		id = inc.ID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return store, id
}

// revoke-sessions' cutoff is frozen when it is requested; it is approved
// and finishes up to 15 minutes later. The window opens at FinishedAt, so
// a session minted by the still-active key in between (not revoked: it
// was issued after the cutoff) is never looked at.
func TestContainmentCountsFromTheRevokeCutoff(t *testing.T) {
	opened := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	store, id := incidentStore(t, opened)
	cutoff := opened.Add(5 * time.Minute)
	if err := store.Update(func(tx *state.Tx) error {
		a, err := tx.NewAction(state.Action{Incident: id, Name: ActionRevokeSessions, Status: state.ActionRequested, RequestedAt: cutoff,
			Params: map[string]string{awsops.ParamCutoff: cutoff.Format(time.RFC3339)}})
		if err != nil {
			return err
		}
		a.Status, a.FinishedAt = state.ActionSucceeded, cutoff.Add(12*time.Minute)
		return tx.PutAction(a)
	}); err != nil {
		t.Fatal(err)
	}
	got, err := containedSince(store, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.After(cutoff) {
		t.Errorf("containment window opens at %s, after the revocation cutoff %s: sessions minted in between are never checked", got.Format(time.RFC3339), cutoff.Format(time.RFC3339))
	}
}

// The owner's new key (created from the key's baseline: rotation) is
// tracked as the attacker's: its normal use after containment raises the
// alarm and it is listed as a way in still open.
func TestOwnersBaselineKeyIsNotWatched(t *testing.T) {
	opened := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	store, id := incidentStore(t, opened)
	const ownersNew = "AKIAQYLPMN5HOWNERNEW"
	inv, _ := json.Marshal(awsops.Investigation{AccessKeyID: "AKIAQYLPMN5HHHFPZAM2",
		Sessions: []awsops.Session{{AccessKeyID: "AKIAQYLPMN5HHHFPZAM2"},
			{ID: ownersNew, AccessKeyID: ownersNew, ParentID: "AKIAQYLPMN5HHHFPZAM2", Via: awsops.ViaCreatedKey, Baseline: true, OpenedFrom: "203.0.113.10", UserName: "ci-deploy-user"}},
		Resources: []awsops.Resource{{Type: "AWS::IAM::AccessKey", ID: ownersNew, Owner: "ci-deploy-user", CreatedBy: "CreateAccessKey", AccessKeyID: "AKIAQYLPMN5HHHFPZAM2"}}})
	if err := store.Update(func(tx *state.Tx) error { return tx.PutFinding(id, state.FindingInvestigation, inv) }); err != nil {
		t.Fatal(err)
	}
	f := findings{store: store}
	if slices.Contains(f.derivedKeys(id), ownersNew) {
		t.Errorf("derivedKeys %v include the owner's baseline key %s: its use after containment is alarmed as the attacker's", f.derivedKeys(id), ownersNew)
	}
	for _, w := range f.ways(id) {
		if w.ID == ownersNew {
			t.Errorf("ways include the owner's baseline key %s: verify reports it as a way in still open", ownersNew)
		}
	}
}

// TestWatchNeverSaysNothingWithoutLooking: keyleak was down (or every
// check failed) for the whole watch; the first delivery after its end
// ends it saying so, never "nothing succeeded".
func TestWatchNeverSaysNothingWithoutLooking(t *testing.T) {
	opened := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	store, id := incidentStore(t, opened)
	now := opened.Add(time.Minute)
	r := New(Config{Store: store, WatchPeriod: 30 * time.Minute, Now: func() time.Time { return now }, Channels: []string{commands.ChannelChat}})
	act := succeeded(t, r, id, ActionDeactivate, now)
	payload, _ := json.Marshal(commands.Notice{Kind: commands.NoticeWatch, Incident: id, Params: map[string]string{paramWatchAction: act.ID}})
	now = now.Add(45 * time.Minute) // restarted after the watch's end
	if _, err := r.Watcher().Deliver(t.Context(), state.Message{Payload: payload}); err != nil {
		t.Fatal(err)
	}
	var texts []string
	_ = store.View(func(tx *state.Tx) error {
		evs, err := tx.Timeline(id)
		for _, e := range evs {
			texts = append(texts, e.Text)
		}
		return err
	})
	said := false
	for _, s := range texts {
		if strings.Contains(s, "nothing succeeded") {
			t.Errorf("the watch never checked CloudTrail, yet the timeline says %q", s)
		}
		said = said || strings.Contains(s, "without checking CloudTrail once")
	}
	if !said {
		t.Errorf("the timeline does not say the watch never checked: %q", texts)
	}
}

// The owner rotated the key from its usual network (a baseline branch),
// and its new key assumed the deploy role from there. That session is
// below the baseline node and was minted from the owner's usual place, so
// it is the owner's too: not a key of the attacker's tree for close-doors
// or verify, and its role is not one revoke-sessions covers for the
// attacker. The attacker's own session stays the attacker's.
func TestDerivedKeysLeaveOutTheOwnersBranch(t *testing.T) {
	store, id := incidentStore(t, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	const leaked, ownersNew, ownersSession, attackers = "AKIAQYLPMN5HHHFPZAM2", "AKIAQYLPMN5HOWNERNEW", "ASIAQYLPMN5HOWNERSES", "ASIAQYLPMN5HATTACKER"
	inv, err := json.Marshal(awsops.Investigation{AccessKeyID: leaked,
		Sources: []awsops.Source{{Network: "203.0.113.0/24", Baseline: true}, {Network: "198.51.100.0/24", Attacker: true}},
		Sessions: []awsops.Session{{ID: leaked, AccessKeyID: leaked},
			{ID: ownersNew, AccessKeyID: ownersNew, ParentID: leaked, Via: awsops.ViaCreatedKey, Baseline: true, OpenedFrom: "203.0.113.10", UserName: "ci-deploy-user"},
			{ID: ownersSession, AccessKeyID: ownersSession, ParentID: ownersNew, ParentAccessKeyID: ownersNew, Depth: 2, Via: awsops.ViaMinted,
				MintedBy: "AssumeRole", RoleARN: "arn:aws:iam::123456789012:role/deploy", SourceIP: "203.0.113.10"},
			{ID: attackers, AccessKeyID: attackers, ParentID: leaked, ParentAccessKeyID: leaked, Depth: 1, Via: awsops.ViaMinted,
				MintedBy: "AssumeRole", RoleARN: "arn:aws:iam::123456789012:role/admin", SourceIP: "198.51.100.7"}},
		Resources: []awsops.Resource{{Type: "AWS::IAM::AccessKey", ID: ownersNew, Owner: "ci-deploy-user", CreatedBy: "CreateAccessKey", AccessKeyID: leaked}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Update(func(tx *state.Tx) error { return tx.PutFinding(id, state.FindingInvestigation, inv) }); err != nil {
		t.Fatal(err)
	}
	f := findings{store: store}
	if got := f.derivedKeys(id); slices.Contains(got, ownersSession) || slices.Contains(got, ownersNew) || !slices.Contains(got, attackers) {
		t.Errorf("derivedKeys = %v: want the attacker's %s, not the owner's %s nor the session it minted, %s", got, attackers, ownersNew, ownersSession)
	}
	var inc state.Incident
	if err := store.View(func(tx *state.Tx) (err error) { inc, err = tx.Incident(id); return err }); err != nil {
		t.Fatal(err)
	}
	if roles, err := f.roles(t.Context(), inc); err != nil || !slices.Equal(roles, []string{"arn:aws:iam::123456789012:role/admin"}) {
		t.Errorf("roles = %v (%v), want the attacker's admin role alone", roles, err)
	}
}
