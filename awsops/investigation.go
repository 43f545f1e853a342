package awsops

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
)

// Investigation is what keyleak found out about one access key: who owns
// it and what it may do, what it and every credential minted from it did
// in CloudTrail, which S3 objects they touched, what they created, and
// what it cost. It is the stable JSON document described in
// docs/investigation-json.md; front ends render it through Summary,
// Sections and FollowUps.
type Investigation struct {
	AccessKeyID string    `json:"access_key_id"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at"`
	Window      Window    `json:"window"`
	Identity    Identity  `json:"identity"`
	// Regions are the regions swept in the key's account: those of
	// keyleak's partition the account has enabled.
	Regions []string `json:"regions"`
	// SkippedRegions are opt-in regions the account has not enabled: no
	// key of the account can call them, so they are not swept.
	SkippedRegions []string `json:"skipped_regions,omitempty"`
	// Activity sums the events of the key and all its sessions.
	Activity Activity `json:"activity"`
	// Sessions is the credential tree, parents before children; the first
	// is the investigated key.
	Sessions []Session `json:"sessions"`
	// Flagged are the events worth a responder's eyes, oldest first: the
	// events of the catalogue's techniques (recon and single object
	// deletes only from new sources), and every change from a new source.
	Flagged []FlaggedEvent `json:"flagged"`
	// Techniques are the catalogue's techniques among the flagged events.
	Techniques []TechniqueSeen `json:"techniques"`
	// Sources are where the key and its sessions were used from, split
	// into the key's baseline and the attacker's, oldest first.
	Sources []Source `json:"sources"`
	// FlaggedDropped counts flagged events beyond the kept maximum.
	FlaggedDropped int `json:"flagged_dropped,omitempty"`
	// KMSDecrypts are kms:Decrypt-like calls, failed ones included.
	KMSDecrypts []FlaggedEvent `json:"kms_decrypts"`
	// Resources are what the key and its sessions created (at most 1,000).
	Resources []Resource `json:"resources"`
	// ResourcesDropped counts created resources beyond those kept.
	ResourcesDropped int           `json:"resources_dropped,omitempty"`
	DataEvents       *DataEvents   `json:"data_events,omitempty"`
	Cost             *CostReport   `json:"cost,omitempty"`
	Sweep            []RegionStats `json:"sweep"`
	// Plan says which path each part of the investigation took and why:
	// the trail bucket, LookupEvents or Athena.
	Plan []PlanPart `json:"plan"`
	// Trail sums the trail-first pass, when there was one.
	Trail *TrailRead `json:"trail,omitempty"`
	// CrossChecks compare a few LookupEvents pages with the trail.
	CrossChecks []CrossCheck `json:"cross_checks,omitempty"`
	// Athena reports the queries run, with their IDs and bytes scanned.
	Athena []AthenaRun `json:"athena,omitempty"`
	// IPSeen is where else in the organisation the attacker's addresses
	// were seen in the window (with Athena configured): outside the
	// credential tree first.
	IPSeen []IPSighting `json:"ip_seen,omitempty"`
	// IPSeenDropped counts sightings beyond those kept.
	IPSeenDropped int `json:"ip_seen_dropped,omitempty"`
	// Gaps say what could not be established and why; an empty list means
	// the investigation is complete.
	Gaps []Gap `json:"gaps"`
}

// Window is the time range investigated.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Reason says how Start was chosen.
	Reason string `json:"reason"`
}

// Steps of an investigation, named in gaps.
const (
	StepIdentify   = "identify"
	StepCloudTrail = "cloudtrail"
	StepDataEvents = "data-events"
	StepResources  = "resources"
	StepCost       = "cost"
	StepIPSeen     = "ip-seen"
)

// Gap is something the investigation could not establish.
type Gap struct {
	Step        string    `json:"step"`
	Account     string    `json:"account,omitempty"`
	Region      string    `json:"region,omitempty"`
	AccessKeyID string    `json:"access_key_id,omitempty"`
	From        time.Time `json:"from,omitzero"`
	To          time.Time `json:"to,omitzero"`
	Reason      string    `json:"reason"`
}

// Complete reports whether nothing is missing.
func (r *Investigation) Complete() bool { return len(r.Gaps) == 0 }

