package awsops

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyleak/keyleak/awsops/trail"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// DataEvents are the S3 object calls (and other data events) of the key
// and its sessions, read from the CloudTrail log files in the trail
// bucket for the days and regions the sweep found activity in.
type DataEvents struct {
	Bucket string `json:"bucket"`
	// Prefixes are the day folders listed.
	Prefixes      []string `json:"prefixes"`
	Objects       int      `json:"log_objects"` // log files scanned
	FailedObjects int      `json:"failed_log_objects"`
	Bytes         int64    `json:"bytes"` // decompressed
	Events        int      `json:"events"`
	EventNames    []Count  `json:"event_names"`
	// Accessed lists each object touched, sensitive ones first.
	Accessed []ObjectAccess `json:"accessed"`
	// AccessedDropped counts objects beyond the kept maximum.
	AccessedDropped int `json:"accessed_dropped,omitempty"`
}

// ObjectAccess is what the tracked credentials did to one S3 object.
type ObjectAccess struct {
	Bucket       string    `json:"bucket"`
	Key          string    `json:"key"`
	EventNames   []string  `json:"event_names"`
	Count        int       `json:"count"`
	Errors       int       `json:"errors"`
	First        time.Time `json:"first"`
	Last         time.Time `json:"last"`
	AccessKeyIDs []string  `json:"access_key_ids"`
	SourceIPs    []string  `json:"source_ips"`
	// Sensitive says why the object matters, when it does.
	Sensitive string `json:"sensitive,omitempty"`
}

const maxObjects = 10000 // distinct objects kept

// sensitivePatterns say which object names hold secrets; the first match
// wins. Patterns are matched against the lower-case base name, or the
// whole key when they contain '/'.
var sensitivePatterns = []struct{ pattern, why string }{
	{"*.tfstate", "Terraform state: holds every secret the stack was given"},
	{"*.tfstate.backup", "Terraform state: holds every secret the stack was given"},
	{"*.tfvars", "Terraform variables: often hold passwords and tokens"},
	{"*.tfvars.json", "Terraform variables: often hold passwords and tokens"},
	{"*.pem", "private key or certificate"}, {"*.key", "private key"}, {"*.p12", "private key store"},
	{"*.pfx", "private key store"}, {"*.jks", "Java key store"}, {"id_rsa*", "SSH private key"}, {"id_ed25519*", "SSH private key"},
	{".env*", "environment file: usually holds credentials"}, {"*.env", "environment file: usually holds credentials"},
	{"*credentials*", "credentials file"}, {"*secret*", "named as a secret"}, {"*password*", "named as passwords"},
	{"kubeconfig*", "Kubernetes credentials"}, {".npmrc", "package registry token"}, {".pgpass", "database passwords"},
	{".git-credentials", "git credentials"}, {".htpasswd", "password hashes"},
	{"*.sql", "database dump"}, {"*.sql.gz", "database dump"}, {"*.sql.*", "database dump"}, {"*.dump", "database dump"},
	{"*customer*", "customer data: personal data, a possible breach to notify"},
	{"*pii*", "personal data, a possible breach to notify"}, {"*payroll*", "payroll data: personal data"},
	{"*.bak", "backup"}, {"*.backup", "backup"}, {"*backup*/*", "backup"}, {"*backups*/*", "backup"},
}

// SensitiveObject says why an S3 object name suggests secrets or backups,
// or "" when it does not.
func SensitiveObject(bucket, key string) string {
	lowerKey := strings.ToLower(bucket + "/" + key)
	base := path.Base(strings.ToLower(key))
	for _, p := range sensitivePatterns {
		subject := base
		if strings.Contains(p.pattern, "/") {
			subject = lowerKey
		}
		if wildcardMatch(p.pattern, subject) {
			return p.why
		}
	}
	return ""
}

// noteObject records a data event; called with tracker.mu held.
func (tr *tracker) noteObject(rec *trail.Record) {
	tr.dataCount++
	bump(tr.dataNames, rec.EventName)
	var req struct {
		BucketName string `json:"bucketName"`
		Key        string `json:"key"`
	}
	_ = json.Unmarshal(rec.RequestParameters, &req)
	if req.BucketName == "" {
		return
	}
	id := req.BucketName + "/" + req.Key
	a, ok := tr.objects[id]
	if !ok {
		if len(tr.objects) >= maxObjects {
			tr.objectsDropped++
			return
		}
		a = &ObjectAccess{Bucket: req.BucketName, Key: req.Key, First: rec.EventTime, Last: rec.EventTime,
			Sensitive: SensitiveObject(req.BucketName, req.Key)}
		tr.objects[id] = a
	}
	a.Count++
	if rec.ErrorCode != "" {
		a.Errors++
	}
	a.First, a.Last = minTime(a.First, rec.EventTime), maxTime(a.Last, rec.EventTime)
	a.EventNames = addUnique(a.EventNames, rec.EventName)
	a.AccessKeyIDs = addUnique(a.AccessKeyIDs, rec.UserIdentity.AccessKeyID)
	a.SourceIPs = addUnique(a.SourceIPs, rec.SourceIPAddress)
}

