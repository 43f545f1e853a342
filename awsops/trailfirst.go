package awsops

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyleak/keyleak/awsops/trail"
)

// TrailRead sums the trail-first pass: the log files read from the trail
// bucket, in time order, for every credential of the tree at once.
type TrailRead struct {
	Bucket string `json:"bucket"`
	// Prefixes are the accounts' folders read (AWSLogs/[o-…/]<account>/CloudTrail/).
	Prefixes      []string `json:"prefixes"`
	Lists         int      `json:"list_calls"`
	Objects       int      `json:"log_objects"` // log files scanned
	FailedObjects int      `json:"failed_log_objects"`
	// Rescanned are files read again for credentials found after their
	// first read (a file delivered in the same minutes as the call that
	// minted the credential).
	Rescanned    int           `json:"rescanned_log_objects"`
	Bytes        int64         `json:"bytes"`        // as stored (gzip)
	Decompressed int64         `json:"decompressed"` // as scanned
	Elapsed      time.Duration `json:"elapsed_ns"`
}

// trailLayout is where a bucket keeps an account's log files.
type trailLayout struct {
	bucket string
	root   string // "<prefix>AWSLogs/" or "<prefix>AWSLogs/o-…/"
}

func (l trailLayout) accountPrefix(account string) string {
	return l.root + account + "/CloudTrail/"
}

// discoverTrailLayout finds whether the bucket holds an organisation trail
// (AWSLogs/o-…/<account>/) or account trails (AWSLogs/<account>/).
func discoverTrailLayout(ctx context.Context, client *s3.Client, bucket, prefix string) (trailLayout, error) {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	l := trailLayout{bucket: bucket, root: prefix + "AWSLogs/"}
	out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(l.root), Delimiter: aws.String("/")})
	if err != nil {
		return l, fmt.Errorf("list s3://%s/%s: %s", bucket, l.root, describeAWSError(err))
	}
	for _, p := range out.CommonPrefixes {
		name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(p.Prefix), l.root), "/")
		if strings.HasPrefix(name, "o-") {
			l.root += name + "/"
			break
		}
	}
	return l, nil
}

// trailObject is one log file.
type trailObject struct {
	key             string
	account, region string
	stamp           time.Time // delivery time, from the name: its events are older
	size            int64
}

// regionListing is what the bucket holds for one account and region in a
// window.
type regionListing struct {
	objects []trailObject
	bytes   int64
	newest  time.Time // newest file of the region, whatever its day
	err     error     // the listing failed: the region falls back to LookupEvents
}

// accountListing is what the bucket holds for one account.
type accountListing struct {
	account  string
	from, to time.Time
	absent   bool // no folder for the account
	err      error
	regions  map[string]*regionListing
	lists    int
	// coverage says which regions a trail of the account delivers to the
	// bucket (from cloudtrail:DescribeTrails); nil when unknown.
	coverage *trailCoverage
}

// trailCoverage is what the account's trails deliver to the bucket.
type trailCoverage struct {
	all     bool     // a multi-region or organisation trail
	regions []string // home regions of single-region trails
	trails  []string // their ARNs
}

// covers reports whether the bucket receives region's events.
func (c *trailCoverage) covers(region string) bool {
	return c != nil && (c.all || slices.Contains(c.regions, region))
}

func (a *accountListing) objects() (n int, bytes int64) {
	for _, r := range a.regions {
		n += len(r.objects)
		bytes += r.bytes
	}
	return n, bytes
}

// deliverySlack is how long after an event its log file may be stamped:
// CloudTrail delivers within about 15 minutes.
const deliverySlack = time.Hour