// InvestigateOptions shape one investigation.
type InvestigateOptions struct {
	// Since overrides the start of the window (default: 90 days back or
	// the key's creation, whichever is later).
	Since time.Time
	// Regions overrides the regions swept (and Options.Regions).
	Regions []string
	// TrailBucket, when set, is read first: the planner chooses, per
	// account, between one pass over its log files (management and data
	// events) and LookupEvents, by estimated cost. TrailAccount is the
	// account holding it (default: keyleak's own); TrailPrefix the S3 key
	// prefix the trail writes under (before AWSLogs/). TrailSource, when
	// TrailBucket is a replica (S3 replication keeps the keys), names the
	// bucket the trails write: trails that write there count as writing
	// the files read.
	TrailBucket  string
	TrailAccount string
	TrailPrefix  string
	TrailSource  string
	// Path forces a path where the planner would choose: PathTrail or
	// PathLookup ("" lets the planner decide).
	Path string
	// Athena, when set, is used for an account whose log files in the
	// window exceed its BudgetBytes.
	Athena *AthenaOptions
	// Chains is the number of pagination chains per region (default 4).
	Chains int
	// CallTimeout bounds one LookupEvents call (default 20 s).
	CallTimeout time.Duration
	// Progress, if set, is called during the sweep.
	Progress func(Progress)
	// Cost caches Cost Explorer results; nil skips the cost check.
	Cost *CostCache
}

// maxWindow is how far back LookupEvents reaches.
const maxWindow = 90 * 24 * time.Hour

// Investigate runs the read-only investigation of key. It always returns
// an Investigation; what could not be done is listed in its Gaps. The
// error is non-nil only when ctx ended.
func (c *Client) Investigate(ctx context.Context, key KeyID, opts InvestigateOptions) (*Investigation, error) {
	now := c.Now()
	inv := &Investigation{AccessKeyID: key.String(), StartedAt: now.UTC()}
	inv.Identity = c.Identify(ctx, key)
	inv.Gaps = append(inv.Gaps, inv.Identity.Gaps...)
	account := inv.Identity.Account
	if opts.Since.IsZero() && inv.Identity.Created != nil {
		c.creationFromTrail(ctx, &inv.Identity, now)
	}
	inv.Window = investigationWindow(inv.Identity, key, opts.Since, now)

	root := Session{AccessKeyID: key.String(), Account: account, Principal: inv.Identity.ARN}
	tr := newTracker(root)
	own, err := c.ownIn(ctx, account, inv.Window.Start)
	if err != nil {
		inv.Gaps = append(inv.Gaps, Gap{Step: StepResources, Reason: "the organisation's accounts could not be listed (" + err.Error() +
			"): a policy, share or trust that admits one of them not named in aws.accounts is taken as opening to the outside"})
	}
	tr.own = own
	regions := &regionCache{c: c, override: firstNonEmpty(opts.Regions, c.opts.Regions), lists: map[string][]string{}, skipped: map[string][]string{}}
	sw := newTreeSweep(tr, opts, c.Now, regions.get, c.lookupClient)
	sw.budget = c.lookups
	list, err := regions.get(ctx, account)
	if err != nil {
		inv.Gaps = append(inv.Gaps, Gap{Step: StepCloudTrail, Account: account, Reason: err.Error()})
	}
	inv.Regions, inv.SkippedRegions = list, regions.skippedIn(account)
	if opts.TrailBucket != "" && opts.Path != PathLookup && c.investigateTrail(ctx, inv, tr, key, opts, regions) {
		return c.finishInvestigation(ctx, inv, tr, opts, key, now)
	}
	if len(inv.Plan) == 0 {
		reason := "no trail bucket is configured"
		if opts.Path == PathLookup {
			reason = "the LookupEvents path was asked for"
		}
		inv.Plan = append(inv.Plan, PlanPart{Account: account, From: inv.Window.Start, To: inv.Window.End, Path: PathLookup, Reason: reason})
	}
	initial := sweepTasks(key, account, list, inv.Window, now)
	sw.run(ctx, initial)
	tr.setOnDerived(func(_ context.Context, s Session) {
		sw.addGap(Gap{Step: StepDataEvents, Account: s.Account, AccessKeyID: s.AccessKeyID, From: s.Issued, To: s.Expires,
			Reason: "minted by a call found only in the trail files, after the CloudTrail sweep: its own events were not looked up"})
	})
	tr.setOnDoor(func(_ context.Context, d *door) {
		sw.addGap(Gap{Step: StepDataEvents, Account: d.account, From: d.opened,
			Reason: fmt.Sprintf("%s %s was opened by a call found only in the trail files, after the CloudTrail sweep: its use was not looked up", d.via, d.subject)})
	})
	stats, gaps := sw.results()
	inv.Sweep = stats
	inv.Gaps = append(inv.Gaps, gaps...)
	if err := ctx.Err(); err != nil {
		// Stopped (keyleak shuts down, or the investigation's deadline
		// passed): what the sweep found so far, with its gaps.
		inv.collect(tr)
		inv.FinishedAt = c.Now().UTC()
		inv.normalize()
		return inv, fmt.Errorf("investigate %s: %w", key, err)
	}

	if opts.TrailBucket != "" {
		de, gaps := c.scanDataEvents(ctx, tr, opts, inv.Identity.Account, inv.Window)
		inv.DataEvents = de
		inv.Gaps = append(inv.Gaps, gaps...)
	}
	return c.finishInvestigation(ctx, inv, tr, opts, key, now)
}

