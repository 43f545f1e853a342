package awsops

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/awsops/trail"
)

// stratusRecord returns the first record of a Stratus detonation named name.
func stratusRecord(t *testing.T, technique, name string) trail.Record {
	t.Helper()
	recs := stratusLogs(t, technique)
	i := slices.IndexFunc(recs, func(r trail.Record) bool { return r.EventName == name })
	if i < 0 {
		t.Fatalf("no %s in %s", name, technique)
	}
	return recs[i]
}

// recordWith re-encodes a real record with some fields changed.
func recordWith(t *testing.T, rec trail.Record, change func(m map[string]any)) trail.Record {
	t.Helper()
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	b, _ = json.Marshal(m)
	var out trail.Record
	if err := trail.Decode(b, &out); err != nil {
		t.Fatalf("decode: %v\n%s", err, b)
	}
	return out
}

// TestLoginProfileDoorIsTheUserOnly: the attacker (real Stratus
// CloudTrail) set the console password of an existing user. LookupEvents'
// Username attribute also matches assumed-role sessions whose session name
// is that user name (an IAM Identity Center user of the same name, a CI job
// using --role-session-name). Such a session is not the IAM user and was not
// signed in to with the attacker's password; it must not join the tree.
func TestLoginProfileDoorIsTheUserOnly(t *testing.T) {
	set := stratusRecord(t, "aws.privilege-escalation.iam-update-user-login-profile", "UpdateLoginProfile")
	operator := set.UserIdentity.AccessKeyID
	tr := newTracker(Session{AccessKeyID: operator, Account: set.RecipientAccountID})
	tr.own = func(a string) bool { return a == set.RecipientAccountID }
	var doors []*door
	var derived []Session
	tr.setOnDoor(func(_ context.Context, d *door) { doors = append(doors, d) })
	tr.setOnDerived(func(_ context.Context, s Session) { derived = append(derived, s) })
	tr.add(t.Context(), operator, &set)
	if len(doors) != 1 || doors[0].via != ViaLoginProfile {
		t.Fatalf("doors = %+v, want the login-profile door", doors)
	}
	user := doors[0].subject
	acct := set.RecipientAccountID
	// A console call an hour later by an SSO user whose session name is
	// the IAM user's name (what LookupEvents Username=<user> returns).
	base := stratusRecord(t, "aws.credential-access.ec2-get-password-data", "GetPasswordData")
	sso := recordWith(t, base, func(m map[string]any) {
		m["eventID"] = "t-sso-event"
		m["eventTime"] = set.EventTime.Add(time.Hour).Format(time.RFC3339)
		m["recipientAccountId"] = acct
		m["sessionCredentialFromConsole"] = "true"
		m["errorCode"], m["errorMessage"] = "", ""
		m["userIdentity"] = map[string]any{"type": "AssumedRole", "accessKeyId": "ASIATSTSSOSESSION001", "accountId": acct,
			"principalId": "AROATST:" + user,
			"arn":         "arn:aws:sts::" + acct + ":assumed-role/AWSReservedSSO_Admin_0123456789abcdef/" + user,
			"sessionContext": map[string]any{"attributes": map[string]any{"creationDate": set.EventTime.Add(50 * time.Minute).Format(time.RFC3339), "mfaAuthenticated": "true"},
				"sessionIssuer": map[string]any{"type": "Role", "arn": "arn:aws:iam::" + acct + ":role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef", "accountId": acct, "userName": "AWSReservedSSO_Admin_0123456789abcdef"}}}
	})
	tr.doorEvent(t.Context(), doors[0], &sso)
	for _, s := range tr.sessions() {
		if s.AccessKeyID == "ASIATSTSSOSESSION001" || s.Activity.Events > 0 && s.ID != operator {
			t.Errorf("the SSO session %s of role AWSReservedSSO_Admin joined the tree as %+v (via %s): blamed on the attacker", sso.UserIdentity.ARN, s.ID, s.Via)
		}
	}
	if len(derived) > 0 {
		t.Errorf("derived = %+v: the SSO console session would be swept as the attacker's", derived)
	}
}

