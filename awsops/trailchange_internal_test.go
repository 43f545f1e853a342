package awsops

import (
	"context"
	"testing"
	"time"

	"github.com/keyleak/keyleak/awsops/trail"
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
