package awsops_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/scenario"
	"github.com/keyleak/keyleak/test/world"
)

// trailRow is one event of the trail bucket, as the Athena table has it.
type trailRow struct {
	object, account, region            string
	eventTime, eventID, caller, minted string
	source, name, arn, ip              string
}

// athenaOracle answers keyleak's queries as Athena would over the table
// (deploy/aws/athena-table.sql) of a trail bucket, from every log file of
// the bucket read with encoding/json.
type athenaOracle struct {
	t     *testing.T
	rows  []trailRow
	files int // log files in the bucket
}

// between finds a query's exact window.
var between = regexp.MustCompile(`eventtime BETWEEN '([^']+)' AND '([^']+)'`)

func newAthenaOracle(t *testing.T, client *s3.Client, bucket string) *athenaOracle {
	t.Helper()
	var rows []trailRow
	files := 0
	eachLogFile(t, client, bucket, "", func(k *string) {
		key := aws.ToString(k)
		parts := strings.Split(key, "/") // AWSLogs/<account>/CloudTrail/<region>/yyyy/mm/dd/<file>
		if len(parts) != 8 || parts[2] != "CloudTrail" || !strings.HasSuffix(key, ".json.gz") {
			return
		}
		files++
		out, err := client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: k})
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
				SourceIPAddress                            string
				UserIdentity                               struct {
					AccessKeyID string `json:"accessKeyId"`
					ARN         string `json:"arn"`
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
				eventTime: r.EventTime, eventID: r.EventID, caller: r.UserIdentity.AccessKeyID, minted: minted,
				source: r.EventSource, name: r.EventName, arn: r.UserIdentity.ARN, ip: r.SourceIPAddress})
		}
	})
	return &athenaOracle{t: t, rows: rows, files: files}
}

