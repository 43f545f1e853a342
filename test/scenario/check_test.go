package scenario

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/test/world"
)

// eventKey identifies one call in the ground truth and in CloudTrail alike.
func eventKey(name, region, key, errorCode, ip string, data bool, at string) string {
	return strings.Join([]string{at, name, region, key, errorCode, ip, fmt.Sprint(data)}, "|")
}

func actionKey(a Action) string {
	return eventKey(a.EventName, a.Region, a.AccessKeyID, a.ErrorCode, a.SourceIP, a.Data, a.Time.UTC().Format("2006-01-02T15:04:05Z"))
}

func recordKey(r world.Record) string {
	return eventKey(r.EventName, r.AWSRegion, r.UserIdentity.AccessKeyID, r.ErrorCode, r.SourceIPAddress,
		r.EventCategory == "Data", r.EventTime)
}

// signIn reports whether a is a console sign-in, made with a password.
func signIn(a Action) bool { return a.AccessKeyID == "" && a.EventName == "ConsoleLogin" }

// attackerKeys is the set of access key IDs the attacker held.
func attackerKeys(gt GroundTruth) map[string]bool {
	keys := map[string]bool{gt.LeakedKeyID: true}
	for _, d := range gt.Credentials {
		keys[d.AccessKeyID] = true
	}
	return keys
}

// compareEvents checks that records hold exactly the ground truth's actions (filtered by want).
func compareEvents(tb testing.TB, source string, records []world.Record, actions []Action) {
	tb.Helper()
	var got, want []string
	for _, r := range records {
		got = append(got, recordKey(r))
	}
	for _, a := range actions {
		want = append(want, actionKey(a))
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		tb.Errorf("%s: attacker events differ from the ground truth\n got  %d: %s\n want %d: %s",
			source, len(got), strings.Join(got, "\n       "), len(want), strings.Join(want, "\n       "))
	}
}

