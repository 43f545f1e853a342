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

// TestBaselineRoleIsNotTheAttackers: the key's owner (its usual
// address, ten days before anything else happens) creates an instance role
// trusting ec2.amazonaws.com, as IaC does (real Stratus CreateRole record,
// trust changed to EC2). EC2 then assumes the role for an instance. Days
// later the attacker uses the key from a new address. EC2's session of the
// owner's role was not minted from the key and is not the attacker's.
func TestBaselineRoleIsNotTheAttackers(t *testing.T) {
	create, earlier := ownersInstanceRole(t)
	key, acct, t0 := create.UserIdentity.AccessKeyID, create.RecipientAccountID, create.EventTime
	roleARN := "arn:aws:iam::" + acct + ":role/stratus-red-team-malicious-iam-role"
	ec2 := recordWith(t, create, func(m map[string]any) {
		m["eventID"], m["eventSource"], m["eventName"], m["readOnly"] = "t-ec2-assume", "sts.amazonaws.com", "AssumeRole", true
		m["eventTime"] = t0.Add(time.Hour).Format(time.RFC3339)
		m["sourceIPAddress"], m["userAgent"] = "ec2.amazonaws.com", "ec2.amazonaws.com"
		m["userIdentity"] = map[string]any{"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}
		m["requestParameters"] = map[string]any{"roleArn": roleARN, "roleSessionName": "i-0123456789abcdef0"}
		m["responseElements"] = map[string]any{"credentials": map[string]any{"accessKeyId": "ASIATSTEC2INSTANCE01", "expiration": "Aug 1, 2024, 8:37:41 PM", "sessionToken": "x"}}
		m["resources"] = []any{map[string]any{"ARN": roleARN, "accountId": acct, "type": "AWS::IAM::Role"}}
	})
	secrets := stratusLogs(t, "aws.credential-access.secretsmanager-retrieve-secrets")
	attack := recordWith(t, secrets[len(secrets)-1], func(m map[string]any) { // the attacker, from a new address, days later
		m["eventID"] = "t-attacker"
		m["eventTime"] = t0.Add(120 * time.Hour).Format(time.RFC3339)
		ui := m["userIdentity"].(map[string]any)
		ui["accessKeyId"], ui["accountId"], ui["arn"] = key, acct, create.UserIdentity.ARN
		m["recipientAccountId"] = acct
	})
	tr := newTracker(Session{AccessKeyID: key, Account: acct})
	tr.own = func(a string) bool { return a == acct }
	var doors []*door
	tr.setOnDoor(func(_ context.Context, d *door) { doors = append(doors, d) })
	tr.setOnDerived(func(context.Context, Session) {})
	for _, r := range []*trail.Record{&earlier, &create, &attack} {
		tr.add(t.Context(), key, r)
	}
	for _, d := range doors {
		tr.doorEvent(t.Context(), d, &ec2)
	}
	tr.mu.Lock()
	_, sources, _ := tr.finishSources()
	tr.mu.Unlock()
	for _, s := range sources {
		if s.Network == networkOf(create.SourceIPAddress) && !s.Baseline {
			t.Fatalf("the owner's source %s is not the baseline: %+v", s.Network, s)
		}
	}
	inv := &Investigation{}
	inv.collect(tr)
	found := false
	for _, s := range inv.Sessions {
		if s.AccessKeyID == "ASIATSTEC2INSTANCE01" {
			found = true
			if s.CreatedByAttacker || !s.Baseline {
				t.Errorf("EC2's instance session of the role the owner created from its baseline: CreatedByAttacker=%v, baseline=%v (via %s by %q)", s.CreatedByAttacker, s.Baseline, s.Via, s.By)
			}
		}
	}
	if !found {
		t.Fatal("EC2's session through the role is not in the tree at all: the test shows nothing")
	}
	if text := strings.Join(inv.treeSection().Lines, "\n"); strings.Contains(text, "CREATED BY THE ATTACKER") {
		t.Errorf("the tree still says CREATED BY THE ATTACKER:\n%s", text)
	}
}

// TestOwnerRotationIsNotTheAttackers: after the attacker used the key from a new
// address, the owner rotates it from its usual address (CreateAccessKey for
// itself, the real Stratus record with the user's own name). The owner's new
// key is not created by the attacker.
func TestOwnerRotationIsNotTheAttackers(t *testing.T) {
	ck := stratusRecord(t, "aws.persistence.iam-backdoor-user", "CreateAccessKey")
	key, acct, owner := ck.UserIdentity.AccessKeyID, ck.RecipientAccountID, ck.UserIdentity.UserName
	t0 := ck.EventTime
	rotate := recordWith(t, ck, func(m map[string]any) {
		m["requestParameters"] = map[string]any{}
		m["responseElements"] = map[string]any{"accessKey": map[string]any{"accessKeyId": "AKIATSTOWNERNEWKEY01", "status": "Active", "userName": owner, "createDate": "Jul 30, 2024 9:53:13 PM"}}
	})
	usual := recordWith(t, ck, func(m map[string]any) {
		m["eventID"], m["eventName"], m["readOnly"] = "t-usual", "ListAccessKeys", true
		m["eventTime"] = t0.Add(-240 * time.Hour).Format(time.RFC3339)
		m["requestParameters"], m["responseElements"] = nil, nil
	})
	secrets := stratusLogs(t, "aws.credential-access.secretsmanager-retrieve-secrets")
	attack := recordWith(t, secrets[len(secrets)-1], func(m map[string]any) {
		m["eventID"] = "t-attacker"
		m["eventTime"] = t0.Add(-24 * time.Hour).Format(time.RFC3339)
		ui := m["userIdentity"].(map[string]any)
		ui["accessKeyId"], ui["accountId"], ui["arn"], ui["userName"] = key, acct, ck.UserIdentity.ARN, owner
		m["recipientAccountId"] = acct
	})
	tr := newTracker(Session{AccessKeyID: key, Account: acct})
	tr.own = func(a string) bool { return a == acct }
	tr.setOnDerived(func(context.Context, Session) {})
	for _, r := range []*trail.Record{&usual, &attack, &rotate} {
		tr.add(t.Context(), key, r)
	}
	inv := &Investigation{}
	inv.collect(tr)
	found := false
	for _, s := range inv.Sessions {
		if s.AccessKeyID == "AKIATSTOWNERNEWKEY01" {
			found = true
			if s.CreatedByAttacker || !s.Baseline {
				t.Errorf("the owner's rotated key (created from the baseline %s, for %s itself): CreatedByAttacker=%v, baseline=%v", rotate.SourceIPAddress, owner, s.CreatedByAttacker, s.Baseline)
			}
		}
	}
	if !found {
		t.Fatal("the rotated key is not in the tree at all: the test shows nothing")
	}
}

// TestBaselineDoorsNeedAnAttackerToldApart: a door opened from the
// baseline is the owner's only once an attacker's source was told apart;
// a door opened from the attacker's source stays the attacker's.
func TestBaselineDoorsNeedAnAttackerToldApart(t *testing.T) {
	sessions := func() []Session {
		return []Session{{ID: "AKIAKEY"},
			{ID: "owner-key", CreatedByAttacker: true, OpenedFrom: "20.55.14.201"},
			{ID: "backdoor", CreatedByAttacker: true, OpenedFrom: "58.218.199.38"}}
	}
	baseline := Source{Network: networkOf("20.55.14.201"), Baseline: true}
	attacker := Source{Network: networkOf("58.218.199.38"), Attacker: true}
	for _, tt := range []struct {
		name    string
		sources []Source
		owners  bool // the owner's door is told apart
	}{
		{"an attacker's source told apart", []Source{baseline, attacker}, true},
		{"no attacker's source told apart", []Source{baseline, {Network: attacker.Network, Baseline: true}}, false},
	} {
		inv := &Investigation{Sources: tt.sources, Sessions: sessions()}
		inv.settleBaselineDoors()
		if owner := inv.Sessions[1]; owner.Baseline != tt.owners || owner.CreatedByAttacker == tt.owners {
			t.Errorf("%s: the door opened from the baseline: baseline %v, created by the attacker %v", tt.name, owner.Baseline, owner.CreatedByAttacker)
		}
		if b := inv.Sessions[2]; b.Baseline || !b.CreatedByAttacker {
			t.Errorf("%s: the attacker's backdoor: baseline %v, created by the attacker %v", tt.name, b.Baseline, b.CreatedByAttacker)
		}
	}
}

// ownersInstanceRole is the key's owner, from its usual address, creating
// an instance role trusting ec2.amazonaws.com as IaC does (a real Stratus
// CreateRole record, its trust changed to EC2), and the owner's usual use
// of the key ten days before.
func ownersInstanceRole(t *testing.T) (create, earlier trail.Record) {
	t.Helper()
	create = stratusRecord(t, "aws.persistence.iam-create-backdoor-role", "CreateRole")
	t0 := create.EventTime
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	create = recordWith(t, create, func(m map[string]any) {
		p := m["requestParameters"].(map[string]any)
		p["assumeRolePolicyDocument"] = trust
		delete(p, "permissionsBoundary")
	})
	earlier = recordWith(t, create, func(m map[string]any) {
		m["eventID"], m["eventName"], m["readOnly"] = "t-owner-earlier", "ListRoles", true
		m["eventTime"] = t0.Add(-240 * time.Hour).Format(time.RFC3339)
		m["requestParameters"], m["responseElements"] = nil, nil
	})
	return create, earlier
}
