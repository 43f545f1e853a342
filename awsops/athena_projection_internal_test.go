package awsops

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestProjectionOf reads partition projection properties as Athena does:
// an enum closes the accounts or regions answered, injected and no
// projection leave them open; the timestamp range closes the days, with
// NOW and its offsets evaluated when the query runs; a table that reads
// another folder, or names days otherwise, answers nothing.
func TestProjectionOf(t *testing.T) {
	now := time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)
	today := now
	layout := trailLayout{bucket: "logs", root: "AWSLogs/o-abcdefghij/"}
	template := "s3://logs/AWSLogs/o-abcdefghij/${account}/CloudTrail/${region}/${timestamp}"
	with := func(kv ...string) map[string]string {
		m := map[string]string{"projection.enabled": "true", "storage.location.template": template,
			"projection.timestamp.type": "date", "projection.timestamp.format": "yyyy/MM/dd", "projection.timestamp.range": "2020/01/01,NOW"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name            string
		params          map[string]string
		account, region string
		day             time.Time
		want            bool
	}{
		{"no projection: the catalog's partitions", map[string]string{}, "333333333333", "us-east-1", today, true},
		{"projection off", map[string]string{"projection.enabled": "false", "projection.account.type": "enum", "projection.account.values": "1"}, "2", "us-east-1", today, true},
		{"account listed", with("projection.account.type", "enum", "projection.account.values", "111111111111,222222222222"), "222222222222", "us-east-1", today, true},
		{"account not listed", with("projection.enabled", "TRUE", "projection.account.type", " Enum ", "projection.account.values", "111111111111,222222222222"), "333333333333", "us-east-1", today, false},
		{"white space is part of a value", with("projection.account.type", "enum", "projection.account.values", "111111111111, 222222222222"), "222222222222", "us-east-1", today, false},
		{"injected account", with("projection.account.type", "injected"), "333333333333", "us-east-1", today, true},
		{"region not listed", with("projection.region.type", "enum", "projection.region.values", "us-east-1,eu-west-1"), "1", "ap-south-2", today, false},
		{"region listed", with("projection.region.type", "enum", "projection.region.values", "us-east-1,eu-west-1"), "1", "eu-west-1", today, true},
		{"a day before the range", with("projection.timestamp.range", "2026/11/21,NOW"), "1", "us-east-1", now.AddDate(0, 0, -2), false},
		{"the first day of the range", with("projection.timestamp.range", "2026/11/21,NOW"), "1", "us-east-1", now.AddDate(0, 0, -1), true},
		{"NOW-1DAYS leaves today out", with("projection.timestamp.range", "2020/01/01,NOW-1DAYS"), "1", "us-east-1", today, false},
		{"NOW-90DAYS,NOW holds last month", with("projection.timestamp.range", "NOW-90DAYS,NOW"), "1", "us-east-1", now.AddDate(0, -1, 0), true},
		{"NOW-1YEAR,NOW leaves two years ago out", with("projection.timestamp.range", "now-1year,now"), "1", "us-east-1", now.AddDate(-2, 0, 0), false},
		{"a range keyleak cannot read", with("projection.timestamp.range", "yesterday,NOW"), "1", "us-east-1", today, false},
		{"days named otherwise", with("projection.timestamp.format", "yyyy-MM-dd"), "1", "us-east-1", today, false},
		{"another folder", with("storage.location.template", "s3://logs/AWSLogs/o-zzzzzzzzzz/${account}/CloudTrail/${region}/${timestamp}"), "1", "us-east-1", today, false},
		{"no template", with("storage.location.template", ""), "1", "us-east-1", today, false},
		{"the template with a slash after", with("storage.location.template", template+"/"), "1", "us-east-1", today, true},
	} {
		p := projectionOf(tc.params)
		p.reads(layout)
		if got := p.answers(tc.account, tc.region, tc.day, now); got != tc.want {
			t.Errorf("%s: answers(%s, %s, %s) = %v, want %v (projection %+v)", tc.name, tc.account, tc.region, tc.day.Format("2006/01/02"), got, tc.want, p)
		}
	}
}

func FuzzProjectionOf(f *testing.F) {
	f.Add("true", "enum", "111111111111,222222222222", "111111111111", "NOW-90DAYS")
	f.Add(" True", "injected", "", "111111111111", "2026/11/01")
	now := time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)
	layout := trailLayout{bucket: "logs", root: "AWSLogs/"}
	f.Fuzz(func(t *testing.T, enabled, accountType, accounts, ask, from string) {
		p := projectionOf(map[string]string{"projection.enabled": enabled, "projection.account.type": accountType, "projection.account.values": accounts,
			"storage.location.template": "s3://logs/AWSLogs/${account}/CloudTrail/${region}/${timestamp}",
			"projection.timestamp.type": "date", "projection.timestamp.format": "yyyy/MM/dd", "projection.timestamp.range": "2020/01/01,NOW"})
		p.reads(layout)
		open := !strings.EqualFold(strings.TrimSpace(enabled), "true") || !strings.EqualFold(strings.TrimSpace(accountType), "enum")
		listed := strings.Split(accounts, ",")
		for _, a := range []string{ask, listed[0], listed[len(listed)-1]} {
			if got, want := p.answers(a, "us-east-1", now, now), open || slices.Contains(listed, a); got != want {
				t.Errorf("answers(%q) = %v, want %v (projection %+v)", a, got, want, p)
			}
		}
		if d, ok := projectedDay(from, now); ok && !d.Equal(d.UTC().Truncate(24*time.Hour)) {
			t.Errorf("projectedDay(%q) = %v: not a UTC day", from, d)
		}
	})
}
