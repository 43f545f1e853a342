package awsops

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/awsops/trail"
	"github.com/keyleak/keyleak/awsops/trail/trailtest"
)

// TestTrailChangeLookupsAreNotRepeated: round one knows the key's change
// of CloudTrail at t2 (in the bucket) and looks the key up from there. The
// round's sweep then finds, where the bucket lacks files, a session the key
// minted that changed CloudTrail earlier, at t1, and looks the session up
// whole. Round two needs the key from t1 to t2 only, and nothing of the
// session: both were looked up there already.
func TestTrailChangeLookupsAreNotRepeated(t *testing.T) {
	const minted = "ASIAQNZGKIQY56JQSESS"
	t1, t2 := doorBase.Add(20*time.Minute), doorBase.Add(45*time.Minute)
	var files []doorFile
	for st := doorBase; !st.After(doorBase.Add(2 * time.Hour)); st = st.Add(5 * time.Minute) {
		f := doorFile{"us-east-1", st, nil}
		if st.Equal(t2.Add(5 * time.Minute)) {
			f.records = []string{doorRecord(doorUser("admin", doorRoot), t2, "cloudtrail", "PutEventSelectors", "us-east-1", "", "", "n2")}
		}
		files = append(files, f)
	}
	p := newDoorPass(t, doorRoot, files)
	p.mu.Lock()
	r := p.accounts[doorAcct].regions["us-east-1"]
	r.earliest, r.newest = doorBase.Add(-3*time.Hour), doorBase.Add(2*time.Hour)
	p.mu.Unlock()
	regions := &regionCache{override: []string{"us-east-1"}}
	ctx := context.Background()
	p.follow(ctx)
	tasks1, _ := p.complement(ctx, regions)
	keyFromChange := false
	for _, tk := range tasks1 {
		keyFromChange = keyFromChange || tk.value == doorRoot && !tk.start.After(t2) && !tk.end.Before(p.now)
	}
	if !keyFromChange {
		t.Fatalf("round 1 tasks %+v: want the key looked up from its change at %s on", tasks1, t2.Format(time.TimeOnly))
	}
	// The round's sweep (what it finds it looks up whole).
	p.tr.setOnDerived(nil)
	p.tr.setOnDoor(nil)
	rec := func(js string) *trail.Record {
		r := record(t, js)
		return &r
	}
	p.tr.add(ctx, doorRoot, rec(doorRecord(doorUser("admin", doorRoot), doorBase.Add(10*time.Minute), "sts", "AssumeRole", "eu-west-1",
		`{"roleArn":"arn:aws:iam::`+doorAcct+`:role/r","roleSessionName":"s"}`,
		`{"credentials":{"accessKeyId":"`+minted+`","expiration":"Nov 21, 2026, 11:10:00 AM"}}`, "a1")))
	if !p.tr.tracks(minted) {
		t.Fatal("the session is not in the tree")
	}
	sess := `{"type":"AssumedRole","accountId":"` + doorAcct + `","arn":"arn:aws:sts::` + doorAcct + `:assumed-role/r/s","accessKeyId":"` + minted + `"}`
	p.tr.add(ctx, minted, rec(doorRecord(sess, t1, "cloudtrail", "StopLogging", "us-east-1", "", "", "n1")))
	p.markNew(true)
	if !p.changesPending() {
		t.Error("an earlier change found by the sweep is not pending: no round would look up what followed it")
	}
	tasks2, _ := p.complement(ctx, regions)
	between := false
	for _, tk := range tasks2 {
		switch {
		case tk.value == minted:
			t.Errorf("round 2 looks the session up again over %s..%s: the sweep that found it looked it up whole", tk.start.Format(time.TimeOnly), tk.end.Format(time.TimeOnly))
		case tk.value == doorRoot && tk.end.After(t2):
			t.Errorf("round 2 looks the key up again over %s..%s: round one looked it up from %s on", tk.start.Format(time.TimeOnly), tk.end.Format(time.TimeOnly), t2.Add(-time.Second).Format(time.TimeOnly))
		case tk.value == doorRoot:
			between = between || !tk.start.After(t1)
		}
	}
	if !between {
		t.Errorf("round 2 tasks %+v: want the key looked up from the earlier change at %s to the later", tasks2, t1.Format(time.TimeOnly))
	}
	if p.changesPending() {
		t.Error("the change is still pending after round 2 planned for it")
	}
}

