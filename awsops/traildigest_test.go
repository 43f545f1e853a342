package awsops_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// digestCase replays an hour of the leaked key's calls: 120 in us-east-1
// (the busiest region, which the cross-check pages) and 65 in eu-west-1,
// a file every five minutes in each, with a RunInstances early in
// eu-west-1 (older than the newest 50 calls there: a first LookupEvents
// page does not hold it). It then takes out of the bucket the log file
// that holds the RunInstances, between two files five minutes apart, and
// returns its key and the RunInstances' time.
func digestCase(t *testing.T, rc roundCase) (dropped string, at time.Time) {
	t.Helper()
	var records []json.RawMessage
	for i := range 120 {
		records = append(records, rvRecord(rc, rc.t0.Add(time.Duration(i)*30*time.Second), "iam", "ListUsers", "us-east-1", fmt.Sprintf("w%d", i), true))
	}
	for i := range 65 {
		name, readOnly := "DescribeInstances", true
		if i == 8 {
			name, readOnly, at = "RunInstances", false, rc.t0.Add(time.Duration(i)*55*time.Second)
		}
		records = append(records, rvRecord(rc, rc.t0.Add(time.Duration(i)*55*time.Second), "ec2", name, "eu-west-1", fmt.Sprintf("e%d", i), readOnly))
	}
	rvReplay(t, rc, records...)
	part := "eu-west-1_" + rvFileStamp(at)
	client, bucket := rvClient(rc), rc.w.Gateway.TrailBucket()
	eachLogFile(t, client, bucket, part, func(key *string) { dropped = *key })
	rvDrop(t, rc, part)
	if !strings.Contains(dropped, "/CloudTrail/eu-west-1/") {
		t.Fatalf("the file removed is %q, want a log file of eu-west-1", dropped)
	}
	return dropped, at
}

// coveredBy returns the LookupEvents part of inv for region that holds
// at, if any.
func coveredBy(inv *awsops.Investigation, region string, at time.Time) *awsops.PlanPart {
	for i, p := range inv.Plan {
		if p.Path == awsops.PathLookup && (p.Region == region || p.Region == "") && !p.From.After(at) && p.To.After(at) {
			return &inv.Plan[i]
		}
	}
	return nil
}

// TestTrailDigestNamesTheFileTakenOut: a log file is taken out of the
// bucket between two files five minutes apart, which leaves no gap the
// listing can see. With the trail's digest files there, the trail path
// finds the file missing, says so, and reads its span with LookupEvents:
// it counts the RunInstances the file held, as the LookupEvents path does,
// which says that the file's data events are not known.
// Without digests (the control), the same loss goes unseen: that is what
// the digests add.
func TestTrailDigestNamesTheFileTakenOut(t *testing.T) {
	t.Run("digests", func(t *testing.T) {
		rc := newRoundCase(t)
		rc.w.Gateway.EnableTrailDigests(worldTrail, "us-east-1")
		dropped, at := digestCase(t, rc)
		lookup, trail := rc.bothPaths(t, "the RunInstances in the file taken out is lost")
		// On the LookupEvents path, the bucket gives data events only: the
		// file's are not known, and a gap says so.
		if !slices.ContainsFunc(lookup.Gaps, func(g awsops.Gap) bool {
			return g.Step == awsops.StepDataEvents && g.Region == "eu-west-1" && strings.Contains(g.Reason, dropped)
		}) {
			t.Errorf("no data-event gap of the LookupEvents path names the file taken out (%s)\n%s", dropped, rvReport(lookup))
		}
		if trail.Trail == nil || trail.Trail.Digests == 0 || trail.Trail.MissingFiles != 1 {
			t.Fatalf("trail read %+v, want digest files read and 1 log file missing\n%s", trail.Trail, rvReport(trail))
		}
		part := coveredBy(trail, "eu-west-1", at)
		if part == nil || !strings.Contains(part.Reason, dropped) {
			t.Fatalf("LookupEvents part over the RunInstances: %+v, want one that names the file taken out (%s)\n%s", part, dropped, rvReport(trail))
		}
	})
	t.Run("control", func(t *testing.T) {
		rc := newRoundCase(t)
		_, at := digestCase(t, rc)
		lookup, trail := rc.investigate(t, awsops.PathLookup), rc.investigate(t, awsops.PathTrail)
		if part := coveredBy(trail, "eu-west-1", at); part != nil {
			t.Fatalf("without digests LookupEvents reads the span of the file taken out (%+v): the case does not test them", part)
		}
		if got, want := sessionEvents(trail, rc.leaked), sessionEvents(lookup, rc.leaked); got >= want {
			t.Fatalf("without digests the trail path counts %d calls and the LookupEvents path %d, want it to miss those in the file taken out\n%s", got, want, rvReport(trail))
		}
		if trail.Trail == nil || trail.Trail.Digests != 0 {
			t.Fatalf("trail read %+v, want no digest files", trail.Trail)
		}
	})
}

