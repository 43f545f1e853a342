package awsops_test

import (
	"cmp"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// Shapes in the Stratus logs that are renamed or moved in time.
var (
	stratusKeyID    = regexp.MustCompile(`\b(AKIA|ASIA)[A-Z0-9]{16}\b`)
	stratusAccount  = regexp.MustCompile(`"recipientAccountId":\s*"(\d{12})"`)
	stratusISOTime  = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z`)
	stratusSaidTime = regexp.MustCompile(`[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M`)
)

const saidTime = "Jan 2, 2006, 3:04:05 PM"

// stratusTechnique is one technique's records, made fit for the world: the
// anonymised account becomes the world's, each key ID one of the world's
// account (the same key the same ID), and every time moves so that the
// last record was made half an hour before now. The region stays.
type stratusTechnique struct {
	records []json.RawMessage
	leaked  string // the operator's key: the long-term key that made most calls, else the session key
	region  string
}

func loadStratusTechnique(t *testing.T, path string, now time.Time) stratusTechnique {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	var st stratusTechnique
	var last time.Time
	for _, r := range raw {
		var rec struct {
			EventTime time.Time
			AWSRegion string
		}
		if err := json.Unmarshal(r, &rec); err != nil {
			t.Fatal(err)
		}
		last, st.region = maxTime(last, rec.EventTime), rec.AWSRegion
	}
	shift := now.Add(-30 * time.Minute).Truncate(time.Second).Sub(last)
	keys := map[string]string{}
	calls := map[string]int{}
	for _, r := range raw {
		s := string(r)
		if m := stratusAccount.FindStringSubmatch(s); m != nil {
			s = strings.ReplaceAll(s, m[1], world.DefaultAccount)
		}
		s = stratusKeyID.ReplaceAllStringFunc(s, func(k string) string {
			if _, ok := keys[k]; !ok {
				keys[k] = world.NewAccessKeyID(k[:4], world.DefaultAccount)
			}
			return keys[k]
		})
		s = stratusISOTime.ReplaceAllStringFunc(s, func(v string) string {
			at, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return v
			}
			return at.Add(shift).UTC().Format(time.RFC3339)
		})
		s = stratusSaidTime.ReplaceAllStringFunc(s, func(v string) string {
			at, err := time.Parse(saidTime, v)
			if err != nil {
				return v
			}
			return at.Add(shift).UTC().Format(saidTime)
		})
		st.records = append(st.records, json.RawMessage(s))
		var rec struct {
			UserIdentity struct {
				AccessKeyID string `json:"accessKeyId"`
			}
		}
		if err := json.Unmarshal([]byte(s), &rec); err != nil {
			t.Fatal(err)
		}
		if k := rec.UserIdentity.AccessKeyID; k != "" {
			calls[k]++
		}
	}
	// The operator's key: long-term keys first (a role session's key when
	// the technique ran in one), then the busiest, then the smallest ID.
	byKey := slices.Collect(maps.Keys(calls))
	slices.SortFunc(byKey, func(a, b string) int {
		return cmp.Or(-boolCmp(strings.HasPrefix(a, "AKIA"), strings.HasPrefix(b, "AKIA")), calls[b]-calls[a], strings.Compare(a, b))
	})
	if len(byKey) > 0 {
		st.leaked = byKey[0]
	}
	return st
}

// boolCmp orders false before true.
func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// TestStratusSameAnswers: on the real CloudTrail of every Stratus Red Team
// technique that ships logs, replayed into the world (LookupEvents serves
// it, and the trail bucket holds it as CloudTrail delivers it), the
// trail-first path and the LookupEvents path find the same sessions,
// flagged calls, techniques, resources and sources for the operator's
// key. The window is the last three hours, where the records were moved:
// the trail path lists each region's folder for every day of it.
func TestStratusSameAnswers(t *testing.T) {
	moto := world.NewMotoTB(t)
	w := world.New(t, moto)
	startWorldTrail(t, w)
	paths, err := filepath.Glob(filepath.Join("testdata", "stratus", "aws.*.json"))
	if err != nil || len(paths) < 30 {
		t.Fatalf("%d Stratus log files (%v): testdata/stratus is missing", len(paths), err)
	}
	now := time.Now()
	techniques := map[string]stratusTechnique{}
	for _, p := range paths {
		st := loadStratusTechnique(t, p, now)
		if err := w.Gateway.Replay(st.records...); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		techniques[p] = st
	}
	if err := w.Gateway.FlushTrail(t.Context()); err != nil {
		t.Fatal(err)
	}
	c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{})
	checked := 0
	for _, p := range paths {
		st := techniques[p]
		if st.leaked == "" {
			continue // a console sign-in alone: no key to investigate
		}
		checked++
		t.Run(strings.TrimSuffix(filepath.Base(p), ".json"), func(t *testing.T) {
			t.Parallel()
			key, err := awsops.ParseAccessKeyID(st.leaked)
			if err != nil {
				t.Fatal(err)
			}
			investigate := func(path string) *awsops.Investigation {
				inv, err := c.Investigate(t.Context(), key, awsops.InvestigateOptions{TrailBucket: w.Gateway.TrailBucket(),
					Regions: []string{st.region}, Path: path, Since: now.Add(-3 * time.Hour)})
				if err != nil {
					t.Fatalf("investigate on the %q path: %v", path, err)
				}
				return inv
			}
			lookup, trail := investigate(awsops.PathLookup), investigate(awsops.PathTrail)
			if len(trail.Plan) == 0 || trail.Plan[0].Path != awsops.PathTrail || trail.Trail == nil || trail.Trail.Objects == 0 {
				t.Fatalf("the trail path read nothing: plan %+v, read %+v", trail.Plan, trail.Trail)
			}
			if slices.ContainsFunc(trail.Plan, func(p awsops.PlanPart) bool {
				return strings.Contains(p.Reason, "management events of every credential there over its whole life")
			}) {
				t.Fatalf("the trail path leaves the management events to LookupEvents: the comparison would not test the bucket's; plan %+v", trail.Plan)
			}
			if lookup.Activity.Events == 0 {
				t.Fatal("LookupEvents found no call of the operator's key")
			}
			sameAnswers(t, lookup, trail)
		})
	}
	if checked < 34 {
		t.Fatalf("only %d techniques have an operator's key to investigate", checked)
	}
}
