package awsops

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/awsops/trail/trailtest"
)

// The cases below have a record read before what makes it the tree's is
// found: a file of eu-west-1 stamped 10:03 is read before the us-east-1
// file stamped 10:05 that holds what the leaked key did at 10:00.

const doorAcct = "111122223333"

// doorFile is one log file of a small trail.
type doorFile struct {
	region  string
	stamp   time.Time
	records []string
}

// doorPass runs the trail-first pass over files, one worker, from root.
func doorPass(t *testing.T, root string, files []doorFile) (*tracker, TrailRead) {
	t.Helper()
	p := newDoorPass(t, root, files)
	p.follow(context.Background())
	return p.tr, p.read
}

// newDoorPass makes the pass of doorPass, files queued, not yet run.
func newDoorPass(t *testing.T, root string, files []doorFile) *trailPass {
	t.Helper()
	docs := map[string]string{}
	var objs []trailObject
	for _, f := range files {
		key := trailtest.LogKey(doorAcct, f.region, f.stamp, "x")
		doc := `{"Records":[` + strings.Join(f.records, ",") + `]}`
		docs[key] = doc
		objs = append(objs, trailObject{key: key, account: doorAcct, region: f.region, stamp: f.stamp, size: int64(len(doc))})
	}
	base := files[0].stamp
	tr := newTracker(Session{AccessKeyID: root, Account: doorAcct})
	tr.own = func(a string) bool { return a == doorAcct }
	p := newTrailPass(nil, tr, nil, trailLayout{bucket: "b", root: "AWSLogs/"}, Window{Start: base.Add(-time.Hour), End: base.Add(time.Hour)}, base.Add(time.Hour))
	p.workers = 1
	p.get = func(_ context.Context, key string) (io.ReadCloser, int64, error) {
		d, ok := docs[key]
		if !ok {
			return nil, 0, fmt.Errorf("no %s", key)
		}
		return io.NopCloser(bytes.NewReader([]byte(d))), int64(len(d)), nil
	}
	listing := &accountListing{account: doorAcct, from: base.Add(-time.Hour), to: base.Add(time.Hour), regions: map[string]*regionListing{"us-east-1": {objects: objs}}}
	p.accounts[doorAcct] = listing
	p.pending++
	p.enqueue(listing)
	return p
}

// doorRecord is a management event of the account.
func doorRecord(identity string, at time.Time, source, name, region, params, response, id string) string {
	return fmt.Sprintf(`{"eventVersion":"1.09","userIdentity":%s,"eventTime":"%s","eventSource":"%s.amazonaws.com","eventName":"%s","awsRegion":"%s","requestParameters":%s,"responseElements":%s,"eventID":"%s","recipientAccountId":"%s","managementEvent":true,"eventCategory":"Management"}`,
		identity, at.Format(time.RFC3339), source, name, region, cmp.Or(params, "null"), cmp.Or(response, "null"), id, doorAcct)
}

func doorUser(user, key string) string {
	return fmt.Sprintf(`{"type":"IAMUser","accountId":"%s","arn":"arn:aws:iam::%s:user/%s","userName":"%s","accessKeyId":"%s"}`, doorAcct, doorAcct, user, user, key)
}

const doorRoot = "AKIAQNZGKIQY56JQAAAA"

