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
// time; and, with EnableTrailDigests, the digest files of the hours ended. The writes go
// straight to moto and are not recorded.
func (g *Gateway) FlushTrail(ctx context.Context) error {
	g.trailMu.Lock()
	defer g.trailMu.Unlock()
	events, commit := g.events.unflushed()
	if len(events) == 0 {
		return g.deliverDigests(ctx) // of the hours ended since
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
		if g.digestTrail != "" {
			// Delivered at its stamp: named by the digest of that hour.
			oldest, newest := spanOf(files[k])
			sum := sha256.Sum256(payload)
			h := digestHour{k.account, k.region, stamp.Truncate(time.Hour)}
			g.pendingDigest[h] = append(g.pendingDigest[h], digestLogFile{S3Bucket: g.cfg.TrailBucket, S3Object: objectKey,
				HashValue: hex.EncodeToString(sum[:]), HashAlgorithm: "SHA-256", OldestEventTime: &oldest, NewestEventTime: &newest})
		}
	}
	commit()
	return g.deliverDigests(ctx)
}

// digestBacklog is how far back the world delivers digests when they are
// enabled.
const digestBacklog = 24 * time.Hour

// digestHour is the files of an account and region delivered in one hour,
// which that hour's digest names.
type digestHour struct {
	account, region string
	hour            time.Time
}

// deliverDigests delivers the digest of every hour that has ended, for
// each account and region the world wrote log files of since digests were
// enabled: in order, chained, empty hours too. Files added to an hour
// whose digest was delivered go into a backfill digest of that hour, as
// CloudTrail delivers late files. Called with trailMu held.
func (g *Gateway) deliverDigests(ctx context.Context) error {
	if g.digestTrail == "" {
		return nil
	}
	// A region's chain starts at the hour of its first files, at most
	// digestBacklog ago: files delivered before (a scenario's set-up,
	// weeks back) are named by no digest, as if validation began then.
	now := g.now().UTC()
	oldest := now.Add(-digestBacklog).Truncate(time.Hour)
	for h := range g.pendingDigest {
		ar := [2]string{h.account, h.region}
		last, ok := g.lastDigest[ar]
		switch {
		case h.hour.Before(oldest):
			delete(g.pendingDigest, h)
		case !ok || last.key == "" && h.hour.Before(last.end):
			g.lastDigest[ar] = lastDigest{end: h.hour}
		}
	}
	var ars [][2]string
	for ar := range g.lastDigest {
		ars = append(ars, ar)
	}
	sort.Slice(ars, func(i, j int) bool { return ars[i][0]+"/"+ars[i][1] < ars[j][0]+"/"+ars[j][1] })
	for _, ar := range ars {
		for h, files := range g.pendingDigest {
			if h.account == ar[0] && h.region == ar[1] && h.hour.Before(g.lastDigest[ar].end) {
				if err := g.putDigest(ctx, ar, h.hour, files, true); err != nil {
					return err
				}
				delete(g.pendingDigest, h)
			}
		}
		for end := g.lastDigest[ar].end.Add(time.Hour); !end.After(now); end = end.Add(time.Hour) {
			h := digestHour{ar[0], ar[1], end.Add(-time.Hour)}
			if err := g.putDigest(ctx, ar, h.hour, g.pendingDigest[h], false); err != nil {
				return err
			}
			delete(g.pendingDigest, h)
		}
	}
	return nil
}

// EnableTrailDigests makes the world deliver CloudTrail digest files for
// the log files it writes from then on, as a trail with log file
// validation does (trail names the trail in the digests' names; home is
// its home region):
// AWSLogs/<account>/CloudTrail-Digest/<region>/YYYY/MM/DD/<account>_CloudTrail-Digest_<region>_<trail>_<home>_<YYYYMMDDTHHmmssZ>.json.gz.
// Each account and region that has files gets a digest for every hour once
// it has ended (at each flush), empty hours too, naming the files
// delivered in it (a file is delivered at its stamp) and the digest
// before it, from the hour of its first files on (at most a day back). The world does not sign them (the x-amz-meta-signature
// metadata is absent).
func (g *Gateway) EnableTrailDigests(trail, home string) {
	g.trailMu.Lock()
	defer g.trailMu.Unlock()
	g.digestTrail, g.digestHome = trail, home
	if g.lastDigest == nil {
		g.lastDigest, g.pendingDigest = map[[2]string]lastDigest{}, map[digestHour][]digestLogFile{}
	}
}

// lastDigest is the digest last delivered for an account and region.
type lastDigest struct {
	key  string // "" before the first
	end  time.Time
	hash string // SHA-256 of its JSON
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

// putDigest delivers the digest of the hour from start: files are those
// delivered in it. A backfill digest names late files of an hour whose
// digest was delivered, and does not move the chain on. Called with
// trailMu held.
func (g *Gateway) putDigest(ctx context.Context, ar [2]string, start time.Time, files []digestLogFile, backfill bool) error {
	account, region := ar[0], ar[1]
	end := start.Add(time.Hour)
	name := end.Format("20060102T150405Z")
	if backfill {
		name += "_backfill"
	}
	key := fmt.Sprintf("AWSLogs/%s/CloudTrail-Digest/%s/%s/%s_CloudTrail-Digest_%s_%s_%s_%s.json.gz",
		account, region, end.Format("2006/01/02"), account, region, g.digestTrail, g.digestHome, name)
	d := trailDigestFile{AWSAccountID: account, DigestStartTime: start.Format(time.RFC3339), DigestEndTime: end.Format(time.RFC3339),
		DigestS3Bucket: g.cfg.TrailBucket, DigestS3Object: key, DigestPublicKeyFingerprint: "00000000000000000000000000000000",
		DigestSignatureAlgorithm: "SHA256withRSA", LogFiles: files}
	if d.LogFiles == nil {
		d.LogFiles = []digestLogFile{}
	}
	for _, f := range files {
		if d.OldestEventTime == nil || f.OldestEventTime.Before(*d.OldestEventTime) {
			d.OldestEventTime = f.OldestEventTime
		}
		if d.NewestEventTime == nil || f.NewestEventTime.After(*d.NewestEventTime) {
			d.NewestEventTime = f.NewestEventTime
		}
	}
	prev := g.lastDigest[ar]
	if prev.key != "" && !backfill {
		bucket, algorithm, signature := g.cfg.TrailBucket, "SHA-256", ""
		d.PreviousDigestS3Bucket, d.PreviousDigestS3Object = &bucket, &prev.key
		d.PreviousDigestHashValue, d.PreviousDigestHashAlgorithm, d.PreviousDigestSignature = &prev.hash, &algorithm, &signature
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
	if !backfill {
		sum := sha256.Sum256(payload)
		g.lastDigest[ar] = lastDigest{key: key, end: end, hash: hex.EncodeToString(sum[:])}
	}
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
