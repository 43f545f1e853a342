package world

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// trailFileSpan is how much event time one trail log file covers.
const trailFileSpan = 5 * time.Minute

// FlushTrail writes every event recorded since the last flush (management and data events)
// as CloudTrail log files into the trail bucket:
// AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<random>.json.gz,
// each a gzip JSON {"Records":[…]}, one file per account, region and five minutes of event
// time. The writes go straight to moto and are not recorded.
func (g *Gateway) FlushTrail(ctx context.Context) error {
	g.trailMu.Lock()
	defer g.trailMu.Unlock()
	events, commit := g.events.unflushed()
	if len(events) == 0 {
		return nil
	}
	if err := g.ensureTrailBucket(ctx); err != nil {
		return err
	}
	type fileKey struct {
		account, region string
		span            time.Time
	}
	files := map[fileKey][]json.RawMessage{}
	var keys []fileKey
	for _, e := range events {
		k := fileKey{e.rec.RecipientAccountID, e.rec.AWSRegion, e.at.UTC().Truncate(trailFileSpan)}
		if _, ok := files[k]; !ok {
			keys = append(keys, k)
		}
		files[k] = append(files[k], e.raw)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].span.Before(keys[j].span) })
	delivered := map[[2]string][]digestLogFile{} // by account and region, for the digests
	var regions [][2]string
	for _, k := range keys {
		stamp := k.span.Add(trailFileSpan)
		objectKey := fmt.Sprintf("AWSLogs/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz",
			k.account, k.region, stamp.Format("2006/01/02"), k.account, k.region, stamp.Format("20060102T1504Z"),
			trailSuffix())
		payload, body, err := gzipRecords(files[k])
		if err != nil {
			return err
		}
		if err := g.putTrailObject(ctx, objectKey, body); err != nil {
			return err
		}
		ar := [2]string{k.account, k.region}
		if _, ok := delivered[ar]; !ok {
			regions = append(regions, ar)
		}
		oldest, newest := spanOf(files[k])
		sum := sha256.Sum256(payload)
		delivered[ar] = append(delivered[ar], digestLogFile{S3Bucket: g.cfg.TrailBucket, S3Object: objectKey,
			HashValue: hex.EncodeToString(sum[:]), HashAlgorithm: "SHA-256", OldestEventTime: &oldest, NewestEventTime: &newest})
	}
	if g.digestTrail != "" {
		for _, ar := range regions {
			if err := g.putDigest(ctx, ar[0], ar[1], delivered[ar]); err != nil {
				return err
			}
		}
	}
	commit()
	return nil
}

// EnableTrailDigests makes every later flush deliver, for each account
// and region it writes log files of, a CloudTrail digest file naming them,
// as a trail with log file validation does (trail names the trail in the
// digests' names; home is its home region):
// AWSLogs/<account>/CloudTrail-Digest/<region>/YYYY/MM/DD/<account>_CloudTrail-Digest_<region>_<trail>_<home>_<YYYYMMDDTHHmmssZ>.json.gz.
// A digest covers the time from the region's last digest to the flush,
// and names the one before it; two flushes in one second share one. The world delivers a digest at each flush
// with files, where CloudTrail delivers one every hour; and it does not
// sign them (the x-amz-meta-signature metadata is absent).
func (g *Gateway) EnableTrailDigests(trail, home string) {
	g.trailMu.Lock()
	defer g.trailMu.Unlock()
	g.digestTrail, g.digestHome = trail, home
	if g.lastDigest == nil {
		g.lastDigest = map[[2]string]lastDigest{}
	}
}

// lastDigest is the digest last delivered for an account and region.
type lastDigest struct {
	key    string
	end    time.Time
	hash   string // SHA-256 of its JSON
	files  []digestLogFile
	before *lastDigest // the one it names, nil for the first
}

// trailDigestFile is a digest file as CloudTrail writes it.
type trailDigestFile struct {
	AWSAccountID                string          `json:"awsAccountId"`
	DigestStartTime             string          `json:"digestStartTime"`
	DigestEndTime               string          `json:"digestEndTime"`
	DigestS3Bucket              string          `json:"digestS3Bucket"`
	DigestS3Object              string          `json:"digestS3Object"`
	DigestPublicKeyFingerprint  string          `json:"digestPublicKeyFingerprint"`
	DigestSignatureAlgorithm    string          `json:"digestSignatureAlgorithm"`
	NewestEventTime             *time.Time      `json:"newestEventTime"`
	OldestEventTime             *time.Time      `json:"oldestEventTime"`
	PreviousDigestS3Bucket      *string         `json:"previousDigestS3Bucket"`
	PreviousDigestS3Object      *string         `json:"previousDigestS3Object"`
	PreviousDigestHashValue     *string         `json:"previousDigestHashValue"`
	PreviousDigestHashAlgorithm *string         `json:"previousDigestHashAlgorithm"`
	PreviousDigestSignature     *string         `json:"previousDigestSignature"`
	LogFiles                    []digestLogFile `json:"logFiles"`
}

type digestLogFile struct {
	S3Bucket        string     `json:"s3Bucket"`
	S3Object        string     `json:"s3Object"`
	HashValue       string     `json:"hashValue"` // of the file's uncompressed content
	HashAlgorithm   string     `json:"hashAlgorithm"`
	NewestEventTime *time.Time `json:"newestEventTime"`
	OldestEventTime *time.Time `json:"oldestEventTime"`
}

