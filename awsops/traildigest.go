package awsops

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"
)

// CloudTrail's digest files (a trail's log file integrity validation) name,
// hour by hour, every log file the trail delivered to the bucket. Read
// beside the listing, they tell a log file taken out of the bucket (deleted
// by whoever may delete there, expired by a lifecycle rule an attacker
// set, or, in a replica, never copied) from a quiet stretch of the log,
// which a listing alone cannot: a file a digest names and the folder lacks
// is missing, and LookupEvents reads what it held. A trail's digests
// follow one another without a break, an hour each, empty hours too: a
// break, or no digest for files delivered more than an hour ago, means
// digests were taken out too, and the files of that time cannot be
// checked. keyleak checks that the files are there, not their hashes nor
// the digests' signatures (aws cloudtrail validate-logs does): reading
// every byte twice would halve the pass. A digest file is outside input:
// its size, the files it names, the digests read at once and the files
// reported missing are bounded.

// trailDigest is what keyleak reads of a digest file.
type trailDigest struct {
	Start    time.Time       `json:"digestStartTime"`
	End      time.Time       `json:"digestEndTime"`
	Previous *string         `json:"previousDigestS3Object"` // null in a trail's first digest
	LogFiles []digestLogFile `json:"logFiles"`
}

// digestLogFile is one log file a digest names.
type digestLogFile struct {
	Object string     `json:"s3Object"`
	Oldest *time.Time `json:"oldestEventTime"`
	Newest *time.Time `json:"newestEventTime"`
}

const (
	// maxDigestBytes bounds a digest file as read, decompressed: one names
	// the files of an hour of one region, about 400 bytes each.
	maxDigestBytes = 4 << 20
	// maxDigestLogFiles bounds the log files one digest may name.
	maxDigestLogFiles = 10000
	// maxMissingFiles bounds the missing files kept for a region; past
	// it, they are counted.
	maxMissingFiles = 1000
	// maxDigestsRead bounds the digest files read for one region and
	// listing: a month of hours. Past it, the newest are read, and a gap
	// says from when the files are not checked.
	maxDigestsRead = 24 * 31
	// maxDigestNames bounds the digest files a region's folders may list
	// (four months of hours of eight trails); past it, the digests are
	// not used.
	maxDigestNames = 24 * 31 * 4 * 8
	// maxDigestBreaks bounds the breaks kept for a region; past it, they
	// are counted.
	maxDigestBreaks = 10
	// digestBreakSlack is how much later than an hour after the one
	// before it a digest may be delivered without a digest between them.
	digestBreakSlack = 30 * time.Minute
)

// digestReads bounds the digest files being read at once in the process
// (each may take a few times maxDigestBytes while it is decoded: 8 take
// at most about 130 MiB, most of the time a few hundred KiB).
var digestReads = make(chan struct{}, 8)

// parseDigest reads a digest file, gzip or plain JSON.
func parseDigest(body []byte) (trailDigest, error) {
	var r io.Reader = bytes.NewReader(body)
	if len(body) >= 2 && body[0] == 0x1f && body[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return trailDigest{}, fmt.Errorf("read gzip header: %w", err)
		}
		r = zr
	}
	raw, err := io.ReadAll(io.LimitReader(r, maxDigestBytes+1))
	switch {
	case err != nil:
		return trailDigest{}, fmt.Errorf("decompress: %w", err)
	case len(raw) > maxDigestBytes:
		return trailDigest{}, fmt.Errorf("over %d bytes decompressed", maxDigestBytes)
	}
	var d trailDigest
	if err := json.Unmarshal(raw, &d); err != nil {
		return trailDigest{}, fmt.Errorf("not a digest file: %s", clip(err.Error()))
	}
	switch {
	case d.End.IsZero():
		return trailDigest{}, errors.New("not a digest file: no digestEndTime")
	case len(d.LogFiles) > maxDigestLogFiles:
		return trailDigest{}, fmt.Errorf("names %d log files, over %d", len(d.LogFiles), maxDigestLogFiles)
	}
	// Only names shaped as CloudTrail writes them, and no longer than an
	// S3 key may be, are kept: the rest of what a digest says is ignored.
	if p := d.Previous; p != nil {
		if _, _, ok := digestFileTime(*p); !ok || len(*p) > maxKeyBytes {
			d.Previous = nil
		}
	}
	d.LogFiles = slices.DeleteFunc(d.LogFiles, func(f digestLogFile) bool {
		_, ok := trailFileTime(f.Object)
		return !ok || len(f.Object) > maxKeyBytes
	})
	return d, nil
}

