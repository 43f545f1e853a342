package awsops

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

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

// TestBaselineIsTheKeysUsualUse: a CI job that has deployed a function
// with the key every day for a week is the key's baseline: its deploys,
// before the attack and after, are not flagged and its source is not the
// attacker's. The attacker's new source is, with everything it changed;
// and a call the CI source never made before is still flagged, as not
// the attacker's.
func TestBaselineIsTheKeysUsualUse(t *testing.T) {
	const key = "AKIAEXAMPLECIKEY0001"
	day0, _ := time.Parse(time.RFC3339, "2026-11-20T09:00:00Z")
	ev := func(at time.Time, ip, source, name string, readOnly bool) trail.Record {
		return record(t, fmt.Sprintf(`{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/ci","accountId":"111122223333",
			"accessKeyId":%q,"userName":"ci"},"eventTime":%q,"eventSource":%q,"eventName":%q,"awsRegion":"us-east-1","sourceIPAddress":%q,
			"userAgent":"ua","requestParameters":{"functionName":"api","userName":"x"},"eventID":%q,"readOnly":%v,"eventType":"AwsApiCall",
			"managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`,
			key, at.Format(time.RFC3339), source, name, ip, fmt.Sprintf("%s-%s-%d", ip, name, at.Unix()), readOnly))
	}
	var recs []trail.Record
	for d := -7; d <= 0; d++ {
		at := day0.AddDate(0, 0, d)
		recs = append(recs, ev(at, "192.0.2.10", "lambda.amazonaws.com", "UpdateFunctionCode20150331v2", false),
			ev(at.Add(time.Minute), "192.0.2.10", "sts.amazonaws.com", "GetCallerIdentity", true))
	}
	attack := day0.Add(-2 * time.Hour)
	recs = append(recs,
		ev(attack, "198.51.100.23", "sts.amazonaws.com", "GetCallerIdentity", true),
		ev(attack.Add(time.Minute), "198.51.100.23", "iam.amazonaws.com", "CreateUser", false),
		ev(attack.Add(2*time.Minute), "198.51.100.23", "ec2.amazonaws.com", "CreateTags", false),
		ev(day0.Add(time.Hour), "192.0.2.10", "iam.amazonaws.com", "CreateAccessKey", false))
	tr := newTracker(Session{AccessKeyID: key, Account: "111122223333"})
	for i := range recs {
		tr.add(t.Context(), key, &recs[i])
	}
	tr.mu.Lock()
	flagged, sources, _ := tr.finishSources()
	tr.mu.Unlock()
	var got []string
	for _, f := range flagged {
		got = append(got, fmt.Sprintf("%s %s new=%v", f.SourceIP, normalName(f.EventName), f.NewSource))
	}
	want := []string{"198.51.100.23 GetCallerIdentity new=true", "198.51.100.23 CreateUser new=true", "198.51.100.23 CreateTags new=true",
		"192.0.2.10 CreateAccessKey new=false"}
	if !slices.Equal(got, want) {
		t.Errorf("flagged:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range sources {
		switch s.Network {
		case "192.0.2.0/24":
			if !s.Baseline || s.Attacker {
				t.Errorf("the CI source is not the baseline: %+v", s)
			}
		case "198.51.100.0/24":
			if !s.Attacker || !s.FirstSeen.Equal(attack) {
				t.Errorf("the attacker's source = %+v, want attacker, first seen %s", s, attack)
			}
		}
	}
}