// putDigest delivers the digest of files, the log files of account and
// region just delivered. Called with trailMu held.
func (g *Gateway) putDigest(ctx context.Context, account, region string, files []digestLogFile) error {
	ar := [2]string{account, region}
	end := g.now().UTC().Truncate(time.Second)
	var before *lastDigest
	if prev, ok := g.lastDigest[ar]; ok {
		before = &prev
		if !end.After(prev.end) {
			// A second flush in the same second: the digest of that
			// second is delivered again, naming both flushes' files.
			files, before = append(slices.Clone(prev.files), files...), prev.before
		}
	}
	start := end.Add(-time.Hour)
	if before != nil {
		start = before.end
	}
	key := fmt.Sprintf("AWSLogs/%s/CloudTrail-Digest/%s/%s/%s_CloudTrail-Digest_%s_%s_%s_%s.json.gz",
		account, region, end.Format("2006/01/02"), account, region, g.digestTrail, g.digestHome, end.Format("20060102T150405Z"))
	d := trailDigestFile{AWSAccountID: account, DigestStartTime: start.Format(time.RFC3339), DigestEndTime: end.Format(time.RFC3339),
		DigestS3Bucket: g.cfg.TrailBucket, DigestS3Object: key, DigestPublicKeyFingerprint: "00000000000000000000000000000000",
		DigestSignatureAlgorithm: "SHA256withRSA", LogFiles: files}
	for _, f := range files {
		if d.OldestEventTime == nil || f.OldestEventTime.Before(*d.OldestEventTime) {
			d.OldestEventTime = f.OldestEventTime
		}
		if d.NewestEventTime == nil || f.NewestEventTime.After(*d.NewestEventTime) {
			d.NewestEventTime = f.NewestEventTime
		}
	}
	if before != nil {
		bucket, algorithm, signature := g.cfg.TrailBucket, "SHA-256", ""
		d.PreviousDigestS3Bucket, d.PreviousDigestS3Object = &bucket, &before.key
		d.PreviousDigestHashValue, d.PreviousDigestHashAlgorithm, d.PreviousDigestSignature = &before.hash, &algorithm, &signature
	}
	payload, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode digest: %w", err)
	}
	body, err := gzipBytes(payload)
	if err != nil {
		return err
	}
	if err := g.putTrailObject(ctx, key, body); err != nil {
		return err
	}
	sum := sha256.Sum256(payload)
	g.lastDigest[ar] = lastDigest{key: key, end: end, hash: hex.EncodeToString(sum[:]), files: files, before: before}
	return nil
}

// spanOf is the oldest and newest event time of records.
func spanOf(records []json.RawMessage) (oldest, newest time.Time) {
	for _, raw := range records {
		var r struct {
			EventTime time.Time `json:"eventTime"`
		}
		if json.Unmarshal(raw, &r) != nil {
			continue
		}
		if oldest.IsZero() || r.EventTime.Before(oldest) {
			oldest = r.EventTime
		}
		if r.EventTime.After(newest) {
			newest = r.EventTime
		}
	}
	return oldest.UTC(), newest.UTC()
}

// trailSuffix is the random part of a file name: 16 letters and digits.
func trailSuffix() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return base32.StdEncoding.EncodeToString(b[:])
}

// gzipRecords returns a log file of records, uncompressed and as
// delivered.
func gzipRecords(records []json.RawMessage) (payload, body []byte, err error) {
	payload, err = json.Marshal(map[string][]json.RawMessage{"Records": records})
	if err != nil {
		return nil, nil, fmt.Errorf("encode trail records: %w", err)
	}
	body, err = gzipBytes(payload)
	return payload, body, err
}

func gzipBytes(payload []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(payload); err != nil {
		return nil, fmt.Errorf("compress trail file: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress trail file: %w", err)
	}
	return buf.Bytes(), nil
}

func (g *Gateway) trailAccount() string { return g.cfg.Accounts[0] }

func (g *Gateway) ensureTrailBucket(ctx context.Context) error {
	acct := g.trailAccount()
	_, err := motoCall(ctx, g.client, g.cfg.MotoURL, http.MethodPut, "/"+g.cfg.TrailBucket, "s3", acct,
		g.Admin(acct).AccessKeyID, nil, "")
	if err != nil && !strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") {
		return fmt.Errorf("create trail bucket %s: %w", g.cfg.TrailBucket, err)
	}
	return nil
}

func (g *Gateway) putTrailObject(ctx context.Context, key string, body []byte) error {
	acct := g.trailAccount()
	_, err := motoCall(ctx, g.client, g.cfg.MotoURL, http.MethodPut, "/"+g.cfg.TrailBucket+"/"+key, "s3", acct,
		g.Admin(acct).AccessKeyID, bytes.NewReader(body), "application/json")
	if err != nil {
		return fmt.Errorf("put trail file %s: %w", key, err)
	}
	return nil
}

// flushPeriodically flushes the trail every TrailInterval until ctx ends.
func (g *Gateway) flushPeriodically(ctx context.Context) {
	t := time.NewTicker(g.cfg.TrailInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := g.FlushTrail(ctx); err != nil && ctx.Err() == nil {
				g.logger.Warn("flush trail", "err", err)
			}
		}
	}
}