// maxKeyBytes is the longest S3 object key.
const maxKeyBytes = 1024

// clip cuts a text that may hold what a file holds to a length fit for a
// report.
func clip(s string) string {
	const most = 200
	if len(s) <= most {
		return s
	}
	return strings.ToValidUTF8(s[:most], "") + "…"
}

// digestFileTime is the end of the hour a digest file covers, from its
// name (…_CloudTrail-Digest_<region>_<trail>_<home region>_20150817T150131Z.json.gz,
// or …_20150817T150131Z_backfill.json.gz), and the name without it: the
// same for every digest of one trail and region.
func digestFileTime(key string) (end time.Time, series string, ok bool) {
	name := path.Base(key)
	if !strings.Contains(name, "_CloudTrail-Digest_") {
		return time.Time{}, "", false
	}
	name = strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".json")
	name = strings.TrimSuffix(name, "_backfill") // files delivered late, in a digest of their own
	i := strings.LastIndexByte(name, '_')
	t, err := time.Parse("20060102T150405Z", name[i+1:])
	return t, name[:i], err == nil
}

// digestPrefix is the folder of an account's digest files.
func (l trailLayout) digestPrefix(account string) string {
	return l.root + account + "/CloudTrail-Digest/"
}

// missingFile is a log file a digest names that the bucket lacks.
type missingFile struct {
	key      string
	from, to time.Time // the events it held: as the digest says, within what its name allows
	digest   string    // the digest that names it
}

// digestBreak is a span of a trail's delivery that no digest read covers.
type digestBreak struct {
	from, to time.Time
	series   string // the digests' name, without the time
	named    string // the digest after the break names this one as its previous, if any
}

// digestCheck is what the digests of one region say of its listing.
type digestCheck struct {
	read    map[string]bool        // the digests read
	missing map[string]missingFile // by key, at most maxMissingFiles
	dropped int                    // missing files past those
	breaks  []digestBreak          // at most maxDigestBreaks
	more    int                    // breaks past those
	capped  time.Time              // files delivered before this are not checked (maxDigestsRead)
	failed  int                    // digests, or digest folders, that could not be read
	failure string                 // the first failure
	lists   int
}

func (c *digestCheck) fail(err string) {
	if c.failed++; c.failed == 1 {
		c.failure = clip(err)
	}
}

