package awsops_test

import (
	"fmt"
	"math"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// heavyKey is a world where one leaked key made 2,600 calls in 17 regions
// in an hour and minted 10 sessions that worked in three regions each; a
// multi-region trail delivers it all to the bucket.
type heavyKey struct {
	w      *world.World
	leaked world.Credentials
	now    time.Time
	// perRegion counts, per region, the events of each tracked key: the
	// work LookupEvents would have to page through.
	perRegion map[string]map[string]int
	events    int
	digests   bool // the trail delivers digest files
}

func newHeavyKey(b *testing.B) *heavyKey {
	b.Helper()
	ctx := b.Context()
	w := world.Start(b)
	acct := world.DefaultAccount
	// KEYLEAK_BENCH_DIGESTS=1: the trail validates its log files, and the
	// pass reads the digest files too.
	digests := os.Getenv("KEYLEAK_BENCH_DIGESTS") == "1"
	h := &heavyKey{w: w, now: time.Now(), digests: digests}
	h.leaked = newLeakedUser(b, w, acct, "ci-deploy-user")
	admin := iam.NewFromConfig(w.Config("us-east-1", w.Admin(acct)))
	if _, err := admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("ci-deploy-user"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}); err != nil {
		b.Fatal(err)
	}
	role, err := admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("deploy"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := admin.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("deploy"),
		PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}); err != nil {
		b.Fatal(err)
	}
	s3c := s3.NewFromConfig(w.Config("us-east-1", w.Admin(acct)), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(w.Gateway.TrailBucket())}); err != nil {
		b.Fatal(err)
	}
	ct := cloudtrail.NewFromConfig(w.Config("us-east-1", w.Admin(acct)))
	if _, err := ct.CreateTrail(ctx, &cloudtrail.CreateTrailInput{Name: aws.String("org-trail"), S3BucketName: aws.String(w.Gateway.TrailBucket()),
		IsMultiRegionTrail: aws.Bool(true), IncludeGlobalServiceEvents: aws.Bool(true), EnableLogFileValidation: aws.Bool(digests)}); err != nil {
		b.Fatal(err)
	}
	if digests {
		w.Gateway.EnableTrailDigests("org-trail", "us-east-1") // the pass reads the digests too
	}
	if _, err := ct.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String("org-trail")}); err != nil {
		b.Fatal(err)
	}
	regions := []string{"ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
		"ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1", "us-east-2", "us-west-1", "us-west-2"}
	// As in the real incident this mirrors (2,600 events in 55 files of
	// one account's trail): an hour of heavy use, two hours before the
	// investigation, its sessions expired since.
	from, to := h.now.Add(-3*time.Hour), h.now.Add(-2*time.Hour)
	backfill(b, w, h.leaked, []string{"us-east-1"}, 2000, from, to)
	backfill(b, w, h.leaked, regions, 38, from, to)
	// Ten sessions of 15 minutes, minted 4 minutes apart, each working in
	// three regions.
	for i := range 10 {
		at := from.Add(time.Duration(i) * 4 * time.Minute)
		var tick atomic.Int64
		clock := func() time.Time { return at.Add(time.Duration(tick.Add(1)) * time.Second) }
		out, err := sts.NewFromConfig(w.Config("us-east-1", h.leaked, world.WithEventTime(clock))).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: role.Role.Arn, RoleSessionName: aws.String(fmt.Sprintf("deploy-%d", i)), DurationSeconds: aws.Int32(900)})
		if err != nil {
			b.Fatal(err)
		}
		creds := world.Credentials{AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
			SessionToken: aws.ToString(out.Credentials.SessionToken)}
		for _, r := range []string{regions[i], regions[i+3], "us-east-1"} {
			c := sts.NewFromConfig(w.Config(r, creds, world.WithEventTime(clock)))
			for range 5 {
				if _, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	if err := w.Gateway.FlushTrail(ctx); err != nil {
		b.Fatal(err)
	}
	keys := map[string]bool{h.leaked.AccessKeyID: true}
	h.perRegion = map[string]map[string]int{}
	for _, r := range w.Gateway.Events() {
		if r.EventName == "AssumeRole" && r.UserIdentity.AccessKeyID == h.leaked.AccessKeyID {
			if c, ok := r.ResponseElements["credentials"].(map[string]any); ok {
				keys[fmt.Sprint(c["accessKeyId"])] = true
			}
		}
	}
	for _, r := range w.Gateway.Events() {
		if k := r.UserIdentity.AccessKeyID; keys[k] && r.EventCategory != "Data" {
			if h.perRegion[r.AWSRegion] == nil {
				h.perRegion[r.AWSRegion] = map[string]int{}
			}
			h.perRegion[r.AWSRegion][k]++
			h.events++
		}
	}
	if len(keys) != 11 {
		b.Fatalf("%d tracked keys in the ground truth, want the key and 10 sessions", len(keys))
	}
	return h
}

// lookupLimit is the least time LookupEvents needs for the same work: in
// every region each key needs at least one call and a call per 50 events,
// at LookupRate calls per second; regions run side by side.
func (h *heavyKey) lookupLimit(keys int) time.Duration {
	var worst float64
	calls := map[string]float64{}
	for region, byKey := range h.perRegion {
		for _, n := range byKey {
			calls[region] += max(1, math.Ceil(float64(n)/50))
		}
	}
	for _, c := range calls {
		// The keys with no event in a region still cost a call there.
		worst = max(worst, c)
	}
	worst = max(worst, float64(keys))
	return time.Duration(worst / awsops.LookupRate * float64(time.Second))
}

// BenchmarkHeavyKeyTrailFirst investigates the heavy key trail first and
// prints, beside its time (the median of the runs, each as a new incident
// finds the account: the runs before it leave LookupEvents' throttle
// empty, so each waits 2 s for it to fill first), the physical limit of the
// LookupEvents path for the same work. Run with -benchtime=3x (the world
// takes a minute to fill).
func BenchmarkHeavyKeyTrailFirst(b *testing.B) {
	h := newHeavyKey(b)
	c := awsops.NewFromConfig(h.w.Config("us-east-1", h.w.Admin(world.DefaultAccount)), awsops.Options{})
	key, _ := awsops.ParseAccessKeyID(h.leaked.AccessKeyID)
	limit := h.lookupLimit(11)
	b.Logf("%d events of 11 keys in %d regions; LookupEvents physical limit %s", h.events, len(h.perRegion), limit.Round(100*time.Millisecond))
	var runs []time.Duration
	b.ResetTimer()
	for i := range b.N {
		if i > 0 {
			b.StopTimer()
			time.Sleep(2 * time.Second) // LookupEvents' budget, spent by the run before, fills again
			b.StartTimer()
		}
		inv, err := c.Investigate(b.Context(), key, awsops.InvestigateOptions{Since: h.now.Add(-4 * time.Hour), TrailBucket: h.w.Gateway.TrailBucket()})
		if err != nil {
			b.Fatal(err)
		}
		took := inv.FinishedAt.Sub(inv.StartedAt)
		if inv.Plan[0].Path != awsops.PathTrail {
			b.Fatalf("the planner chose %s: %s", inv.Plan[0].Path, inv.Plan[0].Reason)
		}
		if len(inv.Sessions) != 11 || inv.Activity.Events != h.events {
			b.Errorf("%d sessions and %d events, want 11 and %d", len(inv.Sessions), inv.Activity.Events, h.events)
		}
		if (inv.Trail.Digests == 0) == h.digests || inv.Trail.MissingFiles != 0 {
			b.Errorf("%d digest files read, %d log files missing, want digests read (%v) and none missing", inv.Trail.Digests, inv.Trail.MissingFiles, h.digests)
		}
		lookups := 0
		for _, st := range inv.Sweep {
			lookups += st.Requests
		}
		b.Logf("trail first: %s, the pass %s (%d files, %d rescanned, %d digest files, %d LookupEvents calls for the undelivered minutes and the cross-check); plan: %s",
			took.Round(10*time.Millisecond), inv.Trail.Elapsed.Round(10*time.Millisecond), inv.Trail.Objects, inv.Trail.Rescanned, inv.Trail.Digests, lookups, inv.Plan[0].Reason)
		runs = append(runs, took)
	}
	slices.Sort(runs)
	median := runs[len(runs)/2]
	b.ReportMetric(median.Seconds(), "s/investigation")
	b.ReportMetric(runs[len(runs)-1].Seconds(), "s-slowest")
	b.ReportMetric(limit.Seconds(), "s-lookup-limit")
	b.ReportMetric(limit.Seconds()/median.Seconds(), "x-faster")
}