// listTrail lists an account's log files delivered in [from, to+slack],
// day folder by day folder, several at a time.
func listTrail(ctx context.Context, client *s3.Client, l trailLayout, account string, from, to time.Time) *accountListing {
	a := &accountListing{account: account, from: from, to: to, regions: map[string]*regionListing{}}
	prefix := l.accountPrefix(account)
	var regions []string
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(l.bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/")})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		a.lists++
		if err != nil {
			a.err = fmt.Errorf("list s3://%s/%s: %s", l.bucket, prefix, describeAWSError(err))
			return a
		}
		for _, cp := range out.CommonPrefixes {
			regions = append(regions, strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/"))
		}
	}
	if len(regions) == 0 {
		a.absent = true
		return a
	}
	type day struct {
		region string
		folder string
	}
	var days []day
	for _, r := range regions {
		a.regions[r] = &regionListing{}
		for d := from.UTC().Truncate(oneDay); !d.After(to.Add(deliverySlack)); d = d.Add(oneDay) {
			days = append(days, day{r, prefix + r + "/" + d.Format("2006/01/02") + "/"})
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, listConcurrency)
	for _, d := range days {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var got []trailObject
			var newest time.Time
			lists := 0
			p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(l.bucket), Prefix: aws.String(d.folder)})
			var err error
			for p.HasMorePages() {
				var out *s3.ListObjectsV2Output
				out, err = p.NextPage(ctx)
				lists++
				if err != nil {
					err = fmt.Errorf("list s3://%s/%s: %s", l.bucket, d.folder, describeAWSError(err))
					break
				}
				for _, o := range out.Contents {
					key := aws.ToString(o.Key)
					stamp, ok := trailFileTime(key)
					if !ok {
						continue // a digest or another tool's file
					}
					newest = maxTime(newest, stamp)
					if stamp.Before(from) || stamp.After(to.Add(deliverySlack)) {
						continue
					}
					got = append(got, trailObject{key: key, account: account, region: d.region, stamp: stamp, size: aws.ToInt64(o.Size)})
				}
			}
			mu.Lock()
			defer mu.Unlock()
			r := a.regions[d.region]
			a.lists += lists
			r.objects = append(r.objects, got...)
			r.newest = maxTime(r.newest, newest)
			if err != nil && r.err == nil {
				r.err = err
			}
			for _, o := range got {
				r.bytes += o.size
			}
		})
	}
	wg.Wait()
	return a
}

// listConcurrency bounds the day folders listed at once.
const listConcurrency = 16

// addition is what the pass began tracking at one generation of its
// scanner: files delivered before at cannot hold it.
type addition struct {
	gen      int
	at       time.Time
	keys     []string
	patterns []string
}

// scanJob is one file to read: with the pass's scanner, or again with one
// for what was added after its first read.
type scanJob struct {
	obj    trailObject
	rescan *trail.Scanner
	gen    int // the pass's generation the rescan covers up to
}

// doneObject is a file read, and up to which generation.
type doneObject struct {
	obj trailObject
	gen int
}

// trailPass reads the trail bucket once in time order, growing what it
// tracks as the tree grows.
type trailPass struct {
	c       *Client
	tr      *tracker
	client  *s3.Client
	layout  trailLayout
	scanner *trail.Scanner
	workers int
	window  Window
	now     time.Time
	// athena, when set, names the files to read instead of the listings.
	athena *athenaSource

	mu       sync.Mutex
	cond     *sync.Cond
	queue    objectHeap
	busy     int
	pending  int // listings and queries under way
	done     []doneObject
	adds     []addition
	accounts map[string]*accountListing // listed (or being listed)
	doors    map[string][]*door         // by pattern
	failed   []trailObject
	recent   recentObjects
	gaps     []Gap
	read     TrailRead
	progress func(Progress)
	lastProg time.Time
}

func newTrailPass(c *Client, tr *tracker, client *s3.Client, l trailLayout, w Window, now time.Time) *trailPass {
	p := &trailPass{c: c, tr: tr, client: client, layout: l, window: w, now: now, workers: trailWorkers,
		scanner: trail.NewScanner(nil, trail.ScanOptions{}), accounts: map[string]*accountListing{}, doors: map[string][]*door{}}
	p.cond = sync.NewCond(&p.mu)
	p.read.Bucket = l.bucket
	return p
}

