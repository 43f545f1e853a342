package awsops

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
)

// Cost check defaults.
const (
	DefaultBaselineDays = 14   // trailing days the window is compared with
	DefaultMinSpike     = 10.0 // a day-service-region below this amount is never a spike
	spikeFactor         = 3.0  // a spike is at least this many times the baseline
	maxCostDays         = 60   // the window is cut to this many days back
	costMetric          = "UnblendedCost"
)

// CostReport compares daily cost by service and region over an
// incident's window with a trailing baseline. All amounts are Cost
// Explorer estimates: data lags by hours and recent days are not final.
type CostReport struct {
	Account string `json:"account"`
	// Start and End bound the window as dates (End exclusive);
	// BaselineStart starts the baseline, which ends at Start.
	Start         string `json:"start"`
	End           string `json:"end"`
	BaselineStart string `json:"baseline_start"`
	Currency      string `json:"currency"`
	// WindowTotal sums the window; the averages are per day.
	WindowTotal          float64 `json:"window_total"`
	WindowDailyAverage   float64 `json:"window_daily_average"`
	BaselineDailyAverage float64 `json:"baseline_daily_average"`
	// Top are the window's largest service-region totals.
	Top    []CostLine  `json:"top"`
	Spikes []CostSpike `json:"spikes"`
	// Estimated is true: these numbers are estimates. UnfinalDays counts
	// the days Cost Explorer marks as not yet final.
	Estimated   bool      `json:"estimated"`
	UnfinalDays int       `json:"unfinal_days"`
	RetrievedAt time.Time `json:"retrieved_at"`
	Requests    int       `json:"requests"` // GetCostAndUsage pages, $0.01 each
}

// CostLine is an amount for one service in one region.
type CostLine struct {
	Service string  `json:"service"`
	Region  string  `json:"region"`
	Amount  float64 `json:"amount"`
}

// CostSpike is one day's cost of a service in a region far above its
// baseline. Factor is 0 when the baseline had no spend at all.
type CostSpike struct {
	Day      string  `json:"day"`
	Service  string  `json:"service"`
	Region   string  `json:"region"`
	Amount   float64 `json:"amount"`
	Baseline float64 `json:"baseline_daily"`
	Factor   float64 `json:"factor"`
	Final    bool    `json:"final"`
}

// CostCache keeps Cost Explorer results per account and window, so a
// chat refresh never pays for a new query. The zero value is not usable;
// use NewCostCache.
type CostCache struct {
	BaselineDays int
	MinSpike     float64

	mu      sync.Mutex
	reports map[string]*CostReport
}

// NewCostCache returns an empty cache with the default baseline.
func NewCostCache() *CostCache {
	return &CostCache{BaselineDays: DefaultBaselineDays, MinSpike: DefaultMinSpike, reports: map[string]*CostReport{}}
}

// Get returns the cost report of account over [from, to], from the cache
// when the same window was asked before.
func (cc *CostCache) Get(ctx context.Context, c *Client, account string, from, to time.Time) (*CostReport, error) {
	start, end, base := costDates(from, to, cc.BaselineDays)
	id := account + "/" + start + "/" + end + "/" + base
	cc.mu.Lock()
	r, ok := cc.reports[id]
	cc.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := c.costReport(ctx, account, start, end, base, cc.MinSpike)
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	cc.reports[id] = r
	cc.mu.Unlock()
	return r, nil
}

const oneDay = 24 * time.Hour

// costDates returns the window's first day, its exclusive end and the
// baseline's first day.
func costDates(from, to time.Time, baselineDays int) (start, end, base string) {
	first := from.UTC().Truncate(oneDay)
	last := to.UTC().Truncate(oneDay)
	if last.Sub(first) > maxCostDays*oneDay {
		first = last.Add(-maxCostDays * oneDay)
	}
	if baselineDays <= 0 {
		baselineDays = DefaultBaselineDays
	}
	const layout = "2006-01-02"
	return first.Format(layout), last.Add(oneDay).Format(layout), first.Add(-time.Duration(baselineDays) * oneDay).Format(layout)
}

