package scenario

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyleak/keyleak/test/world"
)

// lookupRate is the pause between LookupEvents calls of one region: a little
// slower than 2 per second, AWS's limit.
const lookupRate = 550 * time.Millisecond

// lookupByKeys reads every management event of keys in region through LookupEvents as
// creds, at most 2 requests per second and without retrying into throttles.
func lookupByKeys(tb testing.TB, w *world.World, creds world.Credentials, region string, keys []string) []world.Record {
	tb.Helper()
	cfg := w.Config(region, creds)
	world.RetryBrokenConnections(&cfg, lookupRate)
	client := cloudtrail.NewFromConfig(cfg)
	var out []world.Record
	for _, key := range keys {
		var token *string
		for {
			// After the last call returned: the gateway counts a call when
			// it arrives, and one slow call must not bring two together.
			time.Sleep(lookupRate)
			page, err := client.LookupEvents(tb.Context(), &cloudtrail.LookupEventsInput{
				LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: cttypes.LookupAttributeKeyAccessKeyId, AttributeValue: aws.String(key)}},
				NextToken:        token,
			})
			if err != nil {
				tb.Fatalf("LookupEvents %s in %s: %v", key, region, err)
			}
			for _, e := range page.Events {
				var r world.Record
				if err := json.Unmarshal([]byte(aws.ToString(e.CloudTrailEvent)), &r); err != nil {
					tb.Fatalf("decode CloudTrailEvent: %v", err)
				}
				out = append(out, r)
			}
			if token = page.NextToken; token == nil {
				break
			}
		}
	}
	return out
}

// trailRecords flushes the trail and reads every record of every log file of account.
func trailRecords(tb testing.TB, w *world.World, account string) []world.Record {
	tb.Helper()
	ctx := tb.Context()
	if err := w.Gateway.FlushTrail(ctx); err != nil {
		tb.Fatalf("flush trail: %v", err)
	}
	client := s3.NewFromConfig(w.Config("us-east-1", w.Admin(w.Gateway.Accounts()[0])), func(o *s3.Options) { o.UsePathStyle = true })
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(w.Gateway.TrailBucket()),
		Prefix: aws.String("AWSLogs/" + account + "/CloudTrail/")})
	var out []world.Record
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			tb.Fatalf("list trail files: %v", err)
		}
		for _, o := range page.Contents {
			out = append(out, readTrailFile(tb, client, w.Gateway.TrailBucket(), aws.ToString(o.Key))...)
		}
	}
	if len(out) == 0 {
		tb.Fatalf("no trail records for account %s", account)
	}
	return out
}

func readTrailFile(tb testing.TB, c *s3.Client, bucket, key string) []world.Record {
	tb.Helper()
	obj, err := c.GetObject(tb.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		tb.Fatalf("get trail file %s: %v", key, err)
	}
	defer obj.Body.Close()
	raw, err := io.ReadAll(obj.Body)
	if err != nil {
		tb.Fatalf("read trail file %s: %v", key, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		tb.Fatalf("trail file %s is not gzip: %v", key, err)
	}
	var file struct{ Records []world.Record }
	if err := json.NewDecoder(zr).Decode(&file); err != nil && !errors.Is(err, io.EOF) {
		tb.Fatalf("decode trail file %s: %v", key, err)
	}
	return file.Records
}

// only keeps the records whose access key is in keys.
func only(records []world.Record, keys map[string]bool) []world.Record {
	var out []world.Record
	for _, r := range records {
		if keys[r.UserIdentity.AccessKeyID] {
			out = append(out, r)
		}
	}
	return out
}

// attackers keeps the records of gt's attacker: those of its keys, but
// for the calls the key's own CI made with the leaked key.
func attackers(records []world.Record, gt GroundTruth) []world.Record {
	legit, signIns := map[string]bool{}, map[string]bool{}
	for _, a := range gt.Legit.KeyActions {
		legit[actionKey(a)] = true
	}
	for _, a := range gt.Actions {
		if signIn(a) {
			signIns[actionKey(a)] = true
		}
	}
	var out []world.Record
	for _, r := range records {
		if signIns[recordKey(r)] {
			out = append(out, r) // the attacker's sign-ins, which name no key
		}
	}
	for _, r := range only(records, attackerKeys(gt)) {
		if !legit[recordKey(r)] {
			out = append(out, r)
		}
	}
	return out
}
