package awsops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
// is missing, and LookupEvents reads what it held. Each digest names the
// one before it: a digest named so and absent was taken out too, and the
// files it named cannot be checked. keyleak checks that the files are
// there, not their hashes nor the digests' signatures (aws cloudtrail
// validate-logs does): reading every byte twice would halve the pass.

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

// maxDigestBytes bounds a digest file as read, decompressed: one names the
// files of an hour of one region, a few kilobytes to a few megabytes.
const maxDigestBytes = 16 << 20

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
		return trailDigest{}, fmt.Errorf("not a digest file: %w", err)
	}
	if d.End.IsZero() {
		return trailDigest{}, errors.New("not a digest file: no digestEndTime")
	}
	return d, nil
}

// digestFileTime is the end of the hour a digest file covers, from its
// name (…_CloudTrail-Digest_<region>_<trail>_<home region>_20150817T150131Z.json.gz,
// or …_20150817T150131Z_backfill.json.gz).
func digestFileTime(key string) (time.Time, bool) {
	name := path.Base(key)
	if !strings.Contains(name, "_CloudTrail-Digest_") {
		return time.Time{}, false
	}
	name = strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".json")
	name = strings.TrimSuffix(name, "_backfill") // files delivered late, in a digest of their own
	t, err := time.Parse("20060102T150405Z", name[strings.LastIndexByte(name, '_')+1:])
	return t, err == nil
}

// digestPrefix is the folder of an account's digest files.
func (l trailLayout) digestPrefix(account string) string {
	return l.root + account + "/CloudTrail-Digest/"
}

// missingFile is a log file a digest names that the bucket lacks.
type missingFile struct {
	key      string
	from, to time.Time // the events it held: as the digest says, else as its name does
	digest   string    // the digest that names it
}

// digestCheck is what the digests of one region say of its listing.
type digestCheck struct {
	digests   int
	missing   []missingFile
	unchained []string // digests that later ones name and the folder lacks
	failed    []string // digests that could not be read, with why
	lists     int
}

// maxDigestsRead bounds the digest files read for one region and listing:
// a month of hours. Past it, the newest are read.
const maxDigestsRead = 24 * 31

// checkDigests reads the digest files of account's region that name log
// files of [since, until] and returns what they say the listing (listed,
// the files the folder holds) lacks. Only digests that ended by now count:
// one delivered while the folder was listed may name a file delivered
// after.
func checkDigests(ctx context.Context, client *s3.Client, l trailLayout, account, region string, since, until, now time.Time, listed map[string]bool) digestCheck {
	var c digestCheck
	prefix := l.digestPrefix(account) + region + "/"
	// A file is delivered within deliveryAllowance of its stamp, and named
	// by the digest of the hour it was delivered in, delivered at that
	// hour's end.
	last := until.Add(deliveryAllowance + l.lag() + time.Hour)
	var keys []string
	present := map[string]bool{}
	for d := since.UTC().Truncate(oneDay); !d.After(last); d = d.Add(oneDay) {
		folder := prefix + d.Format("2006/01/02") + "/"
		pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(l.bucket), Prefix: aws.String(folder)})
		for pages.HasMorePages() {
			out, err := pages.NextPage(ctx)
			c.lists++
			if err != nil {
				c.failed = append(c.failed, fmt.Sprintf("list s3://%s/%s: %s", l.bucket, folder, describeAWSError(err)))
				break
			}
			for _, o := range out.Contents {
				key := aws.ToString(o.Key)
				end, ok := digestFileTime(key)
				if !ok {
					continue
				}
				present[key] = true
				if !end.Before(since) && !end.After(last) && !end.After(now) {
					keys = append(keys, key)
				}
			}
		}
	}
	slices.Sort(keys) // oldest first: the names differ only from the time on
	if len(keys) > maxDigestsRead {
		keys = keys[len(keys)-maxDigestsRead:]
	}
	logPrefix := l.accountPrefix(account) + region + "/"
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, listConcurrency)
	seen := map[string]bool{}
	for _, key := range keys {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d, err := getDigest(ctx, client, l.bucket, key)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				c.failed = append(c.failed, err.Error())
				return
			}
			c.digests++
			if prev := d.Previous; prev != nil && *prev != "" && !present[*prev] {
				// A previous digest older than the folders listed is not
				// known to be absent.
				if end, ok := digestFileTime(*prev); ok && !end.Before(since.UTC().Truncate(oneDay)) && strings.HasPrefix(*prev, prefix) {
					c.unchained = append(c.unchained, *prev)
				}
			}
			for _, f := range d.LogFiles {
				stamp, ok := trailFileTime(f.Object)
				if !ok || !strings.HasPrefix(f.Object, logPrefix) || stamp.Before(since) || stamp.After(until) || listed[f.Object] || seen[f.Object] {
					continue
				}
				seen[f.Object] = true
				m := missingFile{key: f.Object, digest: key}
				m.from, m.to = trailObject{stamp: stamp}.span()
				if f.Oldest != nil && f.Newest != nil && !f.Newest.Before(*f.Oldest) {
					m.from, m.to = *f.Oldest, f.Newest.Add(time.Second)
				}
				c.missing = append(c.missing, m)
			}
		})
	}
	wg.Wait()
	slices.SortFunc(c.missing, func(a, b missingFile) int { return strings.Compare(a.key, b.key) })
	slices.Sort(c.unchained)
	c.unchained = slices.Compact(c.unchained)
	slices.Sort(c.failed)
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
	c.digests += b.digests
	c.lists += b.lists
	for _, m := range b.missing {
		if !slices.ContainsFunc(c.missing, func(x missingFile) bool { return x.key == m.key }) {
			c.missing = append(c.missing, m)
		}
	}
	for _, u := range b.unchained {
		if !slices.Contains(c.unchained, u) {
			c.unchained = append(c.unchained, u)
		}
	}
	c.failed = append(c.failed, b.failed...)
}