// TestTrailDigestTakenOutIsSaid: the world delivers a digest for every
// hour, as CloudTrail does. Taking one out of the middle leaves a break
// in the trail's digests, which the report names, with the digest the
// next one names; taking out every digest after the first leaves files
// delivered over an hour ago that no digest covers, which it says too.
func TestTrailDigestTakenOutIsSaid(t *testing.T) {
	for _, tc := range []struct {
		name string
		// The calls are made ago and 70 minutes later; the world then
		// holds a digest for every hour from the first's on, at least
		// three when ago is over 3h45m, two when over 2h45m.
		ago  time.Duration
		drop func(keys []string) []string // of the region's digests, oldest first
	}{
		{"middle", 230 * time.Minute, func(keys []string) []string { return keys[1:2] }},
		{"newest", 170 * time.Minute, func(keys []string) []string { return keys[1:] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newRoundCase(t)
			rc.w.Gateway.EnableTrailDigests(worldTrail, "us-east-1")
			start := rc.now.Add(-tc.ago)
			rvReplay(t, rc,
				rvRecord(rc, start, "iam", "ListUsers", "us-east-1", "a", true),
				rvRecord(rc, start.Add(70*time.Minute), "iam", "ListUsers", "us-east-1", "b", true),
				rvRecord(rc, start.Add(150*time.Minute), "iam", "ListUsers", "us-east-1", "c", true))
			var keys []string
			client, bucket := rvClient(rc), rc.w.Gateway.TrailBucket()
			eachLogFile(t, client, bucket, "/CloudTrail-Digest/us-east-1/", func(key *string) { keys = append(keys, *key) })
			if len(keys) < 2 || tc.name == "middle" && len(keys) < 3 {
				t.Fatalf("%d digests of us-east-1, want one an hour from the first file's on: %v", len(keys), keys)
			}
			slices.Sort(keys) // (one trail: the names differ in their time alone)
			dropped := tc.drop(keys)
			for _, k := range dropped {
				if _, err := client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
					t.Fatal(err)
				}
			}
			// The first digest taken out covers the hour before the time
			// in its name: the break begins there.
			name := strings.TrimSuffix(dropped[0], ".json.gz")
			end, err := time.Parse("20060102T150405Z", name[strings.LastIndexByte(name, '_')+1:])
			if err != nil {
				t.Fatal(err)
			}
			trail := rc.investigate(t, awsops.PathTrail)
			if !slices.ContainsFunc(trail.Gaps, func(g awsops.Gap) bool {
				return g.Region == "us-east-1" && strings.Contains(g.Reason, "no digest file of ") && g.From.Equal(end.Add(-time.Hour)) && g.To.After(g.From)
			}) {
				t.Fatalf("no gap of us-east-1 says that no digest covers the time from %s\n%s", end.Add(-time.Hour), rvReport(trail))
			}
		})
	}
}

// TestTrailDigestsExpectedAreSaid: the trail validates its log files, but
// the bucket holds no digest file (taken out, folder and all): the report
// says that the digests it should hold are not there. The same bucket
// written by a trail without validation is not doubted.
func TestTrailDigestsExpectedAreSaid(t *testing.T) {
	for _, validating := range []bool{true, false} {
		t.Run(fmt.Sprintf("validating=%v", validating), func(t *testing.T) {
			rc := newRoundCase(t)
			ct := cloudtrail.NewFromConfig(rc.w.Config("us-east-1", rc.w.Admin(world.DefaultAccount)))
			rvTrail(t, ct, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String(rc.w.Gateway.TrailBucket()),
				IsMultiRegionTrail: aws.Bool(true), EnableLogFileValidation: aws.Bool(validating)})
			rvReplay(t, rc, rvWrites(rc)...)
			trail := rc.investigate(t, awsops.PathTrail)
			said := slices.ContainsFunc(trail.Gaps, func(g awsops.Gap) bool {
				return g.Region == "us-east-1" && strings.Contains(g.Reason, "log file validation is on for arn:aws:cloudtrail:us-east-1:"+world.DefaultAccount+":trail/main")
			})
			if said != validating {
				t.Fatalf("a gap says the digests are missing: %v, want %v\n%s", said, validating, rvReport(trail))
			}
		})
	}
}