// checkConsistent checks that the ground truth agrees with itself and with the gateway's
// record of every call.
func checkConsistent(tb testing.TB, w *world.World, gt GroundTruth) {
	tb.Helper()
	if len(gt.Actions) == 0 || gt.LeakedKeyID == "" {
		tb.Fatalf("ground truth has %d actions and leaked key %q", len(gt.Actions), gt.LeakedKeyID)
	}
	keys := attackerKeys(gt)
	known := map[string][]string{gt.LeakedKeyID: {gt.LeakedKeyID}}
	firstUse := map[string]Action{}
	for _, a := range gt.Actions {
		if signIn(a) {
			if !slices.ContainsFunc(gt.Credentials, func(d DerivedCredential) bool { return d.Label == a.Credential }) && a.ErrorCode == "" {
				tb.Errorf("sign-in at %s gave %s, which is not among the derived credentials", a.Time, a.Credential)
			}
			continue
		}
		if !keys[a.AccessKeyID] {
			tb.Errorf("action %s at %s uses %s, which the attacker never held", a.EventName, a.Time, a.AccessKeyID)
		}
		if _, ok := firstUse[a.AccessKeyID]; !ok {
			firstUse[a.AccessKeyID] = a
		}
		if a.Time.Before(gt.FirstSeen) || a.Time.After(gt.LastSeen) {
			tb.Errorf("action %s at %s outside [%s, %s]", a.EventName, a.Time, gt.FirstSeen, gt.LastSeen)
		}
	}
	for _, d := range gt.Credentials {
		parent, ok := known[d.ParentKeyID]
		if !ok {
			tb.Errorf("credential %s has parent %s, minted later or never", d.AccessKeyID, d.ParentKeyID)
			continue
		}
		if want := append(append([]string(nil), parent...), d.AccessKeyID); !slices.Equal(d.Chain, want) {
			tb.Errorf("credential %s chain = %v, want %v", d.AccessKeyID, d.Chain, want)
		}
		known[d.AccessKeyID] = d.Chain
		if use, ok := firstUse[d.AccessKeyID]; ok && use.Time.Before(d.Issued) {
			tb.Errorf("credential %s used at %s before it was issued at %s", d.AccessKeyID, use.Time, d.Issued)
		}
		if !d.Expires.IsZero() && !d.Expires.After(d.Issued) {
			tb.Errorf("credential %s expires %s, not after issue %s", d.AccessKeyID, d.Expires, d.Issued)
		}
	}
	for _, r := range gt.Resources {
		if !keys[r.CreatedBy] {
			tb.Errorf("resource %s %s created by %s, not an attacker key", r.Type, r.ID, r.CreatedBy)
		}
	}
	data := 0
	for _, a := range gt.Actions {
		if a.Data && a.EventSource == "s3.amazonaws.com" {
			data++
		}
	}
	if data != len(gt.DataEvents) {
		tb.Errorf("data events = %d, want the %d S3 object actions", len(gt.DataEvents), data)
	}
	for _, k := range gt.Legit.AccessKeyIDs {
		if keys[k] {
			tb.Errorf("legitimate key %s is also an attacker key", k)
		}
	}
	for _, k := range gt.Legit.SessionKeyIDs {
		if keys[k] {
			tb.Errorf("legitimate session %s is also an attacker key", k)
		}
	}
	if len(gt.Legit.KeyActions) == 0 {
		tb.Errorf("the leaked key has no legitimate use: its CI made no call")
	}
	for _, a := range gt.Legit.KeyActions {
		if a.AccessKeyID != gt.LeakedKeyID || a.ErrorCode != "" || slices.Contains(gt.SourceIPs, a.SourceIP) {
			tb.Errorf("CI call %+v: want a successful call of the leaked key from the CI's own address", a)
		}
	}
	for _, ip := range gt.Legit.SourceIPs {
		if slices.Contains(gt.SourceIPs, ip) {
			tb.Errorf("source IP %s is both legitimate and the attacker's", ip)
		}
	}
	if gt.Legit.Calls == 0 || gt.Legit.Failures != 0 {
		tb.Errorf("legitimate workload made %d calls with %d failures, want some and none failed", gt.Legit.Calls, gt.Legit.Failures)
	}

	// The gateway saw exactly these calls with attacker keys, and minted exactly these keys.
	var records []world.Record
	minted := map[string]string{} // key → parent, from the STS and IAM events
	for _, r := range attackers(w.Gateway.Events(), gt) {
		records = append(records, r)
		if c, ok := r.ResponseElements["credentials"].(map[string]any); ok {
			minted[fmt.Sprint(c["accessKeyId"])] = r.UserIdentity.AccessKeyID
		}
		if k, ok := r.ResponseElements["accessKey"].(map[string]any); ok {
			minted[fmt.Sprint(k["accessKeyId"])] = r.UserIdentity.AccessKeyID
		}
	}
	compareEvents(tb, "gateway events", records, gt.Actions)
	// A console session is the parent's doing when the parent set the
	// user's password and a sign-in as the user followed.
	signIns := 0
	for _, d := range gt.Credentials {
		if d.Via != "ConsoleLogin" {
			continue
		}
		signIns++
		var setBy string
		signedIn := false
		for _, r := range w.Gateway.Events() {
			switch {
			case (r.EventName == "UpdateLoginProfile" || r.EventName == "CreateLoginProfile") && r.ErrorCode == "" &&
				r.RequestParameters["userName"] == d.UserName:
				setBy = r.UserIdentity.AccessKeyID
			case r.EventName == "ConsoleLogin" && r.UserIdentity.UserName == d.UserName && r.EventTime == d.Issued.Format(time.RFC3339) &&
				r.ResponseElements["ConsoleLogin"] == "Success":
				signedIn = true
			}
		}
		if setBy != d.ParentKeyID || !signedIn {
			tb.Errorf("console session %s: gateway says %s's password was set by %q (ground truth %s), sign-in recorded: %v",
				d.AccessKeyID, d.UserName, setBy, d.ParentKeyID, signedIn)
		}
		minted[d.AccessKeyID] = setBy
	}
	if len(minted) != len(gt.Credentials) {
		tb.Errorf("gateway minted %d keys for the attacker and let it sign in %d times, ground truth has %d credentials",
			len(minted)-signIns, signIns, len(gt.Credentials))
	}
	for _, d := range gt.Credentials {
		if got := minted[d.AccessKeyID]; got != d.ParentKeyID {
			tb.Errorf("gateway says %s was minted by %q, ground truth says %s", d.AccessKeyID, got, d.ParentKeyID)
		}
	}
}