// finishInvestigation collects what the tracker found, checks the created
// resources and the cost.
func (c *Client) finishInvestigation(ctx context.Context, inv *Investigation, tr *tracker, opts InvestigateOptions, key KeyID, now time.Time) (*Investigation, error) {
	account := inv.Identity.Account
	if err := ctx.Err(); err != nil {
		inv.collect(tr)
		inv.FinishedAt = c.Now().UTC()
		inv.normalize()
		return inv, fmt.Errorf("investigate %s: %w", key, err)
	}
	inv.collect(tr)
	inv.Gaps = append(inv.Gaps, c.checkResources(ctx, inv.Resources, inv.Window.Start)...)
	if opts.Athena != nil {
		c.seeIPsElsewhere(ctx, inv, *opts.Athena)
	}
	if opts.Cost != nil && account != "" {
		from := inv.Window.Start
		if !inv.Activity.First.IsZero() {
			from = inv.Activity.First
		}
		report, err := opts.Cost.Get(ctx, c, account, from, now)
		if err != nil {
			inv.Gaps = append(inv.Gaps, Gap{Step: StepCost, Account: account, Reason: err.Error()})
		}
		inv.Cost = report
	}
	inv.FinishedAt = c.Now().UTC()
	inv.normalize()
	return inv, ctx.Err()
}

// collect takes what the tracker found into the investigation.
func (r *Investigation) collect(tr *tracker) {
	tr.mu.Lock()
	r.Flagged, r.Sources, r.FlaggedDropped = tr.finishSources()
	r.Techniques = techniquesSeen(r.Flagged)
	r.KMSDecrypts = slices.Clone(tr.kms)
	r.Resources, r.ResourcesDropped = slices.Clone(tr.created), tr.createdDropped
	r.Activity = tr.total.activity()
	tr.mu.Unlock()
	r.Sessions = tr.sessions()
	r.settleBaselineDoors()
	sortEvents(r.KMSDecrypts)
}

// settleBaselineDoors: once the attacker's sources are told apart from
// the key's baseline, a door opened from the baseline (the owner rotating
// its key, its IaC making a role) is not the attacker's doing as far as
// keyleak can tell: its branch is kept, and marked so, not CREATED BY THE
// ATTACKER.
func (r *Investigation) settleBaselineDoors() {
	baseline, attacked := map[string]bool{}, false
	for _, s := range r.Sources {
		if s.Baseline && !s.Attacker {
			baseline[s.Network] = true
		}
		attacked = attacked || s.Attacker
	}
	if !attacked {
		return // no attacker's source told apart: nothing to tell the owner's doors from
	}
	for i := range r.Sessions {
		s := &r.Sessions[i]
		if s.CreatedByAttacker && s.OpenedFrom != "" && baseline[networkOf(s.OpenedFrom)] {
			s.CreatedByAttacker, s.Baseline = false, true
		}
	}
}

// OwnersBranches are the nodes (Session.ID, or the access key ID of a
// document stored before nodes had IDs) of the branches the investigation
// takes for the owner's: a node marked Baseline, and the nodes below it,
// as long as each was minted from the owner's usual place (a baseline
// source of the key's, or AWS itself for a service's session). A session
// minted from anywhere else (the attacker assuming the owner's role from
// its own account) is not the owner's, nor is anything below it. What a
// session of the owner's branches did is not the attacker's as far as
// keyleak can tell, so it is no credential of the attacker's either.
func (r *Investigation) OwnersBranches() map[string]bool {
	usual := map[string]bool{}
	for _, s := range r.Sources {
		if s.Baseline && !s.Attacker {
			usual[s.Network] = true
		}
	}
	fromUsualPlace := func(s Session) bool {
		if s.SourceIP == "" {
			return true // (the node of a created key or user: its door's call was weighed)
		}
		n := networkOf(s.SourceIP)
		return usual[n] || strings.HasPrefix(n, "aws:")
	}
	id := func(s Session) string { return cmp.Or(s.ID, s.AccessKeyID) }
	byID := map[string]Session{}
	for _, s := range r.Sessions {
		byID[id(s)] = s
	}
	out := map[string]bool{}
	for _, s := range r.Sessions {
		// Up the tree to a marked node, through nodes of the usual place
		// only (a document is outside input: a loop in it ends after as
		// many steps as nodes).
		n, owners := s, false
		for steps := 0; steps <= len(r.Sessions) && fromUsualPlace(n); steps++ {
			if n.Baseline {
				owners = true
				break
			}
			up, ok := byID[cmp.Or(n.ParentID, n.ParentAccessKeyID)]
			if !ok {
				break
			}
			n = up
		}
		if owners {
			out[id(s)] = true
		}
	}
	return out
}

