package intake

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyleak/keyleak/commands"
)

// TestParseDetectorEvents reads one event of each kind in the shapes the
// detectors send (intake/testdata: GuardDuty findings including the
// delegated administrator's view and an attack sequence, AWS Health RISK
// events including the organisation view, the custom event).
func TestParseDetectorEvents(t *testing.T) {
	cases := []struct {
		file, key, account, typ, ip string
		severity                    float64
	}{
		{"guardduty-01-unauthorizedaccess-iamuser-maliciousipcaller-custom.json", "AKIAEXAMPLEALICE2222", "111122223333", "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom", "198.51.100.23", 5},
		// Received by the administrator account: the member's account is the finding's.
		{"guardduty-02-unauthorizedaccess-iamuser-toripcaller-delegated-admin.json", "AKIAEXAMPLECIBOTZZZ2", "444455556666", "UnauthorizedAccess:IAMUser/TorIPCaller", "198.51.100.77", 5},
		{"guardduty-03-stealth-iamuser-cloudtrailloggingdisabled.json", "AKIAEXAMPLEALICE2222", "111122223333", "Stealth:IAMUser/CloudTrailLoggingDisabled", "203.0.113.50", 2},
		// An instance role's session key: the incident investigates that session.
		{"guardduty-04-unauthorizedaccess-iamuser-instancecredentialexfiltration-outsideaws.json", "ASIAEXAMPLEAPPSRV333", "111122223333", "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", "203.0.113.199", 8},
		{"guardduty-05-policy-iamuser-rootcredentialusage.json", "AKIAEXAMPLEROOTKEY44", "111122223333", "Policy:IAMUser/RootCredentialUsage", "203.0.113.10", 2},
		{"guardduty-06-pentest-iamuser-kalilinux.json", "AKIAEXAMPLEBOBBBBB66", "111122223333", "PenTest:IAMUser/KaliLinux", "192.0.2.144", 5},
		{"guardduty-07-persistence-iamuser-anomalousbehavior.json", "AKIAEXAMPLECIBOTZZZ2", "111122223333", "Persistence:IAMUser/AnomalousBehavior", "198.51.100.140", 5},
		{"guardduty-08-discovery-iamuser-anomalousbehavior.json", "ASIAEXAMPLESESSION66", "111122223333", "Discovery:IAMUser/AnomalousBehavior", "203.0.113.88", 2},
		// No accessKeyDetails: the key is the sequence's actor's credential.
		{"guardduty-09-attacksequence-iam-compromisedcredentials.json", "AKIAEXAMPLEALICE2222", "111122223333", "AttackSequence:IAM/CompromisedCredentials", "198.51.100.77", 9},
		{"health-01-aws-risk-credentials-exposed.json", "AKIAEXAMPLELEAKEDZZ7", "111122223333", "AWS_RISK_CREDENTIALS_EXPOSED", "", 0},
		// The organisation view: received by the management account.
		{"health-02-aws-risk-credentials-exposed-org-view.json", "AKIAEXAMPLELEAKEDZZ7", "111122223333", "AWS_RISK_CREDENTIALS_EXPOSED", "", 0},
		// No event metadata: the key is the affected entity.
		{"health-03-aws-risk-credentials-compromised-SYNTHETIC.json", "AKIAEXAMPLECOMPRMZZZ", "111122223333", "AWS_RISK_CREDENTIALS_COMPROMISED", "", 0},
		// The envelope's account is the sender's, and the detail names
		// none: the account is the key's, which the investigation finds
		// (this example key's ID does not encode one).
		{"custom-01-custom-leaked-key-github.json", "AKIAEXAMPLELEAKEDZZ7", "", "github_secret_scanning", "", 0},
		{"custom-02-custom-leaked-key-trufflehog.json", "AKIAEXAMPLELEAKEDZZ7", "", "trufflehog_verified", "", 0},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			ev, err := Parse(body)
			if err != nil {
				t.Fatal(err)
			}
			d := ev.Detection
			if ev.Key != c.key || d.Account != c.account || d.Type != c.typ || d.SourceIP != c.ip || d.Severity != c.severity {
				t.Errorf("got key %s account %s type %s ip %s severity %v, want %s %s %s %s %v", ev.Key, d.Account, d.Type, d.SourceIP, d.Severity, c.key, c.account, c.typ, c.ip, c.severity)
			}
			if ev.ID == "" || d.At.IsZero() || d.Summary == "" || !strings.HasPrefix(d.URL, "https://") {
				t.Errorf("event %q at %v, summary %q, link %q: each is needed for the page", ev.ID, d.At, d.Summary, d.URL)
			}
		})
	}
}

