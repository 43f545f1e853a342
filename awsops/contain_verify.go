package awsops

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"golang.org/x/sync/errgroup"

	"github.com/keyleak/keyleak/awsops/trail"
)

// VerifyOptions say what Verify looks at besides the target.
type VerifyOptions struct {
	// Since is when containment happened: CloudTrail activity after it
	// is reported.
	Since time.Time
	// Regions are searched with cloudtrail:LookupEvents; the client's
	// configured regions, else its home region, when empty.
	Regions []string
	// SessionKeys are the temporary keys derived from the leaked key
	// (from the credential tree), checked like the key itself.
	SessionKeys []string
	// KeyAccounts names the account a session key acts in, when it is not
	// the target's (a role assumed across accounts): its calls are in that
	// account's CloudTrail.
	KeyAccounts map[string]string
	// Resources are what the investigation found the attacker created or
	// opened: each is checked again, and one still there is a problem.
	Resources []Resource
	// WindowStart is when the investigation's window began: an account
	// that joined the organisation since is not inside it (see
	// orgaccounts.go) when a door's policy is checked again.
	WindowStart time.Time
	// UserSessions are the sessions of the tree that sts:GetSessionToken
	// or sts:GetFederationToken minted and that have not expired: only
	// the user's revocation or deny-all refuses them.
	UserSessions []string
	// TreeUnknown, when set, says why the credential tree is not known
	// (the investigation has not finished): containment cannot be told.
	TreeUnknown string
	// TrailBucket, when set, is where the trails deliver (as the
	// investigation reads it, with TrailAccount, TrailPrefix and
	// TrailSource): the data events of the keys since Since (objects read
	// or written, functions invoked…), which LookupEvents does not show,
	// are read from its log files.
	TrailBucket, TrailAccount, TrailPrefix, TrailSource string
}

// DeliveryLag is how late CloudTrail may show a call in LookupEvents.
const DeliveryLag = deliveryAllowance

// PrincipalCheck is the containment state of the user or one role.
type PrincipalCheck struct {
	ARN         string
	Revoked     bool   // keyleak-revoke-<incident> is in place
	Cutoff      string // its cutoff
	DenyAll     bool   // keyleak-deny-all-<incident> is in place (users)
	Quarantined bool   // a version of AWSCompromisedKeyQuarantine is attached (users)
}

// TrailActivity is a call made with the key or a derived key after
// containment.
type TrailActivity struct {
	Time        time.Time
	Region      string
	EventName   string
	AccessKeyID string
	ErrorCode   string // empty when the call succeeded
}

// Refused reports whether AWS refused the call.
func (a TrailActivity) Refused() bool { return a.ErrorCode != "" }

// VerifyReport is the result of re-checking containment. Problems empty
// means the key and every derived credential are refused.
type VerifyReport struct {
	At         time.Time
	KeyStatus  string // Active, Inactive or deleted; empty for root keys
	Principals []PrincipalCheck
	Activity   []TrailActivity // newest first within each region
	// Open are the doors the attacker opened (shares, policy statements,
	// trust entries, rules, grants) and the ways in it made (users, keys,
	// providers, anchors…) that are still there, as checked now.
	Open     []Resource
	Problems []string
	Notes    []string
	// Settles is when CloudTrail will have shown every call since
	// containment (Since plus DeliveryLag), when that is after At: until
	// then, "contained" holds only as far as CloudTrail shows yet.
	Settles time.Time
}

// Contained reports whether nothing was found still working.
func (v VerifyReport) Contained() bool { return len(v.Problems) == 0 }