// lookupClient is the CloudTrail client of one account and region.
func (c *Client) lookupClient(ctx context.Context, account, region string) (lookupAPI, error) {
	return c.cloudtrailClient(ctx, account, region)
}

// newTreeSweep makes a sweeper whose pages feed tr, and which sweeps every
// credential tr finds minted at once, first in line for each region's
// budget, over the credential's validity window in every region of its
// account.
func newTreeSweep(tr *tracker, opts InvestigateOptions, now func() time.Time,
	regions func(ctx context.Context, account string) ([]string, error),
	api func(ctx context.Context, account, region string) (lookupAPI, error)) *sweeper {
	sw := newSweeper(opts.Chains, opts.CallTimeout, api, tr.page)
	sw.progress, sw.keys, sw.started = opts.Progress, tr.keyCount, tr.sweepStarted
	tr.setOnDerived(func(ctx context.Context, s Session) {
		seen := time.Now()
		end := minTime(s.Expires, now())
		list, err := regions(ctx, s.Account)
		if err != nil {
			sw.addGap(sweepGap(sweepTask{account: s.Account, value: s.AccessKeyID, start: s.Issued, end: end}, err))
			return
		}
		if s.Expires.IsZero() {
			end = now() // an access key lives until deleted
		}
		for _, r := range list {
			sw.submit(ctx, sweepTask{account: s.Account, region: r, attr: cttypes.LookupAttributeKeyAccessKeyId,
				value: s.AccessKeyID, start: s.Issued.Add(-time.Second), end: end, urgent: true, seen: seen})
		}
	})
	tr.setOnDoor(func(ctx context.Context, d *door) {
		seen := time.Now()
		list := []string{d.region}
		if d.region == "" {
			var err error
			if list, err = regions(ctx, d.account); err != nil {
				sw.addGap(sweepGap(sweepTask{account: d.account, value: d.value, start: d.opened, end: now()}, err))
				return
			}
		}
		for _, r := range list {
			sw.submit(ctx, sweepTask{account: d.account, region: r, attr: d.attr, value: d.value,
				start: d.opened.Add(-time.Second), end: now(), urgent: true, seen: seen, door: d})
		}
	})
	return sw
}

// sweepTasks are the first tasks of a sweep of key in the regions of its
// account: the window cut in two per region, and for a temporary key the
// lookup of the STS call that issued it.
func sweepTasks(key KeyID, account string, regions []string, w Window, now time.Time) []sweepTask {
	var out []sweepTask
	for _, r := range regions {
		out = append(out, timeSlices(sweepTask{account: account, region: r, attr: cttypes.LookupAttributeKeyAccessKeyId,
			value: key.String(), start: w.Start, end: w.End}, 2)...)
		if key.Kind() == TemporaryKey {
			out = append(out, sweepTask{account: account, region: r, attr: cttypes.LookupAttributeKeyResourceName,
				value: key.String(), start: maxTime(w.Start, now.Add(-36*time.Hour)), end: w.End})
		}
	}
	return out
}

// normalize gives every list of the document a value, so that JSON
// shows [] rather than null for a step that found nothing.
func (r *Investigation) normalize() {
	for _, l := range []*[]string{&r.Regions, &r.Identity.Capabilities, &r.Identity.SeverityReasons} {
		if *l == nil {
			*l = []string{}
		}
	}
	if r.Identity.Policies == nil {
		r.Identity.Policies = []Policy{}
	}
	for _, l := range []*[]FlaggedEvent{&r.Flagged, &r.KMSDecrypts} {
		if *l == nil {
			*l = []FlaggedEvent{}
		}
	}
	if r.Resources == nil {
		r.Resources = []Resource{}
	}
	if r.Techniques == nil {
		r.Techniques = []TechniqueSeen{}
	}
	if r.Sources == nil {
		r.Sources = []Source{}
	}
	if r.Sweep == nil {
		r.Sweep = []RegionStats{}
	}
	if r.Plan == nil {
		r.Plan = []PlanPart{}
	}
	if r.Gaps == nil {
		r.Gaps = []Gap{}
	}
}

