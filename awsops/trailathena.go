package awsops

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// athenaSource feeds the trail pass from Athena: each round asks which log
// files hold the events of the credentials found since the last round,
// and the pass reads those files (and no others) as it reads a listing.
type athenaSource struct {
	c      *Client
	o      AthenaOptions
	layout trailLayout
	proj   athenaProjection // what the table answers for: the files of the rest are read directly

	mu     sync.Mutex
	queued []Session
	runs   []AthenaRun
	named  map[string]bool // files already handed to the pass
	failed map[string]bool // keys Athena could not answer for: LookupEvents covers them
	// unprojected are the accounts whose files are read directly (see
	// trailPass.direct), said once in the plan.
	unprojected map[string]bool
}

func newAthenaSource(c *Client, o AthenaOptions, l trailLayout) *athenaSource {
	return &athenaSource{c: c, o: o, layout: l, named: map[string]bool{}, failed: map[string]bool{}, unprojected: map[string]bool{}}
}

// want queues a credential for the next round.
func (a *athenaSource) want(s Session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.queued = append(a.queued, s)
}

func (a *athenaSource) ready() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.queued) > 0
}

// maxAthenaKeys is the number of keys asked about in one query.
const maxAthenaKeys = maxAthenaParams / 2

// round runs one query for the queued credentials, over the span of their
// lives, and queues the files it names; it ends one of the pass's pending
// operations.
func (a *athenaSource) round(ctx context.Context, p *trailPass) {
	a.mu.Lock()
	batch := a.queued[:min(len(a.queued), maxAthenaKeys)]
	a.queued = a.queued[len(batch):]
	a.mu.Unlock()
	var keys []string
	from, to := time.Time{}, p.window.Start
	for _, s := range batch {
		keys = append(keys, s.AccessKeyID)
		issued, expires := maxTime(s.Issued, p.window.Start), p.now
		if s.ID == p.tr.root || s.Issued.IsZero() {
			issued = p.window.Start
		}
		if !s.Expires.IsZero() {
			expires = minTime(s.Expires, p.now)
		}
		if from.IsZero() || issued.Before(from) {
			from = issued
		}
		to = maxTime(to, expires)
	}
	var jobs []scanJob
	q, err := KeyObjectsQuery(a.o, nil, keys, from, to)
	var run AthenaRun
	if err == nil {
		run, err = a.c.RunAthena(ctx, a.o, q, func(row map[string]string) error {
			bucket, key, ok := strings.Cut(strings.TrimPrefix(row["object"], "s3://"), "/")
			if !ok || bucket != a.layout.bucket {
				return nil
			}
			stamp, ok := trailFileTime(key)
			if !ok || !a.proj.answers(row["account"], row["region"], stamp, p.now) {
				return nil // (files the table does not project are read directly)
			}
			a.mu.Lock()
			seen := a.named[key]
			a.named[key] = true
			a.mu.Unlock()
			if seen {
				return nil
			}
			jobs = append(jobs, scanJob{obj: trailObject{key: key, account: row["account"], region: row["region"], stamp: stamp}})
			return nil
		})
	} else {
		run = AthenaRun{Name: AthenaKeyObjects, Reason: err.Error()}
	}
	a.mu.Lock()
	a.runs = append(a.runs, run)
	if err != nil {
		for _, k := range keys {
			a.failed[k] = true
		}
	}
	a.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.gaps = append(p.gaps, Gap{Step: StepCloudTrail, From: from, To: to,
			Reason: fmt.Sprintf("athena query %s for %s: %v; their events are looked up with LookupEvents over their whole life", run.QueryID, counted(len(keys), "key"), err)})
		// Said account by account.
		byAccount := map[string][]string{}
		var accounts []string
		for _, s := range batch {
			if _, ok := byAccount[s.Account]; !ok {
				accounts = append(accounts, s.Account)
			}
			byAccount[s.Account] = append(byAccount[s.Account], s.AccessKeyID)
		}
		for _, account := range accounts {
			ks := byAccount[account]
			p.gaps = append(p.gaps, Gap{Step: StepDataEvents, Account: account, From: from, To: to,
				Reason: fmt.Sprintf("the S3 data events of %s (%s) are not known: Athena could not name their log files, and LookupEvents holds no data events", counted(len(ks), "key"), namesUpTo(ks, 3))})
			p.parts = append(p.parts, PlanPart{Account: account, From: from, To: to, Path: PathLookup,
				Reason: fmt.Sprintf("Athena failed for %s (%s): LookupEvents reads their events over their whole life", counted(len(ks), "key"), namesUpTo(ks, 3))})
		}
	}
	for _, j := range jobs {
		heap.Push(&p.queue, j)
	}
	p.pending--
	p.cond.Broadcast()
}

func (a *athenaSource) reports() []AthenaRun {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]AthenaRun(nil), a.runs...)
}

func (a *athenaSource) failedKeys() map[string]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]bool, len(a.failed))
	for k := range a.failed {
		out[k] = true
	}
	return out
}

// namesUpTo lists the first n names, and how many more there are.
func namesUpTo(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(" and %d more", len(names)-n)
}

// answersAll reports whether the table projects every file of the
// listing, as queried at now.
func (a *athenaSource) answersAll(l *accountListing, now time.Time) bool {
	for _, rl := range l.regions {
		for _, o := range rl.objects {
			if !a.proj.answers(o.account, o.region, o.stamp, now) {
				return false
			}
		}
	}
	return true
}

// direct returns the files of account, among objs, that the pass reads
// without Athena: all of them without Athena, else those of the regions
// Athena's table does not project, which the plan names. Called with p.mu
// held.
func (p *trailPass) direct(account string, objs []trailObject) []trailObject {
	if p.athena == nil {
		return objs
	}
	proj := p.athena.proj
	var out []trailObject
	var regions []string
	days := 0
	for _, o := range objs {
		if proj.answers(o.account, o.region, o.stamp, p.now) {
			continue
		}
		out = append(out, o)
		switch {
		case proj.regions != nil && !slices.Contains(proj.regions, o.region):
			if !slices.Contains(regions, o.region) {
				regions = append(regions, o.region)
			}
		default:
			days++
		}
	}
	if len(out) > 0 && !p.athena.unprojected[account] {
		p.athena.unprojected[account] = true
		slices.Sort(regions)
		var what string
		switch {
		case proj.bad != "":
			what = "the folder read: " + proj.bad
		case proj.accounts != nil && !slices.Contains(proj.accounts, account):
			what = "the account"
		case len(regions) > 0:
			what = counted(len(regions), "region") + " of the account (" + strings.Join(regions, ", ") + ")"
		default:
			what = fmt.Sprintf("the delivery days of %s of the account (its timestamp range is %s,%s)", counted(days, "log file"), proj.daysFrom, proj.daysTo)
		}
		p.parts = append(p.parts, PlanPart{Account: account, Path: PathTrail,
			Reason: fmt.Sprintf("the Athena table's partition projection leaves out %s: Athena would answer nothing there, so those log files are read directly", what)})
	}
	return out
}
