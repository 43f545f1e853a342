package transcript

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSlackText(t *testing.T) {
	blocks := json.RawMessage(`[{"type":"header","text":{"type":"plain_text","text":"Leaked AWS access key: KL-2026-0001"}},
	{"type":"section","text":{"type":"mrkdwn","text":"<!subteam^S0ONCALL> A leaked key &amp; more"}},
	{"type":"section","fields":[{"type":"mrkdwn","text":"*Key*\n` + "`AKIA`" + `"},{"type":"mrkdwn","text":"*War room*\n<https://chat.example/x|Open the Google Chat space>"},{"type":"mrkdwn","text":"*Reported by*\n<@U0ANA>"}]},
	{"type":"context","elements":[{"type":"mrkdwn","text":"Do not discuss details on Slack."}]}]`)
	got := SlackText("fallback", blocks)
	for _, want := range []string{"== Leaked AWS access key: KL-2026-0001 ==", "@security-oncall A leaked key & more", "Key: `AKIA`", "War room: Open the Google Chat space (https://chat.example/x)", "Reported by: @U0ANA", "(Do not discuss details on Slack.)"} {
		if !strings.Contains(got, want) {
			t.Errorf("SlackText lacks %q:\n%s", want, got)
		}
	}
	if got := SlackText("plain &lt;text&gt;", nil); got != "plain <text>" {
		t.Errorf("SlackText without blocks = %q", got)
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