// checkDigests reads the digest files of account's region that name log
// files of [since, until] and returns what they say the listing (listed,
// the files the folder holds) lacks. Only digests that ended by now (less
// a replica's lag and clock skew) count: one delivered while the folder
// was listed may name a file delivered after, and a replica may receive a
// digest before the files it names.
func checkDigests(ctx context.Context, client *s3.Client, l trailLayout, account, region string, since, until, now time.Time, listed map[string]bool, stamps []time.Time) digestCheck {
	c := digestCheck{read: map[string]bool{}, missing: map[string]missingFile{}}
	prefix := l.digestPrefix(account) + region + "/"
	// A file is delivered within deliveryAllowance of its stamp, and named
	// by the digest of the hour it was delivered in, delivered at that
	// hour's end.
	last := until.Add(deliveryAllowance + l.lag() + time.Hour)
	counted := now.Add(-l.lag() - clockSkew)
	type named struct {
		key string
		end time.Time
	}
	var keys []named
	present := map[string]bool{}
	ends := map[string][]named{} // the digests there, by series
	listedAll := true
	// From the day before since's when since is early in its day: the
	// digest before the first of the window may be there.
	first := since.Add(-2 * time.Hour).UTC().Truncate(oneDay)
	for d := first; !d.After(last); d = d.Add(oneDay) {
		folder := prefix + d.Format("2006/01/02") + "/"
		pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(l.bucket), Prefix: aws.String(folder)})
		for pages.HasMorePages() {
			out, err := pages.NextPage(ctx)
			c.lists++
			if err != nil {
				c.fail(fmt.Sprintf("list s3://%s/%s: %s", l.bucket, folder, describeAWSError(err)))
				listedAll = false
				break
			}
			for _, o := range out.Contents {
				key := aws.ToString(o.Key)
				end, name, ok := digestFileTime(key)
				if !ok {
					continue
				}
				if len(present) == maxDigestNames {
					c.fail(fmt.Sprintf("over %d digest files in s3://%s/%s", maxDigestNames, l.bucket, prefix))
					return c
				}
				present[key] = true
				if !end.Before(since) && !end.After(last) {
					ends[name] = append(ends[name], named{key, end})
					if !end.After(counted) {
						keys = append(keys, named{key, end})
					}
				}
			}
		}
	}
	slices.SortFunc(keys, func(a, b named) int { return cmp.Or(a.end.Compare(b.end), strings.Compare(a.key, b.key)) })
	if len(keys) > maxDigestsRead {
		c.capped = keys[len(keys)-maxDigestsRead].end.Add(-time.Hour)
		keys = keys[len(keys)-maxDigestsRead:]
	}
	logPrefix := l.accountPrefix(account) + region + "/"
	var mu sync.Mutex
	var wg sync.WaitGroup
	absent := map[string]string{} // by a digest read: the previous it names, not there
	for _, k := range keys {
		select {
		case digestReads <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			c.fail(ctx.Err().Error())
			return c
		}
		wg.Go(func() {
			defer func() { <-digestReads }()
			d, err := getDigest(ctx, client, l.bucket, k.key)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				c.fail(err.Error())
				return
			}
			c.read[k.key] = true
			if d.Previous != nil && !present[*d.Previous] {
				absent[k.key] = *d.Previous
			}
			for _, f := range d.LogFiles {
				stamp, ok := trailFileTime(f.Object)
				if !ok || !strings.HasPrefix(f.Object, logPrefix) || stamp.Before(since) || stamp.After(until) || listed[f.Object] {
					continue
				}
				if _, dup := c.missing[f.Object]; dup {
					continue
				}
				if len(c.missing) == maxMissingFiles {
					c.dropped++
					continue
				}
				m := missingFile{key: f.Object, digest: k.key}
				m.from, m.to = trailObject{stamp: stamp}.span()
				if f.Oldest != nil && f.Newest != nil && !f.Newest.Before(*f.Oldest) {
					// (within what the name allows: the digest is outside input)
					m.from, m.to = maxTime(m.from, *f.Oldest), minTime(m.to, f.Newest.Add(time.Second))
				}
				if m.to.After(m.from) {
					c.missing[f.Object] = m
				}
			}
		})
	}
	wg.Wait()
	if !listedAll {
		return c // breaks are not known where a folder could not be listed
	}
	// Each trail's digests come every hour, from their names: a break
	// between two, or before the first when the digest it names is not
	// there, is a span no digest of the trail covers; and none of any
	// trail since files older than a digest's hour were delivered is one
	// too.
	brk := func(b digestBreak) {
		if len(c.breaks) == maxDigestBreaks {
			c.more++
			return
		}
		c.breaks = append(c.breaks, b)
	}
	var newest time.Time
	for _, name := range slices.Sorted(maps.Keys(ends)) {
		es := ends[name]
		slices.SortFunc(es, func(a, b named) int { return a.end.Compare(b.end) })
		if prev := absent[es[0].key]; prev != "" {
			if end, _, _ := digestFileTime(prev); !end.Before(first) && end.Before(es[0].end) {
				// (the hour the previous digest covered, and any break before it)
				brk(digestBreak{from: end.Add(-time.Hour), to: es[0].end.Add(-time.Hour), series: name, named: prev})
			}
		}
		for i := 1; i < len(es); i++ {
			if es[i].end.Sub(es[i-1].end) > time.Hour+digestBreakSlack {
				brk(digestBreak{from: es[i-1].end, to: es[i].end.Add(-time.Hour), series: name, named: absent[es[i].key]})
			}
		}
		newest = maxTime(newest, es[len(es)-1].end)
	}
	due := minTime(counted.Add(-(time.Hour + deliveryAllowance)), until)
	if len(ends) > 0 && slices.ContainsFunc(stamps, func(t time.Time) bool { return t.After(newest) && !t.After(due) }) {
		brk(digestBreak{from: newest, to: due})
	}
	slices.SortFunc(c.breaks, func(a, b digestBreak) int { return cmp.Or(a.from.Compare(b.from), strings.Compare(a.series, b.series)) })
	return c
}