var doorBase = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// TestTrailPassFindsTheUseOfEveryDoorBehindOnePattern: a second SAML
// provider the key creates shares its door's pattern (AssumeRoleWithSAML)
// with the first; a file read before it was created holds the second's use.
func TestTrailPassFindsTheUseOfEveryDoorBehindOnePattern(t *testing.T) {
	const minted = "ASIAQNZGKIQY56JQSAML"
	provider := func(name string, at time.Time, id string) string {
		return doorRecord(doorUser("admin", doorRoot), at, "iam", "CreateSAMLProvider", "us-east-1", `{"name":"`+name+`"}`,
			`{"sAMLProviderArn":"arn:aws:iam::`+doorAcct+`:saml-provider/`+name+`"}`, id)
	}
	use := doorRecord(`{"type":"SAMLUser","principalId":"x","userName":"eve","identityProvider":"idp"}`, doorBase.Add(time.Minute), "sts", "AssumeRoleWithSAML", "eu-west-1",
		`{"roleArn":"arn:aws:iam::`+doorAcct+`:role/r","principalArn":"arn:aws:iam::`+doorAcct+`:saml-provider/p2"}`,
		`{"credentials":{"accessKeyId":"`+minted+`","expiration":"Nov 21, 2026, 11:00:00 AM"}}`, "use")
	for _, first := range []bool{false, true} {
		var files []doorFile
		if first {
			files = append(files, doorFile{"us-east-1", doorBase.Add(-5 * time.Minute), []string{provider("p1", doorBase.Add(-10*time.Minute), "p1")}})
		}
		files = append(files,
			doorFile{"eu-west-1", doorBase.Add(3 * time.Minute), []string{use}},
			doorFile{"us-east-1", doorBase.Add(5 * time.Minute), []string{provider("p2", doorBase, "p2")}})
		tr, read := doorPass(t, doorRoot, files)
		if !tr.tracks(minted) {
			t.Errorf("with a provider before: %v: the session minted through provider p2 is not in the tree (%d files read again)", first, read.Rescanned)
		}
	}
	// The use written before the provider's creation in the same file:
	// handed on for p1 only when first read, it is read again for p2.
	tr, read := doorPass(t, doorRoot, []doorFile{
		{"us-east-1", doorBase.Add(-5 * time.Minute), []string{provider("p1", doorBase.Add(-10*time.Minute), "p1")}},
		{"us-east-1", doorBase.Add(5 * time.Minute), []string{use, provider("p2", doorBase, "p2")}},
	})
	if !tr.tracks(minted) {
		t.Errorf("the use before p2's creation in its file: the session is not in the tree (%d files read again)", read.Rescanned)
	}
}

// TestTrailPassFindsAUserWithALongerName: the key creates a user whose
// name is longer than the user it created before; the new user's call in a
// file read before is found.
func TestTrailPassFindsAUserWithALongerName(t *testing.T) {
	create := func(user string, at time.Time, id string) string {
		return doorRecord(doorUser("admin", doorRoot), at, "iam", "CreateUser", "us-east-1", `{"userName":"`+user+`"}`, "", id)
	}
	call := doorRecord(doorUser("mallory", "AKIAQNZGKIQY56JQUSER"), doorBase.Add(time.Minute), "s3", "ListBuckets", "eu-west-1", "", "", "mallory")
	for _, first := range []string{"bobbybobby", "bob"} {
		tr, read := doorPass(t, doorRoot, []doorFile{
			{"us-east-1", doorBase.Add(-5 * time.Minute), []string{create(first, doorBase.Add(-10*time.Minute), "c1")}},
			{"eu-west-1", doorBase.Add(3 * time.Minute), []string{call}},
			{"us-east-1", doorBase.Add(5 * time.Minute), []string{create("mallory", doorBase, "c2")}},
		})
		if n := tr.eventCount(); n != 3 {
			t.Errorf("first user %q: %d calls of the tree, want 3 with mallory's (%d files read again)", first, n, read.Rescanned)
		}
	}
}

// TestTrailPassFindsACallHandedOnForADoor: a key the leaked one mints
// later calls AssumeRole on a role whose trust the key changed: the record
// is handed on as the door's use before the key is known, and counts as
// the key's once it is.
func TestTrailPassFindsACallHandedOnForADoor(t *testing.T) {
	const k = "ASIAQNZGKIQY56JQKKKK"
	trust := doorRecord(doorUser("admin", doorRoot), doorBase.Add(-10*time.Minute), "iam", "UpdateAssumeRolePolicy", "us-east-1", `{"roleName":"r"}`, "", "trust")
	assume := doorRecord(doorUser("admin", k), doorBase.Add(time.Minute), "sts", "AssumeRole", "eu-west-1",
		`{"roleArn":"arn:aws:iam::`+doorAcct+`:role/r","roleSessionName":"s"}`, "", "assume")
	mint := doorRecord(doorUser("admin", doorRoot), doorBase, "sts", "GetSessionToken", "us-east-1", "",
		`{"credentials":{"accessKeyId":"`+k+`","expiration":"Nov 21, 2026, 11:00:00 PM"}}`, "mint")
	for _, door := range []bool{false, true} {
		var files []doorFile
		want := 2
		if door {
			files = append(files, doorFile{"us-east-1", doorBase.Add(-5 * time.Minute), []string{trust}})
			want++
		}
		files = append(files,
			doorFile{"eu-west-1", doorBase.Add(3 * time.Minute), []string{assume}},
			doorFile{"us-east-1", doorBase.Add(5 * time.Minute), []string{mint}})
		tr, read := doorPass(t, doorRoot, files)
		if n := tr.eventCount(); n != want {
			t.Errorf("with the trust changed before: %v: %d calls of the tree, want %d with the minted key's AssumeRole (%d files read again)", door, n, want, read.Rescanned)
		}
	}
}

