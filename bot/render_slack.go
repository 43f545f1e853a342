package bot

import (
	"strings"

	"github.com/slack-go/slack"

	"github.com/keyleak/keyleak/commands"
)

// Block Kit limits (Slack's reference): section text 3000 characters,
// 10 fields per section of 2000 each, 50 blocks per message.
const (
	slackTextMax   = 3000
	slackFieldMax  = 2000
	slackFields    = 10
	slackBlocksMax = 50
)

// SlackBlocks renders a neutral reply as Block Kit: the title as a
// header, the text first, facts as fields, then each section.
func SlackBlocks(r commands.Reply) []slack.Block {
	var blocks []slack.Block
	if r.Title != "" {
		blocks = append(blocks, slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, clip(r.Title, 150), false, false)))
	}
	for _, w := range r.Warnings {
		blocks = append(blocks, mrkdwnSection("*:warning: "+strings.ReplaceAll(escape(w), "*", "∗")+"*"))
	}
	if r.Text != "" {
		text := escape(r.Text)
		if r.Problem {
			text = ":warning: " + text
		}
		blocks = append(blocks, mrkdwnSection(text))
	}
	for i := 0; i < len(r.Fields); i += slackFields {
		var fields []*slack.TextBlockObject
		for _, f := range r.Fields[i:min(i+slackFields, len(r.Fields))] {
			fields = append(fields, slack.NewTextBlockObject(slack.MarkdownType, clip("*"+escape(f.Label)+"*\n"+escape(f.Value), slackFieldMax), false, false))
		}
		blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))
	}
	for _, s := range r.Sections {
		body := "*" + escape(s.Title) + "*\n" + escape(strings.Join(s.Lines, "\n"))
		blocks = append(blocks, mrkdwnSection(body))
	}
	if len(blocks) > slackBlocksMax {
		blocks = append(blocks[:slackBlocksMax-1], mrkdwnSection("…more in the Google Chat space."))
	}
	return blocks
}

func mrkdwnSection(text string) *slack.SectionBlock {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, clip(text, slackTextMax), false, false), nil, nil)
}

// fallbackText is the notification text of a message: title and text.
func fallbackText(r commands.Reply) string {
	parts := make([]string, 0, 2+len(r.Warnings))
	for _, s := range append(append([]string{r.Title}, r.Warnings...), r.Text) {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return clip(strings.Join(parts, ": "), slackTextMax)
}

// escape makes user-supplied text safe in mrkdwn: &, < and > are the
// three characters Slack asks apps to escape, so no text can mention
// @channel or a user group or forge a link.
func escape(s string) string { return mrkdwnEscaper.Replace(s) }

// slackLink is a mrkdwn link to url: what the URL holds that would end the
// link or split it from its text (<, >, |) is encoded, and & escaped as
// Slack asks, so a link from outside input cannot mention @channel or
// forge its text.
func slackLink(url, text string) string {
	return "<" + linkEscaper.Replace(url) + "|" + escape(text) + ">"
}

var linkEscaper = strings.NewReplacer("&", "&amp;", "<", "%3C", ">", "%3E", "|", "%7C")

// mrkdwnEscaper is built once: a Replacer is safe for concurrent use.
var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// clip shortens s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