// costReport queries ce:GetCostAndUsage once (all pages) over baseline
// and window, daily, grouped by SERVICE and REGION.
func (c *Client) costReport(ctx context.Context, account, start, end, base string, minSpike float64) (*CostReport, error) {
	ce, err := c.costClient(ctx, account)
	if err != nil {
		return nil, fmt.Errorf("cost of account %s: %w", account, err)
	}
	r := &CostReport{Account: account, Start: start, End: end, BaselineStart: base, Estimated: true, RetrievedAt: c.Now().UTC()}
	type cell struct{ day, service, region string }
	amounts := map[cell]float64{}
	final := map[string]bool{}
	in := &costexplorer.GetCostAndUsageInput{
		TimePeriod:  &cetypes.DateInterval{Start: aws.String(base), End: aws.String(end)},
		Granularity: cetypes.GranularityDaily, Metrics: []string{costMetric},
		GroupBy: []cetypes.GroupDefinition{{Type: cetypes.GroupDefinitionTypeDimension, Key: aws.String("SERVICE")},
			{Type: cetypes.GroupDefinitionTypeDimension, Key: aws.String("REGION")}},
	}
	for {
		out, err := ce.GetCostAndUsage(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("cost of account %s (ce:GetCostAndUsage %s to %s): %s", account, base, end, describeAWSError(err))
		}
		r.Requests++
		for _, rt := range out.ResultsByTime {
			d := aws.ToString(rt.TimePeriod.Start)
			final[d] = !rt.Estimated
			add := func(service, region string, m map[string]cetypes.MetricValue) {
				v, ok := m[costMetric]
				if !ok {
					return
				}
				f, _ := strconv.ParseFloat(aws.ToString(v.Amount), 64)
				amounts[cell{d, service, region}] += f
				r.Currency = cmp.Or(r.Currency, aws.ToString(v.Unit))
			}
			for _, g := range rt.Groups {
				keys := append(slices.Clone(g.Keys), "", "")
				add(keys[0], keys[1], g.Metrics)
			}
			if len(rt.Groups) == 0 {
				add("(total)", "", rt.Total)
			}
		}
		if out.NextPageToken == nil {
			break
		}
		in.NextPageToken = out.NextPageToken
	}
	type group struct{ service, region string }
	baseline, window := map[group]float64{}, map[group]float64{}
	baseDays, windowDays := daysBetween(base, start), daysBetween(start, end)
	for k, v := range amounts {
		g := group{k.service, k.region}
		if k.day < start {
			baseline[g] += v
			r.BaselineDailyAverage += v / float64(baseDays)
		} else if k.day < end {
			window[g] += v
			r.WindowTotal += v
		}
	}
	for d, f := range final {
		if d >= start && !f {
			r.UnfinalDays++
		}
	}
	r.WindowDailyAverage = r.WindowTotal / float64(windowDays)
	for k, v := range amounts {
		if k.day < start || k.day >= end || v < minSpike {
			continue
		}
		b := baseline[group{k.service, k.region}] / float64(baseDays)
		switch {
		case b < 0.01:
			r.Spikes = append(r.Spikes, CostSpike{Day: k.day, Service: k.service, Region: k.region, Amount: v, Final: final[k.day]})
		case v/b >= spikeFactor:
			r.Spikes = append(r.Spikes, CostSpike{Day: k.day, Service: k.service, Region: k.region, Amount: v, Baseline: b, Factor: v / b, Final: final[k.day]})
		}
	}
	slices.SortFunc(r.Spikes, func(a, b CostSpike) int {
		return cmp.Or(cmp.Compare(b.Amount, a.Amount), cmp.Compare(a.Day, b.Day), cmp.Compare(a.Service, b.Service))
	})
	for g, v := range window {
		r.Top = append(r.Top, CostLine{Service: g.service, Region: g.region, Amount: v})
	}
	slices.SortFunc(r.Top, func(a, b CostLine) int {
		return cmp.Or(cmp.Compare(b.Amount, a.Amount), cmp.Compare(a.Service, b.Service), cmp.Compare(a.Region, b.Region))
	})
	r.Top = r.Top[:min(len(r.Top), 10)]
	r.Currency = cmp.Or(r.Currency, "USD")
	return r, nil
}

func daysBetween(a, b string) int {
	ta, _ := time.Parse("2006-01-02", a)
	tb, _ := time.Parse("2006-01-02", b)
	return max(int(tb.Sub(ta)/oneDay), 1)
}