func addUnique(list []string, s string) []string {
	if s == "" || slices.Contains(list, s) || len(list) >= 20 {
		return list
	}
	return append(list, s)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// scanDataEvents lists the trail files (under the bucket's layout: the
// trail prefix, an organisation's folder) of the days and regions where the
// sweep found the tracked keys active, and scans them for those keys.
func (c *Client) scanDataEvents(ctx context.Context, tr *tracker, opts InvestigateOptions, account string, w Window) (*DataEvents, []Gap) {
	now := c.Now() // before the listing: digests delivered after it may name files it did not see
	bucket := opts.TrailBucket
	de := &DataEvents{Bucket: bucket}
	client, layout, err := c.trailLayoutFor(ctx, opts, account, w)
	if err != nil {
		return de, []Gap{{Step: StepDataEvents, Account: opts.TrailAccount, Reason: "read trail bucket " + bucket + ": " + err.Error()}}
	}
	var gaps []Gap
	if layout.note != "" {
		gaps = append(gaps, Gap{Step: StepDataEvents, Account: account, Reason: layout.note})
	}
	if layout.source != "" {
		gaps = append(gaps, Gap{Step: StepDataEvents, Account: account, Reason: layout.replicaCaveat() + "; the data events of a file it has not copied are not known"})
	}
	spans := trailSpans(tr, w, layout)
	if len(spans) == 0 {
		return de, gaps
	}
	var keys []string
	for _, k := range tr.keys() {
		if id, err := ParseAccessKeyID(k); err == nil {
			keys = append(keys, id.String())
		}
	}
	for _, sp := range spans {
		de.Prefixes = append(de.Prefixes, sp.prefix)
	}
	// The files listed, for the digests, and the regions whose listing
	// failed (their digests are not checked).
	listed, unlisted := map[string]bool{}, map[string]bool{}
	var listedMu sync.Mutex
	objects := func(yield func(trail.Object) bool) {
		for _, sp := range spans {
			n := len(gaps)
			more := listTrailObjects(ctx, client, bucket, sp, func(o trail.Object) bool {
				listedMu.Lock()
				listed[o.Name] = true
				listedMu.Unlock()
				return yield(o)
			}, &gaps)
			if len(gaps) > n {
				unlisted[sp.account+"/"+sp.region] = true
			}
			if !more {
				return
			}
		}
	}
	scanner := trail.NewScanner(keys, trail.ScanOptions{})
	stats, err := scanner.ScanObjects(ctx, iter.Seq[trail.Object](objects), 4, func(m trail.Match) error {
		tr.add(ctx, m.Record.UserIdentity.AccessKeyID, &m.Record)
		return nil
	})
	if err != nil {
		gaps = append(gaps, Gap{Step: StepDataEvents, Reason: fmt.Sprintf("%d of %d trail log files in %s could not be read: %v", stats.FailedObjects, stats.Objects, bucket, err)})
	}
	de.Objects, de.FailedObjects, de.Bytes = stats.Objects, stats.FailedObjects, stats.Bytes
	tr.fillDataEvents(de)
	if ctx.Err() == nil {
		spans = slices.DeleteFunc(spans, func(sp trailSpan) bool { return unlisted[sp.account+"/"+sp.region] })
		gaps = append(gaps, dataEventDigests(ctx, client, layout, spans, listed, now)...)
	}
	return de, gaps
}

// dataEventDigests checks the files listed for data events against the
// trails' digest files, region by region: a file a digest names that the
// bucket lacks held data events that are not known (LookupEvents gave its
// management events).
func dataEventDigests(ctx context.Context, client *s3.Client, l trailLayout, spans []trailSpan, listed map[string]bool, now time.Time) []Gap {
	type ar struct{ account, region string }
	bounds := map[ar][2]time.Time{}
	var order []ar
	for _, sp := range spans {
		k := ar{sp.account, sp.region}
		b, ok := bounds[k]
		if !ok {
			order = append(order, k)
			b = [2]time.Time{sp.first, sp.last}
		}
		bounds[k] = [2]time.Time{minTime(b[0], sp.first), maxTime(b[1], sp.last)}
	}
	var gaps []Gap
	for _, k := range order {
		b := bounds[k]
		// The files listed: those stamped up to an hour around the span,
		// in the day folders of the span.
		since := maxTime(b[0].Add(-time.Hour), b[0].UTC().Truncate(oneDay))
		until := minTime(b[1].Add(time.Hour), b[1].UTC().Truncate(oneDay).Add(oneDay-time.Nanosecond))
		rl := &regionListing{lag: l.lag()}
		prefix := l.accountPrefix(k.account) + k.region + "/"
		for name := range listed {
			if stamp, ok := trailFileTime(name); ok && strings.HasPrefix(name, prefix) {
				rl.objects = append(rl.objects, trailObject{key: name, account: k.account, region: k.region, stamp: stamp})
			}
		}
		var stamps []time.Time
		for _, o := range rl.objects {
			stamps = append(stamps, o.stamp)
		}
		rl.digests = checkDigests(ctx, client, l, k.account, k.region, since, until, now, listed, stamps)
		_, g := digestReport(l, k.account, k.region, rl, nil, now, StepDataEvents)
		gaps = append(gaps, g...)
	}
	return gaps
}

// fillDataEvents sets what the tracker found in data events.
func (tr *tracker) fillDataEvents(de *DataEvents) {
	tr.mu.Lock()
	de.Events, de.EventNames, de.AccessedDropped = tr.dataCount, counts(tr.dataNames), tr.objectsDropped
	for _, a := range tr.objects {
		de.Accessed = append(de.Accessed, *a)
	}
	tr.mu.Unlock()
	slices.SortFunc(de.Accessed, func(a, b ObjectAccess) int {
		if (a.Sensitive != "") != (b.Sensitive != "") {
			if a.Sensitive != "" {
				return -1
			}
			return 1
		}
		return cmp.Or(a.First.Compare(b.First), strings.Compare(a.Bucket+"/"+a.Key, b.Bucket+"/"+b.Key))
	})
}

// trailSpan is one day folder to list and the times of interest in it.
type trailSpan struct {
	prefix          string
	account, region string
	first, last     time.Time
}

// trailSpans turns where and when the tracked keys were active (and the
// validity of their sessions) into day folders of the trail.
func trailSpans(tr *tracker, w Window, l trailLayout) []trailSpan {
	active := tr.activeSpans()
	sessions := tr.sessions()
	var out []trailSpan
	for id, sp := range active {
		account, region, _ := strings.Cut(id, "/")
		first, last := sp.first, sp.last
		for _, s := range sessions {
			if s.Depth > 0 && s.Account == account && !s.Issued.IsZero() {
				end := w.End
				if !s.Expires.IsZero() {
					end = minTime(s.Expires, w.End)
				}
				first, last = minTime(first, s.Issued), maxTime(last, end)
			}
		}
		for d := first.UTC().Truncate(oneDay); !d.After(last); d = d.Add(oneDay) {
			out = append(out, trailSpan{prefix: l.accountPrefix(account) + region + "/" + d.Format("2006/01/02") + "/",
				account: account, region: region, first: first, last: last})
		}
	}
	slices.SortFunc(out, func(a, b trailSpan) int { return strings.Compare(a.prefix, b.prefix) })
	return out
}

// listTrailObjects yields the log files of one day folder whose delivery
// stamp falls near the span; it returns false when yield asked to stop.
func listTrailObjects(ctx context.Context, client *s3.Client, bucket string, sp trailSpan, yield func(trail.Object) bool, gaps *[]Gap) bool {
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(sp.prefix)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			*gaps = append(*gaps, Gap{Step: StepDataEvents, Reason: "list s3://" + bucket + "/" + sp.prefix + ": " + describeAWSError(err)})
			return ctx.Err() == nil
		}
		for _, o := range out.Contents {
			name := aws.ToString(o.Key)
			if at, ok := trailFileTime(name); ok && (at.Before(sp.first.Add(-time.Hour)) || at.After(sp.last.Add(time.Hour))) {
				continue
			}
			obj := trailObjectOf(client, bucket, name)
			if !yield(obj) {
				return false
			}
		}
	}
	return true
}

// trailObjectOf is a log file of the bucket to scan.
func trailObjectOf(client *s3.Client, bucket, key string) trail.Object {
	return trail.Object{Name: key, Open: func(ctx context.Context) (io.ReadCloser, error) {
		got, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return nil, fmt.Errorf("s3:GetObject: %s", describeAWSError(err))
		}
		return got.Body, nil
	}}
}

// trailFileTime reads the stamp of a log file name
// (<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<random>.json.gz).
func trailFileTime(name string) (time.Time, bool) {
	parts := strings.Split(path.Base(name), "_")
	if len(parts) < 5 {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102T1504Z", parts[3])
	return t, err == nil
}
