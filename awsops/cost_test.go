package awsops_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// costResults is one GetCostAndUsage answer: days of {service, region:
// amount}, the last one estimated.
func costResults(tb testing.TB, first time.Time, days []map[[2]string]float64) json.RawMessage {
	tb.Helper()
	var b strings.Builder
	b.WriteString(`{"ResultsByTime":[`)
	for i, d := range days {
		if i > 0 {
			b.WriteString(",")
		}
		day := first.AddDate(0, 0, i)
		fmt.Fprintf(&b, `{"TimePeriod":{"Start":%q,"End":%q},"Total":{},"Estimated":%v,"Groups":[`, day.Format(time.DateOnly), day.AddDate(0, 0, 1).Format(time.DateOnly), i == len(days)-1)
		n := 0
		for k, v := range d {
			if n > 0 {
				b.WriteString(",")
			}
			n++
			fmt.Fprintf(&b, `{"Keys":[%q,%q],"Metrics":{"UnblendedCost":{"Amount":"%.2f","Unit":"USD"}}}`, k[0], k[1], v)
		}
		b.WriteString("]}")
	}
	b.WriteString("]}")
	return json.RawMessage(b.String())
}

func TestCostSpikesAgainstBaseline(t *testing.T) {
	w := world.Start(t)
	ctx := t.Context()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	ec2 := [2]string{"Amazon Elastic Compute Cloud - Compute", "ap-southeast-1"}
	s3 := [2]string{"Amazon Simple Storage Service", "us-east-1"}
	lambda := [2]string{"AWS Lambda", "eu-west-1"}
	var days []map[[2]string]float64
	for range awsops.DefaultBaselineDays {
		days = append(days, map[[2]string]float64{ec2: 20, s3: 5})
	}
	days = append(days, map[[2]string]float64{ec2: 1400, s3: 5.5, lambda: 310})
	if err := w.Moto.SeedCostAndUsage(ctx, world.DefaultAccount, []json.RawMessage{costResults(t, today.AddDate(0, 0, -awsops.DefaultBaselineDays), days)}); err != nil {
		t.Fatal(err)
	}
	c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{})
	cache := awsops.NewCostCache()
	r, err := cache.Get(ctx, c, world.DefaultAccount, today.Add(2*time.Hour), today.Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Estimated || r.UnfinalDays != 1 {
		t.Errorf("estimated = %v, unfinal days = %d, want true and 1", r.Estimated, r.UnfinalDays)
	}
	if len(r.Spikes) != 2 {
		t.Fatalf("spikes = %+v, want EC2 and Lambda", r.Spikes)
	}
	if got := r.Spikes[0]; got.Service != ec2[0] || got.Region != ec2[1] || got.Amount != 1400 || math.Abs(got.Factor-70) > 0.01 || got.Baseline != 20 {
		t.Errorf("first spike = %+v, want EC2 in ap-southeast-1, 1400 = 70× 20", got)
	}
	if got := r.Spikes[1]; got.Service != lambda[0] || got.Factor != 0 || got.Amount != 310 {
		t.Errorf("second spike = %+v, want new Lambda spend of 310", got)
	}
	if math.Abs(r.WindowTotal-1715.5) > 0.001 || math.Abs(r.BaselineDailyAverage-25) > 0.001 {
		t.Errorf("window total %.2f, baseline %.2f/day, want 1715.50 and 25", r.WindowTotal, r.BaselineDailyAverage)
	}
	again, err := cache.Get(ctx, c, world.DefaultAccount, today.Add(time.Hour), today.Add(4*time.Hour))
	if err != nil || again != r {
		t.Errorf("second Get = %p, %v, want the cached %p", again, err, r)
	}
	calls := 0
	for _, e := range w.Gateway.Events() {
		if e.EventName == "GetCostAndUsage" {
			calls++
		}
	}
	if calls != 1 {
		t.Errorf("GetCostAndUsage called %d times, want 1 (cached)", calls)
	}
}
