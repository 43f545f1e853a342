package awsops

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"io"
	"maps"
	"runtime"
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
	// Source is the bucket the trails write, when Bucket is its replica.
	Source string `json:"source,omitempty"`
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
	// Digests are the digest files read (CloudTrail's log file
	// validation), and MissingFiles the log files they name that the
	// bucket lacks (their spans are read with LookupEvents).
	Digests      int `json:"digest_files"`
	MissingFiles int `json:"missing_log_files"`
}

// trailLayout is where a bucket keeps an account's log files.
type trailLayout struct {
	bucket string
	source string // the bucket the trails write, when bucket is its replica
	prefix string // the trails' S3 key prefix, "" or ending in "/"
	root   string // "<prefix>AWSLogs/" or "<prefix>AWSLogs/o-…/"
	note   string // what the report says of the layout chosen, if anything
}

func (l trailLayout) accountPrefix(account string) string {
	return l.root + account + "/CloudTrail/"
}

// orgFolder reports whether the files read are under an organisation's
// folder (AWSLogs/o-…/), where organisation trails write, and no other.
func (l trailLayout) orgFolder() bool { return l.root != l.prefix+"AWSLogs/" }

// trailLayoutFor returns the S3 client for the trail bucket of opts and
// the layout of account's log files in it.
func (c *Client) trailLayoutFor(ctx context.Context, opts InvestigateOptions, account string, w Window) (*s3.Client, trailLayout, error) {
	client, err := c.s3Client(ctx, opts.TrailAccount, "")
	if err != nil {
		return nil, trailLayout{}, err
	}
	l, err := discoverTrailLayout(ctx, client, opts.TrailBucket, opts.TrailPrefix, account, w)
	l.source = opts.TrailSource
	return client, l, err
}

// discoverTrailLayout finds whether the bucket holds the account's log
// files under an organisation trail's folder (AWSLogs/o-…/<account>/) or
// an account trail's (AWSLogs/<account>/). With several folders (a bucket
// shared, an organisation moved), the first that holds a log file of the
// account in the window w is taken, and the layout's note says which
// others hold log files of it.
func discoverTrailLayout(ctx context.Context, client *s3.Client, bucket, prefix, account string, w Window) (trailLayout, error) {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	l := trailLayout{bucket: bucket, prefix: prefix, root: prefix + "AWSLogs/"}
	var orgs []string
	direct := false
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(l.root), Delimiter: aws.String("/")})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return l, fmt.Errorf("list s3://%s/%s: %s", bucket, l.root, describeAWSError(err))
		}
		for _, p := range out.CommonPrefixes {
			switch name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(p.Prefix), l.root), "/"); {
			case strings.HasPrefix(name, "o-"):
				orgs = append(orgs, name)
			case name == account:
				direct = true
			}
		}
	}
	slices.Sort(orgs)
	if len(orgs) == 0 || len(orgs) == 1 && !direct {
		if len(orgs) == 1 {
			l.root += orgs[0] + "/"
		}
		return l, nil
	}
	// Several folders may hold the account: the first that holds a log
	// file of the window (an organisation's before the account's own, as an
	// organisation trail supersedes account trails), else the first that
	// holds one at all; a folder that holds only other objects (one put
	// there, say) does not count.
	var inWindow, any []string
	for _, r := range append(slices.Clone(orgs), "") {
		if r == "" && !direct {
			continue
		}
		root := l.root
		if r != "" {
			root += r + "/"
		}
		held, err := holdsLogFile(ctx, client, bucket, root+account+"/CloudTrail/", w)
		if err != nil {
			return l, err
		}
		switch held {
		case heldInWindow:
			inWindow = append(inWindow, root)
			fallthrough
		case heldBefore:
			any = append(any, root)
		}
	}
	roots := inWindow
	if len(roots) == 0 {
		roots = any
	}
	switch {
	case len(roots) > 0:
		l.root = roots[0]
		if others := slices.DeleteFunc(slices.Clone(any), func(r string) bool { return r == l.root }); len(others) > 0 {
			l.note = fmt.Sprintf("the bucket holds log files of the account under %s too: only %s is read", strings.Join(others, ", "), l.root)
		}
	case !direct:
		l.root += orgs[0] + "/"
	}
	return l, nil
}

// What a folder holds of an account's log files.
const (
	heldNone     = iota
	heldBefore   // log files, none of the window
	heldInWindow // log files of the window
)

// holdsLogFile says whether the folder prefix (an account's CloudTrail
// folder) holds a log file of the window w, or one at all: it looks at the
// first keys of each region from the window's first day on, and at the
// first keys of the folder.
func holdsLogFile(ctx context.Context, client *s3.Client, bucket, prefix string, w Window) (int, error) {
	list := func(in *s3.ListObjectsV2Input) (*s3.ListObjectsV2Output, error) {
		out, err := client.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %s", bucket, aws.ToString(in.Prefix), describeAWSError(err))
		}
		return out, nil
	}
	since, until := w.Start.Add(-deliveredBefore), w.End.Add(deliverySlack)
	held := heldNone
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/")})
	for pages.HasMorePages() {
		regions, err := pages.NextPage(ctx)
		if err != nil {
			return held, fmt.Errorf("list s3://%s/%s: %s", bucket, prefix, describeAWSError(err))
		}
		for _, cp := range regions.CommonPrefixes {
			region := aws.ToString(cp.Prefix)
			out, err := list(&s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(region),
				StartAfter: aws.String(region + since.UTC().Format("2006/01/02")), MaxKeys: aws.Int32(20)})
			if err != nil {
				return held, err
			}
			for _, o := range out.Contents {
				if stamp, ok := trailFileTime(aws.ToString(o.Key)); ok {
					if !stamp.Before(since) && !stamp.After(until) {
						return heldInWindow, nil
					}
					held = heldBefore
				}
			}
		}
	}
	if held == heldNone {
		out, err := list(&s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(100)})
		if err != nil {
			return held, err
		}
		for _, o := range out.Contents {
			if _, ok := trailFileTime(aws.ToString(o.Key)); ok {
				return heldBefore, nil
			}
		}
	}
	return held, nil
}