// TestCreatedUserDoorIsTheUserOnly: the same for a user the key
// created (real Stratus CreateUser): a role session named like the user is
// not the user.
func TestCreatedUserDoorIsTheUserOnly(t *testing.T) {
	created := stratusRecord(t, "aws.persistence.iam-create-admin-user", "CreateUser")
	operator := created.UserIdentity.AccessKeyID
	acct := created.RecipientAccountID
	tr := newTracker(Session{AccessKeyID: operator, Account: acct})
	tr.own = func(a string) bool { return a == acct }
	var doors []*door
	tr.setOnDoor(func(_ context.Context, d *door) { doors = append(doors, d) })
	tr.setOnDerived(func(context.Context, Session) {})
	tr.add(t.Context(), operator, &created)
	if len(doors) != 1 || doors[0].via != ViaCreatedUser {
		t.Fatalf("doors = %+v, want the created-user door", doors)
	}
	user := doors[0].subject
	base := stratusRecord(t, "aws.credential-access.ec2-get-password-data", "GetPasswordData")
	role := recordWith(t, base, func(m map[string]any) {
		m["eventID"] = "t-role-event"
		m["eventTime"] = created.EventTime.Add(time.Hour).Format(time.RFC3339)
		m["recipientAccountId"] = acct
		m["userIdentity"] = map[string]any{"type": "AssumedRole", "accessKeyId": "ASIATSTOTHERROLE0001", "accountId": acct,
			"principalId": "AROATST:" + user, "arn": "arn:aws:sts::" + acct + ":assumed-role/ops/" + user,
			"sessionContext": map[string]any{"sessionIssuer": map[string]any{"type": "Role", "arn": "arn:aws:iam::" + acct + ":role/ops", "accountId": acct, "userName": "ops"}}}
	})
	tr.doorEvent(t.Context(), doors[0], &role)
	for _, s := range tr.sessions() {
		if s.ID == userNode(acct, user) && s.Activity.Events > 0 {
			t.Errorf("user %s's branch holds %d events; one is role ops's session %s, not the user", user, s.Activity.Events, role.UserIdentity.ARN)
		}
	}
}

// TestFailedAndMFASignIns: a failed console sign-in (CloudTrail writes
// errorMessage "Failed authentication" and responseElements ConsoleLogin
// "Failure", without an errorCode) and one with MFA, built on the real
// Stratus ConsoleLogin record.
func TestFailedAndMFASignIns(t *testing.T) {
	ok := stratusRecord(t, "aws.initial-access.console-login-without-mfa", "ConsoleLogin")
	failed := recordWith(t, ok, func(m map[string]any) {
		m["eventID"] = "t-failed-login"
		m["errorMessage"] = "Failed authentication"
		m["responseElements"] = map[string]any{"ConsoleLogin": "Failure"}
	})
	mfa := recordWith(t, ok, func(m map[string]any) {
		m["eventID"] = "t-mfa-login"
		m["additionalEventData"] = map[string]any{"LoginTo": "https://console.aws.amazon.com/console/home", "MFAUsed": "Yes", "MobileVersion": "No"}
	})
	tr := trackAll(t, []trail.Record{failed, mfa})
	tr.mu.Lock()
	flagged, _, _ := tr.finishSources()
	tr.mu.Unlock()
	for _, f := range flagged {
		if f.EventID == "t-failed-login" {
			if f.ErrorCode == "" {
				t.Errorf("failed sign-in flagged as a success: %s", flaggedLine(f))
			}
		}
		if f.EventID == "t-mfa-login" && slices.Contains(f.Techniques, "aws.initial-access.console-login-without-mfa") {
			t.Errorf("a sign-in with MFAUsed=Yes is filed as %v (Console login without MFA)", f.Techniques)
		}
	}
	for _, ts := range techniquesSeen(flagged) {
		if ts.ID == "aws.initial-access.console-login-without-mfa" && ts.Failed == 0 {
			t.Errorf("technique %s: %d events, %d refused; the failed sign-in is counted as done", ts.ID, ts.Events, ts.Failed)
		}
	}
	tr.mu.Lock()
	errs := tr.total.activity().Errors
	tr.mu.Unlock()
	if errs != 1 {
		t.Errorf("activity of the two sign-ins: %d errors, want the failed one", errs)
	}
}

// TestAWSInternalCallsAreNoSource: a key used only by the attacker (real
// Stratus CloudTrail, one address) has its source marked as the attacker's
// and its recon flagged. One more call of the same key that AWS made on its
// behalf (sourceIPAddress "AWS Internal") must not change that verdict.
func TestAWSInternalCallsAreNoSource(t *testing.T) {
	recs := stratusLogs(t, "aws.credential-access.secretsmanager-retrieve-secrets")
	verdict := func(recs []trail.Record) (attacker bool, recon int) {
		tr := trackAll(t, recs)
		tr.mu.Lock()
		flagged, sources, _ := tr.finishSources()
		tr.mu.Unlock()
		for _, s := range sources {
			if s.Network == networkOf(recs[0].SourceIPAddress) {
				attacker = s.Attacker
			}
		}
		for _, f := range flagged {
			if f.EventName == "ListSecrets" {
				recon++
			}
		}
		return attacker, recon
	}
	a1, r1 := verdict(recs)
	internal := recordWith(t, recs[len(recs)-1], func(m map[string]any) {
		m["eventID"] = "t-aws-internal"
		m["sourceIPAddress"] = "AWS Internal"
		m["userAgent"] = "AWS Internal"
	})
	a2, r2 := verdict(append(slices.Clone(recs), internal))
	if a1 != a2 || r1 != r2 {
		t.Errorf("without an AWS Internal call: attacker source %v, recon flagged %d; with one: attacker source %v, recon flagged %d", a1, r1, a2, r2)
	}
}

