package intake

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/keyleak/keyleak/awsops"
)

// Rules decide what a detector's event does.
type Rules struct {
	// MinSeverity is the lowest GuardDuty severity (0–10) that opens an
	// incident; a finding below it is only recorded on the key's open
	// incident. Detectors without a severity (AWS Health, scanners) pass.
	MinSeverity float64
	// Allow, if set, lists the finding types that open incidents; Deny
	// lists those that never do. Each entry is a type or a pattern with *
	// ("UnauthorizedAccess:IAMUser/*"). Types not allowed, or denied, are
	// only recorded on the key's open incident.
	Allow, Deny []string
	// CanaryKeys and CanaryAccounts mark keys that exist only to be
	// found: any sign of their use opens a canary incident.
	CanaryKeys, CanaryAccounts []string
	// Accounts are the accounts keyleak covers; an event about a key of
	// another account is dropped. Empty covers every account.
	Accounts []string
}

// Verdict is what an event does.
type Verdict int

// Verdicts.
const (
	Drop Verdict = iota // nothing is recorded; the reason is logged
	Join                // recorded on the key's open incident, if there is one
	Open                // opens an incident, or joins the key's open one
)

func (v Verdict) String() string {
	switch v {
	case Open:
		return "open"
	case Join:
		return "join"
	default:
		return "drop"
	}
}

// Decision is a verdict and why.
type Decision struct {
	Verdict Verdict
	Why     string
}

// Validate reports patterns that cannot match and malformed entries.
func (r Rules) Validate() error {
	if r.MinSeverity < 0 || r.MinSeverity > 10 {
		return fmt.Errorf("minimum severity %v is outside GuardDuty's 0 to 10", r.MinSeverity)
	}
	for _, p := range append(slices.Clone(r.Allow), r.Deny...) {
		if strings.TrimSpace(p) == "" || strings.ContainsAny(p, " \t") {
			return fmt.Errorf("finding type pattern %q is not a type or a pattern with *", p)
		}
	}
	for _, k := range r.CanaryKeys {
		if _, err := awsops.ParseAccessKeyID(k); err != nil {
			return fmt.Errorf("canary key %q: %w", k, err)
		}
	}
	for _, a := range append(slices.Clone(r.CanaryAccounts), r.Accounts...) {
		if _, err := strconv.ParseUint(a, 10, 64); err != nil || len(a) != 12 {
			return fmt.Errorf("account %q is not a 12-digit account ID", a)
		}
	}
	return nil
}

// Decide says what ev does, and marks it a canary trip when it is one.
func (r Rules) Decide(ev *Event) Decision {
	d := &ev.Detection
	keyAccount := ""
	if k, err := awsops.ParseAccessKeyID(ev.Key); err == nil {
		keyAccount, _ = k.Account()
	}
	if slices.Contains(r.CanaryKeys, ev.Key) || slices.Contains(r.CanaryAccounts, d.Account) || (keyAccount != "" && slices.Contains(r.CanaryAccounts, keyAccount)) {
		d.Canary = true
		return Decision{Open, "a canary key was used"}
	}
	if ev.Sample {
		return Decision{Drop, "a GuardDuty sample finding"}
	}
	if len(r.Accounts) > 0 {
		for _, a := range []string{d.Account, keyAccount} {
			if a != "" && !slices.Contains(r.Accounts, a) {
				return Decision{Drop, "account " + a + " is not among the accounts keyleak covers (aws.accounts)"}
			}
		}
	}
	if ev.Settled != "" {
		return Decision{Join, "the finding is " + ev.Settled + ": recorded on the key's open incident only"}
	}
	if ev.Evidence {
		return Decision{Join, "a call, not a finding: recorded on the key's open incident only"}
	}
	if matchAny(r.Deny, d.Type) {
		return Decision{Join, d.Type + " is denied (intake.deny_types): recorded on the key's open incident only"}
	}
	if len(r.Allow) > 0 && !matchAny(r.Allow, d.Type) {
		return Decision{Join, d.Type + " is not allowed (intake.allow_types): recorded on the key's open incident only"}
	}
	if d.Severity > 0 && d.Severity < r.MinSeverity {
		return Decision{Join, fmt.Sprintf("severity %.1f is below %.1f (intake.min_severity): recorded on the key's open incident only", d.Severity, r.MinSeverity)}
	}
	return Decision{Open, "opens an incident"}
}

func matchAny(patterns []string, typ string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return wildcard(p, typ) })
}

// wildcard matches s against p, where each * stands for any run of
// characters ("UnauthorizedAccess:*", "*:IAMUser/AnomalousBehavior").
func wildcard(p, s string) bool {
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
