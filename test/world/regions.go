package world

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The commercial partition's regions as ec2:DescribeRegions lists them:
// those enabled in every account, and those an account must opt in to
// (https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html).
var (
	defaultRegions = []string{"ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
		"ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1",
		"us-east-1", "us-east-2", "us-west-1", "us-west-2"}
	optInRegions = []string{"af-south-1", "ap-east-1", "ap-east-2", "ap-south-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
		"ap-southeast-6", "ap-southeast-7", "ca-west-1", "eu-central-2", "eu-south-1", "eu-south-2", "il-central-1", "me-central-1", "me-south-1", "mx-central-1"}
)

// CommercialRegions lists every region of the commercial partition: those
// enabled in every account, then the opt-in ones.
func CommercialRegions() []string { return slices.Concat(defaultRegions, optInRegions) }

// optIns are the opt-in regions each account has enabled.
type optIns struct {
	mu      sync.Mutex
	enabled map[string][]string
}

// EnableRegion opts account in to an opt-in region, as an account owner
// does in the console (account:EnableRegion).
func (g *Gateway) EnableRegion(account, region string) {
	g.regions.mu.Lock()
	defer g.regions.mu.Unlock()
	if g.regions.enabled == nil {
		g.regions.enabled = map[string][]string{}
	}
	if !slices.Contains(g.regions.enabled[account], region) {
		g.regions.enabled[account] = append(g.regions.enabled[account], region)
	}
}

// serveDescribeRegions answers ec2:DescribeRegions as AWS does, which moto
// does not: the regions of the commercial partition only, each with its
// opt-in status in the caller's account; without AllRegions, only those
// the account has enabled. RegionName.N narrows the list.
func (g *Gateway) serveDescribeRegions(w http.ResponseWriter, c *call) {
	all := c.op.Params["allRegions"] == "true"
	var names []string
	for k, v := range c.op.Params {
		if s, ok := v.(string); ok && strings.HasPrefix(k, "regionName.") {
			names = append(names, s)
		}
	}
	g.regions.mu.Lock()
	enabled := slices.Clone(g.regions.enabled[c.account])
	g.regions.mu.Unlock()
	var items strings.Builder
	add := func(region, status string) {
		if (!all && status == "not-opted-in") || (len(names) > 0 && !slices.Contains(names, region)) {
			return
		}
		items.WriteString("<item><regionName>" + region + "</regionName><regionEndpoint>ec2." + region +
			".amazonaws.com</regionEndpoint><optInStatus>" + status + "</optInStatus></item>")
	}
	for _, r := range defaultRegions {
		add(r, "opt-in-not-required")
	}
	for _, r := range optInRegions {
		status := "not-opted-in"
		if slices.Contains(enabled, r) {
			status = "opted-in"
		}
		add(r, status)
	}
	body := []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>` + c.requestID +
		`</requestId><regionInfo>` + items.String() + `</regionInfo></DescribeRegionsResponse>`)
	g.record(c, "", "", nil)
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("X-Amzn-Requestid", c.requestID)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}
