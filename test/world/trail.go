package world

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base32"
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
	for _, k := range keys {
		stamp := k.span.Add(trailFileSpan)
		objectKey := fmt.Sprintf("AWSLogs/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz",
			k.account, k.region, stamp.Format("2006/01/02"), k.account, k.region, stamp.Format("20060102T1504Z"),
			trailSuffix())
		body, err := gzipRecords(files[k])
		if err != nil {
			return err
		}
		if err := g.putTrailObject(ctx, objectKey, body); err != nil {
			return err
		}
	}
	commit()
	return nil
}

// trailSuffix is the random part of a file name: 16 letters and digits.
func trailSuffix() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return base32.StdEncoding.EncodeToString(b[:])
}

func gzipRecords(records []json.RawMessage) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	payload, err := json.Marshal(map[string][]json.RawMessage{"Records": records})
	if err != nil {
		return nil, fmt.Errorf("encode trail records: %w", err)
	}
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