// TestTrailDigestsOnTheAthenaPath: the same case as
// TestTrailDigestNamesTheFileTakenOut (a log file of eu-west-1 holding a
// RunInstances is taken out; the trail's digests name it), but the
// account goes through Athena, which names only files that are there:
// the digests name the one taken out, and LookupEvents reads its span.
func TestTrailDigestsOnTheAthenaPath(t *testing.T) {
	rc := newRoundCase(t)
	rc.athenaWorkgroup(t)
	rc.w.Gateway.EnableTrailDigests(worldTrail, "us-east-1")
	projectedTable(t, rc)
	dropped, at := digestCase(t, rc)
	scriptAthenaFromBucket(t, rc)
	lookup := rc.investigate(t, awsops.PathLookup)
	ath := rc.investigateAthena(t)
	if got, want := sessionEvents(ath, rc.leaked), sessionEvents(lookup, rc.leaked); got != want {
		t.Errorf("leaked key's calls: athena path %d, LookupEvents path %d (the file taken out, %s, holds the RunInstances at %s)", got, want, dropped, at)
	}
	if ath.Trail == nil || ath.Trail.MissingFiles != 1 {
		t.Errorf("athena path trail read %+v: want the digests read and the file taken out (%s) found missing", ath.Trail, dropped)
	}
}

// TestTrailDigestsAllThereOnTheAthenaPath: the trail validates its log
// files and every digest is in the bucket; nothing is taken out. Neither
// path says the digests are missing.
func TestTrailDigestsAllThereOnTheAthenaPath(t *testing.T) {
	rc := newRoundCase(t)
	rc.athenaWorkgroup(t)
	ct := cloudtrail.NewFromConfig(rc.w.Config("us-east-1", rc.w.Admin(world.DefaultAccount)))
	rvTrail(t, ct, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String(rc.w.Gateway.TrailBucket()),
		IsMultiRegionTrail: aws.Bool(true), EnableLogFileValidation: aws.Bool(true)})
	rc.w.Gateway.EnableTrailDigests("main", "us-east-1")
	var recs = rvWrites(rc)
	for i := range 12 {
		recs = append(recs, rvRecord(rc, rc.t0.Add(time.Duration(i)*5*time.Minute), "iam", "ListUsers", "us-east-1", "l"+string(rune('a'+i)), true))
	}
	projectedTable(t, rc)
	rvReplay(t, rc, recs...)
	scriptAthenaFromBucket(t, rc)
	trail := rc.investigate(t, awsops.PathTrail)
	ath := rc.investigateAthena(t)
	for name, inv := range map[string]*awsops.Investigation{"trail": trail, "athena": ath} {
		for _, g := range inv.Gaps {
			if strings.Contains(g.Reason, "the bucket holds no digest file") {
				t.Errorf("%s path (digests read: %+v): false gap %q", name, inv.Trail, g.Reason)
			}
		}
	}
}

// projectedTable creates keyleak's table as deploy/aws/athena.yaml does,
// projecting the world's account and both regions of the round case.
func projectedTable(t *testing.T, rc roundCase) {
	t.Helper()
	gc := glue.NewFromConfig(rc.w.Config("us-east-1", rc.w.Admin(world.DefaultAccount)))
	if _, err := gc.CreateDatabase(t.Context(), &glue.CreateDatabaseInput{DatabaseInput: &gluetypes.DatabaseInput{Name: aws.String(awsops.DefaultAthenaDatabase)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := gc.CreateTable(t.Context(), &glue.CreateTableInput{DatabaseName: aws.String(awsops.DefaultAthenaDatabase), TableInput: &gluetypes.TableInput{
		Name: aws.String(awsops.DefaultAthenaTable),
		Parameters: map[string]string{"projection.enabled": "true",
			"projection.account.type": "enum", "projection.account.values": world.DefaultAccount,
			"projection.region.type": "enum", "projection.region.values": "us-east-1,eu-west-1",
			"projection.timestamp.type": "date", "projection.timestamp.format": "yyyy/MM/dd", "projection.timestamp.range": "2020/01/01,NOW",
			"storage.location.template": "s3://" + rc.w.Gateway.TrailBucket() + "/AWSLogs/${account}/CloudTrail/${region}/${timestamp}"},
	}}); err != nil {
		t.Fatal(err)
	}
}

// scriptAthenaFromBucket has the world's Athena answer the pass's
// queries from what the trail bucket holds.
func scriptAthenaFromBucket(t *testing.T, rc roundCase) {
	t.Helper()
	oracle := newAthenaOracle(t, rvClient(rc), rc.w.Gateway.TrailBucket())
	for range 16 {
		rc.w.Gateway.ScriptAthena(world.AthenaScript{Match: "AS minted", Running: 1, Answer: oracle.keyObjects})
	}
	rc.w.Gateway.ScriptAthena(world.AthenaScript{Match: "sourceipaddress IN", Running: 1, Answer: oracle.ipSeen})
}