// getDigest reads one digest file.
func getDigest(ctx context.Context, client *s3.Client, bucket, key string) (trailDigest, error) {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return trailDigest{}, fmt.Errorf("s3:GetObject s3://%s/%s: %s", bucket, key, describeAWSError(err))
	}
	defer out.Body.Close()
	body, err := io.ReadAll(io.LimitReader(out.Body, maxDigestBytes+1))
	if err != nil {
		return trailDigest{}, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	d, err := parseDigest(body)
	if err != nil {
		return trailDigest{}, fmt.Errorf("digest s3://%s/%s: %w", bucket, key, err)
	}
	return d, nil
}

// merge adds to c what b, a check of another span of the same region,
// found.
func (c *digestCheck) merge(b digestCheck) {
	if c.read == nil {
		c.read, c.missing = map[string]bool{}, map[string]missingFile{}
	}
	maps.Copy(c.read, b.read)
	for k, m := range b.missing {
		if _, ok := c.missing[k]; ok {
			continue
		}
		if len(c.missing) == maxMissingFiles {
			c.dropped++
			continue
		}
		c.missing[k] = m
	}
	c.dropped += b.dropped
	for _, x := range b.breaks {
		switch {
		case slices.Contains(c.breaks, x):
		case len(c.breaks) == maxDigestBreaks:
			c.more++
		default:
			c.breaks = append(c.breaks, x)
		}
	}
	c.more += b.more
	if !b.capped.IsZero() && (c.capped.IsZero() || b.capped.Before(c.capped)) {
		c.capped = b.capped
	}
	if c.failed == 0 {
		c.failure = b.failure
	}
	c.failed += b.failed
	c.lists += b.lists
}

// missingIn is what the files the region's digests name, and the folder
// lacks, held of [from, to]; more than maxHoleSpans spans become one.
func (a *accountListing) missingIn(region string, from, to time.Time) []timeSpan {
	r := a.regions[region]
	if r == nil {
		return nil
	}
	var out []timeSpan
	for _, m := range r.digests.missing {
		if f, t := maxTime(from, m.from), minTime(to, m.to); t.After(f) {
			out = append(out, timeSpan{f, t})
		}
	}
	out = mergeSpans(out)
	if len(out) > maxHoleSpans {
		out = []timeSpan{hull(out)}
	}
	return out
}

// missingFiles returns the missing files of a check in order.
func (c *digestCheck) missingFiles() []missingFile {
	out := slices.Collect(maps.Values(c.missing))
	slices.SortFunc(out, func(a, b missingFile) int { return strings.Compare(a.key, b.key) })
	return out
}

