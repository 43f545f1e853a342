package awsops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// TestLayoutWrittenBy: a trail counts for the files read only when it
// writes their folder: same bucket, same key prefix (with or without its
// slash), and an organisation trail exactly for an organisation's folder.
func TestLayoutWrittenBy(t *testing.T) {
	account := trailLayout{bucket: "logs", root: "AWSLogs/"}
	org := trailLayout{bucket: "logs", root: "AWSLogs/o-abcdefghij/"}
	prefixed := trailLayout{bucket: "logs", prefix: "ct/", root: "ct/AWSLogs/"}
	replica := trailLayout{bucket: "logs-copy", source: "logs", root: "AWSLogs/"}
	trail := func(bucket, prefix string, orgTrail bool) cttypes.Trail {
		t := cttypes.Trail{S3BucketName: aws.String(bucket), IsOrganizationTrail: aws.Bool(orgTrail)}
		if prefix != "" {
			t.S3KeyPrefix = aws.String(prefix)
		}
		return t
	}
	for _, tc := range []struct {
		name   string
		layout trailLayout
		trail  cttypes.Trail
		want   bool
	}{
		{"the account's trail, its folder", account, trail("logs", "", false), true},
		{"another bucket", account, trail("other", "", false), false},
		{"another prefix", account, trail("logs", "ct", false), false},
		{"the prefix without its slash", prefixed, trail("logs", "ct", false), true},
		{"the prefix with its slash", prefixed, trail("logs", "ct/", false), true},
		{"no prefix where one is read", prefixed, trail("logs", "", false), false},
		{"an organisation trail, the account's folder", account, trail("logs", "", true), false},
		{"an organisation trail, the organisation's folder", org, trail("logs", "", true), true},
		{"the account's trail, the organisation's folder", org, trail("logs", "", false), false},
		{"a replica, the trail of its source", replica, trail("logs", "", false), true},
		{"a replica, a trail of the replica itself", replica, trail("logs-copy", "", false), false},
	} {
		if got := tc.layout.writtenBy(tc.trail); got != tc.want {
			t.Errorf("%s: writtenBy = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSingleRegionOrganisationTrailDeliversItsRegion: an organisation
// trail need not be multi-region. One that records every management event
// of us-east-1 beside a multi-region one that records writes only leaves
// eu-west-1 without read-only events; with no trail at all, a region's
// files stand for their data events only.
func TestSingleRegionOrganisationTrailDeliversItsRegion(t *testing.T) {
	single := trailManagementOf(cttypes.Trail{IsOrganizationTrail: aws.Bool(true), HomeRegion: aws.String("us-east-1")})
	writes := trailManagementOf(cttypes.Trail{IsOrganizationTrail: aws.Bool(true), IsMultiRegionTrail: aws.Bool(true), HomeRegion: aws.String("us-east-1")})
	writes.m = management{write: true}
	cov := &trailCoverage{management: []trailManagement{single, writes}}
	if cov.partial("us-east-1") {
		t.Errorf("us-east-1 is partial (%s): the single-region trail records every management event there", cov.managementIn("us-east-1"))
	}
	if got := cov.managementIn("eu-west-1"); got.all() || got.read {
		t.Errorf("eu-west-1 gets %s: the single-region organisation trail does not deliver it", got)
	}
	if none := (&trailCoverage{}); !none.partial("us-east-1") {
		t.Error("with no trail that logs now writing the folder, the region's files are taken to hold every management event")
	}
}

// TestTrailPauseIsLookedUpFromItsStop: a trail that logs now stopped
// logging in the window and started again (GetTrailStatus), by a
// credential outside the tree: LookupEvents reads the key from the stop
// on, and the plan names the trail.
func TestTrailPauseIsLookedUpFromItsStop(t *testing.T) {
	stopped, started := doorBase.Add(20*time.Minute), doorBase.Add(35*time.Minute)
	var files []doorFile
	for st := doorBase; !st.After(doorBase.Add(2 * time.Hour)); st = st.Add(5 * time.Minute) {
		files = append(files, doorFile{"us-east-1", st, nil})
	}
	const arn = "arn:aws:cloudtrail:us-east-1:" + doorAcct + ":trail/main"
	for _, paused := range []bool{false, true} {
		t.Run(fmt.Sprintf("paused=%v", paused), func(t *testing.T) {
			p := newDoorPass(t, doorRoot, files)
			p.mu.Lock()
			a := p.accounts[doorAcct]
			r := a.regions["us-east-1"]
			r.earliest, r.newest = doorBase.Add(-3*time.Hour), doorBase.Add(2*time.Hour)
			a.coverage = &trailCoverage{all: true, trails: []string{arn}, management: []trailManagement{{all: true, m: management{read: true, write: true}}}}
			if paused {
				a.coverage.paused = []trailPause{{trail: arn, stopped: stopped, started: started}}
			}
			p.mu.Unlock()
			ctx := context.Background()
			p.follow(ctx)
			tasks, parts := p.complement(ctx, &regionCache{override: []string{"us-east-1"}})
			fromStop := slices.ContainsFunc(tasks, func(tk sweepTask) bool {
				return tk.value == doorRoot && !tk.start.After(stopped) && !tk.end.Before(p.now)
			})
			named := slices.ContainsFunc(parts, func(pp PlanPart) bool {
				return strings.Contains(pp.Reason, "trail/main") && strings.Contains(pp.Reason, "stopped logging")
			})
			if fromStop != paused || named != paused {
				t.Errorf("looked up from the stop: %v, plan names the pause: %v; want %v\ntasks %+v\nplan %+v", fromStop, named, paused, tasks, parts)
			}
		})
	}
}

// TestReplicaIsSaidWhateverTheTrails: the gap that says what a replica
// cannot show stands beside every other doubt, also when the trails
// cannot be described at all.
func TestReplicaIsSaidWhateverTheTrails(t *testing.T) {
	replica := trailLayout{bucket: "logs-copy", source: "logs", root: "AWSLogs/"}
	for name, c := range map[string]*trailCoverage{
		"trails described":     {trails: []string{"trail/org"}},
		"trails not described": {err: errors.New("AccessDenied")},
	} {
		doubts := c.doubts(replica, "123456789012")
		if !slices.ContainsFunc(doubts, func(d string) bool { return strings.Contains(d, "read as the replica of logs") }) {
			t.Errorf("%s: no doubt names the replica: %q", name, doubts)
		}
	}
}
