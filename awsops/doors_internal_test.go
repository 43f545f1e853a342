package awsops

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/keyleak/keyleak/awsops/trail"
)

// record decodes one CloudTrail record written as JSON.
func record(tb testing.TB, js string) trail.Record {
	tb.Helper()
	var rec trail.Record
	if err := trail.Decode([]byte(js), &rec); err != nil {
		tb.Fatalf("decode %s: %v", js, err)
	}
	return rec
}

// doorTracker tracks the operator's key of a Stratus detonation, with
// every door it opens recorded.
func doorTracker(t *testing.T, root string) (*tracker, *[]*door, *[]Session) {
	tr := newTracker(Session{AccessKeyID: root, Account: "791182566784"})
	var doors []*door
	var derived []Session
	tr.setOnDoor(func(_ context.Context, d *door) { doors = append(doors, d) })
	tr.setOnDerived(func(_ context.Context, s Session) { derived = append(derived, s) })
	return tr, &doors, &derived
}

// TestDoorsThroughAnchorsAndProviders: a trust anchor the key created
// (real Stratus Red Team CloudTrail) is watched for Roles Anywhere
// sessions; identity providers it created, for sessions through them.
// Sessions through anchors and providers it did not create are not its.
func TestDoorsThroughAnchorsAndProviders(t *testing.T) {
	recs := stratusLogs(t, "aws.persistence.rolesanywhere-create-trust-anchor")
	i := slices.IndexFunc(recs, func(r trail.Record) bool { return r.EventName == "CreateTrustAnchor" })
	if i < 0 {
		t.Fatal("no CreateTrustAnchor in the detonation's logs")
	}
	operator := recs[i].UserIdentity.AccessKeyID
	tr, doors, derived := doorTracker(t, operator)
	tr.add(t.Context(), operator, &recs[i])
	if len(*doors) != 1 || (*doors)[0].via != ViaRolesAnywhere || (*doors)[0].value != "CreateSession" {
		t.Fatalf("doors = %+v, want one Roles Anywhere door looked up by CreateSession", *doors)
	}
	anchor := (*doors)[0]
	if anchor.region != recs[i].AWSRegion || anchor.subject == "" {
		t.Errorf("anchor door = %+v, want the anchor's ARN in %s", anchor, recs[i].AWSRegion)
	}
	// A session through it, shaped as the CreateSession API answers
	// (credentialSet), and one through another anchor.
	session := func(anchorARN, key, at string) trail.Record {
		return record(t, `{"eventVersion":"1.08","userIdentity":{"type":"Unknown","principalId":"CN=workload"},"eventTime":"`+at+`",
			"eventSource":"rolesanywhere.amazonaws.com","eventName":"CreateSession","awsRegion":"`+anchor.region+`","sourceIPAddress":"198.51.100.50",
			"userAgent":"CredHelper/1.1.1","requestParameters":{"trustAnchorArn":"`+anchorARN+`","profileArn":"arn:aws:rolesanywhere:`+anchor.region+`:791182566784:profile/p",
			"roleArn":"arn:aws:iam::791182566784:role/stratus-red-team-trust-anchor-role","durationSeconds":3600},
			"responseElements":{"credentialSet":[{"assumedRoleUser":{"arn":"arn:aws:sts::791182566784:assumed-role/stratus-red-team-trust-anchor-role/00e1","assumedRoleId":"AROAX:00e1"},
			"credentials":{"accessKeyId":"`+key+`","expiration":"2024-08-01T15:00:00Z"},"roleArn":"arn:aws:iam::791182566784:role/stratus-red-team-trust-anchor-role"}],
			"subjectArn":"arn:aws:rolesanywhere:`+anchor.region+`:791182566784:subject/s"},
			"eventID":"`+key+`-event","eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"791182566784","eventCategory":"Management"}`)
	}
	before := session(anchor.subject, "ASIAEARLIEREARLIER01", "2024-08-01T13:00:00Z") // before the anchor existed
	other := session("arn:aws:rolesanywhere:"+anchor.region+":791182566784:trust-anchor/someone-elses", "ASIAOTHERANCHOR00001", "2024-08-01T16:00:00Z")
	through := session(anchor.subject, "ASIAANCHORSESSION001", "2024-08-01T16:00:00Z")
	for _, r := range []*trail.Record{&before, &other, &through} {
		tr.doorEvent(t.Context(), anchor, r)
	}
	if len(*derived) != 1 || (*derived)[0].AccessKeyID != "ASIAANCHORSESSION001" || (*derived)[0].Via != ViaRolesAnywhere || !(*derived)[0].CreatedByAttacker ||
		(*derived)[0].RoleARN != "arn:aws:iam::791182566784:role/stratus-red-team-trust-anchor-role" || (*derived)[0].ParentID != operator {
		t.Errorf("derived = %+v, want only the session through the attacker's anchor, from the operator's branch", *derived)
	}

	// Identity providers: a session through each, and one through a
	// provider the key did not create.
	created := func(name, req, resp string) *trail.Record {
		r := record(t, `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::791182566784:user/christophe","accountId":"791182566784",
			"accessKeyId":"`+operator+`","userName":"christophe"},"eventTime":"2024-08-01T14:00:00Z","eventSource":"iam.amazonaws.com","eventName":"`+name+`",
			"awsRegion":"us-east-1","sourceIPAddress":"198.51.100.23","userAgent":"aws-cli","requestParameters":`+req+`,"responseElements":`+resp+`,
			"eventID":"`+name+`-event","eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"791182566784","eventCategory":"Management"}`)
		return &r
	}
	*doors = nil
	tr.add(t.Context(), operator, created("CreateOpenIDConnectProvider", `{"url":"https://token.actions.evil.example","clientIDList":["sts.amazonaws.com"]}`,
		`{"openIDConnectProviderArn":"arn:aws:iam::791182566784:oidc-provider/token.actions.evil.example"}`))
	tr.add(t.Context(), operator, created("CreateSAMLProvider", `{"name":"evil-idp","sAMLMetadataDocument":"<md/>"}`,
		`{"sAMLProviderArn":"arn:aws:iam::791182566784:saml-provider/evil-idp"}`))
	if len(*doors) != 2 || (*doors)[0].value != "AssumeRoleWithWebIdentity" || (*doors)[1].value != "AssumeRoleWithSAML" {
		t.Fatalf("doors = %+v, want an OIDC door and a SAML door", *doors)
	}
	web := func(provider, key string) trail.Record {
		return record(t, `{"eventVersion":"1.08","userIdentity":{"type":"WebIdentityUser","principalId":"`+provider+`:sts.amazonaws.com:repo:evil/x","userName":"repo:evil/x",
			"identityProvider":"`+provider+`"},"eventTime":"2024-08-01T15:00:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRoleWithWebIdentity",
			"awsRegion":"us-east-1","sourceIPAddress":"198.51.100.60","userAgent":"aws-sdk","requestParameters":{"roleArn":"arn:aws:iam::791182566784:role/ci","roleSessionName":"gh"},
			"responseElements":{"credentials":{"accessKeyId":"`+key+`","expiration":"Aug 1, 2024, 4:00:00 PM"},"assumedRoleUser":{"arn":"arn:aws:sts::791182566784:assumed-role/ci/gh"},
			"provider":"arn:aws:iam::791182566784:oidc-provider/`+provider+`"},"eventID":"`+key+`-event","eventType":"AwsApiCall","managementEvent":true,
			"recipientAccountId":"791182566784","eventCategory":"Management"}`)
	}
	saml := func(providerARN, key string) trail.Record {
		return record(t, `{"eventVersion":"1.08","userIdentity":{"type":"SAMLUser","principalId":"x:alice","userName":"alice","identityProvider":"`+providerARN+`"},
			"eventTime":"2024-08-01T15:00:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRoleWithSAML","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.61",
			"userAgent":"aws-sdk","requestParameters":{"roleArn":"arn:aws:iam::791182566784:role/admin","principalArn":"`+providerARN+`","durationSeconds":3600},
			"responseElements":{"credentials":{"accessKeyId":"`+key+`","expiration":"Aug 1, 2024, 4:00:00 PM"},"assumedRoleUser":{"arn":"arn:aws:sts::791182566784:assumed-role/admin/alice"}},
			"eventID":"`+key+`-event","eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"791182566784","eventCategory":"Management"}`)
	}
	*derived = nil
	oidc, samlDoor := (*doors)[0], (*doors)[1]
	for _, r := range []trail.Record{web("token.actions.githubusercontent.com", "ASIALEGITGITHUB00001"), web("token.actions.evil.example", "ASIAEVILOIDC00000001")} {
		tr.doorEvent(t.Context(), oidc, &r)
	}
	for _, r := range []trail.Record{saml("arn:aws:iam::791182566784:saml-provider/Okta", "ASIALEGITOKTA0000001"), saml("arn:aws:iam::791182566784:saml-provider/evil-idp", "ASIAEVILSAML00000001")} {
		tr.doorEvent(t.Context(), samlDoor, &r)
	}
	var got []string
	for _, s := range *derived {
		if s.Via != ViaIdentityProvider || !s.CreatedByAttacker || s.By == "" {
			t.Errorf("session %+v: want through an identity provider, created by the attacker, with who came in", s)
		}
		got = append(got, s.AccessKeyID)
	}
	if !slices.Equal(got, []string{"ASIAEVILOIDC00000001", "ASIAEVILSAML00000001"}) {
		t.Errorf("sessions through providers = %v, want only those through the attacker's", got)
	}
	doc, _ := json.Marshal(tr.sessions())
	if !json.Valid(doc) {
		t.Error("sessions do not encode")
	}
}
