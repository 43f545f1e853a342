package deploy

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/keyleak/keyleak/awsops"
)

// arnMatches reports whether an IAM resource pattern covers arn: * and ?
// match any characters, '/' included, as IAM matches them.
func arnMatches(pattern, arn string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(arn)
}

// TestResponderPermissionsMatchTemplate holds what keyleak doctor
// simulates in every account (awsops.ResponderPermissions) to the
// responder role's policy: the same actions, each on a resource the
// policy allows it on and no deny covers, with the condition it needs,
// and the optional ones exactly those a stack parameter removes.
func TestResponderPermissionsMatchTemplate(t *testing.T) {
	full := parseResponder(t, responderParams{botRoleARN: "arn:aws:iam::111122223333:role/keyleak-bot", externalID: "keyleak-4f9c2d7e1a6b",
		protected: []string{"arn:aws:iam::*:role/BreakGlass*"}, detachForCleanup: true, restoreTrust: true})
	perms := awsops.ResponderPermissions()
	var simulated []string
	for _, p := range perms {
		simulated = append(simulated, p.Action)
	}
	slices.Sort(simulated)
	if dup := slices.Compact(slices.Clone(simulated)); len(dup) != len(simulated) {
		t.Errorf("ResponderPermissions names an action twice")
	}
	template := allowed(full.inline)
	for _, a := range template {
		if !slices.Contains(simulated, a) {
			t.Errorf("the template allows %s; keyleak doctor does not check it (awsops.ResponderPermissions)", a)
		}
	}
	for _, a := range simulated {
		if !slices.Contains(template, a) {
			t.Errorf("keyleak doctor checks %s; the template does not allow it", a)
		}
	}
	quarantine := "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV4"
	for _, p := range perms {
		resource := p.SampleResource("aws", testAccount, "us-east-1")
		if denied(full.inline, p.Action, resource) || slices.ContainsFunc(full.inline.Statement, func(s statement) bool {
			return s.Effect == "Deny" && slices.ContainsFunc(s.Action, func(a string) bool { return actionMatches(a, p.Action) }) &&
				slices.ContainsFunc(s.Resource, func(r string) bool { return arnMatches(r, resource) })
		}) {
			t.Errorf("%s on %s: a deny of the template covers the sample resource", p.Action, resource)
		}
		ok := slices.ContainsFunc(full.inline.Statement, func(s statement) bool {
			if s.Effect != "Allow" || !slices.ContainsFunc(s.Action, func(a string) bool { return actionMatches(a, p.Action) }) ||
				!slices.ContainsFunc(s.Resource, func(r string) bool { return arnMatches(r, resource) }) {
				return false
			}
			if s.Condition == nil {
				return true
			}
			like := s.Condition["ArnLike"]["iam:PolicyARN"]
			return p.Quarantine && len(s.Condition) == 1 && slices.ContainsFunc(like, func(r string) bool { return arnMatches(r, quarantine) })
		})
		if !ok {
			t.Errorf("%s: no Allow of the template covers %s (quarantine context %v)", p.Action, resource, p.Quarantine)
		}
	}
	// Optional permissions are those a stack parameter takes away.
	bare := allowed(parseResponder(t, responderParams{botRoleARN: "arn:aws:iam::111122223333:role/keyleak-bot", externalID: "keyleak-4f9c2d7e1a6b"}).inline)
	for _, p := range perms {
		if gone := !slices.Contains(bare, p.Action); gone != (p.Optional != "") {
			t.Errorf("%s: optional %q, but without CleanupDetachesUsers and RestoreTrustPolicies the template %s it", p.Action, p.Optional,
				map[bool]string{true: "drops", false: "keeps"}[gone])
		}
	}
}

func TestARNMatches(t *testing.T) {
	tests := []struct {
		pattern, arn string
		want         bool
	}{
		{"*", "arn:aws:iam::1:user/x", true},
		{"arn:aws:iam::1:user/*", "arn:aws:iam::1:user/path/x", true},
		{"arn:aws:iam::1:user/*", "arn:aws:iam::1:role/x", false},
		{"arn:aws:ec2:*:1:instance/*", "arn:aws:ec2:us-east-1:1:instance/i-0", true},
		{"arn:aws:iam::1:role/Break?lass", "arn:aws:iam::1:role/BreakGlass", true},
		{"arn:aws:iam::1:role/a.b", "arn:aws:iam::1:role/axb", false},
	}
	for _, tt := range tests {
		if got := arnMatches(tt.pattern, tt.arn); got != tt.want {
			t.Errorf("arnMatches(%q, %q) = %v, want %v", tt.pattern, tt.arn, got, tt.want)
		}
	}
}
