package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// Cost Explorer service names.
const (
	ceEC2    = "Amazon Elastic Compute Cloud - Compute"
	ceS3     = "Amazon Simple Storage Service"
	ceRDS    = "Amazon Relational Database Service"
	ceLambda = "AWS Lambda"
)

// hourly is the Linux price per hour of the instance types the scenarios launch (on-demand;
// spot requests are charged at about a third).
var hourly = map[string]float64{"c5.4xlarge": 0.68, "p3.2xlarge": 3.06, "m5.large": 0.096}

const spotDiscount = 0.35

// baselineDays is how many normal days precede the spike day in the seeded data.
const baselineDays = 14

// baseline is the account's normal daily cost by service, all in us-east-1.
var baseline = map[string]float64{ceEC2: 212.40, ceS3: 18.30, ceRDS: 96.00, ceLambda: 1.20}

// costResultCopies is how many GetCostAndUsage answers are seeded: moto hands the queued
// results out one per distinct request body, so this many different queries see the data.
const costResultCopies = 4

// seedCost computes the spike of what the attacker launched (a day of every instance and
// spot request it started) and seeds Cost Explorer with it and the trailing baseline.
func (s *costAttack) seedCost(ctx context.Context, r *Run) error {
	spike := &CostSpike{Metric: "UnblendedCost", BaselineDays: baselineDays, Day: r.Start.Format(time.DateOnly),
		ByService: map[string]float64{}, ByRegion: map[string]float64{}}
	for _, v := range baseline {
		spike.BaselineDaily += v
	}
	for _, c := range r.attacker.all() {
		if c.ErrorCode != "" {
			continue
		}
		var usd float64
		switch out := c.Output.(type) {
		case *ec2.RunInstancesOutput:
			for _, in := range out.Instances {
				usd += hourly[string(in.InstanceType)] * 24
			}
		case *ec2.RequestSpotInstancesOutput:
			in := c.Input.(*ec2.RequestSpotInstancesInput)
			usd += hourly[string(in.LaunchSpecification.InstanceType)] * spotDiscount * 24 * float64(len(out.SpotInstanceRequests))
		default:
			continue
		}
		spike.ByService[ceEC2] = round(spike.ByService[ceEC2] + usd)
		spike.ByRegion[c.Region] = round(spike.ByRegion[c.Region] + usd)
		spike.Extra = round(spike.Extra + usd)
	}
	spike.DayTotal = round(spike.BaselineDaily + spike.Extra)
	spike.BaselineDaily = round(spike.BaselineDaily)
	body, err := costResult(spike)
	if err != nil {
		return err
	}
	results := make([]json.RawMessage, costResultCopies)
	for i := range results {
		results[i] = body
	}
	if err := r.World.Moto.SeedCostAndUsage(ctx, r.Target.Account, results); err != nil {
		return fmt.Errorf("seed cost and usage: %w", err)
	}
	r.cost = spike
	return nil
}

func round(v float64) float64 { return math.Round(v*100) / 100 }

// costResult is a GetCostAndUsage answer: daily UnblendedCost grouped by SERVICE and
// REGION, baselineDays normal days then the spike day (estimated).
func costResult(spike *CostSpike) (json.RawMessage, error) {
	day, err := time.Parse(time.DateOnly, spike.Day)
	if err != nil {
		return nil, fmt.Errorf("spike day: %w", err)
	}
	type amount struct {
		Amount string `json:"Amount"`
		Unit   string `json:"Unit"`
	}
	type group struct {
		Keys    []string          `json:"Keys"`
		Metrics map[string]amount `json:"Metrics"`
	}
	type result struct {
		TimePeriod map[string]string `json:"TimePeriod"`
		Total      map[string]amount `json:"Total"`
		Groups     []group           `json:"Groups"`
		Estimated  bool              `json:"Estimated"`
	}
	money := func(v float64) map[string]amount {
		return map[string]amount{spike.Metric: {Amount: fmt.Sprintf("%.2f", v), Unit: "USD"}}
	}
	var results []result
	for i := baselineDays; i >= 0; i-- {
		d := day.AddDate(0, 0, -i)
		cost := map[[2]string]float64{}
		for svc, v := range baseline {
			cost[[2]string{svc, "us-east-1"}] = v
		}
		if i == 0 {
			for region, v := range spike.ByRegion {
				cost[[2]string{ceEC2, region}] += v
			}
		}
		keys := make([][2]string, 0, len(cost))
		for k := range cost {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(a, b int) bool { return keys[a][0]+keys[a][1] < keys[b][0]+keys[b][1] })
		res := result{TimePeriod: map[string]string{"Start": d.Format(time.DateOnly), "End": d.AddDate(0, 0, 1).Format(time.DateOnly)},
			Total: map[string]amount{}, Estimated: i == 0}
		for _, k := range keys {
			res.Groups = append(res.Groups, group{Keys: []string{k[0], k[1]}, Metrics: money(cost[k])})
		}
		results = append(results, res)
	}
	b, err := json.Marshal(map[string]any{
		"GroupDefinitions":         []map[string]string{{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "REGION"}},
		"ResultsByTime":            results,
		"DimensionValueAttributes": []any{},
	})
	if err != nil {
		return nil, fmt.Errorf("encode cost and usage: %w", err)
	}
	return b, nil
}