// trailWorkers is the number of files read at once: enough to hide the
// latency of S3 behind the decompression of every core.
const trailWorkers = 16

// track adds a credential to what the pass looks for.
func (p *trailPass) track(ctx context.Context, s Session) {
	if s.AccessKeyID == "" {
		return
	}
	p.mu.Lock()
	gen := p.scanner.Add(s.AccessKeyID)
	p.adds = append(p.adds, addition{gen: gen, at: s.Issued, keys: []string{s.AccessKeyID}})
	_, listed := p.accounts[s.Account]
	p.mu.Unlock()
	if p.athena != nil {
		p.athena.want(s)
	}
	if !listed && s.Account != "" && p.athena == nil {
		// A hop into another account: its folder too, for the credential's life.
		end := p.now
		if !s.Expires.IsZero() {
			end = minTime(s.Expires, p.now)
		}
		p.listAccount(ctx, s.Account, maxTime(p.window.Start, s.Issued.Add(-time.Second)), end)
	}
	p.cond.Broadcast()
}

// watchDoor makes the pass find the use of a door a tracked credential
// opened.
func (p *trailPass) watchDoor(_ context.Context, d *door) {
	pattern := d.trailPattern()
	if pattern == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	gen := p.scanner.Watch(pattern)
	p.doors[pattern] = append(p.doors[pattern], d)
	p.adds = append(p.adds, addition{gen: gen, at: d.opened, patterns: []string{pattern}})
	p.cond.Broadcast()
}

// listAccount lists an account's files in the background and queues them.
func (p *trailPass) listAccount(ctx context.Context, account string, from, to time.Time) {
	p.mu.Lock()
	if _, ok := p.accounts[account]; ok {
		p.mu.Unlock()
		return
	}
	p.accounts[account] = &accountListing{account: account, from: from, to: to}
	p.pending++
	p.mu.Unlock()
	go func() {
		a := listTrail(ctx, p.client, p.layout, account, from, to)
		a.coverage = p.c.trailCoverageOf(ctx, account, p.layout.bucket)
		p.enqueue(a)
	}()
}

// enqueue records a listing and queues its files; it ends one pending
// listing.
func (p *trailPass) enqueue(a *accountListing) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.accounts[a.account] = a
	p.read.Lists += a.lists
	if !a.absent && a.err == nil {
		p.read.Prefixes = append(p.read.Prefixes, p.layout.accountPrefix(a.account))
		for _, r := range a.regions {
			for _, o := range r.objects {
				heap.Push(&p.queue, scanJob{obj: o})
			}
		}
	}
	p.pending--
	p.cond.Broadcast()
}

// run reads the queued files until none is left, none is being listed and
// nothing found later needs an earlier file again.
func (p *trailPass) run(ctx context.Context) {
	started := time.Now()
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.cond.Broadcast()
	})
	defer stop()
	var wg sync.WaitGroup
	for range p.workers {
		wg.Go(func() {
			for {
				job, ok := p.next(ctx)
				if !ok {
					return
				}
				st, err := p.scan(ctx, job)
				p.finish(job, st, err)
			}
		})
	}
	wg.Wait()
	p.read.Elapsed = time.Since(started)
}

// next hands out the oldest queued file; when all is quiet it plans the
// rescans, and reports false when there is nothing more to do.
func (p *trailPass) next(ctx context.Context) (scanJob, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if ctx.Err() != nil {
			return scanJob{}, false
		}
		if p.queue.Len() > 0 {
			p.busy++
			return heap.Pop(&p.queue).(scanJob), true
		}
		if p.busy == 0 && p.pending == 0 {
			if p.athena != nil && p.athena.ready() {
				p.pending++
				go p.athena.round(ctx, p)
				continue
			}
			if !p.planRescans() {
				p.cond.Broadcast()
				return scanJob{}, false
			}
			continue
		}
		p.cond.Wait()
	}
}