// keyObjects answers the key-objects query.
func (o *athenaOracle) keyObjects(sql string, params []string) world.AthenaResult {
	res := world.AthenaResult{Columns: []string{"object", "account", "region", "eventtime", "eventid", "accesskeyid", "minted"}}
	m := between.FindStringSubmatch(sql)
	if m == nil || len(params)%2 != 0 || !strings.Contains(sql, "AS minted") {
		o.t.Errorf("the oracle does not know the query %q with %d parameters", sql, len(params))
		return res
	}
	var keys []string // asked twice: as the caller and as the key minted
	for _, p := range params[:len(params)/2] {
		keys = append(keys, strings.Trim(p, "'")) // string parameters are SQL literals
	}
	for _, r := range o.rows {
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
}

// ipSeen answers the ip-seen query: the events from the addresses, grouped
// by account, region, API, principal and key.
func (o *athenaOracle) ipSeen(sql string, params []string) world.AthenaResult {
	res := world.AthenaResult{Columns: []string{"account", "region", "eventsource", "eventname", "principal_arn", "accesskeyid",
		"sourceipaddress", "events", "first_seen", "last_seen"}}
	m := between.FindStringSubmatch(sql)
	if m == nil || len(params) == 0 || !strings.Contains(sql, "sourceipaddress IN") {
		o.t.Errorf("the oracle does not know the query %q with %d parameters", sql, len(params))
		return res
	}
	var ips []string
	for _, p := range params {
		ips = append(ips, strings.Trim(p, "'"))
	}
	type group struct{ account, region, source, name, arn, key, ip string }
	byGroup := map[group]map[string]string{}
	var order []group
	for _, r := range o.rows {
		if r.eventTime < m[1] || r.eventTime > m[2] || !slices.Contains(ips, r.ip) {
			continue
		}
		g := group{r.account, r.region, r.source, r.name, r.arn, r.caller, r.ip}
		row, ok := byGroup[g]
		if !ok {
			row = map[string]string{"account": g.account, "region": g.region, "eventsource": g.source, "eventname": g.name,
				"sourceipaddress": g.ip, "events": "0", "first_seen": r.eventTime, "last_seen": r.eventTime}
			if g.arn != "" {
				row["principal_arn"] = g.arn
			}
			if g.key != "" {
				row["accesskeyid"] = g.key
			}
			byGroup[g] = row
			order = append(order, g)
		}
		n, _ := strconv.Atoi(row["events"])
		row["events"] = strconv.Itoa(n + 1)
		row["first_seen"] = min(row["first_seen"], r.eventTime)
		row["last_seen"] = max(row["last_seen"], r.eventTime)
	}
	for _, g := range order {
		res.Rows = append(res.Rows, byGroup[g])
	}
	return res
}

// TestInvestigateThroughAthena: with the trail over the Athena budget, the
// investigation asks Athena which log files hold the tree's events (a
// query per round of credentials found), reads those files only, and
// gives the answers the LookupEvents path gives; the report names each
// query.
func TestInvestigateThroughAthena(t *testing.T) {
	w, run, oracle := athenaScenario(t)
	acct := run.Target.Account
	files := oracle.files
	for range 16 {
		w.Gateway.ScriptAthena(world.AthenaScript{Account: acct, Match: "AS minted", Queued: 1, Running: 1, DataScannedInBytes: 5 << 20, Answer: oracle.keyObjects})
	}
	// Where else the attacker's addresses were seen: the trail's answer,
	// and a principal of another account of the organisation the attacker
	// reached from the same address.
	elsewhere := map[string]string{"account": "999988887777", "region": "eu-west-1", "eventsource": "s3.amazonaws.com", "eventname": "ListBuckets",
		"principal_arn": "arn:aws:iam::999988887777:user/ci-deploy", "accesskeyid": "AKIAZZZZZZZZZZZZZZZ1", "events": "42",
		"first_seen": "2026-11-20T10:00:00Z", "last_seen": "2026-11-20T11:00:00Z"}
	w.Gateway.ScriptAthena(world.AthenaScript{Account: acct, Match: "sourceipaddress IN", Running: 1, DataScannedInBytes: 7 << 20,
		Answer: func(sql string, params []string) world.AthenaResult {
			res := oracle.ipSeen(sql, params)
			if len(params) > 0 {
				row := maps.Clone(elsewhere)
				row["sourceipaddress"] = strings.Trim(params[0], "'")
				res.Rows = append(res.Rows, row)
			}
			return res
		}})

	lookup, inv := investigateWithAthena(t, w, run)
	if len(inv.Plan) == 0 || inv.Plan[0].Path != awsops.PathAthena || !strings.Contains(inv.Plan[0].Reason, "exceed the budget") {
		t.Fatalf("plan %+v, want the account through Athena, saying why", inv.Plan)
	}
	ran := w.Gateway.AthenaExecutions()
	if len(inv.Athena) == 0 || len(inv.Athena) != len(ran) {
		t.Fatalf("the investigation reports %d queries, the world ran %d", len(inv.Athena), len(ran))
	}
	for i, q := range inv.Athena {
		scanned := int64(5 << 20) // as scripted for each query
		if q.Name == awsops.AthenaIPSeen {
			scanned = 7 << 20
		}
		if q.QueryID != ran[i].ID || q.State != "SUCCEEDED" || q.BytesScanned != scanned {
			t.Errorf("query %d reported as %+v; the world ran %s", i, q, ran[i].ID)
		}
	}
	if inv.Trail == nil || inv.Trail.Objects == 0 || inv.Trail.Objects >= files {
		t.Errorf("read %+v of the bucket's %d log files, want only those Athena named", inv.Trail, files)
	}
	t.Logf("%d Athena queries named %d of the bucket's %d log files", len(ran)-1, inv.Trail.Objects, files)
	sameAnswers(t, lookup, inv)
	var md bytes.Buffer
	if err := inv.Render(&md, "markdown"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), ran[0].ID) {
		t.Errorf("the report does not name Athena query %s:\n%s", ran[0].ID, md.String())
	}

	// The organisation-wide question: where else the attacker's addresses
	// were seen. The answer is merged: the other account's principal
	// first, then the tree's own calls from those addresses.
	ips := map[string]bool{}
	for _, s := range inv.Sources {
		if s.Attacker {
			for _, ip := range s.IPs {
				ips[ip] = true
			}
		}
	}
	if len(ips) == 0 {
		t.Fatal("the scenario's investigation finds no attacker address to ask about")
	}
	last := inv.Athena[len(inv.Athena)-1]
	if last.Name != awsops.AthenaIPSeen || last.State != "SUCCEEDED" || last.BytesScanned != 7<<20 || last.QueryID != ran[len(ran)-1].ID {
		t.Fatalf("last query %+v, want the ip-seen query the world ran (%s)", last, ran[len(ran)-1].ID)
	}
	if len(inv.IPSeen) < 2 {
		t.Fatalf("ip_seen = %+v, want the other account's principal and the tree's own calls", inv.IPSeen)
	}
	if got := inv.IPSeen[0]; got.InTree || got.Account != "999988887777" || got.Events != 42 || !ips[got.IP] ||
		got.Principal != elsewhere["principal_arn"] || got.FirstSeen.Format(time.RFC3339) != elsewhere["first_seen"] {
		t.Errorf("first sighting %+v, want the other account's principal, outside the tree", got)
	}
	tree := map[string]bool{}
	for _, s := range inv.Sessions {
		tree[s.AccessKeyID] = true
	}
	for _, s := range inv.IPSeen[1:] {
		if !s.InTree || !tree[s.AccessKeyID] || !ips[s.IP] || s.Events < 1 {
			t.Errorf("sighting %+v: want a call of the tree from an attacker address", s)
		}
	}
	text := md.String()
	for _, want := range []string{"Attacker addresses seen elsewhere in the organisation: 1 principal in 1 account",
		"Where else the attacker's addresses were seen", "arn:aws:iam::999988887777:user/ci-deploy (key AKIAZZZZZZZZZZZZZZZ1)"} {
		if !strings.Contains(text, want) {
			t.Errorf("the report lacks %q:\n%s", want, text)
		}
	}
}

