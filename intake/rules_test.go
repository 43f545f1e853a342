package intake

import (
	"testing"

	"github.com/keyleak/keyleak/state"
)

// TestDecide: canaries always open; samples and other accounts' keys are
// dropped; calls, denied or not-allowed types and low severities only
// join an open incident; the rest open one.
func TestDecide(t *testing.T) {
	rules := Rules{MinSeverity: 4, Deny: []string{"Policy:*"}, Allow: []string{"UnauthorizedAccess:*", "AttackSequence:*", "AWS_RISK_*", "github_*"},
		CanaryKeys: []string{"AKIAEXAMPLECANARY777"}, CanaryAccounts: []string{"999900001111"}, Accounts: []string{"111122223333"}}
	if err := rules.Validate(); err != nil {
		t.Fatal(err)
	}
	finding := func(typ string, sev float64, key, account string) Event {
		return Event{Key: key, Detection: state.Detection{Detector: DetectorGuardDuty, Type: typ, Severity: sev, Account: account}}
	}
	cases := map[string]struct {
		ev     Event
		want   Verdict
		canary bool
	}{
		"a high finding":                 {finding("UnauthorizedAccess:IAMUser/MaliciousIPCaller", 8, "AKIAEXAMPLEALICE2222", "111122223333"), Open, false},
		"an exposure without a severity": {Event{Key: "AKIAEXAMPLELEAKEDZZ7", Detection: state.Detection{Detector: DetectorHealth, Type: "AWS_RISK_CREDENTIALS_EXPOSED", Account: "111122223333"}}, Open, false},
		"a low finding":                  {finding("UnauthorizedAccess:IAMUser/TorIPCaller", 2, "AKIAEXAMPLEALICE2222", "111122223333"), Join, false},
		"a denied type":                  {finding("Policy:IAMUser/RootCredentialUsage", 9, "AKIAEXAMPLEALICE2222", "111122223333"), Join, false},
		"a type not allowed":             {finding("Discovery:IAMUser/AnomalousBehavior", 9, "AKIAEXAMPLEALICE2222", "111122223333"), Join, false},
		"another account":                {finding("UnauthorizedAccess:IAMUser/TorIPCaller", 9, "AKIAEXAMPLEALICE2222", "444455556666"), Drop, false},
		"a sample":                       {Event{Key: "AKIAEXAMPLEALICE2222", Sample: true, Detection: state.Detection{Type: "UnauthorizedAccess:IAMUser/TorIPCaller", Severity: 9, Account: "111122223333"}}, Drop, false},
		"a call":                         {Event{Key: "AKIAEXAMPLEALICE2222", Evidence: true, Detection: state.Detection{Detector: DetectorTrail, Type: "iam:ListUsers", Account: "111122223333"}}, Join, false},
		"a canary key's call":            {Event{Key: "AKIAEXAMPLECANARY777", Evidence: true, Detection: state.Detection{Detector: DetectorTrail, Type: "sts:GetCallerIdentity", Account: "222233334444"}}, Open, true},
		"a canary account's low finding": {finding("Recon:IAMUser/MaliciousIPCaller", 1, "AKIAEXAMPLEALICE2222", "999900001111"), Open, true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ev := c.ev
			got := rules.Decide(&ev)
			if got.Verdict != c.want || ev.Detection.Canary != c.canary || got.Why == "" {
				t.Errorf("Decide = %v (%s), canary %v; want %v, canary %v", got.Verdict, got.Why, ev.Detection.Canary, c.want, c.canary)
			}
		})
	}
}

func TestRulesValidate(t *testing.T) {
	for name, r := range map[string]Rules{
		"severity above 10": {MinSeverity: 11},
		"a bad canary key":  {CanaryKeys: []string{"AKIA123"}},
		"a bad account":     {Accounts: []string{"1234"}},
		"an empty pattern":  {Deny: []string{" "}},
	} {
		if err := r.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestWildcard(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"UnauthorizedAccess:*", "UnauthorizedAccess:IAMUser/TorIPCaller", true},
		{"*:IAMUser/AnomalousBehavior", "Discovery:IAMUser/AnomalousBehavior", true},
		{"*Exfiltration*", "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", true},
		{"Policy:*", "PolicyX", false},
		{"a*a", "a", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	} {
		if got := wildcard(c.p, c.s); got != c.want {
			t.Errorf("wildcard(%q, %q) = %v", c.p, c.s, got)
		}
	}
}