// TestTrailChangeCountsAcrossAnOrganisationFolder: the key stops logging in
// its own account (the organisation's management account) and has a
// session in another account, whose files keep coming. Read from the
// account's own folder, that account's files are its own trails': the
// change there says nothing of them. Read from an organisation's folder,
// they are the organisation trail's, which the change may have been to:
// LookupEvents reads the other account's session from the change on, and
// the plan names the account where the change was made.
func TestTrailChangeCountsAcrossAnOrganisationFolder(t *testing.T) {
	const other, minted = "444455556666", "ASIAQNZGKIQY56JQHOPS"
	change := doorBase.Add(30 * time.Minute)
	var files []doorFile
	var otherFiles []trailObject
	for st := doorBase; !st.After(doorBase.Add(2 * time.Hour)); st = st.Add(5 * time.Minute) {
		f := doorFile{"us-east-1", st, nil}
		if st.Equal(change.Add(5 * time.Minute)) {
			f.records = []string{doorRecord(doorUser("admin", doorRoot), change, "cloudtrail", "StopLogging", "us-east-1", `{"name":"org-trail"}`, "", "stop")}
		}
		files = append(files, f)
		otherFiles = append(otherFiles, trailObject{key: trailtest.LogKey(other, "us-east-1", st, "x"), account: other, region: "us-east-1", stamp: st})
	}
	for _, org := range []bool{false, true} {
		t.Run(fmt.Sprintf("organisation-folder=%v", org), func(t *testing.T) {
			p := newDoorPass(t, doorRoot, files)
			if org {
				p.layout.root = "AWSLogs/o-abcdefghij/"
			}
			p.mu.Lock()
			r := p.accounts[doorAcct].regions["us-east-1"]
			r.earliest, r.newest = doorBase.Add(-3*time.Hour), doorBase.Add(2*time.Hour)
			p.accounts[other] = &accountListing{account: other, from: doorBase.Add(-time.Hour), to: p.now, regions: map[string]*regionListing{
				"us-east-1": {objects: otherFiles, earliest: doorBase.Add(-3 * time.Hour), newest: doorBase.Add(2 * time.Hour)}}}
			p.mu.Unlock()
			ctx := context.Background()
			p.follow(ctx)
			// The session in the other account, as a round's sweep finds it.
			p.tr.setOnDerived(nil)
			p.tr.setOnDoor(nil)
			r2 := record(t, doorRecord(doorUser("admin", doorRoot), doorBase.Add(10*time.Minute), "sts", "AssumeRole", "us-east-1",
				`{"roleArn":"arn:aws:iam::`+other+`:role/r","roleSessionName":"s"}`,
				`{"credentials":{"accessKeyId":"`+minted+`","expiration":"Nov 21, 2026, 12:10:00 PM"}}`, "hop"))
			p.tr.add(ctx, doorRoot, &r2)
			if !p.tr.tracks(minted) {
				t.Fatal("the session is not in the tree")
			}
			tasks, parts := p.complement(ctx, &regionCache{override: []string{"us-east-1"}})
			fromChange := false
			for _, tk := range tasks {
				fromChange = fromChange || tk.value == minted && tk.account == other && !tk.start.After(change) && !tk.end.Before(p.now)
			}
			if fromChange != org {
				t.Errorf("the other account's session looked up from the change on: %v, want %v; tasks:\n%+v", fromChange, org, tasks)
			}
			named := slices.ContainsFunc(parts, func(pp PlanPart) bool {
				return pp.Account == other && strings.Contains(pp.Reason, "in account "+doorAcct)
			})
			if named != org {
				t.Errorf("a plan part of %s names the change in %s: %v, want %v; plan:\n%+v", other, doorAcct, named, org, parts)
			}
		})
	}
}