// TestAthenaTableThatLeavesTheAccountOutIsNotTrusted: the organisation
// trail table projects its accounts and regions as enums
// (deploy/aws/athena.yaml), and leaves out the investigated account (it
// joined the organisation after the table was made), or the region where
// the key acted: Athena answers nothing there, as it would for no event.
// keyleak reads the table's projection from the Glue Data Catalog, reads
// those log files directly, and the plan says why; the answers are those
// of the LookupEvents path.
func TestAthenaTableThatLeavesTheAccountOutIsNotTrusted(t *testing.T) {
	for _, tc := range []struct {
		name      string
		accounts  func(own string) []string
		regions   []string
		planNames string
	}{
		{"account", func(string) []string { return []string{"111111111111", "222222222222"} }, []string{"us-east-1", "eu-west-1"}, "leaves out the account"},
		{"region", func(own string) []string { return []string{"111111111111", own} }, []string{"ap-south-2"}, "region"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, run, oracle := athenaScenario(t)
			acct := run.Target.Account
			gc := glue.NewFromConfig(w.Config("us-east-1", w.Admin(acct)))
			if _, err := gc.CreateDatabase(t.Context(), &glue.CreateDatabaseInput{DatabaseInput: &gluetypes.DatabaseInput{Name: aws.String(awsops.DefaultAthenaDatabase)}}); err != nil {
				t.Fatal(err)
			}
			accounts := tc.accounts(acct)
			if _, err := gc.CreateTable(t.Context(), &glue.CreateTableInput{DatabaseName: aws.String(awsops.DefaultAthenaDatabase), TableInput: &gluetypes.TableInput{
				Name: aws.String(awsops.DefaultAthenaTable),
				Parameters: map[string]string{"projection.enabled": "true",
					"projection.account.type": "enum", "projection.account.values": strings.Join(accounts, ","),
					"projection.region.type": "enum", "projection.region.values": strings.Join(tc.regions, ","),
					"projection.timestamp.type": "date", "projection.timestamp.format": "yyyy/MM/dd", "projection.timestamp.range": "2020/01/01,NOW",
					"storage.location.template": "s3://" + run.Target.TrailBucket + "/AWSLogs/${account}/CloudTrail/${region}/${timestamp}"},
			}}); err != nil {
				t.Fatal(err)
			}
			// As Athena over that table: nothing of what it does not project.
			oracle.rows = slices.DeleteFunc(oracle.rows, func(r trailRow) bool {
				return !slices.Contains(accounts, r.account) || !slices.Contains(tc.regions, r.region)
			})
			for range 16 {
				w.Gateway.ScriptAthena(world.AthenaScript{Account: acct, Match: "AS minted", Running: 1, Answer: oracle.keyObjects})
			}
			w.Gateway.ScriptAthena(world.AthenaScript{Account: acct, Match: "sourceipaddress IN", Running: 1, Answer: oracle.ipSeen})

			lookup, inv := investigateWithAthena(t, w, run)
			if len(inv.Plan) == 0 || inv.Plan[0].Path != awsops.PathAthena {
				t.Fatalf("plan %+v, want the account through Athena", inv.Plan)
			}
			if !slices.ContainsFunc(inv.Plan, func(p awsops.PlanPart) bool {
				return p.Account == acct && p.Path == awsops.PathTrail && strings.Contains(p.Reason, "partition projection leaves out") && strings.Contains(p.Reason, tc.planNames)
			}) {
				t.Errorf("the plan does not say what the table leaves out (%s) and that its files are read directly:\n%s", tc.planNames, rvReport(inv))
			}
			if inv.Trail == nil || inv.Trail.Objects == 0 {
				t.Errorf("read %+v: want the log files the table leaves out read directly", inv.Trail)
			}
			sameAnswers(t, lookup, inv)
		})
	}
}

