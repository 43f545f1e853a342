package awsops

import (
	"slices"
	"strings"
	"testing"
)

// TestProjectionOf reads partition projection properties as Athena does:
// an enum closes the accounts or regions answered, injected and no
// projection leave them open.
func TestProjectionOf(t *testing.T) {
	for _, tc := range []struct {
		name            string
		params          map[string]string
		account, region string
		want            bool
	}{
		{"no projection: the catalog's partitions", map[string]string{}, "333333333333", "us-east-1", true},
		{"projection off", map[string]string{"projection.enabled": "false", "projection.account.type": "enum", "projection.account.values": "1"}, "2", "us-east-1", true},
		{"account listed", map[string]string{"projection.enabled": "true", "projection.account.type": "enum", "projection.account.values": "111111111111,222222222222"}, "222222222222", "us-east-1", true},
		{"account not listed", map[string]string{"projection.enabled": "TRUE", "projection.account.type": " Enum ", "projection.account.values": "111111111111,222222222222"}, "333333333333", "us-east-1", false},
		{"white space is part of a value", map[string]string{"projection.enabled": "true", "projection.account.type": "enum", "projection.account.values": "111111111111, 222222222222"}, "222222222222", "us-east-1", false},
		{"injected account", map[string]string{"projection.enabled": "true", "projection.account.type": "injected"}, "333333333333", "us-east-1", true},
		{"region not listed", map[string]string{"projection.enabled": "true", "projection.region.type": "enum", "projection.region.values": "us-east-1,eu-west-1"}, "1", "ap-south-2", false},
		{"region listed", map[string]string{"projection.enabled": "true", "projection.region.type": "enum", "projection.region.values": "us-east-1,eu-west-1"}, "1", "eu-west-1", true},
	} {
		if got := projectionOf(tc.params).answers(tc.account, tc.region); got != tc.want {
			t.Errorf("%s: answers(%s, %s) = %v, want %v", tc.name, tc.account, tc.region, got, tc.want)
		}
	}
}

func FuzzProjectionOf(f *testing.F) {
	f.Add("true", "enum", "111111111111,222222222222", "111111111111")
	f.Add(" True", "injected", "", "111111111111")
	f.Fuzz(func(t *testing.T, enabled, accountType, accounts, ask string) {
		p := projectionOf(map[string]string{"projection.enabled": enabled, "projection.account.type": accountType, "projection.account.values": accounts})
		open := !strings.EqualFold(strings.TrimSpace(enabled), "true") || !strings.EqualFold(strings.TrimSpace(accountType), "enum")
		listed := strings.Split(accounts, ",")
		for _, a := range []string{ask, listed[0], listed[len(listed)-1]} {
			if got, want := p.answers(a, "us-east-1"), open || slices.Contains(listed, a); got != want {
				t.Errorf("answers(%q) = %v, want %v (projection %+v)", a, got, want, p)
			}
		}
	})
}
