package intake

import (
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/commands"
)

// secretKey has the form and entropy of a secret access key.
const secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

// edited is a testdata event with f applied to its JSON.
func edited(t *testing.T, file string, f func(detail map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	f(m["detail"].(map[string]any))
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// keyOf is a key ID of the form AWS has issued since 2019, which encodes
// account.
func keyOf(t *testing.T, account uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], 1<<47|account<<7|0x55)
	raw := append(b[2:8:8], 0x12, 0x34, 0x56, 0x78)
	k := "AKIA" + base32.StdEncoding.EncodeToString(raw)
	id, err := awsops.ParseAccessKeyID(k)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := id.Account(); a != strings.Repeat("0", 12-len(itoa(account)))+itoa(account) {
		t.Fatalf("key %s encodes account %q, want %d", k, a, account)
	}
	return k
}

func itoa(n uint64) string { b, _ := json.Marshal(n); return string(b) }

func customBody(detail map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"version": "0", "id": "c-1", "source": "com.example.scanner", "detail-type": CustomDetailType,
		"account": "999988887777", "region": "us-east-1", "detail": detail})
	return b
}

// TestSettledFindingsDoNotOpen: GuardDuty emits a finding again when a
// responder archives it, and AWS Health when it closes an event: neither
// opens an incident; both are recorded on the key's open one.
func TestSettledFindingsDoNotOpen(t *testing.T) {
	for name, body := range map[string][]byte{
		"archived": edited(t, "guardduty-01-unauthorizedaccess-iamuser-maliciousipcaller-custom.json", func(d map[string]any) {
			d["service"].(map[string]any)["archived"] = true
		}),
		"closed": edited(t, "health-01-aws-risk-credentials-exposed.json", func(d map[string]any) { d["statusCode"] = "closed" }),
	} {
		ev, err := Parse(body)
		if err != nil {
			t.Fatal(err)
		}
		if d := (Rules{MinSeverity: 4}).Decide(&ev); d.Verdict != Join || !strings.Contains(d.Why, ev.Settled) || ev.Settled == "" {
			t.Errorf("%s: %v (%s), want it joined to the open incident only", name, d.Verdict, d.Why)
		}
	}
	live, err := Parse(edited(t, "health-01-aws-risk-credentials-exposed.json", func(d map[string]any) { d["statusCode"] = "open" }))
	if err != nil {
		t.Fatal(err)
	}
	if d := (Rules{}).Decide(&live); d.Verdict != Open {
		t.Errorf("an open Health event: %v (%s), want it to open an incident", d.Verdict, d.Why)
	}
}

// TestCustomEventAccountIsTheKeys: the envelope of a custom event names
// the sender's account; the key of a covered account is not dropped for it.
func TestCustomEventAccountIsTheKeys(t *testing.T) {
	key := keyOf(t, 111122223333)
	ev, err := Parse(customBody(map[string]any{"accessKeyId": key, "reason": "github_secret_scanning"}))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Detection.Account == "999988887777" {
		t.Errorf("the sender's account %s was taken for the key's", ev.Detection.Account)
	}
	if d := (Rules{Accounts: []string{"111122223333"}}).Decide(&ev); d.Verdict != Open {
		t.Errorf("a key of a covered account: %v (%s), want it to open an incident", d.Verdict, d.Why)
	}
	if d := (Rules{Accounts: []string{"999988887777"}}).Decide(&ev); d.Verdict != Drop {
		t.Errorf("a key of an uncovered account: %v (%s), want it dropped", d.Verdict, d.Why)
	}
}

// TestCustomEventKeyOfTheWrongForm: a scanner's key ID with white space
// around it is read; one of the wrong form cannot be read (it goes to the
// dead-letter queue), and the reason never quotes it.
func TestCustomEventKeyOfTheWrongForm(t *testing.T) {
	ev, err := Parse(customBody(map[string]any{"accessKeyId": " AKIAEXAMPLELEAKEDZZ7\n", "reason": "trufflehog_verified"}))
	if err != nil || ev.Key != "AKIAEXAMPLELEAKEDZZ7" {
		t.Errorf("a key with white space around it: %q, %v", ev.Key, err)
	}
	for _, k := range []string{"akiaexampleleakedzz7", "AKIAEXAMPLELEAKED", secretKey, "AKIA" + secretKey} {
		_, err := Parse(customBody(map[string]any{"accessKeyId": k, "reason": "trufflehog_verified"}))
		r, ok := IsRejected(err)
		if !ok || r.Reason != Malformed {
			t.Errorf("key %q: %v, want the event rejected as malformed", k, err)
			continue
		}
		if strings.Contains(r.Error(), k) || strings.Contains(r.Error(), secretKey) {
			t.Errorf("the reason quotes what the event gave: %s", r.Error())
		}
	}
}