// Verify re-checks, read-only, that containment holds: the key is
// Inactive or deleted, every role carries keyleak's revocation, and no
// call made with the key or its derived keys since opts.Since succeeded.
func (c *Client) Verify(ctx context.Context, t Target, opts VerifyOptions) (VerifyReport, error) {
	rep := VerifyReport{At: c.Now()}
	r, err := c.newContainRun(ctx, t)
	if err != nil {
		return rep, err
	}
	revokeName := keyleakPolicyName(policyRevoke, t.Incident)
	if opts.TreeUnknown != "" {
		rep.Problems = append(rep.Problems, "not known yet: "+opts.TreeUnknown+"; what the key derived is not checked")
	}
	if t.Root {
		rep.Problems = append(rep.Problems, "a root key: IAM cannot show or change its status, so keyleak cannot tell it is refused; sign in as root and check Security credentials")
	} else if t.UserName != "" {
		if rep.KeyStatus, err = r.keyStatus(ctx); err != nil {
			return rep, err
		}
		if rep.KeyStatus == KeyActive {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s is still Active", t.AccessKeyID))
		}
		user := r.userPrincipal()
		pc := PrincipalCheck{ARN: user.ARN}
		if pc.Cutoff, pc.Revoked, err = r.revocationOf(ctx, user, revokeName); err != nil {
			return rep, err
		}
		deny, err := r.inlinePolicy(ctx, user, keyleakPolicyName(policyDenyAll, t.Incident))
		if err != nil {
			return rep, err
		}
		want, _ := normalPolicy(denyAllDocument)
		pc.DenyAll = deny == want
		attached, err := r.quarantinesAttached(ctx)
		if err != nil {
			return rep, err
		}
		pc.Quarantined = len(attached) > 0
		switch {
		case pc.Revoked || pc.DenyAll:
		case len(opts.UserSessions) > 0:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s has neither keyleak's revocation nor its deny-all: %s, minted from the key with sts:GetSessionToken or GetFederationToken, still work until they expire (revoke-sessions)",
				user.ARN, strings.Join(opts.UserSessions, ", ")))
		default:
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s has neither keyleak's revocation nor its deny-all: sessions it minted with sts:GetSessionToken stay valid until they expire.", user.ARN))
		}
		rep.Principals = append(rep.Principals, pc)
	}
	for _, arn := range t.Roles {
		p, err := parsePrincipalARN(arn)
		if err != nil {
			return rep, err
		}
		pc := PrincipalCheck{ARN: arn}
		if pc.Cutoff, pc.Revoked, err = r.revocationOf(ctx, p, revokeName); err != nil {
			return rep, err
		}
		if !pc.Revoked {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s has no %s: sessions of it issued to the attacker still work", arn, revokeName))
		}
		rep.Principals = append(rep.Principals, pc)
	}
	byAccount := map[string][]string{t.Account: {t.AccessKeyID}}
	for _, k := range opts.SessionKeys {
		a := t.Account
		if o := opts.KeyAccounts[k]; o != "" {
			a = o
		}
		byAccount[a] = append(byAccount[a], k)
	}
	var activity []TrailActivity
	for _, account := range slices.Sorted(maps.Keys(byAccount)) {
		found, err := r.trailActivity(ctx, account, byAccount[account], opts)
		if err != nil {
			return rep, err
		}
		activity = append(activity, found...)
		if opts.TrailBucket != "" && !opts.Since.IsZero() {
			data, problem, note := r.dataActivity(ctx, account, byAccount[account], opts)
			activity = append(activity, data...)
			if problem != "" {
				rep.Problems = append(rep.Problems, problem)
			}
			if note != "" {
				rep.Notes = append(rep.Notes, note)
			}
		}
	}
	slices.SortFunc(activity, func(a, b TrailActivity) int {
		return cmp.Or(b.Time.Compare(a.Time), strings.Compare(a.Region, b.Region), strings.Compare(a.EventName, b.EventName),
			strings.Compare(a.AccessKeyID, b.AccessKeyID), strings.Compare(a.ErrorCode, b.ErrorCode))
	})
	activity = slices.Compact(activity) // a call both LookupEvents and the trail's files show, once
	rep.Activity = activity
	for _, a := range activity {
		if !a.Refused() {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s succeeded with %s at %s in %s, after containment",
				a.EventName, a.AccessKeyID, a.Time.UTC().Format(time.RFC3339), a.Region))
		}
	}
	settle := DeliveryLag
	if opts.TrailBucket != "" && opts.TrailSource != "" {
		settle += replicationAllowance // the files reach a replica later still
	}
	if lag := opts.Since.Add(settle); rep.At.Before(lag) {
		rep.Settles = lag
	}
	if len(opts.Resources) > 0 {
		now := slices.Clone(opts.Resources)
		for _, g := range c.checkResources(ctx, now, opts.WindowStart) {
			rep.Notes = append(rep.Notes, g.Reason)
		}
		for _, x := range now {
			if x.Exists == ExistsYes {
				rep.Open = append(rep.Open, x)
			}
		}
		if len(rep.Open) > 0 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%d of what the attacker opened or made still let it in (see Still open)", len(rep.Open)))
		}
	}
	return rep, nil
}

// revocationOf reads keyleak's revocation on p.
func (r *containRun) revocationOf(ctx context.Context, p iamPrincipal, name string) (cutoff string, ok bool, err error) {
	doc, err := r.inlinePolicy(ctx, p, name)
	if err != nil || doc == "" {
		return "", false, err
	}
	cutoff, ok = revokeCutoffOf(doc)
	return cutoff, ok, nil
}

