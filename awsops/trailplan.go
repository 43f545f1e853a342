package awsops

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/keyleak/keyleak/awsops/trail"
)

// Paths a part of the investigation can take.
const (
	// PathTrail reads the log files of the trail bucket in one pass.
	PathTrail = "trail"
	// PathLookup pages through CloudTrail's LookupEvents.
	PathLookup = "lookup"
	// PathAthena asks Athena which log files hold the keys, then reads
	// those files as the trail path does.
	PathAthena = "athena"
)

// PlanPart says how one part of the investigation was read, and why.
type PlanPart struct {
	Account string    `json:"account"`
	Region  string    `json:"region,omitempty"` // empty: every region of the account
	From    time.Time `json:"from,omitzero"`
	To      time.Time `json:"to,omitzero"`
	Path    string    `json:"path"`
	Reason  string    `json:"reason"`
	// Objects and Bytes are the log files the bucket lists for the part
	// (bytes as stored).
	Objects int   `json:"log_objects,omitempty"`
	Bytes   int64 `json:"bytes_listed,omitempty"`
	// LookupPages is the estimate of LookupEvents pages for the part in
	// its busiest region, from a first page of the key there.
	LookupPages int `json:"lookup_pages_estimated,omitempty"`
}

// CrossCheck compares a few LookupEvents pages with what the trail pass
// found for the same key, region and time.
type CrossCheck struct {
	Account     string    `json:"account"`
	Region      string    `json:"region"`
	AccessKeyID string    `json:"access_key_id"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Pages       int       `json:"pages"`
	Events      int       `json:"events"`
	// Missing are events LookupEvents returned that the trail files did
	// not hold: they are counted in the investigation all the same.
	Missing    int      `json:"missing"`
	MissingIDs []string `json:"missing_event_ids,omitempty"`
	// Error says why LookupEvents did not give the pages asked for.
	Error string `json:"error,omitempty"`
}

// Cost model of the planner. The trail figures are conservative for one
// machine reading S3 (awsops/trail's benchmarks measure well above them);
// LookupEvents is paced at LookupRate per account and region.
const (
	trailBytesPerSecond   = 25 << 20 // gzip'd log read and scanned
	trailObjectsPerSecond = 100      // GetObject round trips, fetchAhead at once
	crossCheckPages       = 2
)

// lookupProbe is the first LookupEvents page of the key in one region.
type lookupProbe struct {
	events         int
	more           bool
	oldest, newest time.Time
	err            error
}

// probeLookups reads the first page of key in each region, at once.
func (c *Client) probeLookups(ctx context.Context, account, key string, regions []string, w Window) map[string]lookupProbe {
	out := map[string]lookupProbe{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, r := range regions {
		wg.Go(func() {
			p := lookupProbe{}
			api, err := c.lookupClient(ctx, account, r)
			if err == nil {
				var page *cloudtrail.LookupEventsOutput
				page, err = api.LookupEvents(ctx, &cloudtrail.LookupEventsInput{
					LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(key)}},
					StartTime:        aws.Time(w.Start), EndTime: aws.Time(w.End), MaxResults: aws.Int32(lookupPageEvents)})
				if err == nil {
					p.events, p.more = len(page.Events), aws.ToString(page.NextToken) != ""
					for _, e := range page.Events {
						at := aws.ToTime(e.EventTime)
						if p.oldest.IsZero() || at.Before(p.oldest) {
							p.oldest = at
						}
						p.newest = maxTime(p.newest, at)
					}
				}
			}
			p.err = err
			mu.Lock()
			out[r] = p
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// estimatePages guesses the pages of the whole window from the density
// of the first one.
func (p lookupProbe) estimatePages(w Window) int {
	if !p.more {
		return 1
	}
	span := max(p.newest.Sub(p.oldest), time.Second)
	events := float64(p.events) * float64(w.End.Sub(w.Start)) / float64(span)
	return int(min(math.Ceil(events/lookupPageEvents), 1e6))
}

// planAccount chooses the path of an account's window from what the bucket
// lists and what a first LookupEvents page per region shows.
func planAccount(a *accountListing, probes map[string]lookupProbe, w Window, athena *AthenaOptions) PlanPart {
	part := PlanPart{Account: a.account, From: w.Start, To: w.End}
	part.Objects, part.Bytes = a.objects()
	busiest := ""
	var failed []string // regions whose first page failed
	var firstErr error  // of the first of them by name
	for r, p := range probes {
		if p.err != nil {
			failed = append(failed, r)
			if firstErr == nil || r == slices.Min(failed) {
				firstErr = p.err
			}
			continue
		}
		if n := p.estimatePages(w); n > part.LookupPages || n == part.LookupPages && r < busiest {
			part.LookupPages, busiest = n, r
		}
	}
	slices.Sort(failed)
	lookupTime := time.Duration(float64(part.LookupPages) / LookupRate * float64(time.Second))
	trailTime := time.Duration((float64(part.Bytes)/trailBytesPerSecond + float64(part.Objects)/trailObjectsPerSecond) * float64(time.Second))
	switch {
	case a.err != nil:
		part.Path, part.Reason = PathLookup, "the trail bucket cannot be listed ("+a.err.Error()+")"
	case a.absent:
		part.Path, part.Reason = PathLookup, "the trail bucket has no folder for the account"
	case part.Objects == 0:
		part.Path, part.Reason = PathLookup, "the trail bucket holds no log files of the account for the window"
	case athena != nil && athena.BudgetBytes > 0 && part.Bytes > athena.BudgetBytes:
		part.Path = PathAthena
		part.Reason = fmt.Sprintf("%d log files (%s) exceed the budget of %s for one machine: Athena names the files that hold the keys",
			part.Objects, byteSize(part.Bytes), byteSize(athena.BudgetBytes))
	case len(failed) > 0:
		// What LookupEvents would cost is not known, and it may not
		// answer at all: the bucket is read.
		part.Path = PathTrail
		part.Reason = fmt.Sprintf("LookupEvents failed its first page in %s of %d (%s: %s): %d log files (%s) are read",
			counted(len(failed), "region"), len(probes), failed[0], describeAWSError(firstErr), part.Objects, byteSize(part.Bytes))
	case trailTime <= lookupTime:
		part.Path = PathTrail
		part.Reason = fmt.Sprintf("%d log files (%s) read in about %s, against about %d LookupEvents pages (%s) in %s for the key alone, more for each session it minted",
			part.Objects, byteSize(part.Bytes), roundDuration(trailTime), part.LookupPages, roundDuration(lookupTime), busiest)
	default:
		part.Path = PathLookup
		part.Reason = fmt.Sprintf("about %d LookupEvents pages (%s) in %s cost less than reading %d log files (%s, about %s)",
			part.LookupPages, roundDuration(lookupTime), busiest, part.Objects, byteSize(part.Bytes), roundDuration(trailTime))
	}
	return part
}

func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

// byteSize writes n bytes for a person.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// investigateTrail runs the investigation trail first when the plan says
// so. It reports false, with the plan's reason recorded, when
// LookupEvents is the better path (or the bucket cannot serve).
func (c *Client) investigateTrail(ctx context.Context, inv *Investigation, tr *tracker, key KeyID, opts InvestigateOptions, regions *regionCache) bool {
	account, w, now := inv.Identity.Account, inv.Window, inv.Window.End
	client, layout, err := c.trailLayoutFor(ctx, opts, account, w)
	if err != nil {
		inv.Plan = append(inv.Plan, PlanPart{Account: account, From: w.Start, To: w.End, Path: PathLookup,
			Reason: "the trail bucket cannot be read (" + err.Error() + ")"})
		return false
	}

	// The listing, the trails that deliver to the bucket and the first
	// LookupEvents pages are asked for at once: none needs another.
	var listing *accountListing
	var coverage *trailCoverage
	var probes map[string]lookupProbe
	var wg sync.WaitGroup
	wg.Go(func() { listing = listTrail(ctx, client, layout, account, w.Start, w.End, now) })
	wg.Go(func() { coverage = c.trailCoverageOf(ctx, account, layout, inv.Regions, w.Start, now) })
	if opts.Path != PathTrail {
		wg.Go(func() { probes = c.probeLookups(ctx, account, key.String(), inv.Regions, w) })
	}
	wg.Wait()
	listing.coverage = coverage
	part := planAccount(listing, probes, w, opts.Athena)
	if opts.Path == PathTrail && part.Path == PathLookup && listing.err == nil && !listing.absent && part.Objects > 0 {
		part.Path, part.Reason = PathTrail, "the trail path was asked for"
	}
	if part.Path == PathAthena && opts.Athena == nil {
		part.Path = PathTrail
	}
	inv.Plan = append(inv.Plan, part)
	if part.Path == PathLookup {
		return false
	}

	if layout.note != "" { // (the LookupEvents path's data-event scan says it otherwise)
		inv.Gaps = append(inv.Gaps, Gap{Step: StepCloudTrail, Account: account, Reason: layout.note})
	}
	p := newTrailPass(c, tr, client, layout, w, now)
	p.progress = opts.Progress
	if part.Path == PathAthena {
		p.athena = newAthenaSource(c, *opts.Athena, layout)
		o := opts.Athena.withDefaults()
		p.athena.proj = c.athenaProjectionOf(ctx, o)
		p.athena.proj.reads(layout)
		switch proj := p.athena.proj; {
		case proj.err != nil:
			inv.Gaps = append(inv.Gaps, Gap{Step: StepCloudTrail, Account: account,
				Reason: fmt.Sprintf("the partition projection of the Athena table %s.%s cannot be read (glue:GetTable: %s): Athena is taken to answer for every account, region and day, and would answer nothing for one the table does not project", o.Database, o.Table, describeAWSError(proj.err))})
		case !proj.enabled:
			inv.Gaps = append(inv.Gaps, Gap{Step: StepCloudTrail, Account: account,
				Reason: fmt.Sprintf("the Athena table %s.%s has no partition projection: its partitions are the catalog's, which keyleak does not check, and Athena answers nothing for a partition missing there", o.Database, o.Table)})
		}
	}
	p.accounts[account] = listing
	switch {
	case part.Path == PathTrail || p.athena != nil && !p.athena.answersAll(listing, now):
		p.pending += 2 // the listing, and its digests (ended by checkDigests)
		p.enqueue(listing)
		go p.checkDigests(ctx, listing)
	default:
		// Athena answers for the whole listing, and names only the files
		// that are there: the digests tell the ones taken out.
		p.pending++
		go p.checkDigests(ctx, listing)
	}
	// The cross-check's pages are fetched beside the pass, which does not
	// use LookupEvents.
	cross := c.startCrossCheck(ctx, listing, tr.sessions()[0], probes, w)
	p.follow(ctx)

	// LookupEvents for what the bucket could not give: the minutes not yet
	// delivered, regions and accounts it lacks, files that failed. What it
	// finds there (a credential minted in a region without files) may have
	// acted where the bucket has files, data events included: the pass
	// reads them for it, and LookupEvents the rest, until the tree stops
	// growing.
	for round := 1; ; round++ {
		sw := newTreeSweep(tr, opts, c.Now, regions.get, c.lookupClient)
		sw.budget = c.lookups
		tasks, parts := p.complement(ctx, regions)
		inv.Plan = append(inv.Plan, parts...)
		sw.run(ctx, tasks)
		// The sweep is over: what is found from now on waits for the next
		// round; what the tree holds now LookupEvents has looked up (in the
		// complement, or whole when the sweep found it).
		tr.setOnDerived(nil)
		tr.setOnDoor(nil)
		p.markNew(true) // what the sweep found, it looked up whole
		if round == 1 {
			// After the sweep, which read the spans of the files that
			// failed: what the trail lacks is what the bucket lacks. What
			// it adds was in a file the bucket lacks, and so may be the
			// rest of it: LookupEvents looks it up whole, next round.
			inv.CrossChecks = c.crossCheckAfter(ctx, cross, p, tr)
			p.markNew(false)
		}
		stats, gaps := sw.results()
		inv.Sweep = mergeRegionStats(inv.Sweep, stats)
		inv.Gaps = append(inv.Gaps, gaps...)
		if ctx.Err() != nil {
			break
		}
		if grew := p.resume(ctx); !grew && !p.changesPending() {
			break
		}
		if round == maxTrailRounds {
			inv.Gaps = append(inv.Gaps, Gap{Step: StepCloudTrail, Account: account, From: w.Start, To: w.End,
				Reason: fmt.Sprintf("the credential tree still grew after %d rounds of the trail and LookupEvents: what the last round found is not looked for further", maxTrailRounds)})
			break
		}
	}
	for _, x := range inv.CrossChecks {
		if x.Error != "" {
			inv.Gaps = append(inv.Gaps, Gap{Step: StepCloudTrail, Account: x.Account, Region: x.Region, AccessKeyID: x.AccessKeyID, From: x.From, To: x.To,
				Reason: fmt.Sprintf("the cross-check of the trail against LookupEvents got %s of %d (%s): what the bucket may lack there is not checked", counted(x.Pages, "page"), crossCheckPages, x.Error)})
		}
		if x.Missing > 0 {
			inv.Gaps = append(inv.Gaps, Gap{Step: StepCloudTrail, Account: x.Account, Region: x.Region, AccessKeyID: x.AccessKeyID, From: x.From, To: x.To,
				Reason: fmt.Sprintf("%d of %d events LookupEvents returns are not in the trail bucket (first: %s); they are counted, but the bucket may be missing files",
					x.Missing, x.Events, strings.Join(x.MissingIDs, ", "))})
		}
	}
	p.mu.Lock()
	read := p.read
	// What the digests found, of every listing merged.
	for _, account := range slices.Sorted(maps.Keys(p.accounts)) {
		a := p.accounts[account]
		for _, region := range slices.Sorted(maps.Keys(a.regions)) {
			rl := a.regions[region]
			read.Digests += len(rl.digests.read)
			read.MissingFiles += len(rl.digests.missing) + rl.digests.dropped
			parts, gaps := digestReport(p.layout, account, region, rl, a.coverage, p.now, StepCloudTrail)
			inv.Plan = append(inv.Plan, parts...)
			inv.Gaps = append(inv.Gaps, gaps...)
		}
	}
	inv.Gaps = append(inv.Gaps, p.gaps...)
	p.mu.Unlock()
	inv.Trail = &read
	if p.athena != nil {
		inv.Athena = p.athena.reports()
	}
	inv.DataEvents = p.dataEvents()
	return true
}

// markNew marks the members of the tree LookupEvents has not looked up
// yet as ones to look up over their whole life, not only where the bucket
// lacks files; looked says that this was done already (the sweep looks up
// what it finds whole).
func (p *trailPass) markNew(looked bool) {
	sessions, doors := p.tr.members()
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]string, 0, len(sessions)+len(doors))
	for _, s := range sessions {
		ids = append(ids, s.ID)
	}
	for _, d := range doors {
		ids = append(ids, d.memberKey())
	}
	for _, id := range ids {
		if !p.complemented[id] {
			p.whole[id] = true
			p.complemented[id] = looked
		}
	}
}

// maxTrailRounds bounds the rounds of the trail pass and LookupEvents:
// each needs a credential or door found in a part of the trail the bucket
// lacks, which acted in a part it holds.
const maxTrailRounds = 8

// mergeRegionStats adds the stats of a later sweep to those of the earlier
// ones, region by region.
func mergeRegionStats(all, more []RegionStats) []RegionStats {
	for _, m := range more {
		i := slices.IndexFunc(all, func(a RegionStats) bool { return a.Account == m.Account && a.Region == m.Region })
		if i < 0 {
			all = append(all, m)
			continue
		}
		a := &all[i]
		// The rate over both: the calls after each sweep's first over the
		// time each took.
		calls, span := 0.0, 0.0
		for _, s := range []RegionStats{*a, m} {
			if s.Requests > 1 && s.RequestsPerSecond > 0 {
				calls += float64(s.Requests - 1)
				span += float64(s.Requests-1) / s.RequestsPerSecond
			}
		}
		a.Requests += m.Requests
		a.Pages += m.Pages
		a.Events += m.Events
		a.Throttled += m.Throttled
		a.Failed += m.Failed
		a.Busy += m.Busy
		if span > 0 {
			a.RequestsPerSecond = calls / span
		}
	}
	return all
}

// tailStart is where LookupEvents begins to read what a region has not
// delivered (see tail). A region with no file at all is not taken from the
// bucket: a quiet region and a trail that does not deliver it look alike,
// so LookupEvents reads it whole (at a call per key when it is quiet).
func (a *accountListing) tailStart(region string, now time.Time) (time.Time, bool) {
	if r := a.regions[region]; r != nil && r.err == nil && !r.newest.IsZero() {
		return r.tail(now), true
	}
	return time.Time{}, false
}

// tail is where the region's delivered log ends: deliveryAllowance (and
// a replica's lag) before its newest file while it delivers,
// fileStampSlack before once it has stopped.
func (r *regionListing) tail(now time.Time) time.Time {
	if d := deliveryAllowance + r.lag; now.Sub(r.newest) < d {
		return r.newest.Add(-d)
	}
	return r.newest.Add(-fileStampSlack)
}

// timeSpan is a span of time, from included.
type timeSpan struct{ from, to time.Time }

// holes returns the spans of [a.from, now] for which the bucket may lack
// the region's events, in order: before its first file when none was
// delivered before the window began (a trail created, or files expired,
// since), between two files further apart than deliveryAllowance (a
// trail stopped and started again, or a quiet region: the bucket cannot
// tell), and its tail on (not yet delivered, see regionListing.tail). A
// file holds the events up to its stamp, from about one delivery
// (fileStampSlack) before: a span runs from the file before it to that
// much before the file that ends it. More than maxHoleSpans spans before
// the tail become one. ok is false when the region has no file (see
// tailStart).
func (a *accountListing) holes(region string, now time.Time) (out []timeSpan, ok bool) {
	r := a.regions[region]
	if r == nil || r.err != nil || r.newest.IsZero() {
		return nil, false
	}
	start := a.from.Add(-deliveredBefore) // the earliest stamp of a file holding an event of a.from
	var stamps []time.Time
	for _, o := range r.objects {
		if !o.stamp.After(r.newest) && !o.stamp.Before(start) {
			stamps = append(stamps, o.stamp)
		}
	}
	slices.SortFunc(stamps, time.Time.Compare)
	prev := start // delivery was under way when the window began …
	if r.earliest.IsZero() || r.earliest.After(start) {
		// … unless no file was delivered before it
		if len(stamps) > 0 {
			prev = stamps[0]
		} else {
			prev = r.newest
		}
		out = append(out, timeSpan{a.from, prev.Add(-fileStampSlack)})
	}
	for _, st := range stamps {
		if st.Sub(prev) > deliveryAllowance {
			out = append(out, timeSpan{maxTime(a.from, prev), st.Add(-fileStampSlack)})
		}
		prev = maxTime(prev, st)
	}
	out = slices.DeleteFunc(out, func(sp timeSpan) bool { return !sp.to.After(sp.from) })
	if len(out) > maxHoleSpans {
		out = []timeSpan{{out[0].from, out[len(out)-1].to}}
	}
	if tail := r.tail(now); now.After(tail) {
		out = append(out, timeSpan{maxTime(a.from, tail), now})
	}
	return mergeSpans(out), true
}

// mergeSpans sorts spans and makes those that overlap one.
func mergeSpans(spans []timeSpan) []timeSpan {
	slices.SortFunc(spans, func(a, b timeSpan) int { return a.from.Compare(b.from) })
	merged := spans[:0]
	for _, sp := range spans {
		if n := len(merged); n > 0 && !sp.from.After(merged[n-1].to) {
			merged[n-1].to = maxTime(merged[n-1].to, sp.to)
			continue
		}
		merged = append(merged, sp)
	}
	return merged
}

// minutes writes d, a whole number of minutes, for a person.
func minutes(d time.Duration) string { return counted(int(d/time.Minute), "minute") }

// lookupPageEvents is the most events one LookupEvents page returns.
const lookupPageEvents = 50

// hull is the span from the first of spans to the last.
func hull(spans []timeSpan) timeSpan {
	h := spans[0]
	for _, sp := range spans[1:] {
		h.from, h.to = minTime(h.from, sp.from), maxTime(h.to, sp.to)
	}
	return h
}

// trailCoverageOf asks the account's CloudTrail which of its trails (its
// own and the organisation's) deliver to the layout's folder, and for
// which regions: in its home region, and in each of regions (where
// single-region trails, the organisation's too, are described). A trail
// that writes elsewhere (another key prefix; an organisation trail when the
// account's own folder is read, or an account's trail when the
// organisation's is), or does not log now (cloudtrail:GetTrailStatus),
// does not count: the files read may hold nothing of it, and its event
// selectors would make the bucket look whole where only another trail
// still writes. Leaving a trail out only ever makes the bucket less whole:
// a region no counted trail delivers stands for its data events only (see
// managementIn). A trail that logs now but stopped in the window [from,
// now] is paused: what followed the stop is looked up. When the trails
// cannot be described, the coverage says so (err).
func (c *Client) trailCoverageOf(ctx context.Context, account string, layout trailLayout, regions []string, from, now time.Time) *trailCoverage {
	api, err := c.cloudtrailClient(ctx, account, "")
	if err != nil {
		return &trailCoverage{err: err}
	}
	out, err := api.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
	if err != nil {
		return &trailCoverage{err: err}
	}
	trails := out.TrailList
	// A single-region trail is described in its home region only: each
	// region is asked too, at once.
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, listConcurrency)
	for _, r := range regions {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			api, err := c.cloudtrailClient(ctx, account, r)
			if err != nil {
				return
			}
			// (with shadow trails: a single-region organisation trail is
			// seen from a member account only so)
			out, err := api.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
			if err != nil {
				return // a region not enabled, say: its trails deliver nothing
			}
			mu.Lock()
			trails = append(trails, out.TrailList...)
			mu.Unlock()
		})
	}
	wg.Wait()
	var writing []cttypes.Trail
	var seen []string
	for _, t := range trails {
		arn := aws.ToString(t.TrailARN)
		if !layout.writtenBy(t) || slices.Contains(seen, arn) {
			continue
		}
		seen = append(seen, arn)
		writing = append(writing, t)
	}
	regional := func(region string) (*cloudtrail.Client, error) { return c.cloudtrailClient(ctx, account, region) }
	var cov trailCoverage
	var delivering []cttypes.Trail
	for _, t := range writing {
		arn := aws.ToString(t.TrailARN)
		switch st, err := trailStatus(ctx, regional, t); {
		case err != nil:
			cov.statusUnknown = append(cov.statusUnknown, arn)
		case !aws.ToBool(st.IsLogging):
			cov.stopped = append(cov.stopped, arn)
			continue
		case st.StopLoggingTime != nil && st.StopLoggingTime.After(from) && !st.StopLoggingTime.After(now):
			cov.paused = append(cov.paused, trailPause{trail: arn, stopped: st.StopLoggingTime.UTC(), started: aws.ToTime(st.StartLoggingTime).UTC()})
		}
		delivering = append(delivering, t)
		cov.trails = append(cov.trails, arn)
		if aws.ToBool(t.IsMultiRegionTrail) {
			cov.all = true
		} else if r := aws.ToString(t.HomeRegion); r != "" {
			cov.regions = append(cov.regions, r)
		}
		if aws.ToBool(t.LogFileValidationEnabled) {
			cov.validating = append(cov.validating, arn)
			if aws.ToBool(t.IsMultiRegionTrail) {
				cov.validAll = true
			} else if r := aws.ToString(t.HomeRegion); r != "" {
				cov.validRegions = append(cov.validRegions, r)
			}
		}
	}
	cov.management, cov.unknown = trailsManagement(ctx, regional, delivering)
	return &cov
}

// writtenBy reports whether trail t writes the layout's folder: the same
// bucket and key prefix, and an organisation trail exactly when the folder
// is an organisation's.
func (l trailLayout) writtenBy(t cttypes.Trail) bool {
	p := aws.ToString(t.S3KeyPrefix)
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return aws.ToString(t.S3BucketName) == cmp.Or(l.source, l.bucket) && p == l.prefix && aws.ToBool(t.IsOrganizationTrail) == l.orgFolder()
}

// trailStatus asks whether a trail logs now, and since when, in its home
// region.
func trailStatus(ctx context.Context, api func(region string) (*cloudtrail.Client, error), t cttypes.Trail) (*cloudtrail.GetTrailStatusOutput, error) {
	client, err := api(aws.ToString(t.HomeRegion))
	if err != nil {
		return nil, err
	}
	return client.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: t.TrailARN})
}

// partial reports whether the bucket lacks management events of account
// in region (see trailCoverage.partial). Called with p.mu held.
func (p *trailPass) partial(account, region string) bool {
	a := p.accounts[account]
	return a != nil && a.coverage.partial(region)
}

// complement lists the LookupEvents work the pass leaves: for every
// credential and door, the minutes after the newest file of each region,
// the regions and accounts the bucket lacks, and the span of files that
// could not be read.
func (p *trailPass) complement(ctx context.Context, regions *regionCache) ([]sweepTask, []PlanPart) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var tasks []sweepTask
	var parts []PlanPart
	type span = timeSpan
	// tail is what an account-region needs from LookupEvents, whatever the
	// key: the minutes not yet delivered and the spans the bucket has no
	// file for (holes), or the whole span when it has nothing of it.
	tail := func(account, region string, from, to time.Time) []span {
		a := p.accounts[account]
		switch {
		case a == nil || a.err != nil || a.absent:
			return []span{{from, to}}
		}
		hs, ok := a.holes(region, p.now)
		if !ok {
			return []span{{from, to}}
		}
		var out []span
		for _, h := range hs {
			if f, t := maxTime(from, h.from), minTime(to, h.to); t.After(f) {
				out = append(out, span{f, t})
			}
		}
		return append(out, a.missingIn(region, from, to)...)
	}
	// failedIn is what files that could not be read held of the span.
	failedIn := func(files []trailObject, account, region string, from, to time.Time) []span {
		var out []span
		for _, o := range files {
			if held, until := o.span(); o.account == account && o.region == region && until.After(from) {
				out = append(out, span{maxTime(from, held), minTime(to, until)})
			}
		}
		return out
	}
	regionsOf := func(account string) []string {
		if l, err := regions.get(ctx, account); err == nil {
			return l
		}
		var l []string
		if a := p.accounts[account]; a != nil {
			for r := range a.regions {
				l = append(l, r)
			}
		}
		slices.Sort(l)
		return l
	}
	// Each member of the tree is looked up once, whatever the round that
	// found it: whole when the bucket cannot stand for it, else where the
	// bucket lacks files. A member looked up in an earlier round needs only
	// the files that failed since.
	newlyFailed := p.failed[p.failedPlanned:]
	spansOf := func(id string, whole bool, account, region string, from, to time.Time) []span {
		fresh := !p.complemented[id]
		switch {
		case fresh && whole:
			return []span{{from, to}}
		case fresh:
			return append(tail(account, region, from, to), failedIn(p.failed, account, region, from, to)...)
		case whole:
			return nil // looked up whole already
		}
		return failedIn(newlyFailed, account, region, from, to)
	}
	// After a credential of the tree changed CloudTrail in an account
	// (stopped, deleted or narrowed a trail), the bucket may lack what
	// followed, whatever its files: LookupEvents reads every member there
	// from the change on, once for each change found earlier. The files of
	// an organisation's folder are written by the organisation trail, which
	// is changed from another account (the management account, or a
	// delegated administrator): there, a change in any account counts.
	var changeParts []PlanPart
	changes := p.tr.trailChangesNow()
	// A trail that stopped logging in the window and started again, by
	// anyone (GetTrailStatus), counts as a change from its stop.
	for account, a := range p.accounts {
		for _, pz := range a.pauses() {
			if c, ok := changes[account]; !ok || pz.stopped.Before(c.at) {
				changes[account] = trailChange{at: pz.stopped, eventName: "StopLogging", account: account, trail: pz.trail, restarted: pz.started}
			}
		}
	}
	afterChange := func(id, account, region string, from, to time.Time, lookedWhole bool) []span {
		c, ok := changes[account]
		if p.layout.orgFolder() {
			for _, oc := range changes {
				if !ok || oc.at.Before(c.at) {
					c, ok = oc, true
				}
			}
		}
		if !ok || !c.at.Before(to) || lookedWhole {
			return nil
		}
		if plan := "change:" + account + "@" + c.at.String(); !p.planned[plan] {
			p.planned[plan] = true
			what := fmt.Sprintf("%s changed the account's CloudTrail (%s at %s)", c.key, c.eventName, fmtTime(c.at))
			if c.account != account {
				what = fmt.Sprintf("%s changed CloudTrail in account %s, where the organisation trail that writes this account's files may be managed (%s at %s)", c.key, c.account, c.eventName, fmtTime(c.at))
			}
			if c.trail != "" {
				what = fmt.Sprintf("the trail %s of account %s stopped logging at %s and started again at %s (cloudtrail:GetTrailStatus)", c.trail, c.account, fmtTime(c.at), fmtTime(c.restarted))
			}
			changeParts = append(changeParts, PlanPart{Account: account, From: c.at, To: p.now, Path: PathLookup,
				Reason: what + ": the bucket may lack what followed, so LookupEvents reads every credential there from then on"})
		}
		// Only what an earlier round did not read from a later change.
		start, end := maxTime(from, c.at.Add(-time.Second)), to
		key := id + "@" + region
		if prev, had := p.afterChange[key]; had {
			if !start.Before(prev) {
				return nil
			}
			end = prev
		}
		p.afterChange[key] = start
		return []span{{start, end}}
	}
	sessions, doors := p.tr.members()
	var fallback map[string]bool
	if p.athena != nil {
		fallback = p.athena.failedKeys()
	}
	var fresh []Session
	for _, s := range sessions {
		if !p.complemented[s.ID] {
			fresh = append(fresh, s)
		}
		if s.AccessKeyID == "" {
			continue
		}
		from, to := p.window.Start, p.now
		if s.ID != p.tr.root { // the investigated key is looked up over the whole window
			from = maxTime(from, s.Issued.Add(-time.Second))
			if !s.Expires.IsZero() {
				to = minTime(s.Expires, p.now)
			}
		}
		for _, r := range regionsOf(s.Account) {
			whole := fallback[s.AccessKeyID] || p.whole[s.ID] || p.partial(s.Account, r)
			spans := mergeSpans(append(spansOf(s.ID, whole, s.Account, r, from, to),
				afterChange(s.ID, s.Account, r, from, to, whole && p.complemented[s.ID])...))
			if len(spans) > 1 && p.tr.regionEvents(s.ID, r) <= lookupPageEvents*(len(spans)-1) {
				// Where the credential made few calls, one lookup over
				// the spans and what lies between costs fewer pages than a
				// lookup of each: its calls between are read again, and
				// counted once.
				spans = []span{hull(spans)}
			}
			for _, sp := range spans {
				if sp.to.After(sp.from) {
					tasks = append(tasks, sweepTask{account: s.Account, region: r, attr: cttypes.LookupAttributeKeyAccessKeyId,
						value: s.AccessKeyID, start: sp.from, end: sp.to})
				}
			}
		}
	}
	for _, d := range doors {
		list := []string{d.region}
		if d.region == "" {
			list = regionsOf(d.account)
		}
		// Athena is asked about keys only.
		whole := p.athena != nil || d.trailPattern() == "" || p.whole[d.memberKey()]
		for _, r := range list {
			from := d.opened.Add(-time.Second)
			whole := whole || p.partial(d.account, r)
			for _, sp := range mergeSpans(append(spansOf(d.memberKey(), whole, d.account, r, from, p.now),
				afterChange(d.memberKey(), d.account, r, from, p.now, whole && p.complemented[d.memberKey()])...)) {
				if sp.to.After(sp.from) {
					tasks = append(tasks, sweepTask{account: d.account, region: r, attr: d.attr, value: d.value,
						start: sp.from, end: sp.to, door: d})
				}
			}
		}
	}
	for _, s := range sessions {
		p.complemented[s.ID] = true
	}
	for _, d := range doors {
		p.complemented[d.memberKey()] = true
	}
	// The plan names what LookupEvents covers, account by account.
	for _, s := range fresh {
		if s.Account != "" && !p.planned[s.Account] {
			p.planned[s.Account] = true
			parts = append(parts, p.lookupParts(s.Account, regionsOf(s.Account))...)
		}
	}
	// what the tree's changes of CloudTrail make LookupEvents read, what
	// the pass decided (Athena's failures),
	parts = append(parts, changeParts...)
	parts = append(parts, p.parts...)
	p.parts = nil
	// and every file that failed since the last round.
	for _, o := range p.failed[p.failedPlanned:] {
		held, until := o.span()
		parts = append(parts, PlanPart{Account: o.account, Region: o.region, From: held, To: until, Path: PathLookup,
			Reason: "log file " + o.key + " could not be read"})
	}
	p.failedPlanned = len(p.failed)
	p.changesApplied = changes
	return tasks, parts
}

// changesPending reports whether the tree changed CloudTrail in an account
// (or earlier there) since complement last planned: LookupEvents has more
// to read, though the tree may not have grown.
func (p *trailPass) changesPending() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for account, c := range p.tr.trailChangesNow() {
		if applied, ok := p.changesApplied[account]; !ok || c.at.Before(applied.at) {
			return true
		}
	}
	return false
}

// lookupParts says, for one account, what the plan left to LookupEvents
// and why. Called with p.mu held.
func (p *trailPass) lookupParts(account string, regions []string) []PlanPart {
	a := p.accounts[account]
	switch {
	case a == nil:
		return nil
	case a.err != nil:
		return []PlanPart{{Account: account, Path: PathLookup, Reason: "the trail bucket cannot be listed for the account (" + a.err.Error() + ")"}}
	case a.absent:
		return []PlanPart{{Account: account, Path: PathLookup, Reason: "the trail bucket has no folder for the account"}}
	}
	var out []PlanPart
	for _, reason := range a.coverage.doubts(p.layout, account) {
		p.gaps = append(p.gaps, Gap{Step: StepCloudTrail, Account: account, Reason: reason})
	}
	// Regions whose trails leave management events out, by what they
	// leave out.
	lacking := map[string][]string{}
	var lackOrder []string
	for _, r := range regions {
		// (a region with no file is looked up whole, and said so, below)
		if rl := a.regions[r]; rl != nil && len(rl.objects) > 0 && a.coverage.partial(r) {
			what := a.coverage.managementIn(r).String()
			if _, ok := lacking[what]; !ok {
				lackOrder = append(lackOrder, what)
			}
			lacking[what] = append(lacking[what], r)
		}
	}
	for _, what := range lackOrder {
		rs := lacking[what]
		trails := "the account's trails that log now and write the folder read (" + strings.Join(a.coverage.trails, ", ") + ") deliver"
		if len(a.coverage.trails) == 0 {
			trails, what = "no trail that logs now writes the folder read:", "no management events are known to be there"
		}
		part := PlanPart{Account: account, From: a.from, To: p.now, Path: PathLookup,
			Reason: fmt.Sprintf("%s %s in %s (%s): LookupEvents reads the management events of every credential there over its whole life, and the bucket gives the data events",
				trails, what, counted(len(rs), "region"), strings.Join(rs, ", "))}
		if len(rs) == 1 {
			part.Region = rs[0]
		}
		out = append(out, part)
	}
	var fresh []timeSpan // the tails of regions delivering lately
	oldestFile, newestFile := time.Time{}, time.Time{}
	// Regions with alike spans the bucket lacks (the window's start
	// before files began) are said together.
	type holeKey struct {
		from, to time.Time
		spans    int
	}
	holed := map[holeKey][]string{}
	var holeOrder []holeKey
	var stale []string // regions that have not delivered lately
	var staleFrom, staleOldest, staleNewest time.Time
	for _, r := range regions {
		rl := a.regions[r]
		hs, ok := a.holes(r, p.now)
		switch {
		case rl != nil && rl.err != nil:
			out = append(out, PlanPart{Account: account, Region: r, From: a.from, To: a.to, Path: PathLookup,
				Reason: "the region's folder cannot be listed (" + rl.err.Error() + ")"})
			continue
		case !ok && a.coverage.covers(r):
			out = append(out, PlanPart{Account: account, Region: r, From: a.from, To: a.to, Path: PathLookup,
				Reason: "the bucket holds no log file of this region although a trail of the account delivers it there (" + strings.Join(a.coverage.trails, ", ") + ")"})
		case !ok:
			out = append(out, PlanPart{Account: account, Region: r, From: a.from, To: a.to, Path: PathLookup,
				Reason: "the bucket holds no log file of this region, and no trail of the account is known to deliver it there"})
		}
		if rl != nil && rl.future > 0 {
			p.gaps = append(p.gaps, Gap{Step: StepCloudTrail, Account: account, Region: r,
				Reason: fmt.Sprintf("%d log files of the region bear a time after now (first: %s): CloudTrail did not deliver them; they are not read, and do not count as delivery", rl.future, rl.futureFirst)})
		}
		if !ok {
			continue
		}
		var tail *timeSpan
		if n := len(hs); n > 0 && hs[n-1].to.Equal(p.now) {
			tail, hs = &timeSpan{hs[n-1].from, hs[n-1].to}, hs[:n-1]
			// A span the bucket lacks that runs into the tail is said
			// apart from it.
			if t0 := maxTime(a.from, rl.tail(p.now)); tail.from.Before(t0) {
				hs = append(hs, timeSpan{tail.from, t0})
				tail.from = t0
			}
		}
		if len(hs) > 0 {
			k := holeKey{hs[0].from, hs[len(hs)-1].to, len(hs)}
			if _, ok := holed[k]; !ok {
				holeOrder = append(holeOrder, k)
			}
			holed[k] = append(holed[k], r)
		}
		switch {
		case tail == nil:
		case minTime(p.now, a.to.Add(deliverySlack)).Sub(rl.newest) > staleDelivery:
			// (a listing for a credential whose life ended long ago does
			// not look for files past its end)
			stale = append(stale, r)
			staleFrom = minTime(cmp.Or(staleFrom, tail.from), tail.from)
			if staleOldest.IsZero() || rl.newest.Before(staleOldest) {
				staleOldest = rl.newest
			}
			staleNewest = maxTime(staleNewest, rl.newest)
		default:
			fresh = append(fresh, *tail)
			if oldestFile.IsZero() || rl.newest.Before(oldestFile) {
				oldestFile = rl.newest
			}
			newestFile = maxTime(newestFile, rl.newest)
		}
	}
	// which, of one region or several
	which := func(rs []string) string {
		if len(rs) == 1 {
			return "the region"
		}
		return counted(len(rs), "region") + " (" + strings.Join(rs, ", ") + ")"
	}
	stamped := func(oldest, newest time.Time) string {
		if oldest.Equal(newest) {
			return "stamped " + fmtTime(oldest)
		}
		return "stamped " + fmtTime(oldest) + " to " + fmtTime(newest)
	}
	for _, k := range holeOrder {
		rs := holed[k]
		part := PlanPart{Account: account, From: k.from, To: k.to, Path: PathLookup,
			Reason: fmt.Sprintf("no log file of %s from %s to %s (%s: before the first file, or between files more than %s apart): a trail created or stopped, files expired and a quiet region look alike, so LookupEvents reads it",
				which(rs), fmtTime(k.from), fmtTime(k.to), counted(k.spans, "span"), minutes(deliveryAllowance))}
		if len(rs) == 1 {
			part.Region = rs[0]
		}
		out = append(out, part)
	}
	if len(stale) > 0 {
		part := PlanPart{Account: account, From: staleFrom, To: p.now, Path: PathLookup,
			Reason: fmt.Sprintf("nothing delivered for more than %s in %s (newest files %s): quiet, or delivery stopped; LookupEvents reads from %s before the newest file, and S3 data events since are not known",
				minutes(staleDelivery), which(stale), stamped(staleOldest, staleNewest), minutes(fileStampSlack))}
		if len(stale) == 1 {
			part.Region = stale[0]
		}
		out = append(out, part)
	}
	if len(fresh) > 0 {
		from := fresh[0].from
		for _, t := range fresh {
			from = minTime(from, t.from)
		}
		d, why := deliveryAllowance, ""
		if lag := p.layout.lag(); lag > 0 {
			d, why = d+lag, fmt.Sprintf(", CloudTrail's %s and S3 replication's %s", minutes(deliveryAllowance), minutes(lag))
		}
		out = append(out, PlanPart{Account: account, From: from, To: p.now, Path: PathLookup,
			Reason: fmt.Sprintf("not yet delivered: LookupEvents reads from %s%s before each region's newest log file (%s once it has delivered nothing for %s); newest files %s",
				minutes(d), why, minutes(fileStampSlack), minutes(d), stamped(oldestFile, newestFile))})
	}
	return out
}

// crossCheck pages LookupEvents for the investigated key, over delivered
// time, in the region where it was busiest: as the first pages said
// (probes), else as the pass found. The pages are fetched beside the pass
// when the probes name the region; crossCheckAfter looks for each event
// among those the trail path counted, and counts those it lacks.
type crossCheck struct {
	x      CrossCheck
	events []cttypes.Event
	done   chan struct{}
}

// startCrossCheck begins fetching the pages of the cross-check, in the
// busiest region of probes that the listing a has files of; nil when
// there is no such region (the pass then chooses, see crossCheckAfter).
func (c *Client) startCrossCheck(ctx context.Context, a *accountListing, root Session, probes map[string]lookupProbe, w Window) *crossCheck {
	counts := map[string]int{}
	for r, pr := range probes {
		counts[r] = pr.events
		if pr.more { // a full page: as many as its density says
			counts[r] = pr.estimatePages(w) * lookupPageEvents
		}
	}
	return c.fetchCrossCheck(ctx, a, root, a.busiest(counts), w)
}

// busiest is the region with the most events by counts among those the
// listing has files of (the first by name of those alike); "" for none.
func (a *accountListing) busiest(counts map[string]int) string {
	busiest, most := "", 0
	for r, n := range counts {
		if rl := a.regions[r]; rl == nil || rl.newest.IsZero() || n == 0 {
			continue
		}
		if n > most || n == most && r < busiest {
			busiest, most = r, n
		}
	}
	return busiest
}

// fetchCrossCheck fetches, in the background, up to crossCheckPages pages
// of root in region over what a delivered of w; nil when there is nothing
// to fetch.
func (c *Client) fetchCrossCheck(ctx context.Context, a *accountListing, root Session, region string, w Window) *crossCheck {
	if region == "" || a == nil || a.err != nil || a.absent {
		return nil
	}
	to, _ := a.tailStart(region, w.End)
	x := &crossCheck{x: CrossCheck{Account: root.Account, Region: region, AccessKeyID: root.AccessKeyID, From: w.Start, To: to}, done: make(chan struct{})}
	if !x.x.To.After(x.x.From) {
		return nil // nothing delivered to compare
	}
	api, err := c.lookupClient(ctx, root.Account, region)
	if err != nil {
		x.x.Error = err.Error()
		close(x.done)
		return x
	}
	go func() {
		defer close(x.done)
		in := &cloudtrail.LookupEventsInput{
			LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(root.AccessKeyID)}},
			StartTime:        aws.Time(x.x.From), EndTime: aws.Time(x.x.To), MaxResults: aws.Int32(lookupPageEvents)}
		for x.x.Pages < crossCheckPages {
			out, err := api.LookupEvents(ctx, in)
			if err != nil {
				x.x.Error = describeAWSError(err)
				return
			}
			x.x.Pages++
			x.events = append(x.events, out.Events...)
			if aws.ToString(out.NextToken) == "" {
				return
			}
			in.NextToken = out.NextToken
		}
	}()
	return x
}

// crossCheckAfter is the cross-check, once the pass and the sweep are
// over: the one begun beside the pass, else one in the region where the
// pass found the key busiest. What the trail lacks is counted (tr.add): a
// credential it minted joins the tree, for the next round.
func (c *Client) crossCheckAfter(ctx context.Context, x *crossCheck, p *trailPass, tr *tracker) []CrossCheck {
	if x == nil {
		p.mu.Lock()
		root := tr.nodes[tr.root].s
		a := p.accounts[root.Account]
		p.mu.Unlock()
		if a == nil {
			return nil
		}
		tr.mu.Lock()
		busiest := a.busiest(tr.nodes[tr.root].t.regions)
		tr.mu.Unlock()
		if x = c.fetchCrossCheck(ctx, a, root, busiest, p.window); x == nil {
			return nil
		}
	}
	<-x.done
	root := tr.sessions()[0]
	if x.x.Pages == 0 && x.x.Error == "" || p.athena != nil && p.athena.failedKeys()[root.AccessKeyID] {
		return nil // nothing to compare: the trail read nothing of the key
	}
	for _, e := range x.events {
		if e.CloudTrailEvent == nil {
			continue
		}
		var rec trail.Record
		if trail.Decode([]byte(*e.CloudTrailEvent), &rec) != nil {
			continue
		}
		x.x.Events++
		if !tr.hasSeen(&rec) {
			x.x.Missing++
			if len(x.x.MissingIDs) < 5 {
				x.x.MissingIDs = append(x.x.MissingIDs, rec.EventID)
			}
			tr.add(ctx, root.ID, &rec)
		}
	}
	return []CrossCheck{x.x}
}

// dataEvents sums the data events the pass found, as the data-event scan
// of the LookupEvents path does.
func (p *trailPass) dataEvents() *DataEvents {
	p.mu.Lock()
	// The day folders of the files read, or that could not be.
	folders := map[string]bool{}
	for _, d := range p.done {
		folders[path.Dir(d.obj.key)+"/"] = true
	}
	for _, o := range p.failed {
		folders[path.Dir(o.key)+"/"] = true
	}
	de := &DataEvents{Bucket: p.layout.bucket, Prefixes: slices.Sorted(maps.Keys(folders)),
		Objects: p.read.Objects, FailedObjects: p.read.FailedObjects, Bytes: p.read.Decompressed}
	p.mu.Unlock()
	p.tr.fillDataEvents(de)
	return de
}

// doubts says what the coverage of account's folder in the layout l
// could not settle, or took on trust: each is a gap.
func (c *trailCoverage) doubts(l trailLayout, account string) []string {
	if c == nil {
		return nil
	}
	var out []string
	if l.source != "" {
		out = append(out, fmt.Sprintf("%s; LookupEvents reads the last %s of each region, but a file missing between files received is seen only when it leaves more than %s without a file, or its events are in the cross-check's pages",
			l.replicaCaveat(), minutes(deliveryAllowance+l.lag()), minutes(deliveryAllowance)))
	}
	if c.err != nil {
		return append(out, fmt.Sprintf("the account's trails cannot be described (cloudtrail:DescribeTrails: %s): the bucket is taken to hold every management event, as most trails deliver", describeAWSError(c.err)))
	}
	if len(c.unknown) > 0 {
		out = append(out, fmt.Sprintf("the event selectors of %s cannot be read (cloudtrail:GetEventSelectors): the bucket is taken to hold every management event, as most trails do", strings.Join(c.unknown, ", ")))
	}
	if len(c.statusUnknown) > 0 {
		out = append(out, fmt.Sprintf("whether %s logs now cannot be read (cloudtrail:GetTrailStatus): it is taken to log, as most trails do", strings.Join(c.statusUnknown, ", ")))
	}
	if len(c.stopped) > 0 {
		out = append(out, fmt.Sprintf("%s writes to the trail bucket but does not log now (cloudtrail:GetTrailStatus): its files stand for their data events only, and LookupEvents reads the management events that no trail still logging delivers", strings.Join(c.stopped, ", ")))
	}
	if len(c.trails)+len(c.stopped) == 0 {
		who := "a trail moved, deleted, or not visible to keyleak; or S3 replication, when the bucket is a copy of the trails' bucket: then name that bucket in aws.trail_source_bucket, or --trail-source-bucket"
		if l.source != "" {
			who = "the bucket is read as the replica of " + l.source + ", which no trail of the account writes either"
		}
		out = append(out, fmt.Sprintf("no trail of the account writes %s now (cloudtrail:DescribeTrails in every region investigated): whoever wrote its files (%s), they stand for their data events only, and LookupEvents reads the management events",
			l.accountPrefix(account), who))
	}
	return out
}