// TestSecretsInEventsAreRemoved: whatever an event says is stored, posted
// and emailed, so a secret access key in any of its texts is removed (a
// link that holds one is dropped), and the event says so.
func TestSecretsInEventsAreRemoved(t *testing.T) {
	bodies := map[string][]byte{
		"reason": customBody(map[string]any{"accessKeyId": "AKIAEXAMPLELEAKEDZZ7", "reason": "found AKIAEXAMPLELEAKEDZZ7:" + secretKey}),
		"url": customBody(map[string]any{"accessKeyId": "AKIAEXAMPLELEAKEDZZ7", "reason": "x",
			"url": "https://example.com/leak?secret=" + strings.ReplaceAll(secretKey, "/", "%2F")}),
		"user agent": edited(t, "guardduty-01-unauthorizedaccess-iamuser-maliciousipcaller-custom.json", func(d map[string]any) {
			d["service"].(map[string]any)["action"].(map[string]any)["awsApiCallAction"].(map[string]any)["userAgent"] = "curl aws_secret_access_key=" + secretKey
		}),
	}
	for name, body := range bodies {
		ev, err := Parse(body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d := ev.Detection
		all := strings.Join([]string{d.Detector, d.Type, d.Summary, d.UserAgent, d.UserName, d.URL}, " ")
		if strings.Contains(all, secretKey) || len(commands.FindSecrets(all)) > 0 || !ev.Redacted {
			t.Errorf("%s: %q (redacted: %v)", name, all, ev.Redacted)
		}
	}
}

// TestEveryKeyOfAnEventIsRecorded: an AWS Health event about two keys,
// and an attack sequence whose actors used two, name both; each key is
// its own event, with an ID of its own.
func TestEveryKeyOfAnEventIsRecorded(t *testing.T) {
	health := edited(t, "health-03-aws-risk-credentials-compromised-SYNTHETIC.json", func(d map[string]any) {
		d["affectedEntities"] = []any{map[string]any{"entityValue": "AKIAEXAMPLECOMPRMZZZ"},
			map[string]any{"entityValue": "arn:aws:iam::111122223333:user/x"}, map[string]any{"entityValue": "AKIAEXAMPLESECONDZZZ"},
			map[string]any{"entityValue": "AKIAEXAMPLECOMPRMZZZ"}}
	})
	seq := edited(t, "guardduty-09-attacksequence-iam-compromisedcredentials.json", func(d map[string]any) {
		s := d["service"].(map[string]any)["detection"].(map[string]any)["sequence"].(map[string]any)
		s["actors"] = append(s["actors"].([]any), map[string]any{"id": "user:IAMUser:AIDAB:backdoor",
			"user": map[string]any{"name": "backdoor", "credentialUid": "AKIAEXAMPLEBACKDOOR2"}})
	})
	for name, c := range map[string]struct {
		body        []byte
		first, more string
	}{"health": {health, "AKIAEXAMPLECOMPRMZZZ", "AKIAEXAMPLESECONDZZZ"}, "attack sequence": {seq, "AKIAEXAMPLEALICE2222", "AKIAEXAMPLEBACKDOOR2"}} {
		ev, err := Parse(c.body)
		if err != nil {
			t.Fatal(err)
		}
		per := ev.PerKey()
		var keys, ids []string
		for _, e := range per {
			keys, ids = append(keys, e.Key), append(ids, e.ID)
		}
		if !slices.Equal(keys, []string{c.first, c.more}) || ids[0] != ev.ID || ids[1] != ev.ID+"#"+c.more || per[1].Others != nil {
			t.Errorf("%s: keys %v with IDs %v, want %s then %s, each with an ID of its own", name, keys, ids, c.first, c.more)
		}
	}
}

// TestSNSWrappedEvent: a queue subscribed to an SNS topic without raw
// delivery receives the event inside SNS's notification; it is read.
func TestSNSWrappedEvent(t *testing.T) {
	inner, err := os.ReadFile(filepath.Join("testdata", "guardduty-01-unauthorizedaccess-iamuser-maliciousipcaller-custom.json"))
	if err != nil {
		t.Fatal(err)
	}
	note, _ := json.Marshal(map[string]any{"Type": "Notification", "MessageId": "0b1c", "TopicArn": "arn:aws:sns:us-east-1:111122223333:gd",
		"Message": string(inner), "Timestamp": "2026-03-05T14:02:38.000Z", "SignatureVersion": "1"})
	ev, err := Parse(note)
	if err != nil || ev.Key != "AKIAEXAMPLEALICE2222" {
		t.Errorf("an SNS notification of a GuardDuty finding: key %q, %v", ev.Key, err)
	}
}

// TestLinksCannotCloseAChatLink: a link with <, > or | in it is written
// percent-encoded, so that it cannot end a Slack link and mention
// @channel; one that is not https, or names a user, is dropped.
func TestLinksCannotCloseAChatLink(t *testing.T) {
	for in, want := range map[string]string{
		"https://evil.example/a><!channel>":                                                           "https://evil.example/a%3E%3C%21channel%3E",
		"https://evil.example/a|Click here":                                                           "https://evil.example/a%7CClick%20here",
		"https://x.example/p?q=<b>&r=|#<!here>":                                                       "https://x.example/p?q=%3Cb%3E&r=%7C#%3C!here%3E",
		"https://github.com/o/r/security/secret-scanning/42":                                          "https://github.com/o/r/security/secret-scanning/42",
		"https://eu-west-1.console.aws.amazon.com/guardduty/home?region=eu-west-1#/findings?fId=ab12": "https://eu-west-1.console.aws.amazon.com/guardduty/home?region=eu-west-1#/findings?fId=ab12",
		"http://example.com/":                                                                         "",
		"javascript:alert(1)":                                                                         "",
		"https://user:pw@example.com/":                                                                "",
		"https://x.example/a\tb":                                                                      "",
	} {
		if got, ok := webURL(in); got != want || ok != (want != "") {
			t.Errorf("webURL(%q) = %q, %v, want %q", in, got, ok, want)
		}
	}
}