// TestParseRefuses: what keyleak cannot act on is named, by reason.
func TestParseRefuses(t *testing.T) {
	finding, err := os.ReadFile(filepath.Join("testdata", "guardduty-01-unauthorizedaccess-iamuser-maliciousipcaller-custom.json"))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(finding, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	cases := map[string]struct {
		body string
		want Reason
	}{
		"not JSON":          {"AKIA… is leaked", Malformed},
		"a JSON array":      {`[1,2]`, Malformed},
		"no detail":         {`{"id":"1","source":"aws.guardduty","detail-type":"GuardDuty Finding"}`, Malformed},
		"a string detail":   {`{"id":"1","source":"aws.guardduty","detail-type":"GuardDuty Finding","detail":"x"}`, Malformed},
		"oversized":         {`{"id":"1","detail":"` + strings.Repeat("x", MaxEventBytes) + `"}`, TooLarge},
		"an unknown source": {edit(func(m map[string]any) { m["source"] = "aws.securityhub" }), Unknown},
		"an S3 finding": {edit(func(m map[string]any) {
			m["detail"].(map[string]any)["resource"] = map[string]any{"resourceType": "S3Bucket"}
		}), NoKey},
		"a generated key": {edit(func(m map[string]any) {
			m["detail"].(map[string]any)["resource"].(map[string]any)["accessKeyDetails"].(map[string]any)["accessKeyId"] = "GeneratedFindingAccessKeyId"
		}), NoKey},
		"a typeless finding":                {edit(func(m map[string]any) { delete(m["detail"].(map[string]any), "type") }), Malformed},
		"an AWS source in the custom event": {`{"id":"1","source":"aws.fake","detail-type":"Leaked Access Key","detail":{"accessKeyId":"AKIAEXAMPLELEAKEDZZ7","reason":"x"}}`, Unknown},
		"a custom event without a reason":   {`{"id":"1","source":"scanner","detail-type":"Leaked Access Key","detail":{"accessKeyId":"AKIAEXAMPLELEAKEDZZ7"}}`, Malformed},
		"a Health event of another service": {`{"id":"1","source":"aws.health","detail-type":"AWS Health Event","detail":{"service":"EC2","eventTypeCode":"AWS_EC2_MAINTENANCE"}}`, Unknown},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(c.body))
			r, ok := IsRejected(err)
			if !ok || r.Reason != c.want {
				t.Errorf("Parse = %v, want rejected as %s", err, c.want)
			}
		})
	}
}

// TestParseKeepsLinksSafe: a link shown to responders is https without
// credentials; a long or multi-line text is one clipped line.
func TestParseKeepsLinksSafe(t *testing.T) {
	for _, u := range []string{"javascript:alert(1)", "http://example.com/x", "https://user:pass@example.com/"} {
		body := `{"id":"1","source":"scanner","detail-type":"Leaked Access Key","detail":{"accessKeyId":"AKIAEXAMPLELEAKEDZZ7","reason":"a\nb","url":"` + u + `"}}`
		ev, err := Parse([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if ev.Detection.URL != "" || strings.Contains(ev.Detection.Type, "\n") {
			t.Errorf("url %q kept as %q, type %q", u, ev.Detection.URL, ev.Detection.Type)
		}
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id":"1","source":"s","detail-type":"Leaked Access Key","detail":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := Parse(body)
		if err != nil {
			if _, ok := IsRejected(err); !ok {
				t.Fatalf("an error that is not a rejection: %v", err)
			}
			return
		}
		if !accessKeyID(ev.Key) || ev.ID == "" {
			t.Fatalf("accepted an event without a key or ID: %+v", ev)
		}
		if u, ok := webURL(ev.Detection.URL); ev.Detection.URL != "" && (!ok || u != ev.Detection.URL) {
			t.Fatalf("kept an unsafe link %q", ev.Detection.URL)
		}
		d := ev.Detection
		for _, text := range []string{d.Detector, d.Type, d.Summary, d.UserAgent, d.UserName, d.SourceIP, d.URL} {
			if len(commands.FindSecrets(text)) > 0 {
				t.Fatalf("kept a secret in %q", text)
			}
		}
		for _, k := range ev.Others {
			if !accessKeyID(k) || k == ev.Key {
				t.Fatalf("another key %q of %+v", k, ev)
			}
		}
		if strings.ContainsAny(ev.Detection.Summary+ev.Detection.Type+ev.Detection.UserAgent, "\n\r") {
			t.Fatalf("a multi-line text: %+v", ev.Detection)
		}
	})
}