// planRescans queues every file read before something it may hold was
// tracked. Called with p.mu held.
func (p *trailPass) planRescans() bool {
	now := p.scanner.Generation()
	planned := false
	for i := range p.done {
		d := &p.done[i]
		if d.gen >= now {
			continue
		}
		var keys, patterns []string
		for _, a := range p.adds {
			if a.gen > d.gen && (a.at.IsZero() || !d.obj.stamp.Before(a.at.Add(-fileStampSlack))) {
				keys = append(keys, a.keys...)
				patterns = append(patterns, a.patterns...)
			}
		}
		d.gen = now
		if len(keys)+len(patterns) == 0 {
			continue
		}
		s := trail.NewScanner(keys, trail.ScanOptions{})
		s.Watch(patterns...)
		heap.Push(&p.queue, scanJob{obj: d.obj, rescan: s, gen: now})
		planned = true
	}
	return planned
}

// fileStampSlack allows for a file name stamped to the minute before the
// second of its newest event.
const fileStampSlack = 5 * time.Minute

func (p *trailPass) scan(ctx context.Context, job scanJob) (trail.ObjectStats, error) {
	s := cmp.Or(job.rescan, p.scanner)
	handle := func(m trail.Match) error {
		p.match(ctx, m)
		return nil
	}
	if body, ok := p.recent.get(job.obj.key); ok {
		return s.ScanObject(ctx, job.obj.key, bytes.NewReader(body), handle)
	}
	out, err := p.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(p.layout.bucket), Key: aws.String(job.obj.key)})
	if err != nil {
		return trail.ObjectStats{}, fmt.Errorf("s3:GetObject s3://%s/%s: %s", p.layout.bucket, job.obj.key, describeAWSError(err))
	}
	defer out.Body.Close()
	var r io.Reader = out.Body
	if n := aws.ToInt64(out.ContentLength); n > 0 && n <= maxRecentObject {
		// Small, as most log files are: kept a while, for a rescan.
		body, err := io.ReadAll(io.LimitReader(out.Body, n+1))
		if err != nil {
			return trail.ObjectStats{}, fmt.Errorf("s3:GetObject s3://%s/%s: read: %w", p.layout.bucket, job.obj.key, err)
		}
		p.recent.put(job.obj.key, body)
		r = bytes.NewReader(body)
	}
	body := &countingReader{r: r}
	st, err := s.ScanObject(ctx, job.obj.key, body, handle)
	p.mu.Lock()
	p.read.Bytes += body.n
	p.mu.Unlock()
	return st, err
}

// Bounds of the files kept for rescans.
const (
	maxRecentObject = 1 << 20
	maxRecentBytes  = 16 << 20
)

// recentObjects keeps the last files read, up to maxRecentBytes: a
// credential minted in a file is used in files of the same minutes, which
// the pass may have read already.
type recentObjects struct {
	mu    sync.Mutex
	order []string
	body  map[string][]byte
	size  int
}

func (r *recentObjects) get(key string) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.body[key]
	return b, ok
}

func (r *recentObjects) put(key string, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.body == nil {
		r.body = map[string][]byte{}
	}
	if _, ok := r.body[key]; ok {
		return
	}
	r.body[key], r.order, r.size = b, append(r.order, key), r.size+len(b)
	for r.size > maxRecentBytes && len(r.order) > 0 {
		r.size -= len(r.body[r.order[0]])
		delete(r.body, r.order[0])
		r.order = r.order[1:]
	}
}

