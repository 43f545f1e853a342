package awsops_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// newLeakedUser creates a user with a key in account, as its admin.
func newLeakedUser(tb testing.TB, w *world.World, account, name string) world.Credentials {
	tb.Helper()
	ic := iam.NewFromConfig(w.Config("us-east-1", w.Admin(account)))
	if _, err := ic.CreateUser(tb.Context(), &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		tb.Fatalf("create user %s: %v", name, err)
	}
	out, err := ic.CreateAccessKey(tb.Context(), &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		tb.Fatalf("create key of %s: %v", name, err)
	}
	return world.Credentials{AccessKeyID: aws.ToString(out.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(out.AccessKey.SecretAccessKey)}
}

// backfill records n sts:GetCallerIdentity calls by creds in each region,
// their event times spread evenly over [from, to), from 16 goroutines.
func backfill(tb testing.TB, w *world.World, creds world.Credentials, regions []string, n int, from, to time.Time) {
	tb.Helper()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, region := range regions {
		var next atomic.Int64
		step := to.Sub(from) / time.Duration(n)
		at := func() time.Time { return from.Add(step * time.Duration(next.Add(1)-1)) }
		client := sts.NewFromConfig(w.Config(region, creds, world.WithSourceIP("203.0.113.9"), world.WithEventTime(at)))
		var issued atomic.Int64
		for range 16/len(regions) + 1 {
			wg.Go(func() {
				for issued.Add(1) <= int64(n) {
					if _, err := client.GetCallerIdentity(tb.Context(), &sts.GetCallerIdentityInput{}); err != nil {
						failed.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		tb.Fatalf("backfill: %d calls failed", f)
	}
}

// countEvents is the ground truth: the recorded management events of key.
func countEvents(w *world.World, key string) int {
	n := 0
	for _, r := range w.Gateway.Events() {
		if r.UserIdentity.AccessKeyID == key && r.EventCategory != "Data" {
			n++
		}
	}
	return n
}

// TestSweepUnderLatencyFindsEveryEvent: with 700 ms per call, the region's
// chains share the budget and every event is found exactly once. The rate
// they reach is measured by BenchmarkSweepUnderLatency; the pacing
// decisions are tested on a simulated clock in pacer_test.go.
func TestSweepUnderLatencyFindsEveryEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 15 s: run without -short")
	}
	w := world.Start(t)
	leaked := newLeakedUser(t, w, world.DefaultAccount, "ci-deploy-user")
	now := time.Now()
	backfill(t, w, leaked, []string{"eu-west-1"}, 1000, now.Add(-48*time.Hour), now.Add(-time.Hour))
	w.Gateway.SetFault("cloudtrail", world.Fault{Delay: 700 * time.Millisecond})
	c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{})
	key, _ := awsops.ParseAccessKeyID(leaked.AccessKeyID)
	inv, err := c.Investigate(t.Context(), key, awsops.InvestigateOptions{Since: now.Add(-72 * time.Hour), Regions: []string{"eu-west-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := inv.Activity.Events, countEvents(w, leaked.AccessKeyID); got != want {
		t.Errorf("events found = %d, want %d", got, want)
	}
	st := inv.Sweep[0]
	t.Logf("sweep: %+v", st)
	if st.Failed != 0 {
		t.Errorf("%d calls failed, want none", st.Failed)
	}
	for _, g := range inv.Gaps {
		if g.Step == awsops.StepCloudTrail {
			t.Errorf("gap in the sweep: %+v", g)
		}
	}
	if st.Pages < 20 {
		t.Errorf("%d pages for 1000 events: want at least 20", st.Pages)
	}
}

func TestSweepSurvivesAThrottlingStorm(t *testing.T) {
	_, inv := sweepUnderFault(t, "cloudtrail", world.Fault{ThrottleRate: 0.4})
	if inv.Sweep[0].Throttled == 0 {
		t.Error("no throttled call counted although 40% were throttled")
	}
}

// TestSweepSurvivesBrokenAnswers: half the LookupEvents answers break
// off halfway (a connection reset under a success, as a network or proxy
// may do): the calls are made again and every event is found.
func TestSweepSurvivesBrokenAnswers(t *testing.T) {
	// (One operation, and one key's pages, read in order: the faults'
	// draws, seeded, fall the same way on every run.)
	w, inv := sweepUnderFault(t, "cloudtrail:LookupEvents", world.Fault{BreakRate: 0.5})
	served := 0
	for _, r := range w.Gateway.Events() {
		if r.EventName == "LookupEvents" && r.ErrorCode == "" {
			served++
		}
	}
	if pages := inv.Sweep[0].Pages; served <= pages {
		t.Errorf("%d LookupEvents answers served for %d pages: no answer broke, and the test showed nothing", served, pages)
	}
}

// sweepUnderFault investigates a key with 240 events in us-east-1 while
// the world applies fault to service, and checks that every event is
// found with no gap in the sweep.
func sweepUnderFault(t *testing.T, service string, fault world.Fault) (*world.World, *awsops.Investigation) {
	t.Helper()
	w := world.Start(t)
	leaked := newLeakedUser(t, w, world.DefaultAccount, "ci-deploy-user")
	now := time.Now()
	backfill(t, w, leaked, []string{"us-east-1"}, 240, now.Add(-5*time.Hour), now.Add(-time.Hour))
	w.Gateway.SetFault(service, fault)
	c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{})
	key, _ := awsops.ParseAccessKeyID(leaked.AccessKeyID)
	inv, err := c.Investigate(t.Context(), key, awsops.InvestigateOptions{Since: now.Add(-6 * time.Hour), Regions: []string{"us-east-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := inv.Activity.Events, countEvents(w, leaked.AccessKeyID); got != want {
		t.Errorf("events found = %d, want %d", got, want)
	}
	for _, g := range inv.Gaps {
		if g.Step == awsops.StepCloudTrail {
			t.Errorf("gap after retries: %+v", g)
		}
	}
	return w, inv
}

func TestSweepReportsARegionThatTimesOut(t *testing.T) {
	w := world.Start(t)
	leaked := newLeakedUser(t, w, world.DefaultAccount, "ci-deploy-user")
	w.Gateway.SetFault("cloudtrail", world.Fault{Delay: 2 * time.Second})
	c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{})
	key, _ := awsops.ParseAccessKeyID(leaked.AccessKeyID)
	inv, err := c.Investigate(t.Context(), key, awsops.InvestigateOptions{Regions: []string{"ap-south-1"}, CallTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Identity.UserName != "ci-deploy-user" {
		t.Errorf("identity lost with the sweep: %+v", inv.Identity)
	}
	found := false
	for _, g := range inv.Gaps {
		if g.Step == awsops.StepCloudTrail && g.Region == "ap-south-1" && strings.Contains(g.Reason, "timed out") {
			found = true
		}
	}
	if !found {
		t.Errorf("gaps = %+v, want ap-south-1 timed out", inv.Gaps)
	}
	if !strings.Contains(strings.Join(inv.Summary(), "\n"), "INCOMPLETE") {
		t.Errorf("summary does not say the report is incomplete: %q", inv.Summary())
	}
}

func TestSweepStopsWithTheContext(t *testing.T) {
	w := world.Start(t)
	leaked := newLeakedUser(t, w, world.DefaultAccount, "ci-deploy-user")
	// CloudTrail answers after an hour: only the context can end the sweep.
	w.Gateway.SetFault("cloudtrail", world.Fault{Delay: time.Hour})
	c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{})
	key, _ := awsops.ParseAccessKeyID(leaked.AccessKeyID)
	ctx, cancel := context.WithCancel(t.Context())
	type result struct {
		inv *awsops.Investigation
		err error
	}
	done := make(chan result, 1)
	go func() {
		inv, err := c.Investigate(ctx, key, awsops.InvestigateOptions{Regions: []string{"us-east-1", "eu-west-1"}})
		done <- result{inv, err}
	}()
	time.Sleep(time.Second) // let the sweep start its calls
	cancel()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) || r.inv == nil || len(r.inv.Gaps) == 0 {
			t.Fatalf("investigate = gaps %v, err %v: want a partial report and the context's error", r.inv, r.err)
		}
	case <-time.After(time.Minute): // a guard against a hang, not a speed check
		t.Fatal("the sweep went on for a minute after its context ended")
	}
}

// BenchmarkSweep8Regions sweeps ~20,000 events of one key spread over 8
// regions and ten days, and reports the achieved LookupEvents rate per
// region against the 2/s budget. Run with -benchtime=1x: one sweep takes
// about half a minute, the backfill about as long.
func BenchmarkSweep8Regions(b *testing.B) {
	for _, mode := range []world.Throttle{world.TokenBucket, world.SlidingWindow} {
		b.Run(strings.ReplaceAll(mode.String(), " ", "-"), func(b *testing.B) { benchmarkSweep8Regions(b, mode) })
	}
}

func benchmarkSweep8Regions(b *testing.B, mode world.Throttle) {
	regions := []string{"us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1"}
	w := world.Start(b)
	w.Gateway.SetLookupThrottle(mode)
	leaked := newLeakedUser(b, w, world.DefaultAccount, "ci-deploy-user")
	now := time.Now()
	start := time.Now()
	backfill(b, w, leaked, regions, 2500, now.Add(-10*24*time.Hour), now.Add(-time.Minute))
	b.Logf("backfilled %d events in %s", countEvents(w, leaked.AccessKeyID), time.Since(start).Round(time.Second))
	c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{})
	key, _ := awsops.ParseAccessKeyID(leaked.AccessKeyID)
	want := countEvents(w, leaked.AccessKeyID)
	b.ResetTimer()
	for range b.N {
		inv, err := c.Investigate(b.Context(), key, awsops.InvestigateOptions{Since: now.Add(-11 * 24 * time.Hour), Regions: regions})
		if err != nil {
			b.Fatal(err)
		}
		if inv.Activity.Events != want {
			b.Errorf("events = %d, want %d", inv.Activity.Events, want)
		}
		minRate, throttled, requests := float64(awsops.LookupRate), 0, 0
		for _, st := range inv.Sweep {
			b.Logf("%s %s: %d requests, %d pages, %d events, %.3f requests/s, %d throttled", mode, st.Region, st.Requests, st.Pages, st.Events, st.RequestsPerSecond, st.Throttled)
			minRate = min(minRate, st.RequestsPerSecond)
			throttled += st.Throttled
			requests += st.Requests
		}
		b.ReportMetric(minRate, "min-req/s/region")
		b.ReportMetric(100*float64(throttled)/float64(requests), "%throttled")
		b.ReportMetric(float64(requests), "requests")
		b.ReportMetric(inv.FinishedAt.Sub(inv.StartedAt).Seconds(), "s/investigation")
	}
}

// BenchmarkSweepUnderLatency sweeps 1,000 events of one key in one region
// through the world with 700 ms per LookupEvents call, under each way of
// counting the quota, and reports the achieved rate (budget ≥ 1.9/s, at
// most LookupRate) and the throttled share (budget under 1%).
// Run with -benchtime=1x.
func BenchmarkSweepUnderLatency(b *testing.B) {
	for _, mode := range []world.Throttle{world.TokenBucket, world.SlidingWindow} {
		b.Run(strings.ReplaceAll(mode.String(), " ", "-"), func(b *testing.B) {
			w := world.Start(b)
			w.Gateway.SetLookupThrottle(mode)
			leaked := newLeakedUser(b, w, world.DefaultAccount, "ci-deploy-user")
			now := time.Now()
			backfill(b, w, leaked, []string{"eu-west-1"}, 1000, now.Add(-48*time.Hour), now.Add(-time.Hour))
			w.Gateway.SetFault("cloudtrail", world.Fault{Delay: 700 * time.Millisecond})
			c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{})
			key, _ := awsops.ParseAccessKeyID(leaked.AccessKeyID)
			b.ResetTimer()
			for range b.N {
				inv, err := c.Investigate(b.Context(), key, awsops.InvestigateOptions{Since: now.Add(-72 * time.Hour), Regions: []string{"eu-west-1"}})
				if err != nil {
					b.Fatal(err)
				}
				st := inv.Sweep[0]
				b.Logf("%s: %d requests, %d throttled (%.2f%%), %.3f requests/s", mode, st.Requests, st.Throttled, 100*float64(st.Throttled)/float64(st.Requests), st.RequestsPerSecond)
				b.ReportMetric(st.RequestsPerSecond, "req/s")
				b.ReportMetric(100*float64(st.Throttled)/float64(st.Requests), "%throttled")
			}
		})
	}
}