// digestReport says what the digests of an account's region found (see
// checkDigests): the log files missing, which LookupEvents reads (a plan
// part), and the digests missing or unreadable (gaps); and, when a trail
// that delivers the region validates its files but no digest of the
// region is there, that (a gap). step is the investigation step the gaps
// are of.
func digestReport(l trailLayout, account, region string, rl *regionListing, cov *trailCoverage, now time.Time, step string) (parts []PlanPart, gaps []Gap) {
	c := &rl.digests
	if len(c.read) == 0 && c.failed == 0 && cov.validates(region) {
		// A file is named by the digest of the hour it was delivered in,
		// delivered at that hour's end.
		due := now.Add(-(time.Hour + deliveryAllowance + rl.lag + clockSkew))
		if i := slices.IndexFunc(rl.objects, func(o trailObject) bool { return !o.stamp.After(due) }); i >= 0 {
			why := "taken out, or validation was turned on since"
			if l.source != "" {
				why += ", or the replication rule leaves the digests out"
			}
			gaps = append(gaps, Gap{Step: step, Account: account, Region: region,
				Reason: fmt.Sprintf("log file validation is on for %s, but the bucket holds no digest file of the region's log files (%s, say): %s; a log file taken out is noticed only by the gap it leaves",
					strings.Join(cov.validating, ", "), rl.objects[i].key, why)})
		}
	}
	for _, b := range c.breaks {
		of := "the region"
		if b.series != "" {
			of = b.series
		}
		text := fmt.Sprintf("no digest file of %s covers %s to %s, although CloudTrail delivers one every hour: taken out (the log files delivered then are not checked), or the trail stopped logging or validating",
			of, fmtTime(b.from), fmtTime(b.to))
		if b.named != "" {
			text += fmt.Sprintf("; the digest after it names %s, which is not there", b.named)
		}
		gaps = append(gaps, Gap{Step: step, Account: account, Region: region, From: b.from, To: b.to, Reason: text})
	}
	if c.more > 0 {
		gaps = append(gaps, Gap{Step: step, Account: account, Region: region,
			Reason: fmt.Sprintf("%d more spans that no digest file covers", c.more)})
	}
	if !c.capped.IsZero() {
		gaps = append(gaps, Gap{Step: step, Account: account, Region: region, To: c.capped,
			Reason: fmt.Sprintf("the %d newest digest files were read: the log files delivered before %s are not checked against the digests", maxDigestsRead, fmtTime(c.capped))})
	}
	if c.failed > 0 {
		gaps = append(gaps, Gap{Step: step, Account: account, Region: region,
			Reason: fmt.Sprintf("%s could not be read (%s): the log files they name are not checked", counted(c.failed, "digest file or folder"), c.failure)})
	}
	missing := c.missingFiles()
	if len(missing) == 0 {
		return parts, gaps
	}
	n := len(missing) + c.dropped
	if step == StepDataEvents {
		for _, m := range missing[:min(len(missing), 5)] {
			gaps = append(gaps, Gap{Step: step, Account: account, Region: region, From: m.from, To: m.to,
				Reason: fmt.Sprintf("the log file %s, which CloudTrail's digest %s names, is not in the bucket: deleted, expired or, in a replica, not copied; the data events it held are not known", m.key, m.digest)})
		}
		if n > 5 {
			gaps = append(gaps, Gap{Step: step, Account: account, Region: region,
				Reason: fmt.Sprintf("%d more log files that CloudTrail's digests name are not in the bucket: the data events they held are not known", n-5)})
		}
		return parts, gaps
	}
	from, to := missing[0].from, missing[0].to
	for _, m := range missing {
		from, to = minTime(from, m.from), maxTime(to, m.to)
	}
	parts = append(parts, PlanPart{Account: account, Region: region, From: from, To: to, Path: PathLookup,
		Reason: fmt.Sprintf("%s that CloudTrail's digests name %s not in the bucket (%s, named by %s): deleted, expired or, in a replica, not copied; LookupEvents reads what %s held, and S3 data events there are not known",
			counted(n, "log file"), isAre(n), missing[0].key, missing[0].digest, itThey(n))})
	return parts, gaps
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func itThey(n int) string {
	if n == 1 {
		return "it"
	}
	return "they"
}

// validates reports whether a trail that delivers region validates its
// log files.
func (c *trailCoverage) validates(region string) bool {
	return c != nil && (c.validAll || slices.Contains(c.validRegions, region))
}