// TestSessionFollowUpNamesItsUser: the attacker (real Stratus CloudTrail)
// set another user's console password and signed in. The follow-up for that
// live console session must name that user, not the leaked key's owner.
func TestSessionFollowUpNamesItsUser(t *testing.T) {
	set := stratusRecord(t, "aws.privilege-escalation.iam-update-user-login-profile", "UpdateLoginProfile")
	operator := set.UserIdentity.AccessKeyID
	acct := set.RecipientAccountID
	tr := newTracker(Session{AccessKeyID: operator, Account: acct, Principal: set.UserIdentity.ARN})
	tr.own = func(a string) bool { return a == acct }
	var doors []*door
	tr.setOnDoor(func(_ context.Context, d *door) { doors = append(doors, d) })
	tr.setOnDerived(func(context.Context, Session) {})
	tr.add(t.Context(), operator, &set)
	if len(doors) != 1 {
		t.Fatalf("doors = %+v", doors)
	}
	user := doors[0].subject
	base := stratusRecord(t, "aws.persistence.iam-create-user-login-profile", "GetCallerIdentity")
	console := recordWith(t, base, func(m map[string]any) {
		m["eventID"] = "t-console-call"
		m["eventTime"] = set.EventTime.Add(10 * time.Minute).Format(time.RFC3339)
		m["recipientAccountId"] = acct
		m["sessionCredentialFromConsole"] = "true"
		m["userIdentity"] = map[string]any{"type": "IAMUser", "accessKeyId": "ASIATSTCONSOLE000001", "accountId": acct, "userName": user,
			"principalId": "AIDATST", "arn": "arn:aws:iam::" + acct + ":user/" + user,
			"sessionContext": map[string]any{"attributes": map[string]any{"creationDate": set.EventTime.Add(5 * time.Minute).Format(time.RFC3339), "mfaAuthenticated": "false"}}}
	})
	tr.doorEvent(t.Context(), doors[0], &console)
	inv := &Investigation{AccessKeyID: operator, FinishedAt: set.EventTime.Add(time.Hour),
		Identity: Identity{AccessKeyID: operator, Account: acct, UserName: set.UserIdentity.UserName, ARN: set.UserIdentity.ARN, Status: "Active"}}
	inv.collect(tr)
	found := false
	for _, f := range inv.FollowUps() {
		if f.Kind != FollowUpRevokeSessions {
			continue
		}
		found = true
		if !strings.Contains(f.Text, user) || f.Subject == set.UserIdentity.ARN {
			t.Errorf("follow-up for console session ASIATSTCONSOLE000001 of user %s: subject %q, text %q", user, f.Subject, f.Text)
		}
	}
	if !found {
		t.Errorf("no revoke-sessions follow-up for the live console session; sessions %+v", inv.Sessions)
	}
}

// TestOpenPoliciesFound: policies that admit anyone, which AWS evaluates
// as open: IfExists on a key direct callers never send, and Allow with
// NotPrincipal.
func TestOpenPoliciesFound(t *testing.T) {
	base := stratusRecord(t, "aws.persistence.lambda-backdoor-function", "AddPermission20150331v2")
	acct := base.RecipientAccountID
	for name, policy := range map[string]string{
		"IfExists":     `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEqualsIfExists":{"aws:SourceAccount":"` + acct + `"}}}]}`,
		"NotPrincipal": `{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`,
	} {
		var doc any
		_ = json.Unmarshal([]byte(policy), &doc)
		put := recordWith(t, base, func(m map[string]any) {
			m["eventSource"], m["eventName"] = "s3.amazonaws.com", "PutBucketPolicy"
			m["requestParameters"] = map[string]any{"bucketName": "b", "bucketPolicy": doc}
			m["responseElements"] = nil
		})
		if !opensToOutside(newEvent(&put, noAccounts)) {
			t.Errorf("%s: a bucket policy that admits anyone is not found open", name)
		}
	}
}