// trailObject is one log file.
type trailObject struct {
	key             string
	account, region string
	stamp           time.Time // delivery time, from the name: its events are older
	size            int64
}

// span is when the events a file holds may have happened: up to an hour
// before its delivery (deliverySlack), and up to the end of the minute its
// name bears, as the name cuts the delivery time's seconds
// (deliveredBefore).
func (o trailObject) span() (from, to time.Time) {
	return o.stamp.Add(-deliverySlack), o.stamp.Add(deliveredBefore)
}

// regionListing is what the bucket holds for one account and region in a
// window.
type regionListing struct {
	objects []trailObject
	bytes   int64
	newest  time.Time // newest file of the region, whatever its day, up to now
	// earliest is the oldest file of the region the listed folders hold,
	// whatever its day: one delivered before the window says the bucket
	// was receiving the region's events when the window began.
	earliest time.Time
	// future counts the files whose name bears a time after now (plus
	// clockSkew), the first of them named: CloudTrail cannot have
	// delivered them, so they do not count as delivery.
	future      int
	futureFirst string
	err         error // the listing failed: the region falls back to LookupEvents
	// lag is how much later than CloudTrail delivers a file may reach
	// the folder: S3 replication's, in a replica.
	lag time.Duration
	// digests is what the region's digest files say of the listing (see
	// checkDigests).
	digests digestCheck
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
	files    map[string]bool // the files in regions, by key
}

// trailCoverage is what the account's trails deliver to the bucket.
type trailCoverage struct {
	all     bool     // a multi-region or organisation trail
	regions []string // home regions of single-region trails
	trails  []string // their ARNs
	// management is what each trail's event selectors deliver of
	// management events (every one when they cannot be read).
	management []trailManagement
	unknown    []string // the trails whose selectors cannot be read
	// stopped are the trails writing there that do not log now: what
	// they delivered before does not count (see trailCoverageOf).
	stopped []string
	// statusUnknown are the trails whose logging status cannot be read:
	// they are taken to log, as most trails do.
	statusUnknown []string
	// paused are the trails that log now but stopped logging in the
	// window, by anyone: the files may lack what followed the stop.
	paused []trailPause
	// validating are the trails among them that validate their log files
	// (digest files); validAll and validRegions, what they deliver.
	validating   []string
	validAll     bool
	validRegions []string
	// err: the account's trails cannot be described; the bucket is taken
	// to hold every management event, as most trails deliver, and a gap
	// says so.
	err error
}

// trailPause is a trail that stopped logging and started again.
type trailPause struct {
	trail            string
	stopped, started time.Time
}

// partial reports whether the trails that deliver an account's files of
// region leave management events out: the bucket then stands for its
// data events only.
func (c *trailCoverage) partial(region string) bool {
	return c != nil && c.err == nil && !c.managementIn(region).all()
}

// covers reports whether the bucket receives region's events.
func (c *trailCoverage) covers(region string) bool {
	return c != nil && (c.all || slices.Contains(c.regions, region))
}

