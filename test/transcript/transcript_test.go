package transcript

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	gomail "github.com/wneessen/go-mail"
)

func TestSlackText(t *testing.T) {
	blocks := json.RawMessage(`[{"type":"header","text":{"type":"plain_text","text":"Leaked AWS access key: KL-2026-0001"}},
	{"type":"section","text":{"type":"mrkdwn","text":"<!subteam^S0ONCALL> A leaked key &amp; more"}},
	{"type":"section","fields":[{"type":"mrkdwn","text":"*Key*\n` + "`AKIA`" + `"},{"type":"mrkdwn","text":"*War room*\n<https://chat.example/x|Open the Google Chat space>"},{"type":"mrkdwn","text":"*Reported by*\n<@U0ANA>"}]},
	{"type":"context","elements":[{"type":"mrkdwn","text":"Do not discuss details on Slack."}]}]`)
	got := SlackText("fallback", blocks)
	for _, want := range []string{"== Leaked AWS access key: KL-2026-0001 ==", "@S0ONCALL A leaked key & more", "Key: AKIA", "War room: Open the Google Chat space (https://chat.example/x)", "Reported by: @U0ANA", "(Do not discuss details on Slack.)"} {
		if !strings.Contains(got, want) {
			t.Errorf("SlackText lacks %q:\n%s", want, got)
		}
	}
	named := Directory{Users: map[string]string{"U0ANA": "Ana"}, Groups: map[string]string{"S0ONCALL": "security-oncall"}}.SlackText("fallback", blocks)
	for _, want := range []string{"@security-oncall A leaked key & more", "Reported by: @Ana"} {
		if !strings.Contains(named, want) {
			t.Errorf("SlackText with a directory lacks %q:\n%s", want, named)
		}
	}
	if got := SlackText("plain &lt;text&gt;", nil); got != "plain <text>" {
		t.Errorf("SlackText without blocks = %q", got)
	}
}

// TestSlackMarkup: what a Slack client shows of keyleak's mrkdwn.
func TestSlackMarkup(t *testing.T) {
	d := Directory{Users: map[string]string{"U0ANA": "Ana"}, Groups: map[string]string{"S0ONCALL": "security-oncall"}}
	tests := []struct{ name, in, want string }{
		{"link", "<https://x.example/a?b=1|Open the finding>.", "Open the finding (https://x.example/a?b=1)."},
		{"bare link", "see <https://x.example>", "see https://x.example"},
		{"user", "by <@U0ANA>", "by @Ana"},
		{"unknown user", "by <@U0BOB>", "by @U0BOB"},
		{"group", "<!subteam^S0ONCALL> paged", "@security-oncall paged"},
		{"group with fallback", "<!subteam^S0OTHER|@sre> paged", "sre paged"},
		{"special", "<!here> look", "@here look"},
		{"date", "<!date^1796579044^{date_short_pretty} {time}|2026-12-06 19:44 UTC>", "2026-12-06 19:44 UTC"},
		{"emoji", ":lock: Do not discuss", "🔒 Do not discuss"},
		{"unknown emoji", ":tada: done", ":tada: done"},
		{"italic", "Account: _identifying…_", "Account: identifying…"},
		{"bold and code", "*Key*: `AKIA` and *two words*.", "Key: AKIA and two words."},
		{"not emphasis", "keyleak_page a_b_c arn:aws:iam::*:role/x Deny * on * when", "keyleak_page a_b_c arn:aws:iam::*:role/x Deny * on * when"},
		{"entities", "a &amp; b &lt;c&gt;", "a & b <c>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.markup(tt.in); got != tt.want {
				t.Errorf("markup(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestChatText(t *testing.T) {
	cards := json.RawMessage(`[{"cardId":"c","card":{"header":{"title":"KL-2026-0001-A1 · deactivate"},"sections":[
	{"widgets":[{"textParagraph":{"text":"Waiting &lt;b&gt;<br>second line"}},{"decoratedText":{"topLabel":"Chat space","text":"<a href=\"https://x.example\">https://x.example</a>"}}]},
	{"header":"AWS request IDs","collapsible":true,"widgets":[{"textParagraph":{"text":"req-1<br>req-2"}}]},
	{"widgets":[{"buttonList":{"buttons":[{"text":"Approve"},{"text":"Deny"}]}}]}]}}]`)
	got := ChatText("", cards)
	for _, want := range []string{"== KL-2026-0001-A1 · deactivate ==", "  Waiting <b>\n  second line", "Chat space: https://x.example", "-- AWS request IDs (folded)", "  req-1\n  req-2", "[Approve] [Deny]"} {
		if !strings.Contains(got, want) {
			t.Errorf("ChatText lacks %q:\n%s", want, got)
		}
	}
}

// TestReadMail decodes what go-mail (keyleak's mail client) sends: long
// lines and '=' come out as written, not as quoted-printable.
func TestReadMail(t *testing.T) {
	body := "Opened from:  GuardDuty finding UnauthorizedAccess:IAMUser/MaliciousIPCaller (severity 8.0) at 16:43 UTC (https://us-east-1.console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?fId=848bc1ce)\n" +
		"Chat space:   https://chat.google.com/room/AAAA3WEWRTJ?cls=7\nOwner:        ci-deploy-user — café\n"
	msg := gomail.NewMsg()
	if err := msg.From("keyleak@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := msg.To("infosec@example.com"); err != nil {
		t.Fatal(err)
	}
	msg.Subject("[KL-2026-0001] Leaked AWS access key AKIARZPUZDIKOSO5KYHS — CRITICAL")
	msg.SetBodyString(gomail.TypeTextPlain, body)
	var raw bytes.Buffer
	if _, err := msg.WriteTo(&raw); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(raw.String(), "=3D") {
		t.Fatalf("go-mail no longer quotes '=' as =3D; this test no longer tests decoding:\n%s", raw.String())
	}
	got, err := ReadMail(raw.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got.Body != body {
		t.Errorf("body = %q, want %q", got.Body, body)
	}
	if want := "[KL-2026-0001] Leaked AWS access key AKIARZPUZDIKOSO5KYHS — CRITICAL"; got.Subject != want {
		t.Errorf("subject = %q, want %q", got.Subject, want)
	}
}

func TestReadMailBase64AndMultipart(t *testing.T) {
	tests := []struct{ name, raw, want string }{
		{"base64", "Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8g\r\nd29ybGQ=\r\n", "hello world"},
		{"multipart", "Subject: x\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>no</p>\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=3Db and a long=\r\n line\r\n--b--\r\n", "a=b and a long line"},
		{"plain", "Subject: x\r\n\r\nas is\r\n", "as is\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadMail([]byte(tt.raw))
			if err != nil {
				t.Fatal(err)
			}
			if got.Body != tt.want {
				t.Errorf("body = %q, want %q", got.Body, tt.want)
			}
		})
	}
}
