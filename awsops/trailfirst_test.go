package awsops_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/scenario"
	"github.com/keyleak/keyleak/test/world"
)

// TestTrailEmptyRegionFallsBack removes from the bucket the log files of
// the region where the leaked key was busiest: the plan reads exactly
// that region through LookupEvents, says why, and the answers are those
// of the LookupEvents path.
func TestTrailEmptyRegionFallsBack(t *testing.T) {
	moto := world.NewMotoTB(t)
	s := scenario.All()[0]
	w, run, _ := playScenario(t, moto, s)
	lookup := investigateRun(t, w, run, awsops.PathLookup)
	busiest := ""
	for _, sess := range lookup.Sessions {
		if sess.AccessKeyID == run.Target.Leaked.AccessKeyID && len(sess.Activity.Regions) > 0 {
			busiest = sess.Activity.Regions[0].Name
		}
	}
	if busiest == "" {
		t.Fatal("the leaked key has no activity to take from the bucket")
	}
	client := s3.NewFromConfig(w.Config("us-east-1", w.Admin(run.Target.Account)), func(o *s3.Options) { o.UsePathStyle = true })
	prefix := "AWSLogs/" + run.Target.Account + "/CloudTrail/" + busiest + "/"
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(run.Target.TrailBucket), Prefix: aws.String(prefix)})
	removed := 0
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			if _, err := client.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(run.Target.TrailBucket), Key: o.Key}); err != nil {
				t.Fatal(err)
			}
			removed++
		}
	}
	if removed == 0 {
		t.Fatalf("no log file under %s to remove", prefix)
	}

	// Both paths now read what the bucket holds for data events, which
	// LookupEvents does not return.
	lookup = investigateRun(t, w, run, awsops.PathLookup)
	trail := investigateRun(t, w, run, "")
	if trail.Plan[0].Path != awsops.PathTrail {
		t.Fatalf("the planner chose %s: %s", trail.Plan[0].Path, trail.Plan[0].Reason)
	}
	i := slices.IndexFunc(trail.Plan, func(p awsops.PlanPart) bool {
		return p.Account == run.Target.Account && p.Region == busiest && p.Path == awsops.PathLookup
	})
	if i < 0 {
		t.Fatalf("the plan has no LookupEvents part for %s, whose files were removed: %+v", busiest, trail.Plan)
	}
	if !strings.Contains(trail.Plan[i].Reason, "no log file of this region") {
		t.Errorf("the part for %s says %q, want why", busiest, trail.Plan[i].Reason)
	}
	for _, st := range trail.Sweep {
		if st.Account == run.Target.Account && st.Region == busiest && st.Events == 0 {
			t.Errorf("LookupEvents read nothing in %s: %+v", busiest, st)
		}
	}
	sameAnswers(t, lookup, trail)
}