// investigationWindow is 90 days back or the key's creation, whichever is
// later, unless since says otherwise.
func investigationWindow(id Identity, key KeyID, since, now time.Time) Window {
	w := Window{Start: now.Add(-maxWindow).UTC(), End: now.UTC(), Reason: "90 days back, the limit of CloudTrail event history"}
	switch {
	case !since.IsZero():
		w.Start, w.Reason = since.UTC(), "set by --since"
		if since.Before(now.Add(-maxWindow)) {
			w.Start, w.Reason = now.Add(-maxWindow).UTC(), "--since is beyond CloudTrail's 90 days; cut to 90 days back"
		}
	case key.Kind() == TemporaryKey:
		w.Start, w.Reason = now.Add(-36*time.Hour).UTC(), "36 hours back, the longest a temporary key lives"
	case id.Created != nil && id.Created.After(w.Start):
		w.Start, w.Reason = id.Created.UTC(), "since the key was created"
	}
	return w
}

// timeSlices cuts t into n equal slices, newest first.
func timeSlices(t sweepTask, n int) []sweepTask {
	span := t.end.Sub(t.start)
	if n <= 1 || span < minSplitSpan*time.Duration(n) {
		return []sweepTask{t}
	}
	out := make([]sweepTask, 0, n)
	for i := range n {
		s := t
		s.end = t.end.Add(-span * time.Duration(i) / time.Duration(n))
		s.start = t.end.Add(-span * time.Duration(i+1) / time.Duration(n))
		out = append(out, s)
	}
	return out
}

func firstNonEmpty(lists ...[]string) []string {
	for _, l := range lists {
		if len(l) > 0 {
			return l
		}
	}
	return nil
}

// regionCache lists each account's regions once.
type regionCache struct {
	c        *Client
	override []string

	mu      sync.Mutex
	lists   map[string][]string
	skipped map[string][]string
}

func (rc *regionCache) get(ctx context.Context, account string) ([]string, error) {
	if len(rc.override) > 0 {
		return rc.override, nil
	}
	rc.mu.Lock()
	if l, ok := rc.lists[account]; ok {
		rc.mu.Unlock()
		return l, nil
	}
	rc.mu.Unlock()
	list, skipped, err := rc.c.regionsOf(ctx, account)
	if err != nil {
		return nil, err
	}
	rc.mu.Lock()
	rc.lists[account], rc.skipped[account] = list, skipped
	rc.mu.Unlock()
	return list, nil
}

// skippedIn are the opt-in regions of account that are not enabled.
func (rc *regionCache) skippedIn(account string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.skipped[account]
}

// regionsOf lists the regions of keyleak's partition that account has
// enabled, and the opt-in regions it has not (which no key of the account
// can call, so they are not swept).
func (c *Client) regionsOf(ctx context.Context, account string) (enabled, skipped []string, err error) {
	client, err := c.ec2Client(ctx, account, "")
	if err != nil {
		return nil, nil, fmt.Errorf("list the regions of account %s: %w", account, err)
	}
	out, err := client.DescribeRegions(ctx, &ec2.DescribeRegionsInput{AllRegions: aws.Bool(true)})
	if err != nil {
		return nil, nil, fmt.Errorf("list the regions of account %s (ec2:DescribeRegions): %s", account, describeAWSError(err))
	}
	partition := partitionOf(c.base.Region)
	for _, r := range out.Regions {
		name := aws.ToString(r.RegionName)
		if name == "" || partitionOf(name) != partition {
			continue
		}
		switch aws.ToString(r.OptInStatus) {
		case "", "opt-in-not-required", "opted-in":
			enabled = append(enabled, name)
		default: // not-opted-in
			skipped = append(skipped, name)
		}
	}
	slices.Sort(enabled)
	slices.Sort(skipped)
	if len(enabled) == 0 {
		return nil, skipped, fmt.Errorf("list the regions of account %s (ec2:DescribeRegions): no enabled region of partition %s in the answer", account, partition)
	}
	return enabled, skipped, nil
}

// isAPIError reports whether err is an AWS error with one of the codes.
func isAPIError(err error, codes ...string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && slices.Contains(codes, ae.ErrorCode())
}