// trailActivity looks up the calls of keys in account since opts.Since
// in every region at once, each region paced by the Client's
// LookupEvents budget.
func (r *containRun) trailActivity(ctx context.Context, account string, keys []string, opts VerifyOptions) ([]TrailActivity, error) {
	base := r.cfg
	if account != r.t.Account {
		cfg, err := r.config(ctx, account)
		if err != nil {
			return nil, fmt.Errorf("activity in account %s: %w", account, err)
		}
		base = cfg
	}
	regions := opts.Regions
	if len(regions) == 0 {
		regions = r.c.opts.Regions
	}
	if len(regions) == 0 {
		// Every region the account has enabled, as the investigation
		// sweeps: a credential of the tree may act in any.
		enabled, _, err := r.c.regionsOf(ctx, account)
		if err != nil {
			return nil, err
		}
		regions = enabled
	}
	var mu sync.Mutex
	var all []TrailActivity
	g, ctx := errgroup.WithContext(ctx)
	for _, region := range regions {
		g.Go(func() error {
			cfg := base.Copy()
			cfg.Region = region
			client := cloudtrail.NewFromConfig(cfg, r.c.lookups.paced(account))
			for _, key := range keys {
				found, err := lookupKeyEvents(ctx, client, region, key, opts.Since, r.c.Now())
				if err != nil {
					return err
				}
				mu.Lock()
				all = append(all, found...)
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	slices.SortFunc(all, func(a, b TrailActivity) int { return b.Time.Compare(a.Time) })
	return all, nil
}

func lookupKeyEvents(ctx context.Context, client *cloudtrail.Client, region, key string, since, until time.Time) ([]TrailActivity, error) {
	in := &cloudtrail.LookupEventsInput{
		LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(key)}},
		StartTime:        aws.Time(since.Truncate(time.Second)), // CloudTrail's times are to the second
		EndTime:          aws.Time(until.Add(time.Minute)),
	}
	var found []TrailActivity
	p := cloudtrail.NewLookupEventsPaginator(client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("activity of %s in %s (cloudtrail:LookupEvents): %w", key, region, err)
		}
		for _, e := range page.Events {
			var rec struct {
				ErrorCode string `json:"errorCode"`
			}
			_ = json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &rec)
			found = append(found, TrailActivity{
				Time: aws.ToTime(e.EventTime), Region: region, EventName: aws.ToString(e.EventName), AccessKeyID: key, ErrorCode: rec.ErrorCode,
			})
		}
	}
	return found, nil
}

// dataActivity reads the data events the keys made in account since
// opts.Since from the trail bucket's log files, every region's. A problem
// is what could not be read (containment cannot be told for it); a note
// says what was read.
func (r *containRun) dataActivity(ctx context.Context, account string, keys []string, opts VerifyOptions) (found []TrailActivity, problem, note string) {
	now := r.c.Now()
	from := InvestigateOptions{TrailBucket: opts.TrailBucket, TrailAccount: opts.TrailAccount, TrailPrefix: opts.TrailPrefix, TrailSource: opts.TrailSource}
	w := Window{Start: opts.Since, End: now}
	client, layout, err := r.c.trailLayoutFor(ctx, from, account, w)
	if err != nil {
		return nil, fmt.Sprintf("the data events of account %s since containment are not known: %v", account, err), ""
	}
	listing := listTrail(ctx, client, layout, account, w.Start, w.End, now)
	switch {
	case listing.err != nil:
		return nil, fmt.Sprintf("the data events of account %s since containment are not known: %v", account, listing.err), ""
	case listing.absent:
		return nil, "", fmt.Sprintf("s3://%s holds no log files of account %s: its data events since containment are not known.", layout.bucket, account)
	}
	var objects []trail.Object
	var unlisted []string
	for _, region := range slices.Sorted(maps.Keys(listing.regions)) {
		if err := listing.regions[region].err; err != nil {
			unlisted = append(unlisted, fmt.Sprintf("%s (%v)", region, err))
		}
		for _, o := range listing.regions[region].objects {
			objects = append(objects, trailObjectOf(client, layout.bucket, o.key))
		}
	}
	if len(unlisted) > 0 {
		problem = fmt.Sprintf("the trail log files of account %s in s3://%s could not be listed in %s: the data events there since containment are not known",
			account, layout.bucket, strings.Join(unlisted, ", "))
	}
	// CloudTrail's times are to the second: a call in containment's own
	// second may be after it.
	since := opts.Since.Truncate(time.Second)
	var mu sync.Mutex
	scanner := trail.NewScanner(keys, trail.ScanOptions{})
	stats, err := scanner.ScanObjects(ctx, slices.Values(objects), 4, func(m trail.Match) error {
		rec := &m.Record
		// Management events too: LookupEvents may not have looked in
		// every region whose files are here; Verify keeps each call once.
		if rec.EventTime.Before(since) || !slices.Contains(keys, rec.UserIdentity.AccessKeyID) {
			return nil
		}
		mu.Lock()
		found = append(found, TrailActivity{Time: rec.EventTime, Region: rec.AWSRegion, EventName: rec.EventName,
			AccessKeyID: rec.UserIdentity.AccessKeyID, ErrorCode: rec.ErrorCode})
		mu.Unlock()
		return nil
	})
	if err != nil {
		problem = strings.TrimPrefix(problem+"; "+fmt.Sprintf("%d of %d trail log files of account %s in s3://%s could not be read: the data events in them are not known (%v)",
			stats.FailedObjects, stats.Objects, account, layout.bucket, err), "; ")
	}
	note = fmt.Sprintf("Data events of account %s since containment read from %s in s3://%s.", account, counted(stats.Objects, "log file"), layout.bucket)
	if layout.source != "" {
		note += " " + layout.replicaCaveat() + "."
	}
	return found, problem, note
}