// merge adds to a what b, a listing of the same account, found (a later
// credential's span, or the first listing's answer), and returns the
// files a did not hold.
func (a *accountListing) merge(b *accountListing) (added []trailObject) {
	a.from, a.to = minTime(a.from, b.from), maxTime(a.to, b.to)
	a.lists += b.lists
	a.err = cmp.Or(a.err, b.err)
	a.absent = len(a.regions) == 0 && b.absent
	a.coverage = cmp.Or(a.coverage, b.coverage)
	if a.regions == nil {
		a.regions = map[string]*regionListing{}
	}
	if a.files == nil {
		a.files = map[string]bool{}
	}
	for name, r := range b.regions {
		cur := a.regions[name]
		if cur == nil {
			cur = &regionListing{}
			a.regions[name] = cur
		}
		for _, o := range r.objects {
			if !a.files[o.key] {
				a.files[o.key] = true
				cur.objects = append(cur.objects, o)
				cur.bytes += o.size
				added = append(added, o)
			}
		}
		cur.newest = maxTime(cur.newest, r.newest)
		if cur.earliest.IsZero() || !r.earliest.IsZero() && r.earliest.Before(cur.earliest) {
			cur.earliest = r.earliest
		}
		if cur.future == 0 {
			cur.futureFirst = r.futureFirst
		}
		cur.future += r.future
		cur.err = cmp.Or(cur.err, r.err)
		cur.lag = max(cur.lag, r.lag)
		// (a file one listing missed, and another found, is not missing)
		maps.DeleteFunc(cur.digests.missing, func(key string, _ missingFile) bool { return a.files[key] })
	}
	return added
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

// clockSkew is how far past now a file's stamp may be and still count as
// delivered: the clocks of keyleak's host and of S3.
const clockSkew = 5 * time.Minute

// listTrail lists an account's log files that may hold events of
// [from, to]: delivered from the minute before from (a file's name cuts
// its delivery time to the minute) to deliverySlack after to, day folder
// by day folder, several at a time. Files stamped after now (and
// clockSkew) are counted apart, never read.
func listTrail(ctx context.Context, client *s3.Client, l trailLayout, account string, from, to, now time.Time) *accountListing {
	a := &accountListing{account: account, from: from, to: to, regions: map[string]*regionListing{}}
	since := from.Add(-deliveredBefore) // the earliest stamp of a file holding an event of from
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
		a.regions[r] = &regionListing{lag: l.lag()}
		for d := since.UTC().Truncate(oneDay); !d.After(to.Add(deliverySlack)); d = d.Add(oneDay) {
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
			var newest, earliest time.Time
			future, futureFirst := 0, ""
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
					if stamp.After(now.Add(clockSkew)) {
						if future++; future == 1 {
							futureFirst = key
						}
						continue
					}
					newest = maxTime(newest, stamp)
					if earliest.IsZero() || stamp.Before(earliest) {
						earliest = stamp
					}
					if stamp.Before(since) || stamp.After(to.Add(deliverySlack)) {
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
			if r.earliest.IsZero() || !earliest.IsZero() && earliest.Before(r.earliest) {
				r.earliest = earliest
			}
			if r.future == 0 {
				r.futureFirst = futureFirst
			}
			r.future += future
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

// checkDigests reads the digests of the regions of a (a listing, not yet
// merged) that have files, beside the pass: what they name and the
// folders lack (see checkDigests). The pass does not end before they are
// read: it holds one pending listing meanwhile. The regions are checked
// listConcurrency at once; digestReads bounds the digests read at once.
func (p *trailPass) checkDigests(ctx context.Context, a *accountListing) {
	// What the listing holds, read under the pass's lock: a listing of
	// the account for another credential may widen it (and merge into it)
	// meanwhile.
	type region struct {
		name   string
		listed map[string]bool
		stamps []time.Time
	}
	var regions []region
	p.mu.Lock()
	since := a.from.Add(-deliveredBefore)
	until := a.to.Add(deliverySlack)
	for r, rl := range a.regions {
		if rl.err != nil || len(rl.objects) == 0 {
			continue
		}
		g := region{name: r, listed: make(map[string]bool, len(rl.objects)), stamps: make([]time.Time, 0, len(rl.objects))}
		for _, o := range rl.objects {
			g.listed[o.key] = true
			g.stamps = append(g.stamps, o.stamp)
		}
		regions = append(regions, g)
	}
	p.mu.Unlock()
	type check struct {
		region string
		c      digestCheck
	}
	var checks []check
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, listConcurrency)
	for _, g := range regions {
		r, listed, stamps := g.name, g.listed, g.stamps
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c := checkDigests(ctx, p.client, p.layout, a.account, r, since, until, p.now, listed, stamps)
			mu.Lock()
			defer mu.Unlock()
			checks = append(checks, check{r, c})
		})
	}
	wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur := p.accounts[a.account]; cur != nil {
		for _, ch := range checks {
			rl := cur.regions[ch.region]
			if rl == nil {
				rl = &regionListing{}
				cur.regions[ch.region] = rl
			}
			rl.digests.merge(ch.c)
			// (a file one listing missed, and another found, is not missing)
			maps.DeleteFunc(rl.digests.missing, func(key string, _ missingFile) bool { return cur.files[key] })
			p.read.Lists += ch.c.lists
		}
	}
	p.pending--
	p.cond.Broadcast()
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
	origin   origin // the record whose handling made it, if a read's
}

// origin is a record a read handed on: while the pass handles it, what
// it adds to the scanner was seen by the pass in that record, and the
// read searches for it from the record's end (trail.ObjectStats.MissedBesides).
type origin struct {
	read     int // the read's number; 0 for none
	from, to int64
}

type originKey struct{}

// originOf is the record being handled on ctx, if any.
func originOf(ctx context.Context) origin {
	o, _ := ctx.Value(originKey{}).(origin)
	return o
}

// scanJob is one file to read: with the pass's scanner, or again, either
// with one for what was added after its first read up to where that read
// began to look for it, or whole with the pass's scanner.
type scanJob struct {
	obj    trailObject
	read   int // numbers the reads, from 1, as they are handed out
	rescan *trail.Scanner
	again  int      // for a second whole read, 1 + the file's place in done
	body   *fetched // the file's bytes, fetched ahead
}

// fetched is a file fetched ahead of its scan: whole when it is small, as
// most log files are, else opened for streaming.
type fetched struct {
	// streaming is set, with p.mu held, once the scan counts as one of a
	// streamed file, which holds no core (trailPass.streaming).
	streaming bool
	done      chan struct{} // closed once the fields below are set
	body      []byte
	rc        io.ReadCloser
	err       error
	n         int64 // bytes read from the bucket (a streamed file's once scanned)
}

// doneObject is a file read.
type doneObject struct {
	obj trailObject
	// st says what the read saw; its index is dropped once the file is
	// old (see keepIndex), and then all added later costs a second read.
	st   trail.ObjectStats
	need *rescanNeed // what a second read must look for; nil for none
	// rereading is set while the file is read again whole: what is added
	// meanwhile is weighed against that read's account when it ends.
	rereading bool
	read      int // the number of the read st is of
}

// rescanNeed is what a second read of a file looks for, and how far.
type rescanNeed struct {
	keys, patterns []string
	until          int64 // the read stops after this many bytes …
	whole          bool  // … unless the whole file is needed
}

// Files read keep their index (a few KB each) while they are less than
// keepIndex older than the newest file read, and at most keepIndexes of
// them: what is found later was minted or opened minutes before, and
// only files of those minutes are read again for it.
const (
	keepIndex   = time.Hour
	keepIndexes = 4096
	// keepIndexItems bounds the items of the indexes kept (about 20 MB):
	// past it, the oldest are dropped first.
	keepIndexItems = 1 << 19
)

// trailPass reads the trail bucket once in time order, growing what it
// tracks as the tree grows.
type trailPass struct {
	c       *Client
	tr      *tracker
	client  *s3.Client
	layout  trailLayout
	scanner *trail.Scanner
	// workers is how many files read whole are scanned at once; one more
	// goroutine scans only streamed ones, which streaming counts.
	workers   int
	streaming int
	reads     int // the reads handed out
	window    Window
	now       time.Time
	// athena, when set, names the files to read instead of the listings.
	athena *athenaSource

	// get opens a log file; S3's GetObject unless a test sets it.
	get func(ctx context.Context, key string) (io.ReadCloser, int64, error)
	// scanning, when a test sets it, is told of every read as it begins;
	// what it returns, when not nil, is called as the read ends.
	scanning func(scanJob) func()

	mu       sync.Mutex
	cond     *sync.Cond
	queue    objectHeap
	ahead    []scanJob // taken from the queue in order, being fetched
	aheadLen int64     // their compressed bytes
	// again are the second reads planned and not yet fetched; the first
	// aheadAgain of ahead are second reads.
	again      []scanJob
	aheadAgain int
	// reached is the newest file handed to a worker for its first read;
	// reading are the files in their first read.
	reached time.Time
	reading []time.Time
	busy    int
	pending int // listings and queries under way
	done    []doneObject
	needy   []int // files of done with a need
	// indexFrom is the first file of done that may still hold its index;
	// newestDone the newest file read.
	indexFrom  int
	indexItems int // the items of the indexes kept
	newestDone time.Time
	adds       []addition
	accounts   map[string]*accountListing // listed (or being listed)
	doors      map[string][]*door         // by pattern
	failed     []trailObject
	gaps       []Gap
	parts      []PlanPart // decided during the pass (Athena's failures), for the plan
	read       TrailRead
	progress   func(Progress)
	lastProg   time.Time
	// given are the credentials (by ID) and doors (by memberKey) the pass
	// looks for; complemented those LookupEvents was asked about; whole
	// those it is to look up over their whole life; planned the accounts
	// whose LookupEvents part the plan names.
	given, complemented, whole, planned map[string]bool
	// afterChange is, for each member and region (memberKey@region), from
	// when LookupEvents was asked about it after a change of CloudTrail;
	// changesApplied the changes complement last planned for.
	afterChange    map[string]time.Time
	changesApplied map[string]trailChange
	failedPlanned  int // the files of failed the plan names, and LookupEvents was asked about
}

func newTrailPass(c *Client, tr *tracker, client *s3.Client, l trailLayout, w Window, now time.Time) *trailPass {
	p := &trailPass{c: c, tr: tr, client: client, layout: l, window: w, now: now, workers: scanWorkers(),
		scanner: trail.NewScanner(nil, trail.ScanOptions{Index: true}), accounts: map[string]*accountListing{}, doors: map[string][]*door{},
		given: map[string]bool{}, complemented: map[string]bool{}, whole: map[string]bool{}, planned: map[string]bool{}, afterChange: map[string]time.Time{}}
	p.get = p.getObject
	p.cond = sync.NewCond(&p.mu)
	p.read.Bucket, p.read.Source = l.bucket, l.source
	return p
}

// scanWorkers is the number of files read whole and scanned at once: one
// per core. More would share the cores, and each file would end later:
// what one mints is found later, and the files begun meanwhile are read
// again for it (a third worker on two cores read a tenth of the log twice).
// A file streamed from S3 waits on the network as it is scanned: one
// worker more reads such files beside them (see next).
func scanWorkers() int { return runtime.GOMAXPROCS(0) }

// streams reports whether the job's file is streamed from S3 as it is
// scanned rather than read whole before (see fetch): as its listed size
// says, or, for a file of unknown size (one Athena named), as its fetch
// found. Called with p.mu held.
func (job scanJob) streams() bool {
	if job.obj.size > maxWholeObject || job.body.streaming {
		return true
	}
	select {
	case <-job.body.done:
		return job.body.rc != nil
	default:
		return false // not fetched yet: taken as read whole until it is
	}
}

// The pass scans on one worker per core (and one more for streamed files)
// and fetches up to fetchAhead files (fetchAheadBytes) ahead of them,
// which hides the latency of S3
// behind the decompression. Few files are scanned at once, so a
// credential found in one is tracked before the files after it are begun
// and few need a second read.
const (
	fetchAhead      = 16
	fetchAheadBytes = 8 << 20
)

// track adds a credential to what the pass looks for.
func (p *trailPass) track(ctx context.Context, s Session) {
	if s.AccessKeyID == "" {
		return
	}
	p.mu.Lock()
	p.given[s.ID] = true
	// A credential tracked already (the tracker may report one again as it
	// learns more of it) changes nothing: no generation, no second reads.
	if before, gen := p.scanner.Generation(), p.scanner.Add(s.AccessKeyID); gen > before {
		p.added(addition{gen: gen, at: s.Issued, keys: []string{s.AccessKeyID}, origin: originOf(ctx)})
	}
	p.mu.Unlock()
	if p.athena != nil {
		p.athena.want(s)
	}
	if s.Account != "" {
		// A hop into another account: its folder too, for the credential's
		// life (what an earlier credential's listing does not cover). With
		// Athena, the listing says what the bucket lacks of the account.
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
func (p *trailPass) watchDoor(ctx context.Context, d *door) {
	pattern := d.trailPattern()
	if pattern == "" {
		return
	}
	p.mu.Lock()
	p.given[d.memberKey()] = true
	p.doors[pattern] = append(p.doors[pattern], d)
	// A pattern may be watched for another door already (every SAML
	// provider's use is an AssumeRoleWithSAML): the records holding it
	// that were handed on before were weighed against the doors of then,
	// so they are read again for this one.
	gen := p.scanner.Rewatch(pattern)
	p.added(addition{gen: gen, at: d.opened, patterns: []string{pattern}, origin: originOf(ctx)})
	p.mu.Unlock()
	if d.account != "" {
		// A door opened in another account (by a session there) stays
		// open after the session ends: that account's folder too, from
		// the door's opening on.
		p.listAccount(ctx, d.account, maxTime(p.window.Start, d.opened.Add(-time.Second)), p.now)
	}
	p.cond.Broadcast()
}

// listAccount lists an account's files in the background and queues them.
func (p *trailPass) listAccount(ctx context.Context, account string, from, to time.Time) {
	p.mu.Lock()
	var spans [][2]time.Time
	a, listed := p.accounts[account]
	switch {
	case !listed:
		p.accounts[account] = &accountListing{account: account, from: from, to: to}
		spans = append(spans, [2]time.Time{from, to})
	default:
		// Listed for an earlier credential: the part of this one's life
		// that listing does not cover.
		if from.Before(a.from) {
			spans = append(spans, [2]time.Time{from, a.from})
		}
		if to.After(a.to) {
			spans = append(spans, [2]time.Time{a.to, to})
		}
		a.from, a.to = minTime(a.from, from), maxTime(a.to, to)
	}
	p.pending += len(spans)
	p.mu.Unlock()
	for _, sp := range spans {
		go func() {
			l := listTrail(ctx, p.client, p.layout, account, sp[0], sp[1], p.now)
			if !listed {
				// (single-region trails are asked for where the bucket has files)
				l.coverage = p.c.trailCoverageOf(ctx, account, p.layout, slices.Sorted(maps.Keys(l.regions)), p.window.Start, p.now)
			}
			p.mu.Lock()
			p.pending++ // the digests', ended by checkDigests
			p.mu.Unlock()
			p.enqueue(l)
			p.checkDigests(ctx, l)
		}()
	}
}

// enqueue records a listing and queues its files; it ends one pending
// listing.
func (p *trailPass) enqueue(a *accountListing) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.accounts[a.account]
	if cur == nil || cur == a {
		// The first listing of the account: the others merge into it.
		cur = &accountListing{account: a.account, from: a.from, to: a.to}
		p.accounts[a.account] = cur
	}
	added := cur.merge(a)
	p.read.Lists += a.lists
	// With Athena, a listing says only what the bucket holds of the
	// account: Athena names the files to read, but for the accounts and
	// regions its table does not project.
	if direct := p.direct(a.account, added); !a.absent && a.err == nil && len(direct) > 0 {
		if prefix := p.layout.accountPrefix(a.account); !slices.Contains(p.read.Prefixes, prefix) {
			p.read.Prefixes = append(p.read.Prefixes, prefix)
		}
		for _, o := range direct {
			heap.Push(&p.queue, scanJob{obj: o})
		}
	}
	p.pending--
	p.cond.Broadcast()
}

// follow runs the pass from the root of the tracker's tree: every
// credential and door the tracker finds joins what the pass looks for.
func (p *trailPass) follow(ctx context.Context) {
	p.tr.setOnDerived(p.track)
	p.tr.setOnDoor(p.watchDoor)
	p.track(ctx, p.tr.sessions()[0])
	p.run(ctx)
}

// resume gives the pass what the tree gained since it last ran (what
// LookupEvents found where the bucket has no files, which may have acted
// where it has) and reads again what the files may hold of it. It reports
// whether the tree had gained anything.
func (p *trailPass) resume(ctx context.Context) bool {
	sessions, doors := p.tr.members()
	p.mu.Lock()
	sessions = slices.DeleteFunc(sessions, func(s Session) bool { return s.AccessKeyID == "" || p.given[s.ID] })
	doors = slices.DeleteFunc(doors, func(d *door) bool { return d.trailPattern() == "" || p.given[d.memberKey()] })
	p.mu.Unlock()
	if len(sessions)+len(doors) == 0 {
		return false
	}
	p.tr.setOnDerived(p.track)
	p.tr.setOnDoor(p.watchDoor)
	for _, s := range sessions {
		p.track(ctx, s)
	}
	for _, d := range doors {
		p.watchDoor(ctx, d)
	}
	p.run(ctx)
	return true
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
	for range p.workers + 1 {
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
	p.mu.Lock()
	for _, job := range p.ahead { // left when ctx ended
		go job.body.discard()
	}
	p.ahead, p.aheadAgain, p.again = nil, 0, nil
	p.read.Elapsed += time.Since(started)
	p.mu.Unlock()
}

// inSpread reports whether a file stamped so may begin its first read:
// whether it is at most maxSpread newer than the oldest file in its first
// read. Called with p.mu held.
func (p *trailPass) inSpread(stamp time.Time) bool {
	if len(p.reading) == 0 {
		return true
	}
	return !stamp.After(slices.MinFunc(p.reading, time.Time.Compare).Add(maxSpread))
}

// maxSpread is how far ahead of the oldest file being read the pass may
// begin another: a worker slow on one file (a large one, or one the
// scheduler left waiting) is waited for, rather than found an hour of
// log later, when what its file minted would cost second reads of all the
// files read meanwhile.
const maxSpread = 30 * time.Minute

// next hands out the oldest queued file, fetched or being fetched; when
// all is quiet it plans the rescans, and reports false when there is
// nothing more to do.
func (p *trailPass) next(ctx context.Context) (scanJob, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if ctx.Err() != nil {
			return scanJob{}, false
		}
		p.planRescans()
		p.fetchAhead(ctx)
		if len(p.ahead) > 0 && (p.aheadAgain > 0 || p.inSpread(p.ahead[0].obj.stamp)) &&
			(p.busy-p.streaming < p.workers || p.ahead[0].streams()) {
			job := p.ahead[0]
			p.ahead = p.ahead[1:]
			p.aheadLen -= job.obj.size
			if p.aheadAgain > 0 {
				p.aheadAgain--
			} else {
				p.reached = maxTime(p.reached, job.obj.stamp)
				p.reading = append(p.reading, job.obj.stamp)
			}
			p.busy++
			if job.streams() {
				job.body.streaming = true
				p.streaming++
			}
			p.reads++
			job.read = p.reads
			p.fetchAhead(ctx)
			return job, true
		}
		if p.busy == 0 && p.pending == 0 {
			if p.athena != nil && p.athena.ready() {
				p.pending++
				go p.athena.round(ctx, p)
				continue
			}
			p.cond.Broadcast()
			return scanJob{}, false
		}
		p.cond.Wait()
	}
}

// consider records what of an addition a file read earlier may have
// missed, while its index can tell (see trail.ObjectStats.Missed): the
// file is read again for it next. Called with p.mu held.
func (p *trailPass) consider(i int, a addition) {
	d := &p.done[i]
	_, until := d.obj.span()
	switch {
	case d.rereading, a.gen <= d.st.Generation:
		return // the read under way, or the one done, looked for it
	case !a.at.IsZero() && until.Before(a.at):
		return // older than what it may hold
	case slices.ContainsFunc(p.failed, func(o trailObject) bool { return o.key == d.obj.key }):
		return // a second read failed: LookupEvents reads its span
	}
	note := func(item string, key bool) {
		var from, to int64
		if a.origin.read != 0 && a.origin.read == d.read {
			from, to = a.origin.from, a.origin.to // added for a record this read handed on
		}
		upto, missed := d.st.MissedBesides(item, a.gen, from, to)
		if !missed {
			return
		}
		if d.need == nil {
			d.need = &rescanNeed{}
			p.needy = append(p.needy, i)
		}
		if key {
			d.need.keys = append(d.need.keys, item)
		} else {
			d.need.patterns = append(d.need.patterns, item)
		}
		d.need.whole = d.need.whole || upto == 0
		d.need.until = max(d.need.until, upto)
	}
	for _, k := range a.keys {
		note(k, true)
	}
	for _, pattern := range a.patterns {
		note(pattern, false)
	}
}

// considerSince considers for file i the additions after its read began:
// those before, it looked for.
func (p *trailPass) considerSince(i int) {
	gen := p.done[i].st.Generation
	from, _ := slices.BinarySearchFunc(p.adds, gen+1, func(a addition, gen int) int { return cmp.Compare(a.gen, gen) })
	for _, a := range p.adds[from:] {
		p.consider(i, a)
	}
}

// added records an addition and what the files read so far may have
// missed of it. Called with p.mu held.
func (p *trailPass) added(a addition) {
	p.adds = append(p.adds, a) // in the order of their generations: p.mu is held
	for i := range p.done {
		p.consider(i, a)
	}
}

// planRescans starts a second read of every file whose first read may
// have missed something tracked since, before any other file, once the
// pass has moved rescanDelay past it (or has nothing else to read): what
// the files of those minutes add is read in one go, and what the second
// read finds may grow the tree further. When the first read began to
// search for all of it before its end, the second stops there and looks
// for what was missed alone. Otherwise the file is read again whole with
// the pass's scanner, as if for the first time: what that read tracks
// (the credentials it finds minted, and used later in the same file)
// needs no third. Called with p.mu held.
func (p *trailPass) planRescans() {
	waiting := p.needy[:0]
	for _, i := range p.needy {
		d := &p.done[i]
		if (p.queue.Len() > 0 || len(p.ahead) > p.aheadAgain) && p.reached.Before(d.obj.stamp.Add(rescanDelay)) {
			waiting = append(waiting, i)
			continue
		}
		until := d.need.until
		if d.need.whole {
			until = 0
		}
		job := scanJob{obj: d.obj}
		if until > 0 {
			job.rescan = trail.NewScanner(d.need.keys, trail.ScanOptions{StopAfter: until})
			job.rescan.Watch(d.need.patterns...)
		} else {
			job.again, d.rereading = i+1, true
		}
		p.again = append(p.again, job)
		d.need = nil
	}
	p.needy = waiting
}

// rescanDelay is how far the pass moves past a file before reading it
// again: one delivery, so that what the files read beside it add is
// looked for in one read. Longer delays find the tree later, and each
// credential found late costs whole second reads of the files after it.
const rescanDelay = 5 * time.Minute

// deliveryAllowance is how long CloudTrail may take to deliver an event
// (AWS documents about 15 minutes), files of a region in any order: while
// a region delivers (its newest file is younger than this), LookupEvents
// reads too the span this long before its newest file, whose events may
// still be in files not delivered; and the bucket is not taken to stand
// for a span between two files of a region further apart than this (see
// holes).
const deliveryAllowance = 15 * time.Minute

// replicationAllowance is how much later than CloudTrail delivers a file
// may reach a replica of the trails' bucket (aws.trail_source_bucket): S3
// replicates most objects within 15 minutes (Replication Time Control
// promises it for 99.99%), some later; twice that is allowed.
const replicationAllowance = 30 * time.Minute

// lag is how much later than CloudTrail delivers a file may reach the
// folder read: replicationAllowance in a replica.
func (l trailLayout) lag() time.Duration {
	if l.source != "" {
		return replicationAllowance
	}
	return 0
}

// replicaCaveat says what a replica may lack, when the layout is one.
func (l trailLayout) replicaCaveat() string {
	return "the bucket is read as the replica of " + l.source + ": S3 replicates files out of order, some late, and a failed copy is not made again"
}

// fileStampSlack is the span before a region's newest log file that
// LookupEvents reads once the region has stopped delivering (its newest
// file is older than deliveryAllowance, so the files of the events before
// it came long ago, if at all), and before a file that ends a span with no
// file: one delivery.
const fileStampSlack = 5 * time.Minute

// staleDelivery is how old a region's newest log file may be before the
// plan says the region is quiet or its delivery stopped.
const staleDelivery = 2 * deliveryAllowance

// maxHoleSpans bounds the spans of one region LookupEvents is asked about
// for each credential; beyond it, one span from the first to the last.
const maxHoleSpans = 4

// deliveredBefore is how long before a credential was minted (or a door
// opened) a file may be stamped and still hold its use. A file's name
// bears the minute it was delivered and it holds only records written
// before (AWS's documentation of the log file name): a minute for the
// stamp's seconds, and a few seconds for the clocks of the services that
// stamp events. Files older than that are not read again for it, though the
// text may be in them (a user name used before, a role's ARN before its
// trust was changed).
const deliveredBefore = time.Minute + 5*time.Second

// discard waits for the fetch, which ends with its context, and closes
// what it opened.
func (f *fetched) discard() {
	<-f.done
	if f.rc != nil {
		f.rc.Close()
	}
}

// fetchAhead moves files to those fetched ahead of the scan, within
// fetchAhead and fetchAheadBytes, and starts their fetch: the second
// reads planned, in order, before every first read; then the queue's
// files in order. Called with p.mu held.
func (p *trailPass) fetchAhead(ctx context.Context) {
	for len(p.ahead) < fetchAhead {
		var job scanJob
		switch {
		case len(p.again) > 0:
			job = p.again[0]
		case p.queue.Len() > 0:
			job = p.queue[0]
		default:
			return
		}
		if len(p.ahead) > 0 && p.aheadLen+job.obj.size > fetchAheadBytes {
			return
		}
		job.body = &fetched{done: make(chan struct{})}
		if len(p.again) > 0 {
			p.again = p.again[1:]
			p.ahead = slices.Insert(p.ahead, p.aheadAgain, job)
			p.aheadAgain++
		} else {
			heap.Pop(&p.queue)
			p.ahead = append(p.ahead, job)
		}
		p.aheadLen += job.obj.size
		go p.fetch(ctx, job)
	}
}

// fetch reads a small file whole, as most log files are, or opens a
// large one for streaming.
func (p *trailPass) fetch(ctx context.Context, job scanJob) {
	f := job.body
	defer func() {
		close(f.done)
		if f.rc != nil && job.obj.size <= maxWholeObject {
			// Its size was not known: now that it is found streamed, a
			// spare worker waiting (see next) may take it.
			p.mu.Lock()
			p.cond.Broadcast()
			p.mu.Unlock()
		}
	}()
	rc, n, err := p.get(ctx, job.obj.key)
	if err != nil {
		f.err = err
		return
	}
	if n <= 0 || n > maxWholeObject {
		f.rc = rc
		return
	}
	defer rc.Close()
	body := getBody(int(n))
	if _, err := io.ReadFull(rc, body); err != nil {
		putBody(body)
		f.err = fmt.Errorf("s3:GetObject s3://%s/%s: read: %w", p.layout.bucket, job.obj.key, err)
		return
	}
	f.body, f.n = body, n
}

// maxWholeObject is the largest file read whole before its scan; larger
// ones are streamed.
const maxWholeObject = 1 << 20

// bodies are the buffers of files read whole, reused: the pass allocates
// little whatever it reads.
var bodies sync.Pool // of *[]byte

// getBody returns a buffer of n bytes. One it makes has room for a file
// a quarter larger, as the next file of a trail often is.
func getBody(n int) []byte {
	if b, ok := bodies.Get().(*[]byte); ok && cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]byte, n, max(n+n/4, 256<<10))
}

