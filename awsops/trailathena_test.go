package awsops_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/scenario"
	"github.com/keyleak/keyleak/test/world"
)

// trailRow is one event of the trail bucket, as the Athena table has it.
type trailRow struct {
	object, account, region            string
	eventTime, eventID, caller, minted string
}

// athenaOracle reads every log file of the trail bucket with
// encoding/json and returns what Athena would answer to keyleak's key
// objects query over the table (deploy/aws/athena-table.sql), and the
// number of log files.
func athenaOracle(t *testing.T, client *s3.Client, bucket string) (func(sql string, params []string) world.AthenaResult, int) {
	t.Helper()
	var rows []trailRow
	files := 0
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("AWSLogs/")})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			parts := strings.Split(key, "/") // AWSLogs/<account>/CloudTrail/<region>/yyyy/mm/dd/<file>
			if len(parts) != 8 || parts[2] != "CloudTrail" || !strings.HasSuffix(key, ".json.gz") {
				continue
			}
			files++
			out, err := client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			var doc struct {
				Records []struct {
					EventTime, EventID, EventSource, EventName string
					UserIdentity                               struct {
						AccessKeyID string `json:"accessKeyId"`
					}
					ResponseElements struct {
						Credentials struct {
							AccessKeyID string `json:"accessKeyId"`
						}
						AccessKey struct {
							AccessKeyID string `json:"accessKeyId"`
						}
					}
				}
			}
			if err := json.NewDecoder(zr).Decode(&doc); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			for _, r := range doc.Records {
				minted := r.ResponseElements.Credentials.AccessKeyID
				if r.EventSource == "iam.amazonaws.com" && r.EventName == "CreateAccessKey" {
					minted = r.ResponseElements.AccessKey.AccessKeyID
				}
				rows = append(rows, trailRow{object: "s3://" + bucket + "/" + key, account: parts[1], region: parts[3],
					eventTime: r.EventTime, eventID: r.EventID, caller: r.UserIdentity.AccessKeyID, minted: minted})
			}
		}
	}
	between := regexp.MustCompile(`eventtime BETWEEN '([^']+)' AND '([^']+)'`)
	return func(sql string, params []string) world.AthenaResult {
		res := world.AthenaResult{Columns: []string{"object", "account", "region", "eventtime", "eventid", "accesskeyid", "minted"}}
		m := between.FindStringSubmatch(sql)
		if m == nil || len(params)%2 != 0 || !strings.Contains(sql, "AS minted") {
			t.Errorf("the oracle does not know the query %q with %d parameters", sql, len(params))
			return res
		}
		var keys []string // asked twice: as the caller and as the key minted
		for _, p := range params[:len(params)/2] {
			keys = append(keys, strings.Trim(p, "'")) // string parameters are SQL literals
		}
		for _, r := range rows {
			// eventtime is an RFC 3339 string in UTC, as the table has it.
			if r.eventTime < m[1] || r.eventTime > m[2] || !slices.Contains(keys, r.caller) && !slices.Contains(keys, r.minted) {
				continue
			}
			row := map[string]string{"object": r.object, "account": r.account, "region": r.region, "eventtime": r.eventTime,
				"eventid": r.eventID, "accesskeyid": r.caller}
			if r.minted != "" {
				row["minted"] = r.minted
			}
			res.Rows = append(res.Rows, row)
		}
		return res
	}, files
}

// TestInvestigateThroughAthena: with the trail over the Athena budget, the
// investigation asks Athena which log files hold the tree's events (a
// query per round of credentials found), reads those files only, and
// gives the answers the LookupEvents path gives; the report names each
// query.
func TestInvestigateThroughAthena(t *testing.T) {
	moto := world.NewMotoTB(t)
	w, run, _ := playScenario(t, moto, scenario.All()[0])
	acct := run.Target.Account
	if err := w.Gateway.CreateAthenaWorkGroup(t.Context(), world.AthenaWorkGroup{Account: acct, Name: awsops.DefaultAthenaWorkgroup,
		OutputLocation: "s3://keyleak-athena-results/athena/", Enforce: true}); err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(w.Config("us-east-1", w.Admin(acct)), func(o *s3.Options) { o.UsePathStyle = true })
	oracle, files := athenaOracle(t, client, run.Target.TrailBucket)
	for range 16 {
		w.Gateway.ScriptAthena(world.AthenaScript{Account: acct, Match: "AS minted", Queued: 1, Running: 1, DataScannedInBytes: 5 << 20, Answer: oracle})
	}

	lookup := investigateRun(t, w, run, awsops.PathLookup)
	c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(acct)), awsops.Options{})
	key, err := awsops.ParseAccessKeyID(run.Target.Leaked.AccessKeyID)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := c.Investigate(t.Context(), key, awsops.InvestigateOptions{TrailBucket: run.Target.TrailBucket, Cost: awsops.NewCostCache(),
		Athena: &awsops.AthenaOptions{BudgetBytes: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Plan) == 0 || inv.Plan[0].Path != awsops.PathAthena || !strings.Contains(inv.Plan[0].Reason, "exceed the budget") {
		t.Fatalf("plan %+v, want the account through Athena, saying why", inv.Plan)
	}
	ran := w.Gateway.AthenaExecutions()
	if len(inv.Athena) == 0 || len(inv.Athena) != len(ran) {
		t.Fatalf("the investigation reports %d queries, the world ran %d", len(inv.Athena), len(ran))
	}
	for i, q := range inv.Athena {
		if q.QueryID != ran[i].ID || q.State != "SUCCEEDED" || q.BytesScanned != 5<<20 {
			t.Errorf("query %d reported as %+v; the world ran %s", i, q, ran[i].ID)
		}
	}
	if inv.Trail == nil || inv.Trail.Objects == 0 || inv.Trail.Objects >= files {
		t.Errorf("read %+v of the bucket's %d log files, want only those Athena named", inv.Trail, files)
	}
	t.Logf("%d Athena queries named %d of the bucket's %d log files", len(ran), inv.Trail.Objects, files)
	sameAnswers(t, lookup, inv)
	var md bytes.Buffer
	if err := inv.Render(&md, "markdown"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), ran[0].ID) {
		t.Errorf("the report does not name Athena query %s:\n%s", ran[0].ID, md.String())
	}
}
