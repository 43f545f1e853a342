package awsops

import (
	"context"
	"testing"
	"time"

	"github.com/keyleak/keyleak/awsops/trail"
)

// The owner's IaC creates a role with the key from its usual address (a
// door, then marked Baseline). Days later the attacker, from a new
// address, rewrites that role's trust to admit its own account 666…, and
// assumes the role from there, then chains into an admin role. The
// rewrite is no new door (doors are keyed by role), so the attacker's
// session goes through the owner's door and is marked Baseline. It was
// minted from the attacker's address, not the owner's usual place:
// OwnersBranches takes neither it nor the session it chained for the
// owner's, and derivedKeys, userSessions and roles keep them.
func TestTheAttackerThroughTheOwnersRoleIsNotTheOwners(t *testing.T) {
	create, earlier := ownersInstanceRole(t)
	key, acct, t0 := create.UserIdentity.AccessKeyID, create.RecipientAccountID, create.EventTime
	roleName := "stratus-red-team-malicious-iam-role"
	roleARN := "arn:aws:iam::" + acct + ":role/" + roleName
	secrets := stratusLogs(t, "aws.credential-access.secretsmanager-retrieve-secrets")
	attack := recordWith(t, secrets[len(secrets)-1], func(m map[string]any) {
		m["eventID"] = "t-attacker"
		m["eventTime"] = t0.Add(120 * time.Hour).Format(time.RFC3339)
		ui := m["userIdentity"].(map[string]any)
		ui["accessKeyId"], ui["accountId"], ui["arn"] = key, acct, create.UserIdentity.ARN
		m["recipientAccountId"] = acct
	})
	attackerIP := attack.SourceIPAddress
	if networkOf(attackerIP) == networkOf(create.SourceIPAddress) {
		t.Fatal("the attacker's and the owner's addresses are one network: the test shows nothing")
	}
	rewrite := recordWith(t, create, func(m map[string]any) {
		m["eventID"], m["eventName"] = "t-attacker-rewrite", "UpdateAssumeRolePolicy"
		m["eventTime"] = t0.Add(121 * time.Hour).Format(time.RFC3339)
		m["sourceIPAddress"] = attackerIP
		m["requestParameters"] = map[string]any{"roleName": roleName,
			"policyDocument": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::666666666666:root"},"Action":"sts:AssumeRole"}]}`}
		m["responseElements"] = nil
	})
	assume := recordWith(t, create, func(m map[string]any) {
		m["eventID"], m["eventSource"], m["eventName"], m["readOnly"] = "t-attacker-assume", "sts.amazonaws.com", "AssumeRole", true
		m["eventTime"] = t0.Add(122 * time.Hour).Format(time.RFC3339)
		m["sourceIPAddress"] = attackerIP
		m["userIdentity"] = map[string]any{"type": "AWSAccount", "principalId": "AIDAEXAMPLEATTACKER1", "accountId": "666666666666"}
		m["requestParameters"] = map[string]any{"roleArn": roleARN, "roleSessionName": "x"}
		m["responseElements"] = map[string]any{"credentials": map[string]any{"accessKeyId": "ASIATSTATTACKER00001", "expiration": "Aug 9, 2024, 8:37:41 PM", "sessionToken": "x"}}
		m["resources"] = []any{map[string]any{"ARN": roleARN, "accountId": acct, "type": "AWS::IAM::Role"}}
	})
	adminARN := "arn:aws:iam::" + acct + ":role/admin"
	chain := recordWith(t, assume, func(m map[string]any) {
		m["eventID"] = "t-attacker-chain"
		m["eventTime"] = t0.Add(123 * time.Hour).Format(time.RFC3339)
		m["userIdentity"] = map[string]any{"type": "AssumedRole", "accessKeyId": "ASIATSTATTACKER00001", "accountId": acct,
			"arn": "arn:aws:sts::" + acct + ":assumed-role/" + roleName + "/x", "principalId": "AROAEXAMPLE:x"}
		m["requestParameters"] = map[string]any{"roleArn": adminARN, "roleSessionName": "y"}
		m["responseElements"] = map[string]any{"credentials": map[string]any{"accessKeyId": "ASIATSTATTACKER00002", "expiration": "Aug 9, 2024, 9:37:41 PM", "sessionToken": "x"}}
		m["resources"] = []any{map[string]any{"ARN": adminARN, "accountId": acct, "type": "AWS::IAM::Role"}}
	})
	tr := newTracker(Session{AccessKeyID: key, Account: acct})
	tr.own = func(a string) bool { return a == acct }
	var doors []*door
	tr.setOnDoor(func(_ context.Context, d *door) { doors = append(doors, d) })
	tr.setOnDerived(func(context.Context, Session) {})
	for _, r := range []*trail.Record{&earlier, &create, &attack, &rewrite} {
		tr.add(t.Context(), key, r)
	}
	for _, d := range doors {
		tr.doorEvent(t.Context(), d, &assume)
	}
	tr.add(t.Context(), "ASIATSTATTACKER00001", &chain)
	inv := &Investigation{}
	inv.collect(tr)
	ids := map[string]bool{}
	for _, s := range inv.Sessions {
		ids[s.AccessKeyID] = true
		t.Logf("session %s parent %s baseline=%v createdByAttacker=%v openedFrom=%s role=%s", s.ID, s.ParentID, s.Baseline, s.CreatedByAttacker, s.OpenedFrom, s.RoleARN)
	}
	if !ids["ASIATSTATTACKER00001"] || !ids["ASIATSTATTACKER00002"] {
		t.Fatalf("the attacker's sessions are not in the tree: the test shows nothing")
	}
	owners := inv.OwnersBranches()
	for _, k := range []string{"ASIATSTATTACKER00001", "ASIATSTATTACKER00002"} {
		if owners[k] {
			t.Errorf("the attacker's session %s (from %s, account 666666666666) is taken for the owner's branch", k, attackerIP)
		}
	}
}