func putBody(b []byte) { bodies.Put(&b) }

// getObject opens a log file of the bucket.
func (p *trailPass) getObject(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	out, err := p.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(p.layout.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, 0, fmt.Errorf("s3:GetObject s3://%s/%s: %s", p.layout.bucket, key, describeAWSError(err))
	}
	return out.Body, aws.ToInt64(out.ContentLength), nil
}

func (p *trailPass) scan(ctx context.Context, job scanJob) (trail.ObjectStats, error) {
	if p.scanning != nil {
		if ended := p.scanning(job); ended != nil {
			defer ended()
		}
	}
	s := cmp.Or(job.rescan, p.scanner)
	handle := func(m trail.Match) error {
		p.match(context.WithValue(ctx, originKey{}, origin{read: job.read, from: m.Offset, to: m.End}), m)
		return nil
	}
	f := job.body
	select {
	case <-f.done:
	case <-ctx.Done():
		go f.discard()
		return trail.ObjectStats{}, ctx.Err()
	}
	switch {
	case f.err != nil:
		return trail.ObjectStats{}, f.err
	case f.rc == nil:
		defer putBody(f.body)
		return s.ScanObject(ctx, job.obj.key, bytes.NewReader(f.body), handle)
	}
	p.mu.Lock()
	if !f.streaming {
		// Its size was not known when it was handed out: it waits on the
		// network, and leaves its core to a file read whole.
		f.streaming = true
		p.streaming++
		p.cond.Broadcast()
	}
	p.mu.Unlock()
	defer f.rc.Close()
	body := &countingReader{r: f.rc}
	st, err := s.ScanObject(ctx, job.obj.key, body, handle)
	f.n = body.n
	return st, err
}