// match takes one record the scanner found: the use of a door, a call of
// a tracked credential, or the call that minted the investigated key.
func (p *trailPass) match(ctx context.Context, m trail.Match) {
	rec := &m.Record
	if m.Pattern != "" {
		p.mu.Lock()
		doors := slices.Clone(p.doors[m.Pattern])
		p.mu.Unlock()
		for _, d := range doors {
			if d.inTrail(rec) {
				p.tr.doorEvent(ctx, d, rec)
			}
		}
	}
	if m.AccessKeyID == "" {
		return
	}
	if caller := rec.UserIdentity.AccessKeyID; p.tr.tracks(caller) {
		p.tr.add(ctx, caller, rec)
	} else if minted := rec.CredentialsAccessKeyID(); minted == p.tr.root {
		p.tr.noteOrigin(rec, minted)
	}
}

func (p *trailPass) finish(job scanJob, st trail.ObjectStats, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy--
	p.read.Objects++
	p.read.Decompressed += st.Bytes
	if job.rescan != nil {
		p.read.Rescanned++
	}
	switch {
	case err != nil:
		p.read.FailedObjects++
		p.failed = append(p.failed, job.obj)
		p.gaps = append(p.gaps, Gap{Step: StepCloudTrail, Account: job.obj.account, Region: job.obj.region,
			From: job.obj.stamp.Add(-deliverySlack), To: job.obj.stamp,
			Reason: err.Error() + "; that part is looked up with LookupEvents"})
	case job.rescan != nil:
		// Covered up to job.gen already (planRescans set it).
	default:
		p.done = append(p.done, doneObject{obj: job.obj, gen: st.Generation})
	}
	if p.progress != nil && time.Since(p.lastProg) > 250*time.Millisecond {
		p.lastProg = time.Now()
		pr := Progress{Keys: p.tr.keyCount(), Events: p.tr.eventCount(), Regions: len(p.accounts)}
		go p.progress(pr)
	}
	p.cond.Broadcast()
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// objectHeap orders jobs by the delivery time of their file; among files
// of one time, those of the region CloudTrail logs global services in
// (IAM, and STS's global endpoint: where most credentials are minted)
// come first, so that what they mint is tracked before the other regions'
// files of the same minutes are read.
type objectHeap []scanJob

func (h objectHeap) Len() int { return len(h) }
func (h objectHeap) Less(i, j int) bool {
	a, b := h[i].obj, h[j].obj
	return cmp.Or(a.stamp.Compare(b.stamp), boolOrder(a.region == globalRegion, b.region == globalRegion), strings.Compare(a.key, b.key)) < 0
}

// globalRegion is where CloudTrail records the events of global services.
const globalRegion = "us-east-1"

// boolOrder puts true before false.
func boolOrder(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}
func (h objectHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *objectHeap) Push(x any)   { *h = append(*h, x.(scanJob)) }
func (h *objectHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// trailPattern is the text a log record of the door's use holds, as
// CloudTrail writes it; "" when the trail cannot tell.
func (d *door) trailPattern() string {
	switch d.via {
	case ViaCreatedUser, ViaLoginProfile:
		return `"userName":"` + d.subject + `"`
	case ViaTrust:
		return `"` + d.subject + `"`
	case ViaRolesAnywhere:
		return `"eventName":"CreateSession"`
	case ViaIdentityProvider:
		if strings.Contains(d.subject, ":saml-provider/") {
			return `"eventName":"AssumeRoleWithSAML"`
		}
		return `"eventName":"AssumeRoleWithWebIdentity"`
	}
	return ""
}

// inTrail reports whether a record holding the door's pattern is one
// LookupEvents would return for the door's lookup: in the door's account
// (and region), and for a user's door, a call as that user.
func (d *door) inTrail(rec *trail.Record) bool {
	if cmp.Or(rec.RecipientAccountID, rec.UserIdentity.AccountID) != d.account {
		return false
	}
	if d.region != "" && rec.AWSRegion != d.region {
		return false
	}
	switch d.via {
	case ViaCreatedUser, ViaLoginProfile:
		return rec.UserIdentity.UserName == d.subject && (rec.UserIdentity.Type == "IAMUser" || rec.EventName == "ConsoleLogin")
	}
	return true
}