// missingIn is what the files the region's digests name, and the folder
// lacks, held of [from, to].
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
	return out
}

// digestParts says what the digests of an account's region found: the
// log files missing, which LookupEvents reads (a plan part), and the
// digests missing or unreadable (gaps).
func (p *trailPass) digestParts(account, region string, rl *regionListing, cov *trailCoverage) []PlanPart {
	c := rl.digests
	if c.digests == 0 && len(c.failed) == 0 && cov.validates(region) {
		// A file is named by the digest of the hour it was delivered in,
		// delivered at that hour's end.
		due := p.now.Add(-(time.Hour + deliveryAllowance + rl.lag))
		if i := slices.IndexFunc(rl.objects, func(o trailObject) bool { return !o.stamp.After(due) }); i >= 0 {
			p.gaps = append(p.gaps, Gap{Step: StepCloudTrail, Account: account, Region: region,
				Reason: fmt.Sprintf("log file validation is on for %s, but the bucket holds no digest file of the region's log files (%s, say): taken out, or validation was turned on since; a log file taken out is noticed only by the gap it leaves",
					strings.Join(cov.validating, ", "), rl.objects[i].key)})
		}
	}
	for _, u := range c.unchained {
		p.gaps = append(p.gaps, Gap{Step: StepCloudTrail, Account: account, Region: region,
			Reason: fmt.Sprintf("the digest file %s, which the next digest names, is not in the bucket: taken out (the log files it named cannot be checked), or, in a replica, not copied", u)})
	}
	if n := len(c.failed); n > 0 {
		p.gaps = append(p.gaps, Gap{Step: StepCloudTrail, Account: account, Region: region,
			Reason: fmt.Sprintf("%s not read (%s): the log files they name are not checked", counted(n, "digest file"), c.failed[0])})
	}
	if len(c.missing) == 0 {
		return nil
	}
	from, to := c.missing[0].from, c.missing[0].to
	for _, m := range c.missing {
		from, to = minTime(from, m.from), maxTime(to, m.to)
	}
	return []PlanPart{{Account: account, Region: region, From: from, To: to, Path: PathLookup,
		Reason: fmt.Sprintf("%s that CloudTrail's digests name %s not in the bucket (%s, named by %s): deleted, expired or, in a replica, not copied; LookupEvents reads what %s held, and S3 data events there are not known",
			counted(len(c.missing), "log file"), isAre(len(c.missing)), c.missing[0].key, c.missing[0].digest, itThey(len(c.missing)))}}
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