// investigateWithAthena investigates the run's leaked key on the
// LookupEvents path, and with Athena for any trail at all (a budget of one
// byte).
func investigateWithAthena(t *testing.T, w *world.World, run *scenario.Run) (lookup, athena *awsops.Investigation) {
	t.Helper()
	lookup = investigateRun(t, w, run, awsops.PathLookup)
	c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(run.Target.Account)), awsops.Options{})
	key, err := awsops.ParseAccessKeyID(run.Target.Leaked.AccessKeyID)
	if err != nil {
		t.Fatal(err)
	}
	athena, err = c.Investigate(t.Context(), key, awsops.InvestigateOptions{TrailBucket: run.Target.TrailBucket, Cost: awsops.NewCostCache(),
		Athena: &awsops.AthenaOptions{BudgetBytes: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return lookup, athena
}

// athenaScenario plays the first scenario, with keyleak's Athena workgroup
// in its account, and the oracle that answers queries over its bucket.
func athenaScenario(t *testing.T) (*world.World, *scenario.Run, *athenaOracle) {
	t.Helper()
	w, run, _ := playScenario(t, world.NewMotoTB(t), scenario.All()[0])
	if err := w.Gateway.CreateAthenaWorkGroup(t.Context(), world.AthenaWorkGroup{Account: run.Target.Account, Name: awsops.DefaultAthenaWorkgroup,
		OutputLocation: "s3://keyleak-athena-results/athena/", Enforce: true}); err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(w.Config("us-east-1", w.Admin(run.Target.Account)), func(o *s3.Options) { o.UsePathStyle = true })
	return w, run, newAthenaOracle(t, client, run.Target.TrailBucket)
}