// match takes one record the scanner found: the use of a door, a call of
// a tracked credential, or the call that minted the investigated key.
func (p *trailPass) match(ctx context.Context, m trail.Match) {
	rec := &m.Record
	for _, pattern := range m.Patterns {
		p.mu.Lock()
		doors := slices.Clone(p.doors[pattern])
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
	if job.body.streaming {
		p.streaming--
	}
	p.read.Objects++
	if job.rescan == nil && job.again == 0 {
		if i := slices.IndexFunc(p.reading, job.obj.stamp.Equal); i >= 0 {
			p.reading = slices.Delete(p.reading, i, i+1)
		}
	}
	select {
	case <-job.body.done:
		p.read.Bytes += job.body.n
	default: // given up on when the pass was cancelled
	}
	p.read.Decompressed += st.Bytes
	if job.rescan != nil || job.again > 0 {
		p.read.Rescanned++
	}
	if job.again > 0 {
		p.done[job.again-1].rereading = false
	}
	switch {
	case err != nil:
		// A file that fails is given up, whichever read failed: its span
		// goes to LookupEvents once, and it is not read again for what is
		// tracked later (see consider).
		if slices.ContainsFunc(p.failed, func(o trailObject) bool { return o.key == job.obj.key }) {
			break
		}
		p.read.FailedObjects++
		p.failed = append(p.failed, job.obj)
		from, to := job.obj.span()
		p.gaps = append(p.gaps, Gap{Step: StepCloudTrail, Account: job.obj.account, Region: job.obj.region, From: from, To: to,
			Reason: err.Error() + "; its management events are looked up with LookupEvents, its data events are not known"})
	case job.rescan != nil:
		// What it looked for was recorded as missed when it was added.
	case job.again > 0:
		// The new read replaces the first: it is complete for all that
		// was tracked when it began.
		i := job.again - 1
		if i < p.indexFrom {
			st.Index = nil
		}
		p.indexItems += st.Index.Len() - p.done[i].st.Index.Len()
		p.done[i].st, p.done[i].read = st, job.read
		p.considerSince(i)
	default:
		p.done = append(p.done, doneObject{obj: job.obj, st: st, read: job.read})
		p.indexItems += st.Index.Len()
		p.considerSince(len(p.done) - 1)
		p.newestDone = maxTime(p.newestDone, job.obj.stamp)
	}
	for ; p.indexFrom < len(p.done); p.indexFrom++ {
		d := &p.done[p.indexFrom]
		if len(p.done)-p.indexFrom <= keepIndexes && p.indexItems <= keepIndexItems && !d.obj.stamp.Before(p.newestDone.Add(-keepIndex)) {
			break
		}
		p.indexItems -= d.st.Index.Len()
		d.st.Index = nil
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

// pauses are the trails of the listing's folder that stopped logging in
// the window and started again.
func (a *accountListing) pauses() []trailPause {
	if a.coverage == nil {
		return nil
	}
	return a.coverage.paused
}