// TestTrailPassGivesUpAFileWhoseSecondReadFails: a file read first holds
// the calls of two users the key creates later; it cannot be read a second
// time. It is given up once: one gap, one failed file, whatever the
// number of users tracked after.
func TestTrailPassGivesUpAFileWhoseSecondReadFails(t *testing.T) {
	create := func(user string, at time.Time, id string) string {
		return doorRecord(doorUser("admin", doorRoot), at, "iam", "CreateUser", "us-east-1", `{"userName":"`+user+`"}`, "", id)
	}
	call := func(user, key, id string) string {
		return doorRecord(doorUser(user, key), doorBase.Add(time.Minute), "s3", "ListBuckets", "eu-west-1", "", "", id)
	}
	first := doorFile{"eu-west-1", doorBase.Add(3 * time.Minute), []string{call("mallory", "AKIAQNZGKIQY56JQMALL", "m"), call("trent", "AKIAQNZGKIQY56JQTREN", "t")}}
	files := []doorFile{first}
	// Each user was created before the first file's calls, and delivered
	// late, in a file the pass reads after the first file was read again.
	for i, user := range []string{"mallory", "trent", "zed"} {
		at := doorBase.Add(time.Duration(20+15*i) * time.Minute)
		files = append(files, doorFile{"us-east-1", at, []string{create(user, doorBase.Add(-time.Duration(3-i)*time.Minute), user)}},
			// Another caller's file a delivery later: the pass moves on, and
			// reads the first file again before the next user is found.
			doorFile{"us-east-1", at.Add(6 * time.Minute), []string{call("other", "AKIAQNZGKIQY56JQOTHR", "o"+user)}})
	}
	p := newDoorPass(t, doorRoot, files)
	broken := trailtest.LogKey(doorAcct, first.region, first.stamp, "x")
	get, opens := p.get, 0
	p.get = func(ctx context.Context, key string) (io.ReadCloser, int64, error) {
		if key == broken {
			if opens++; opens > 1 {
				return nil, 0, errors.New("the object is gone")
			}
		}
		return get(ctx, key)
	}
	p.follow(context.Background())
	if opens < 2 {
		t.Fatalf("the file was opened %d times: the users it holds were not looked for in it again", opens)
	}
	if len(p.failed) != 1 || p.read.FailedObjects != 1 || len(p.gaps) != 1 {
		t.Errorf("failed files %d, counted %d, gaps %d; want the file given up once (opened %d times)", len(p.failed), p.read.FailedObjects, len(p.gaps), opens)
	}
}

// TestTrailRoundsDoNotLookUpAgainWhatASweepFound: a door a round's sweep
// found it looked up over its whole life; a file that fails in the next
// round's pass adds no lookup of it.
func TestTrailRoundsDoNotLookUpAgainWhatASweepFound(t *testing.T) {
	create := doorRecord(doorUser("admin", doorRoot), doorBase, "iam", "CreateUser", "us-east-1", `{"userName":"mallory"}`, "", "c1")
	p := newDoorPass(t, doorRoot, []doorFile{{"us-east-1", doorBase.Add(5 * time.Minute), []string{create}}})
	regions := &regionCache{override: []string{"us-east-1"}}
	ctx := context.Background()
	p.complement(ctx, regions) // round one: the key
	p.follow(ctx)              // finds the door, as the round's sweep would
	p.markNew(true)            // as after that sweep, which looked it up whole
	if _, doors := p.tr.members(); len(doors) != 1 {
		t.Fatalf("doors %v, want the user the key created", doors)
	}
	p.mu.Lock()
	p.failed = append(p.failed, trailObject{key: "failed", account: doorAcct, region: "us-east-1", stamp: doorBase.Add(20 * time.Minute)})
	p.mu.Unlock()
	tasks, _ := p.complement(ctx, regions)
	if len(tasks) != 1 || tasks[0].door != nil || tasks[0].value != doorRoot {
		t.Errorf("tasks %+v, want the key's lookup of the failed file's span alone", tasks)
	}
}
